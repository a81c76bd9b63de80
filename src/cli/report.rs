use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct ReportArgs {
    /// Results folder (every runs/steps/evals Parquet file below it); repeat it to report the
    /// experiments of several folders together. Each model is its own experiment: with several,
    /// each model's report goes to `<out>/<model>/` and `<out>/REPORT.md` judges every claim per
    /// model side by side.
    #[arg(long, default_value = "results", num_args = 1)]
    results: Vec<PathBuf>,
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Pool the runs of one folder into one experiment whatever grids and models they belong to
    /// (by default each model is its own experiment, and one model's runs under several grids are
    /// refused: their (dataset, strategy) cells would mix different experiments).
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
    let r = ablate::report::build_many(&a.results, &a.out, opts)?;
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
