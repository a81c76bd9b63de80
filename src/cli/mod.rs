//! The command line: one args struct per subcommand (in its own file, with its body), parsed by
//! clap, and a short dispatch.

mod bench;
mod device_check;
mod eval;
mod fetch;
mod lookup;
mod params;
mod report;
mod run;
mod train;

use anyhow::{Context, Result};
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
    #[command(after_help = ablate::models::spec::rule())]
    Run(run::RunArgs),
    /// Run one grid run handed over on stdin (used by `run`, one process per run).
    #[command(hide = true)]
    RunOne(run::RunOneArgs),
    /// Bring a grid's finished runs rows to the current schema, filling the columns added since
    /// from each run's resolved configuration (ids and other values unchanged).
    Migrate(run::MigrateArgs),
    /// Charts and REPORT.md from the Parquet results.
    Report(report::ReportArgs),
    /// Download a known model (e.g. `smollm2`) into the cache and check its sha256.
    Fetch(fetch::FetchArgs),
    /// Eval perplexity and forward tokens/s of a model on the held-out split of datasets.
    Eval(eval::EvalArgs),
    /// Parameter accounting of a strategy, as PEFT prints it, plus a breakdown by group.
    Params(params::ParamsArgs),
    /// Train one model on one dataset with one strategy and report the measurements.
    Train(train::TrainArgs),
    /// Time training steps per strategy (interleaved, repeated, medians).
    Bench(bench::BenchArgs),
    /// Compare a device with the CPU: logits, gradients and a few training steps.
    DeviceCheck(device_check::DeviceCheckArgs),
}

/// Parse the command line and run it; returns the process exit code.
pub fn main() -> Result<i32> {
    let cli = Cli::parse();
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        // candle's element-wise worker spins 25,000 rounds after every op before it sleeps,
        // taking a core from the matrix-product threads: measured 3-6% of a step on 2 cores.
        // SAFETY: set before any thread is started; candle reads it when its pool starts.
        unsafe { std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", "0") };
    }
    ablate::measure::malloc::keep_freed_memory();
    if std::env::var("ABLATE_PORTABLE_OPS").is_ok_and(|v| v == "1") {
        ablate::nn::slices::force_portable(true);
    }
    if let Some(n) = cli.threads {
        // candle's element-wise pool sizes itself from these, not from the pool below.
        // SAFETY: set before any thread is started.
        unsafe {
            std::env::set_var("RAYON_NUM_THREADS", n.to_string());
            std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
            if cfg!(feature = "mkl") && std::env::var_os("MKL_NUM_THREADS").is_none() {
                // MKL's products run on its own OpenMP threads, sized from this.
                std::env::set_var("MKL_NUM_THREADS", n.to_string());
            }
        }
    }
    let threads = cli.threads;
    let dispatch = move || match cli.command {
        Command::Run(a) => run::run(a, threads),
        Command::RunOne(a) => run::run_one(a).map(|()| 0),
        Command::Migrate(a) => run::migrate(a).map(|()| 0),
        Command::Report(a) => report::report(a).map(|()| 0),
        Command::Fetch(a) => fetch::fetch(a).map(|()| 0),
        Command::Eval(a) => eval::eval(a).map(|()| 0),
        Command::Params(a) => params::params(a).map(|()| 0),
        Command::Train(a) => train::train(a).map(|()| 0),
        Command::Bench(a) => bench::bench(a, threads).map(|()| 0),
        Command::DeviceCheck(a) => device_check::device_check(a),
    };
    // The command runs on a worker of the pool that runs the matrix products: between
    // products the other worker sleeps, instead of a main thread outside the pool competing for
    // the two cores with two workers that yield while idle (measured here: LoRA +20%,
    // attn_embed_frozen +12%, full -2..+9%, interleaved).
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("cannot build the thread pool")?
        .install(dispatch)
}
