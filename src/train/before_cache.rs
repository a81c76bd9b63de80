//! The scores before training depend only on the model and the blocks: cached on disk, keyed by
//! both, and shared by every run of the grid that scores the same blocks.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Serialize, Deserialize)]
pub(super) struct CachedBefore {
    pub(super) nll: Vec<f64>,
    /// The chat probe's base replies (empty for corpora).
    #[serde(default)]
    pub(super) replies: Vec<Vec<u32>>,
}

pub(super) fn cache_read(cache: Option<&Path>, key: &str) -> Option<CachedBefore> {
    let text = std::fs::read_to_string(cache?.join(format!("{key}.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

pub(super) fn cache_write(cache: Option<&Path>, key: &str, value: &CachedBefore) -> Result<()> {
    let Some(dir) = cache else { return Ok(()) };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let f = dir.join(format!("{key}.json"));
    // Written under a temporary name and renamed: parallel shards may race on one key.
    let tmp = f.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_string(value)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &f).with_context(|| format!("cannot write {}", f.display()))
}

pub(super) fn key(parts: serde_json::Value) -> String {
    crate::models::fetch::sha256_hex(parts.to_string().as_bytes())
}
