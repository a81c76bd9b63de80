use std::path::{Path, PathBuf};

use ablate::config::device::DeviceSpec;
use ablate::config::grid::Grid;
use ablate::runner::{self, GridOptions, ResolvedGrid, Shard};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Framework {
    /// ablate itself.
    Candle,
    /// The reference backend: src/reference/torch_grid.py with PyTorch + transformers + PEFT
    /// (src/reference/requirements.txt; Python from $ABLATE_PYTHON, else python3).
    Pytorch,
}

impl Framework {
    fn name(self) -> &'static str {
        match self {
            Self::Candle => "candle",
            Self::Pytorch => "pytorch",
        }
    }
}

#[derive(Args)]
pub struct RunArgs {
    /// The grid file, e.g. ablations/grid.toml.
    grid: PathBuf,
    /// List the runs with trainable parameters and an estimated time; run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Run again runs that already have results.
    #[arg(long)]
    force: bool,
    /// Run again runs recorded as failed.
    #[arg(long)]
    retry_failed: bool,
    /// Run only shard K of N (e.g. 2/4), for job arrays or several machines.
    #[arg(long)]
    shard: Option<Shard>,
    /// Results folder (default: results/<grid name>).
    #[arg(long)]
    results: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Framework::Candle)]
    framework: Framework,
    /// Compute on this device (cpu, cuda, cuda:N) instead of the grid's `device`.
    #[arg(long)]
    device: Option<DeviceSpec>,
}

#[derive(Args)]
pub struct MigrateArgs {
    /// The grid file whose results to migrate, e.g. ablations/pilot.toml.
    grid: PathBuf,
    /// Results folder (default: results/<grid name>).
    #[arg(long)]
    results: Option<PathBuf>,
}

#[derive(Args)]
pub struct RunOneArgs {
    /// The grid's results folder.
    #[arg(long)]
    results: PathBuf,
}

/// Run (or list, with --dry-run) a grid through either framework; returns the exit code: 2 when
/// a run failed.
pub fn run(a: RunArgs, threads: Option<usize>) -> Result<i32> {
    let mut grid = Grid::load(&a.grid)?;
    if let Some(d) = a.device {
        for r in &mut grid.runs {
            r.device = d;
        }
    }
    let grid = runner::resolve(grid, a.framework.name())?;
    for note in &grid.notes {
        eprintln!("note: {note}");
    }
    let opts = GridOptions {
        results: a.results,
        shard: a.shard,
        force: a.force,
        retry_failed: a.retry_failed,
        threads,
    };
    if a.dry_run {
        runner::dry_run(&grid, &opts)?;
        return Ok(0);
    }
    if a.framework == Framework::Pytorch {
        return run_reference(&grid, &opts, threads);
    }
    let s = runner::run_grid(&grid, &opts)?;
    println!(
        "{} runs in shard: {} ok, {} failed, {} already finished",
        s.in_shard, s.ok, s.failed, s.skipped
    );
    Ok(if s.failed > 0 { 2 } else { 0 })
}

pub fn migrate(a: MigrateArgs) -> Result<()> {
    let grid = runner::resolve(Grid::load(&a.grid)?, Framework::Candle.name())?;
    let opts = GridOptions {
        results: a.results,
        ..Default::default()
    };
    let m = runner::migrate::migrate(&grid, &opts)?;
    println!(
        "{}: {} rows brought to the current schema, {} already were, {} runs have no row",
        opts.results_dir(&grid).root.display(),
        m.updated,
        m.unchanged,
        m.absent
    );
    Ok(())
}

pub fn run_one(a: RunOneArgs) -> Result<()> {
    runner::child::run_from_stdin(&a.results)
}

/// The PyTorch reference backend: export the pending runs' plans, then let the Python script
/// run them.
fn run_reference(grid: &ResolvedGrid, opts: &GridOptions, threads: Option<usize>) -> Result<i32> {
    let (plans, n) = runner::export::export_plans(grid, opts)?;
    let results = opts.results_dir(grid).root;
    println!("{n} PyTorch runs planned in {}", plans.display());
    let python = std::env::var("ABLATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = std::env::var("ABLATE_TORCH_SCRIPT").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/src/reference/torch_grid.py").into()
    });
    let status = std::process::Command::new(&python)
        .arg(&script)
        .arg("--plans")
        .arg(&plans)
        .arg("--results")
        .arg(&results)
        .args([
            "--threads",
            &threads
                .unwrap_or_else(rayon::current_num_threads)
                .to_string(),
        ])
        .env("ABLATE_GIT_REV", env!("ABLATE_GIT_REV"))
        .status()
        .with_context(|| {
            format!(
                "cannot run `{python} {}` (set ABLATE_PYTHON)",
                Path::new(&script).display()
            )
        })?;
    Ok(status.code().unwrap_or(2))
}
