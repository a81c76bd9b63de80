//! A grid's results folder: atomic writes (write to a temporary name, then rename) and reading
//! every run back.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::*;

use super::schema::{EvalRow, RunRow, StepRow, evals_frame, runs_frame, steps_frame};

#[derive(Clone, Debug)]
pub struct ResultsDir {
    pub root: PathBuf,
}

fn write_atomic(df: &mut DataFrame, path: &Path) -> Result<()> {
    let dir = path.parent().context("results path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = path.with_extension(format!("parquet.tmp-{}", std::process::id()));
    {
        let f = File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        ParquetWriter::new(f)
            .finish(df)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

impl ResultsDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn path(&self, table: &str, run_id: &str) -> PathBuf {
        self.root.join(table).join(format!("{run_id}.parquet"))
    }

    /// Steps and evals first, the runs row last: its presence marks the run finished.
    pub fn write_run(&self, run: &RunRow, steps: &[StepRow], evals: &[EvalRow]) -> Result<()> {
        write_atomic(&mut steps_frame(steps)?, &self.path("steps", &run.run_id))?;
        write_atomic(&mut evals_frame(evals)?, &self.path("evals", &run.run_id))?;
        write_atomic(
            &mut runs_frame(std::slice::from_ref(run))?,
            &self.path("runs", &run.run_id),
        )?;
        Ok(())
    }

    /// Ids of runs whose runs row exists.
    pub fn finished(&self) -> Result<BTreeSet<String>> {
        let dir = self.root.join("runs");
        if !dir.is_dir() {
            return Ok(BTreeSet::new());
        }
        Ok(std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect())
    }

    /// Status of a finished run, if any.
    pub fn status(&self, run_id: &str) -> Result<Option<String>> {
        let p = self.path("runs", run_id);
        if !p.is_file() {
            return Ok(None);
        }
        let df = ParquetReader::new(File::open(&p)?).finish()?;
        let s = df.column("status")?.str()?.get(0).map(String::from);
        Ok(s)
    }
}

/// Every `<root>/**/<table>/*.parquet` below `root` (a grid folder or the whole `results/`).
pub fn table_files(root: &Path, table: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet")
                && p.parent()
                    .and_then(|d| d.file_name())
                    .is_some_and(|n| n == table)
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Every file must carry the columns our schema lists for its table: a file written by an older
/// (or other) version is named with what it lacks, rather than read into nulls or a panic.
fn check_schema(files: &[PathBuf], table: &str) -> Result<()> {
    let Some(cols) = super::schema::columns(table) else {
        return Ok(());
    };
    for f in files {
        let file = File::open(f).with_context(|| format!("cannot open {}", f.display()))?;
        let schema = ParquetReader::new(file)
            .schema()
            .map_err(|e| anyhow::anyhow!("{} is not a readable Parquet file: {e}", f.display()))?;
        let missing: Vec<&str> = cols
            .iter()
            .filter(|c| schema.get(c.name).is_none())
            .map(|c| c.name)
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "{} was written with an older or different schema: it lacks the {table} column(s) {}; rerun that run (`ablate run GRID --force`) or move the file out of the results folder",
                f.display(),
                missing.join(", ")
            )
        }
    }
    Ok(())
}

/// Read one table lazily over all its files; `None` when there are none.
pub fn read_table(root: &Path, table: &str) -> Result<Option<DataFrame>> {
    let files = table_files(root, table)?;
    if files.is_empty() {
        return Ok(None);
    }
    check_schema(&files, table)?;
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|p| PlRefPath::new(p.to_string_lossy().as_ref()))
        .collect();
    let args = ScanArgsParquet {
        allow_missing_columns: true,
        ..Default::default()
    };
    let df =
        LazyFrame::scan_parquet_sources(ScanSources::Paths(paths.into_iter().collect()), args)?
            .collect()
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot read the {table} table under {}: {e}",
                    root.display()
                )
            })?;
    Ok(Some(df))
}
