//! Cost sections: trainable parameters, peak memory, training speed.

use super::cells::{ci, figure, ids, over_runs, vs_full};
use crate::report::data::Results;
use std::fmt::Write;

/// Trainable parameters per strategy.
pub(super) fn parameters(o: &mut String, data: &Results, files: &[String]) {
    let runs = &data.runs;
    let _ = writeln!(o, "## Trainable parameters\n");
    figure(o, files, "params", "trainable parameters");
    let _ = writeln!(
        o,
        "| strategy | trainable | of all | trainable % | runs |\n| --- | ---: | ---: | ---: | --- |"
    );
    for s in &data.strategies {
        let t = data.across_datasets(s, "params_trainable");
        let r = data.across_datasets(s, "trainable_ratio");
        let total = runs
            .iter()
            .find(|x| &x.strategy == s)
            .map_or(f64::NAN, |x| x.params_total as f64);
        let _ = writeln!(
            o,
            "| {s} | {} | {:.0} | {} | {} |",
            t.map_or("n/a".into(), |t| format!("{:.0}", t.mean)),
            total,
            r.map_or("n/a".into(), |r| format!("{:.2}", 100.0 * r.mean)),
            ids(data, None, s)
        );
    }
}

/// Peak heap and RSS per strategy, and the paired change against full.
pub(super) fn memory(o: &mut String, data: &Results, files: &[String]) {
    let _ = writeln!(o, "\n## Peak memory\n");
    figure(o, files, "memory", "peak memory");
    let _ = writeln!(
        o,
        "Cells: mean [95% t interval] over every run of the strategy (datasets x seeds); \"vs full\": the change against full's run of the same dataset and seed, mean [95% t interval] over those pairs. The bench rows (claim 2) measure the same thing interleaved.\n"
    );
    let _ = writeln!(
        o,
        "| strategy | peak heap (GB) | vs full | peak RSS (GB) | vs full | runs |\n| --- | ---: | ---: | ---: | ---: | --- |"
    );
    for s in &data.strategies {
        let _ = writeln!(
            o,
            "| {s} | {} | {} | {} | {} | {} |",
            ci(&over_runs(data, s, "peak_mem_bytes"), 1e-9, 3),
            vs_full(data, s, "peak_mem_bytes"),
            ci(&over_runs(data, s, "peak_rss_bytes"), 1e-9, 3),
            vs_full(data, s, "peak_rss_bytes"),
            ids(data, None, s)
        );
    }
}

/// Training and eval throughput per strategy, and the paired change against full.
pub(super) fn throughput(o: &mut String, data: &Results, files: &[String]) {
    let _ = writeln!(o, "\n## Throughput\n");
    figure(o, files, "throughput", "throughput");
    let _ = writeln!(
        o,
        "Cells: mean [95% t interval] over every run of the strategy (datasets x seeds, run one after another, so host drift is in the spread); \"vs full\" is paired by dataset and seed. Claim 3 is judged from the interleaved bench rows instead.\n"
    );
    let _ = writeln!(
        o,
        "| strategy | train tokens/s | vs full | step p50 (ms) | step p95 (ms) | eval tokens/s | runs |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |"
    );
    for s in &data.strategies {
        let _ = writeln!(
            o,
            "| {s} | {} | {} | {} | {} | {} | {} |",
            ci(&over_runs(data, s, "tokens_per_s"), 1.0, 1),
            vs_full(data, s, "tokens_per_s"),
            ci(&over_runs(data, s, "step_ms_p50"), 1.0, 0),
            ci(&over_runs(data, s, "step_ms_p95"), 1.0, 0),
            ci(&over_runs(data, s, "eval_tokens_per_s"), 1.0, 1),
            ids(data, None, s)
        );
    }
}
