//! AdamW that updates each parameter in place in one fused, parallel pass, with its moments kept
//! as plain buffers. candle-nn's AdamW builds about a dozen parameter-sized temporaries per
//! tensor per step; for full fine-tuning that is gigabytes of allocation per step. Same update
//! rule (decoupled weight decay, bias-corrected moments), so either can be chosen for comparison.

use std::sync::Mutex;

use anyhow::Result;
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp1, Layout, Storage, Var, bail};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rayon::prelude::*;

use crate::config::train::{OptimizerKind, TrainSettings};

pub struct Slot {
    var: Var,
    decay: bool,
    m: Vec<f32>,
    v: Vec<f32>,
}

pub enum AdamWOptimizer {
    Inplace {
        slots: Vec<Slot>,
        t: i32,
    },
    Candle {
        decay: AdamW,
        plain: AdamW,
        vars: Vec<Var>,
    },
}

fn params(s: &TrainSettings, weight_decay: f64) -> ParamsAdamW {
    ParamsAdamW {
        lr: s.lr,
        beta1: s.beta1,
        beta2: s.beta2,
        eps: s.eps,
        weight_decay,
    }
}

/// Matrices decay; biases and norm weights (1-D) do not, as in Hugging Face's Trainer.
fn decays(v: &Var) -> bool {
    v.rank() >= 2
}

fn grad_slice<'a>(g: &'a Storage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    match g {
        Storage::Cpu(c) => crate::nn::slices::contiguous_f32(c, l, "gradient"),
        _ => bail!("in-place AdamW runs on CPU"),
    }
}

impl AdamWOptimizer {
    pub fn new(kind: OptimizerKind, vars: Vec<Var>, s: &TrainSettings) -> Result<Self> {
        let all_cpu = !crate::nn::slices::portable_forced()
            && vars
                .iter()
                .all(|v| v.device().is_cpu() && v.dtype() == candle_core::DType::F32);
        Ok(match kind {
            OptimizerKind::Inplace if all_cpu => Self::Inplace {
                slots: vars
                    .into_iter()
                    .map(|var| Slot {
                        decay: decays(&var),
                        m: vec![0.0; var.elem_count()],
                        v: vec![0.0; var.elem_count()],
                        var,
                    })
                    .collect(),
                t: 0,
            },
            _ => {
                let (d, p): (Vec<Var>, Vec<Var>) = vars.iter().cloned().partition(decays);
                Self::Candle {
                    decay: AdamW::new(d, params(s, s.weight_decay))?,
                    plain: AdamW::new(p, params(s, 0.0))?,
                    vars,
                }
            }
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Inplace { .. } => "adamw-inplace",
            Self::Candle { .. } => "adamw-candle",
        }
    }

    /// One update with learning rate `lr`, every gradient multiplied by `grad_scale` (clipping).
    pub fn step(
        &mut self,
        grads: &mut GradStore,
        s: &TrainSettings,
        lr: f64,
        grad_scale: f64,
    ) -> Result<()> {
        match self {
            Self::Candle { decay, plain, vars } => {
                if grad_scale != 1.0 {
                    for v in vars.iter() {
                        if let Some(g) = grads.get(v.as_tensor()) {
                            let scaled = (g * grad_scale)?;
                            grads.insert(v.as_tensor(), scaled);
                        }
                    }
                }
                decay.set_learning_rate(lr);
                plain.set_learning_rate(lr);
                decay.step(grads)?;
                plain.step(grads)?;
            }
            Self::Inplace { slots, t } => {
                *t += 1;
                let bc1 = 1.0 - s.beta1.powi(*t);
                let bc2 = 1.0 - s.beta2.powi(*t);
                for slot in slots.iter_mut() {
                    let Some(g) = grads.get(slot.var.as_tensor()) else {
                        continue;
                    };
                    let g = g.contiguous()?;
                    let (gs, gl) = g.storage_and_layout();
                    let grad = grad_slice(&gs, gl)?;
                    let op = Update {
                        grad,
                        m: Mutex::new(&mut slot.m),
                        v: Mutex::new(&mut slot.v),
                        lr: lr as f32,
                        wd: if slot.decay {
                            s.weight_decay as f32
                        } else {
                            0.0
                        },
                        b1: s.beta1 as f32,
                        b2: s.beta2 as f32,
                        eps: s.eps as f32,
                        bc1: bc1 as f32,
                        bc2: bc2 as f32,
                        scale: grad_scale as f32,
                    };
                    slot.var.as_tensor().inplace_op1(&op)?;
                }
            }
        }
        Ok(())
    }
}

/// Global L2 norm of the gradients of `vars`, accumulated in f64.
pub fn global_grad_norm(grads: &GradStore, vars: &[Var]) -> Result<f64> {
    let mut sq = 0f64;
    for v in vars {
        let Some(g) = grads.get(v.as_tensor()) else {
            continue;
        };
        if g.device().is_cpu() && g.dtype() == candle_core::DType::F32 {
            let g = g.contiguous()?;
            let (gs, gl) = g.storage_and_layout();
            sq += grad_slice(&gs, gl)?
                .par_iter()
                .map(|x| f64::from(*x) * f64::from(*x))
                .sum::<f64>();
        } else {
            sq += g
                .sqr()?
                .sum_all()?
                .to_dtype(candle_core::DType::F64)?
                .to_scalar::<f64>()?;
        }
    }
    Ok(sq.sqrt())
}

struct Update<'a> {
    grad: &'a [f32],
    m: Mutex<&'a mut Vec<f32>>,
    v: Mutex<&'a mut Vec<f32>>,
    lr: f32,
    wd: f32,
    b1: f32,
    b2: f32,
    eps: f32,
    bc1: f32,
    bc2: f32,
    scale: f32,
}

impl InplaceOp1 for Update<'_> {
    fn name(&self) -> &'static str {
        "adamw-inplace"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("adamw: parameter must be contiguous")
        };
        let CpuStorage::F32(data) = storage else {
            bail!("adamw: parameter must be f32")
        };
        let theta = &mut data[start..end];
        let (Ok(mut m), Ok(mut v)) = (self.m.lock(), self.v.lock()) else {
            bail!("adamw: moment buffers poisoned")
        };
        if theta.len() != self.grad.len() || m.len() != theta.len() {
            bail!("adamw: gradient and parameter sizes differ")
        }
        const CHUNK: usize = 1 << 14;
        let (lr, wd, b1, b2, eps, bc1, bc2, scale) = (
            self.lr, self.wd, self.b1, self.b2, self.eps, self.bc1, self.bc2, self.scale,
        );
        theta
            .par_chunks_mut(CHUNK)
            .zip(m.as_mut_slice().par_chunks_mut(CHUNK))
            .zip(v.as_mut_slice().par_chunks_mut(CHUNK))
            .zip(self.grad.par_chunks(CHUNK))
            .for_each(|(((p, m), v), g)| {
                for i in 0..p.len() {
                    let g = g[i] * scale;
                    m[i] = b1 * m[i] + (1.0 - b1) * g;
                    v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                    let update = (m[i] / bc1) / ((v[i] / bc2).sqrt() + eps);
                    p[i] = p[i] * (1.0 - lr * wd) - lr * update;
                }
            });
        Ok(())
    }
}
