//! Configuration files: schemas (serde + toml) and their validation.

pub mod datasets;
pub mod device;
pub mod grid;
pub mod probe;
pub mod train;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::strategy::{PRESETS, StrategySpec};

/// Parse a TOML file; the error names the file, and toml's message gives line, column and field.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Any TOML with `[custom_strategies.*]` tables (a grid file works too).
#[derive(Debug, Deserialize)]
struct StrategyFile {
    #[serde(default)]
    custom_strategies: BTreeMap<String, StrategySpec>,
}

/// Custom strategies from the `[custom_strategies.NAME]` tables of a TOML file.
pub fn load_custom_strategies(path: &Path) -> Result<BTreeMap<String, StrategySpec>> {
    let f: StrategyFile = read_toml(path)?;
    for name in f.custom_strategies.keys() {
        if PRESETS.contains(&name.as_str()) {
            anyhow::bail!(
                "{}: [custom_strategies.{name}] has the name of a built-in preset; choose another name",
                path.display()
            )
        }
    }
    Ok(f.custom_strategies)
}
