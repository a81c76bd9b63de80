//! Cost charts: trainable parameters by group, peak memory by part, training speed.

use super::panels::{
    Area, PARTS, Point, dot_panel, legend, over, parts_legend, point, sig3, stacked_panel,
    strategy_legend,
};
use crate::measure::stats::mean;
use crate::report::compare::{bench_paired_with_full, paired_with_full, pct_change};
use crate::report::data::{Results, Run};
use anyhow::Result;
use plotters::prelude::*;

/// The first ok run of a strategy (parameter counts are the same in every run of it).
fn any_run<'a>(data: &'a Results, s: &'a str) -> Option<&'a Run> {
    data.datasets.iter().find_map(|d| data.ok_runs(d, s).next())
}

pub(super) fn params<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let groups = ["embeddings", "attention", "mlp", "norms", "adapters"];
    let area = legend(
        root,
        "Trainable parameters per strategy, by group (millions)",
        &parts_legend(&groups),
    )?;
    let stacks: Vec<Option<Vec<f64>>> = data
        .strategies
        .iter()
        .map(|s| {
            let r = any_run(data, s)?;
            groups
                .iter()
                .map(|g| r.get(&format!("trainable_{g}")).map(|v| v / 1e6))
                .collect()
        })
        .collect();
    let labels: Vec<String> = data
        .strategies
        .iter()
        .map(|s| match any_run(data, s) {
            Some(r) => format!(
                "{:.2}M ({:.1}%)",
                r.get("params_trainable").unwrap_or(f64::NAN) / 1e6,
                100.0 * r.get("trainable_ratio").unwrap_or(f64::NAN)
            ),
            None => String::new(),
        })
        .collect();
    let total = data.runs.first().map(|r| r.params_total as f64 / 1e6);
    let caption = match total {
        Some(t) => format!("dashed line: all {t:.1}M parameters"),
        None => String::new(),
    };
    stacked_panel(
        &area,
        &data.strategies,
        &caption,
        "trainable parameters (millions)",
        &stacks,
        &PARTS,
        &labels,
        total,
        None,
    )
}

/// Mean over every ok run of a strategy (both datasets, every seed).
fn mean_over_runs(data: &Results, s: &str, metric: &str) -> Option<f64> {
    let v: Vec<f64> = data
        .datasets
        .iter()
        .flat_map(|d| data.values(d, s, metric))
        .collect();
    mean(&v)
}

pub(super) fn memory<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let parts = [
        ("weights", "mem_weights_bytes"),
        ("gradients", "mem_grads_bytes"),
        ("optimizer state", "mem_optimizer_bytes"),
        ("activations and work buffers", "mem_activations_bytes"),
    ];
    let names: Vec<&str> = parts.iter().map(|p| p.0).collect();
    let area = legend(
        root,
        "Peak live heap during training, by what holds it (GB; mean over runs)",
        &parts_legend(&names),
    )?;
    let stacks: Vec<Option<Vec<f64>>> = data
        .strategies
        .iter()
        .map(|s| {
            parts
                .iter()
                .map(|(_, m)| mean_over_runs(data, s, m).map(|v| v / 1e9))
                .collect()
        })
        .collect();
    let full: Option<f64> = data
        .strategies
        .iter()
        .position(|s| s == "full")
        .and_then(|i| stacks[i].as_ref())
        .map(|v| v.iter().sum());
    let labels: Vec<String> = data
        .strategies
        .iter()
        .zip(&stacks)
        .map(|(s, v)| match (v, full) {
            (Some(v), Some(f)) if s != "full" => {
                let t: f64 = v.iter().sum();
                format!("{} ({:+.1}%)", sig3(t), pct_change(t, f))
            }
            (Some(v), _) => sig3(v.iter().sum()),
            _ => String::new(),
        })
        .collect();
    let caption = if full.is_some() {
        "grey band: the claim, 25-30% below full's peak (counting allocator; CPU heap, not GPU memory)"
    } else {
        "counting allocator; no full run to compare with"
    };
    stacked_panel(
        &area,
        &data.strategies,
        caption,
        "peak live heap (GB)",
        &stacks,
        &PARTS,
        &labels,
        None,
        full.map(|f| (0.70 * f, 0.75 * f)),
    )
}

pub(super) fn throughput<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let bench = &data.evidence.bench;
    let source = if bench.is_empty() {
        "grid runs, paired by dataset and seed"
    } else {
        "ablate bench, interleaved repeats, paired by repeat"
    };
    let area = legend(
        root,
        &format!("Training speed, warm-up excluded ({source})"),
        &strategy_legend(data),
    )?;
    let panels = area.split_evenly((1, 2));
    // (tokens/s values, change against full in % per pair) per strategy.
    let per: Vec<(Vec<f64>, Vec<f64>)> = data
        .strategies
        .iter()
        .map(|s| {
            if bench.is_empty() {
                let tps = |r: &Run| r.get("tokens_per_s");
                let v = data
                    .datasets
                    .iter()
                    .flat_map(|d| data.values(d, s, "tokens_per_s"))
                    .collect();
                let c = data
                    .datasets
                    .iter()
                    .flat_map(|d| paired_with_full(data, d, s, tps, pct_change))
                    .collect();
                (v, c)
            } else {
                let v = bench
                    .iter()
                    .filter(|((bs, _), _)| bs == s)
                    .map(|(_, (tps, _))| *tps)
                    .collect();
                let c = bench_paired_with_full(data, s, |b| Some(b.0), pct_change);
                (v, c)
            }
        })
        .collect();
    let n = per.iter().map(|p| p.0.len()).max().unwrap_or(0);
    let what = if bench.is_empty() { "runs" } else { "repeats" };
    let points: Vec<Option<Point>> = per.iter().map(|p| point(&p.0)).collect();
    let labels: Vec<String> = points
        .iter()
        .map(|p| p.map_or(String::new(), |p| format!("{:.1}", p.mean)))
        .collect();
    dot_panel(
        &panels[0],
        data,
        &format!("tokens per second ({})", over(n, what)),
        "training tokens per second",
        &points,
        &labels,
        None,
    )?;
    let changes: Vec<Option<Point>> = data
        .strategies
        .iter()
        .zip(&per)
        .map(|(s, p)| if s == "full" { None } else { point(&p.1) })
        .collect();
    let labels: Vec<String> = data
        .strategies
        .iter()
        .zip(&changes)
        .map(|(s, p)| match p {
            _ if s == "full" => "reference".into(),
            Some(p) => format!("{:+.1}%", p.mean),
            None => String::new(),
        })
        .collect();
    dot_panel(
        &panels[1],
        data,
        &format!("change against full, paired ({})", over(n, what)),
        "tokens/s change against full (%)",
        &changes,
        &labels,
        Some(0.0),
    )
}
