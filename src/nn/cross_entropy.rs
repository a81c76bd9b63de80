//! Fused next-token cross-entropy. The composed form (log_softmax, gather, mean, and their
//! backward) makes a dozen single-threaded passes and vocabulary-sized temporaries over the
//! logits, the largest activation of a small LM; this op makes two parallel passes forward and
//! writes the gradient `softmax - onehot` directly in one pass backward.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::slices::{contiguous_f32, fused_ok};

/// Mean cross-entropy of logits (rows, vocab) against `targets` (one per row; `None` rows are
/// ignored, e.g. the last position of each block).
pub fn cross_entropy(logits: &Tensor, targets: Vec<Option<u32>>) -> Result<Tensor> {
    let (rows, vocab) = logits.dims2()?;
    if targets.len() != rows {
        bail!("cross-entropy: {} targets for {rows} rows", targets.len())
    }
    if let Some(t) = targets.iter().flatten().find(|t| **t as usize >= vocab) {
        bail!("cross-entropy: target {t} outside the vocabulary of {vocab}")
    }
    let counted = targets.iter().flatten().count();
    if counted == 0 {
        bail!("cross-entropy: no targets")
    }
    if !fused_ok(logits) {
        bail!("cross-entropy: the fused op runs on f32 CPU tensors")
    }
    logits
        .contiguous()?
        .apply_op1_arc(Arc::new(Box::new(CrossEntropy {
            targets: Arc::new(targets),
            counted,
        })))
}

struct CrossEntropy {
    targets: Arc<Vec<Option<u32>>>,
    counted: usize,
}

fn log_sum_exp(row: &[f32]) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
    max + sum.ln()
}

impl CustomOp1 for CrossEntropy {
    fn name(&self) -> &'static str {
        "cross-entropy"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l, "cross-entropy")?;
        let vocab = l.dims()[1];
        let total: f64 = x
            .par_chunks(vocab)
            .zip(self.targets.par_iter())
            .map(|(row, t)| match t {
                Some(t) => f64::from(log_sum_exp(row) - row[*t as usize]),
                None => 0.0,
            })
            .sum();
        let mean = (total / self.counted as f64) as f32;
        Ok((CpuStorage::F32(vec![mean]), Shape::from(())))
    }

    fn bwd(&self, logits: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let g = grad.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
        let op = CrossEntropyGrad {
            targets: self.targets.clone(),
            scale: g / self.counted as f32,
        };
        logits.detach().apply_op1_no_bwd(&op).map(Some)
    }
}

struct CrossEntropyGrad {
    targets: Arc<Vec<Option<u32>>>,
    scale: f32,
}

impl CustomOp1 for CrossEntropyGrad {
    fn name(&self) -> &'static str {
        "cross-entropy-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l, "cross-entropy-grad")?;
        let vocab = l.dims()[1];
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(vocab)
            .zip(x.par_chunks(vocab))
            .zip(self.targets.par_iter())
            .for_each(|((o, row), t)| {
                let Some(t) = t else { return };
                let lse = log_sum_exp(row);
                for (o, v) in o.iter_mut().zip(row) {
                    *o = (v - lse).exp() * self.scale;
                }
                o[*t as usize] -= self.scale;
            });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}
