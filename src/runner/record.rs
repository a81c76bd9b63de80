//! Turning one run's outcome into result rows.

use crate::config::grid::RunConfig;
use crate::measure::{HEAP_METHOD, RSS_METHOD};
use crate::results::{EvalRow, RunRow, StepRow};
use crate::train::run::RunOutput;
use crate::train::{Outcome, StepRecord};

pub const FRAMEWORK: &str = "candle";

pub fn framework_version() -> String {
    format!(
        "candle-core {} / ablate {}",
        env!("ABLATE_CANDLE_VERSION"),
        env!("CARGO_PKG_VERSION")
    )
}

/// The row fields every run has, whether it finished or not.
pub fn base_row(grid: &str, run_id: &str, cfg: &RunConfig, started_at: &str) -> RunRow {
    let s = &cfg.settings;
    RunRow {
        run_id: run_id.to_string(),
        grid: grid.to_string(),
        model: cfg.model.clone(),
        dataset: cfg.dataset.name.clone(),
        strategy: cfg.strategy.clone(),
        strategy_spec: serde_json::to_string(&cfg.strategy_spec).unwrap_or_default(),
        seed: cfg.seed,
        framework: FRAMEWORK.into(),
        framework_version: framework_version(),
        device: "cpu".into(),
        threads: rayon::current_num_threads() as u64,
        git_rev: env!("ABLATE_GIT_REV").into(),
        started_at: started_at.to_string(),
        steps: s.steps as u64,
        batch_size: s.batch_size as u64,
        grad_accum: s.grad_accum as u64,
        seq_len: cfg.dataset.seq_len as u64,
        lr: s.lr,
        warmup_steps: s.warmup_steps as u64,
        weight_decay: s.weight_decay,
        optimizer: format!("{:?}", s.optimizer).to_lowercase(),
        peak_mem_method: HEAP_METHOD.into(),
        peak_rss_method: RSS_METHOD.into(),
        sample_prompt: s.sample_prompt.clone(),
        status: "failed".into(),
        ..RunRow::default()
    }
}

pub fn step_rows(run_id: &str, steps: &[StepRecord]) -> Vec<StepRow> {
    steps
        .iter()
        .map(|r| StepRow {
            run_id: run_id.to_string(),
            step: r.step as u64,
            loss: r.loss,
            lr: r.lr,
            grad_norm: r.grad_norm,
            tokens: r.tokens as u64,
            elapsed_s: r.elapsed_s,
        })
        .collect()
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Fill the measured fields of `row` from a run's output; returns the eval rows.
pub fn fill(row: &mut RunRow, cfg: &RunConfig, out: &RunOutput) -> Vec<EvalRow> {
    let t = &out.train;
    row.model_source = out.model_source.clone();
    row.params_total = out.accounting.total as u64;
    row.params_trainable = out.accounting.trainable as u64;
    row.trainable_ratio = out.accounting.ratio();
    row.tokens_seen = t.tokens_seen as u64;
    row.train_seconds = t.train_seconds;
    row.tokens_per_s = t.tokens_per_s;
    row.step_ms_p50 = t.step_ms_p50.is_finite().then_some(t.step_ms_p50);
    row.step_ms_p95 = t.step_ms_p95.is_finite().then_some(t.step_ms_p95);
    row.eval_tokens_per_s = Some(out.eval_tokens_per_s);
    row.eval_seconds = out.eval_seconds;
    row.peak_mem_bytes = t.peak_heap_bytes.map(|b| b as u64);
    row.peak_rss_bytes = t.peak_rss_bytes;
    row.final_loss = t.steps.last().map(|s| s.loss);
    row.saved_bytes = out.saved_bytes;
    row.sample_before = out.sample_before.clone();
    row.sample_after = out.sample_after.clone();
    let evals: Vec<EvalRow> = out
        .ppl_before
        .iter()
        .map(|(corpus, before)| EvalRow {
            run_id: row.run_id.clone(),
            corpus: corpus.clone(),
            role: cfg.role_of(corpus).into(),
            ppl_before: Some(*before),
            ppl_after: out.ppl_after.get(corpus).copied(),
        })
        .collect();
    let pick = |r: &str, after: bool| {
        let v: Vec<f64> = evals
            .iter()
            .filter(|e| e.role == r)
            .filter_map(|e| if after { e.ppl_after } else { e.ppl_before })
            .collect();
        mean(&v)
    };
    row.ppl_before = pick("own", false);
    row.ppl_after = pick("own", true);
    row.ppl_before_cross = pick("cross", false);
    row.ppl_after_cross = pick("cross", true);
    row.ppl_before_general = pick("general", false);
    row.ppl_after_general = pick("general", true);
    match &t.outcome {
        Outcome::Completed => {
            row.status = "ok".into();
            row.error = None;
        }
        Outcome::Diverged { step, what } => {
            row.status = "failed".into();
            row.error = Some(format!("diverged at step {step}: {what}"));
        }
    }
    evals
}
