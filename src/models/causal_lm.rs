//! What every architecture is to the rest of the house: a decoder-only LM over token ids, with
//! its parameters listed once; and the embedding lookup they share.

use candle_core::Tensor;

use super::config::ArchConfig;
use crate::nn::Param;

/// A decoder-only LM: token ids (batch, seq) -> logits (batch, seq, vocab) at every position.
pub trait CausalLm: Send + Sync {
    /// The final hidden states (batch, seq, hidden), normalised, before the lm_head.
    fn hidden(&self, ids: &Tensor) -> candle_core::Result<Tensor>;
    /// The lm_head (tied models: a layer over the embedding table).
    fn head(&self) -> &crate::nn::Linear;
    /// Logits (batch, seq, vocab).
    fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.head().forward(&self.hidden(ids)?)
    }
    /// Every distinct parameter once (a tied lm_head is not counted twice), in checkpoint order.
    fn params(&self) -> Vec<&Param>;
    fn arch(&self) -> &ArchConfig;
}

/// Embedding lookup. A frozen table is a plain tensor, so nothing is recorded for backward.
pub(crate) fn embed(table: &Param, ids: &Tensor) -> candle_core::Result<Tensor> {
    let (b, t) = ids.dims2()?;
    let h = table.tensor().dim(1)?;
    table
        .tensor()
        .index_select(&ids.flatten_all()?, 0)?
        .reshape((b, t, h))
}
