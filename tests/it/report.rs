//! `ablate report` on a tiny grid's results: every chart is written, output is deterministic,
//! every table row traces to run ids, and missing or failed runs are reported, not fatal.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ablate::results::frame::strings_required;
use ablate::results::store::read_table;
use ablate::results::{ResultsDir, RunRow};

fn run_ids(dir: &Path) -> BTreeSet<String> {
    strings_required(&read_table(dir, "runs").unwrap().unwrap(), "run_id")
        .unwrap()
        .into_iter()
        .collect()
}

const CHARTS: [&str; 7] = [
    "params",
    "memory",
    "throughput",
    "perplexity",
    "loss_curves",
    "pareto",
    "forgetting",
];

#[test]
fn report_is_complete_deterministic_and_traceable() {
    let res = tempfile::tempdir().unwrap();
    crate::common::run_tiny_grid(res.path());
    let ids = run_ids(res.path());
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    ablate::report::build(res.path(), a.path()).unwrap();
    ablate::report::build(res.path(), b.path()).unwrap();
    for c in CHARTS {
        for ext in ["png", "svg"] {
            let name = format!("{c}.{ext}");
            let bytes = std::fs::read(a.path().join(&name)).unwrap();
            assert!(bytes.len() > 1000, "{name} is nearly empty");
            assert_eq!(
                bytes,
                std::fs::read(b.path().join(&name)).unwrap(),
                "{name} differs between builds"
            );
        }
        assert!(
            std::fs::read(a.path().join(format!("{c}.png")))
                .unwrap()
                .starts_with(b"\x89PNG")
        );
    }
    let md = std::fs::read_to_string(a.path().join("REPORT.md")).unwrap();
    assert_eq!(
        md,
        std::fs::read_to_string(b.path().join("REPORT.md")).unwrap()
    );
    for c in CHARTS {
        assert!(md.contains(&format!("]({c}.png)")), "{c} not embedded");
    }
    for id in &ids {
        assert!(md.contains(id.as_str()), "run {id} not in the report");
    }
    // Every row of every results table names the runs it comes from.
    let mut in_results = false;
    let mut checked = 0;
    for line in md.lines() {
        if line.starts_with("## ") {
            in_results = !["## Setup", "## What is missing", "## The reference"]
                .iter()
                .any(|h| line.starts_with(h));
            continue;
        }
        let is_row = line.starts_with("| ")
            && !line.starts_with("| ---")
            && !line.contains("| runs |")
            && !line.contains("| run |");
        if in_results
            && is_row
            && !line.starts_with("| strategy |")
            && !line.starts_with("| dataset |")
            && !line.starts_with("| trained on |")
        {
            assert!(
                ids.iter().any(|id| line.contains(id.as_str())),
                "row without a run id: {line}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} rows checked");
    for n in 1..=6 {
        assert!(md.contains(&format!("| {n}. ")), "claim {n} missing");
    }
}

#[test]
fn missing_and_failed_runs_are_reported_not_fatal() {
    let res = tempfile::tempdir().unwrap();
    crate::common::run_tiny_grid(res.path());
    // Remove every lora run and one seed of full; add a failed run.
    let runs = read_table(res.path(), "runs").unwrap().unwrap();
    let ids = strings_required(&runs, "run_id").unwrap();
    let strategies = strings_required(&runs, "strategy").unwrap();
    let mut removed_full = false;
    for (id, s) in ids.iter().zip(&strategies) {
        if s == "lora" || (s == "full" && !removed_full) {
            removed_full |= s == "full";
            for t in ["runs", "steps", "evals"] {
                std::fs::remove_file(res.path().join(t).join(format!("{id}.parquet"))).unwrap();
            }
        }
    }
    let failed = RunRow {
        run_id: "00000000dead".into(),
        grid: "tiny".into(),
        model: "tiny-gpt-neo".into(),
        dataset: "alice".into(),
        strategy: "mlp_only".into(),
        framework: "candle".into(),
        status: ablate::results::Status::Failed,
        error: Some("out of memory".into()),
        ..RunRow::default()
    };
    ResultsDir::new(res.path())
        .write_run(&failed, &[], &[])
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let summary = ablate::report::build(res.path(), out.path()).unwrap();
    let md = std::fs::read_to_string(out.path().join("REPORT.md")).unwrap();
    assert!(
        md.contains("00000000dead") && md.contains("out of memory"),
        "failed run not reported"
    );
    assert!(md.contains("no successful run for alice / mlp_only"));
    assert!(md.contains("alice / full: a single seed"));
    assert!(summary.missing.len() >= 3, "{:?}", summary.missing);
    for c in CHARTS {
        assert!(out.path().join(format!("{c}.png")).is_file());
    }
}

#[test]
fn no_results_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = ablate::report::build(empty.path(), out.path()).unwrap_err();
    assert!(format!("{err:#}").contains("no results under"), "{err:#}");
}

/// Every file below `dir`, as paths relative to it, not descending into `skip`.
fn files_under(dir: &Path, skip: &[PathBuf]) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, skip: &[PathBuf], out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if !skip.contains(&p) {
                    walk(root, &p, skip, out);
                }
            } else {
                out.insert(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, skip, &mut out);
    out
}

#[test]
fn committed_reports_regenerate_exactly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("results/paper/runs").is_dir(),
        "results/paper is committed"
    );
    // The main report is the frontier programs' on both models (the README's report command);
    // the paper grid's names the pilot's picks; the pilot has its own report.
    for (results, pilot, reports, cmd) in [
        (
            vec![
                root.join("results/frontier"),
                root.join("results/frontier-gemma3"),
            ],
            None,
            root.join("reports"),
            "ablate report --results results/frontier --results results/frontier-gemma3",
        ),
        (
            vec![root.join("results/paper")],
            Some(root.join("results/pilot")),
            root.join("reports/paper"),
            "ablate report --results results/paper --pilot results/pilot --out reports/paper",
        ),
        (
            vec![root.join("results/pilot")],
            None,
            root.join("reports/pilot"),
            "ablate report --results results/pilot --out reports/pilot",
        ),
    ] {
        let out = tempfile::tempdir().unwrap();
        let opts = ablate::report::ReportOptions {
            pilot,
            ..Default::default()
        };
        let summary = ablate::report::build_many(&results, out.path(), opts).unwrap();
        assert!(!summary.files.is_empty());
        // The whole folder: a file the command no longer writes is an orphan (a nested report's
        // own folder, reports/pilot or reports/paper, is compared in its own turn).
        let nested = [root.join("reports/pilot"), root.join("reports/paper")];
        let (written, committed) = (
            files_under(out.path(), &nested),
            files_under(&reports, &nested),
        );
        assert_eq!(
            committed,
            written,
            "{} holds other files than `{cmd}` writes",
            reports.display()
        );
        for f in summary.files {
            let committed = std::fs::read(reports.join(&f)).unwrap_or_default();
            assert!(
                committed == std::fs::read(out.path().join(&f)).unwrap(),
                "{}/{f} is not what `{cmd}` writes: regenerate it",
                reports.display()
            );
        }
    }
}

#[test]
fn runs_of_two_experiments_are_not_pooled() {
    let res = tempfile::tempdir().unwrap();
    let row = |id: &str, grid: &str| RunRow {
        run_id: id.into(),
        grid: grid.into(),
        model: "tiny-gpt-neo".into(),
        dataset: "alice".into(),
        strategy: "full".into(),
        framework: "candle".into(),
        status: ablate::results::Status::Ok,
        ..RunRow::default()
    };
    let dir = ResultsDir::new(res.path());
    dir.write_run(&row("000000000001", "paper"), &[], &[])
        .unwrap();
    dir.write_run(&row("000000000002", "pilot"), &[], &[])
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let msg = format!(
        "{:#}",
        ablate::report::build(res.path(), out.path()).unwrap_err()
    );
    assert!(
        msg.contains("2 experiments")
            && msg.contains("grid `paper`")
            && msg.contains("grid `pilot`"),
        "{msg}"
    );
    // Pooling them is possible, but only when asked for.
    let opts = ablate::report::ReportOptions {
        mix_experiments: true,
        ..Default::default()
    };
    ablate::report::build_with(res.path(), out.path(), opts).unwrap();
    let md = std::fs::read_to_string(out.path().join("REPORT.md")).unwrap();
    assert!(md.contains("paper, pilot"), "the report says what it read");
}

#[test]
fn parquet_of_an_older_schema_is_named() {
    use polars::prelude::*;
    let res = tempfile::tempdir().unwrap();
    let dir = ResultsDir::new(res.path());
    let row = RunRow {
        run_id: "000000000001".into(),
        grid: "tiny".into(),
        status: ablate::results::Status::Ok,
        ..RunRow::default()
    };
    dir.write_run(&row, &[], &[]).unwrap();
    // An older file: the same row without two of today's columns.
    let p = dir.path("runs", "000000000001");
    let df = ParquetReader::new(std::fs::File::open(&p).unwrap())
        .finish()
        .unwrap();
    let mut old = df.drop_many(["ppl_after_general", "saved_bytes"]);
    ParquetWriter::new(std::fs::File::create(&p).unwrap())
        .finish(&mut old)
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let msg = format!(
        "{:#}",
        ablate::report::build(res.path(), out.path()).unwrap_err()
    );
    assert!(
        msg.contains("000000000001.parquet")
            && msg.contains("older")
            && msg.contains("ppl_after_general, saved_bytes"),
        "{msg}"
    );
}

/// Charts, tables and claims pair runs only through `report/compare.rs`: a pairing by seed or by
/// bench repeat written anywhere else in the report fails here.
#[test]
fn paired_arithmetic_lives_in_the_comparison_module() {
    let report = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report");
    let mut files = Vec::new();
    crate::common::rust_files(&report, &mut files);
    let pairing =
        regex::Regex::new(r#"\.seed == |seed == .*\.seed|\("full"\.to_string\(\), \*?rep"#)
            .unwrap();
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        if f.ends_with("compare.rs") {
            assert!(
                pairing.is_match(&text),
                "the pattern no longer sees compare.rs's pairings"
            );
            continue;
        }
        for (i, l) in text.lines().enumerate() {
            if pairing.is_match(l) {
                found.push(format!("{}:{}: {}", f.display(), i + 1, l.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "pairing outside report/compare.rs:\n{}",
        found.join("\n")
    );
}

/// Rewrite every runs row under `dir` with `edit`, in place (same files, same run ids).
fn edit_runs(dir: &Path, edit: impl Fn(&mut RunRow)) {
    let dir = ResultsDir::new(dir);
    for id in dir.finished().unwrap() {
        let mut row = dir.read_run(&id).unwrap().unwrap();
        edit(&mut row);
        dir.rewrite_run(&row).unwrap();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Each model is its own experiment within one report: its own folder and full report, its
/// verdicts from its own rows only, a claims table with a column per model, and the claims on
/// which the models' verdicts differ named as disagreements.
#[test]
fn two_models_are_two_experiments_in_one_report() {
    let res = tempfile::tempdir().unwrap();
    crate::common::run_tiny_grid(res.path());
    // Peak memory set so that claim 2 must differ: the first model's frozen runs save 27%
    // against full (in the claimed band), the twin's use twice full's.
    let full_peak = 1_000_000_000u64;
    let twin = tempfile::tempdir().unwrap();
    copy_tree(res.path(), twin.path());
    edit_runs(res.path(), |r| {
        r.peak_mem_bytes = Some(match r.strategy.as_str() {
            "attn_embed_frozen" => full_peak * 73 / 100,
            _ => full_peak,
        })
    });
    edit_runs(twin.path(), |r| {
        r.model = "tiny-twin".into();
        r.peak_mem_bytes = Some(match r.strategy.as_str() {
            "attn_embed_frozen" => full_peak * 2,
            _ => full_peak,
        })
    });
    let out = tempfile::tempdir().unwrap();
    let summary = ablate::report::build_many(
        &[res.path().to_path_buf(), twin.path().to_path_buf()],
        out.path(),
        Default::default(),
    )
    .unwrap();
    assert!(
        summary
            .files
            .contains(&"tiny-gpt-neo/REPORT.md".to_string())
    );
    assert!(summary.files.contains(&"tiny-twin/memory.png".to_string()));
    for model in ["tiny-gpt-neo", "tiny-twin"] {
        let md = std::fs::read_to_string(out.path().join(model).join("REPORT.md")).unwrap();
        assert!(
            md.contains(&format!("| model | {model} |")),
            "{model}'s report is about {model} alone"
        );
    }
    let md = std::fs::read_to_string(out.path().join("REPORT.md")).unwrap();
    assert!(
        md.contains("| claim | tiny-gpt-neo | tiny-twin | rule |"),
        "{md}"
    );
    let claim2 = md
        .lines()
        .find(|l| l.starts_with("| 2. "))
        .expect("claim 2's row");
    let cells: Vec<&str> = claim2.split(" | ").collect();
    assert!(cells[1].starts_with("**supported**"), "{claim2}");
    assert!(cells[2].starts_with("**not supported**"), "{claim2}");
    let disagree = md.split("### Where the models disagree").nth(1).unwrap();
    assert!(
        disagree.contains(
            "Claim 2: the models disagree (tiny-gpt-neo supported, tiny-twin not supported)"
        ),
        "{disagree}"
    );
    assert!(
        !disagree.contains("Claim 1:"),
        "both read GPT-Neo-125M's config: no disagreement on claim 1"
    );
    assert!(md.contains("[tiny-twin/REPORT.md](tiny-twin/REPORT.md)"));
    // One model under two folders is one experiment given twice: refused, with both named.
    let msg = format!(
        "{:#}",
        ablate::report::build_many(
            &[res.path().to_path_buf(), res.path().to_path_buf()],
            tempfile::tempdir().unwrap().path(),
            Default::default(),
        )
        .unwrap_err()
    );
    assert!(
        msg.contains("runs of model `tiny-gpt-neo` are under both"),
        "{msg}"
    );
}

/// In one folder, each model's runs are read apart: the experiments are found per model, and a
/// model's results hold its runs only.
#[test]
fn one_folder_with_two_models_splits_by_model() {
    use ablate::report::data::{Experiment, Results, find};
    let res = tempfile::tempdir().unwrap();
    let dir = ResultsDir::new(res.path());
    for (id, model) in [
        ("000000000001", "a"),
        ("000000000002", "b"),
        ("000000000003", "b"),
    ] {
        let row = RunRow {
            run_id: id.into(),
            grid: "g".into(),
            model: model.into(),
            dataset: "alice".into(),
            strategy: "full".into(),
            framework: "candle".into(),
            status: ablate::results::Status::Ok,
            ..RunRow::default()
        };
        dir.write_run(&row, &[], &[]).unwrap();
    }
    let found = find(&[res.path().to_path_buf()], false).unwrap();
    assert_eq!(
        found.iter().map(Experiment::folder).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let b = Results::load_only(&found[1], None).unwrap();
    assert_eq!(b.runs.len(), 2);
    assert!(b.runs.iter().all(|r| r.model == "b"));
    // A caller that wants one experiment from the folder is told there are two.
    let msg = format!("{:#}", Results::load(res.path(), false).unwrap_err());
    assert!(msg.contains("2 models (a, b)"), "{msg}");
}
