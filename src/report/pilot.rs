//! The learning-rate pilot: a grid that tries several rates per strategy (`[lr_sweep]`), holds
//! out a validation slice of the training corpus and scores no curves. Its report is one table
//! and one pick per (dataset, strategy) by the sweep's rule (`sweep::pick`).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::data::Results;
use super::sweep::{Trial, pick, trials};
use crate::results::Status;

/// A pilot is a sweep with nothing to judge claims on: its runs belong to a learning-rate sweep,
/// as the runner recorded it, and none scored curves along training. A sweep with curves is
/// evidence, and its report is REPORT.md with the sweep in it.
pub fn is_pilot(data: &Results) -> bool {
    data.runs.iter().any(|r| r.lr_sweep.is_some()) && data.evidence.eval_curves.is_empty()
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
