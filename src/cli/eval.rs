use super::lookup;
use std::path::PathBuf;

use ablate::config::datasets::DEFAULT_CATALOG;
use ablate::config::device::DeviceSpec;
use ablate::eval::perplexity;
use ablate::models;
use anyhow::{Context, Result};
use clap::Args;

#[derive(Args)]
pub struct EvalArgs {
    #[arg(long, default_value = "smollm2-135m", help = format!(
        "Known name ({}), HF folder, .gguf file or hub id (the rule: `ablate run --help`)",
        ablate::models::spec::known_names()
    ))]
    model: String,
    /// Dataset name from the catalog, or a text file / folder; repeatable.
    #[arg(long, required = true)]
    data: Vec<String>,
    /// Dataset catalog.
    #[arg(long, default_value = DEFAULT_CATALOG)]
    datasets: PathBuf,
    /// Override the block length.
    #[arg(long)]
    seq_len: Option<usize>,
    /// Blocks per forward pass.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Score at most this many eval blocks (all by default).
    #[arg(long)]
    max_blocks: Option<usize>,
    /// Write the scored token blocks as JSON (for the reference comparison).
    #[arg(long)]
    save_blocks: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

pub fn eval(a: EvalArgs) -> Result<()> {
    let device = a.device.open()?;
    let specs = a
        .data
        .iter()
        .map(|d| lookup::dataset(d, &a.datasets, a.seq_len))
        .collect::<Result<Vec<_>>>()?;
    let m = models::ModelSpec::from_arg(&a.model)?
        .read(&device)?
        .build(&device, models::ParamPlan::frozen())?;
    println!("model {}: {}", a.model, m.source);
    let mut saved = serde_json::Map::new();
    for spec in &specs {
        let ds = m.dataset(spec)?;
        let mut blocks = ds.eval_blocks();
        if let Some(n) = a.max_blocks {
            blocks.truncate(n);
        }
        let r = perplexity(m.lm.as_ref(), &blocks, a.batch, &device)?;
        println!(
            "{}: {} files, train {} tokens, eval {} tokens; scored {} blocks x {} tokens",
            ds.name,
            ds.files.len(),
            ds.train_tokens(),
            ds.eval_tokens(),
            r.blocks,
            r.block_len
        );
        println!(
            "{}: eval perplexity {:.4} (mean NLL {:.5} over {} predicted tokens), {:.1} tokens/s forward-only ({:.1} s)",
            ds.name, r.ppl, r.mean_nll, r.predicted_tokens, r.tokens_per_s, r.seconds
        );
        saved.insert(
            ds.name.clone(),
            serde_json::json!({ "blocks": blocks, "ppl": r.ppl, "mean_nll": r.mean_nll }),
        );
    }
    if let Some(path) = &a.save_blocks {
        std::fs::write(path, serde_json::to_string(&saved)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
