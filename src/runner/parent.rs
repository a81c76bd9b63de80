//! The parent side of a grid: skip what is finished, run the rest one child process at a time,
//! record failures the child could not record itself, report progress.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::child::{ChildTask, PROGRESS_PREFIX, Progress};
use super::estimate::estimate_seconds;
use super::record::base_row;
use super::{GridOptions, ResolvedGrid, ResolvedRun};
use crate::results::ResultsDir;
use crate::results::Status;
use crate::train::accounting::thousands;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GridSummary {
    pub in_shard: usize,
    pub skipped: usize,
    pub ok: usize,
    pub failed: usize,
}

/// List the shard's runs with trainable parameters, an estimated time and their state.
pub fn dry_run(grid: &ResolvedGrid, opts: &GridOptions) -> Result<()> {
    let dir = opts.results_dir(grid);
    let runs = opts.shard_runs(grid);
    let pending: Vec<&str> = opts
        .pending(grid, &dir)?
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    let results = dir.finished()?;
    let finished = runs.iter().filter(|r| results.contains(&r.id)).count();
    let threads = rayon::current_num_threads();
    println!(
        "{:<12} {:<14} {:<8} {:<18} {:>4} {:>8} {:>14} {:>9} {:>8}  state",
        "run_id", "model", "dataset", "strategy", "seed", "lr", "trainable", "%", "est."
    );
    let mut total = 0.0;
    for r in &runs {
        let c = &r.config;
        let est = estimate_seconds(
            r.params_total,
            r.params_trainable,
            &c.settings,
            c.dataset.seq_len,
            1 + c.eval_corpora.len() + usize::from(c.chat_probe.is_some()),
            threads,
        );
        let state = if pending.contains(&r.id.as_str()) {
            total += est;
            "pending"
        } else {
            "done"
        };
        println!(
            "{:<12} {:<14} {:<8} {:<18} {:>4} {:>8.0e} {:>14} {:>8.2}% {:>7.0}s  {state}",
            r.id,
            c.model,
            c.dataset.name,
            c.strategy,
            c.seed,
            c.settings.lr,
            thousands(r.params_trainable),
            100.0 * r.params_trainable as f64 / r.params_total.max(1) as f64,
            est
        );
    }
    println!(
        "{} {} runs: {} finished, {} pending, estimated {:.0} min at {threads} threads (results: {})",
        runs.len(),
        grid.framework,
        finished,
        pending.len(),
        total / 60.0,
        dir.root.display()
    );
    Ok(())
}

pub fn run_grid(grid: &ResolvedGrid, opts: &GridOptions) -> Result<GridSummary> {
    let dir = opts.results_dir(grid);
    let runs = opts.shard_runs(grid);
    let pending = opts.pending(grid, &dir)?;
    let mut summary = GridSummary {
        in_shard: runs.len(),
        skipped: runs.len() - pending.len(),
        ..Default::default()
    };
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
    for r in pending {
        let c = &r.config;
        let id = &r.id;
        let bar = bars.add(ProgressBar::new(c.settings.steps as u64));
        bar.set_style(
            ProgressStyle::with_template("  {prefix} [{bar:20}] step {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let label = format!(
            "{}/{}/{}/seed {}",
            c.model, c.dataset.name, c.strategy, c.seed
        );
        bar.set_prefix(format!("{id} {label}"));
        let t0 = Instant::now();
        let status = run_child(&exe, grid, r, &dir, opts.threads, &bar);
        bar.finish_and_clear();
        bars.remove(&bar);
        let status = match status {
            Ok(()) => dir.status(id)?.unwrap_or(Status::Failed),
            Err(e) => {
                // The child died without recording (crash, kill, out of memory): record it here.
                let mut row = base_row(&grid.name, id, c, &chrono::Utc::now().to_rfc3339());
                row.error = Some(format!("{e:#}"));
                row.wall_seconds = t0.elapsed().as_secs_f64();
                dir.write_run(&row, &[], &[])?;
                Status::Failed
            }
        };
        let line = format!(
            "{id} {label}: {status} ({:.0} s)",
            t0.elapsed().as_secs_f64()
        );
        bars.println(&line).ok();
        if bars.is_hidden() {
            println!("{line}");
        }
        if status == Status::Ok {
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
    grid: &ResolvedGrid,
    run: &ResolvedRun,
    dir: &ResultsDir,
    threads: Option<usize>,
    bar: &ProgressBar,
) -> Result<()> {
    let task = serde_json::to_string(&ChildTask {
        grid: grid.name.clone(),
        run_id: run.id.clone(),
        model_location: run.model.location(),
        model_sha256: run.model_sha256.clone(),
        config: run.config.clone(),
    })?;
    let mut cmd = Command::new(exe);
    if let Some(t) = threads {
        cmd.arg("--threads").arg(t.to_string());
    }
    cmd.arg("run-one")
        .arg("--results")
        .arg(&dir.root)
        .env("ABLATE_PARENT_PID", std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("cannot start a run process")?;
    {
        let mut stdin = child.stdin.take().context("no stdin")?;
        stdin
            .write_all(task.as_bytes())
            .context("cannot hand the run to its process")?;
    }
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
