//! The sweep and frontier sections: validation NLL against learning rate with the picks; each
//! strategy's forgetting at matched gains on its frontier; claim 5's reading; full against
//! attn_embed_frozen at each rate both ran.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::cells::figure;
use crate::measure::stats::mean;
use crate::report::claims::{FROZEN, forgetting_reading};
use crate::report::compare::same_rate_pairs;
use crate::report::data::Results;
use crate::report::frontier::{FRACTIONS, curves_by_seed, forgetting_at, max_mean_gain, probes};
use crate::report::stats::{Interval, bootstrap, t_interval};
use crate::report::sweep::{Edge, Pick};

fn show(i: Option<&Interval>, digits: usize) -> String {
    match i {
        Some(i) => {
            let how = match i.method {
                crate::report::stats::Method::T => format!("t, {}", i.n),
                crate::report::stats::Method::Bootstrap => "boot".into(),
            };
            format!(
                "{:.digits$} [{:.digits$}, {:.digits$}] ({how})",
                i.estimate, i.lo, i.hi
            )
        }
        None => "—".into(),
    }
}

/// The finished runs of (dataset, strategy), at `lr` where given, as `id id ...`.
fn run_ids(all: &Results, dataset: &str, strategy: &str, lr: Option<f64>) -> String {
    all.ok_runs(dataset, strategy)
        .filter(|r| lr.is_none_or(|lr| r.lr == lr))
        .map(|r| r.run_id.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn learning_rates(o: &mut String, all: &Results, picks: &[Pick], files: &[String]) {
    if picks.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Learning rates\n");
    figure(
        o,
        files,
        "learning_rates",
        "validation NLL against learning rate",
    );
    let _ = writeln!(
        o,
        "Rule, fixed before the sweeps ran: per (dataset, strategy), the rate with the lowest mean NLL after training on the validation slice (train blocks held out of training, disjoint from every block a report scores), over the seeds that ran every rate (seeds added at a pick later do not move it); a rate whose runs failed counts as tried. The pick should be interior (a tried rate on each side); one at the edge is marked, and the best rate may lie beyond it. Cells: mean [95% t interval over seeds] (one seed: the value). Every other section reads each strategy's runs at its pick; the frontiers read every rate.\n"
    );
    let _ = writeln!(
        o,
        "| dataset | strategy | lr | seeds | validation NLL before | after | pick | runs |"
    );
    let _ = writeln!(o, "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |");
    for p in picks {
        for t in &p.trials {
            let after = match t.after_interval() {
                _ if t.after.is_nan() => format!("failed ({} run(s))", t.failed),
                Some(i) => format!("{:.4} [{:.4}, {:.4}]", i.estimate, i.lo, i.hi),
                None => format!("{:.4}", t.after),
            };
            let mark = if t.lr != p.lr {
                String::new()
            } else if p.edge == Edge::Interior {
                "**pick**".into()
            } else {
                format!("**pick** ({})", p.edge.text())
            };
            let _ = writeln!(
                o,
                "| {} | {} | {:e} | {} | {:.4} | {after} | {mark} | {} |",
                p.dataset,
                p.strategy,
                t.lr,
                t.seeds,
                t.before,
                run_ids(all, &p.dataset, &p.strategy, Some(t.lr))
            );
        }
    }
    let edges: Vec<String> = picks
        .iter()
        .filter(|p| p.edge != Edge::Interior)
        .map(|p| format!("{} / {} ({})", p.dataset, p.strategy, p.edge.text()))
        .collect();
    if edges.is_empty() {
        let _ = writeln!(o, "\nEvery pick is interior.\n");
    } else {
        let _ = writeln!(
            o,
            "\nPicks not interior: {}. Their best rate may lie beyond the sweep.\n",
            edges.join(", ")
        );
    }
}

/// The gain every strategy of `dataset` reaches: the smallest maximum mean gain.
fn common_gain(all: &Results, dataset: &str, probe: &str) -> Option<f64> {
    let gains: Vec<f64> = all
        .strategies
        .iter()
        .filter_map(|s| max_mean_gain(&curves_by_seed(all, dataset, s, probe)))
        .collect();
    let g = gains.iter().copied().fold(f64::INFINITY, f64::min);
    (g.is_finite() && g > 0.0).then_some(g)
}

pub(super) fn frontiers(o: &mut String, all: &Results, files: &[String]) {
    let probes = probes(all);
    if probes.is_empty() || all.evidence.eval_curves.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Learning-forgetting frontiers\n");
    figure(o, files, "frontiers", "learning-forgetting frontiers");
    let _ = writeln!(
        o,
        "x: own-style NLL gained since step 0, y: probe NLL change (positive = forgetting), on the curve subsets at every checkpoint of every rate. Thin lines: each rate's checkpoints (seed means; a view around the frontiers, off-scale points on its top edge); thick: the frontier of those seed-mean checkpoints (lower envelope: the least forgetting at each gain; the tables and claim 5 read each seed's own frontier); bars: 95% t intervals over seeds at final points that have several seeds. After Biderman et al. 2024.\n"
    );
    let _ = writeln!(
        o,
        "### Forgetting at matched gains\n\nPer dataset, gains every strategy reaches: 1/2, 3/4 and 1 times the smallest maximum mean own-style gain over strategies. Cells: probe NLL change on the strategy's frontiers at that gain, mean [95% interval] (t over seeds; `boot`: one seed, a bootstrap over the curve's eval blocks, evaluation noise only); — where too few seeds reach it.\n"
    );
    let _ = writeln!(
        o,
        "| dataset | gain (nats) | strategy | {} | runs |",
        probes.join(" | ")
    );
    let _ = writeln!(
        o,
        "| --- | ---: | --- |{} --- |",
        " ---: |".repeat(probes.len())
    );
    for d in &all.datasets {
        let Some(g) = common_gain(all, d, &probes[0]) else {
            continue;
        };
        for f in FRACTIONS {
            for s in &all.strategies {
                let cells: Vec<String> = probes
                    .iter()
                    .map(|p| {
                        let by = curves_by_seed(all, d, s, p);
                        show(forgetting_at(&by, f * g).interval.as_ref(), 3)
                    })
                    .collect();
                let _ = writeln!(
                    o,
                    "| {d} | {:.3} | {s} | {} | {} |",
                    f * g,
                    cells.join(" | "),
                    run_ids(all, d, s, None)
                );
            }
        }
    }
    let _ = writeln!(
        o,
        "\n### Claim 5's reading\n\nfull against {FROZEN} on their own matched gains (fractions of the smaller of the two maximum mean gains); difference = forgetting(full) - forgetting({FROZEN}), positive = the frozen strategy forgets less.\n"
    );
    let _ = writeln!(
        o,
        "| dataset | gain (nats) | probe | full | full - {FROZEN} | verdict | runs |"
    );
    let _ = writeln!(o, "| --- | ---: | --- | ---: | ---: | --- | --- |");
    for d in &all.datasets {
        let r = forgetting_reading(all, d);
        let g = r.g_max.unwrap_or(f64::NAN);
        let ids = format!(
            "{} {}",
            run_ids(all, d, "full", None),
            run_ids(all, d, FROZEN, None)
        );
        for c in &r.cells {
            let _ = writeln!(
                o,
                "| {d} | {:.3} | {} | {} | {} | {} | {ids} |",
                c.fraction * g,
                c.probe,
                show(c.full.as_ref(), 3),
                show(c.full_minus_frozen.as_ref(), 3),
                r.verdict.text()
            );
        }
        if r.cells.is_empty() && !ids.trim().is_empty() {
            let _ = writeln!(o, "| {d} | — | — | — | — | {} | {ids} |", r.verdict.text());
        }
    }
    same_rate(o, all, &probes);
}

/// Mean per-block NLL change after training of a run on a corpus (eval sample).
fn change(all: &Results, id: &str, corpus: &str) -> Option<Vec<f64>> {
    all.evidence
        .block_changes
        .get(&(id.to_string(), corpus.to_string()))
        .cloned()
}

/// full against the frozen strategy at every rate both ran, on the full eval sample.
fn same_rate(o: &mut String, all: &Results, probes: &[String]) {
    let _ = writeln!(
        o,
        "\n### Same rate\n\nfull and {FROZEN} at each learning rate both ran, NLL change after training on the eval sample (nats; own style: negative = learned; probes: positive = forgot). Cells: full / {FROZEN} / difference full - {FROZEN} [95% interval: t over seeds, or with one seed a bootstrap over the paired eval blocks, `boot`].\n"
    );
    let _ = writeln!(
        o,
        "| dataset | lr | seeds | own style | {} | runs |",
        probes.join(" | ")
    );
    let _ = writeln!(
        o,
        "| --- | ---: | ---: | ---: |{} --- |",
        " ---: |".repeat(probes.len())
    );
    for d in &all.datasets {
        let rates =
            |s: &str| -> BTreeSet<u64> { all.ok_runs(d, s).map(|r| r.lr.to_bits()).collect() };
        for lr in rates("full").intersection(&rates(FROZEN)) {
            let lr = f64::from_bits(*lr);
            let pairs: Vec<(&str, &str)> = same_rate_pairs(all, d, FROZEN, lr)
                .into_iter()
                .map(|(f, z)| (f.run_id.as_str(), z.run_id.as_str()))
                .collect();
            if pairs.is_empty() {
                continue;
            }
            let cell = |corpus: &str| -> String {
                let per: Vec<(Vec<f64>, Vec<f64>)> = pairs
                    .iter()
                    .filter_map(|(f, z)| Some((change(all, f, corpus)?, change(all, z, corpus)?)))
                    .collect();
                let means = |k: usize| -> Vec<f64> {
                    per.iter()
                        .filter_map(|p| mean(if k == 0 { &p.0 } else { &p.1 }))
                        .collect()
                };
                let (mf, mz) = (means(0), means(1));
                let diffs: Vec<f64> = mf.iter().zip(&mz).map(|(a, b)| a - b).collect();
                let i = if diffs.len() >= 2 {
                    t_interval(&diffs)
                } else {
                    per.first().and_then(|(a, b)| {
                        let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
                        bootstrap(&d)
                    })
                };
                match (mean(&mf), mean(&mz)) {
                    (Some(a), Some(b)) => format!("{a:.3} / {b:.3} / {}", show(i.as_ref(), 3)),
                    _ => "—".into(),
                }
            };
            let probe_cells: Vec<String> = probes.iter().map(|p| cell(p)).collect();
            let ids: Vec<String> = pairs.iter().map(|(f, z)| format!("{f} {z}")).collect();
            let _ = writeln!(
                o,
                "| {d} | {lr:e} | {} | {} | {} | {} |",
                pairs.len(),
                cell(d),
                probe_cells.join(" | "),
                ids.join(" ")
            );
        }
    }
    o.push('\n');
}
