//! Hugging Face checkpoint folders: config.json + *.safetensors + tokenizer.json.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use candle_core::Device;
use tokenizers::Tokenizer;

use super::{ArchConfig, ChatTemplate, Checkpoint, check_vocab};

fn required(dir: &Path, name: &str) -> Result<PathBuf> {
    let p = dir.join(name);
    if !p.is_file() {
        bail!("missing model file {}", p.display())
    }
    Ok(p)
}

/// The folder's weight files, sorted (test fixtures keep reference outputs beside the weights).
pub(crate) fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list model folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .filter(|p| p.file_name().is_some_and(|n| n != "reference.safetensors"))
        .collect();
    files.sort();
    Ok(files)
}

pub fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    Tokenizer::from_file(path).map_err(|e| anyhow!("cannot read tokenizer {}: {e}", path.display()))
}

pub fn read(dir: &Path, device: &Device) -> Result<Checkpoint> {
    let arch = ArchConfig::from_hf_json(&required(dir, "config.json")?)?;
    let tok_path = required(dir, "tokenizer.json")?;
    let tokenizer = load_tokenizer(&tok_path)?;
    check_vocab(&tokenizer, &arch, &tok_path.display().to_string())?;

    let files = weight_files(dir)?;
    if files.is_empty() {
        bail!("missing model file: no *.safetensors in {}", dir.display())
    }
    let mut tensors = HashMap::new();
    for f in &files {
        let loaded = candle_core::safetensors::load(f, device)
            .with_context(|| format!("cannot read safetensors file {}", f.display()))?;
        tensors.extend(loaded);
    }
    let chat = chat_template(dir, &tokenizer)?;
    Ok(Checkpoint {
        arch,
        tensors,
        tokenizer,
        source: format!("Hugging Face folder {}", dir.display()),
        chat,
    })
}

/// `chat_template` and `eos_token` of tokenizer_config.json, where the folder has one.
fn chat_template(dir: &Path, tok: &Tokenizer) -> Result<Option<ChatTemplate>> {
    let p = dir.join("tokenizer_config.json");
    if !p.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", p.display()))?;
    let Some(template) = v["chat_template"].as_str() else {
        return Ok(None);
    };
    let eos = v["eos_token"]
        .as_str()
        .or_else(|| v["eos_token"]["content"].as_str());
    Ok(Some(ChatTemplate {
        template: template.to_string(),
        end_token: eos.and_then(|e| tok.token_to_id(e)),
    }))
}
