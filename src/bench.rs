//! `ablate bench`: one training step per strategy at a fixed shape. Each measurement runs in a
//! fresh child process (`ablate bench --one STRATEGY`), so peak RSS and allocator state belong to
//! that strategy alone; strategies are interleaved (A B C A B C ...) and repeated, so this host's
//! minute-to-minute drift hits them alike; medians are reported. `--against pytorch` measures
//! the PyTorch reference (`src/reference/torch_bench.py`: same weights, shapes, trainable set,
//! AdamW settings and threads) right after each ablate measurement (A B A B ...), and reports
//! per strategy the ratio of each repeat's pair.

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
use crate::measure::{GPU_UNMEASURED, HEAP_METHOD, RSS_METHOD};
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
    /// Also measure the PyTorch reference, interleaved.
    pub against_pytorch: bool,
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
        peak_mem_bytes: match (device, r.peak_device) {
            (Device::Cpu, _) => r.peak_heap_bytes,
            (_, p) => p.map(|p| p.used_bytes as usize),
        },
        peak_mem_method: match (device, r.peak_device) {
            (Device::Cpu, _) => HEAP_METHOD.into(),
            (_, p) => p.map_or_else(|| GPU_UNMEASURED.into(), |p| p.method()),
        },
        peak_rss_bytes: r.peak_rss_bytes,
        framework: None,
        framework_version: None,
        threads: None,
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
            framework: x.framework().into(),
            framework_version: x
                .framework_version
                .clone()
                .unwrap_or_else(framework_version),
            git_rev: env!("ABLATE_GIT_REV").into(),
            params_total: x.params_total as u64,
            params_trainable: x.params_trainable as u64,
            trainable_ratio: x.trainable_pct / 100.0,
            tokens_per_s: x.tokens_per_s,
            step_s: (b.batch_size * b.seq_len) as f64 / x.tokens_per_s,
            peak_mem_bytes: x.peak_mem_bytes.map(|v| v as u64),
            peak_mem_method: x.peak_mem_method.clone(),
            peak_rss_bytes: x.peak_rss_bytes,
            peak_rss_method: RSS_METHOD.into(),
            batch_size: b.batch_size as u64,
            seq_len: b.seq_len as u64,
            steps: b.steps as u64,
            optimizer: format!("{:?}", b.optimizer).to_lowercase(),
            threads: x.threads.unwrap_or(threads),
            cpu_model: hw.cpu_model.clone(),
            cpus: hw.cpus,
            simd: hw.simd.clone(),
            gemm: hw.gemm.clone(),
            device: Some(b.device.to_string()),
            mem_total_bytes: hw.mem_total_bytes,
        })
        .collect()
}

/// One child process's measurement, parsed from the JSON line it prints.
fn child(mut cmd: Command, what: &str) -> Result<BenchSample> {
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

/// The PyTorch reference script, beside the sources it was built from, else under the current
/// folder (a copied checkout, as on the GPU machine).
fn torch_script() -> std::path::PathBuf {
    let built =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/reference/torch_bench.py");
    if built.is_file() {
        built
    } else {
        "src/reference/torch_bench.py".into()
    }
}

/// What the PyTorch child needs to build the same measurement.
fn torch_plan(
    model: &str,
    strategy: &str,
    b: &BenchSettings,
    threads: usize,
) -> Result<serde_json::Value> {
    let spec = ModelSpec::parse(model)?;
    let strategy = crate::strategy::Strategy::preset(strategy)?;
    let trainable: Vec<String> = crate::train::setup::plan_for(&spec.arch()?, &strategy, 0)?
        .trainable
        .into_iter()
        .collect();
    let (kind, location) = spec.for_reference()?;
    let device = match b.device {
        DeviceSpec::Cpu => "cpu".to_string(),
        DeviceSpec::Cuda(n) => format!("cuda:{n}"),
    };
    Ok(serde_json::json!({
        "strategy": strategy.name,
        "model_kind": kind,
        "model_location": location,
        "trainable": trainable,
        "lora": strategy.lora(),
        "batch_size": b.batch_size,
        "seq_len": b.seq_len,
        "steps": b.steps,
        "threads": threads,
        "device": device,
        "settings": TrainSettings::default(),
    }))
}

/// Run every (repeat, strategy[, framework]) measurement in a child process (`exe bench --one
/// ...`, or the PyTorch script right after it); returns the medians per strategy and framework
/// and every measurement as a row.
pub fn bench(
    model: &str,
    strategies: &[String],
    b: &BenchSettings,
    threads: Option<usize>,
    mut progress: impl FnMut(&BenchSample, usize),
) -> Result<(Vec<BenchMedian>, Vec<BenchRow>)> {
    let exe = std::env::current_exe().context("cannot find the ablate executable")?;
    let n_threads = threads.unwrap_or_else(rayon::current_num_threads);
    let python = std::env::var("ABLATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let plans = std::env::temp_dir().join(format!("ablate-bench-{}", std::process::id()));
    let mut plan_paths = Vec::new();
    if b.against_pytorch {
        std::fs::create_dir_all(&plans)
            .with_context(|| format!("cannot create {}", plans.display()))?;
        for s in strategies {
            let path = plans.join(format!("{s}.json"));
            std::fs::write(
                &path,
                serde_json::to_vec(&torch_plan(model, s, b, n_threads)?)?,
            )?;
            plan_paths.push(path);
        }
    }
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
            let sample = child(cmd, &format!("`{s}`"))?;
            progress(&sample, rep);
            all.push((rep, sample));
            if let Some(plan) = plan_paths.get(i) {
                let mut cmd = Command::new(&python);
                cmd.arg(torch_script()).arg(plan);
                let sample = child(
                    cmd,
                    &format!("`{s}` in PyTorch ({python}; set ABLATE_PYTHON)"),
                )?;
                progress(&sample, rep);
                all.push((rep, sample));
            }
        }
    }
    if b.against_pytorch {
        std::fs::remove_dir_all(&plans).ok();
    }
    let rows = rows(model, b, &all);
    let tokens = (b.batch_size * b.seq_len) as f64;
    let mut medians = Vec::new();
    for name in strategies {
        for fw in ["candle", "pytorch"] {
            let v: Vec<&BenchSample> = all
                .iter()
                .map(|(_, x)| x)
                .filter(|x| &x.strategy == name && x.framework() == fw)
                .collect();
            if v.is_empty() {
                continue;
            }
            let step: Vec<f64> = v.iter().map(|x| tokens / x.tokens_per_s).collect();
            let mem: Vec<f64> = v
                .iter()
                .filter_map(|x| x.peak_mem_bytes.map(|b| b as f64))
                .collect();
            let rss: Vec<f64> = v
                .iter()
                .filter_map(|x| x.peak_rss_bytes.map(|r| r as f64))
                .collect();
            let step_s = median(&step).unwrap_or(f64::NAN);
            medians.push(BenchMedian {
                strategy: name.clone(),
                framework: fw.into(),
                trainable_pct: v.first().map_or(0.0, |x| x.trainable_pct),
                tokens_per_s: tokens / step_s,
                step_s,
                peak_mem_bytes: median(&mem).map(|x| x as usize),
                peak_rss_bytes: median(&rss).map(|x| x as u64),
            });
        }
    }
    Ok((medians, rows))
}

/// ablate over PyTorch for one strategy: the median and range of each repeat's paired ratio.
#[derive(Clone, Debug, PartialEq)]
pub struct Ratio {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// Paired ratios (ablate / PyTorch, repeat by repeat) of `metric` for `strategy` in bench rows.
pub fn paired_ratio(
    rows: &[BenchRow],
    strategy: &str,
    metric: impl Fn(&BenchRow) -> Option<f64>,
) -> Option<Ratio> {
    let of = |fw: &str, rep: u64| {
        rows.iter()
            .find(|r| r.strategy == strategy && r.framework == fw && r.repeat == rep)
            .and_then(&metric)
    };
    let reps: std::collections::BTreeSet<u64> = rows.iter().map(|r| r.repeat).collect();
    let v: Vec<f64> = reps
        .into_iter()
        .filter_map(|rep| Some(of("candle", rep)? / of("pytorch", rep)?))
        .filter(|x| x.is_finite())
        .collect();
    Some(Ratio {
        median: median(&v)?,
        min: v.iter().copied().fold(f64::INFINITY, f64::min),
        max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}
