//! `ablate report`: read the Parquet results with polars, aggregate over seeds, draw the charts
//! (PNG and SVG) with plotters, and write REPORT.md, including verdicts on the reference
//! experiment's claims computed from the rows. Output is deterministic: stable ordering, no
//! timestamps, so the committed reports/ regenerate byte for byte.

pub mod charts;
pub mod claims;
pub mod compare;
pub mod data;
pub mod evidence;
pub mod frontier;
pub mod markdown;
pub mod pilot;
pub mod rules;
pub mod stats;
pub mod style;
pub mod sweep;

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
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// Pool runs of several grids or models into one report (refused otherwise).
    pub mix_experiments: bool,
    /// The learning-rate pilot's results: its picks go into the Limits section.
    pub pilot: Option<std::path::PathBuf>,
}

/// The report of the one experiment (grid and model) under `results`.
pub fn build(results: &Path, out: &Path) -> Result<ReportSummary> {
    build_with(results, out, ReportOptions::default())
}

pub fn build_with(results: &Path, out: &Path, opts: ReportOptions) -> Result<ReportSummary> {
    let all = data::Results::load(results, opts.mix_experiments)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    if pilot::is_pilot(&all) {
        // A learning-rate pilot is not an experiment to judge: its report is the picks.
        std::fs::write(out.join("PILOT.md"), pilot::render(&all))
            .with_context(|| format!("cannot write {}/PILOT.md", out.display()))?;
        return Ok(ReportSummary {
            runs: all.runs.len(),
            files: vec!["PILOT.md".into()],
            missing: all.missing.clone(),
        });
    }
    // A sweep: the per-strategy sections and claims read each cell's picked rate; the sweep and
    // frontier sections read every run.
    let swept = sweep::has_sweeps(&all);
    let picks = if swept {
        sweep::picks(&all)
    } else {
        Vec::new()
    };
    let data = if swept {
        let keep = sweep::picked_runs(&all, &picks);
        data::Results::load_only(results, opts.mix_experiments, Some(&keep))?
    } else {
        all.clone()
    };
    let mut files = charts::draw_all(&data, &all, &picks, out)?;
    let claims = claims::judge(&data, &all);
    let tuning = match &opts.pilot {
        Some(p) => Some(pilot::summary(&data::Results::load(p, false)?, &data)),
        None => None,
    };
    let md = markdown::render(&data, &all, &picks, &claims, &files, tuning.as_deref());
    std::fs::write(out.join("REPORT.md"), md)
        .with_context(|| format!("cannot write {}/REPORT.md", out.display()))?;
    files.push("REPORT.md".into());
    Ok(ReportSummary {
        runs: data.runs.len(),
        files,
        missing: data.missing.clone(),
    })
}
