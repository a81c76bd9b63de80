use std::path::PathBuf;

use ablate::bench::{BenchSettings, bench as run_bench, measure_one};
use ablate::config::device::DeviceSpec;
use ablate::config::train::OptimizerKind;
use ablate::models::ModelSpec;
use ablate::results::ResultsDir;
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct BenchArgs {
    #[arg(long, default_value = "smollm2-135m")]
    model: String,
    /// Comma-separated strategies.
    #[arg(long, value_delimiter = ',', default_values_t = ["full".to_string(), "attn_frozen".into(), "attn_embed_frozen".into(), "mlp_only".into(), "lora".into()])]
    strategies: Vec<String>,
    #[arg(long, default_value_t = 4)]
    batch: usize,
    #[arg(long, default_value_t = 128)]
    seq_len: usize,
    #[arg(long, default_value_t = 2)]
    steps: usize,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Measure one strategy in this process and print it as JSON (used by the parent).
    #[arg(long, hide = true)]
    one: Option<String>,
    /// Results folder; every measurement goes to `<results>/bench/<bench_id>.parquet`.
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// The fused in-place AdamW, or candle-nn's, to measure the difference.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Inplace)]
    optimizer: OptimizerKind,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

pub fn bench(a: BenchArgs, threads: Option<usize>) -> Result<()> {
    let settings = BenchSettings {
        batch_size: a.batch,
        seq_len: a.seq_len,
        steps: a.steps,
        repeats: a.repeats,
        optimizer: a.optimizer,
        device: a.device,
    };
    if let Some(name) = &a.one {
        let strategy = super::strategy(name, None)?;
        let sample = measure_one(
            &ModelSpec::parse(&a.model)?,
            &strategy,
            &settings,
            &a.device.open()?,
        )?;
        println!("{}", serde_json::to_string(&sample)?);
        return Ok(());
    }
    for s in &a.strategies {
        super::strategy(s, None)?;
    }
    let n_threads = rayon::current_num_threads();
    println!(
        "bench {}: batch {} x seq {}, fp32, {n_threads} threads, {} timed steps after 1 warm-up, {} repeats interleaved, one process per measurement, optimizer {:?}",
        a.model, a.batch, a.seq_len, a.steps, a.repeats, a.optimizer
    );
    let (medians, rows) = run_bench(&a.model, &a.strategies, &settings, threads, |s, rep| {
        eprintln!(
            "repeat {} {:<18} {:>7.1} tokens/s  peak heap {}",
            rep + 1,
            s.strategy,
            s.tokens_per_s,
            super::gb(s.peak_heap_bytes)
        )
    })?;
    let cpu = rows.first().map_or("", |r| r.cpu_model.as_str());
    println!("medians of {} repeats on {cpu}:", a.repeats);
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>14} {:>12}",
        "strategy", "trainable%", "tokens/s", "step s", "peak heap", "peak RSS"
    );
    for r in medians {
        println!(
            "{:<18} {:>9.2}% {:>10.1} {:>10.2} {:>14} {:>12}",
            r.strategy,
            r.trainable_pct,
            r.tokens_per_s,
            r.step_s,
            super::gb(r.peak_heap_bytes),
            super::gb(r.peak_rss_bytes.map(|b| b as usize))
        );
    }
    let path = ResultsDir::new(&a.results).write_bench(&rows)?;
    println!("{} measurements -> {}", rows.len(), path.display());
    Ok(())
}
