//! SwiGLU, `silu(gate) * up`, as one op. candle's chain (silu, then mul) runs single-threaded
//! passes, keeps `silu(gate)` alive for backward and walks six element-wise ops back; this one
//! makes one parallel pass each way and keeps only its two inputs.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::Linear;
use super::linear::{input_grad, linear_fwd};
use super::slices::{contiguous_f32, fused_ok, grad_for, with_cpu, with_cpu_f32};

/// Elements per parallel task: large enough that scheduling is noise.
const CHUNK: usize = 1 << 14;

pub fn swiglu(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    if fused_ok(gate) && fused_ok(up) && gate.shape() == up.shape() {
        gate.contiguous()?.apply_op2(&up.contiguous()?, SwiGlu)
    } else {
        swiglu_composed(gate, up)
    }
}

/// The composed form; the reference for the fused op and the path off the CPU.
pub fn swiglu_composed(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    gate.silu()? * up
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

struct SwiGlu;

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
        Ok((CpuStorage::F32(forward(g, u)), gl.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        backward(gate, up, grad)
    }
}

fn forward(g: &[f32], u: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; g.len()];
    out.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK).zip(u.par_chunks(CHUNK)))
        .for_each(|(o, (g, u))| {
            for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
                *o = g * sigmoid(g) * u;
            }
        });
    out
}

/// The gradients of gate and up given the gradient of `silu(gate) * up`.
fn backward(gate: &Tensor, up: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let grad = grad.contiguous()?;
    // d/dg silu(g) = s(g) (1 + g (1 - s(g))); d/du = silu(g).
    let (dg, du) = with_cpu_f32(&[gate, up, &grad], "swiglu", |t| {
        let (g, u, d) = (t[0], t[1], t[2]);
        let mut dg = vec![0f32; g.len()];
        let mut du = vec![0f32; g.len()];
        dg.par_chunks_mut(CHUNK)
            .zip(du.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK).zip(u.par_chunks(CHUNK)))
            .zip(d.par_chunks(CHUNK))
            .for_each(|(((dg, du), (g, u)), d)| {
                for i in 0..g.len() {
                    let s = sigmoid(g[i]);
                    du[i] = d[i] * g[i] * s;
                    dg[i] = d[i] * u[i] * s * (1.0 + g[i] * (1.0 - s));
                }
            });
        Ok((dg, du))
    })?;
    Ok((grad_for(gate, dg)?, grad_for(up, du)?))
}

/// `down(silu(gate) * up)` for a frozen `down` projection, as one op: its backward needs only
/// the weight and the op's two inputs, so the SwiGLU output (batch x seq x intermediate) is not
/// kept alive until backward, as it would be as the input of a separate linear op.
pub fn swiglu_frozen_down(gate: &Tensor, up: &Tensor, down: &Linear) -> Result<Tensor> {
    match down.frozen_weight() {
        Some(w) if fused_ok(gate) && fused_ok(up) && fused_ok(w) && gate.shape() == up.shape() => {
            gate.contiguous()?
                .apply_op2(&up.contiguous()?, SwiGluFrozenDown { weight: w.clone() })
        }
        _ => down.forward(&swiglu(gate, up)?),
    }
}

struct SwiGluFrozenDown {
    weight: Tensor,
}

impl CustomOp2 for SwiGluFrozenDown {
    fn name(&self) -> &'static str {
        "swiglu-frozen-down"
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
        let hidden = CpuStorage::F32(forward(g, u));
        with_cpu(&self.weight, |w, wl| {
            linear_fwd(&hidden, &Layout::contiguous(gl.shape()), w, wl, None)
        })
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let d_hidden = input_grad(gate, &self.weight, grad)?;
        backward(gate, up, &d_hidden)
    }
}
