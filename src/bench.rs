//! `ablate bench`: one training step per strategy at a fixed shape. Each measurement runs in a
//! fresh child process (`ablate bench --one STRATEGY`), so peak RSS and allocator state belong to
//! that strategy alone; strategies are interleaved (A B C A B C ...) and repeated, so this host's
//! minute-to-minute drift hits them alike; medians are reported. `--against pytorch` measures
//! the PyTorch reference (`src/reference/torch_bench.py`: same weights, shapes, trainable set,
//! AdamW settings and threads) beside each ablate measurement (A B, then B A on the next repeat),
//! and reports per strategy the ratio of each repeat's pair.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candle_core::{Device, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::device::DeviceSpec;
use crate::config::train::{OptimizerKind, TrainSettings};
use crate::eval::lm_loss;
use crate::measure::device_mem;
use crate::measure::hardware::{Hardware, framework_version};
use crate::measure::stats::median;
use crate::measure::{self, RSS_METHOD, alloc, rss};
use crate::models::{ModelSpec, ParamPlan};
use crate::nn::cpu_gemm::{Mat, product, product_into};
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

/// What the matrix products of a full fine-tuning step allow on this host: every linear (the
/// lm_head included) and the attention products, forward, dX and dW (3x the forward's FLOP),
/// each shape and layout timed alone on random data, with the same threads and the same kernels
/// as a step runs them: the linears as one product on all threads, the attention products one
/// (batch, head) per thread. The bound is optimistic: a shape timed in a loop finds its operands
/// in cache, where a step's stream from memory.
#[derive(Clone, Copy, Debug)]
pub struct ProductsBound {
    pub step_gflop: f64,
    /// GFLOP/s of the products alone.
    pub rate_gflops: f64,
}

impl ProductsBound {
    /// Tokens/s of a full step if nothing but the products took time.
    pub fn tokens_per_s(&self, tokens: usize) -> f64 {
        tokens as f64 * self.rate_gflops / self.step_gflop
    }
}

/// The pseudo-strategy that times the products-only bound of a full step (forward, dX and dW),
/// in each repeat right before `full`.
pub const PRODUCTS: &str = "products_only";

/// The pseudo-strategy that times the forward products alone, the bound of `eval`, in each
/// repeat right before it.
pub const PRODUCTS_FORWARD: &str = "products_forward";

/// The bound a pseudo-strategy times, if `name` is one: whether it is the forward pass alone.
pub fn bound_of(name: &str) -> Option<bool> {
    match name {
        PRODUCTS => Some(false),
        PRODUCTS_FORWARD => Some(true),
        _ => None,
    }
}

/// The pseudo-strategy that bounds `strategy`, timed right before it, if it has one.
pub fn bound_for(strategy: &str) -> Option<&'static str> {
    match strategy {
        "full" => Some(PRODUCTS),
        EVAL => Some(PRODUCTS_FORWARD),
        _ => None,
    }
}

/// The matrix products of a full step: linears (rows x in -> out, with their count) and the
/// attention products per layer.
struct ProductShapes {
    linears: std::collections::BTreeMap<(usize, usize), usize>,
    rows: usize,
    /// batch x heads products of (t x hd x t) and (t x t x hd) per layer.
    head_products: usize,
    t: usize,
    hd: usize,
    layers: usize,
}

impl ProductShapes {
    fn of(model: &ModelSpec, b: &BenchSettings) -> Result<Self> {
        use crate::models::{ArchConfig, WeightSet, build_lm};
        let arch = model.arch()?;
        let shapes = build_lm(
            &arch,
            &mut WeightSet::shapes_only("bench", ParamPlan::frozen()),
            &Device::Cpu,
        )?;
        let params = shapes.params();
        let has_head = params.iter().any(|p| p.name().contains("lm_head"));
        let mut linears: std::collections::BTreeMap<(usize, usize), usize> = Default::default();
        for p in &params {
            let n = p.name();
            let embedding = n.contains("embed_tokens") || n.contains("wte");
            let positions = n.contains("wpe") || n.contains("embed_positions");
            if let [out, inp] = p.tensor().dims() {
                // A table used by lookup is no product, unless it is the tied lm_head.
                if !positions && (!embedding || !has_head) {
                    *linears.entry((*out, *inp)).or_default() += 1;
                }
            }
        }
        let (heads, hidden, layers) = match &arch {
            ArchConfig::Llama(c) => (
                c.num_attention_heads,
                c.num_attention_heads * c.head_dim,
                c.num_hidden_layers,
            ),
            ArchConfig::GptNeo(c) => (c.num_heads, c.hidden_size, c.attention_layers.len()),
        };
        Ok(Self {
            linears,
            rows: b.batch_size * b.seq_len,
            head_products: b.batch_size * heads,
            t: b.seq_len,
            hd: hidden / heads,
            layers,
        })
    }

    fn step_gflop(&self) -> f64 {
        3.0 * self.forward_flop() / 1e9
    }

    fn forward_flop(&self) -> f64 {
        let linear: usize = self
            .linears
            .iter()
            .map(|(&(out, inp), &count)| count * 2 * self.rows * inp * out)
            .sum();
        let attention = self.layers * 2 * 2 * self.head_products * self.t * self.t * self.hd;
        (linear + attention) as f64
    }
}

/// GFLOP of matrix products in one full fine-tuning step: forward, dX and dW (3x the forward).
pub fn step_gflop(model: &ModelSpec, b: &BenchSettings) -> Result<f64> {
    Ok(ProductShapes::of(model, b)?.step_gflop())
}

/// The products of a full step (`forward_only`: of the forward pass), each shape timed alone on
/// this host with ablate's kernels and threads: the rate nothing else in a step could beat.
pub fn products_bound(
    model: &ModelSpec,
    b: &BenchSettings,
    forward_only: bool,
) -> Result<ProductsBound> {
    let shapes = ProductShapes::of(model, b)?;
    let (rows, t, hd) = (shapes.rows, shapes.t, shapes.hd);
    let dev = Device::Cpu;
    // The median of at least 9 runs and 0.3 s per shape: three runs caught the host's swings
    // (a bound below the full step it bounds, once in five repeats).
    let time = |f: &dyn Fn() -> Vec<f32>| -> Result<f64> {
        std::hint::black_box(f()); // warm
        let (mut v, start) = (Vec::new(), Instant::now());
        while v.len() < 9 || start.elapsed().as_secs_f64() < 0.3 {
            let t0 = Instant::now();
            std::hint::black_box(f());
            v.push(t0.elapsed().as_secs_f64());
        }
        Ok(median(&v).unwrap_or(f64::NAN))
    };
    let mut seconds = 0f64;
    let random = |n: usize| Tensor::randn(0f32, 1.0, n, &dev)?.to_vec1::<f32>();
    // Each linear's three products as a full step runs them (`nn::linear`): Y = X W^T,
    // dX = dY W and dW = dY^T X; their shapes and layouts differ and so may their rates.
    for (&(out, inp), &count) in &shapes.linears {
        let (x, w, dy) = (random(rows * inp)?, random(out * inp)?, random(rows * out)?);
        let y = time(&|| product(rows, out, inp, Mat::rows(&x, inp), Mat::cols(&w, inp)))?;
        seconds += count as f64 * y;
        if !forward_only {
            let dx = time(&|| product(rows, inp, out, Mat::rows(&dy, out), Mat::rows(&w, inp)))?;
            let dw = time(&|| product(out, inp, rows, Mat::cols(&dy, out), Mat::rows(&x, inp)))?;
            seconds += count as f64 * (dx + dw);
        }
    }
    // Per (batch, head), as `nn::attention` runs them, one head per task: forward S = Q K^T and
    // Y = P V; backward dV = P^T dY, dP = dY V^T, dQ = dS K and dK = dS^T Q.
    let n = shapes.head_products;
    let (q, k, p) = (random(n * t * hd)?, random(n * t * hd)?, random(n * t * t)?);
    let heads = |backward: bool| {
        let width = if backward {
            2 * t * hd + t * t + t * hd
        } else {
            t * t + t * hd
        };
        let mut out = vec![0f32; n * width];
        out.par_chunks_mut(width).enumerate().for_each(|(i, o)| {
            let (qi, ki, pi) = (&q[i * t * hd..], &k[i * t * hd..], &p[i * t * t..]);
            let (s, rest) = o.split_at_mut(t * t);
            if backward {
                let (dv, rest) = rest.split_at_mut(t * hd);
                let (dq, dk) = rest.split_at_mut(t * hd);
                let (dy, vi) = (Mat::rows(qi, hd), Mat::rows(ki, hd));
                product_into(dv, t, hd, t, false, Mat::cols(pi, t), dy);
                product_into(s, t, t, hd, false, dy, vi.transposed());
                product_into(dq, t, hd, t, false, Mat::rows(pi, t), Mat::rows(ki, hd));
                product_into(dk, t, hd, t, false, Mat::cols(pi, t), Mat::rows(qi, hd));
            } else {
                product_into(s, t, t, hd, false, Mat::rows(qi, hd), Mat::cols(ki, hd));
                product_into(rest, t, hd, t, false, Mat::rows(pi, t), Mat::rows(ki, hd));
            }
        });
        out
    };
    seconds += shapes.layers as f64 * time(&|| heads(false))?;
    if !forward_only {
        seconds += shapes.layers as f64 * time(&|| heads(true))?;
    }
    let step_gflop = if forward_only {
        shapes.forward_flop() / 1e9
    } else {
        shapes.step_gflop()
    };
    Ok(ProductsBound {
        step_gflop,
        rate_gflops: step_gflop / seconds,
    })
}

/// A products-only bound timed in this process, as a measurement row: its tokens/s is what a
/// full step (`forward_only`: an eval batch) would reach if nothing but its products took time.
pub fn measure_products(
    model: &ModelSpec,
    b: &BenchSettings,
    forward_only: bool,
) -> Result<BenchSample> {
    let bound = products_bound(model, b, forward_only)?;
    Ok(BenchSample {
        strategy: if forward_only {
            PRODUCTS_FORWARD
        } else {
            PRODUCTS
        }
        .into(),
        params_total: 0,
        params_trainable: 0,
        trainable_pct: 0.0,
        tokens_per_s: bound.tokens_per_s(b.batch_size * b.seq_len),
        peak_mem_bytes: None,
        peak_mem_method: if forward_only {
            "n/a: the matrix products of a forward pass alone, timed"
        } else {
            "n/a: the matrix products of a full step alone, timed"
        }
        .into(),
        peak_rss_bytes: None,
        framework: None,
        framework_version: None,
        threads: None,
        gemm: None,
    })
}

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
            peak_rss_method: if x.peak_rss_bytes.is_some() {
                RSS_METHOD.into()
            } else {
                "n/a".into()
            },
            batch_size: b.batch_size as u64,
            seq_len: b.seq_len as u64,
            steps: b.steps as u64,
            optimizer: format!("{:?}", b.optimizer).to_lowercase(),
            threads: x.threads.unwrap_or(threads),
            cpu_model: hw.cpu_model.clone(),
            cpus: hw.cpus,
            simd: hw.simd.clone(),
            gemm: x.gemm.clone().unwrap_or_else(|| hw.gemm.clone()),
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
    // `ablate bench --one NAME` with this run's settings.
    let one = |name: &str| {
        let mut cmd = Command::new(&exe);
        if let Some(t) = threads {
            cmd.arg("--threads").arg(t.to_string());
        }
        cmd.args(["bench", "--one", name, "--model", model])
            .args(["--batch", &b.batch_size.to_string()])
            .args(["--seq-len", &b.seq_len.to_string()])
            .args(["--steps", &b.steps.to_string()])
            .args(["--optimizer", &format!("{:?}", b.optimizer).to_lowercase()])
            .args(["--device", &b.device.to_string()]);
        cmd
    };
    let mut all = Vec::new();
    for rep in 0..b.repeats {
        for (i, s) in strategies.iter().enumerate() {
            let mut pair = vec![(one(s), format!("`{s}`"))];
            if let Some(plan) = plan_paths.get(i) {
                let mut torch = Command::new(&python);
                torch.arg(torch_script()).arg(plan);
                pair.push((
                    torch,
                    format!("`{s}` in PyTorch ({python}; set ABLATE_PYTHON)"),
                ));
                // A B on even repeats, B A on odd ones: whatever the first of a pair pays
                // (a cold page cache, a drifting clock) falls on both frameworks alike.
                if rep % 2 == 1 {
                    pair.reverse();
                }
            }
            // The bound right before ablate's full step (its forward half before eval), in
            // every repeat: the host's drift then hits both alike, and measurement over bound
            // pairs up repeat by repeat.
            if let Some(name) = bound_for(s).filter(|_| b.products_bound) {
                // ablate's command is second in a reversed pair.
                let at = usize::from(pair.len() == 2 && rep % 2 == 1);
                pair.insert(at, (one(name), format!("the products-only bound `{name}`")));
            }
            for (cmd, what) in pair {
                let sample = child(cmd, &what)?;
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
    paired(rows, (strategy, "candle"), (strategy, "pytorch"), metric)
}

/// Ratios of `metric`, repeat by repeat, between two (strategy, framework) measurements.
pub fn paired(
    rows: &[BenchRow],
    num: (&str, &str),
    den: (&str, &str),
    metric: impl Fn(&BenchRow) -> Option<f64>,
) -> Option<Ratio> {
    let of = |(strategy, fw): (&str, &str), rep: u64| {
        rows.iter()
            .find(|r| r.strategy == strategy && r.framework == fw && r.repeat == rep)
            .and_then(&metric)
    };
    let reps: std::collections::BTreeSet<u64> = rows.iter().map(|r| r.repeat).collect();
    let v: Vec<f64> = reps
        .into_iter()
        .filter_map(|rep| Some(of(num, rep)? / of(den, rep)?))
        .filter(|x| x.is_finite())
        .collect();
    Some(Ratio {
        median: median(&v)?,
        min: v.iter().copied().fold(f64::INFINITY, f64::min),
        max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}
