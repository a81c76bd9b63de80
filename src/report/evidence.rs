//! The rows beyond the runs table, as the claims and charts read them: eval curves with each
//! corpus's role, per-block NLL changes, validation scores and bench measurements.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;

use crate::results::frame::{numbers, strings, strings_required};
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
    /// corpus -> its roles in the runs that scored its curve (`own`, `cross`, `general`,
    /// `probe`, `validation`), as the runner recorded them.
    pub roles: BTreeMap<String, BTreeSet<String>>,
}

pub(super) fn load_evidence(root: &Path) -> Result<Evidence> {
    let mut e = Evidence::default();
    if let Some(df) = read_table(root, "curves")? {
        let (ids, corpus) = (
            strings_required(&df, "run_id")?,
            strings_required(&df, "corpus")?,
        );
        let (step, nll) = (numbers(&df, "step")?, numbers(&df, "nll")?);
        let role = strings_required(&df, "role")?;
        for i in 0..df.height() {
            e.roles
                .entry(corpus[i].clone())
                .or_default()
                .insert(role[i].clone());
            if let (Some(s), Some(n)) = (step[i], nll[i]) {
                e.eval_curves
                    .entry(ids[i].clone())
                    .or_default()
                    .entry(corpus[i].clone())
                    .or_default()
                    .push((s, n));
            }
        }
        for c in e.eval_curves.values_mut().flat_map(|m| m.values_mut()) {
            c.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
    }
    if let Some(df) = read_table(root, "eval_blocks")? {
        let (ids, corpus) = (
            strings_required(&df, "run_id")?,
            strings_required(&df, "corpus")?,
        );
        let (before, after) = (numbers(&df, "nll_before")?, numbers(&df, "nll_after")?);
        let role = strings_required(&df, "role")?;
        for i in 0..df.height() {
            if let (Some(b), Some(a)) = (before[i], after[i]) {
                if role[i] == "validation" {
                    e.validation.entry(ids[i].clone()).or_default().push((b, a));
                    continue;
                }
                e.block_changes
                    .entry((ids[i].clone(), corpus[i].clone()))
                    .or_default()
                    .push(a - b);
            }
        }
    }
    if let Some(df) = read_table(root, "bench")? {
        let (fw, strategy) = (
            strings_required(&df, "framework")?,
            strings_required(&df, "strategy")?,
        );
        let (rep, tps, mem) = (
            numbers(&df, "repeat")?,
            numbers(&df, "tokens_per_s")?,
            numbers(&df, "peak_mem_bytes")?,
        );
        // Rows from before the device column are CPU rows.
        let device = strings(&df, "device")?;
        for i in 0..df.height() {
            if let (true, Some(r), Some(t)) = (fw[i] == "candle", rep[i], tps[i]) {
                e.bench.insert((strategy[i].clone(), r as i64), (t, mem[i]));
                let d = device
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| "cpu".into());
                e.bench_devices.insert(d);
            }
        }
    }
    Ok(e)
}
