//! What a command line names, looked up: a dataset (catalog name, or a file or folder given
//! directly), a strategy (preset, or defined in a file); and byte counts as printed.

use std::path::Path;

use ablate::config::datasets::{Catalog, DatasetSpec};
use ablate::strategy::Strategy;
use anyhow::Result;

/// A dataset by catalog name, or a text file / folder given directly.
pub fn dataset(name: &str, catalog: &Path, seq_len: Option<usize>) -> Result<DatasetSpec> {
    let as_path = Path::new(name);
    let mut spec = if as_path.exists() {
        DatasetSpec::from_path(as_path, seq_len.unwrap_or(128))?
    } else {
        Catalog::load(catalog)?.get(name)?
    };
    if let Some(s) = seq_len {
        spec.seq_len = s;
    }
    Ok(spec)
}

/// A preset by name, or a strategy defined in `file` (`[custom_strategies.NAME]`).
pub fn strategy(name: &str, file: Option<&Path>) -> Result<Strategy> {
    if let Some(f) = file
        && let Some(spec) = ablate::config::load_custom_strategies(f)?.remove(name)
    {
        return Strategy::new(name, spec);
    }
    Strategy::preset(name)
}

/// Bytes as GB for a printout.
pub fn gb(bytes: Option<usize>) -> String {
    bytes.map_or("n/a".into(), |b| format!("{:.2} GB", b as f64 / 1e9))
}
