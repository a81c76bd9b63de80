//! Gated linear units, `act(gate) * up`, as one op: SwiGLU (Llama: SiLU) and GeGLU (Gemma 3:
//! the tanh-approximate GELU). candle's chain (the activation, then mul) runs single-threaded
//! passes, keeps `act(gate)` alive for backward and walks its element-wise ops back (GELU's
//! backward alone is a dozen passes with two `powf`s per element); this one makes one parallel
//! pass each way and keeps only its two inputs.
//!
//! A frozen down projection can run inside the same op: its backward needs only the weight and
//! the op's two inputs, so the GLU output (batch x seq x intermediate) is not kept alive until
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

/// The activation applied to the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateActivation {
    /// SiLU, `g sigmoid(g)`: SwiGLU.
    Silu,
    /// GELU's tanh approximation (transformers' `gelu_pytorch_tanh`, candle's `gelu`): GeGLU.
    GeluTanh,
}

fn fusable(gate: &Tensor, up: &Tensor) -> bool {
    fused_ok(gate) && fused_ok(up) && gate.shape() == up.shape()
}

fn apply(gate: &Tensor, up: &Tensor, act: GateActivation, down: Option<Tensor>) -> Result<Tensor> {
    gate.contiguous()?
        .apply_op2(&up.contiguous()?, Glu { act, down })
}

/// `act(gate) * up`.
pub fn glu(gate: &Tensor, up: &Tensor, act: GateActivation) -> Result<Tensor> {
    if fusable(gate, up) {
        apply(gate, up, act, None)
    } else {
        glu_composed(gate, up, act)
    }
}

/// `down(act(gate) * up)`: one op where `down` trains nothing, the GLU then the layer elsewhere.
pub fn glu_then(gate: &Tensor, up: &Tensor, down: &Linear, act: GateActivation) -> Result<Tensor> {
    match down.frozen_weight() {
        Some(w) if fusable(gate, up) && fused_ok(w) => apply(gate, up, act, Some(w.clone())),
        _ => down.forward(&glu(gate, up, act)?),
    }
}

/// The composed form; the reference for the fused op and the path off the CPU.
pub fn glu_composed(gate: &Tensor, up: &Tensor, act: GateActivation) -> Result<Tensor> {
    match act {
        GateActivation::Silu => gate.silu()? * up,
        GateActivation::GeluTanh => gate.gelu()? * up,
    }
}

/// GELU's z(g) = K (g + A g^3): K = 2 sqrt(2 / pi), twice the tanh approximation's scale, and
/// its cubic coefficient A.
const GELU_K: f32 = 2.0 * 0.797_884_6;
const GELU_A: f32 = 0.044_715;

/// Both activations are `g s` with s = sigmoid(z(g)): SiLU's z = g; GELU's z = 2 c (g + a g^3),
/// as g (1 + tanh(c (g + a g^3))) / 2 = g sigmoid(2 c (g + a g^3)).
impl GateActivation {
    /// `s[i] = sigmoid(z(g[i]))`.
    fn sigmoid(self, g: &[f32], s: &mut [f32]) {
        match self {
            Self::Silu => simd::sigmoid(g, s),
            Self::GeluTanh => simd::sigmoid_of_cubic(g, GELU_K, GELU_A, s),
        }
    }
}

/// The gradients of `g s * u` with s = sigmoid(z(g)), given in `du` on entry:
/// d/dg = s (1 + g (1 - s) z'(g)), d/du = g s.
#[inline(always)]
fn gate_grads(
    (g, u, d): (&[f32], &[f32], &[f32]),
    dg: &mut [f32],
    du: &mut [f32],
    dz: impl Fn(f32) -> f32,
) {
    for i in 0..g.len() {
        let (x, s) = (g[i], du[i]);
        du[i] = d[i] * x * s;
        dg[i] = d[i] * u[i] * s * (1.0 + x * (1.0 - s) * dz(x));
    }
}

struct Glu {
    act: GateActivation,
    /// A frozen (out, intermediate) projection applied to the GLU output.
    down: Option<Tensor>,
}

impl CustomOp2 for Glu {
    fn name(&self) -> &'static str {
        match self.act {
            GateActivation::Silu => "swiglu",
            GateActivation::GeluTanh => "geglu",
        }
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        us: &CpuStorage,
        ul: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = contiguous_f32(gs, gl, "glu gate")?;
        let u = contiguous_f32(us, ul, "glu up")?;
        let act = self.act;
        let (out, _) = par_fill(g.len(), CHUNK, |i, o| {
            let (g, u) = (&g[i * CHUNK..][..o.len()], &u[i * CHUNK..][..o.len()]);
            act.sigmoid(g, o);
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
        let act = self.act;
        let (dg, du) = with_cpu_f32(&[gate, up, &grad], "glu", |t| {
            let (g, u, d) = (t[0], t[1], t[2]);
            Ok(par_fill2(
                (g.len(), CHUNK),
                (g.len(), CHUNK),
                |c, dg, du| {
                    let r = c * CHUNK..c * CHUNK + dg.len();
                    let (g, u, d) = (&g[r.clone()], &u[r.clone()], &d[r]);
                    act.sigmoid(g, du);
                    match act {
                        GateActivation::Silu => gate_grads((g, u, d), dg, du, |_| 1.0),
                        GateActivation::GeluTanh => {
                            gate_grads((g, u, d), dg, du, |x| GELU_K * (1.0 + 3.0 * GELU_A * x * x))
                        }
                    }
                },
            ))
        })?;
        Ok((grad_for(gate, dg)?, grad_for(up, du)?))
    }
}
