//! Stable run ids: a hash of everything that determines a run's result, and nothing that
//! depends on the machine (no absolute paths).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::grid::RunConfig;
use crate::config::train::TrainSettings;
use crate::strategy::StrategySpec;

#[derive(Serialize)]
struct Identity<'a> {
    framework: &'a str,
    model: &'a str,
    dataset: &'a str,
    dataset_files: Vec<String>,
    eval_fraction: f64,
    seq_len: usize,
    eval_corpora: Vec<&'a str>,
    strategy: &'a str,
    strategy_spec: &'a StrategySpec,
    seed: u64,
    settings: &'a TrainSettings,
}

/// 12 hex digits of the SHA-256 of the run's resolved configuration.
pub fn run_id(run: &RunConfig, framework: &str) -> String {
    let id = Identity {
        framework,
        model: &run.model,
        dataset: &run.dataset.name,
        dataset_files: run
            .dataset
            .files
            .iter()
            .map(|f| {
                f.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            })
            .collect(),
        eval_fraction: run.dataset.eval_fraction,
        seq_len: run.dataset.seq_len,
        eval_corpora: run.eval_corpora.iter().map(|c| c.name.as_str()).collect(),
        strategy: &run.strategy,
        strategy_spec: &run.strategy_spec,
        seed: run.seed,
        settings: &run.settings,
    };
    let json = serde_json::to_string(&id).unwrap_or_default();
    let digest = Sha256::digest(json.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}
