//! The results as the report needs them: every run (ok or failed), loss curves, and per
//! (dataset, strategy) means and standard deviations over seeds, aggregated with polars.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};
use polars::prelude::*;

pub use super::evidence::Evidence;
use super::evidence::load_evidence;
use super::experiment::runs_table;
pub use super::experiment::{Experiment, find};
use super::style;
use crate::results::Status;
use crate::results::frame::{numbers, strings_required};
use crate::results::schema::{ColumnKind, RUN_COLUMNS};
use crate::results::schema::{RunRow, read_runs};
use crate::results::store::read_table;

/// Metrics aggregated over seeds (derived ones are computed before grouping).
pub const METRICS: [&str; 14] = [
    "params_trainable",
    "trainable_ratio",
    "tokens_per_s",
    "step_ms_p50",
    "step_ms_p95",
    "eval_tokens_per_s",
    "peak_mem_bytes",
    "peak_rss_bytes",
    "ppl_before",
    "ppl_after",
    "final_loss",
    "d_own_pct",
    "d_cross_pct",
    "d_general_pct",
];

/// One run as the report reads it: its row, through the schema's reader, and every numeric
/// column (with the derived changes) by name.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub row: RunRow,
    /// Every numeric column by name (None where null).
    pub values: BTreeMap<String, Option<f64>>,
}

impl std::ops::Deref for Run {
    type Target = RunRow;
    fn deref(&self) -> &RunRow {
        &self.row
    }
}

impl Run {
    pub fn get(&self, metric: &str) -> Option<f64> {
        self.values.get(metric).copied().flatten()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

#[derive(Clone, Debug, Default)]
pub struct Results {
    pub runs: Vec<Run>,
    /// Loss curve per run id: (step, loss).
    pub curves: BTreeMap<String, Vec<(f64, f64)>>,
    pub datasets: Vec<String>,
    pub strategies: Vec<String>,
    /// (dataset, strategy) -> metric -> stat over ok runs.
    pub agg: BTreeMap<(String, String), BTreeMap<String, Stat>>,
    /// Human-readable notes on what is missing or failed.
    pub missing: Vec<String>,
    /// The same grid through other frameworks (the PyTorch reference), by framework name.
    pub references: Vec<(String, Results)>,
    /// Evidence tables the verdicts use (empty where the rows predate them).
    pub evidence: Evidence,
}

/// The numeric columns of the runs table, as the schema lists them (seed is an identity).
fn numeric_columns() -> impl Iterator<Item = &'static str> {
    RUN_COLUMNS
        .iter()
        .filter(|c| c.kind != ColumnKind::Str && c.name != "seed")
        .map(|c| c.name)
}

fn with_derived(df: DataFrame) -> LazyFrame {
    let own = ((col("ppl_after") / col("ppl_before") - lit(1.0)) * lit(100.0)).alias("d_own_pct");
    let cross = ((col("ppl_after_cross") / col("ppl_before_cross") - lit(1.0)) * lit(100.0))
        .alias("d_cross_pct");
    let general = ((col("ppl_after_general") / col("ppl_before_general") - lit(1.0)) * lit(100.0))
        .alias("d_general_pct");
    df.lazy().with_columns([own, cross, general])
}

impl Results {
    /// Every run below `root`, which must hold one experiment (one model, one grid) unless
    /// `mix_experiments` pools them; ablate's own (candle) rows are the report's subject, other
    /// frameworks' rows become `references`.
    pub fn load(root: &Path, mix_experiments: bool) -> Result<Self> {
        match find(&[root.to_path_buf()], mix_experiments)?.as_slice() {
            [one] => Self::load_only(one, None),
            [] => bail!("no runs under {}", root.display()),
            several => {
                let models: Vec<String> = several.iter().map(Experiment::folder).collect();
                bail!(
                    "{} holds runs of {} models ({}): each is its own experiment, read one at a time",
                    root.display(),
                    several.len(),
                    models.join(", ")
                )
            }
        }
    }

    /// The runs of one experiment, keeping only the ids `keep` lists (all with None): a sweep's
    /// per-strategy sections read its picked rates' runs.
    pub fn load_only(
        experiment: &Experiment,
        keep: Option<&std::collections::BTreeSet<String>>,
    ) -> Result<Self> {
        let root = experiment.root.as_path();
        let mut all = runs_table(root)?;
        if let Some(model) = &experiment.model {
            let models = strings_required(&all, "model")?;
            let mask: BooleanChunked = models.iter().map(|m| Some(m == model)).collect();
            all = all.filter(&mask)?;
        }
        if let Some(keep) = keep {
            let ids = strings_required(&all, "run_id")?;
            let mask: BooleanChunked = ids.iter().map(|id| Some(keep.contains(id))).collect();
            all = all.filter(&mask)?;
        }
        let curves = load_curves(root)?;
        let mut frameworks: Vec<String> = strings_required(&all, "framework")?;
        frameworks.sort();
        frameworks.dedup();
        let main = if frameworks.iter().any(|f| f == "candle") {
            "candle".to_string()
        } else {
            frameworks[0].clone()
        };
        let only = |fw: &str| {
            all.clone()
                .lazy()
                .filter(col("framework").eq(lit(fw)))
                .collect()
        };
        let mut results = Self::from_frame(only(&main)?, &curves)?;
        results.evidence = load_evidence(root, experiment.model.as_deref())?;
        for fw in frameworks.iter().filter(|f| **f != main) {
            results
                .references
                .push((fw.clone(), Self::from_frame(only(fw)?, &curves)?));
        }
        Ok(results)
    }

    fn from_frame(
        runs_df: DataFrame,
        all_curves: &BTreeMap<String, Vec<(f64, f64)>>,
    ) -> Result<Self> {
        // The rows through the schema's one reader; the numeric columns (and the derived
        // changes) by name, from the same frame in the same order.
        let rows = read_runs(&runs_df)?;
        let runs_df = with_derived(runs_df).collect()?;
        let mut cols = BTreeMap::new();
        for c in numeric_columns().chain(["d_own_pct", "d_cross_pct", "d_general_pct"]) {
            cols.insert(c.to_string(), numbers(&runs_df, c)?);
        }
        let mut runs: Vec<Run> = rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| Run {
                row,
                values: cols.iter().map(|(k, col)| (k.clone(), col[i])).collect(),
            })
            .collect();
        runs.sort_by(|a, b| {
            (&a.dataset, &a.strategy, a.seed, &a.run_id).cmp(&(
                &b.dataset,
                &b.strategy,
                b.seed,
                &b.run_id,
            ))
        });

        let mut strategies: Vec<String> = runs.iter().map(|r| r.strategy.clone()).collect();
        style::order(&mut strategies);
        let mut datasets: Vec<String> = runs.iter().map(|r| r.dataset.clone()).collect();
        datasets.sort();
        datasets.dedup();

        let agg = aggregate(&runs_df)?;
        let curves: BTreeMap<String, Vec<(f64, f64)>> = runs
            .iter()
            .filter_map(|r| {
                all_curves
                    .get(&r.run_id)
                    .map(|c| (r.run_id.clone(), c.clone()))
            })
            .collect();
        let mut missing = Vec::new();
        for r in runs.iter().filter(|r| r.status != Status::Ok) {
            missing.push(format!(
                "run {} ({} / {} / seed {}) failed: {}",
                r.run_id,
                r.dataset,
                r.strategy,
                r.seed,
                r.error.as_deref().unwrap_or("no error recorded")
            ));
        }
        for d in &datasets {
            for s in &strategies {
                let n = agg
                    .get(&(d.clone(), s.clone()))
                    .and_then(|m| m.get("tokens_per_s"))
                    .map_or(0, |s| s.n);
                if n == 0 {
                    missing.push(format!("no successful run for {d} / {s}"));
                } else if n == 1 {
                    missing.push(format!(
                        "{d} / {s}: a single seed, so no standard deviation"
                    ));
                }
            }
        }
        if !strategies.iter().any(|s| s == "full") {
            missing.push(
                "no `full` strategy: changes against full fine-tuning cannot be computed".into(),
            );
        }
        Ok(Self {
            runs,
            curves,
            datasets,
            strategies,
            agg,
            missing,
            references: Vec::new(),
            evidence: Evidence::default(),
        })
    }

    pub fn stat(&self, dataset: &str, strategy: &str, metric: &str) -> Option<Stat> {
        self.agg
            .get(&(dataset.to_string(), strategy.to_string()))
            .and_then(|m| m.get(metric))
            .copied()
            .filter(|s| s.n > 0 && s.mean.is_finite())
    }

    pub fn ok_runs<'a>(
        &'a self,
        dataset: &'a str,
        strategy: &'a str,
    ) -> impl Iterator<Item = &'a Run> + 'a {
        self.runs.iter().filter(move |r| {
            r.dataset == dataset && r.strategy == strategy && r.status == Status::Ok
        })
    }

    /// One value of `metric` per ok run of (dataset, strategy).
    pub fn values(&self, dataset: &str, strategy: &str, metric: &str) -> Vec<f64> {
        self.ok_runs(dataset, strategy)
            .filter_map(|r| r.get(metric))
            .collect()
    }

    /// Mean over datasets of a metric for one strategy (each dataset's seed-mean weighs once).
    pub fn across_datasets(&self, strategy: &str, metric: &str) -> Option<Stat> {
        let v: Vec<Stat> = self
            .datasets
            .iter()
            .filter_map(|d| self.stat(d, strategy, metric))
            .collect();
        if v.is_empty() {
            return None;
        }
        let mean = v.iter().map(|s| s.mean).sum::<f64>() / v.len() as f64;
        let var =
            v.iter().map(|s| (s.mean - mean).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64;
        Some(Stat {
            mean,
            std: if v.len() > 1 { var.sqrt() } else { v[0].std },
            n: v.iter().map(|s| s.n).sum(),
        })
    }
}

/// Mean and sample standard deviation per (dataset, strategy) over successful runs, in polars.
fn aggregate(runs: &DataFrame) -> Result<BTreeMap<(String, String), BTreeMap<String, Stat>>> {
    let mut exprs = vec![col("run_id").count().alias("n")];
    for m in METRICS {
        exprs.push(
            col(m)
                .cast(DataType::Float64)
                .mean()
                .alias(format!("{m}__mean")),
        );
        exprs.push(
            col(m)
                .cast(DataType::Float64)
                .std(1)
                .alias(format!("{m}__std")),
        );
    }
    let df = runs
        .clone()
        .lazy()
        .filter(col("status").eq(lit(Status::Ok.as_str())))
        .group_by([col("dataset"), col("strategy")])
        .agg(exprs)
        .sort(["dataset", "strategy"], SortMultipleOptions::default())
        .collect()?;
    let ds = strings_required(&df, "dataset")?;
    let st = strings_required(&df, "strategy")?;
    let n = numbers(&df, "n")?;
    let mut out = BTreeMap::new();
    for m in METRICS {
        let means = numbers(&df, &format!("{m}__mean"))?;
        let stds = numbers(&df, &format!("{m}__std"))?;
        for i in 0..df.height() {
            let e: &mut BTreeMap<String, Stat> =
                out.entry((ds[i].clone(), st[i].clone())).or_default();
            e.insert(
                m.to_string(),
                Stat {
                    mean: means[i].unwrap_or(f64::NAN),
                    std: stds[i].unwrap_or(0.0),
                    n: n[i].unwrap_or(0.0) as usize,
                },
            );
        }
    }
    Ok(out)
}

fn load_curves(root: &Path) -> Result<BTreeMap<String, Vec<(f64, f64)>>> {
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let Some(df) = read_table(root, "steps")? else {
        return Ok(out);
    };
    let ids = strings_required(&df, "run_id")?;
    let steps = numbers(&df, "step")?;
    let loss = numbers(&df, "loss")?;
    for i in 0..df.height() {
        if let (Some(s), Some(l)) = (steps[i], loss[i]) {
            out.entry(ids[i].clone()).or_default().push((s, l));
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    Ok(out)
}
