//! Causal softmax over attention scores, with an optional local window (GPT-Neo's local layers).
//!
//! Query i sees key j when j <= i and, with a window w, i - j < w (as in transformers' GPT-Neo:
//! `tril(ones) ^ tril(ones, -w)`). The mask lives inside the op: a mask tensor added to the scores
//! would get an activation-sized gradient of its own in candle's backward.

use candle_core::{CpuStorage, CustomOp1, D, DType, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::slices::{contiguous_f32, fused_ok, with_cpu_f32};

/// Softmax over the last dim of scores (batch, heads, seq, seq), masked causally.
pub fn causal_softmax(scores: &Tensor, window: Option<usize>) -> Result<Tensor> {
    if window == Some(0) {
        // Every key, the query's own included, would be masked: a row of NaNs.
        bail!("causal softmax: a local window of 0 lets a query see no key")
    }
    if fused_ok(scores) {
        scores.contiguous()?.apply_op1(CausalSoftmax { window })
    } else {
        causal_softmax_composed(scores, window)
    }
}

/// The composed form; the reference for the fused op.
pub fn causal_softmax_composed(scores: &Tensor, window: Option<usize>) -> Result<Tensor> {
    let seq = scores.dim(D::Minus1)?;
    let mask: Vec<u8> = (0..seq)
        .flat_map(|i| (0..seq).map(move |j| u8::from(visible(i, j, window))))
        .collect();
    let mask = Tensor::from_vec(mask, (seq, seq), scores.device())?.broadcast_as(scores.shape())?;
    let neg = Tensor::new(f32::NEG_INFINITY, scores.device())?
        .to_dtype(scores.dtype())?
        .broadcast_as(scores.shape())?;
    let masked = mask.where_cond(scores, &neg)?;
    candle_nn::ops::softmax(&masked, D::Minus1)
}

fn visible(i: usize, j: usize, window: Option<usize>) -> bool {
    j <= i && window.is_none_or(|w| i - j < w)
}

struct CausalSoftmax {
    window: Option<usize>,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(xs, xl, "causal-softmax")?;
        let seq = xl.dims()[xl.dims().len() - 1];
        let rows = xl.dims()[xl.dims().len() - 2];
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(seq)
            .zip(x.par_chunks(seq))
            .enumerate()
            .for_each(|(r, (o, v))| {
                let i = r % rows;
                let lo = self.window.map_or(0, |w| (i + 1).saturating_sub(w));
                let hi = i.min(seq - 1);
                let max = v[lo..=hi].iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0f32;
                for j in lo..=hi {
                    let e = (v[j] - max).exp();
                    o[j] = e;
                    sum += e;
                }
                for o in &mut o[lo..=hi] {
                    *o /= sum;
                }
            });
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, p: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        // dS = P * (dP - sum(dP * P)), one parallel pass over rows; masked entries have P = 0,
        // so they get no gradient.
        let grad = grad.contiguous()?;
        let seq = p.dim(D::Minus1)?;
        let ds = with_cpu_f32(&[p, &grad], "causal-softmax", |t| {
            let (p, g) = (t[0], t[1]);
            let mut ds = vec![0f32; p.len()];
            ds.par_chunks_mut(seq)
                .zip(p.par_chunks(seq).zip(g.par_chunks(seq)))
                .for_each(|(d, (p, g))| {
                    let dot: f32 = p.iter().zip(g).map(|(p, g)| p * g).sum();
                    for ((d, p), g) in d.iter_mut().zip(p).zip(g) {
                        *d = p * (g - dot);
                    }
                });
            Ok(ds)
        })?;
        let ds = Tensor::from_vec(ds, p.shape(), p.device())?;
        debug_assert_eq!(ds.dtype(), DType::F32);
        Ok(Some(ds))
    }
}
