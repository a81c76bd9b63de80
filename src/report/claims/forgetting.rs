//! Claim 5, "catastrophic forgetting is reduced compared with full fine-tuning", judged on
//! learning-forgetting frontiers: per dataset, full's and attn_embed_frozen's frontiers over all
//! their rates and checkpoints, read at matched own-style gains on every out-of-domain probe.

use super::claim::{Claim, FROZEN, claim};
use crate::report::data::Results;
use crate::report::frontier::{
    FRACTIONS, curves_by_seed, difference_at, forgetting_at, max_mean_gain, probes,
};
use crate::report::rules::{self, MatchedForgetting, Verdict};

/// What the rule reads on one dataset.
#[derive(Clone, Debug)]
pub struct DatasetReading {
    pub dataset: String,
    /// Full's and the frozen strategy's maximum mean own-style gain.
    pub full_max: Option<f64>,
    pub frozen_max: Option<f64>,
    /// The smaller of the two: the matched gains are fractions of it.
    pub g_max: Option<f64>,
    pub cells: Vec<MatchedForgetting>,
    pub verdict: Verdict,
}

/// The reading of `dataset` from every run (all rates, all seeds).
pub fn reading(all: &Results, dataset: &str) -> DatasetReading {
    let probes = probes(all);
    // The smallest over probes: a gain read on every probe's frontier.
    let max_gain = |s: &str| {
        probes
            .iter()
            .map(|p| max_mean_gain(&curves_by_seed(all, dataset, s, p)))
            .collect::<Option<Vec<f64>>>()
            .and_then(|v| v.into_iter().min_by(f64::total_cmp))
    };
    let (full_max, frozen_max) = (max_gain("full"), max_gain(FROZEN));
    let g_max = match (full_max, frozen_max) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    };
    let mut cells = Vec::new();
    if let Some(g) = g_max.filter(|g| *g > 0.0) {
        for p in &probes {
            let full = curves_by_seed(all, dataset, "full", p);
            let frozen = curves_by_seed(all, dataset, FROZEN, p);
            for f in FRACTIONS {
                cells.push(MatchedForgetting {
                    probe: p.clone(),
                    fraction: f,
                    full: forgetting_at(&full, f * g).interval,
                    full_minus_frozen: difference_at(&full, &frozen, f * g).interval,
                });
            }
        }
    }
    let verdict = rules::frontier_forgetting(g_max, &cells);
    DatasetReading {
        dataset: dataset.to_string(),
        full_max,
        frozen_max,
        g_max,
        cells,
        verdict,
    }
}

fn summary(r: &DatasetReading) -> String {
    let Some(g) = r.g_max else {
        return format!(
            "{}: no frontier for both full and {FROZEN}: {}",
            r.dataset,
            r.verdict.text()
        );
    };
    let gains: Vec<String> = FRACTIONS.iter().map(|f| format!("{:.3}", f * g)).collect();
    let mut probes: Vec<&str> = r.cells.iter().map(|c| c.probe.as_str()).collect();
    probes.dedup();
    let per_probe: Vec<String> = probes
        .iter()
        .map(|p| {
            let at: Vec<&MatchedForgetting> = r.cells.iter().filter(|c| c.probe == *p).collect();
            let above = at
                .iter()
                .filter(|c| c.full_minus_frozen.as_ref().is_some_and(|i| i.lo > 0.0))
                .count();
            let below = at
                .iter()
                .filter(|c| c.full_minus_frozen.as_ref().is_some_and(|i| i.hi < 0.0))
                .count();
            let last = at
                .last()
                .and_then(|c| c.full_minus_frozen.as_ref())
                .map_or("not reached".into(), |i| i.show(3, " nats", "seeds"));
            format!(
                "{p}: full - {FROZEN} at the largest gain {last}; above 0 at {above}, below 0 at {below} of {} gains",
                at.len()
            )
        })
        .collect();
    format!(
        "**{}: {}** (maximum mean gain full {:.3}, {FROZEN} {:.3} nats; read at {} nats) {}",
        r.dataset,
        r.verdict.text(),
        r.full_max.unwrap_or(f64::NAN),
        r.frozen_max.unwrap_or(f64::NAN),
        gains.join(" / "),
        per_probe.join("; ")
    )
}

pub(super) fn forgetting(all: &Results) -> Claim {
    let c = "5. Catastrophic forgetting is reduced compared with full fine-tuning.";
    let readings: Vec<DatasetReading> = all.datasets.iter().map(|d| reading(all, d)).collect();
    let verdict = readings
        .iter()
        .map(|r| r.verdict)
        .reduce(rules::weaker)
        .unwrap_or(Verdict::CannotBeJudged);
    let measured = if readings.is_empty() {
        "no runs".into()
    } else {
        readings.iter().map(summary).collect::<Vec<_>>().join("; ")
    };
    claim(c, rules::FRONTIER_RULE, measured, verdict)
}
