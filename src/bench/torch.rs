//! The PyTorch side of `--against pytorch`: the reference script and the plan it measures.

use super::measurement::{BenchSettings, EVAL};
use crate::config::train::TrainSettings;
use crate::models::ModelSpec;
use crate::strategy::Strategy;
use anyhow::Result;

/// The PyTorch reference script, beside the sources it was built from, else under the current
/// folder (a copied checkout, as on the GPU machine).
pub(super) fn torch_script() -> std::path::PathBuf {
    let built =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/reference/torch_bench.py");
    if built.is_file() {
        built
    } else {
        "src/reference/torch_bench.py".into()
    }
}

/// What the PyTorch child needs to build the same measurement.
pub(super) fn torch_plan(
    model: &str,
    strategy: &str,
    b: &BenchSettings,
    threads: usize,
) -> Result<serde_json::Value> {
    let spec = ModelSpec::parse(model)?;
    let (name, trainable, lora) = if strategy == EVAL {
        (EVAL.to_string(), Vec::new(), None)
    } else {
        let strategy = Strategy::preset(strategy)?;
        let plan = crate::train::setup::plan_for(&spec.arch()?, &strategy, 0)?;
        (
            strategy.name.clone(),
            plan.trainable.into_iter().collect(),
            strategy.lora().cloned(),
        )
    };
    let (kind, location) = spec.for_reference()?;
    Ok(serde_json::json!({
        "strategy": name,
        "mode": if name == EVAL { "eval" } else { "train" },
        "model_kind": kind,
        "model_location": location,
        "trainable": trainable,
        "lora": lora,
        "batch_size": b.batch_size,
        "seq_len": b.seq_len,
        "steps": b.steps,
        "threads": threads,
        "device": b.device.to_string(),
        "settings": TrainSettings::default(),
    }))
}
