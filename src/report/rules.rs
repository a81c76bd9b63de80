//! The verdict rules, fixed before the data: pure functions from measured evidence (estimates
//! with intervals) to a verdict. Each rule can give every outcome, and the tests below feed each
//! one synthetic evidence for every outcome. The report states the rule next to each verdict.

use super::stats::Interval;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    Partly,
    NotSupported,
    CannotBeJudged,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Partly => "partly supported",
            Verdict::NotSupported => "not supported",
            Verdict::CannotBeJudged => "cannot be judged from these runs",
        }
    }
}

/// The claim's own figure: ~65M of ~125M parameters left trainable.
pub const CLAIMED_TRAINABLE: f64 = 0.52;

pub const TRAINABLE_RULE: &str = "supported if the trainable share is within 5 points of the claim's 52%, partly within 10 points, else not supported";

pub fn trainable(ratio: Option<f64>) -> Verdict {
    match ratio.map(|r| (r - CLAIMED_TRAINABLE).abs()) {
        None => Verdict::CannotBeJudged,
        Some(d) if d <= 0.05 => Verdict::Supported,
        Some(d) if d <= 0.10 => Verdict::Partly,
        Some(_) => Verdict::NotSupported,
    }
}

pub const MEMORY_RULE: &str = "saving = 1 - frozen/full peak memory, 95% interval over interleaved repeats (without bench rows, over (dataset, seed) pairs of runs: a heap peak does not depend on host load): supported if the interval excludes 0 and meets the claimed 25-30% band, partly if it excludes 0 but misses the band, not supported if it includes 0 or a rise";

pub fn memory(saving_pct: Option<&Interval>) -> Verdict {
    match saving_pct {
        None => Verdict::CannotBeJudged,
        Some(i) if i.lo <= 0.0 => Verdict::NotSupported,
        Some(i) if i.hi >= 25.0 && i.lo <= 30.0 => Verdict::Supported,
        Some(_) => Verdict::Partly,
    }
}

pub const SPEED_RULE: &str = "speed-up = frozen/full tokens/s - 1, 95% interval over interleaved repeats: supported if the interval lies above 0, partly if the estimate is above 0 but the interval includes 0, not supported if the estimate is 0 or below";

pub fn speed(speedup_pct: Option<&Interval>) -> Verdict {
    match speedup_pct {
        None => Verdict::CannotBeJudged,
        Some(i) if i.lo > 0.0 => Verdict::Supported,
        Some(i) if i.estimate > 0.0 => Verdict::Partly,
        Some(_) => Verdict::NotSupported,
    }
}

/// Claim 4's evidence: each frozen run's held-out own-style NLL at its curve points, and the
/// spike ratio of frozen against full (max gradient norm after warm-up over the median), per
/// seed pair, with its interval.
pub struct Stability<'a> {
    /// Per frozen run at the picked rate: own-style NLL at each curve point, by step.
    pub held_out: Vec<&'a [f64]>,
    /// Frozen's spike ratio over the same seed's full run's, per (dataset, seed) pair.
    pub spike_ratios: &'a [f64],
    /// 95% t interval of `spike_ratios` (None with fewer than two pairs).
    pub spike_interval: Option<&'a Interval>,
    /// Distinct seeds among the pairs: fewer than two cannot be judged.
    pub seeds: usize,
    /// Frozen runs at the picked rate that diverged: each fails (a).
    pub diverged: usize,
}

pub const STABILITY_RULE: &str = "at the picked rate, every attn_embed_frozen run: (a) held-out own-style NLL at the curve points ends below its start and never rises more than 1% above its running minimum (a diverged run fails it); (b) spike ratio = max gradient norm (before clipping) after warm-up / median gradient norm after warm-up; the 95% t interval over (dataset, seed) pairs of frozen's spike ratio divided by the same seed's full run's has its upper bound at or below 1.5. Supported if (a) and (b) hold, partly if one holds, not supported if neither, cannot be judged with fewer than two seeds at the picked rate";

/// (a) of the stability rule for one run: ends below its start, never 1% above its running min.
pub fn held_out_steady(nll: &[f64]) -> bool {
    let (Some(first), Some(last)) = (nll.first(), nll.last()) else {
        return false;
    };
    let mut min = f64::INFINITY;
    let mut steady = nll.len() >= 2 && last < first;
    for x in nll {
        min = min.min(*x);
        steady &= x.is_finite() && *x <= min * 1.01;
    }
    steady
}

/// Max over median of the gradient norms after warm-up; None with fewer than 3 such steps.
pub fn spike_ratio(grad_norms: &[f64], warmup_steps: usize) -> Option<f64> {
    let after: Vec<f64> = grad_norms.iter().skip(warmup_steps).copied().collect();
    if after.len() < 3 || after.iter().any(|g| !g.is_finite()) {
        return None;
    }
    let max = after.iter().copied().fold(f64::MIN, f64::max);
    let med = crate::measure::stats::median(&after)?;
    (med > 0.0).then(|| max / med)
}

pub fn stability(e: &Stability) -> Verdict {
    if e.seeds < 2 || e.spike_ratios.len() < 2 || e.held_out.is_empty() {
        return Verdict::CannotBeJudged;
    }
    let a = e.diverged == 0 && e.held_out.iter().all(|c| held_out_steady(c));
    let b = e.spike_interval.is_some_and(|i| i.hi <= 1.5);
    match (a, b) {
        (true, true) => Verdict::Supported,
        (false, false) => Verdict::NotSupported,
        _ => Verdict::Partly,
    }
}

/// One probe at one matched gain on one dataset: full's forgetting there and full's minus the
/// frozen strategy's (positive = the frozen one forgot less), each on the frontiers.
#[derive(Clone, Debug)]
pub struct MatchedForgetting {
    pub probe: String,
    /// The fraction of the matched gain (1/2, 3/4, 1).
    pub fraction: f64,
    pub full: Option<Interval>,
    pub full_minus_frozen: Option<Interval>,
}

pub const FRONTIER_RULE: &str = "per dataset, each strategy's frontier (per seed) is the lower envelope of (own-style NLL gain, probe NLL change) over all its rates' curve points; matched gains 1/2, 3/4 and 1 times the smaller of full's and attn_embed_frozen's maximum mean gain (the largest gain the seed-mean frontier reaches: the smallest over seeds of each seed's largest gain); at each matched gain and out-of-domain probe, difference = forgetting(full) - forgetting(attn_embed_frozen) interpolated on each frontier, 95% t interval over seeds (one seed: a bootstrap over the curve's eval blocks, labelled). Cannot be judged if that maximum gain is under 0.05 nats or full's forgetting interval lies above 0 on no probe at any matched gain; supported if the difference lies above 0 on at least two probes at every matched gain and below 0 on none; partly if it lies above 0 on at least one probe at some matched gain; not supported otherwise. Overall: the weaker of the datasets' verdicts";

/// The frontier rule on one dataset; `max_gain` is the smaller of the two maximum mean gains.
pub fn frontier_forgetting(max_gain: Option<f64>, cells: &[MatchedForgetting]) -> Verdict {
    if max_gain.is_none_or(|g| g < 0.05)
        || !cells
            .iter()
            .any(|c| c.full.as_ref().is_some_and(|i| i.lo > 0.0))
    {
        return Verdict::CannotBeJudged;
    }
    let above = |c: &MatchedForgetting| c.full_minus_frozen.as_ref().is_some_and(|i| i.lo > 0.0);
    let below = |c: &MatchedForgetting| c.full_minus_frozen.as_ref().is_some_and(|i| i.hi < 0.0);
    let mut fractions: Vec<f64> = cells.iter().map(|c| c.fraction).collect();
    fractions.sort_by(f64::total_cmp);
    fractions.dedup();
    let every_gain = fractions.iter().all(|f| {
        let at: Vec<&MatchedForgetting> = cells.iter().filter(|c| c.fraction == *f).collect();
        at.iter().filter(|c| above(c)).count() >= 2 && !at.iter().any(|c| below(c))
    });
    if every_gain {
        Verdict::Supported
    } else if cells.iter().any(above) {
        Verdict::Partly
    } else {
        Verdict::NotSupported
    }
}

/// The weaker of two verdicts (a verdict that cannot be judged is the weakest).
pub fn weaker(a: Verdict, b: Verdict) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Supported => 3,
        Verdict::Partly => 2,
        Verdict::NotSupported => 1,
        Verdict::CannotBeJudged => 0,
    };
    if rank(a) <= rank(b) { a } else { b }
}

pub const LATENCY_RULE: &str = "batch-1 forward of a 128-token prompt, latency ratio to the base model paired by interleaved repeat, 95% t interval over the repeats of the latest latency session (sessions on other hosts are not pooled): supported if partial fine-tuning's ratio interval lies within [0.98, 1.02] and unmerged LoRA's lies above 1; partly if only one holds; not supported if neither; cannot be judged with fewer than 3 repeats";

pub fn latency(partial: Option<&Interval>, lora_unmerged: Option<&Interval>) -> Verdict {
    let (Some(p), Some(l)) = (partial, lora_unmerged) else {
        return Verdict::CannotBeJudged;
    };
    if p.n < 3 || l.n < 3 {
        return Verdict::CannotBeJudged;
    }
    let same = p.lo >= 0.98 && p.hi <= 1.02;
    let slower = l.lo > 1.0;
    match (same, slower) {
        (true, true) => Verdict::Supported,
        (false, false) => Verdict::NotSupported,
        _ => Verdict::Partly,
    }
}

pub const STYLE_RULE: &str = "per style, own-style NLL gain minus the near-domain control's gain (what layout alone would give), 95% interval: supported if it lies above 0 for every style, partly for some, not supported for none";

pub fn style(beyond_control: &[Interval]) -> Verdict {
    if beyond_control.is_empty() {
        return Verdict::CannotBeJudged;
    }
    match beyond_control.iter().filter(|i| i.lo > 0.0).count() {
        0 => Verdict::NotSupported,
        n if n == beyond_control.len() => Verdict::Supported,
        _ => Verdict::Partly,
    }
}

#[cfg(test)]
mod tests {
    use super::Verdict::*;
    use super::*;
    use crate::report::stats::Method;

    fn iv(estimate: f64, lo: f64, hi: f64) -> Interval {
        Interval {
            estimate,
            lo,
            hi,
            n: 3,
            method: Method::T,
        }
    }

    #[test]
    fn trainable_gives_every_outcome() {
        assert_eq!(trainable(Some(0.50)), Supported);
        assert_eq!(trainable(Some(0.592)), Partly);
        assert_eq!(trainable(Some(0.30)), NotSupported);
        assert_eq!(trainable(None), CannotBeJudged);
    }

    #[test]
    fn memory_gives_every_outcome() {
        assert_eq!(memory(Some(&iv(27.0, 26.0, 28.0))), Supported);
        assert_eq!(
            memory(Some(&iv(21.1, 20.5, 21.7))),
            Partly,
            "a real saving below the band"
        );
        assert_eq!(memory(Some(&iv(2.0, -1.0, 5.0))), NotSupported);
        assert_eq!(memory(None), CannotBeJudged);
    }

    #[test]
    fn speed_gives_every_outcome() {
        assert_eq!(speed(Some(&iv(9.0, 4.0, 14.0))), Supported);
        assert_eq!(
            speed(Some(&iv(9.3, -2.0, 20.6))),
            Partly,
            "a speed-up within the noise"
        );
        assert_eq!(speed(Some(&iv(-3.0, -6.0, 0.5))), NotSupported);
        assert_eq!(speed(None), CannotBeJudged);
    }

    #[test]
    fn stability_gives_every_outcome() {
        fn e(held: Vec<&[f64]>, ratios: &[f64], i: Option<&Interval>) -> Verdict {
            stability(&Stability {
                held_out: held,
                spike_ratios: ratios,
                spike_interval: i,
                seeds: ratios.len(),
                diverged: 0,
            })
        }
        let steady: &[f64] = &[3.0, 2.9, 2.85, 2.8];
        let bumpy: &[f64] = &[3.0, 2.8, 2.9, 2.7];
        let (calm, spiky) = (&iv(1.1, 0.9, 1.3), &iv(2.0, 1.2, 2.8));
        let two: &[f64] = &[1.0, 1.2];
        assert_eq!(e(vec![steady, steady], two, Some(calm)), Supported);
        assert_eq!(e(vec![steady, bumpy], two, Some(calm)), Partly, "(b) alone");
        assert_eq!(e(vec![steady], two, Some(spiky)), Partly, "(a) alone");
        assert_eq!(e(vec![bumpy], two, Some(spiky)), NotSupported);
        assert_eq!(e(vec![steady], &two[..1], None), CannotBeJudged, "one seed");
        let one_seed_two_datasets = Stability {
            held_out: vec![steady, steady],
            spike_ratios: two,
            spike_interval: Some(calm),
            seeds: 1,
            diverged: 0,
        };
        assert_eq!(stability(&one_seed_two_datasets), CannotBeJudged);
        let diverged = Stability {
            seeds: 2,
            diverged: 1,
            ..one_seed_two_datasets
        };
        assert_eq!(stability(&diverged), Partly, "a diverged run fails (a)");
        // The pieces: a rise of more than 1% over the running minimum, an end above the start.
        assert!(held_out_steady(&[3.0, 2.9, 2.92, 2.8]));
        assert!(!held_out_steady(&[3.0, 2.9, 2.95, 2.8]));
        assert!(!held_out_steady(&[3.0, 3.01]));
        assert_eq!(spike_ratio(&[9.0, 1.0, 2.0, 1.0, 3.0], 1), Some(2.0));
        assert_eq!(spike_ratio(&[1.0, 2.0], 0), None);
    }

    #[test]
    fn frontier_forgetting_gives_every_outcome() {
        let forgot = iv(0.3, 0.1, 0.5);
        let less = iv(0.2, 0.05, 0.35);
        let more = iv(-0.2, -0.35, -0.05);
        let same = iv(0.0, -0.1, 0.1);
        let cell = |probe: &str, fraction, full: &Interval, diff: &Interval| MatchedForgetting {
            probe: probe.into(),
            fraction,
            full: Some(full.clone()),
            full_minus_frozen: Some(diff.clone()),
        };
        let at = |f, d: [&Interval; 3]| {
            vec![
                cell("chat", f, &forgot, d[0]),
                cell("code", f, &forgot, d[1]),
                cell("docs", f, &forgot, d[2]),
            ]
        };
        let all = |d: [&Interval; 3]| [at(0.5, d), at(0.75, d), at(1.0, d)].concat();
        let g = Some(0.3);
        assert_eq!(
            frontier_forgetting(g, &all([&less, &less, &same])),
            Supported
        );
        assert_eq!(
            frontier_forgetting(g, &all([&less, &less, &more])),
            Partly,
            "less on two probes but more on a third"
        );
        let mut some = all([&same, &same, &same]);
        some[0].full_minus_frozen = Some(less.clone());
        assert_eq!(frontier_forgetting(g, &some), Partly, "one probe, one gain");
        assert_eq!(
            frontier_forgetting(g, &all([&same, &more, &same])),
            NotSupported
        );
        assert_eq!(
            frontier_forgetting(Some(0.04), &all([&less, &less, &less])),
            CannotBeJudged,
            "too little learning to match"
        );
        let mut none_forgot = all([&less, &less, &less]);
        for c in &mut none_forgot {
            c.full = Some(same.clone());
        }
        assert_eq!(frontier_forgetting(g, &none_forgot), CannotBeJudged);
        assert_eq!(weaker(Supported, Partly), Partly);
        assert_eq!(weaker(NotSupported, CannotBeJudged), CannotBeJudged);
    }

    #[test]
    fn latency_gives_every_outcome() {
        let r = |e, lo, hi, n| Interval {
            estimate: e,
            lo,
            hi,
            n,
            method: Method::T,
        };
        let same = r(1.0, 0.99, 1.01, 5);
        let drift = r(1.03, 1.01, 1.05, 5);
        let slower = r(1.08, 1.05, 1.11, 5);
        let noisy = r(1.01, 0.97, 1.05, 5);
        assert_eq!(latency(Some(&same), Some(&slower)), Supported);
        assert_eq!(latency(Some(&drift), Some(&slower)), Partly);
        assert_eq!(latency(Some(&same), Some(&noisy)), Partly);
        assert_eq!(latency(Some(&drift), Some(&noisy)), NotSupported);
        assert_eq!(
            latency(Some(&r(1.0, 0.99, 1.01, 2)), Some(&r(1.1, 1.05, 1.15, 2))),
            CannotBeJudged,
            "two repeats"
        );
        assert_eq!(latency(None, Some(&slower)), CannotBeJudged);
    }

    #[test]
    fn style_gives_every_outcome() {
        let above = iv(6.0, 2.0, 10.0);
        let within = iv(-4.0, -9.0, 1.0);
        assert_eq!(style(&[above.clone(), above.clone()]), Supported);
        assert_eq!(style(&[above, within.clone()]), Partly);
        assert_eq!(style(&[within]), NotSupported);
        assert_eq!(style(&[]), CannotBeJudged);
    }
}
