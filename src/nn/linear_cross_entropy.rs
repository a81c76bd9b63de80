//! Next-token cross-entropy fused with the lm_head, `mean CE(h W^T, targets)`, over chunks of
//! rows: the (rows x vocab) logits and their gradient, a small LM's largest activations (100 MB
//! each at 512 rows x 49152), never exist whole. As Liger's fused linear cross-entropy does, the
//! gradients are computed in the forward pass, chunk by chunk, while the chunk's logits are at
//! hand (dh = G W, dW = G^T h with G = (softmax - onehot) / counted); backward only scales them
//! by the incoming gradient. A frozen W gets no dW; with nothing tracked (evaluation) the op
//! computes the loss alone.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::Linear;
use super::counters;
use super::cpu_gemm::{Mat, product, product_into_all};
use super::cross_entropy::{check_targets, cross_entropy, into_grad_row, log_sum_exp};
use super::slices::{contiguous_f32, fused_ok};

/// Rows per chunk: 256 x 49152 logits are 50 MB, half of a 4 x 128 batch's; each chunk packs W
/// anew for its products, so smaller chunks cost time (128 rows: 2% slower on an Intel Xeon).
const CHUNK_ROWS: usize = 256;

/// Mean cross-entropy of `head(hidden)` (hidden: rows x d) against `targets` (one per row;
/// `None` rows are ignored), with gradients for whichever of hidden and the head's weight is
/// tracked. One fused op where the head is a plain weight (no bias, no adapter) on f32 CPU
/// tensors; the logits, then the fused cross-entropy, elsewhere.
pub fn linear_cross_entropy(
    hidden: &Tensor,
    head: &Linear,
    targets: Vec<Option<u32>>,
) -> Result<Tensor> {
    match fusable(hidden, head) {
        Some(w) => fused(hidden, w, targets, true),
        None => cross_entropy(&head.forward(hidden)?, targets),
    }
}

/// The same loss for evaluation: no gradient computed or recorded, even for a model whose
/// weights train (curves scored between steps).
pub fn linear_cross_entropy_no_grad(
    hidden: &Tensor,
    head: &Linear,
    targets: Vec<Option<u32>>,
) -> Result<Tensor> {
    let hidden = hidden.detach();
    match fusable(&hidden, head) {
        Some(w) => fused(&hidden, &w.detach(), targets, false),
        None => cross_entropy(&head.forward(&hidden)?.detach(), targets),
    }
}

fn fusable<'a>(hidden: &Tensor, head: &'a Linear) -> Option<&'a Tensor> {
    head.plain_weight()
        .filter(|w| fused_ok(hidden) && fused_ok(w))
}

fn fused(hidden: &Tensor, w: &Tensor, targets: Vec<Option<u32>>, grads: bool) -> Result<Tensor> {
    let (rows, _) = hidden.dims2()?;
    let (vocab, _) = w.dims2()?;
    let counted = check_targets(&targets, rows, vocab)?;
    let op = LinearCrossEntropy {
        targets,
        counted,
        grad_hidden: grads && hidden.track_op(),
        grad_weight: grads && w.track_op(),
        grads: Mutex::new(None),
    };
    hidden
        .contiguous()?
        .apply_op2_arc(w, std::sync::Arc::new(Box::new(op)))
}

struct LinearCrossEntropy {
    targets: Vec<Option<u32>>,
    counted: usize,
    grad_hidden: bool,
    grad_weight: bool,
    /// (dh, dW) of the mean loss, written by forward for backward.
    grads: Mutex<Option<Grads>>,
}

type Grads = (Option<Vec<f32>>, Option<Vec<f32>>);

impl CustomOp2 for LinearCrossEntropy {
    fn name(&self) -> &'static str {
        "linear-cross-entropy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let h = contiguous_f32(s1, l1, "linear-cross-entropy")?;
        let w = contiguous_f32(s2, l2, "linear-cross-entropy")?;
        let (rows, d) = l1.shape().dims2()?;
        let (vocab, wd) = l2.shape().dims2()?;
        if wd != d {
            bail!("linear-cross-entropy: hidden width {d}, weight ({vocab}, {wd})")
        }
        let scale = 1.0 / self.counted as f32;
        let grad = self.grad_hidden || self.grad_weight;
        let mut dh = self.grad_hidden.then(|| vec![0f32; rows * d]);
        let mut dw: Option<Vec<f32>> = None;
        let mut total = 0f64;
        for r0 in (0..rows).step_by(CHUNK_ROWS) {
            let m = CHUNK_ROWS.min(rows - r0);
            let hc = &h[r0 * d..(r0 + m) * d];
            let targets = &self.targets[r0..r0 + m];
            let mut logits = product(m, vocab, d, Mat::rows(hc, d), Mat::cols(w, d));
            // Each row's loss; with gradients wanted, the row becomes its gradient in place (a
            // row without a target contributes none).
            total += logits
                .par_chunks_mut(vocab)
                .zip(targets)
                .map(|(row, t)| match *t {
                    None if grad => {
                        row.fill(0.0);
                        0.0
                    }
                    None => 0.0,
                    Some(t) => {
                        let lse = log_sum_exp(row);
                        let nll = f64::from(lse - row[t as usize]);
                        if grad {
                            into_grad_row(row, lse, t, scale);
                        }
                        nll
                    }
                })
                .sum::<f64>();
            if let Some(dh) = dh.as_mut() {
                let dst = &mut dh[r0 * d..(r0 + m) * d];
                product_into_all(
                    dst,
                    m,
                    d,
                    vocab,
                    false,
                    Mat::rows(&logits, vocab),
                    Mat::rows(w, d),
                );
            }
            if self.grad_weight {
                let (g, x) = (Mat::cols(&logits, vocab), Mat::rows(hc, d));
                match dw.as_mut() {
                    None => dw = Some(product(vocab, d, m, g, x)),
                    Some(dw) => product_into_all(dw, vocab, d, m, true, g, x),
                }
            }
        }
        if self.grad_hidden {
            counters::count_input_grad();
        }
        if self.grad_weight {
            counters::count_weight_grad();
        }
        *self.grads.lock().map_err(|_| poisoned())? = Some((dh, dw));
        let mean = (total / self.counted as f64) as f32;
        Ok((CpuStorage::F32(vec![mean]), Shape::from(())))
    }

    fn bwd(
        &self,
        hidden: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = grad.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
        let Some((dh, dw)) = self.grads.lock().map_err(|_| poisoned())?.take() else {
            bail!("linear-cross-entropy: backward without a forward pass, or twice")
        };
        let scaled = |v: Vec<f32>, like: &Tensor| -> Result<Tensor> {
            let t = Tensor::from_vec(v, like.shape(), like.device())?;
            if g == 1.0 { Ok(t) } else { t * f64::from(g) }
        };
        Ok((
            dh.map(|v| scaled(v, hidden)).transpose()?,
            dw.map(|v| scaled(v, w)).transpose()?,
        ))
    }
}

fn poisoned() -> candle_core::Error {
    candle_core::Error::Msg("linear-cross-entropy: saved gradients poisoned".into())
}
