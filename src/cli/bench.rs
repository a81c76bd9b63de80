use super::lookup;
use std::path::PathBuf;

use ablate::bench::{
    BenchSettings, EVAL, Ratio, bench as run_bench, bound_for, bound_of, bound_readings,
    measure_eval, measure_one, measure_products, paired_ratio,
};
use ablate::config::device::DeviceSpec;
use ablate::config::train::OptimizerKind;
use ablate::models::ModelSpec;
use ablate::results::{BenchRow, ResultsDir};
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct BenchArgs {
    #[arg(long, default_value = "smollm2-135m")]
    model: String,
    /// Comma-separated strategies; `eval` measures forward-only evaluation (loss, no gradients).
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
    /// Also measure this reference, interleaved with ablate (A B A B ...): `pytorch` runs
    /// src/reference/torch_bench.py with $ABLATE_PYTHON (else python3).
    #[arg(long, value_enum)]
    against: Option<Against>,
    /// Measure inference latency instead of training steps: the base model, a partially
    /// fine-tuned one, LoRA unmerged and merged, interleaved, `--repeats` times (at least 5 for
    /// claim 7); rows go to `<results>/latency/`.
    #[arg(long)]
    latency: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Against {
    Pytorch,
}

pub fn bench(a: BenchArgs, threads: Option<usize>) -> Result<()> {
    if a.latency {
        return latency(&a);
    }
    let settings = BenchSettings {
        batch_size: a.batch,
        seq_len: a.seq_len,
        steps: a.steps,
        repeats: a.repeats,
        optimizer: a.optimizer,
        device: a.device,
        against_pytorch: a.against.is_some(),
        products_bound: a.against.is_some()
            && a.device.is_cpu()
            && a.strategies.iter().any(|s| bound_for(s).is_some()),
    };
    if let Some(name) = &a.one {
        let (model, device) = (ModelSpec::from_arg(&a.model)?, a.device.open()?);
        let sample = if name == EVAL {
            measure_eval(&model, &settings, &device)?
        } else if let Some(forward_only) = bound_of(name) {
            measure_products(&model, &settings, forward_only)?
        } else {
            measure_one(&model, &lookup::strategy(name, None)?, &settings, &device)?
        };
        println!("{}", serde_json::to_string(&sample)?);
        return Ok(());
    }
    for s in a.strategies.iter().filter(|s| *s != EVAL) {
        lookup::strategy(s, None)?;
    }
    let n_threads = rayon::current_num_threads();
    println!(
        "bench {}: batch {} x seq {}, fp32, {n_threads} threads, {} timed steps after 1 warm-up, {} repeats interleaved, one process per measurement, optimizer {:?}",
        a.model, a.batch, a.seq_len, a.steps, a.repeats, a.optimizer
    );
    let (medians, rows) = run_bench(&a.model, &a.strategies, &settings, threads, |s, rep| {
        eprintln!(
            "repeat {} {:<18} {:<8} {:>7.1} tokens/s  peak mem {}",
            rep + 1,
            s.strategy,
            s.framework(),
            s.tokens_per_s,
            lookup::gb(s.peak_mem_bytes)
        )
    })?;
    let cpu = rows.first().map_or("", |r| r.cpu_model.as_str());
    let mem = if a.device.is_cpu() {
        "peak heap"
    } else {
        "peak GPU mem"
    };
    println!("medians of {} repeats on {cpu}:", a.repeats);
    println!(
        "{:<18} {:<8} {:>10} {:>10} {:>10} {:>14} {:>12}",
        "strategy", "framework", "trainable%", "tokens/s", "step s", mem, "peak RSS"
    );
    for r in &medians {
        println!(
            "{:<18} {:<8} {:>9.2}% {:>10.1} {:>10.2} {:>14} {:>12}",
            r.strategy,
            r.framework,
            r.trainable_pct,
            r.tokens_per_s,
            r.step_s,
            lookup::gb(r.peak_mem_bytes),
            lookup::gb(r.peak_rss_bytes.map(|b| b as usize))
        );
    }
    if a.against.is_some() {
        let (torch_mem, mem_note) = if a.device.is_cpu() {
            (
                "ablate heap / torch RSS",
                "torch keeps no CPU allocator statistics: its peak is RSS",
            )
        } else {
            (
                "GPU mem",
                "ablate's memory-pool peak vs torch.cuda.max_memory_allocated",
            )
        };
        println!(
            "ablate / PyTorch, median [min, max] of the {} paired repeats ({mem_note}):",
            a.repeats
        );
        println!(
            "{:<18} {:>24} {:>28} {:>24}",
            "strategy", "tokens/s", torch_mem, "peak RSS"
        );
        let show = |r: Option<Ratio>| {
            r.map_or("n/a".into(), |r| {
                format!("{:.2} [{:.2}, {:.2}]", r.median, r.min, r.max)
            })
        };
        for s in &a.strategies {
            println!(
                "{:<18} {:>24} {:>28} {:>24}",
                s,
                show(paired_ratio(&rows, s, |r| Some(r.tokens_per_s))),
                show(paired_ratio(&rows, s, |r| r
                    .peak_mem_bytes
                    .map(|b| b as f64))),
                show(paired_ratio(&rows, s, |r| r
                    .peak_rss_bytes
                    .map(|b| b as f64))),
            );
        }
    }
    if settings.products_bound {
        print_bounds(&a, &settings, &rows, n_threads)?;
    }
    let path = ResultsDir::new(&a.results).write_bench(&rows)?;
    println!("{} measurements -> {}", rows.len(), path.display());
    Ok(())
}

/// Full fine-tuning and eval against their products-only bounds, repeat by repeat, with the
/// GFLOP/s behind each (the target is stated against the bound, not PyTorch alone).
fn print_bounds(
    a: &BenchArgs,
    settings: &BenchSettings,
    rows: &[BenchRow],
    n_threads: usize,
) -> Result<()> {
    let model = ModelSpec::from_arg(&a.model)?;
    let pct = |r: &Option<Ratio>| {
        r.as_ref().map_or("n/a".into(), |r| {
            format!(
                "{:.1}% [{:.1}%, {:.1}%]",
                100.0 * r.median,
                100.0 * r.min,
                100.0 * r.max
            )
        })
    };
    for b in bound_readings(&model, settings, rows)? {
        let (name, gflop, what) = (b.name, b.gflop, b.what);
        println!(
            "{name}: {gflop:.1} GFLOP of matrix products per {what}; ablate {:.1} GFLOP/s, PyTorch {:.1}, the products alone {:.1} (these shapes, ablate's kernels, {n_threads} threads, timed right before ablate's {name} in each repeat)",
            b.gflops[0], b.gflops[1], b.gflops[2],
        );
        println!(
            "  per repeat, of the bound: ablate {}, PyTorch {}",
            pct(&b.of_bound[0]),
            pct(&b.of_bound[1])
        );
        if b.torch_x1_5_needs.is_some() {
            println!(
                "  1.5x PyTorch's eval would need {} of the bound",
                pct(&b.torch_x1_5_needs)
            );
        }
    }
    Ok(())
}

/// `--latency`: every variant on every shape, in one process, interleaved; medians printed.
fn latency(a: &BenchArgs) -> Result<()> {
    use ablate::bench::latency::{GENERATION, VARIANTS, measure, measures};
    let (model, device) = (ModelSpec::from_arg(&a.model)?, a.device.open()?);
    println!(
        "latency {}: {} repeats interleaved, {} threads; generation {GENERATION}",
        a.model,
        a.repeats,
        rayon::current_num_threads()
    );
    let rows = measure(
        &a.model,
        &model,
        a.repeats,
        a.seq_len,
        &device,
        &a.device.to_string(),
        |r| {
            eprintln!(
                "repeat {} {:<12} {:<14} {:>8.1} ms",
                r.repeat + 1,
                r.variant,
                r.measure,
                1e3 * r.seconds
            )
        },
    )?;
    println!(
        "median ms over repeats on {}:",
        rows.first().map_or("", |r| r.cpu_model.as_str())
    );
    println!(
        "{:<14} {}",
        "measure",
        VARIANTS.map(|v| format!("{v:>12}")).join("")
    );
    for (m, ..) in measures(a.seq_len) {
        let cells: Vec<String> = VARIANTS
            .iter()
            .map(|v| {
                let t: Vec<f64> = rows
                    .iter()
                    .filter(|r| r.variant == *v && r.measure == m)
                    .map(|r| r.seconds)
                    .collect();
                ablate::measure::stats::median(&t).map_or_else(
                    || format!("{:>12}", "n/a"),
                    |x| format!("{:>12.1}", 1e3 * x),
                )
            })
            .collect();
        println!("{m:<14} {}", cells.join(""));
    }
    let path = ResultsDir::new(&a.results).write_latency(&rows)?;
    println!("{} measurements -> {}", rows.len(), path.display());
    Ok(())
}
