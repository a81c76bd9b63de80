//! The reference experiment's claims, each judged from the rows: the evidence (an estimate with
//! its 95% interval, and how it was made) and a verdict from the rule in `rules`, fixed before
//! the data. Nothing here is written by hand. Claims on one learning rate per strategy read each
//! cell's picked rate (`data`); forgetting reads the frontiers over every rate (`all`); latency
//! reads the latency rows.

mod claim;
mod forgetting;
mod latency;
mod stability;

use claim::claim;
pub use claim::{Claim, FROZEN};

pub use forgetting::{DatasetReading, reading as forgetting_reading};

use super::compare::{bench_paired_with_full, paired_with_full, pct_change};
use super::data::Results;
use super::rules::{self, Verdict};
use super::stats::{Interval, bootstrap_diff, t_interval};
use crate::measure::stats::mean;
use crate::models::ArchConfig;
use crate::strategy::Strategy;

/// GPT-Neo-125M's public config, the claim's own model, counted exactly from the config alone.
const GPT_NEO_125M: &str = include_str!("../../../ablations/configs/gpt-neo-125m/config.json");

/// `data`: the runs at each cell's picked rate; `all`: every run (the same where no sweep).
pub fn judge(data: &Results, all: &Results) -> Vec<Claim> {
    vec![
        trainable(data),
        memory(data),
        speed(data),
        stability::stability(data),
        forgetting::forgetting(all),
        style(data),
        latency::latency(all),
    ]
}

/// The frozen strategy's trainable share on GPT-Neo-125M, from its config.
fn gpt_neo_ratio() -> Option<f64> {
    let arch = ArchConfig::from_hf_str(GPT_NEO_125M).ok()?;
    let strategy = Strategy::preset(FROZEN).ok()?;
    crate::train::plan_accounting(&arch, &strategy)
        .ok()
        .map(|a| a.ratio())
}

fn trainable(data: &Results) -> Claim {
    let c = "1. Freezing attention and embeddings leaves about half of the parameters trainable (~65M of ~125M, ~52%).";
    let neo = gpt_neo_ratio();
    let here = data
        .across_datasets(FROZEN, "trainable_ratio")
        .map(|r| r.mean);
    let model = data.runs.first().map_or("", |r| r.model.as_str());
    let mut measured = match neo {
        Some(r) => format!(
            "GPT-Neo-125M (the claim's model, counted from its config): {:.1}% trainable",
            100.0 * r
        ),
        None => "GPT-Neo-125M config unreadable".into(),
    };
    if let Some(h) = here {
        measured.push_str(&format!(
            "; {model} here: {:.1}% ({})",
            100.0 * h,
            rules::trainable(Some(h)).text()
        ));
    }
    claim(c, rules::TRAINABLE_RULE, measured, rules::trainable(neo))
}

const BENCH_PAIRS: &str = "interleaved bench repeats";

/// Per-pair relative change of `metric`, frozen against full, in percent (`sign` +1: rise is
/// positive, -1: fall is positive). Pairs come from interleaved bench repeats where there are
/// any, else from runs with the same dataset and seed.
fn paired_change(data: &Results, metric: &str, bench: bool, sign: f64) -> (Vec<f64>, &'static str) {
    let change = |frozen: f64, full: f64| sign * pct_change(frozen, full);
    if bench && !data.evidence.bench.is_empty() {
        let pick = |cell: &(f64, Option<f64>)| {
            if metric == "tokens_per_s" {
                Some(cell.0)
            } else {
                cell.1
            }
        };
        return (
            bench_paired_with_full(data, FROZEN, pick, change),
            BENCH_PAIRS,
        );
    }
    let v = data
        .datasets
        .iter()
        .flat_map(|d| paired_with_full(data, d, FROZEN, |r| r.get(metric), change))
        .collect();
    (v, "grid runs (dataset x seed), run one after another")
}

fn describe(v: &[f64], i: Option<&Interval>, over: &str, unit: &str) -> String {
    match i {
        Some(i) => i.show(1, unit, over),
        None if v.len() == 1 => format!(
            "{:+.1}{unit} from a single pair ({over}): no interval",
            v[0]
        ),
        None => format!("no full / {FROZEN} pair in {over}"),
    }
}

fn memory(data: &Results) -> Claim {
    let c = "2. Peak (GPU) memory falls by 25-30% against full fine-tuning.";
    let (v, over) = paired_change(data, "peak_mem_bytes", true, -1.0);
    let i = t_interval(&v);
    let shown = describe(&v, i.as_ref(), over, "%");
    let measured = if on_gpu(data, over == BENCH_PAIRS) {
        format!("peak GPU memory saving {shown} (high-water mark of the device's memory pool)")
    } else {
        format!(
            "peak heap saving {shown} (CPU heap, not GPU memory: a GPU run settles the claim as stated)"
        )
    };
    claim(c, rules::MEMORY_RULE, measured, rules::memory(i.as_ref()))
}

/// Whether the memory figures are GPU memory: every bench row (or every full / frozen run)
/// ran on a CUDA device.
fn on_gpu(data: &Results, from_bench: bool) -> bool {
    let devices: Vec<&str> = if from_bench {
        data.evidence
            .bench_devices
            .iter()
            .map(String::as_str)
            .collect()
    } else {
        data.datasets
            .iter()
            .flat_map(|d| data.ok_runs(d, "full").chain(data.ok_runs(d, FROZEN)))
            .map(|r| r.device.as_str())
            .collect()
    };
    !devices.is_empty() && devices.iter().all(|d| d.starts_with("cuda"))
}

fn speed(data: &Results) -> Claim {
    let c = "3. Training gets slightly faster.";
    // Speed is read from interleaved repeats only: grid runs ran one after another, under
    // whatever else the host did meanwhile (a heap peak does not depend on that; a time does).
    if data.evidence.bench.is_empty() {
        return claim(
            c,
            rules::SPEED_RULE,
            "no interleaved bench rows (`ablate bench --results DIR`): the grid runs' tokens/s, run one after another, are not compared".into(),
            Verdict::CannotBeJudged,
        );
    }
    let (v, over) = paired_change(data, "tokens_per_s", true, 1.0);
    let i = t_interval(&v);
    let measured = format!("tokens/s speed-up {}", describe(&v, i.as_ref(), over, "%"));
    claim(c, rules::SPEED_RULE, measured, rules::speed(i.as_ref()))
}

fn style(data: &Results) -> Claim {
    let c = "6. The fine-tuned model takes on the style (read the samples below).";
    let mut evidence = Vec::new();
    let mut parts = Vec::new();
    for d in &data.datasets {
        let runs: Vec<_> = data.ok_runs(d, FROZEN).collect();
        let change = |id: &str, corpus: &str| {
            data.evidence
                .block_changes
                .get(&(id.to_string(), corpus.to_string()))
        };
        // Gain beyond the control = (control's NLL change) - (own NLL change), in nats.
        let per_seed: Vec<f64> = runs
            .iter()
            .filter_map(|r| {
                let (o, g) = (change(&r.run_id, d)?, change(&r.run_id, "general")?);
                Some(mean(g)? - mean(o)?)
            })
            .collect();
        let i = if per_seed.len() >= 2 {
            t_interval(&per_seed)
        } else {
            runs.first().and_then(|r| {
                let (o, g) = (change(&r.run_id, d)?, change(&r.run_id, "general")?);
                bootstrap_diff(g, o)
            })
        };
        match i {
            Some(i) => {
                parts.push(format!("{d}: {}", i.show(3, " nats", "seeds")));
                evidence.push(i);
            }
            None => parts.push(format!(
                "{d}: no per-block NLL for the style and the control"
            )),
        }
    }
    let verdict = if evidence.len() < data.datasets.len() {
        Verdict::CannotBeJudged
    } else {
        rules::style(&evidence)
    };
    let measured = format!(
        "own-style NLL gain beyond the near-domain control (general): {}",
        parts.join("; ")
    );
    claim(c, rules::STYLE_RULE, measured, verdict)
}
