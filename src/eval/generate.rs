//! Continuation of a prompt, to read what a fine-tuned model writes. Tokens are chosen by
//! candle-transformers' `LogitsProcessor` (greedy: `Sampling::ArgMax`).

use anyhow::{Result, anyhow};
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
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
    let mut chooser = LogitsProcessor::from_sampling(0, Sampling::ArgMax);
    for _ in 0..n {
        let window = &ids[ids.len().saturating_sub(max_len)..];
        let input = Tensor::new(window, device)?.unsqueeze(0)?;
        let logits = lm.forward(&input)?;
        let last = logits.squeeze(0)?.get(window.len() - 1)?;
        let next = chooser.sample(&last)?;
        ids.push(next);
    }
    tok.decode(&ids[start..], true)
        .map_err(|e| anyhow!("cannot decode the sample: {e}"))
}
