//! Running a grid: resolve every run once (`resolve`), skip what is finished, run the rest one
//! child process at a time (`parent`), each run's body in its own process (`child`), so that a
//! crash or an out-of-memory kill is recorded as that run's failure and each run's peak RSS is
//! its own. `export` writes the same runs as plans for the PyTorch reference backend.

pub mod child;
pub mod estimate;
pub mod export;
pub mod migrate;
pub mod parent;
pub mod record;
pub mod resolve;
pub mod run_id;
pub mod shard;

use std::path::PathBuf;

pub use parent::{GridSummary, dry_run, run_grid};
pub use resolve::{ResolvedGrid, ResolvedRun, resolve};
pub use run_id::run_id;
pub use shard::Shard;

use crate::results::ResultsDir;

#[derive(Clone, Debug, Default)]
pub struct GridOptions {
    /// Results folder (default `results/<grid name>`).
    pub results: Option<PathBuf>,
    pub shard: Option<Shard>,
    /// Run again even when a result exists.
    pub force: bool,
    /// Run again the runs recorded as failed.
    pub retry_failed: bool,
    pub threads: Option<usize>,
}

impl GridOptions {
    pub fn results_dir(&self, grid: &ResolvedGrid) -> ResultsDir {
        ResultsDir::new(
            self.results
                .clone()
                .unwrap_or_else(|| PathBuf::from("results").join(&grid.name)),
        )
    }

    /// The runs of this shard, in grid order.
    pub fn shard_runs<'g>(&self, grid: &'g ResolvedGrid) -> Vec<&'g ResolvedRun> {
        let shard = self.shard.unwrap_or_else(Shard::all);
        grid.runs
            .iter()
            .enumerate()
            .filter(|(i, _)| shard.owns(*i))
            .map(|(_, r)| r)
            .collect()
    }

    /// The runs of this shard still to run: not finished, or `--force`, or failed with
    /// `--retry-failed`.
    pub fn pending<'g>(
        &self,
        grid: &'g ResolvedGrid,
        dir: &ResultsDir,
    ) -> anyhow::Result<Vec<&'g ResolvedRun>> {
        let finished = dir.finished()?;
        let mut out = Vec::new();
        for r in self.shard_runs(grid) {
            let redo = self.force
                || (self.retry_failed
                    && dir.status(&r.id)? == Some(crate::results::Status::Failed));
            if !finished.contains(&r.id) || redo {
                out.push(r);
            }
        }
        Ok(out)
    }
}
