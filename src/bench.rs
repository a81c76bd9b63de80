//! `ablate bench`: one training step per strategy at a fixed shape. Each measurement runs in a
//! fresh child process (`ablate bench --one STRATEGY`), so peak RSS and allocator state belong to
//! that strategy alone; strategies are interleaved (A B C A B C ...) and repeated, so this host's
//! minute-to-minute drift hits them alike; medians are reported.

use std::process::Command;

use anyhow::{Context, Result, bail};
use candle_core::Device;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::config::device::DeviceSpec;
use crate::config::train::{OptimizerKind, TrainSettings};
use crate::measure::hardware::{Hardware, framework_version};
use crate::measure::stats::median;
use crate::measure::{HEAP_METHOD, RSS_METHOD};
use crate::models::ModelSpec;
use crate::results::BenchRow;
use crate::strategy::Strategy;
use crate::train::{Accounting, build_for_strategy, train};

#[derive(Clone, Debug)]
pub struct BenchSettings {
    pub batch_size: usize,
    pub seq_len: usize,
    /// Timed steps per measurement (after one untimed warm-up step).
    pub steps: usize,
    pub repeats: usize,
    pub optimizer: OptimizerKind,
    pub device: DeviceSpec,
}

/// One measurement, as a child process prints it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchSample {
    pub strategy: String,
    pub params_total: usize,
    pub params_trainable: usize,
    pub trainable_pct: f64,
    pub tokens_per_s: f64,
    pub peak_heap_bytes: Option<usize>,
    pub peak_rss_bytes: Option<u64>,
}

/// Medians over the repeats of one strategy.
#[derive(Clone, Debug)]
pub struct BenchMedian {
    pub strategy: String,
    pub trainable_pct: f64,
    pub tokens_per_s: f64,
    pub step_s: f64,
    pub peak_heap_bytes: Option<usize>,
    pub peak_rss_bytes: Option<u64>,
}

/// Measure one strategy in this process: a warm-up step, then `steps` timed steps on random ids.
pub fn measure_one(
    model: &ModelSpec,
    strategy: &Strategy,
    b: &BenchSettings,
    device: &Device,
) -> Result<BenchSample> {
    let vocab = model.arch()?.vocab_size() as u32;
    let mut rng = StdRng::seed_from_u64(0);
    let blocks: Vec<Vec<u32>> = (0..b.batch_size * (b.steps + 1))
        .map(|_| (0..b.seq_len).map(|_| rng.random_range(0..vocab)).collect())
        .collect();
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
        peak_heap_bytes: r.peak_heap_bytes,
        peak_rss_bytes: r.peak_rss_bytes,
    })
}

/// Every measurement as a result row, with the settings and the machine.
fn rows(model: &str, b: &BenchSettings, samples: &[(usize, BenchSample)]) -> Vec<BenchRow> {
    let started = chrono::Utc::now().to_rfc3339();
    let hw = Hardware::detect();
    let threads = rayon::current_num_threads() as u64;
    let bench_id = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        crate::models::fetch::sha256_hex(format!("{model}{b:?}{started}").as_bytes())
            .get(..8)
            .unwrap_or_default()
    );
    samples
        .iter()
        .map(|(rep, x)| BenchRow {
            bench_id: bench_id.clone(),
            started_at: started.clone(),
            model: model.to_string(),
            strategy: x.strategy.clone(),
            repeat: *rep as u64,
            framework: "candle".into(),
            framework_version: framework_version(),
            git_rev: env!("ABLATE_GIT_REV").into(),
            params_total: x.params_total as u64,
            params_trainable: x.params_trainable as u64,
            trainable_ratio: x.trainable_pct / 100.0,
            tokens_per_s: x.tokens_per_s,
            step_s: (b.batch_size * b.seq_len) as f64 / x.tokens_per_s,
            peak_mem_bytes: x.peak_heap_bytes.map(|v| v as u64),
            peak_mem_method: HEAP_METHOD.into(),
            peak_rss_bytes: x.peak_rss_bytes,
            peak_rss_method: RSS_METHOD.into(),
            batch_size: b.batch_size as u64,
            seq_len: b.seq_len as u64,
            steps: b.steps as u64,
            optimizer: format!("{:?}", b.optimizer).to_lowercase(),
            threads,
            cpu_model: hw.cpu_model.clone(),
            cpus: hw.cpus,
            simd: hw.simd.clone(),
            gemm: hw.gemm.clone(),
            device: Some(b.device.to_string()),
            mem_total_bytes: hw.mem_total_bytes,
        })
        .collect()
}

/// Run every (repeat, strategy) measurement in a child process `exe bench --one ...`; returns
/// the medians per strategy and every measurement as a row.
pub fn bench(
    model: &str,
    strategies: &[String],
    b: &BenchSettings,
    threads: Option<usize>,
    mut progress: impl FnMut(&BenchSample, usize),
) -> Result<(Vec<BenchMedian>, Vec<BenchRow>)> {
    let exe = std::env::current_exe().context("cannot find the ablate executable")?;
    let mut samples: Vec<Vec<BenchSample>> = vec![Vec::new(); strategies.len()];
    let mut all = Vec::new();
    for rep in 0..b.repeats {
        for (i, s) in strategies.iter().enumerate() {
            let mut cmd = Command::new(&exe);
            if let Some(t) = threads {
                cmd.arg("--threads").arg(t.to_string());
            }
            cmd.args(["bench", "--one", s, "--model", model])
                .args(["--batch", &b.batch_size.to_string()])
                .args(["--seq-len", &b.seq_len.to_string()])
                .args(["--steps", &b.steps.to_string()])
                .args(["--optimizer", &format!("{:?}", b.optimizer).to_lowercase()])
                .args(["--device", &b.device.to_string()]);
            let out = cmd.output().context("cannot run a bench child process")?;
            if !out.status.success() {
                bail!(
                    "bench of `{s}` failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            }
            let line = String::from_utf8_lossy(&out.stdout);
            let sample: BenchSample = serde_json::from_str(line.trim())
                .with_context(|| format!("bench child printed `{line}`"))?;
            progress(&sample, rep);
            all.push((rep, sample.clone()));
            samples[i].push(sample);
        }
    }
    let rows = rows(model, b, &all);
    let medians = samples
        .into_iter()
        .zip(strategies)
        .map(|(v, name)| {
            let tps: Vec<f64> = v.iter().map(|x| x.tokens_per_s).collect();
            let step: Vec<f64> = tps
                .iter()
                .map(|t| (b.batch_size * b.seq_len) as f64 / t)
                .collect();
            let heap: Vec<f64> = v
                .iter()
                .filter_map(|x| x.peak_heap_bytes.map(|b| b as f64))
                .collect();
            let rss: Vec<f64> = v
                .iter()
                .filter_map(|x| x.peak_rss_bytes.map(|r| r as f64))
                .collect();
            let step_s = median(&step).unwrap_or(f64::NAN);
            BenchMedian {
                strategy: name.clone(),
                trainable_pct: v.first().map_or(0.0, |x| x.trainable_pct),
                tokens_per_s: (b.batch_size * b.seq_len) as f64 / step_s,
                step_s,
                peak_heap_bytes: median(&heap).map(|x| x as usize),
                peak_rss_bytes: median(&rss).map(|x| x as u64),
            }
        })
        .collect();
    Ok((medians, rows))
}
