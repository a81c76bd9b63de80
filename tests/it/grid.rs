//! The grid runner end to end on the tiny fixture: kill and resume, shards, failures recorded,
//! bad grids refused before any training.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::fixture;
use ablate::results::frame::{numbers, strings, strings_required};
use ablate::results::store::read_table;

fn ablate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ablate"))
}

fn run_grid(grid: &Path, results: &Path, extra: &[&str]) -> Output {
    ablate()
        .arg("run")
        .arg(grid)
        .arg("--results")
        .arg(results)
        .args(extra)
        .output()
        .unwrap()
}

/// run_id -> (status, loss curve) from a results folder.
fn summary(results: &Path) -> BTreeMap<String, (String, Vec<f64>)> {
    let runs = read_table(results, "runs").unwrap().unwrap();
    let steps = read_table(results, "steps").unwrap().unwrap();
    let ids = strings_required(&runs, "run_id").unwrap();
    let status = strings_required(&runs, "status").unwrap();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "duplicate run ids in {}",
        results.display()
    );
    let s_ids = strings_required(&steps, "run_id").unwrap();
    let s_step: Vec<i64> = numbers(&steps, "step")
        .unwrap()
        .into_iter()
        .map(|x| x.unwrap() as i64)
        .collect();
    let s_loss: Vec<f64> = numbers(&steps, "loss")
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let mut curves: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for ((id, st), l) in s_ids.into_iter().zip(s_step).zip(s_loss) {
        curves.entry(id).or_default().push((st, l));
    }
    ids.into_iter()
        .zip(status)
        .map(|(id, st)| {
            let mut c = curves.remove(&id).unwrap_or_default();
            c.sort_by_key(|x| x.0);
            (id, (st, c.into_iter().map(|x| x.1).collect()))
        })
        .collect()
}

fn grid() -> PathBuf {
    fixture("tiny-grid.toml")
}

#[test]
fn killed_grid_resumes_to_the_uninterrupted_result() {
    let whole = tempfile::tempdir().unwrap();
    let out = run_grid(&grid(), whole.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = summary(whole.path());
    assert_eq!(want.len(), 6);
    assert!(want.values().all(|(s, c)| s == "ok" && c.len() == 6));

    let dir = tempfile::tempdir().unwrap();
    let mut child = ablate()
        .arg("run")
        .arg(grid())
        .arg("--results")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runs_dir = dir.path().join("runs");
    // Finished runs only: a run being written has a temporary name until its rename.
    let finished = || {
        std::fs::read_dir(&runs_dir).map_or(0, |d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "parquet"))
            })
            .count()
        })
    };
    let t0 = Instant::now();
    while finished() < 1 {
        assert!(t0.elapsed() < Duration::from_secs(60), "no run finished");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL, mid-grid
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let partial = finished();
    assert!(partial < 6, "the grid finished before it could be killed");

    let out = run_grid(&grid(), dir.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{partial} already finished")),
        "{stdout}"
    );
    assert_eq!(summary(dir.path()), want);

    // A finished grid runs nothing again.
    let out = run_grid(&grid(), dir.path(), &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 to run"));
}

#[test]
fn shards_together_equal_the_whole_grid() {
    let whole = tempfile::tempdir().unwrap();
    assert!(run_grid(&grid(), whole.path(), &[]).status.success());
    let dir = tempfile::tempdir().unwrap();
    let a = tempfile::tempdir().unwrap();
    for (k, d) in [("1/2", a.path()), ("2/2", dir.path())] {
        let out = run_grid(&grid(), d, &["--shard", k]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (s1, s2) = (summary(a.path()), summary(dir.path()));
    assert!(!s1.is_empty() && !s2.is_empty());
    assert!(s1.keys().all(|k| !s2.contains_key(k)), "shards overlap");
    let mut union = s1;
    union.extend(s2);
    assert_eq!(union, summary(whole.path()));
}

fn write_grid(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("grid.toml");
    let header = format!(
        "models = [\"{}\"]\ncatalog = \"{}\"\nseq_len = 16\n",
        fixture("tiny-gpt-neo").display(),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("ablations/datasets.toml")
            .display()
    );
    std::fs::write(&p, header + body).unwrap();
    p
}

#[test]
fn a_failed_run_is_recorded_and_the_grid_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let g = write_grid(
        dir.path(),
        "datasets = [\"alice\"]\nstrategies = [\"full\", \"lora\"]\neval_corpora = [\"alice\"]\n[train]\nsteps = 3\nbatch_size = 2\neval_blocks = 2\n[overrides.strategy.full]\nlr = 1e30\nwarmup_steps = 0\ngrad_clip = 0.0\n",
    );
    let res = dir.path().join("results");
    let out = run_grid(&g, &res, &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = read_table(&res, "runs").unwrap().unwrap();
    let strategy = strings_required(&runs, "strategy").unwrap();
    let status = strings_required(&runs, "status").unwrap();
    let error = strings(&runs, "error").unwrap();
    let i = strategy.iter().position(|s| *s == "full").unwrap();
    assert_eq!(status[i], "failed");
    assert!(
        error[i].as_deref().unwrap().contains("diverged"),
        "{:?}",
        error[i]
    );
    let j = strategy.iter().position(|s| *s == "lora").unwrap();
    assert_eq!(status[j], "ok");
}

#[test]
fn bad_grids_fail_before_any_training() {
    let cases = [
        (
            "datasets = [\"alice\", \"poetry\"]\nstrategies = [\"full\"]\n",
            "no dataset named `poetry`",
        ),
        (
            "datasets = [\"alice\"]\nstrategies = [\"typo\"]\n[custom_strategies.typo]\ntrain = [\"(\"]\n",
            "not a valid regex",
        ),
        (
            "datasets = [\"alice\"]\nstrategies = [\"typo\"]\n[custom_strategies.typo]\ntrain = [\"\\\\.mpl\\\\.\"]\n",
            "matches no parameter",
        ),
        (
            "datasets = [\"alice\"]\nstrategies = [\"full\", \"lora\", \"full\"]\n",
            "lists `full` twice",
        ),
        (
            "datasets = [\"alice\"]\nstrategies = [\"full\"]\n[train]\nstepz = 3\n",
            "unknown field `stepz`",
        ),
        (
            "datasets = [\"alice\"]\nstrategies = [\"full\"]\nseedz = [1]\n",
            "line 6",
        ),
        (
            "datasets = [\"alice\"]\nstrategies = [\"full\"]\ndevice = \"tpu\"\n",
            "unknown device `tpu`",
        ),
        (
            "datasets = [\"alice\"]\nstrategies = [\"full\"]\n[lr_sweep]\nlora = [1e-3]\n",
            "[lr_sweep] `lora` names a strategy that is not in the grid",
        ),
        (
            "datasets = [\"alice\"]\nstrategies = [\"full\"]\n[lr_sweep]\nfull = []\n",
            "[lr_sweep] `full` lists no learning rate",
        ),
        (
            "datasets = [\"alice\"]\nstrategies = [\"full\"]\n[lr_sweep]\nfull = [-1e-3]\n",
            "`lr` must be a positive number",
        ),
    ];
    for (body, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let g = write_grid(dir.path(), body);
        let res = dir.path().join("results");
        let out = run_grid(&g, &res, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{body}");
        assert!(
            err.contains(want) && err.contains("grid.toml"),
            "{body}: {err}"
        );
        assert!(!res.exists(), "{body}: something ran");
    }
    // A model file that does not exist.
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("grid.toml");
    std::fs::write(&g, format!("models = [\"/no/such/model.gguf\"]\ndatasets = [\"alice\"]\nstrategies = [\"full\"]\ncatalog = \"{}\"\n", Path::new(env!("CARGO_MANIFEST_DIR")).join("ablations/datasets.toml").display())).unwrap();
    let out = run_grid(&g, &dir.path().join("results"), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("/no/such/model.gguf"),
        "{err}"
    );
}

/// `--dry-run` and `--retry-failed` work for the PyTorch backend too: the listing needs no Python
/// (its ids are the PyTorch ones), and a failed PyTorch row makes its run pending again.
#[test]
fn pytorch_dry_run_and_retry_failed() {
    let dir = tempfile::tempdir().unwrap();
    let list = |extra: &[&str]| {
        let out = run_grid(
            &grid(),
            dir.path(),
            &[&["--framework", "pytorch", "--dry-run"], extra].concat(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listing = list(&[]);
    assert!(
        listing.contains("6 pytorch runs: 0 finished, 6 pending"),
        "{listing}"
    );
    let first_id = listing
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    // Record that run as failed, as the Python side would.
    let row = ablate::results::RunRow {
        run_id: first_id.clone(),
        grid: "tiny".into(),
        framework: "pytorch".into(),
        status: ablate::results::Status::Failed,
        ..Default::default()
    };
    ablate::results::ResultsDir::new(dir.path())
        .write_run(&row, &[], &[])
        .unwrap();
    assert!(list(&[]).contains("6 pytorch runs: 1 finished, 5 pending"));
    assert!(list(&["--retry-failed"]).contains("6 pytorch runs: 1 finished, 6 pending"));
    assert!(!dir.path().join(".plans").exists(), "a dry run wrote plans");
}

/// A learning-rate pilot: one run per rate, each trained without its validation slice and scored
/// on it, and a report that is the picks (PILOT.md), by the lowest validation NLL.
#[test]
fn a_pilot_sweeps_rates_and_picks_by_the_validation_slice() {
    let dir = tempfile::tempdir().unwrap();
    let g = write_grid(
        dir.path(),
        "datasets = [\"alice\"]\nstrategies = [\"full\", \"mlp_only\"]\n\
         [train]\nsteps = 3\nbatch_size = 2\nwarmup_steps = 1\nmeasure_skip_steps = 1\n\
         eval_blocks = 2\neval_batch = 2\nvalidation_blocks = 3\nsamples = 0\n\
         [lr_sweep]\nfull = [1e-4, 3e-3]\n",
    );
    let res = dir.path().join("results");
    let out = run_grid(&g, &res, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = ablate::results::store::read_table(&res, "runs")
        .unwrap()
        .unwrap();
    assert_eq!(runs.height(), 3, "two rates for full, one for mlp_only");
    let mut lrs = ablate::results::frame::numbers(&runs, "lr").unwrap();
    lrs.sort_by(|a, b| a.unwrap().total_cmp(&b.unwrap()));
    assert_eq!(lrs, vec![Some(1e-4), Some(1e-4), Some(3e-3)]);
    let blocks = ablate::results::store::read_table(&res, "eval_blocks")
        .unwrap()
        .unwrap();
    let role = ablate::results::frame::strings_required(&blocks, "role").unwrap();
    let corpus = ablate::results::frame::strings_required(&blocks, "corpus").unwrap();
    let val: Vec<_> = (0..blocks.height())
        .filter(|&i| role[i] == "validation")
        .collect();
    assert_eq!(val.len(), 3 * 3, "3 validation blocks in each of 3 runs");
    assert!(val.iter().all(|&i| corpus[i] == "alice:validation"));

    let out = dir.path().join("report");
    ablate::report::build(&res, &out).unwrap();
    let md = std::fs::read_to_string(out.join("PILOT.md")).unwrap();
    assert!(!out.join("REPORT.md").exists(), "a pilot is not judged");
    let data = ablate::report::data::Results::load(&res, false).unwrap();
    let trials = ablate::report::sweep::trials(&data);
    let full = &trials[&("alice".to_string(), "full".to_string())];
    assert_eq!(full.len(), 2);
    let best = ablate::report::sweep::pick(full).unwrap();
    assert!(full.iter().all(|t| t.after >= best.after));
    assert!(
        md.contains(&format!("- alice / full: lr = {:e}", best.lr)),
        "{md}"
    );
}

/// A tiny grid of `body` run to completion in `dir`: (grid file, results folder).
fn run_tiny_grid(dir: &Path, body: &str) -> (PathBuf, PathBuf) {
    let g = write_grid(dir, body);
    let res = dir.join("results");
    let out = run_grid(&g, &res, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (g, res)
}

/// The candle run and the PyTorch plan score the same sets, from the one eval plan
/// (`train::eval_plan`): the same corpora in the same order, validation slice included, with the
/// same number of blocks and tokens per block.
#[test]
fn the_candle_run_and_the_pytorch_plan_score_the_same_eval_sets() {
    let dir = tempfile::tempdir().unwrap();
    let (g, res) = run_tiny_grid(
        dir.path(),
        "datasets = [\"alice\"]\nstrategies = [\"full\"]\neval_corpora = [\"edgar\", \"general\"]\n[train]\nsteps = 3\nmeasure_skip_steps = 1\nbatch_size = 2\neval_blocks = 3\nvalidation_blocks = 2\n",
    );
    // Candle: the rows it wrote, one per scored block, in scoring order.
    let blocks = read_table(&res, "eval_blocks").unwrap().unwrap();
    let corpus = strings_required(&blocks, "corpus").unwrap();
    let tokens = numbers(&blocks, "tokens").unwrap();
    let mut candle: Vec<(String, Vec<usize>)> = Vec::new();
    for (c, t) in corpus.iter().zip(&tokens) {
        let t = t.unwrap() as usize;
        match candle.last_mut() {
            Some((last, ts)) if last == c => ts.push(t),
            _ => candle.push((c.clone(), vec![t])),
        }
    }
    // The settings that feed the run id have their columns.
    let runs = read_table(&res, "runs").unwrap().unwrap();
    let rows = ablate::results::schema::read_runs(&runs).unwrap();
    assert_eq!(
        (rows[0].validation_blocks, rows[0].sample_tokens),
        (Some(2), Some(40))
    );
    // PyTorch: the plan exported for the same run.
    let grid =
        ablate::runner::resolve(ablate::config::grid::Grid::load(&g).unwrap(), "pytorch").unwrap();
    let plans = dir.path().join("plans");
    let opts = ablate::runner::GridOptions {
        results: Some(plans.clone()),
        ..Default::default()
    };
    let (folder, n) = ablate::runner::export::export_plans(&grid, &opts).unwrap();
    assert_eq!(n, 1);
    let file = std::fs::read_dir(&folder)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let torch: Vec<(String, Vec<usize>)> = plan["eval"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let lens = e[2]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_array().unwrap().len());
            (e[0].as_str().unwrap().to_string(), lens.collect())
        })
        .collect();
    let names: Vec<&str> = torch.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(names, ["alice", "edgar", "general", "alice:validation"]);
    assert_eq!(candle, torch);
}

/// `ablate migrate` fills the columns a row lacks from the run's resolved configuration and
/// changes nothing else: rows written before schema v3 come back as a fresh run writes them,
/// the sweep a run is one of included.
#[test]
fn migrate_brings_older_rows_to_the_current_schema_and_changes_nothing_else() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let (g, res) = run_tiny_grid(
        dir.path(),
        "datasets = [\"alice\"]\nstrategies = [\"full\", \"lora\"]\neval_corpora = [\"alice\"]\n[train]\nsteps = 3\nmeasure_skip_steps = 1\nbatch_size = 2\neval_blocks = 2\n[lr_sweep]\nfull = [1e-3, 1e-2]\n",
    );
    let store = ablate::results::ResultsDir::new(&res);
    let ids = store.finished().unwrap();
    assert_eq!(ids.len(), 3);
    let mut fresh = BTreeMap::new();
    for id in &ids {
        let row = store.read_run(id).unwrap().unwrap();
        // As a file from before schema v3: without its columns.
        let mut df = ablate::results::schema::runs_frame(std::slice::from_ref(&row))
            .unwrap()
            .drop_many(["validation_blocks", "sample_tokens", "lr_sweep"]);
        let f = std::fs::File::create(store.path("runs", id)).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
        let old = store.read_run(id).unwrap().unwrap();
        assert_eq!(
            (old.validation_blocks, old.lr_sweep.as_deref()),
            (None, None)
        );
        fresh.insert(id.clone(), row);
    }
    let sweeps: Vec<Option<String>> = fresh.values().map(|r| r.lr_sweep.clone()).collect();
    assert_eq!(
        sweeps
            .iter()
            .filter(|s| s.as_deref() == Some("1e-3,1e-2"))
            .count(),
        2
    );
    assert_eq!(
        sweeps.iter().filter(|s| s.is_none()).count(),
        1,
        "lora is in no sweep"
    );
    let migrate = ablate()
        .args([
            "migrate",
            g.to_str().unwrap(),
            "--results",
            res.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&migrate.stdout);
    assert!(said.contains("3 rows brought"), "{said}");
    for id in &ids {
        assert_eq!(store.read_run(id).unwrap().unwrap(), fresh[id], "{id}");
    }
}

/// A sweep that scores curves is evidence: REPORT.md with the sweep's picks, the frontier
/// tables and charts, every claim row; the curves keep their blocks; no weights are written.
#[test]
fn a_sweep_with_curves_is_judged_on_frontiers() {
    let dir = tempfile::tempdir().unwrap();
    let g = write_grid(
        dir.path(),
        "datasets = [\"alice\"]\nstrategies = [\"full\", \"attn_embed_frozen\"]\n\
         eval_corpora = [\"alice\", \"general\", \"docs\", \"code\"]\n\
         [train]\nsteps = 4\nbatch_size = 2\nwarmup_steps = 1\nmeasure_skip_steps = 1\n\
         eval_blocks = 3\neval_batch = 3\neval_every = 2\ncurve_blocks = 3\n\
         validation_blocks = 3\nsamples = 0\n\
         [lr_sweep]\nfull = [1e-4, 1e-3, 1e-2]\nattn_embed_frozen = [1e-3, 1e-2]\n",
    );
    let res = dir.path().join("results");
    let out = run_grid(&g, &res, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !res.join("weights").exists(),
        "evidence grids save no weights"
    );
    let cb = read_table(&res, "curve_blocks").unwrap().unwrap();
    // 5 runs x 3 curve points x (alice, general, docs, code, validation) x 3 blocks.
    assert_eq!(cb.height(), 5 * 3 * 5 * 3);

    let report = dir.path().join("report");
    ablate::report::build(&res, &report).unwrap();
    let md = std::fs::read_to_string(report.join("REPORT.md")).unwrap();
    for want in [
        "## Learning rates",
        "## Learning-forgetting frontiers",
        "### Forgetting at matched gains",
        "### Claim 5's reading",
        "### Same rate",
        "| 4. The training loss",
        "| 5. Catastrophic forgetting",
        "| 7. Partial fine-tuning adds no inference latency",
    ] {
        assert!(md.contains(want), "{want} missing:\n{md}");
    }
    for f in ["learning_rates.png", "frontiers.png", "frontiers.svg"] {
        assert!(report.join(f).is_file(), "{f}");
    }
    // The per-strategy sections read each strategy's pick only: one rate per strategy in setup.
    let data = ablate::report::data::Results::load(&res, false).unwrap();
    let picks = ablate::report::sweep::picks(&data);
    assert_eq!(picks.len(), 2);
    let full = picks.iter().find(|p| p.strategy == "full").unwrap();
    assert_eq!(full.trials.len(), 3);
    let kept = ablate::report::sweep::picked_runs(&data, &picks);
    assert_eq!(kept.len(), 2, "one run per strategy at its pick");
    let edge = full.edge;
    let lr_line = format!(
        "**pick**{}",
        match edge {
            ablate::report::sweep::Edge::Interior => String::new(),
            e => format!(" ({})", e.text()),
        }
    );
    assert!(md.contains(&lr_line), "{lr_line}\n{md}");
}

/// A part file inherits its base's keys and overrides them key by key ([train] one level down);
/// a base that cannot be read is named with the part that asked for it.
#[test]
fn grid_parts_inherit_a_base() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_grid(
        dir.path(),
        "name = \"program\"\ndatasets = [\"alice\"]\nstrategies = [\"full\"]\n\
         [train]\nsteps = 7\nbatch_size = 2\nlr = 1e-4\n",
    );
    let part = dir.path().join("part.toml");
    std::fs::write(
        &part,
        "base = \"grid.toml\"\nstrategies = [\"full\", \"lora\"]\nseeds = [3]\n\
         [train]\nbatch_size = 1\n[lr_sweep]\nlora = [1e-3, 3e-3]\n",
    )
    .unwrap();
    let grid = ablate::config::grid::Grid::load(&part).unwrap();
    assert_eq!(grid.name, "program");
    // A part of a part: overrides merge key by key; an unnamed base names the results folder.
    let unnamed = dir.path().join("unnamed.toml");
    std::fs::write(
        &unnamed,
        format!(
            "{}[overrides.strategy.full]\nlr = 5e-4\nsteps = 9\n",
            std::fs::read_to_string(&base)
                .unwrap()
                .replace("name = \"program\"\n", "")
        ),
    )
    .unwrap();
    let child = dir.path().join("child.toml");
    std::fs::write(
        &child,
        "base = \"unnamed.toml\"\n[overrides.strategy.full]\nlr = 7e-4\n",
    )
    .unwrap();
    let g = ablate::config::grid::Grid::load(&child).unwrap();
    assert_eq!(g.name, "unnamed");
    assert_eq!((g.runs[0].settings.lr, g.runs[0].settings.steps), (7e-4, 9));
    assert_eq!(grid.runs.len(), 3, "full once, lora at two rates");
    for r in &grid.runs {
        assert_eq!((r.settings.steps, r.settings.batch_size, r.seed), (7, 1, 3));
    }
    let lrs: Vec<f64> = grid.runs.iter().map(|r| r.settings.lr).collect();
    assert_eq!(lrs, vec![1e-4, 1e-3, 3e-3]);
    // The base's own runs are unchanged by the part.
    assert_eq!(
        ablate::config::grid::Grid::load(&base).unwrap().runs.len(),
        1
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "base = \"missing.toml\"\n").unwrap();
    let e = format!("{:#}", ablate::config::grid::Grid::load(&bad).unwrap_err());
    assert!(e.contains("bad.toml") && e.contains("missing.toml"), "{e}");
    let cycle = dir.path().join("cycle.toml");
    std::fs::write(&cycle, "base = \"cycle.toml\"\n").unwrap();
    let e = format!(
        "{:#}",
        ablate::config::grid::Grid::load(&cycle).unwrap_err()
    );
    assert!(e.contains("a cycle"), "{e}");
}

/// `ablate bench --latency` writes one row per (repeat, variant, measure), every variant in every
/// repeat, with how generation gets its tokens.
#[test]
fn latency_bench_writes_every_variant_in_every_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let out = ablate()
        .args([
            "--threads",
            "1",
            "bench",
            "--latency",
            "--repeats",
            "3",
            "--seq-len",
            "16",
        ])
        .arg("--model")
        .arg(fixture("tiny-llama"))
        .arg("--results")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let df = read_table(dir.path(), "latency").unwrap().unwrap();
    let rows = ablate::results::schema::read_latency(&df).unwrap();
    assert_eq!(rows.len(), 3 * 4 * 3);
    for v in ablate::bench::latency::VARIANTS {
        for m in ["forward_1x16", "token_1x16", "forward_4x16"] {
            let n = rows
                .iter()
                .filter(|r| r.variant == v && r.measure == m)
                .count();
            assert_eq!(n, 3, "{v} {m}");
        }
    }
    assert!(
        rows.iter()
            .all(|r| r.seconds > 0.0 && r.generation.contains("no KV cache"))
    );
    // The order rotates: repeat 1 starts with the variant repeat 0 measured second.
    let first = |rep: u64| {
        rows.iter()
            .find(|r| r.repeat == rep)
            .unwrap()
            .variant
            .clone()
    };
    assert_eq!(
        (first(0), first(1)),
        ("base".to_string(), "partial".to_string())
    );
}
