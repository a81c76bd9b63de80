//! Configuration files: schemas (serde + toml) and their validation.

pub mod datasets;
pub mod grid;
pub mod strategy;
pub mod train;

use std::path::Path;

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;

/// Parse a TOML file; the error names the file, and toml's message gives line, column and field.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
