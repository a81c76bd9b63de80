//! `ablate report`: read the Parquet results with polars, aggregate over seeds, draw the charts
//! (PNG and SVG) with plotters, and write REPORT.md, including verdicts on the reference
//! experiment's claims computed from the rows. Output is deterministic: stable ordering, no
//! timestamps, so the committed reports/ regenerate byte for byte.

pub mod charts;
pub mod claims;
pub mod data;
pub mod markdown;
pub mod rules;
pub mod stats;
pub mod style;

use std::path::Path;

use anyhow::{Context, Result};

/// What a report build produced.
#[derive(Debug, Default)]
pub struct ReportSummary {
    pub runs: usize,
    pub files: Vec<String>,
    pub missing: Vec<String>,
}

/// How to read the results folder.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReportOptions {
    /// Pool runs of several grids or models into one report (refused otherwise).
    pub mix_experiments: bool,
}

/// The report of the one experiment (grid and model) under `results`.
pub fn build(results: &Path, out: &Path) -> Result<ReportSummary> {
    build_with(results, out, ReportOptions::default())
}

pub fn build_with(results: &Path, out: &Path, opts: ReportOptions) -> Result<ReportSummary> {
    let data = data::Results::load(results, opts.mix_experiments)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut files = charts::draw_all(&data, out)?;
    let claims = claims::judge(&data);
    let md = markdown::render(&data, &claims, &files);
    std::fs::write(out.join("REPORT.md"), md)
        .with_context(|| format!("cannot write {}/REPORT.md", out.display()))?;
    files.push("REPORT.md".into());
    Ok(ReportSummary {
        runs: data.runs.len(),
        files,
        missing: data.missing.clone(),
    })
}
