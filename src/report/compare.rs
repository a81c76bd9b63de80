//! Every comparison the report makes against full fine-tuning, in one place, for charts, tables
//! and claims alike: runs paired with the full run of the same dataset and seed (same batches,
//! same eval blocks), runs paired across frameworks, bench measurements paired by repeat, and
//! the own-style gain at which forgetting is compared.

use std::collections::BTreeMap;

use super::data::{Results, Run};
use crate::measure::stats::mean;

/// Percent change of `value` against full's: 100 (value / full - 1).
pub fn pct_change(value: f64, full: f64) -> f64 {
    100.0 * (value / full - 1.0)
}

/// The finished full run that `run` pairs with: same dataset, same seed.
pub fn full_pair<'a>(data: &'a Results, run: &'a Run) -> Option<&'a Run> {
    data.ok_runs(&run.dataset, "full")
        .find(|f| f.seed == run.seed)
}

/// full's and `strategy`'s finished runs at learning rate `lr` on `dataset`, paired by seed: the
/// same-rate view of the sweeps.
pub fn same_rate_pairs<'a>(
    data: &'a Results,
    dataset: &'a str,
    strategy: &'a str,
    lr: f64,
) -> Vec<(&'a Run, &'a Run)> {
    data.ok_runs(dataset, "full")
        .filter(|f| f.lr == lr)
        .filter_map(|f| {
            let z = data
                .ok_runs(dataset, strategy)
                .find(|z| z.lr == lr && z.seed == f.seed)?;
            Some((f, z))
        })
        .collect()
}

/// The run of `other` (another framework's results) that `run` pairs with: same dataset,
/// strategy and seed, so the same batches.
pub fn counterpart<'a>(other: &'a Results, run: &'a Run) -> Option<&'a Run> {
    other
        .ok_runs(&run.dataset, &run.strategy)
        .find(|x| x.seed == run.seed)
}

/// `change(value(run), value(full))` for every run of `strategy` on `dataset` that has its full
/// pair, in run order.
pub fn paired_with_full(
    data: &Results,
    dataset: &str,
    strategy: &str,
    value: impl Fn(&Run) -> Option<f64>,
    change: impl Fn(f64, f64) -> f64,
) -> Vec<f64> {
    data.ok_runs(dataset, strategy)
        .filter_map(|r| Some(change(value(r)?, value(full_pair(data, r)?)?)))
        .collect()
}

/// Percent change of a run column against the same seed's full run.
pub fn paired_pct(data: &Results, dataset: &str, strategy: &str, metric: &str) -> Vec<f64> {
    paired_with_full(data, dataset, strategy, |r| r.get(metric), pct_change)
}

/// `change(value(strategy's), value(full's))` for every bench repeat that measured both, by
/// repeat; `value` picks a figure from a bench cell (tokens/s, peak memory).
pub fn bench_paired_with_full(
    data: &Results,
    strategy: &str,
    value: impl Fn(&(f64, Option<f64>)) -> Option<f64>,
    change: impl Fn(f64, f64) -> f64,
) -> Vec<f64> {
    let bench = &data.evidence.bench;
    bench
        .iter()
        .filter(|((s, _), _)| s == strategy)
        .filter_map(|((_, rep), cell)| {
            let full = bench.get(&("full".to_string(), *rep))?;
            Some(change(value(cell)?, value(full)?))
        })
        .collect()
}

/// Own-style NLL gained along a run's curve: first point minus last.
pub fn curve_gain(curves: &BTreeMap<String, Vec<(f64, f64)>>, own: &str) -> Option<f64> {
    let o = curves.get(own)?;
    Some(o.first()?.1 - o.last()?.1)
}

/// The probe's NLL change from the start of training to the point where the own-style gain
/// first reaches `gain`, linearly interpolated between curve points; None if it never does.
pub fn at_gain(
    curves: &BTreeMap<String, Vec<(f64, f64)>>,
    own: &str,
    probe: &str,
    gain: f64,
) -> Option<f64> {
    let (o, p) = (curves.get(own)?, curves.get(probe)?);
    let (o0, p0) = (o.first()?.1, p.first()?.1);
    for k in 1..o.len().min(p.len()) {
        let (g0, g1) = (o0 - o[k - 1].1, o0 - o[k].1);
        if g1 >= gain && g1 > g0 {
            let t = ((gain - g0) / (g1 - g0)).clamp(0.0, 1.0);
            let at = p[k - 1].1 + t * (p[k].1 - p[k - 1].1);
            return Some(at - p0);
        }
    }
    None
}

/// The own-style NLL gain every strategy of `dataset` reaches: the smallest, over strategies, of
/// the mean final gain on the curve subset; None when a strategy has no curve or none gains.
pub fn matched_gain(data: &Results, dataset: &str) -> Option<f64> {
    let mut g = f64::INFINITY;
    for s in &data.strategies {
        let gains: Vec<f64> = data
            .ok_runs(dataset, s)
            .filter_map(|r| curve_gain(data.evidence.eval_curves.get(&r.run_id)?, dataset))
            .collect();
        g = g.min(mean(&gains)?);
    }
    (g.is_finite() && g > 0.0).then_some(g)
}
