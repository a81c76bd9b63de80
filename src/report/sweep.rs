//! Learning-rate sweeps: per (dataset, strategy), every tried rate with its validation NLL after
//! training (train blocks held out of training, disjoint from every block a report scores), the
//! pick (lowest mean validation NLL; the lower rate on an exact tie), and whether the pick lies
//! inside the sweep or at its edge (then the best rate may lie beyond it). The rule is fixed
//! here, before the sweeps ran.

use std::collections::{BTreeMap, BTreeSet};

use super::data::Results;
use super::stats::{Interval, t_interval};
use crate::measure::stats::mean;
use crate::results::Status;

/// One tried rate of one (dataset, strategy): validation NLL before and after, over the seeds
/// that ran every rate of the cell (so that rates are compared on the same seeds, however many
/// more a pick gets later).
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    pub lr: f64,
    pub before: f64,
    /// NaN where no run of this rate finished.
    pub after: f64,
    /// Mean NLL after of each compared seed's run.
    pub after_per_seed: Vec<f64>,
    /// Finished runs at this rate (all seeds).
    pub seeds: usize,
    /// Runs at this rate that failed (diverged or crashed).
    pub failed: usize,
}

impl Trial {
    pub fn after_interval(&self) -> Option<Interval> {
        t_interval(&self.after_per_seed)
    }
}

/// Where a pick lies in its sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// A tried rate on each side of it.
    Interior,
    /// The lowest rate tried: a lower one might do better.
    Low,
    /// The highest rate tried: a higher one might do better.
    High,
    /// Only one rate was tried.
    Single,
}

impl Edge {
    pub fn text(self) -> &'static str {
        match self {
            Edge::Interior => "interior",
            Edge::Low => "at the low edge",
            Edge::High => "at the high edge",
            Edge::Single => "one rate only",
        }
    }
}

/// The pick of one (dataset, strategy).
#[derive(Clone, Debug, PartialEq)]
pub struct Pick {
    pub dataset: String,
    pub strategy: String,
    pub lr: f64,
    pub edge: Edge,
    /// Every tried rate, rising.
    pub trials: Vec<Trial>,
}

impl Pick {
    /// The picked trial and its neighbours in the sweep (lower, picked, higher).
    pub fn neighbours(&self) -> (Option<&Trial>, Option<&Trial>, Option<&Trial>) {
        let i = self.trials.iter().position(|t| t.lr == self.lr);
        match i {
            Some(i) => (
                i.checked_sub(1).and_then(|j| self.trials.get(j)),
                self.trials.get(i),
                self.trials.get(i + 1),
            ),
            None => (None, None, None),
        }
    }
}

/// (dataset, strategy) -> trials by rising rate: every rate tried, failed ones included (so
/// that the edge of the sweep is where the sweep ended), for cells with a validation slice.
pub fn trials(data: &Results) -> BTreeMap<(String, String), Vec<Trial>> {
    type Scores = BTreeMap<u64, Option<(f64, f64)>>;
    let mut cells: BTreeMap<(String, String), BTreeMap<u64, Scores>> = BTreeMap::new();
    for r in &data.runs {
        let score = (r.status == Status::Ok)
            .then(|| data.evidence.validation.get(&r.run_id))
            .flatten()
            .and_then(|blocks| {
                let b: Vec<f64> = blocks.iter().map(|x| x.0).collect();
                let a: Vec<f64> = blocks.iter().map(|x| x.1).collect();
                Some((mean(&b)?, mean(&a)?))
            });
        cells
            .entry((r.dataset.clone(), r.strategy.clone()))
            .or_default()
            .entry(r.lr.to_bits())
            .or_default()
            .insert(r.seed, score);
    }
    let mut out = BTreeMap::new();
    for (cell, rates) in cells {
        let scored: Vec<&Scores> = rates
            .values()
            .filter(|s| s.values().any(Option::is_some))
            .collect();
        if scored.is_empty() {
            continue;
        }
        // The sweep's seeds: those with a score at every rate that has any.
        let common: BTreeSet<u64> = scored[0]
            .iter()
            .filter(|(seed, v)| {
                v.is_some()
                    && scored
                        .iter()
                        .all(|s| s.get(*seed).is_some_and(Option::is_some))
            })
            .map(|(seed, _)| *seed)
            .collect();
        let trials = rates
            .iter()
            .map(|(lr, by_seed)| {
                let used: Vec<(f64, f64)> = by_seed
                    .iter()
                    .filter(|(seed, _)| common.is_empty() || common.contains(seed))
                    .filter_map(|(_, v)| *v)
                    .collect();
                let (b, a): (Vec<f64>, Vec<f64>) = used.iter().copied().unzip();
                Trial {
                    lr: f64::from_bits(*lr),
                    before: mean(&b).unwrap_or(f64::NAN),
                    after: mean(&a).unwrap_or(f64::NAN),
                    after_per_seed: a,
                    seeds: by_seed.values().filter(|v| v.is_some()).count(),
                    failed: by_seed.values().filter(|v| v.is_none()).count(),
                }
            })
            .collect();
        out.insert(cell, trials);
    }
    out
}

/// The rule: the rate with the lowest mean validation NLL after training (the lower rate on an
/// exact tie); None when no trial finished with a finite NLL.
pub fn pick(trials: &[Trial]) -> Option<&Trial> {
    trials
        .iter()
        .filter(|t| t.after.is_finite())
        .min_by(|a, b| a.after.total_cmp(&b.after).then(a.lr.total_cmp(&b.lr)))
}

/// Where `lr` lies among the tried rates.
pub fn edge(trials: &[Trial], lr: f64) -> Edge {
    match trials {
        [] | [_] => Edge::Single,
        [first, ..] if first.lr == lr => Edge::Low,
        [.., last] if last.lr == lr => Edge::High,
        _ => Edge::Interior,
    }
}

/// Every (dataset, strategy)'s pick, by dataset, then strategy in the report's order.
pub fn picks(data: &Results) -> Vec<Pick> {
    let all = trials(data);
    let mut names: Vec<String> = all.keys().map(|k| k.1.clone()).collect();
    super::style::order(&mut names);
    let mut out: Vec<Pick> = all
        .into_iter()
        .filter_map(|((dataset, strategy), trials)| {
            let lr = pick(&trials)?.lr;
            Some(Pick {
                edge: edge(&trials, lr),
                dataset,
                strategy,
                lr,
                trials,
            })
        })
        .collect();
    out.sort_by_key(|p| {
        (
            p.dataset.clone(),
            names.iter().position(|n| *n == p.strategy),
        )
    });
    out
}

/// Whether any (dataset, strategy) ran more than one rate: then the report's per-strategy
/// sections read the picked rate's runs, and the frontier sections all of them.
pub fn has_sweeps(data: &Results) -> bool {
    let mut rates: BTreeMap<(&str, &str), BTreeSet<u64>> = BTreeMap::new();
    for r in &data.runs {
        rates
            .entry((&r.dataset, &r.strategy))
            .or_default()
            .insert(r.lr.to_bits());
    }
    rates.values().any(|v| v.len() > 1)
}

/// The run ids at each cell's picked rate; a cell with one rate keeps all its runs, a cell with
/// several and no validation slice to pick by keeps none.
pub fn picked_runs(data: &Results, picks: &[Pick]) -> BTreeSet<String> {
    let mut rates: BTreeMap<(&str, &str), BTreeSet<u64>> = BTreeMap::new();
    for r in &data.runs {
        rates
            .entry((&r.dataset, &r.strategy))
            .or_default()
            .insert(r.lr.to_bits());
    }
    data.runs
        .iter()
        .filter(|r| {
            match picks
                .iter()
                .find(|p| p.dataset == r.dataset && p.strategy == r.strategy)
            {
                Some(p) => p.lr == r.lr,
                None => rates[&(r.dataset.as_str(), r.strategy.as_str())].len() == 1,
            }
        })
        .map(|r| r.run_id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(lr: f64, after: f64) -> Trial {
        Trial {
            lr,
            before: 3.0,
            after,
            after_per_seed: vec![after],
            seeds: 1,
            failed: 0,
        }
    }

    #[test]
    fn picks_the_lowest_validation_nll_and_the_lower_rate_on_a_tie() {
        let v = [t(1e-4, 2.9), t(3e-4, 2.7), t(1e-3, 2.8)];
        assert_eq!(pick(&v).map(|x| x.lr), Some(3e-4));
        let tie = [t(1e-4, 2.7), t(3e-4, 2.7)];
        assert_eq!(pick(&tie).map(|x| x.lr), Some(1e-4));
        let diverged = [t(1e-4, 2.9), t(1e-3, f64::NAN)];
        assert_eq!(pick(&diverged).map(|x| x.lr), Some(1e-4));
        assert_eq!(pick(&[t(1e-3, f64::NAN)]), None);
    }

    /// Rates are compared on the seeds that ran them all; a failed rate still counts as tried.
    #[test]
    fn trials_compare_rates_on_the_sweep_seeds_and_keep_failed_rates() {
        use crate::report::data::Run;
        use crate::results::RunRow;
        let mut data = Results::default();
        let mut add = |id: &str, lr: f64, seed: u64, after: Option<f64>| {
            data.runs.push(Run {
                row: RunRow {
                    run_id: id.into(),
                    dataset: "alice".into(),
                    strategy: "full".into(),
                    lr,
                    seed,
                    status: if after.is_some() {
                        Status::Ok
                    } else {
                        Status::Failed
                    },
                    ..Default::default()
                },
                values: Default::default(),
            });
            if let Some(a) = after {
                data.evidence.validation.insert(id.into(), vec![(3.0, a)]);
            }
        };
        // Seed 0 ran every rate; seeds 1 and 2 only 1e-4 (as if added at a pick), much better.
        add("a", 1e-4, 0, Some(2.9));
        add("b", 1e-4, 1, Some(2.0));
        add("c", 1e-4, 2, Some(2.0));
        add("d", 3e-4, 0, Some(2.8));
        add("e", 1e-3, 0, None);
        let t = &trials(&data)[&("alice".to_string(), "full".to_string())];
        assert_eq!(t.len(), 3, "the failed rate is a trial");
        assert_eq!(
            (t[0].after, t[0].seeds),
            (2.9, 3),
            "compared on seed 0 alone"
        );
        assert!(t[2].after.is_nan() && t[2].failed == 1);
        let best = pick(t).unwrap();
        assert_eq!(best.lr, 3e-4);
        assert_eq!(
            edge(t, best.lr),
            Edge::Interior,
            "a failed higher rate was tried"
        );
    }

    #[test]
    fn an_optimum_is_interior_only_with_a_rate_tried_on_each_side() {
        let v = [t(1e-4, 2.9), t(3e-4, 2.7), t(1e-3, 2.8)];
        assert_eq!(edge(&v, pick(&v).unwrap().lr), Edge::Interior);
        let falling = [t(1e-4, 2.9), t(3e-4, 2.8), t(1e-3, 2.7)];
        assert_eq!(edge(&falling, pick(&falling).unwrap().lr), Edge::High);
        let rising = [t(1e-4, 2.6), t(3e-4, 2.8), t(1e-3, 2.9)];
        assert_eq!(edge(&rising, pick(&rising).unwrap().lr), Edge::Low);
        assert_eq!(edge(&rising[..1], 1e-4), Edge::Single);
    }
}
