//! The child side of a grid: one run in this process, handed to it whole by the parent on stdin
//! (the run's id and resolved configuration), its results written to the results folder.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::record::{base_row, record};
use crate::config::grid::RunConfig;
use crate::models::ModelSpec;
use crate::results::{ResultsDir, RunRecord, Status};
use crate::strategy::Strategy;
use crate::train::run::{RunPlan, Save, run};

/// What the parent hands a child: everything one run needs, resolved.
#[derive(Serialize, Deserialize)]
pub struct ChildTask {
    pub grid: String,
    pub run_id: String,
    /// The resolved model, as a reference `ModelSpec::parse` maps back to it unambiguously.
    pub model_location: String,
    /// Its sha256, as resolved (part of the run id): the child does not hash it again.
    pub model_sha256: String,
    pub config: RunConfig,
}

/// A progress line from a child to its parent (stdout, after `PROGRESS_PREFIX`).
#[derive(Serialize, Deserialize)]
pub struct Progress {
    pub step: usize,
    pub steps: usize,
    pub loss: f64,
    pub tokens_per_s: f64,
}

pub const PROGRESS_PREFIX: &str = "ablate-progress ";

/// Die with the parent grid process, so a killed grid leaves no orphan run writing later.
fn follow_parent() {
    #[cfg(target_os = "linux")]
    if let Some(ppid) = std::env::var("ABLATE_PARENT_PID")
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    {
        // SAFETY: prctl/getppid have no memory-safety preconditions.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != ppid {
                std::process::exit(1);
            }
        }
    }
}

/// Read the task from stdin, run it, write its rows (a failed run is recorded, not returned).
pub fn run_from_stdin(results: &Path) -> Result<()> {
    follow_parent();
    let mut json = String::new();
    std::io::stdin()
        .read_to_string(&mut json)
        .context("cannot read the run task from stdin")?;
    let task: ChildTask = serde_json::from_str(&json).context("malformed run task on stdin")?;
    run_task(&task, &ResultsDir::new(results))
}

fn run_task(task: &ChildTask, dir: &ResultsDir) -> Result<()> {
    let started = chrono::Utc::now().to_rfc3339();
    let t0 = Instant::now();
    let (cfg, id) = (&task.config, task.run_id.as_str());
    let row = base_row(&task.grid, id, cfg, &started);
    // Weights are written only when the grid asks (`save_model`): a LoRA run as a PEFT adapter,
    // any other as a Hugging Face folder of the whole model. Evidence grids keep none (the
    // 30-run paper grid once wrote 13 GB of trained tensors nobody read).
    let save = if cfg.save_model {
        let weights = dir.root.join("weights");
        std::fs::create_dir_all(&weights)
            .with_context(|| format!("cannot create {}", weights.display()))?;
        Some(Save::Export(weights.join(id)))
    } else {
        None
    };
    let steps_total = cfg.settings.steps;
    let step_tokens =
        (cfg.settings.batch_size * cfg.settings.grad_accum * cfg.dataset.seq_len) as f64;
    let mut steps = Vec::new();
    let result = ModelSpec::parse(&task.model_location).and_then(|model| {
        let plan = RunPlan {
            model,
            model_sha256: Some(task.model_sha256.clone()),
            model_name: cfg.model.clone(),
            strategy: Arc::new(Strategy::new(&cfg.strategy, cfg.strategy_spec.clone())?),
            dataset: cfg.dataset.clone(),
            others: cfg.eval_corpora.clone(),
            settings: cfg.settings.clone(),
            save,
            before_cache: Some(dir.root.join(".cache").join("before")),
            chat_probe: cfg.chat_probe.clone(),
        };
        run(&plan, &cfg.device.open()?, |s| {
            let p = Progress {
                step: s.step,
                steps: steps_total,
                loss: s.loss,
                tokens_per_s: step_tokens / s.step_s,
            };
            println!(
                "{PROGRESS_PREFIX}{}",
                serde_json::to_string(&p).unwrap_or_default()
            );
            steps.push(s.clone());
        })
    });
    let mut rec = match result {
        Ok(out) => record(row, cfg, &out),
        Err(e) => {
            let mut row = row;
            row.status = Status::Failed;
            row.error = Some(format!("{e:#}"));
            RunRecord {
                run: row,
                steps: super::record::step_rows(id, &steps),
                ..Default::default()
            }
        }
    };
    rec.run.wall_seconds = t0.elapsed().as_secs_f64();
    dir.write_record(&rec)
}
