use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct ReportArgs {
    /// Results folder (every runs/steps/evals Parquet file below it).
    #[arg(long, default_value = "results")]
    results: PathBuf,
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Pool runs of several grids or models into one report (refused by default: their
    /// (dataset, strategy) cells would mix different experiments).
    #[arg(long)]
    mix_experiments: bool,
    /// The learning-rate pilot's results folder: the Limits section says what it tried and picked.
    #[arg(long)]
    pilot: Option<PathBuf>,
}

pub fn report(a: ReportArgs) -> Result<()> {
    let opts = ablate::report::ReportOptions {
        mix_experiments: a.mix_experiments,
        pilot: a.pilot.clone(),
    };
    let r = ablate::report::build_with(&a.results, &a.out, opts)?;
    println!(
        "report from {} runs -> {}: {}",
        r.runs,
        a.out.display(),
        r.files.join(", ")
    );
    for m in &r.missing {
        println!("missing: {m}");
    }
    Ok(())
}
