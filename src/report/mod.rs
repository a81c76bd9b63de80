//! `ablate report`: read the Parquet results with polars, aggregate over seeds, draw the charts
//! (PNG and SVG) with plotters, and write REPORT.md, including verdicts on the reference
//! experiment's claims computed from the rows. Output is deterministic: stable ordering, no
//! timestamps, so the committed reports/ regenerate byte for byte.

pub mod charts;
pub mod claims;
pub mod compare;
pub mod data;
pub mod evidence;
pub mod experiment;
pub mod frontier;
pub mod markdown;
pub mod pilot;
pub mod rules;
pub mod stats;
pub mod style;
pub mod sweep;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use experiment::Experiment;

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
    /// Pool the runs of one folder into one experiment whatever grids and models they belong to
    /// (otherwise each model is its own experiment, and one model under several grids is refused).
    pub mix_experiments: bool,
    /// The learning-rate pilot's results: its picks go into the Limits section.
    pub pilot: Option<std::path::PathBuf>,
}

/// The report of the experiments under `results` (one per model).
pub fn build(results: &Path, out: &Path) -> Result<ReportSummary> {
    build_with(results, out, ReportOptions::default())
}

pub fn build_with(results: &Path, out: &Path, opts: ReportOptions) -> Result<ReportSummary> {
    build_many(&[results.to_path_buf()], out, opts)
}

/// The report over every experiment under `roots`. One experiment: its report in `out`. Several
/// (models): each model's full report in `out/<model>/`, and `out/REPORT.md` judges every claim
/// per model side by side and says where the models disagree.
pub fn build_many(roots: &[PathBuf], out: &Path, opts: ReportOptions) -> Result<ReportSummary> {
    let experiments = experiment::find(roots, opts.mix_experiments)?;
    let pilot = opts
        .pilot
        .as_deref()
        .map(|p| data::Results::load(p, false))
        .transpose()?;
    if let [one] = experiments.as_slice() {
        let b = build_one(one, out, pilot.as_ref())?;
        return Ok(ReportSummary {
            runs: b.runs,
            files: b.files,
            missing: b.missing,
        });
    }
    let mut built = Vec::new();
    for e in &experiments {
        built.push(build_one(e, &out.join(e.folder()), pilot.as_ref())?);
    }
    let md = markdown::models::render(&built);
    std::fs::write(out.join("REPORT.md"), md)
        .with_context(|| format!("cannot write {}/REPORT.md", out.display()))?;
    let mut summary = ReportSummary::default();
    for b in &built {
        summary.runs += b.runs;
        let folder = b.experiment.folder();
        summary
            .files
            .extend(b.files.iter().map(|f| format!("{folder}/{f}")));
        summary
            .missing
            .extend(b.missing.iter().map(|m| format!("{folder}: {m}")));
    }
    summary.files.push("REPORT.md".into());
    Ok(summary)
}

/// One experiment's report into `out`; `pilot`: the learning-rate pilot's runs, if given.
fn build_one(
    e: &Experiment,
    out: &Path,
    pilot: Option<&data::Results>,
) -> Result<markdown::models::ModelReport> {
    let all = data::Results::load_only(e, None)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    if pilot::is_pilot(&all) {
        // A learning-rate pilot is not an experiment to judge: its report is the picks.
        std::fs::write(out.join("PILOT.md"), pilot::render(&all))
            .with_context(|| format!("cannot write {}/PILOT.md", out.display()))?;
        let files = vec!["PILOT.md".to_string()];
        return Ok(markdown::models::ModelReport {
            experiment: e.clone(),
            runs: all.runs.len(),
            missing: all.missing.clone(),
            all,
            claims: None,
            files,
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
        data::Results::load_only(e, Some(&keep))?
    } else {
        all.clone()
    };
    let mut files = charts::draw_all(&data, &all, &picks, out)?;
    let claims = claims::judge(&data, &all);
    // A pilot's picks belong to the model it tuned.
    let tuning = pilot
        .filter(|p| p.runs.first().map(|r| &r.model) == data.runs.first().map(|r| &r.model))
        .map(|p| pilot::summary(p, &data));
    let md = markdown::render(&data, &all, &picks, &claims, &files, tuning.as_deref());
    std::fs::write(out.join("REPORT.md"), md)
        .with_context(|| format!("cannot write {}/REPORT.md", out.display()))?;
    files.push("REPORT.md".into());
    Ok(markdown::models::ModelReport {
        experiment: e.clone(),
        runs: data.runs.len(),
        missing: data.missing.clone(),
        all,
        claims: Some(claims),
        files,
    })
}
