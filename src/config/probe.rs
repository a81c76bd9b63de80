//! The chat probe file (`ablations/probes/chat.toml`): instructions for an instruct model and how
//! many tokens of the base model's reply to score.

use std::path::Path;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::read_toml;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatProbe {
    /// The file's name, recorded as where the probe's "blocks" come from.
    #[serde(default)]
    pub file: String,
    pub instructions: Vec<String>,
    #[serde(default = "default_reply_tokens")]
    pub max_reply_tokens: usize,
}

fn default_reply_tokens() -> usize {
    24
}

impl ChatProbe {
    pub fn load(path: &Path) -> Result<Self> {
        let mut p: Self = read_toml(path)?;
        let file = path.display();
        if p.instructions.is_empty() || p.instructions.iter().any(|i| i.trim().is_empty()) {
            bail!("{file}: `instructions` must list at least one non-empty instruction")
        }
        if p.max_reply_tokens == 0 {
            bail!("{file}: `max_reply_tokens` must be at least 1")
        }
        p.file = super::datasets::file_name(path);
        Ok(p)
    }
}
