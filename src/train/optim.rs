//! AdamW that updates each parameter in place in one fused, parallel pass, with its moments kept
//! as plain buffers. candle-nn's AdamW builds about a dozen parameter-sized temporaries per
//! tensor per step; for full fine-tuning that is gigabytes of allocation per step. Same update
//! rule (decoupled weight decay, bias-corrected moments), so either can be chosen for comparison.

use std::sync::Mutex;

use anyhow::Result;
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp1, Layout, Storage, Var, bail};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use multiversion::multiversion;
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
                        rule: Rule {
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
                        },
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
                .par_chunks(1 << 16)
                .map(sum_of_squares)
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

/// Sum of squares in f64 with eight running sums: one running sum is one dependent add per
/// element, which no compiler may vectorise (float addition is not associative).
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
fn sum_of_squares(x: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let mut xs = x.chunks_exact(8);
    for x in &mut xs {
        for (a, v) in acc.iter_mut().zip(x) {
            *a += f64::from(*v) * f64::from(*v);
        }
    }
    let tail: f64 = xs.remainder().iter().map(|v| f64::from(*v).powi(2)).sum();
    acc.iter().sum::<f64>() + tail
}

/// The AdamW settings one update applies, bias corrections and gradient scale included.
#[derive(Clone, Copy)]
struct Rule {
    lr: f32,
    wd: f32,
    b1: f32,
    b2: f32,
    eps: f32,
    bc1: f32,
    bc2: f32,
    scale: f32,
}

/// One chunk of the update, element by element in lockstep (no index bounds checks), compiled
/// for the widest vectors the CPU has. Same operations in the same order on every target (no
/// fused multiply-add is formed), so every target gives the same bits.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
fn update_chunk(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], r: Rule) {
    for (((p, m), v), g) in p.iter_mut().zip(m).zip(v).zip(g) {
        let g = g * r.scale;
        *m = r.b1 * *m + (1.0 - r.b1) * g;
        *v = r.b2 * *v + (1.0 - r.b2) * g * g;
        let update = (*m / r.bc1) / ((*v / r.bc2).sqrt() + r.eps);
        *p = *p * (1.0 - r.lr * r.wd) - r.lr * update;
    }
}

struct Update<'a> {
    grad: &'a [f32],
    m: Mutex<&'a mut Vec<f32>>,
    v: Mutex<&'a mut Vec<f32>>,
    rule: Rule,
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
        if theta.len() != self.grad.len() || m.len() != theta.len() || v.len() != theta.len() {
            bail!("adamw: gradient and parameter sizes differ")
        }
        const CHUNK: usize = 1 << 14;
        let rule = self.rule;
        theta
            .par_chunks_mut(CHUNK)
            .zip(m.as_mut_slice().par_chunks_mut(CHUNK))
            .zip(v.as_mut_slice().par_chunks_mut(CHUNK))
            .zip(self.grad.par_chunks(CHUNK))
            .for_each(|(((p, m), v), g)| update_chunk(p, m, v, g, rule));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lane sums and the tail add up to the plain sum, for lengths below, at and past a lane
    /// multiple.
    #[test]
    fn sum_of_squares_adds_every_element() {
        for n in [0, 1, 7, 8, 9, 1003] {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
            let want: f64 = x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum();
            let got = sum_of_squares(&x);
            assert!(
                (got - want).abs() <= 1e-12 * want.max(1.0),
                "{n}: {got} vs {want}"
            );
        }
    }
}
