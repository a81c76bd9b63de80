//! Fused next-token cross-entropy. The composed form (log_softmax, gather, mean, and their
//! backward) makes a dozen single-threaded passes and vocabulary-sized temporaries over the
//! logits, the largest activation of a small LM; this op makes two parallel passes forward and
//! writes the gradient `softmax - onehot` directly in one pass backward, from the log-sum-exp the
//! forward kept (one exp per logit each way).

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::slices::{contiguous_f32, fused_ok, par_fill};

/// Mean cross-entropy of logits (rows, vocab) against `targets` (one per row; `None` rows are
/// ignored, e.g. the last position of each block).
pub fn cross_entropy(logits: &Tensor, targets: Vec<Option<u32>>) -> Result<Tensor> {
    let (rows, vocab) = logits.dims2()?;
    let counted = check_targets(&targets, rows, vocab)?;
    if !fused_ok(logits) {
        bail!("cross-entropy: the fused op runs on f32 CPU tensors")
    }
    logits
        .contiguous()?
        .apply_op1_arc(Arc::new(Box::new(CrossEntropy {
            targets: Arc::new(targets),
            counted,
            lse: Mutex::new(None),
        })))
}

/// One target per row, each inside the vocabulary; returns how many rows have one (at least 1).
pub(crate) fn check_targets(targets: &[Option<u32>], rows: usize, vocab: usize) -> Result<usize> {
    if targets.len() != rows {
        bail!("cross-entropy: {} targets for {rows} rows", targets.len())
    }
    if let Some(t) = targets.iter().flatten().find(|t| **t as usize >= vocab) {
        bail!("cross-entropy: target {t} outside the vocabulary of {vocab}")
    }
    match targets.iter().flatten().count() {
        0 => bail!("cross-entropy: no targets"),
        counted => Ok(counted),
    }
}

struct CrossEntropy {
    targets: Arc<Vec<Option<u32>>>,
    counted: usize,
    /// Each row's log-sum-exp, written by forward for backward.
    lse: Mutex<Option<Vec<f32>>>,
}

pub(crate) fn log_sum_exp(row: &[f32]) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    max + super::simd::sum_exp_shifted(row, max).ln()
}

/// A row of logits, in place, becomes its row of the loss gradient: `scale * (softmax - onehot)`.
pub(crate) fn into_grad_row(row: &mut [f32], lse: f32, target: u32, scale: f32) {
    super::simd::exp_shifted(row, lse, scale);
    row[target as usize] -= scale;
}

impl CustomOp1 for CrossEntropy {
    fn name(&self) -> &'static str {
        "cross-entropy"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l, "cross-entropy")?;
        let vocab = l.dims()[1];
        let lse: Vec<f32> = x
            .par_chunks(vocab)
            .zip(self.targets.par_iter())
            .map(|(row, t)| t.map_or(0.0, |_| log_sum_exp(row)))
            .collect();
        let total: f64 = x
            .chunks(vocab)
            .zip(self.targets.iter().zip(&lse))
            .filter_map(|(row, (t, lse))| t.map(|t| f64::from(lse - row[t as usize])))
            .sum();
        let mean = (total / self.counted as f64) as f32;
        *self.lse.lock().map_err(|_| poisoned())? = Some(lse);
        Ok((CpuStorage::F32(vec![mean]), Shape::from(())))
    }

    fn bwd(&self, logits: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let g = grad.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
        let lse = self.lse.lock().map_err(|_| poisoned())?.take();
        let Some(lse) = lse else {
            bail!("cross-entropy: backward without a forward pass, or twice")
        };
        let op = CrossEntropyGrad {
            lse,
            targets: self.targets.clone(),
            scale: g / self.counted as f32,
        };
        logits.detach().apply_op1_no_bwd(&op).map(Some)
    }
}

struct CrossEntropyGrad {
    lse: Vec<f32>,
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
        let (out, _) = par_fill(x.len(), vocab, |i, o| {
            let Some(t) = self.targets[i] else { return };
            o.copy_from_slice(&x[i * vocab..][..vocab]);
            into_grad_row(o, self.lse[i], t, self.scale);
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

fn poisoned() -> candle_core::Error {
    candle_core::Error::Msg("cross-entropy: saved log-sum-exp poisoned".into())
}
