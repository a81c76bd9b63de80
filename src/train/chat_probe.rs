//! The chat probe: the base model's own greedy replies to the probe's instructions (generated once
//! per model and cached), scored as a corpus before, along and after training.

use super::before_cache::{CachedBefore, cache_read, cache_write, key};
use super::scoring::{EvalSet, EvalSource, Items};
use crate::config::probe::ChatProbe;
use crate::eval::chat::{encode_prompt, generate_replies, reply_nll};
use crate::models::Model;
use anyhow::{Result, bail};
use candle_core::Device;
use std::path::Path;

/// The chat probe for one model: scored (with the before scores and whether they came from the
/// cache), or skipped with the reason.
pub(super) enum ChatOutcome {
    Scored(EvalSet, Vec<f64>, bool),
    Skipped(String),
}

/// The chat probe's set: the base model's replies (generated, or from the cache) with their
/// before scores.
pub(super) fn chat_set(
    model: &Model,
    probe: &ChatProbe,
    model_sha256: &str,
    cache: Option<&Path>,
    batch: usize,
    device: &Device,
) -> Result<ChatOutcome> {
    let Some(template) = &model.chat else {
        return Ok(ChatOutcome::Skipped(format!(
            "chat probe {} skipped: the model has no chat template",
            probe.file
        )));
    };
    let prompts = probe
        .instructions
        .iter()
        .map(|i| encode_prompt(&model.tokenizer, template, i))
        .collect::<Result<Vec<_>>>()?;
    let max = model.arch().max_positions();
    if let Some((i, p)) = prompts
        .iter()
        .enumerate()
        .find(|(_, p)| p.len() + probe.max_reply_tokens > max)
    {
        bail!(
            "chat probe {}: instruction {} needs {} positions with its reply, the model has {max}",
            probe.file,
            i + 1,
            p.len() + probe.max_reply_tokens
        )
    }
    let k = key(serde_json::json!({
        "chat": model_sha256, "template": template.template, "instructions": probe.instructions,
        "max_reply_tokens": probe.max_reply_tokens, "batch": batch,
    }));
    let lm = model.lm.as_ref();
    let (replies, nll, cached) = match cache_read(cache, &k) {
        Some(c) if c.replies.len() == prompts.len() => (c.replies, c.nll, true),
        _ => {
            let replies = generate_replies(
                lm,
                &prompts,
                probe.max_reply_tokens,
                template.end_token,
                batch,
                device,
            )?;
            let pairs: Vec<_> = prompts
                .iter()
                .cloned()
                .zip(replies.iter().cloned())
                .collect();
            let nll = reply_nll(lm, &pairs, batch, device)?;
            cache_write(
                cache,
                &k,
                &CachedBefore {
                    nll: nll.clone(),
                    replies: replies.clone(),
                },
            )?;
            (replies, nll, false)
        }
    };
    let sha = key(serde_json::json!({ "instructions": probe.instructions }));
    let set = EvalSet {
        source: EvalSource {
            corpus: "chat".into(),
            sha256: sha,
            files: vec![probe.file.clone()],
            blocks: (0..prompts.len()).map(|i| (0, i)).collect(),
            tokens: replies.iter().map(Vec::len).collect(),
        },
        items: Items::Chat(prompts.into_iter().zip(replies).collect()),
    };
    Ok(ChatOutcome::Scored(set, nll, cached))
}
