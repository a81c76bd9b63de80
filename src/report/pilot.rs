//! The learning-rate pilot: a grid that tries several rates per strategy (`[lr_sweep]`) and holds
//! out a validation slice of the training corpus. Its report is one table and one pick per
//! (dataset, strategy): the rate with the lowest mean validation NLL after training. The rule is
//! fixed here, before any pilot ran; the validation blocks are disjoint from every block a report
//! scores, so picking by them does not tune on the test set.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::data::Results;
use crate::measure::stats::mean;
use crate::results::Status;

/// A pilot is a grid whose runs belong to a learning-rate sweep, as the runner recorded it.
pub fn is_pilot(data: &Results) -> bool {
    data.runs.iter().any(|r| r.lr_sweep.is_some())
}

/// One tried rate of one (dataset, strategy): mean validation NLL before and after, over seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    pub lr: f64,
    pub before: f64,
    pub after: f64,
    pub seeds: usize,
}

/// (dataset, strategy) -> trials by rising rate, from the ok runs with a validation slice.
pub fn trials(data: &Results) -> BTreeMap<(String, String), Vec<Trial>> {
    let mut by: BTreeMap<(String, String, u64), Vec<(f64, f64)>> = BTreeMap::new();
    for r in data.runs.iter().filter(|r| r.status == Status::Ok) {
        let Some(blocks) = data.evidence.validation.get(&r.run_id) else {
            continue;
        };
        let b: Vec<f64> = blocks.iter().map(|x| x.0).collect();
        let a: Vec<f64> = blocks.iter().map(|x| x.1).collect();
        if let (Some(b), Some(a)) = (mean(&b), mean(&a)) {
            by.entry((r.dataset.clone(), r.strategy.clone(), r.lr.to_bits()))
                .or_default()
                .push((b, a));
        }
    }
    let mut out: BTreeMap<(String, String), Vec<Trial>> = BTreeMap::new();
    for ((d, s, lr), v) in by {
        let (b, a): (Vec<f64>, Vec<f64>) = v.iter().copied().unzip();
        out.entry((d, s)).or_default().push(Trial {
            lr: f64::from_bits(lr),
            before: mean(&b).unwrap_or(f64::NAN),
            after: mean(&a).unwrap_or(f64::NAN),
            seeds: v.len(),
        });
    }
    for t in out.values_mut() {
        t.sort_by(|x, y| x.lr.total_cmp(&y.lr));
    }
    out
}

/// Cells by dataset, then strategy in the report's order (presets first).
fn canonical(
    all: &BTreeMap<(String, String), Vec<Trial>>,
) -> Vec<(&(String, String), &Vec<Trial>)> {
    let mut names: Vec<String> = all.keys().map(|k| k.1.clone()).collect();
    super::style::order(&mut names);
    let mut v: Vec<_> = all.iter().collect();
    v.sort_by_key(|((d, s), _)| (d.clone(), names.iter().position(|n| n == s)));
    v
}

/// The rule: the rate with the lowest validation NLL after training (the lower rate on an exact
/// tie); None when no trial finished with a finite NLL.
pub fn pick(trials: &[Trial]) -> Option<&Trial> {
    trials
        .iter()
        .filter(|t| t.after.is_finite())
        .min_by(|a, b| a.after.total_cmp(&b.after).then(a.lr.total_cmp(&b.lr)))
}

/// PILOT.md: every trial, the pick per cell, and where a pick sits at the edge of the sweep.
pub fn render(data: &Results) -> String {
    let mut o = String::new();
    let grid = data.runs.first().map_or("", |r| r.grid.as_str());
    let model = data.runs.first().map_or("", |r| r.model.as_str());
    let _ = writeln!(o, "# Learning-rate pilot: grid `{grid}`, model `{model}`\n");
    let _ = writeln!(
        o,
        "Rule, fixed before the pilot ran: per (dataset, strategy), the rate with the lowest mean \
         NLL after training on the validation slice (train blocks held out of training, disjoint \
         from every block a report scores). A pick at the edge of the sweep is marked: the best \
         rate may lie beyond it.\n"
    );
    let _ = writeln!(
        o,
        "| dataset | strategy | lr | seeds | validation NLL before | after | change | pick |"
    );
    let _ = writeln!(o, "|---|---|---:|---:|---:|---:|---:|---|");
    let all = trials(data);
    let mut picks = Vec::new();
    for ((d, s), t) in canonical(&all) {
        let best = pick(t);
        for x in t {
            let chosen = best.is_some_and(|b| b.lr == x.lr);
            let edge = chosen && t.len() > 1 && (x.lr == t[0].lr || x.lr == t[t.len() - 1].lr);
            let mark = match (chosen, edge) {
                (true, true) => "**pick** (edge of sweep)",
                (true, false) => "**pick**",
                _ => "",
            };
            let _ = writeln!(
                o,
                "| {d} | {s} | {:e} | {} | {:.4} | {:.4} | {:+.4} | {mark} |",
                x.lr,
                x.seeds,
                x.before,
                x.after,
                x.after - x.before
            );
        }
        if let Some(b) = best {
            picks.push(format!("- {d} / {s}: lr = {:e}", b.lr));
        }
    }
    let failed = data.runs.iter().filter(|r| r.status != Status::Ok).count();
    let _ = writeln!(o, "\n## Picks\n\n{}\n", picks.join("\n"));
    if failed > 0 {
        let _ = writeln!(o, "{failed} run(s) did not finish and are left out.\n");
    }
    if all.is_empty() {
        let _ = writeln!(
            o,
            "No run has a validation slice (`validation_blocks` = 0): nothing to pick by.\n"
        );
    }
    o
}

/// One line for a report's Limits: the picks, and whether the rows use them.
pub fn summary(pilot: &Results, used: &Results) -> String {
    let grid = pilot.runs.first().map_or("", |r| r.grid.as_str());
    let all = trials(pilot);
    let mut parts = Vec::new();
    for ((d, s), t) in canonical(&all) {
        let Some(best) = pick(t) else { continue };
        let edge = t.len() > 1 && (best.lr == t[0].lr || best.lr == t[t.len() - 1].lr);
        let tried: Vec<String> = t.iter().map(|x| format!("{:e}", x.lr)).collect();
        let used_lrs: Vec<String> = {
            let mut v: Vec<f64> = used
                .runs
                .iter()
                .filter(|r| &r.strategy == s)
                .map(|r| r.lr)
                .collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v.iter().map(|x| format!("{x:e}")).collect()
        };
        let agrees = used_lrs.len() == 1 && used_lrs[0] == format!("{:e}", best.lr);
        parts.push(format!(
            "{s}: tried {} on {d}, picked {:e}{}{}",
            tried.join(" / "),
            best.lr,
            if edge { " (edge of the sweep)" } else { "" },
            if agrees {
                String::new()
            } else {
                format!(", but these rows use {}", used_lrs.join(" / "))
            }
        ));
    }
    format!(
        "tuned by the learning-rate pilot (grid `{grid}`, {} runs, lowest NLL on a validation slice of the training corpus held out of training): {}",
        pilot.runs.len(),
        parts.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(lr: f64, after: f64) -> Trial {
        Trial {
            lr,
            before: 3.0,
            after,
            seeds: 1,
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
}
