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
}

pub fn report(a: ReportArgs) -> Result<()> {
    let r = ablate::report::build(&a.results, &a.out)?;
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
