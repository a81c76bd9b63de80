//! The rows beyond the runs table, as the claims and charts read them: eval curves with each
//! corpus's role, per-block NLL changes, validation scores and bench measurements.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;

use crate::results::Role;
use crate::results::schema::{
    LatencyRow, read_bench, read_curve_blocks, read_curves, read_eval_blocks, read_latency,
    read_steps,
};
use crate::results::store::read_table;

/// Rows beyond the runs table: eval curves, per-block NLL changes, bench measurements.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    /// run id -> corpus -> [(step, mean NLL)] sorted by step.
    pub eval_curves: BTreeMap<String, BTreeMap<String, Vec<(f64, f64)>>>,
    /// (run id, corpus) -> per-block NLL after minus before.
    pub block_changes: BTreeMap<(String, String), Vec<f64>>,
    /// (strategy, repeat) -> (tokens/s, peak memory bytes), ablate's own bench rows.
    pub bench: BTreeMap<(String, i64), (f64, Option<f64>)>,
    /// The devices those bench rows ran on (`cpu`, `cuda:0`, ...).
    pub bench_devices: BTreeSet<String>,
    /// run id -> per-block (NLL before, NLL after) on the held-out validation slice.
    pub validation: BTreeMap<String, Vec<(f64, f64)>>,
    /// corpus -> its roles in the runs that scored its curve, as the runner recorded them.
    pub roles: BTreeMap<String, BTreeSet<Role>>,
    /// run id -> corpus -> step -> per-block NLL of the curve subset (where the run wrote them).
    pub curve_blocks: BTreeMap<String, BTreeMap<String, BTreeMap<u64, Vec<f64>>>>,
    /// run id -> gradient norm before clipping at each optimizer step, by step.
    pub grad_norms: BTreeMap<String, Vec<f64>>,
    /// Inference latency measurements (`ablate bench --latency`).
    pub latency: Vec<LatencyRow>,
}

/// `model`: keep only its bench and latency rows (the other tables are read by run id).
pub(super) fn load_evidence(root: &Path, model: Option<&str>) -> Result<Evidence> {
    let ours = |m: &str| model.is_none_or(|x| x == m);
    let mut e = Evidence::default();
    if let Some(df) = read_table(root, "curves")? {
        for c in read_curves(&df)? {
            e.roles.entry(c.corpus.clone()).or_default().insert(c.role);
            e.eval_curves
                .entry(c.run_id)
                .or_default()
                .entry(c.corpus)
                .or_default()
                .push((c.step as f64, c.nll));
        }
        for c in e.eval_curves.values_mut().flat_map(|m| m.values_mut()) {
            c.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
    }
    if let Some(df) = read_table(root, "curve_blocks")? {
        let mut rows = read_curve_blocks(&df)?;
        rows.sort_by_key(|b| b.block);
        for b in rows {
            e.curve_blocks
                .entry(b.run_id)
                .or_default()
                .entry(b.corpus)
                .or_default()
                .entry(b.step)
                .or_default()
                .push(b.nll);
        }
    }
    if let Some(df) = read_table(root, "steps")? {
        let mut rows = read_steps(&df)?;
        rows.sort_by(|a, b| (&a.run_id, a.step).cmp(&(&b.run_id, b.step)));
        for s in rows {
            e.grad_norms.entry(s.run_id).or_default().push(s.grad_norm);
        }
    }
    if let Some(df) = read_table(root, "eval_blocks")? {
        for b in read_eval_blocks(&df)? {
            let (Some(before), Some(after)) = (b.nll_before, b.nll_after) else {
                continue;
            };
            if b.role == Role::Validation {
                e.validation
                    .entry(b.run_id)
                    .or_default()
                    .push((before, after));
            } else {
                e.block_changes
                    .entry((b.run_id, b.corpus))
                    .or_default()
                    .push(after - before);
            }
        }
    }
    if let Some(df) = read_table(root, "latency")? {
        e.latency = read_latency(&df)?
            .into_iter()
            .filter(|l| ours(&l.model))
            .collect();
    }
    if let Some(df) = read_table(root, "bench")? {
        for b in read_bench(&df)?
            .into_iter()
            .filter(|b| b.framework == "candle" && ours(&b.model))
        {
            let mem = b.peak_mem_bytes.map(|m| m as f64);
            e.bench
                .insert((b.strategy, b.repeat as i64), (b.tokens_per_s, mem));
            // Rows from before the device column are CPU rows.
            e.bench_devices
                .insert(b.device.unwrap_or_else(|| "cpu".into()));
        }
    }
    Ok(e)
}
