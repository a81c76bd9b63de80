//! Claim 4, "the training loss still falls steadily": held-out own-style NLL along training (not
//! the per-batch training loss, noisy by construction at batch 4) and gradient-norm spikes of the
//! frozen strategy against full fine-tuning, seed by seed, at each strategy's picked rate.

use super::claim::{Claim, FROZEN, claim};
use crate::report::compare::full_pair;
use crate::report::data::{Results, Run};
use crate::report::rules::{self, Stability, held_out_steady, spike_ratio};
use crate::report::stats::t_interval;

/// The run's held-out own-style NLL at its curve points, by step.
fn held_out(data: &Results, run: &Run) -> Option<Vec<f64>> {
    let c = data
        .evidence
        .eval_curves
        .get(&run.run_id)?
        .get(&run.dataset)?;
    Some(c.iter().map(|p| p.1).collect())
}

fn spike(data: &Results, run: &Run) -> Option<f64> {
    spike_ratio(
        data.evidence.grad_norms.get(&run.run_id)?,
        run.warmup_steps as usize,
    )
}

pub(super) fn stability(data: &Results) -> Claim {
    let c = "4. The training loss still falls steadily (gradients stay stable).";
    let mut curves = Vec::new();
    let mut ratios = Vec::new();
    let mut seeds = std::collections::BTreeSet::new();
    // Every frozen run at the picked rate counts: one that diverged failed (a).
    let diverged = data
        .runs
        .iter()
        .filter(|r| r.strategy == FROZEN && r.status != crate::results::Status::Ok)
        .filter(|r| r.error.as_deref().is_some_and(|e| e.contains("diverged")))
        .count();
    let (mut frozen_spikes, mut full_spikes) = (Vec::new(), Vec::new());
    for d in &data.datasets {
        for r in data.ok_runs(d, FROZEN) {
            if let Some(h) = held_out(data, r) {
                curves.push(h);
            }
            let full = full_pair(data, r);
            if let (Some(a), Some(b)) = (spike(data, r), full.and_then(|f| spike(data, f))) {
                frozen_spikes.push(a);
                full_spikes.push(b);
                ratios.push(a / b);
                seeds.insert(r.seed);
            }
        }
    }
    let interval = t_interval(&ratios);
    let steady = curves.iter().filter(|c| held_out_steady(c)).count();
    let mean = |v: &[f64]| crate::measure::stats::mean(v).unwrap_or(f64::NAN);
    let spikes = match &interval {
        Some(i) => format!(
            "spike ratio (max / median gradient norm after warm-up) of {FROZEN} over full's: {} (mean spike ratio {:.2} against full's {:.2})",
            i.show(2, "", "(dataset, seed) pairs"),
            mean(&frozen_spikes),
            mean(&full_spikes)
        ),
        None => format!(
            "{} (dataset, seed) pair(s) with gradient norms for both: no interval",
            ratios.len()
        ),
    };
    let measured = format!(
        "held-out own-style NLL falls and never rises 1% above its running minimum in {steady} of {} {FROZEN} runs at the picked rate ({diverged} diverged; {} seed(s)); {spikes}",
        curves.len(),
        seeds.len()
    );
    let evidence = Stability {
        held_out: curves.iter().map(Vec::as_slice).collect(),
        spike_ratios: &ratios,
        spike_interval: interval.as_ref(),
        seeds: seeds.len(),
        diverged,
    };
    claim(
        c,
        rules::STABILITY_RULE,
        measured,
        rules::stability(&evidence),
    )
}
