//! Hub ids such as `EleutherAI/gpt-neo-125M`, for users with internet. Tests never use this.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Download config, tokenizer and weights into the hub cache; return the snapshot folder.
pub fn download(id: &str) -> Result<PathBuf> {
    let api = hf_hub::api::sync::Api::new().context("cannot start the Hugging Face hub client")?;
    let repo = api.model(id.to_string());
    let fetch = |name: &str| {
        repo.get(name)
            .with_context(|| format!("cannot download `{name}` of hub model `{id}`"))
    };
    let config = fetch("config.json")?;
    fetch("tokenizer.json")?;
    if fetch("model.safetensors").is_err() {
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
    Ok(config
        .parent()
        .context("hub cache path has no parent")?
        .to_path_buf())
}

/// Only the config, for parameter accounting without the weights.
pub fn download_config(id: &str) -> Result<PathBuf> {
    let api = hf_hub::api::sync::Api::new().context("cannot start the Hugging Face hub client")?;
    api.model(id.to_string())
        .get("config.json")
        .with_context(|| format!("cannot download `config.json` of hub model `{id}`"))
}
