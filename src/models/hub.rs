//! Hub ids such as `EleutherAI/gpt-neo-125M`, for users with internet. `HF_ENDPOINT` points the
//! client at a mirror and `HF_HOME` at its cache (as in huggingface_hub); tests serve a tiny model
//! from 127.0.0.1 that way (tests/it/hub.rs).

use std::path::PathBuf;

use anyhow::{Context, Result};
use hf_hub::api::sync::{ApiBuilder, ApiRepo};

fn repo(id: &str) -> Result<ApiRepo> {
    let api = ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .context("cannot start the Hugging Face hub client")?;
    Ok(api.model(id.to_string()))
}

/// Download config, tokenizer and weights into the hub cache; return the snapshot folder.
pub fn download(id: &str) -> Result<PathBuf> {
    let repo = repo(id)?;
    let fetch = |name: &str| {
        repo.get(name)
            .with_context(|| format!("cannot download `{name}` of hub model `{id}`"))
    };
    let config = fetch("config.json")?;
    fetch("tokenizer.json")?;
    match repo.get("model.safetensors") {
        Ok(_) => {}
        // Only a missing single file means "sharded": any other failure (a cut download, a
        // refused connection) is reported as it is.
        Err(e) if e.to_string().contains("status code 404") => {
            let index = fetch("model.safetensors.index.json")?;
            let text = std::fs::read_to_string(&index)?;
            let parsed: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("bad safetensors index {}", index.display()))?;
            let mut shards: Vec<String> = parsed["weight_map"]
                .as_object()
                .map(|m| {
                    m.values()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            shards.sort();
            shards.dedup();
            for s in shards {
                fetch(&s)?;
            }
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!("cannot download `model.safetensors` of hub model `{id}`")
            });
        }
    }
    Ok(config
        .parent()
        .context("hub cache path has no parent")?
        .to_path_buf())
}

/// Only the config, for parameter accounting without the weights.
pub fn download_config(id: &str) -> Result<PathBuf> {
    repo(id)?
        .get("config.json")
        .with_context(|| format!("cannot download `config.json` of hub model `{id}`"))
}
