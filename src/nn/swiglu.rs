//! SwiGLU, `silu(gate) * up`, as one op. candle's chain (silu, then mul) runs single-threaded
//! passes, keeps `silu(gate)` alive for backward and walks six element-wise ops back; this one
//! makes one parallel pass each way and keeps only its two inputs.
//!
//! A frozen down projection can run inside the same op: its backward needs only the weight and
//! the op's two inputs, so the SwiGLU output (batch x seq x intermediate) is not kept alive until
//! backward, as it would be as the input of a separate linear op.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use super::Linear;
use super::counters;
use super::linear_ops::{input_grad, linear_fwd_cpu};
use super::simd;
use super::slices::{
    contiguous_f32, fused_ok, grad_for, par_fill, par_fill2, with_cpu, with_cpu_f32,
};

/// Elements per parallel task: large enough that scheduling is noise.
const CHUNK: usize = 1 << 14;

fn fusable(gate: &Tensor, up: &Tensor) -> bool {
    fused_ok(gate) && fused_ok(up) && gate.shape() == up.shape()
}

fn apply(gate: &Tensor, up: &Tensor, down: Option<Tensor>) -> Result<Tensor> {
    gate.contiguous()?
        .apply_op2(&up.contiguous()?, SwiGlu { down })
}

pub fn swiglu(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    if fusable(gate, up) {
        apply(gate, up, None)
    } else {
        swiglu_composed(gate, up)
    }
}

/// `down(silu(gate) * up)`: one op where `down` trains nothing, SwiGLU then the layer elsewhere.
pub fn swiglu_then(gate: &Tensor, up: &Tensor, down: &Linear) -> Result<Tensor> {
    match down.frozen_weight() {
        Some(w) if fusable(gate, up) && fused_ok(w) => apply(gate, up, Some(w.clone())),
        _ => down.forward(&swiglu(gate, up)?),
    }
}

/// The composed form; the reference for the fused op and the path off the CPU.
pub fn swiglu_composed(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    gate.silu()? * up
}

struct SwiGlu {
    /// A frozen (out, intermediate) projection applied to the SwiGLU output.
    down: Option<Tensor>,
}

impl CustomOp2 for SwiGlu {
    fn name(&self) -> &'static str {
        "swiglu"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        us: &CpuStorage,
        ul: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = contiguous_f32(gs, gl, "swiglu gate")?;
        let u = contiguous_f32(us, ul, "swiglu up")?;
        let (out, _) = par_fill(g.len(), CHUNK, |i, o| {
            let (g, u) = (&g[i * CHUNK..][..o.len()], &u[i * CHUNK..][..o.len()]);
            simd::sigmoid(g, o);
            for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
                *o *= g * u;
            }
        });
        let hidden = CpuStorage::F32(out);
        match &self.down {
            None => Ok((hidden, gl.shape().clone())),
            Some(w) => {
                counters::count_fused_projection();
                let hl = Layout::contiguous(gl.shape());
                with_cpu(w, |w, wl| linear_fwd_cpu(&hidden, &hl, w, wl, None))
            }
        }
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = match &self.down {
            None => grad.contiguous()?,
            Some(w) => input_grad(gate, w, grad)?,
        };
        // d/dg silu(g) = s(g) (1 + g (1 - s(g))); d/du = silu(g).
        let (dg, du) = with_cpu_f32(&[gate, up, &grad], "swiglu", |t| {
            let (g, u, d) = (t[0], t[1], t[2]);
            Ok(par_fill2(
                (g.len(), CHUNK),
                (g.len(), CHUNK),
                |c, dg, du| {
                    let r = c * CHUNK..c * CHUNK + dg.len();
                    let (g, u, d) = (&g[r.clone()], &u[r.clone()], &d[r]);
                    simd::sigmoid(g, du);
                    for i in 0..g.len() {
                        let s = du[i];
                        du[i] = d[i] * g[i] * s;
                        dg[i] = d[i] * u[i] * s * (1.0 + g[i] * (1.0 - s));
                    }
                },
            ))
        })?;
        Ok((grad_for(gate, dg)?, grad_for(up, du)?))
    }
}
