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

pub const MEMORY_RULE: &str = "saving = 1 - frozen/full peak memory, 95% interval over interleaved repeats: supported if the interval excludes 0 and meets the claimed 25-30% band, partly if it excludes 0 but misses the band, not supported if it includes 0 or a rise";

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

/// One run's training losses, for the "falls steadily" rule.
pub struct LossCurve<'a> {
    pub losses: &'a [f64],
    pub warmup_steps: usize,
    pub diverged: bool,
}

pub const STEADY_RULE: &str = "in every frozen run, after warm-up, the loss smoothed by a moving average over a tenth of the steps (at least 4: one batch of 4 blocks is noisy): supported if it never rises more than 2% above its running minimum and ends below its start, partly if it ends below its start but rises more somewhere, not supported if a run diverged or ends at or above its start";

/// The loss curve as the steady rule sees it: a moving average over a tenth of the steps (>= 4).
pub fn smoothed(v: &[f64]) -> Vec<f64> {
    let w = (v.len() / 10).max(4).min(v.len());
    (0..=v.len() - w)
        .map(|i| v[i..i + w].iter().sum::<f64>() / w as f64)
        .collect()
}

pub fn steady(runs: &[LossCurve]) -> Verdict {
    let usable: Vec<&LossCurve> = runs
        .iter()
        .filter(|r| r.diverged || r.losses.len() >= r.warmup_steps + 5)
        .collect();
    if usable.is_empty() {
        return Verdict::CannotBeJudged;
    }
    let mut all_steady = true;
    for r in usable {
        if r.diverged {
            return Verdict::NotSupported;
        }
        let s = smoothed(&r.losses[r.warmup_steps..]);
        let (first, last) = (s[0], s[s.len() - 1]);
        if last >= first {
            return Verdict::NotSupported;
        }
        let mut min = f64::INFINITY;
        for x in &s {
            min = min.min(*x);
            all_steady &= *x <= min * 1.02;
        }
    }
    if all_steady {
        Verdict::Supported
    } else {
        Verdict::Partly
    }
}

/// One out-of-domain probe at matched learning: how much full fine-tuning forgot (NLL change on
/// the probe, positive = worse), and full's forgetting minus the frozen strategy's (positive =
/// the frozen one forgot less).
pub struct ProbeForgetting<'a> {
    pub probe: &'a str,
    pub full: Interval,
    pub full_minus_frozen: Interval,
}

pub const FORGETTING_RULE: &str = "per out-of-domain probe, NLL change at matched own-style gain, 95% intervals: cannot be judged if fewer than two probes were measured or full fine-tuning forgot measurably on none (interval above 0); else supported if full minus frozen lies above 0 on at least two probes, partly on one, not supported on none";

pub fn forgetting(probes: &[ProbeForgetting]) -> Verdict {
    if probes.len() < 2 || !probes.iter().any(|p| p.full.lo > 0.0) {
        return Verdict::CannotBeJudged;
    }
    match probes
        .iter()
        .filter(|p| p.full_minus_frozen.lo > 0.0)
        .count()
    {
        0 => Verdict::NotSupported,
        1 => Verdict::Partly,
        _ => Verdict::Supported,
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
    fn steady_gives_every_outcome() {
        let falling: Vec<f64> = (0..40).map(|i| 3.0 - 0.02 * i as f64).collect();
        let bumpy: Vec<f64> = (0..40)
            .map(|i| 3.0 - 0.02 * i as f64 + if (20..24).contains(&i) { 0.5 } else { 0.0 })
            .collect();
        let rising: Vec<f64> = (0..40).map(|i| 2.0 + 0.01 * i as f64).collect();
        fn run(losses: &[f64], diverged: bool) -> LossCurve<'_> {
            LossCurve {
                losses,
                warmup_steps: 4,
                diverged,
            }
        }
        let (f, b, r) = (&falling[..], &bumpy[..], &rising[..]);
        assert_eq!(steady(&[run(f, false), run(f, false)]), Supported);
        assert_eq!(steady(&[run(f, false), run(b, false)]), Partly);
        assert_eq!(steady(&[run(f, false), run(r, false)]), NotSupported);
        assert_eq!(
            steady(&[run(f, false), run(&f[..3], true)]),
            NotSupported,
            "diverged"
        );
        assert_eq!(steady(&[run(&f[..6], false)]), CannotBeJudged, "too short");
        assert_eq!(steady(&[]), CannotBeJudged);
    }

    #[test]
    fn forgetting_gives_every_outcome() {
        let p = |name, full: Interval, diff: Interval| ProbeForgetting {
            probe: name,
            full,
            full_minus_frozen: diff,
        };
        let forgot = iv(0.3, 0.1, 0.5);
        let less = iv(0.2, 0.05, 0.35);
        let same = iv(0.0, -0.1, 0.1);
        let two = [
            p("docs", forgot.clone(), less.clone()),
            p("code", forgot.clone(), less.clone()),
        ];
        assert_eq!(forgetting(&two), Supported);
        let one = [
            p("docs", forgot.clone(), less.clone()),
            p("code", forgot.clone(), same.clone()),
        ];
        assert_eq!(forgetting(&one), Partly);
        let none = [
            p("docs", forgot.clone(), same.clone()),
            p("code", forgot.clone(), same.clone()),
        ];
        assert_eq!(forgetting(&none), NotSupported);
        let nothing_forgotten = [
            p("docs", same.clone(), less.clone()),
            p("code", same.clone(), less),
        ];
        assert_eq!(forgetting(&nothing_forgotten), CannotBeJudged);
        assert_eq!(
            forgetting(&[p("docs", forgot, same)]),
            CannotBeJudged,
            "one probe"
        );
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
