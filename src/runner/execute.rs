//! Running a grid: check everything, skip what is finished, run the rest one child process at a
//! time, record failures, report progress.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candle_core::Device;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::estimate::estimate_seconds;
use super::record::{FRAMEWORK, base_row, fill, step_rows};
use super::run_id::run_id;
use super::shard::Shard;
use crate::config::grid::{Grid, RunConfig};
use crate::models::ModelSpec;
use crate::results::ResultsDir;
use crate::train::accounting::thousands;
use crate::train::run::{RunPlan, run};
use crate::train::{Strategy, plan_accounting};

#[derive(Clone, Debug, Default)]
pub struct GridOptions {
    /// Results folder (default `results/<grid name>`).
    pub results: Option<PathBuf>,
    pub shard: Option<Shard>,
    /// Run again even when a result exists.
    pub force: bool,
    /// Run again the runs recorded as failed.
    pub retry_failed: bool,
    pub dry_run: bool,
    pub threads: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GridSummary {
    pub in_shard: usize,
    pub skipped: usize,
    pub ok: usize,
    pub failed: usize,
}

/// A progress line from a child to its parent.
#[derive(Serialize, Deserialize)]
struct Progress {
    step: usize,
    steps: usize,
    loss: f64,
    tokens_per_s: f64,
}

const PROGRESS_PREFIX: &str = "ablate-progress ";

pub fn results_dir(grid: &Grid, opts: &GridOptions) -> ResultsDir {
    ResultsDir::new(
        opts.results
            .clone()
            .unwrap_or_else(|| PathBuf::from("results").join(&grid.name)),
    )
}

/// The runs of this shard, with ids, in grid order.
pub fn shard_runs(grid: &Grid, shard: Option<Shard>) -> Vec<(String, &RunConfig)> {
    let shard = shard.unwrap_or_else(Shard::all);
    grid.runs
        .iter()
        .enumerate()
        .filter(|(i, _)| shard.owns(*i))
        .map(|(_, r)| (run_id(r, FRAMEWORK), r))
        .collect()
}

/// Check every (model, strategy) pair against the model's architecture: a rule that matches no
/// parameter fails here, before any training. Returns (total, trainable) per run.
fn check_strategies(grid: &Grid) -> Result<Vec<(usize, usize)>> {
    let mut cache = std::collections::HashMap::new();
    let file = grid.path.display();
    grid.runs
        .iter()
        .map(|r| {
            let key = (r.model_location.clone(), r.strategy.clone());
            if let Some(v) = cache.get(&key) {
                return Ok(*v);
            }
            let arch = ModelSpec::parse(&r.model_location)?
                .arch()
                .with_context(|| format!("{file}: model `{}`", r.model))?;
            let s = Arc::new(Strategy::new(&r.strategy, r.strategy_spec.clone())?);
            let a = plan_accounting(&arch, &s).map_err(|e| anyhow::anyhow!("{file}: {e:#}"))?;
            cache.insert(key, (a.total, a.trainable));
            Ok((a.total, a.trainable))
        })
        .collect()
}

fn dry_run(
    grid: &Grid,
    runs: &[(String, &RunConfig)],
    counts: &[(usize, usize)],
    dir: &ResultsDir,
) -> Result<()> {
    let finished = dir.finished()?;
    let threads = rayon::current_num_threads();
    println!(
        "{:<12} {:<14} {:<8} {:<18} {:>4} {:>14} {:>9} {:>8}  state",
        "run_id", "model", "dataset", "strategy", "seed", "trainable", "%", "est."
    );
    let mut total = 0.0;
    for (id, r) in runs {
        let i = grid
            .runs
            .iter()
            .position(|x| std::ptr::eq(x, *r))
            .unwrap_or(0);
        let (n, t) = counts[i];
        let est = estimate_seconds(
            n,
            t,
            &r.settings,
            r.dataset.seq_len,
            1 + r.eval_corpora.len(),
            threads,
        );
        let state = if finished.contains(id) {
            "done"
        } else {
            "pending"
        };
        if state == "pending" {
            total += est;
        }
        println!(
            "{:<12} {:<14} {:<8} {:<18} {:>4} {:>14} {:>8.2}% {:>7.0}s  {state}",
            id,
            r.model,
            r.dataset.name,
            r.strategy,
            r.seed,
            thousands(t),
            100.0 * t as f64 / n.max(1) as f64,
            est
        );
    }
    println!(
        "{} runs, {} pending, estimated {:.0} min at {threads} threads (results: {})",
        runs.len(),
        runs.iter().filter(|(id, _)| !finished.contains(id)).count(),
        total / 60.0,
        dir.root.display()
    );
    Ok(())
}

pub fn run_grid(grid_path: &Path, opts: &GridOptions) -> Result<GridSummary> {
    let grid = Grid::load(grid_path)?;
    let counts = check_strategies(&grid)?;
    let dir = results_dir(&grid, opts);
    let runs = shard_runs(&grid, opts.shard);
    if opts.dry_run {
        dry_run(&grid, &runs, &counts, &dir)?;
        return Ok(GridSummary {
            in_shard: runs.len(),
            ..Default::default()
        });
    }
    let finished = dir.finished()?;
    let mut summary = GridSummary {
        in_shard: runs.len(),
        ..Default::default()
    };
    let mut pending = Vec::new();
    for (id, r) in &runs {
        let redo =
            opts.force || (opts.retry_failed && dir.status(id)?.as_deref() == Some("failed"));
        if finished.contains(id) && !redo {
            summary.skipped += 1;
        } else {
            pending.push((id.clone(), *r));
        }
    }
    let bars = MultiProgress::new();
    let overall = bars.add(ProgressBar::new(pending.len() as u64));
    overall.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} runs  elapsed {elapsed}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    overall.set_prefix(grid.name.clone());
    println!(
        "grid {}: {} runs in this shard, {} already finished, {} to run -> {}",
        grid.name,
        runs.len(),
        summary.skipped,
        pending.len(),
        dir.root.display()
    );
    let exe = std::env::current_exe().context("cannot find the ablate executable")?;
    for (id, r) in pending {
        let bar = bars.add(ProgressBar::new(r.settings.steps as u64));
        bar.set_style(
            ProgressStyle::with_template("  {prefix} [{bar:20}] step {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!(
            "{id} {}/{}/{}/{}",
            r.model, r.dataset.name, r.strategy, r.seed
        ));
        let t0 = Instant::now();
        let status = run_child(&exe, grid_path, &id, &dir, opts.threads, &bar);
        bar.finish_and_clear();
        bars.remove(&bar);
        let status = match status {
            Ok(()) => dir.status(&id)?.unwrap_or_else(|| "failed".into()),
            Err(e) => {
                // The child died without recording (crash, kill, out of memory): record it here.
                let mut row = base_row(&grid.name, &id, r, &chrono::Utc::now().to_rfc3339());
                row.error = Some(format!("{e:#}"));
                row.wall_seconds = t0.elapsed().as_secs_f64();
                dir.write_run(&row, &[], &[])?;
                "failed".into()
            }
        };
        let line = format!(
            "{id} {}/{}/{}/seed {}: {status} ({:.0} s)",
            r.model,
            r.dataset.name,
            r.strategy,
            r.seed,
            t0.elapsed().as_secs_f64()
        );
        bars.println(&line).ok();
        if bars.is_hidden() {
            println!("{line}");
        }
        if status == "ok" {
            summary.ok += 1;
        } else {
            summary.failed += 1;
        }
        overall.inc(1);
    }
    overall.finish_and_clear();
    Ok(summary)
}

fn run_child(
    exe: &Path,
    grid: &Path,
    id: &str,
    dir: &ResultsDir,
    threads: Option<usize>,
    bar: &ProgressBar,
) -> Result<()> {
    let mut cmd = Command::new(exe);
    if let Some(t) = threads {
        cmd.arg("--threads").arg(t.to_string());
    }
    cmd.arg("run")
        .arg(grid)
        .args(["--one", id, "--results"])
        .arg(&dir.root)
        .env("ABLATE_PARENT_PID", std::process::id().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("cannot start a run process")?;
    let mut stderr = child.stderr.take().context("no stderr")?;
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out)
            .lines()
            .map_while(std::result::Result::ok)
        {
            if let Some(json) = line.strip_prefix(PROGRESS_PREFIX)
                && let Ok(p) = serde_json::from_str::<Progress>(json)
            {
                bar.set_position(p.step as u64 + 1);
                bar.set_message(format!("loss {:.3}  {:.0} tok/s", p.loss, p.tokens_per_s));
            }
        }
    }
    let status = child.wait()?;
    let err = err_thread.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let tail: String = err
        .chars()
        .rev()
        .take(2000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    bail!("run process exited with {status}: {}", tail.trim())
}

/// Die with the parent grid process, so a killed grid leaves no orphan run writing later.
fn follow_parent() {
    #[cfg(target_os = "linux")]
    if let Some(ppid) = std::env::var("ABLATE_PARENT_PID")
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    {
        // SAFETY: prctl/getppid have no memory-safety preconditions.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != ppid {
                std::process::exit(1);
            }
        }
    }
}

/// The child side: run one run of the grid in this process and write its results.
pub fn run_one(grid_path: &Path, id: &str, results: &Path) -> Result<()> {
    follow_parent();
    let started = chrono::Utc::now().to_rfc3339();
    let t0 = Instant::now();
    let grid = Grid::load(grid_path)?;
    let dir = ResultsDir::new(results);
    let Some(cfg) = grid.runs.iter().find(|r| run_id(r, FRAMEWORK) == id) else {
        bail!("{}: no run with id {id}", grid_path.display())
    };
    let mut row = base_row(&grid.name, id, cfg, &started);
    let plan = RunPlan {
        model: ModelSpec::parse(&cfg.model_location)?,
        strategy: Arc::new(Strategy::new(&cfg.strategy, cfg.strategy_spec.clone())?),
        dataset: cfg.dataset.clone(),
        others: cfg.eval_corpora.clone(),
        settings: cfg.settings.clone(),
        save_to: Some(dir.root.join("weights").join(format!("{id}.safetensors"))),
    };
    if let Some(p) = &plan.save_to
        && let Some(d) = p.parent()
    {
        std::fs::create_dir_all(d)?;
    }
    let steps_total = cfg.settings.steps;
    let step_tokens =
        (cfg.settings.batch_size * cfg.settings.grad_accum * cfg.dataset.seq_len) as f64;
    let mut steps = Vec::new();
    let result = run(&plan, &Device::Cpu, |s| {
        let p = Progress {
            step: s.step,
            steps: steps_total,
            loss: s.loss,
            tokens_per_s: step_tokens / s.step_s,
        };
        println!(
            "{PROGRESS_PREFIX}{}",
            serde_json::to_string(&p).unwrap_or_default()
        );
        steps.push(s.clone());
    });
    let evals = match result {
        Ok(out) => {
            let evals = fill(&mut row, cfg, &out);
            steps = out.train.steps.clone();
            evals
        }
        Err(e) => {
            row.status = "failed".into();
            row.error = Some(format!("{e:#}"));
            Vec::new()
        }
    };
    row.wall_seconds = t0.elapsed().as_secs_f64();
    dir.write_run(&row, &step_rows(id, &steps), &evals)
}
