//! Greedy continuation of a prompt, to read what a fine-tuned model writes.

use anyhow::{Result, anyhow};
use candle_core::{D, Device, Tensor};
use tokenizers::Tokenizer;

use crate::models::CausalLm;

/// `n` greedily chosen tokens after `prompt`, decoded (the prompt itself not included).
pub fn greedy(
    lm: &dyn CausalLm,
    tok: &Tokenizer,
    prompt: &str,
    n: usize,
    max_len: usize,
    device: &Device,
) -> Result<String> {
    let mut ids = tok
        .encode(prompt, false)
        .map_err(|e| anyhow!("cannot tokenize the sample prompt: {e}"))?
        .get_ids()
        .to_vec();
    let start = ids.len();
    for _ in 0..n {
        let window = &ids[ids.len().saturating_sub(max_len)..];
        let input = Tensor::new(window, device)?.unsqueeze(0)?;
        let logits = lm.forward(&input)?;
        let last = logits.squeeze(0)?.get(window.len() - 1)?;
        let next = last.argmax(D::Minus1)?.to_scalar::<u32>()?;
        ids.push(next);
    }
    tok.decode(&ids[start..], true)
        .map_err(|e| anyhow!("cannot decode the sample: {e}"))
}
