//! `ablate bench`: one training step per strategy at a fixed shape. Each measurement runs in a
//! fresh child process (`ablate bench --one STRATEGY`), so peak RSS and allocator state belong to
//! that strategy alone; strategies are interleaved (A B C A B C ...) and repeated, so this host's
//! minute-to-minute drift hits them alike; medians are reported. `--against pytorch` measures
//! the PyTorch reference (`src/reference/torch_bench.py`: same weights, shapes, trainable set,
//! AdamW settings and threads) beside each ablate measurement (A B, then B A on the next repeat),
//! and reports per strategy the ratio of each repeat's pair.
//!
//! Here the session (interleaving, children, rows); `measurement` one measurement, `bound` the
//! products-only bound, `torch` the PyTorch side, `paired` the paired ratios.

mod bound;
pub mod latency;
mod measurement;
mod paired;
mod torch;

use crate::measure::RSS_METHOD;
use crate::measure::hardware::{Hardware, framework_version};
use crate::measure::stats::median;
use crate::results::BenchRow;
use anyhow::{Context, Result};
use std::process::Command;

use measurement::child;
use torch::{torch_plan, torch_script};

pub use bound::{
    BoundReading, PRODUCTS, PRODUCTS_FORWARD, ProductsBound, bound_for, bound_of, bound_readings,
    measure_products, products_bound, step_gflop,
};
pub use measurement::{BenchMedian, BenchSample, BenchSettings, EVAL, measure_eval, measure_one};
pub use paired::{Ratio, paired, paired_ratio};

/// Every measurement as a result row, with the settings and the machine.
pub(super) fn rows(
    model: &str,
    b: &BenchSettings,
    samples: &[(usize, BenchSample)],
) -> Vec<BenchRow> {
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
