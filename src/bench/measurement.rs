//! One measurement in this process: a training step per strategy, or forward-only evaluation,
//! with its peak memory; and how the parent reads one back from a child.

use crate::config::device::DeviceSpec;
use crate::config::train::{OptimizerKind, TrainSettings};
use crate::eval::lm_loss;
use crate::measure::device_mem;
use crate::measure::{self, alloc, rss};
use crate::models::{ModelSpec, ParamPlan};
use crate::strategy::Strategy;
use crate::train::{Accounting, build_for_strategy, train};
use anyhow::{Context, Result, bail};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::process::Command;
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct BenchSettings {
    pub batch_size: usize,
    pub seq_len: usize,
    /// Timed steps per measurement (after one untimed warm-up step).
    pub steps: usize,
    pub repeats: usize,
    pub optimizer: OptimizerKind,
    pub device: DeviceSpec,
    /// Also measure the PyTorch reference, interleaved.
    pub against_pytorch: bool,
    /// Also time the products-only bounds in each repeat, just before `full` and `eval`.
    pub products_bound: bool,
}

/// One measurement, as a child process prints it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchSample {
    pub strategy: String,
    pub params_total: usize,
    pub params_trainable: usize,
    pub trainable_pct: f64,
    pub tokens_per_s: f64,
    /// Peak heap on the CPU, peak memory-pool use on a GPU.
    pub peak_mem_bytes: Option<usize>,
    pub peak_mem_method: String,
    pub peak_rss_bytes: Option<u64>,
    /// None: ablate (candle); the reference says "pytorch" and its versions.
    #[serde(default)]
    pub framework: Option<String>,
    #[serde(default)]
    pub framework_version: Option<String>,
    #[serde(default)]
    pub threads: Option<u64>,
    /// The reference's own matrix backend; None: this build's (the `gemm` column).
    #[serde(default)]
    pub gemm: Option<String>,
}

impl BenchSample {
    pub fn framework(&self) -> &str {
        self.framework.as_deref().unwrap_or("candle")
    }
}

/// Medians over the repeats of one strategy in one framework.
#[derive(Clone, Debug)]
pub struct BenchMedian {
    pub strategy: String,
    pub framework: String,
    pub trainable_pct: f64,
    pub tokens_per_s: f64,
    pub step_s: f64,
    pub peak_mem_bytes: Option<usize>,
    pub peak_rss_bytes: Option<u64>,
}

/// The pseudo-strategy that measures forward-only evaluation (loss, no gradients) of the
/// frozen model: what perplexity, probes and curves cost; PyTorch runs it under no_grad.
pub const EVAL: &str = "eval";

/// Seeded random ids: one warm-up batch, then `steps` timed ones.
fn random_blocks(model: &ModelSpec, b: &BenchSettings) -> Result<Vec<Vec<u32>>> {
    let vocab = model.arch()?.vocab_size();
    Ok(crate::data::random::random_blocks(
        vocab,
        b.batch_size * (b.steps + 1),
        b.seq_len,
    ))
}

/// Forward-only evaluation in this process: the loss of a warm-up batch, then of `steps` timed
/// batches, every weight frozen (nothing is recorded for backward).
pub fn measure_eval(model: &ModelSpec, b: &BenchSettings, device: &Device) -> Result<BenchSample> {
    let blocks = random_blocks(model, b)?;
    let m = model.read(device)?.build(device, ParamPlan::frozen())?;
    let acc = Accounting::from_model(m.lm.as_ref())?;
    measure::reset_peaks(device)?;
    let mut timed = Vec::new();
    for (i, batch) in blocks.chunks(b.batch_size).enumerate() {
        let t0 = Instant::now();
        let ids = Tensor::from_vec(batch.concat(), (batch.len(), b.seq_len), device)?;
        lm_loss(m.lm.as_ref(), &ids)?.to_scalar::<f32>()?;
        if i > 0 {
            timed.push(t0.elapsed().as_secs_f64());
        }
    }
    let (peak_mem_bytes, peak_mem_method) =
        measure::peak_memory(device, alloc::peak_bytes(), device_mem::peak(device)?);
    Ok(BenchSample {
        strategy: EVAL.into(),
        params_total: acc.total,
        params_trainable: 0,
        trainable_pct: 0.0,
        tokens_per_s: (timed.len() * b.batch_size * b.seq_len) as f64 / timed.iter().sum::<f64>(),
        peak_mem_bytes,
        peak_mem_method,
        peak_rss_bytes: rss::peak_rss_bytes(),
        framework: None,
        framework_version: None,
        threads: None,
        gemm: None,
    })
}

/// Measure one strategy in this process: a warm-up step, then `steps` timed steps on random ids.
pub fn measure_one(
    model: &ModelSpec,
    strategy: &Strategy,
    b: &BenchSettings,
    device: &Device,
) -> Result<BenchSample> {
    let blocks = random_blocks(model, b)?;
    let settings = TrainSettings {
        steps: b.steps + 1,
        batch_size: b.batch_size,
        measure_skip_steps: 1,
        warmup_steps: 0,
        optimizer: b.optimizer,
        ..TrainSettings::default()
    };
    let m = build_for_strategy(&model.read(device)?, strategy, 0, device)?;
    let acc = Accounting::from_model(m.lm.as_ref())?;
    let r = train(m.lm.as_ref(), blocks, &settings, device, |_| {})?;
    Ok(BenchSample {
        strategy: strategy.name.clone(),
        params_total: acc.total,
        params_trainable: acc.trainable,
        trainable_pct: 100.0 * acc.ratio(),
        tokens_per_s: r.tokens_per_s,
        peak_mem_bytes: r.peak_mem_bytes,
        peak_mem_method: r.peak_mem_method,
        peak_rss_bytes: r.peak_rss_bytes,
        framework: None,
        framework_version: None,
        threads: None,
        gemm: None,
    })
}

/// One child process's measurement, parsed from the JSON line it prints.
pub(super) fn child(mut cmd: Command, what: &str) -> Result<BenchSample> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run the bench child for {what}"))?;
    if !out.status.success() {
        bail!(
            "bench of {what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line.trim())
        .with_context(|| format!("bench child of {what} printed `{text}`"))
}
