//! Learning-forgetting frontiers (Biderman et al. 2024, "LoRA Learns Less and Forgets Less"):
//! every curve point of a run is (own-style NLL gained, probe NLL change) since step 0; a
//! strategy's frontier is the lower envelope of those points over all its rates and checkpoints,
//! and strategies are compared by interpolating their frontiers at matched gains. A seed's
//! frontier has an interval from the spread over seeds, or, where there is one seed, from a
//! bootstrap over the curve's blocks (noise of the evaluation only, labelled as such).

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::data::{Results, Run};
use super::stats::{Interval, Method, t_interval};
use crate::measure::stats::mean;
use crate::results::{Role, Status};

/// One checkpoint: own-style NLL gained and probe NLL change since step 0, in nats (positive
/// change = forgetting).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub gain: f64,
    pub change: f64,
}

/// The non-dominated points (no other point gains at least as much and forgets at most as much,
/// one of them strictly), by rising gain; forgetting rises along them too.
pub fn pareto(points: &[Point]) -> Vec<Point> {
    let mut v: Vec<Point> = points
        .iter()
        .copied()
        .filter(|p| p.gain.is_finite() && p.change.is_finite())
        .collect();
    // By falling gain, then rising change: a point is on the frontier when it forgets strictly
    // less than every point that gains more.
    v.sort_by(|a, b| {
        b.gain
            .total_cmp(&a.gain)
            .then(a.change.total_cmp(&b.change))
    });
    let mut out: Vec<Point> = Vec::new();
    for p in v {
        if out.last().is_none_or(|l| p.change < l.change) {
            out.push(p);
        }
    }
    out.reverse();
    out
}

/// The least forgetting on the frontier at gain `g`: linear between neighbouring frontier points,
/// the first point's below it (a smaller gain is reachable at no more forgetting); None beyond
/// the largest gain (no extrapolation).
pub fn at(frontier: &[Point], g: f64) -> Option<f64> {
    let last = frontier.last()?;
    if g > last.gain {
        return None;
    }
    if g <= frontier[0].gain {
        return Some(frontier[0].change);
    }
    frontier.windows(2).find_map(|w| {
        let (a, b) = (w[0], w[1]);
        (g <= b.gain).then(|| a.change + (g - a.gain) / (b.gain - a.gain) * (b.change - a.change))
    })
}

/// One run's curve on its own style and one probe, block by block at each shared step.
#[derive(Clone, Debug, Default)]
pub struct RunCurve {
    /// Per step, the own-style blocks' NLL.
    pub own: Vec<Vec<f64>>,
    /// Per step, the probe blocks' NLL.
    pub probe: Vec<Vec<f64>>,
}

fn mean_at(v: &[f64], idx: Option<&[usize]>) -> f64 {
    match idx {
        Some(i) => i.iter().map(|&k| v[k]).sum::<f64>() / i.len() as f64,
        None => mean(v).unwrap_or(f64::NAN),
    }
}

impl RunCurve {
    /// The checkpoints, with the blocks picked by `own_idx` / `probe_idx` (a bootstrap draw) or
    /// all of them.
    pub fn points_with(
        &self,
        own_idx: Option<&[usize]>,
        probe_idx: Option<&[usize]>,
    ) -> Vec<Point> {
        let (Some(o0), Some(p0)) = (self.own.first(), self.probe.first()) else {
            return Vec::new();
        };
        let (o0, p0) = (mean_at(o0, own_idx), mean_at(p0, probe_idx));
        self.own
            .iter()
            .zip(&self.probe)
            .map(|(o, p)| Point {
                gain: o0 - mean_at(o, own_idx),
                change: mean_at(p, probe_idx) - p0,
            })
            .collect()
    }

    pub fn points(&self) -> Vec<Point> {
        self.points_with(None, None)
    }

    /// Probe blocks per step: the smallest over steps.
    fn probe_blocks(&self) -> usize {
        self.probe.iter().map(Vec::len).min().unwrap_or(0)
    }
}

/// The curve of `run` on its own style and `probe`, from the per-block rows where the run wrote
/// them, else from the curve means (one "block" per step: no bootstrap).
pub fn run_curve(data: &Results, run: &Run, probe: &str) -> Option<RunCurve> {
    let own = run.dataset.as_str();
    let ev = &data.evidence;
    if let Some(b) = ev.curve_blocks.get(&run.run_id)
        && let (Some(o), Some(p)) = (b.get(own), b.get(probe))
    {
        let steps: Vec<u64> = o.keys().filter(|s| p.contains_key(s)).copied().collect();
        if steps.len() >= 2 {
            return Some(RunCurve {
                own: steps.iter().map(|s| o[s].clone()).collect(),
                probe: steps.iter().map(|s| p[s].clone()).collect(),
            });
        }
    }
    let c = ev.eval_curves.get(&run.run_id)?;
    let (o, p) = (c.get(own)?, c.get(probe)?);
    let pairs: Vec<(f64, f64)> = o
        .iter()
        .filter_map(|(s, v)| p.iter().find(|q| q.0 == *s).map(|q| (*v, q.1)))
        .collect();
    (pairs.len() >= 2).then(|| RunCurve {
        own: pairs.iter().map(|x| vec![x.0]).collect(),
        probe: pairs.iter().map(|x| vec![x.1]).collect(),
    })
}

/// The out-of-domain probes the runs scored along training, as the runner recorded their role.
pub fn probes(data: &Results) -> Vec<String> {
    data.evidence
        .roles
        .iter()
        .filter(|(_, r)| r.iter().all(|r| *r == Role::Probe))
        .map(|(c, _)| c.clone())
        .collect()
}

/// Every finished run of (dataset, strategy) with its curve on `probe`, by seed, then rate.
pub fn curves_by_seed(
    data: &Results,
    dataset: &str,
    strategy: &str,
    probe: &str,
) -> BTreeMap<u64, Vec<(f64, RunCurve)>> {
    let mut out: BTreeMap<u64, Vec<(f64, RunCurve)>> = BTreeMap::new();
    for r in data
        .runs
        .iter()
        .filter(|r| r.dataset == dataset && r.strategy == strategy && r.status == Status::Ok)
    {
        if let Some(c) = run_curve(data, r, probe) {
            out.entry(r.seed).or_default().push((r.lr, c));
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// A seed's frontier over all its rates' checkpoints (probe blocks drawn as `probe_idx` gives,
/// or all).
fn seed_frontier(runs: &[(f64, RunCurve)], probe_idx: Option<&[usize]>) -> Vec<Point> {
    let pts: Vec<Point> = runs
        .iter()
        .flat_map(|(_, c)| c.points_with(None, probe_idx))
        .collect();
    pareto(&pts)
}

/// The seed-mean checkpoints of one rate (over the seeds that ran it), step by step.
pub fn mean_points(by_seed: &BTreeMap<u64, Vec<(f64, RunCurve)>>, lr: f64) -> (Vec<Point>, usize) {
    let paths: Vec<Vec<Point>> = by_seed
        .values()
        .flat_map(|v| v.iter().filter(|(r, _)| *r == lr).map(|(_, c)| c.points()))
        .collect();
    let len = paths.iter().map(Vec::len).min().unwrap_or(0);
    let pts = (0..len)
        .map(|i| Point {
            gain: paths.iter().map(|p| p[i].gain).sum::<f64>() / paths.len() as f64,
            change: paths.iter().map(|p| p[i].change).sum::<f64>() / paths.len() as f64,
        })
        .collect();
    (pts, paths.len())
}

/// The rates any seed ran, rising.
pub fn rates(by_seed: &BTreeMap<u64, Vec<(f64, RunCurve)>>) -> Vec<f64> {
    let mut v: Vec<f64> = by_seed
        .values()
        .flat_map(|x| x.iter().map(|y| y.0))
        .collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// The strategy's maximum mean gain: the largest own-style gain at which the mean of its seeds'
/// frontiers is defined, i.e. the smallest over seeds of each seed's largest gain (so every seed's
/// frontier reaches every matched gain read below it).
pub fn max_mean_gain(by_seed: &BTreeMap<u64, Vec<(f64, RunCurve)>>) -> Option<f64> {
    by_seed
        .values()
        .filter_map(|runs| {
            runs.iter()
                .flat_map(|(_, c)| c.points())
                .map(|p| p.gain)
                .max_by(f64::total_cmp)
        })
        .min_by(f64::total_cmp)
}

/// Forgetting read on a strategy's frontiers at one gain: per seed, and its interval.
#[derive(Clone, Debug)]
pub struct AtGain {
    /// The seeds whose frontier reaches the gain, with the forgetting there.
    pub per_seed: Vec<(u64, f64)>,
    /// Over seeds (t) with two or more, else a bootstrap over the one seed's blocks.
    pub interval: Option<Interval>,
}

/// Draws for the one-seed bootstrap: fixed seed, reports are deterministic.
const DRAWS: usize = 1000;

fn draw(rng: &mut StdRng, n: usize) -> Vec<usize> {
    (0..n).map(|_| rng.random_range(0..n)).collect()
}

/// The percentile interval of bootstrap draws around `estimate`; None with too few finite draws.
fn percentile(mut d: Vec<f64>, estimate: f64, blocks: usize) -> Option<Interval> {
    d.retain(|x| x.is_finite());
    if d.len() < DRAWS * 9 / 10 || blocks < 2 {
        return None;
    }
    d.sort_by(f64::total_cmp);
    let q = |p: f64| d[((d.len() - 1) as f64 * p).round() as usize];
    Some(Interval {
        estimate,
        lo: q(0.025),
        hi: q(0.975),
        n: blocks,
        method: Method::Bootstrap,
    })
}

/// `value(frontiers of a, frontiers of b)` at the seeds both have, with its interval: t over
/// the seeds whose frontiers reach the gain, or where only one seed exists a bootstrap that draws the
/// probe's blocks (the same draw for both strategies: they scored the same blocks) with the
/// own-style gains as measured, so that the matched gain stays where it was read. `b` may be
/// absent (one strategy).
pub fn compare_at(
    a: &BTreeMap<u64, Vec<(f64, RunCurve)>>,
    b: Option<&BTreeMap<u64, Vec<(f64, RunCurve)>>>,
    value: impl Fn(&[Point], Option<&[Point]>) -> Option<f64>,
) -> AtGain {
    let seeds: Vec<u64> = a
        .keys()
        .filter(|s| b.is_none_or(|b| b.contains_key(s)))
        .copied()
        .collect();
    let per_seed: Vec<(u64, f64)> = seeds
        .iter()
        .filter_map(|s| {
            let fa = seed_frontier(&a[s], None);
            let fb = b.map(|b| seed_frontier(&b[s], None));
            value(&fa, fb.as_deref()).map(|v| (*s, v))
        })
        .collect();
    let values: Vec<f64> = per_seed.iter().map(|x| x.1).collect();
    // With several seeds the interval is over seeds only (None if fewer than two reach the
    // gain); the bootstrap over blocks is for a strategy that has one seed.
    let interval = if values.len() >= 2 {
        t_interval(&values)
    } else if let ([_], [(s, estimate)]) = (&seeds[..], &per_seed[..]) {
        let (s, estimate) = (*s, *estimate);
        let (ra, rb) = (&a[&s], b.map(|b| &b[&s]));
        let np = ra
            .iter()
            .chain(rb.into_iter().flatten())
            .map(|(_, c)| c.probe_blocks())
            .min()
            .unwrap_or(0);
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let draws: Vec<f64> = (0..DRAWS)
            .map(|_| {
                let p = draw(&mut rng, np);
                let fa = seed_frontier(ra, Some(&p));
                let fb = rb.map(|r| seed_frontier(r, Some(&p)));
                value(&fa, fb.as_deref()).unwrap_or(f64::NAN)
            })
            .collect();
        percentile(draws, estimate, np)
    } else {
        None
    };
    AtGain { per_seed, interval }
}

/// Forgetting of one strategy at gain `g` on its frontiers.
pub fn forgetting_at(by_seed: &BTreeMap<u64, Vec<(f64, RunCurve)>>, g: f64) -> AtGain {
    compare_at(by_seed, None, |f, _| at(f, g))
}

/// Forgetting of `a` minus that of `b` at gain `g`, seed by seed (positive: `a` forgets more).
pub fn difference_at(
    a: &BTreeMap<u64, Vec<(f64, RunCurve)>>,
    b: &BTreeMap<u64, Vec<(f64, RunCurve)>>,
    g: f64,
) -> AtGain {
    compare_at(a, Some(b), |fa, fb| Some(at(fa, g)? - at(fb?, g)?))
}

/// The matched gains of the frontier comparison: 1/2, 3/4 and 1 times `g`.
pub const FRACTIONS: [f64; 3] = [0.5, 0.75, 1.0];

#[cfg(test)]
mod tests {
    use super::*;

    fn p(gain: f64, change: f64) -> Point {
        Point { gain, change }
    }

    #[test]
    fn pareto_keeps_the_points_no_other_beats() {
        let pts = [
            p(0.0, 0.0),
            p(0.1, 0.05),
            p(0.2, 0.02),
            p(0.3, 0.1),
            p(0.25, 0.2),
        ];
        assert_eq!(pareto(&pts), vec![p(0.0, 0.0), p(0.2, 0.02), p(0.3, 0.1)]);
        // A point that forgets less than the origin while gaining drops the origin.
        assert_eq!(pareto(&[p(0.0, 0.0), p(0.1, -0.01)]), vec![p(0.1, -0.01)]);
    }

    #[test]
    fn interpolates_on_the_frontier_and_never_beyond_it() {
        let f = pareto(&[p(0.0, 0.0), p(0.2, 0.02), p(0.4, 0.1)]);
        assert_eq!(at(&f, 0.1), Some(0.01));
        assert!((at(&f, 0.3).unwrap() - 0.06).abs() < 1e-12);
        assert_eq!(at(&f, 0.4), Some(0.1));
        assert_eq!(at(&f, 0.41), None);
        let g = pareto(&[p(0.1, -0.01), p(0.3, 0.05)]);
        assert_eq!(
            at(&g, 0.05),
            Some(-0.01),
            "below the first point: its forgetting"
        );
        assert_eq!(at(&[], 0.1), None);
    }

    fn curve(own: &[f64], probe: &[f64]) -> RunCurve {
        // Two blocks per step that differ by +-0.1 around the given means.
        RunCurve {
            own: own.iter().map(|m| vec![m - 0.1, m + 0.1]).collect(),
            probe: probe.iter().map(|m| vec![m - 0.1, m + 0.1]).collect(),
        }
    }

    #[test]
    fn the_difference_is_read_seed_by_seed_with_a_t_interval() {
        // Two rates per seed; full forgets 0.2 per nat learned, the frozen strategy 0.1.
        let mut full = BTreeMap::new();
        let mut frozen = BTreeMap::new();
        for (s, k) in [(0u64, 1.0), (1, 1.1), (2, 0.9)] {
            let own = [3.0, 2.8, 2.6, 2.4];
            let fp: Vec<f64> = own.iter().map(|o| 2.0 + 0.2 * k * (3.0 - o)).collect();
            let zp: Vec<f64> = own.iter().map(|o| 2.0 + 0.1 * k * (3.0 - o)).collect();
            full.insert(s, vec![(1e-4, curve(&own, &fp))]);
            frozen.insert(s, vec![(3e-4, curve(&own, &zp))]);
        }
        let d = difference_at(&full, &frozen, 0.4);
        assert_eq!(d.per_seed.len(), 3);
        let i = d.interval.unwrap();
        assert_eq!(i.method, Method::T);
        assert!((i.estimate - 0.04).abs() < 1e-9, "{i:?}");
        assert!(i.lo > 0.0);
        // Beyond the largest gain nothing is read.
        assert!(difference_at(&full, &frozen, 0.7).per_seed.is_empty());
        assert!((max_mean_gain(&full).unwrap() - 0.6).abs() < 1e-9);
    }

    #[test]
    fn one_seed_gets_a_labelled_bootstrap_over_blocks() {
        let own = [3.0, 2.7, 2.4];
        // Blocks that move apart along training: the change depends on which blocks are drawn.
        let spread = |m: &[f64]| -> Vec<Vec<f64>> {
            m.iter()
                .enumerate()
                .map(|(k, m)| vec![m - 0.05 * k as f64, *m, m + 0.05 * k as f64])
                .collect()
        };
        let c = RunCurve {
            own: spread(&own),
            probe: spread(&[2.0, 2.1, 2.3]),
        };
        let mut full = BTreeMap::new();
        full.insert(0u64, vec![(1e-4, c)]);
        let f = forgetting_at(&full, 0.3);
        let i = f.interval.unwrap();
        assert_eq!(i.method, Method::Bootstrap);
        assert!((i.estimate - 0.1).abs() < 1e-9);
        assert!(i.lo <= i.estimate && i.estimate <= i.hi && i.hi > i.lo);
    }
}
