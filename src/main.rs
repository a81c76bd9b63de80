//! The `ablate` command line: parse, call the library, print.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use ablate::bench::{BenchSettings, bench, measure_one};
use ablate::config::datasets::{Catalog, DEFAULT_CATALOG, DatasetSpec};
use ablate::config::train::{OptimizerKind, TrainSettings};
use ablate::eval::perplexity;
use ablate::models::{self, ModelSpec, fetch::KnownModel};
use ablate::runner::execute::run_one;
use ablate::runner::{GridOptions, Shard, run_grid};
use ablate::train::run::{RunPlan, run};
use ablate::train::strategy::resolve;
use ablate::train::{Accounting, load_for_strategy, plan_accounting};
use anyhow::{Context, Result, bail};
use candle_core::Device;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ablate",
    version,
    about = "What partial fine-tuning of small causal LMs costs and buys"
)]
struct Cli {
    /// CPU threads for candle and rayon (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a grid (models x datasets x strategies x seeds); results go to Parquet.
    Run {
        /// The grid file, e.g. ablations/grid.toml.
        grid: PathBuf,
        /// List the runs with trainable parameters and an estimated time; run nothing.
        #[arg(long)]
        dry_run: bool,
        /// Run again runs that already have results.
        #[arg(long)]
        force: bool,
        /// Run again runs recorded as failed.
        #[arg(long)]
        retry_failed: bool,
        /// Run only shard K of N (e.g. 2/4), for job arrays or several machines.
        #[arg(long)]
        shard: Option<Shard>,
        /// Results folder (default: results/<grid name>).
        #[arg(long)]
        results: Option<PathBuf>,
        /// Run the single run with this id in this process (used by the grid runner).
        #[arg(long, hide = true)]
        one: Option<String>,
        /// `candle` (ablate itself) or `pytorch` (the reference backend, needs
        /// src/reference/requirements.txt; Python from $ABLATE_PYTHON, else python3).
        #[arg(long, default_value = "candle")]
        framework: String,
    },
    /// Charts and REPORT.md from the Parquet results.
    Report {
        /// Results folder (every runs/steps/evals Parquet file below it).
        #[arg(long, default_value = "results")]
        results: PathBuf,
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
    /// Download a known model (e.g. `smollm2`) into the cache and check its sha256.
    Fetch {
        /// Alias of the model.
        model: String,
    },
    /// Eval perplexity and forward tokens/s of a model on the held-out split of datasets.
    Eval {
        /// Alias (smollm2-135m), HF folder, .gguf file or hub id.
        #[arg(long, default_value = "smollm2-135m")]
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
    },
    /// Parameter accounting of a strategy, as PEFT prints it, plus a breakdown by group.
    Params {
        #[arg(long, default_value = "smollm2-135m")]
        model: String,
        #[arg(long, default_value = "attn_embed_frozen")]
        strategy: String,
        /// TOML file with `[custom_strategies.NAME]` tables (a grid file works).
        #[arg(long)]
        strategies: Option<PathBuf>,
        /// Build the model from its weights instead of counting from the config alone.
        #[arg(long)]
        load: bool,
    },
    /// Train one model on one dataset with one strategy and report the measurements.
    Train {
        #[arg(long, default_value = "smollm2-135m")]
        model: String,
        #[arg(long)]
        data: String,
        #[arg(long, default_value = "attn_embed_frozen")]
        strategy: String,
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
    },
    /// Time training steps per strategy (interleaved, repeated, medians).
    Bench {
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
        /// `inplace` (fused AdamW) or `candle` (candle-nn's AdamW), to measure the difference.
        #[arg(long, default_value = "inplace")]
        optimizer: String,
    },
}

fn resolve_dataset(name: &str, catalog: &Path, seq_len: Option<usize>) -> Result<DatasetSpec> {
    let as_path = Path::new(name);
    let mut spec = if as_path.exists() {
        DatasetSpec::from_path(as_path, seq_len.unwrap_or(128))?
    } else {
        Catalog::load(catalog)?.get(name)?
    };
    if let Some(s) = seq_len {
        spec.seq_len = s;
    }
    Ok(spec)
}

fn eval(
    model: &str,
    data: &[String],
    catalog: &Path,
    seq_len: Option<usize>,
    batch: usize,
    max_blocks: Option<usize>,
    save_blocks: Option<&Path>,
) -> Result<()> {
    let device = Device::Cpu;
    let specs = data
        .iter()
        .map(|d| resolve_dataset(d, catalog, seq_len))
        .collect::<Result<Vec<_>>>()?;
    let m = models::load_frozen(model, &device)?;
    println!("model {model}: {}", m.source);
    let mut saved = serde_json::Map::new();
    for spec in &specs {
        let ds = m.dataset(spec)?;
        let mut blocks = ds.eval_blocks();
        if let Some(n) = max_blocks {
            blocks.truncate(n);
        }
        let r = perplexity(m.lm.as_ref(), &blocks, batch, &device)?;
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
    if let Some(path) = save_blocks {
        std::fs::write(path, serde_json::to_string(&saved)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn params(model: &str, strategy: &str, file: Option<&Path>, load: bool) -> Result<()> {
    let spec = ModelSpec::parse(model)?;
    let strategy = Arc::new(resolve(strategy, file)?);
    let acc = if load {
        let m = load_for_strategy(&spec, &strategy, 0, &Device::Cpu)?;
        Accounting::from_params(m.lm.params())
    } else {
        plan_accounting(&spec.arch()?, &strategy)?
    };
    println!("{model} / {}", strategy.name);
    println!("{}", acc.peft_line());
    print!("{}", acc.table());
    Ok(())
}

fn gb(bytes: f64) -> String {
    format!("{:.2} GB", bytes / 1e9)
}

#[allow(clippy::too_many_arguments)]
fn train_one(
    model: &str,
    data: &str,
    strategy: &str,
    file: Option<&Path>,
    catalog: &Path,
    also: &[String],
    seq_len: Option<usize>,
    settings: TrainSettings,
) -> Result<()> {
    let plan = RunPlan {
        model: ModelSpec::parse(model)?,
        strategy: Arc::new(resolve(strategy, file)?),
        dataset: resolve_dataset(data, catalog, seq_len)?,
        others: also
            .iter()
            .map(|d| resolve_dataset(d, catalog, seq_len))
            .collect::<Result<_>>()?,
        settings,
        save_to: None,
    };
    let out = run(&plan, &Device::Cpu, |r| {
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
        gb(out.train.peak_heap_bytes as f64),
        out.train
            .peak_rss_bytes
            .map_or("n/a".into(), |b| gb(b as f64))
    );
    for (name, before) in &out.ppl_before {
        let after = out.ppl_after.get(name).copied().unwrap_or(f64::NAN);
        println!("ppl {name}: {before:.3} -> {after:.3}");
    }
    Ok(())
}

/// The PyTorch reference backend: export the plans, then let the Python script run them.
fn run_reference(grid: &Path, opts: &GridOptions, threads: Option<usize>) -> Result<i32> {
    let (plans, n) = ablate::runner::export::export_plans(grid, opts)?;
    let results = plans.parent().context("plans folder has no parent")?;
    println!("{n} PyTorch runs planned in {}", plans.display());
    let python = std::env::var("ABLATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = std::env::var("ABLATE_TORCH_SCRIPT").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/src/reference/torch_grid.py").into()
    });
    let status = std::process::Command::new(&python)
        .arg(&script)
        .arg("--plans")
        .arg(&plans)
        .arg("--results")
        .arg(results)
        .args([
            "--threads",
            &threads
                .unwrap_or_else(rayon::current_num_threads)
                .to_string(),
        ])
        .env("ABLATE_GIT_REV", env!("ABLATE_GIT_REV"))
        .status()
        .with_context(|| format!("cannot run `{python} {script}` (set ABLATE_PYTHON)"))?;
    Ok(status.code().unwrap_or(2))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    ablate::measure::malloc::keep_freed_memory();
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot set the thread count")?;
    }
    match cli.command {
        Command::Run {
            grid,
            dry_run,
            force,
            retry_failed,
            shard,
            results,
            one,
            framework,
        } => {
            if framework == "pytorch" {
                let opts = GridOptions {
                    results,
                    shard,
                    force,
                    ..Default::default()
                };
                std::process::exit(run_reference(&grid, &opts, cli.threads)?);
            } else if framework != "candle" {
                bail!("--framework is `candle` or `pytorch`, not `{framework}`")
            }
            if let Some(id) = one {
                let dir = results.context("--one needs --results")?;
                return run_one(&grid, &id, &dir);
            }
            let opts = GridOptions {
                results,
                shard,
                force,
                retry_failed,
                dry_run,
                threads: cli.threads,
            };
            let s = run_grid(&grid, &opts)?;
            if !dry_run {
                println!(
                    "{} runs in shard: {} ok, {} failed, {} already finished",
                    s.in_shard, s.ok, s.failed, s.skipped
                );
                if s.failed > 0 {
                    std::process::exit(2);
                }
            }
        }
        Command::Report { results, out } => {
            let r = ablate::report::build(&results, &out)?;
            println!(
                "report from {} runs -> {}: {}",
                r.runs,
                out.display(),
                r.files.join(", ")
            );
            for m in &r.missing {
                println!("missing: {m}");
            }
        }
        Command::Fetch { model } => {
            let Some(known) = KnownModel::by_alias(&model) else {
                bail!(
                    "no known model `{model}` (known: {})",
                    KnownModel::aliases().join(", ")
                )
            };
            let path = known.fetch()?;
            println!("{}: {} ({})", known.alias, path.display(), known.note);
        }
        Command::Eval {
            model,
            data,
            datasets,
            seq_len,
            batch,
            max_blocks,
            save_blocks,
        } => eval(
            &model,
            &data,
            &datasets,
            seq_len,
            batch,
            max_blocks,
            save_blocks.as_deref(),
        )?,
        Command::Params {
            model,
            strategy,
            strategies,
            load,
        } => params(&model, &strategy, strategies.as_deref(), load)?,
        Command::Train {
            model,
            data,
            strategy,
            strategies,
            datasets,
            also_eval,
            seq_len,
            steps,
            batch,
            lr,
            eval_blocks,
            seed,
        } => {
            let settings = TrainSettings {
                steps,
                batch_size: batch,
                lr,
                eval_blocks,
                seed,
                warmup_steps: steps / 10,
                ..TrainSettings::default()
            };
            train_one(
                &model,
                &data,
                &strategy,
                strategies.as_deref(),
                &datasets,
                &also_eval,
                seq_len,
                settings,
            )?
        }
        Command::Bench {
            model,
            strategies,
            batch,
            seq_len,
            steps,
            repeats,
            one,
            optimizer,
        } => {
            let optimizer = match optimizer.as_str() {
                "inplace" => OptimizerKind::Inplace,
                "candle" => OptimizerKind::Candle,
                other => bail!("--optimizer is `inplace` or `candle`, not `{other}`"),
            };
            let settings = BenchSettings {
                batch_size: batch,
                seq_len,
                steps,
                repeats,
                optimizer,
            };
            if let Some(name) = one {
                let strategy = Arc::new(resolve(&name, None)?);
                let sample = measure_one(
                    &ModelSpec::parse(&model)?,
                    &strategy,
                    &settings,
                    &Device::Cpu,
                )?;
                println!("{}", serde_json::to_string(&sample)?);
                return Ok(());
            }
            for s in &strategies {
                resolve(s, None)?;
            }
            let threads = rayon::current_num_threads();
            println!(
                "bench {model}: batch {batch} x seq {seq_len}, fp32, {threads} threads, {steps} timed steps after 1 warm-up, {repeats} repeats interleaved, one process per measurement, optimizer {optimizer:?}"
            );
            let rows = bench(&model, &strategies, &settings, cli.threads, |s, rep| {
                eprintln!(
                    "repeat {} {:<18} {:>7.1} tokens/s  peak heap {}",
                    rep + 1,
                    s.strategy,
                    s.tokens_per_s,
                    gb(s.peak_heap_bytes as f64)
                )
            })?;
            println!(
                "{:<18} {:>10} {:>10} {:>10} {:>14} {:>12}",
                "strategy", "trainable%", "tokens/s", "step s", "peak heap", "peak RSS"
            );
            for r in rows {
                println!(
                    "{:<18} {:>9.2}% {:>10.1} {:>10.2} {:>14} {:>12}",
                    r.strategy,
                    r.trainable_pct,
                    r.tokens_per_s,
                    r.step_s,
                    gb(r.peak_heap_bytes as f64),
                    r.peak_rss_bytes.map_or("n/a".into(), |b| gb(b as f64))
                );
            }
        }
    }
    Ok(())
}
