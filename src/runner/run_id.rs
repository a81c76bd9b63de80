//! Stable run ids: a hash of everything that determines a run's result (the configuration and the
//! content of the model and of every corpus), and nothing that depends on the machine (no
//! absolute paths). Changed data or weights mean new runs.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::device::DeviceSpec;
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
    chat_probe: Option<&'a crate::config::probe::ChatProbe>,
    /// Left out on the CPU, so CPU runs keep their ids.
    #[serde(skip_serializing_if = "DeviceSpec::is_cpu")]
    device: DeviceSpec,
    model_sha256: &'a str,
    /// (corpus, sha256 of its cleaned text), the trained corpus first.
    corpora_sha256: &'a [(String, String)],
}

/// 12 hex digits of the SHA-256 of the run's resolved configuration and content hashes.
pub fn run_id(
    run: &RunConfig,
    framework: &str,
    model_sha256: &str,
    corpora_sha256: &[(String, String)],
) -> String {
    let id = Identity {
        framework,
        model: &run.model,
        dataset: &run.dataset.name,
        dataset_files: run.dataset.file_names(),
        eval_fraction: run.dataset.eval_fraction,
        seq_len: run.dataset.seq_len,
        eval_corpora: run.eval_corpora.iter().map(|c| c.name.as_str()).collect(),
        strategy: &run.strategy,
        strategy_spec: &run.strategy_spec,
        seed: run.seed,
        settings: &run.settings,
        chat_probe: run.chat_probe.as_ref(),
        device: run.device,
        model_sha256,
        corpora_sha256,
    };
    let json = serde_json::to_string(&id).unwrap_or_default();
    let digest = Sha256::digest(json.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}
