//! Perplexity as transformers reports it for `labels = input_ids`: the mean cross-entropy of
//! predicting token t+1 from tokens 0..=t inside each block, exponentiated.

use std::time::Instant;

use anyhow::{Result, bail};
use candle_core::{Device, Tensor};

use crate::models::CausalLm;
use crate::nn::Linear;
use crate::nn::cross_entropy::cross_entropy;
use crate::nn::linear_cross_entropy::{linear_cross_entropy, linear_cross_entropy_no_grad};
use crate::nn::slices::fused_ok;

/// Mean next-token cross-entropy of logits (batch, seq, vocab) against ids (batch, seq).
pub fn next_token_loss(logits: &Tensor, ids: &Tensor) -> candle_core::Result<Tensor> {
    let (b, t, v) = logits.dims3()?;
    if fused_ok(logits) && ids.dtype() == candle_core::DType::U32 {
        return cross_entropy(&logits.reshape((b * t, v))?, next_targets(ids)?);
    }
    next_token_loss_composed(logits, ids)
}

/// The model's mean next-token cross-entropy on ids (batch, seq). On the CPU the lm_head and the
/// loss run as one op over chunks of rows (`nn::linear_cross_entropy`): the logits never exist
/// whole; elsewhere, the logits and then the loss.
pub fn lm_loss(lm: &dyn CausalLm, ids: &Tensor) -> candle_core::Result<Tensor> {
    head_loss(lm.head(), &lm.hidden(ids)?, ids, true)
}

/// The next-token loss of hidden states (batch, seq, d) through `head`; `grads`: with
/// gradients for what is tracked, else none computed or recorded (evaluation).
fn head_loss(
    head: &Linear,
    hidden: &Tensor,
    ids: &Tensor,
    grads: bool,
) -> candle_core::Result<Tensor> {
    if fused_ok(hidden) && ids.dtype() == candle_core::DType::U32 {
        let (b, t, d) = hidden.dims3()?;
        let (h, targets) = (hidden.reshape((b * t, d))?, next_targets(ids)?);
        return if grads {
            linear_cross_entropy(&h, head, targets)
        } else {
            linear_cross_entropy_no_grad(&h, head, targets)
        };
    }
    let logits = head.forward(hidden)?;
    next_token_loss(&if grads { logits } else { logits.detach() }, ids)
}

/// Row (i, j) predicts token (i, j + 1); the last position of each block has no target.
fn next_targets(ids: &Tensor) -> candle_core::Result<Vec<Option<u32>>> {
    let ids: Vec<Vec<u32>> = ids.to_vec2()?;
    Ok(ids
        .iter()
        .flat_map(|row| (0..row.len()).map(move |j| row.get(j + 1).copied()))
        .collect())
}

/// The composed loss (candle-nn's log-softmax and gather), the reference for the fused op.
pub fn next_token_loss_composed(logits: &Tensor, ids: &Tensor) -> candle_core::Result<Tensor> {
    let (b, t, v) = logits.dims3()?;
    let pred = logits.narrow(1, 0, t - 1)?.reshape((b * (t - 1), v))?;
    let target = ids.narrow(1, 1, t - 1)?.flatten_all()?;
    candle_nn::loss::cross_entropy(&pred, &target)
}

#[derive(Clone, Debug, PartialEq)]
pub struct Perplexity {
    pub blocks: usize,
    pub block_len: usize,
    /// Tokens whose probability was scored (block_len - 1 per block).
    pub predicted_tokens: usize,
    pub mean_nll: f64,
    pub ppl: f64,
    /// Mean next-token NLL of each block, in the order given (for intervals and paired tests).
    pub block_nll: Vec<f64>,
    pub seconds: f64,
    /// Input tokens through the forward pass per second.
    pub tokens_per_s: f64,
}

pub fn perplexity(
    lm: &dyn CausalLm,
    blocks: &[&[u32]],
    batch_size: usize,
    device: &Device,
) -> Result<Perplexity> {
    let Some(first) = blocks.first() else {
        bail!("no eval blocks to score")
    };
    let block_len = first.len();
    if block_len < 2 || blocks.iter().any(|b| b.len() != block_len) {
        bail!("eval blocks must all have the same length of at least 2 tokens")
    }
    let start = Instant::now();
    let mut block_nll = Vec::with_capacity(blocks.len());
    for chunk in blocks.chunks(batch_size.max(1)) {
        let flat: Vec<u32> = chunk.iter().flat_map(|b| b.iter().copied()).collect();
        let ids = Tensor::from_vec(flat, (chunk.len(), block_len), device)?;
        // One block at a time through the lm_head and the loss: the logits of a whole batch
        // are never held. Nothing here is differentiated, even where the weights train.
        let hidden = lm.hidden(&ids)?.detach();
        for i in 0..chunk.len() {
            let one = |t: &Tensor| t.narrow(0, i, 1);
            let mean = head_loss(lm.head(), &one(&hidden)?, &one(&ids)?, false)?;
            block_nll.push(mean.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let predicted = blocks.len() * (block_len - 1);
    // Every block predicts the same number of tokens: the mean of block means is the token mean.
    let mean_nll = block_nll.iter().sum::<f64>() / block_nll.len() as f64;
    if !mean_nll.is_finite() {
        bail!("eval loss is not finite ({mean_nll})")
    }
    Ok(Perplexity {
        blocks: blocks.len(),
        block_len,
        predicted_tokens: predicted,
        mean_nll,
        ppl: mean_nll.exp(),
        block_nll,
        seconds,
        tokens_per_s: (blocks.len() * block_len) as f64 / seconds,
    })
}
