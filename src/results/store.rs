//! A grid's results folder: atomic writes (write to a temporary name, then rename) and reading
//! every run back.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::*;

use super::schema::{
    BenchRow, ColumnKind, CurveBlockRow, CurveRow, EvalBlockRow, EvalRow, RunRow, StepRow,
    bench_frame, curve_blocks_frame, curves_frame, eval_blocks_frame, evals_frame, runs_frame,
    steps_frame,
};

/// Everything one run writes.
#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    pub run: RunRow,
    pub steps: Vec<StepRow>,
    pub evals: Vec<EvalRow>,
    pub eval_blocks: Vec<EvalBlockRow>,
    pub curves: Vec<CurveRow>,
    pub curve_blocks: Vec<CurveBlockRow>,
}

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

    /// The other tables first, the runs row last: its presence marks the run finished.
    pub fn write_record(&self, r: &RunRecord) -> Result<()> {
        let id = &r.run.run_id;
        write_atomic(&mut steps_frame(&r.steps)?, &self.path("steps", id))?;
        write_atomic(&mut evals_frame(&r.evals)?, &self.path("evals", id))?;
        write_atomic(
            &mut eval_blocks_frame(&r.eval_blocks)?,
            &self.path("eval_blocks", id),
        )?;
        write_atomic(&mut curves_frame(&r.curves)?, &self.path("curves", id))?;
        if !r.curve_blocks.is_empty() {
            write_atomic(
                &mut curve_blocks_frame(&r.curve_blocks)?,
                &self.path("curve_blocks", id),
            )?;
        }
        write_atomic(
            &mut runs_frame(std::slice::from_ref(&r.run))?,
            &self.path("runs", id),
        )?;
        Ok(())
    }

    /// One latency session's measurements, `latency/<latency_id>.parquet`.
    pub fn write_latency(&self, rows: &[super::schema::LatencyRow]) -> Result<PathBuf> {
        let id = rows.first().map_or("empty", |r| r.latency_id.as_str());
        let path = self.path("latency", id);
        write_atomic(&mut super::schema::latency_frame(rows)?, &path)?;
        Ok(path)
    }

    /// One bench session's measurements, `bench/<bench_id>.parquet`.
    pub fn write_bench(&self, rows: &[BenchRow]) -> Result<PathBuf> {
        let id = rows.first().map_or("empty", |r| r.bench_id.as_str());
        let path = self.path("bench", id);
        write_atomic(&mut bench_frame(rows)?, &path)?;
        Ok(path)
    }

    /// A run with only these rows (a failure recorded by the parent; tests).
    pub fn write_run(&self, run: &RunRow, steps: &[StepRow], evals: &[EvalRow]) -> Result<()> {
        self.write_record(&RunRecord {
            run: run.clone(),
            steps: steps.to_vec(),
            evals: evals.to_vec(),
            ..Default::default()
        })
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
    pub fn status(&self, run_id: &str) -> Result<Option<super::Status>> {
        Ok(self.read_run(run_id)?.map(|r| r.status))
    }

    /// A finished run's row, through the schema's reader (columns added since read as null).
    pub fn read_run(&self, run_id: &str) -> Result<Option<RunRow>> {
        let p = self.path("runs", run_id);
        if !p.is_file() {
            return Ok(None);
        }
        let df = ParquetReader::new(File::open(&p)?).finish()?;
        Ok(super::schema::read_runs(&df)
            .with_context(|| p.display().to_string())?
            .into_iter()
            .next())
    }

    /// Rewrite a finished run's row alone (a migration to the current schema), atomically.
    pub fn rewrite_run(&self, row: &RunRow) -> Result<()> {
        write_atomic(
            &mut runs_frame(std::slice::from_ref(row))?,
            &self.path("runs", &row.run_id),
        )
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

/// Read one file of one of our tables in the schema's column order. A file written before a
/// column was added (`since` > 1) gets it as nulls; a file lacking an original column was written
/// by something else, and is named with what it lacks rather than read into a panic.
fn read_file(f: &Path, table: &str) -> Result<DataFrame> {
    let df =
        ParquetReader::new(File::open(f).with_context(|| format!("cannot open {}", f.display()))?)
            .finish()
            .map_err(|e| anyhow::anyhow!("{} is not a readable Parquet file: {e}", f.display()))?;
    let Some(cols) = super::schema::columns(table) else {
        return Ok(df);
    };
    let missing: Vec<&str> = cols
        .iter()
        .filter(|c| c.since == 1 && df.column(c.name).is_err())
        .map(|c| c.name)
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "{} was written with an older or different schema: it lacks the {table} column(s) {}; rerun that run (`ablate run GRID --force`) or move the file out of the results folder",
            f.display(),
            missing.join(", ")
        )
    }
    let n = df.height();
    let columns = cols
        .iter()
        .map(|c| {
            let dtype = match c.kind {
                ColumnKind::Str => DataType::String,
                ColumnKind::Int => DataType::Int64,
                ColumnKind::Float => DataType::Float64,
            };
            match df.column(c.name) {
                Ok(col) => col.cast(&dtype),
                Err(_) => Ok(Column::full_null(c.name.into(), n, &dtype)),
            }
        })
        .collect::<PolarsResult<Vec<Column>>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
    Ok(DataFrame::new_infer_height(columns)?)
}

/// Read one table over all its files; `None` when there are none.
pub fn read_table(root: &Path, table: &str) -> Result<Option<DataFrame>> {
    let files = table_files(root, table)?;
    let mut out: Option<DataFrame> = None;
    for f in &files {
        let df = read_file(f, table)?;
        match &mut out {
            None => out = Some(df),
            Some(all) => {
                all.vstack_mut(&df).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot read the {table} table under {}: {e}",
                        root.display()
                    )
                })?;
            }
        }
    }
    Ok(out)
}
