//! Continuation of a prompt, to read what a fine-tuned model writes. Tokens are chosen by
//! candle-transformers' `LogitsProcessor`: greedy at temperature 0, else nucleus sampling, seeded
//! so the same seed gives comparable samples before and after training.

use anyhow::{Result, anyhow};
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use tokenizers::Tokenizer;

use crate::models::CausalLm;

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chooser {
    /// 0 = greedy.
    pub temperature: f64,
    /// Nucleus: sample from the smallest set of tokens whose probability reaches `top_p` (1 = all).
    pub top_p: f64,
    pub seed: u64,
}

impl Chooser {
    pub const GREEDY: Chooser = Chooser {
        temperature: 0.0,
        top_p: 1.0,
        seed: 0,
    };

    fn processor(self) -> LogitsProcessor {
        let sampling = if self.temperature <= 0.0 {
            Sampling::ArgMax
        } else if self.top_p < 1.0 {
            Sampling::TopP {
                p: self.top_p,
                temperature: self.temperature,
            }
        } else {
            Sampling::All {
                temperature: self.temperature,
            }
        };
        LogitsProcessor::from_sampling(self.seed, sampling)
    }
}

/// `n` greedily chosen tokens after `prompt`, decoded (the prompt itself not included).
pub fn greedy(
    lm: &dyn CausalLm,
    tok: &Tokenizer,
    prompt: &str,
    n: usize,
    max_len: usize,
    device: &Device,
) -> Result<String> {
    continuation(lm, tok, prompt, n, max_len, Chooser::GREEDY, device)
}

/// `n` tokens after `prompt` chosen by `chooser`, decoded (the prompt itself not included).
pub fn continuation(
    lm: &dyn CausalLm,
    tok: &Tokenizer,
    prompt: &str,
    n: usize,
    max_len: usize,
    chooser: Chooser,
    device: &Device,
) -> Result<String> {
    let mut ids = tok
        .encode(prompt, false)
        .map_err(|e| anyhow!("cannot tokenize the sample prompt: {e}"))?
        .get_ids()
        .to_vec();
    let start = ids.len();
    let mut chooser = chooser.processor();
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
