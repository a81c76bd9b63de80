//! Quality sections: perplexity, training loss, quality against cost, learning against forgetting.

use super::cells::{ci, figure, ids, paired_cell};
use crate::measure::stats::mean;
use crate::report::compare::{at_gain, matched_gain};
use crate::report::data::Results;
use std::fmt::Write;

/// Own-corpus perplexity before and after, per dataset and strategy, paired against full.
pub(super) fn perplexity(o: &mut String, data: &Results, files: &[String]) {
    let _ = writeln!(o, "\n## Eval perplexity before and after\n");
    figure(o, files, "perplexity", "perplexity");
    let _ = writeln!(
        o,
        "Cells: mean [95% t interval over seeds] (one seed: the value alone). \"vs full\": perplexity after against full's after, same seed (same batches, same eval blocks), mean [95% t interval over seeds].\n"
    );
    let _ = writeln!(
        o,
        "| dataset | strategy | before | after | vs full | final train loss | runs |\n| --- | --- | ---: | ---: | ---: | ---: | --- |"
    );
    for d in &data.datasets {
        for s in &data.strategies {
            let v = |m: &str| data.values(d, s, m);
            let _ = writeln!(
                o,
                "| {d} | {s} | {} | {} | {} | {} | {} |",
                ci(&v("ppl_before"), 1.0, 3),
                ci(&v("ppl_after"), 1.0, 3),
                paired_cell(data, d, s, "ppl_after"),
                ci(&v("final_loss"), 1.0, 3),
                ids(data, Some(d), s)
            );
        }
    }
}

/// First and last training loss of every run.
pub(super) fn loss_curves(o: &mut String, data: &Results, files: &[String]) {
    let _ = writeln!(o, "\n## Loss curves\n");
    figure(o, files, "loss_curves", "loss curves");
    let _ = writeln!(
        o,
        "| dataset | strategy | seed | first step loss | last step loss | steps | run |\n| --- | --- | ---: | ---: | ---: | ---: | --- |"
    );
    for d in &data.datasets {
        for s in &data.strategies {
            for r in data.ok_runs(d, s) {
                if let Some(c) = data.curves.get(&r.run_id).filter(|c| !c.is_empty()) {
                    let _ = writeln!(
                        o,
                        "| {d} | {s} | {} | {:.4} | {:.4} | {} | {} |",
                        r.seed,
                        c[0].1,
                        c[c.len() - 1].1,
                        c.len(),
                        r.run_id
                    );
                }
            }
        }
    }
}

/// The quality-against-cost chart.
pub(super) fn quality_cost(o: &mut String, files: &[String]) {
    let _ = writeln!(o, "\n## Quality against cost\n");
    figure(o, files, "pareto", "pareto");
    let _ = writeln!(
        o,
        "The points are the perplexity and peak heap of the tables above (memory) and the trainable share (parameters).\n"
    );
}

/// Probe NLL change after training, and at the own-style gain every strategy reaches.
pub(super) fn forgetting(o: &mut String, data: &Results, files: &[String]) {
    let _ = writeln!(o, "## Forgetting\n");
    figure(o, files, "forgetting", "learning against forgetting");
    let probes = crate::report::charts::probe_names(data);
    if probes.is_empty() {
        let _ = writeln!(o, "No probe curves were recorded.\n");
        return;
    }
    let _ = writeln!(
        o,
        "NLL change (nats, after minus before; positive = forgetting) on the near-domain control and the out-of-domain probes. \"end\": on the full eval sample after training; \"at g*\": on the curve subsets, interpolated to the own-style NLL gain g* that every strategy of that dataset reaches (the weakest strategy's mean final gain), so strategies are compared at equal learning; \"per nat\" divides by g*. Cells: mean [95% t interval over seeds].\n"
    );
    let mut head = String::from("| trained on | strategy | g* (nats) |");
    let mut rule = String::from("| --- | --- | ---: |");
    for p in &probes {
        head.push_str(&format!(" {p}: end | {p}: at g* | {p}: per nat |"));
        rule.push_str(" ---: | ---: | ---: |");
    }
    head.push_str(" runs |");
    rule.push_str(" --- |");
    let _ = writeln!(o, "{head}\n{rule}");
    for d in &data.datasets {
        let g = matched_gain(data, d);
        for s in &data.strategies {
            let mut row = format!(
                "| {d} | {s} | {} |",
                g.map_or("n/a".into(), |g| format!("{g:.4}"))
            );
            for p in &probes {
                let end: Vec<f64> = data
                    .ok_runs(d, s)
                    .filter_map(|r| {
                        let c = data
                            .evidence
                            .block_changes
                            .get(&(r.run_id.clone(), p.clone()))?;
                        mean(c)
                    })
                    .collect();
                let at: Vec<f64> = g.map_or_else(Vec::new, |g| {
                    data.ok_runs(d, s)
                        .filter_map(|r| {
                            let c = data.evidence.eval_curves.get(&r.run_id)?;
                            at_gain(c, d, p, g)
                        })
                        .collect()
                });
                let per: Vec<f64> = g.map_or_else(Vec::new, |g| at.iter().map(|x| x / g).collect());
                row.push_str(&format!(
                    " {} | {} | {} |",
                    ci(&end, 1.0, 4),
                    ci(&at, 1.0, 4),
                    ci(&per, 1.0, 3)
                ));
            }
            let _ = writeln!(o, "{row} {} |", ids(data, Some(d), s));
        }
    }
    let _ = writeln!(o);
}
