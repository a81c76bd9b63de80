//! The samples before and after training, and every run with its id.

use super::cells::one_line;
use crate::report::data::Results;
use std::fmt::Write;

/// Continuations of the sample prompt before and after training: the same prompt and sampling
/// seeds for the base model and every fine-tuned one (the first training seed's run shown).
pub(super) fn samples(o: &mut String, data: &Results) {
    let runs = &data.runs;
    let _ = writeln!(o, "\n## Samples\n");
    let prompt = runs
        .iter()
        .map(|r| r.sample_prompt.clone())
        .find(|p| !p.is_empty());
    let Some(p) = prompt else {
        let _ = writeln!(o, "No samples were recorded.");
        return;
    };
    let how = runs
        .iter()
        .find_map(|r| {
            let t = r.get("sample_temperature")?;
            let top_p = r.get("sample_top_p").unwrap_or(1.0);
            Some(if t == 0.0 {
                "greedy decoding".to_string()
            } else {
                format!(
                    "nucleus sampling (temperature {t}, top-p {top_p}), sampling seeds 0, 1, ..."
                )
            })
        })
        .unwrap_or_else(|| "greedy decoding".into());
    let _ = writeln!(
        o,
        "Continuations of the prompt “{}” by {how} through candle-transformers' `LogitsProcessor`: the same prompt and sampling seeds before and after training, so a difference is the fine-tuning's (⏎ marks a line break). Shown: the run with the first training seed of each cell.\n",
        one_line(&p)
    );
    let split = |t: &str| -> Vec<String> {
        t.split(crate::train::run::SAMPLE_SEPARATOR)
            .map(one_line)
            .collect()
    };
    if let Some((base, id)) = runs
        .iter()
        .find_map(|r| Some((r.sample_before.clone()?, r.run_id.clone())))
    {
        let _ = writeln!(
            o,
            "| base model, sample | continuation | run |\n| ---: | --- | --- |"
        );
        for (k, t) in split(&base).iter().enumerate() {
            let _ = writeln!(o, "| {k} | {t} | {id} |");
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(
        o,
        "| trained on | strategy | sample | continuation | run |\n| --- | --- | ---: | --- | --- |"
    );
    for d in &data.datasets {
        for s in &data.strategies {
            let Some(r) = data.ok_runs(d, s).min_by_key(|r| r.seed) else {
                continue;
            };
            if let Some(t) = &r.sample_after {
                for (k, t) in split(t).iter().enumerate() {
                    let _ = writeln!(o, "| {d} | {s} | {k} | {t} | {} |", r.run_id);
                }
            }
        }
    }
}

/// Every run with its status and error.
pub(super) fn every_run(o: &mut String, data: &Results) {
    let runs = &data.runs;
    let _ = writeln!(o, "\n## Every run\n");
    let _ = writeln!(
        o,
        "| run | dataset | strategy | seed | status | wall (s) | error |\n| --- | --- | --- | ---: | --- | ---: | --- |"
    );
    for r in runs {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {:.0} | {} |",
            r.run_id,
            r.dataset,
            r.strategy,
            r.seed,
            r.status,
            r.wall_seconds,
            one_line(r.error.as_deref().unwrap_or(""))
        );
    }
}
