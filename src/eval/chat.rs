//! The chat probe: an instruct model's own greedy replies to short instructions, and the NLL of
//! those reply tokens under a (fine-tuned) model. Prompts go through the checkpoint's own chat
//! template, rendered with minijinja.
//!
//! Sequences of different lengths share a batch by right padding: attention is causal, so no
//! position before a sequence's end sees the padding, and RoPE / learned positions start at 0 for
//! every sequence. Each sequence's logits are read at its own last position.

use anyhow::{Result, anyhow};
use candle_core::{D, Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use tokenizers::Tokenizer;

use crate::models::{CausalLm, ChatTemplate};

/// The instruction as one user turn, ready for the assistant's reply.
pub fn render_prompt(template: &ChatTemplate, instruction: &str) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.add_template("chat", &template.template)
        .map_err(|e| anyhow!("the model's chat template does not parse: {e}"))?;
    let ctx = minijinja::context! {
        messages => vec![minijinja::context! { role => "user", content => instruction }],
        add_generation_prompt => true,
    };
    env.get_template("chat")
        .and_then(|t| t.render(ctx))
        .map_err(|e| anyhow!("cannot render the chat template: {e}"))
}

/// Token ids of the rendered prompt (special tokens as the template writes them).
pub fn encode_prompt(
    tok: &Tokenizer,
    template: &ChatTemplate,
    instruction: &str,
) -> Result<Vec<u32>> {
    let text = render_prompt(template, instruction)?;
    Ok(tok
        .encode(text, false)
        .map_err(|e| anyhow!("cannot tokenize a chat prompt: {e}"))?
        .get_ids()
        .to_vec())
}

/// Right-pad `seqs` into one (batch, longest) tensor.
fn padded(seqs: &[Vec<u32>], device: &Device) -> candle_core::Result<(Tensor, usize)> {
    let len = seqs.iter().map(Vec::len).max().unwrap_or(0);
    let flat: Vec<u32> = seqs
        .iter()
        .flat_map(|s| {
            s.iter()
                .copied()
                .chain(std::iter::repeat_n(0, len - s.len()))
        })
        .collect();
    Ok((Tensor::from_vec(flat, (seqs.len(), len), device)?, len))
}

/// Greedy replies of at most `max_new` tokens, stopping at `stop` (kept in the reply).
pub fn generate_replies(
    lm: &dyn CausalLm,
    prompts: &[Vec<u32>],
    max_new: usize,
    stop: Option<u32>,
    batch: usize,
    device: &Device,
) -> Result<Vec<Vec<u32>>> {
    let mut out = Vec::with_capacity(prompts.len());
    let mut chooser = LogitsProcessor::from_sampling(0, Sampling::ArgMax);
    for chunk in prompts.chunks(batch.max(1)) {
        let mut seqs: Vec<Vec<u32>> = chunk.to_vec();
        let mut done = vec![false; seqs.len()];
        for _ in 0..max_new {
            if done.iter().all(|d| *d) {
                break;
            }
            let (ids, _) = padded(&seqs, device)?;
            let logits = lm.forward(&ids)?;
            for (i, s) in seqs.iter_mut().enumerate() {
                if done[i] {
                    continue;
                }
                let next = chooser.sample(&logits.get(i)?.get(s.len() - 1)?)?;
                s.push(next);
                done[i] = Some(next) == stop;
            }
        }
        out.extend(seqs.iter().zip(chunk).map(|(s, p)| s[p.len()..].to_vec()));
    }
    Ok(out)
}

/// Mean NLL of each reply's tokens given its prompt (prompt tokens are not scored).
pub fn reply_nll(
    lm: &dyn CausalLm,
    items: &[(Vec<u32>, Vec<u32>)],
    batch: usize,
    device: &Device,
) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(batch.max(1)) {
        let seqs: Vec<Vec<u32>> = chunk
            .iter()
            .map(|(p, r)| [p.as_slice(), r].concat())
            .collect();
        let (ids, _) = padded(&seqs, device)?;
        let logits = lm.forward(&ids)?;
        for (i, (p, r)) in chunk.iter().enumerate() {
            // Positions p-1 .. p+r-2 predict the reply's tokens.
            let rows = logits.get(i)?.narrow(0, p.len() - 1, r.len())?;
            let logp = candle_nn::ops::log_softmax(&rows, D::Minus1)?;
            let target = Tensor::new(r.as_slice(), device)?.unsqueeze(1)?;
            let picked = logp.gather(&target, 1)?.to_dtype(candle_core::DType::F64)?;
            out.push(-picked.mean_all()?.to_scalar::<f64>()?);
        }
    }
    Ok(out)
}
