//! REPORT.md: setup, claims with verdicts, each chart with the table behind it (every row lists
//! the run ids it comes from), samples, and every run.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::claims::{Claim, FROZEN};
use super::compare::{at_gain, matched_gain, paired_pct};
use super::data::{Results, Run};
use super::stats::t_interval;
use crate::measure::stats::mean;

fn distinct<'a>(runs: &'a [Run], f: impl Fn(&'a Run) -> String) -> String {
    let set: BTreeSet<String> = runs.iter().map(f).collect();
    set.into_iter().collect::<Vec<_>>().join(", ")
}

/// `mean [lo, hi]` (95% t interval) over two or more values, the value alone for one.
fn ci(v: &[f64], scale: f64, digits: usize) -> String {
    match (v.len(), t_interval(v)) {
        (0, _) => "n/a".into(),
        (_, Some(i)) => format!(
            "{:.digits$} [{:.digits$}, {:.digits$}]",
            i.estimate * scale,
            i.lo * scale,
            i.hi * scale
        ),
        _ => format!("{:.digits$}", v[0] * scale),
    }
}

/// One value per ok run of the strategy, over every dataset and seed.
fn over_runs(data: &Results, s: &str, metric: &str) -> Vec<f64> {
    data.datasets
        .iter()
        .flat_map(|d| data.values(d, s, metric))
        .collect()
}

/// % change of `metric` against full's run with the same dataset and seed: the cell.
fn paired_cell(data: &Results, d: &str, s: &str, metric: &str) -> String {
    if s == "full" {
        return "—".into();
    }
    let v = paired_pct(data, d, s, metric);
    if v.is_empty() {
        "n/a".into()
    } else {
        format!("{}%", ci(&v, 1.0, 1))
    }
}

fn vs_full(data: &Results, s: &str, metric: &str) -> String {
    if s == "full" {
        return "—".into();
    }
    let v: Vec<f64> = data
        .datasets
        .iter()
        .flat_map(|d| paired_pct(data, d, s, metric))
        .collect();
    if v.is_empty() {
        "n/a".into()
    } else {
        format!("{}%", ci(&v, 1.0, 1))
    }
}

fn ids(data: &Results, dataset: Option<&str>, strategy: &str) -> String {
    let v: Vec<&str> = data
        .runs
        .iter()
        .filter(|r| {
            r.strategy == strategy && r.status == "ok" && dataset.is_none_or(|d| r.dataset == d)
        })
        .map(|r| r.id.as_str())
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(" ")
    }
}

/// A model source without the machine's folders (`GGUF /root/.cache/x/m.gguf (...)` -> `GGUF
/// m.gguf (...)`): a report must not depend on where the rows were made.
fn without_folders(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            if w.starts_with('/') {
                w.rsplit('/').next().unwrap_or(w)
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ⏎ ").replace('|', "\\|")
}

/// The chart `name.png` with its alt text, if the charts written (`files`) include it.
fn figure(o: &mut String, files: &[String], name: &str, alt: &str) {
    if files.iter().any(|f| f == &format!("{name}.png")) {
        let _ = writeln!(o, "![{alt}]({name}.png)\n");
    }
}

/// `tuning`: how the learning rates were chosen (the pilot's picks), where known.
pub fn render(data: &Results, claims: &[Claim], files: &[String], tuning: Option<&str>) -> String {
    let mut o = String::new();
    title(&mut o, data);
    setup(&mut o, data);
    missing(&mut o, data);
    claims_section(&mut o, data, claims);
    parameters(&mut o, data, files);
    memory(&mut o, data, files);
    throughput(&mut o, data, files);
    perplexity(&mut o, data, files);
    loss_curves(&mut o, data, files);
    quality_cost(&mut o, files);
    forgetting(&mut o, data, files);
    frameworks(&mut o, data);
    samples(&mut o, data);
    limits(&mut o, data, tuning);
    every_run(&mut o, data);
    o
}

/// What a reader needs to weigh every number above: seeds, tokens, eval size, learning rates,
/// hardware, model.
fn limits(o: &mut String, data: &Results, tuning: Option<&str>) {
    let runs = &data.runs;
    let per_cell: BTreeSet<usize> = data
        .datasets
        .iter()
        .flat_map(|d| data.strategies.iter().map(move |s| (d, s)))
        .map(|(d, s)| data.ok_runs(d, s).count())
        .collect();
    let eval = distinct(runs, |r| match r.get("eval_blocks") {
        Some(b) if b > 0.0 => format!("{b:.0} blocks x {} tokens per corpus", r.seq_len),
        Some(_) => "every block of each eval split".into(),
        None => "not recorded (rows older than schema v2)".into(),
    });
    let items = [
        (
            "seeds per cell",
            format!(
                "{}; intervals over seeds need at least 2, and the claims table says which interval each verdict uses",
                per_cell
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (
            "tokens trained per run",
            distinct(runs, |r| {
                format!("{:.0}", r.get("tokens_seen").unwrap_or(f64::NAN))
            }),
        ),
        ("eval size", eval),
        (
            "learning rates",
            format!(
                "{}: {}",
                distinct(runs, |r| format!("{} {:e}", r.strategy, r.lr)),
                tuning.unwrap_or("set in the grid file, not tuned (no pilot given to the report)")
            ),
        ),
        (
            "hardware",
            distinct(runs, |r| format!("{} x {} threads", r.device, r.threads)),
        ),
        ("model", distinct(runs, |r| r.model.clone())),
    ];
    let _ = writeln!(o, "\n## Limits\n");
    for (k, v) in items {
        let _ = writeln!(o, "- {k}: {}", one_line(&v));
    }
}

/// The title and where the numbers come from.
fn title(o: &mut String, data: &Results) {
    let runs = &data.runs;
    let ok = runs.iter().filter(|r| r.status == "ok").count();
    let _ = writeln!(o, "# ablate report: partial fine-tuning, measured\n");
    let _ = writeln!(
        o,
        "Generated by `ablate report` from {} runs ({} ok) of grid(s) {}. Every number below is computed from those Parquet rows; each table row lists the run ids behind it. Figures: PNG here, SVG beside them.\n",
        runs.len(),
        ok,
        distinct(runs, |r| r.grid.clone())
    );
}

/// What ran: model, data, strategies, settings, machine, versions.
fn setup(o: &mut String, data: &Results) {
    let runs = &data.runs;
    // Every row behind the report, reference frameworks' included.
    let every: Vec<Run> = runs
        .iter()
        .chain(data.references.iter().flat_map(|(_, r)| r.runs.iter()))
        .cloned()
        .collect();
    let _ = writeln!(o, "## Setup\n");
    let _ = writeln!(o, "| | |\n| --- | --- |");
    let rows: Vec<(&str, String)> = vec![
        ("model", distinct(runs, |r| r.model.clone())),
        (
            "weights",
            distinct(runs, |r| without_folders(&r.model_source)),
        ),
        ("datasets (trained on)", data.datasets.join(", ")),
        ("strategies", data.strategies.join(", ")),
        ("seeds", distinct(runs, |r| r.seed.to_string())),
        (
            "steps x batch x seq_len",
            distinct(runs, |r| {
                format!("{} x {} x {}", r.steps, r.batch_size, r.seq_len)
            }),
        ),
        (
            "peak learning rate",
            distinct(runs, |r| format!("{} ({})", r.lr, r.strategy)),
        ),
        (
            "schedule",
            distinct(runs, |r| {
                format!("linear warm-up {} steps, cosine decay", r.warmup_steps)
            }),
        ),
        (
            "optimizer",
            distinct(runs, |r| {
                format!(
                    "AdamW ({}), weight decay {} on matrices",
                    r.optimizer, r.weight_decay
                )
            }),
        ),
        (
            "device, threads",
            distinct(runs, |r| format!("{}, {}", r.device, r.threads)),
        ),
        (
            "framework",
            distinct(&every, |r| {
                format!("{} ({})", r.framework, r.framework_version)
            }),
        ),
        (
            "git revision",
            distinct(&every, |r| format!("{} ({})", r.git_rev, r.framework)),
        ),
        ("peak memory", distinct(runs, |r| r.peak_mem_method.clone())),
        ("peak RSS", distinct(runs, |r| r.peak_rss_method.clone())),
    ];
    for (k, v) in rows {
        let _ = writeln!(o, "| {k} | {} |", one_line(&v));
    }
}

/// Cells without a successful run, failed runs, single seeds.
fn missing(o: &mut String, data: &Results) {
    let _ = writeln!(o, "\n## What is missing\n");
    if data.missing.is_empty() {
        let _ = writeln!(o, "Nothing: every dataset x strategy has successful runs.");
    }
    for m in &data.missing {
        let _ = writeln!(o, "- {}", one_line(m));
    }
}

/// Each claim of the reference experiment with its verdict and rule.
fn claims_section(o: &mut String, data: &Results, claims: &[Claim]) {
    let runs = &data.runs;
    let _ = writeln!(o, "\n## The reference experiment's claims\n");
    let _ = writeln!(
        o,
        "The reference fine-tunes EleutherAI/gpt-neo-125M on a GPU with attention and embeddings frozen (`{FROZEN}`). Verdicts compare `{FROZEN}` with `full` by the rule in the last column.\n"
    );
    let _ = writeln!(
        o,
        "| claim | measured here | verdict | rule |\n| --- | --- | --- | --- |"
    );
    for c in claims {
        let _ = writeln!(
            o,
            "| {} | {} | **{}** | {} |",
            c.claim,
            one_line(&c.measured),
            c.verdict.text(),
            c.rule
        );
    }
    let _ = writeln!(
        o,
        "\nWhere this setting differs from the claim's: these runs are on {}, not a GPU, and on {}, not GPT-Neo-125M. On CPU, peak memory is the heap high-water mark (weights, activations, gradients, optimizer state, allocator slack), while the claim's figure is CUDA memory; the trainable share and the savings move with how a model divides its weights between embeddings, attention and MLP (see `ablate params`). Runs are short ({} optimizer steps), so quality and forgetting are early-training effects. `ablations/gpt-neo.toml` runs the reference model itself for users with internet and a GPU.\n",
        distinct(runs, |r| format!("{} x {} threads", r.device, r.threads)),
        distinct(runs, |r| r.model.clone()),
        distinct(runs, |r| r.steps.to_string()),
    );
}

/// Trainable parameters per strategy.
fn parameters(o: &mut String, data: &Results, files: &[String]) {
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
            .map_or(f64::NAN, |x| x.params_total);
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
fn memory(o: &mut String, data: &Results, files: &[String]) {
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
fn throughput(o: &mut String, data: &Results, files: &[String]) {
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

/// Own-corpus perplexity before and after, per dataset and strategy, paired against full.
fn perplexity(o: &mut String, data: &Results, files: &[String]) {
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
fn loss_curves(o: &mut String, data: &Results, files: &[String]) {
    let _ = writeln!(o, "\n## Loss curves\n");
    figure(o, files, "loss_curves", "loss curves");
    let _ = writeln!(
        o,
        "| dataset | strategy | seed | first step loss | last step loss | steps | run |\n| --- | --- | ---: | ---: | ---: | ---: | --- |"
    );
    for d in &data.datasets {
        for s in &data.strategies {
            for r in data.ok_runs(d, s) {
                if let Some(c) = data.curves.get(&r.id).filter(|c| !c.is_empty()) {
                    let _ = writeln!(
                        o,
                        "| {d} | {s} | {} | {:.4} | {:.4} | {} | {} |",
                        r.seed,
                        c[0].1,
                        c[c.len() - 1].1,
                        c.len(),
                        r.id
                    );
                }
            }
        }
    }
}

/// The quality-against-cost chart.
fn quality_cost(o: &mut String, files: &[String]) {
    let _ = writeln!(o, "\n## Quality against cost\n");
    figure(o, files, "pareto", "pareto");
    let _ = writeln!(
        o,
        "The points are the perplexity and peak heap of the tables above (memory) and the trainable share (parameters).\n"
    );
}

/// Probe NLL change after training, and at the own-style gain every strategy reaches.
fn forgetting(o: &mut String, data: &Results, files: &[String]) {
    let _ = writeln!(o, "## Forgetting\n");
    figure(o, files, "forgetting", "learning against forgetting");
    let probes = super::charts::probe_names(data);
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
                            .get(&(r.id.clone(), p.clone()))?;
                        mean(c)
                    })
                    .collect();
                let at: Vec<f64> = g.map_or_else(Vec::new, |g| {
                    data.ok_runs(d, s)
                        .filter_map(|r| {
                            let c = data.evidence.eval_curves.get(&r.id)?;
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

/// ablate against each reference framework: speed, memory, quality, loss curves.
fn frameworks(o: &mut String, data: &Results) {
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
                    let Some(t) = other.ok_runs(d, s).find(|x| x.seed == r.seed) else {
                        continue;
                    };
                    let (Some(a), Some(b)) = (data.curves.get(&r.id), other.curves.get(&t.id))
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
                        r.seed, diff, r.id, t.id
                    );
                }
            }
        }
    }
}

/// Continuations of the sample prompt before and after training: the same prompt and sampling
/// seeds for the base model and every fine-tuned one (the first training seed's run shown).
fn samples(o: &mut String, data: &Results) {
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
        .find_map(|r| Some((r.sample_before.clone()?, r.id.clone())))
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
                    let _ = writeln!(o, "| {d} | {s} | {k} | {t} | {} |", r.id);
                }
            }
        }
    }
}

/// Every run with its status and error.
fn every_run(o: &mut String, data: &Results) {
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
            r.id,
            r.dataset,
            r.strategy,
            r.seed,
            r.status,
            r.wall_seconds,
            one_line(r.error.as_deref().unwrap_or(""))
        );
    }
}
