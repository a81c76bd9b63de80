//! ablate against each reference framework.

use super::cells::{ci, distinct, ids};
use crate::measure::stats::mean;
use crate::report::compare::counterpart;
use crate::report::data::Results;
use std::fmt::Write;

/// ablate against each reference framework: speed, memory, quality, loss curves.
pub(super) fn frameworks(o: &mut String, data: &Results) {
    for (fw, other) in &data.references {
        let _ = writeln!(o, "\n## ablate against {fw}\n");
        let _ = writeln!(
            o,
            "The same grid through {fw} ({}): same weights, token blocks in the same order, same trainable sets and optimizer settings. Per dataset; cells: mean [95% t interval over seeds] (one seed: the value); ratio = ablate / {fw} of the means.\n",
            distinct(&other.runs, |r| r.framework_version.clone())
        );
        let _ = writeln!(o, "![frameworks](frameworks_{fw}.png)\n");
        let _ = writeln!(
            o,
            "| dataset | strategy | tokens/s ablate | {fw} | ratio | peak RSS ablate (GB) | {fw} | ratio | ppl after ablate | {fw} | ratio | trainable ablate | {fw} | runs |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        for d in &data.datasets {
            for s in &data.strategies {
                let cell = |m: &str, scale: f64, digits: usize| {
                    let (a, b) = (data.values(d, s, m), other.values(d, s, m));
                    let ratio = match (mean(&a), mean(&b)) {
                        (Some(x), Some(y)) if y != 0.0 => format!("{:.3}", x / y),
                        _ => "n/a".into(),
                    };
                    format!(
                        "{} | {} | {ratio}",
                        ci(&a, scale, digits),
                        ci(&b, scale, digits)
                    )
                };
                let t = |r: &Results| {
                    r.stat(d, s, "params_trainable")
                        .map_or("n/a".into(), |v| format!("{:.0}", v.mean))
                };
                let _ = writeln!(
                    o,
                    "| {d} | {s} | {} | {} | {} | {} | {} | {} {} |",
                    cell("tokens_per_s", 1.0, 1),
                    cell("peak_rss_bytes", 1e-9, 3),
                    cell("ppl_after", 1.0, 3),
                    t(data),
                    t(other),
                    ids(data, Some(d), s),
                    ids(other, Some(d), s)
                );
            }
        }
        let _ = writeln!(
            o,
            "\nLoss curves, first steps (same batches): largest relative difference per strategy and dataset.\n"
        );
        let _ = writeln!(
            o,
            "| dataset | strategy | seed | steps compared | max relative loss difference | runs |\n| --- | --- | ---: | ---: | ---: | --- |"
        );
        for d in &data.datasets {
            for s in &data.strategies {
                for r in data.ok_runs(d, s) {
                    let Some(t) = counterpart(other, r) else {
                        continue;
                    };
                    let (Some(a), Some(b)) =
                        (data.curves.get(&r.run_id), other.curves.get(&t.run_id))
                    else {
                        continue;
                    };
                    let n = a.len().min(b.len()).min(20);
                    let diff = (0..n)
                        .map(|i| ((a[i].1 - b[i].1) / b[i].1).abs())
                        .fold(0.0f64, f64::max);
                    let _ = writeln!(
                        o,
                        "| {d} | {s} | {} | {n} | {:.2e} | {} {} |",
                        r.seed, diff, r.run_id, t.run_id
                    );
                }
            }
        }
    }
}
