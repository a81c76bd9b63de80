use super::lookup;
use std::path::PathBuf;
use std::sync::Arc;

use ablate::config::datasets::DEFAULT_CATALOG;
use ablate::config::device::DeviceSpec;
use ablate::config::train::TrainSettings;
use ablate::models::ModelSpec;
use ablate::train::run::{RunPlan, Save, run};
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct TrainArgs {
    #[arg(long, default_value = "smollm2-135m")]
    model: String,
    #[arg(long)]
    data: String,
    #[arg(long, default_value = "attn_embed_frozen")]
    strategy: String,
    /// TOML file with `[custom_strategies.NAME]` tables (a grid file works).
    #[arg(long)]
    strategies: Option<PathBuf>,
    #[arg(long, default_value = DEFAULT_CATALOG)]
    datasets: PathBuf,
    /// Other corpora to evaluate before and after (forgetting).
    #[arg(long)]
    also_eval: Vec<String>,
    #[arg(long)]
    seq_len: Option<usize>,
    #[arg(long, default_value_t = 20)]
    steps: usize,
    #[arg(long, default_value_t = 4)]
    batch: usize,
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    #[arg(long, default_value_t = 16)]
    eval_blocks: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Save the trained model here: a PEFT adapter for a LoRA strategy, else a Hugging Face
    /// folder (config.json + model.safetensors + tokenizer.json).
    #[arg(long)]
    save: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

pub fn train(a: TrainArgs) -> Result<()> {
    let device = a.device.open()?;
    let settings = TrainSettings {
        steps: a.steps,
        batch_size: a.batch,
        lr: a.lr,
        eval_blocks: a.eval_blocks,
        seed: a.seed,
        warmup_steps: a.steps / 10,
        ..TrainSettings::default()
    };
    // The runner checks a grid's settings when it loads them; here the arguments are the input.
    settings
        .check()
        .map_err(|e| anyhow::anyhow!("ablate train: {e}"))?;
    let plan = RunPlan {
        model: ModelSpec::from_arg(&a.model)?,
        model_sha256: None,
        model_name: a.model.clone(),
        strategy: Arc::new(lookup::strategy(&a.strategy, a.strategies.as_deref())?),
        dataset: lookup::dataset(&a.data, &a.datasets, a.seq_len)?,
        others: a
            .also_eval
            .iter()
            .map(|d| lookup::dataset(d, &a.datasets, a.seq_len))
            .collect::<Result<_>>()?,
        settings,
        save: a.save.clone().map(Save::Export),
        before_cache: None,
        chat_probe: None,
    };
    let out = run(&plan, &device, |r| {
        println!(
            "step {:>4}  loss {:.4}  lr {:.2e}  grad-norm {:.3}  {:.2} s",
            r.step, r.loss, r.lr, r.grad_norm, r.step_s
        )
    })?;
    println!("{}", out.accounting.peft_line());
    println!("outcome: {:?}", out.train.outcome);
    println!(
        "train: {:.1} tokens/s, step p50 {:.0} ms p95 {:.0} ms, peak heap {}, peak RSS {}",
        out.train.tokens_per_s,
        out.train.step_ms_p50,
        out.train.step_ms_p95,
        lookup::gb(out.train.peak_heap_bytes),
        lookup::gb(out.train.peak_rss_bytes.map(|b| b as usize))
    );
    if let (Some(dir), Some(bytes)) = (&a.save, out.saved_bytes) {
        println!("saved {} ({bytes} bytes)", dir.display());
    }
    for e in &out.evals {
        let after = e.ppl_after().unwrap_or(f64::NAN);
        println!(
            "ppl {} ({} blocks): {:.3} -> {after:.3}",
            e.source.corpus,
            e.source.blocks.len(),
            e.ppl_before()
        );
    }
    Ok(())
}
