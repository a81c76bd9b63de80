//! Turning one run's outcome into result rows.

use crate::config::grid::{RunConfig, sweep_label};
use crate::measure::hardware::{Hardware, framework_version};
use crate::measure::stats::mean;
use crate::measure::{HEAP_METHOD, RSS_METHOD};
use crate::results::{
    CurveBlockRow, CurveRow, EvalBlockRow, EvalRow, Role, RunRecord, RunRow, Status, StepRow,
};
use crate::strategy::Group;
use crate::train::run::RunOutput;
use crate::train::{Outcome, StepRecord};

pub const FRAMEWORK: &str = "candle";

/// The row fields every run has, whether it finished or not: its configuration, every train
/// setting, and the machine.
pub fn base_row(grid: &str, run_id: &str, cfg: &RunConfig, started_at: &str) -> RunRow {
    let s = &cfg.settings;
    let hw = Hardware::detect();
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
        device: cfg.device.to_string(),
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
        status: Status::Failed,
        min_lr_ratio: Some(s.min_lr_ratio),
        beta1: Some(s.beta1),
        beta2: Some(s.beta2),
        eps: Some(s.eps),
        grad_clip: Some(s.grad_clip),
        measure_skip_steps: Some(s.measure_skip_steps as u64),
        eval_blocks: Some(s.eval_blocks as u64),
        eval_batch: Some(s.eval_batch as u64),
        eval_every: Some(s.eval_every as u64),
        curve_blocks: Some(s.curve_blocks as u64),
        schedule: Some(s.schedule()),
        samples: Some(s.samples as u64),
        sample_temperature: Some(s.sample_temperature),
        sample_top_p: Some(s.sample_top_p),
        validation_blocks: Some(s.validation_blocks as u64),
        sample_tokens: Some(s.sample_tokens as u64),
        lr_sweep: cfg.lr_sweep.as_deref().map(sweep_label),
        cpu_model: Some(hw.cpu_model),
        cpus: Some(hw.cpus),
        simd: Some(hw.simd),
        gemm: Some(hw.gemm),
        mem_total_bytes: hw.mem_total_bytes,
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

/// All rows of a finished run: `row` (from `base_row`) filled with the measurements.
pub fn record(mut row: RunRow, cfg: &RunConfig, out: &RunOutput) -> RunRecord {
    let t = &out.train;
    let id = row.run_id.clone();
    row.model_source = out.model_source.clone();
    row.notes = (!out.notes.is_empty()).then(|| out.notes.join("; "));
    row.model_sha256 = Some(out.model_sha256.clone());
    row.data_sha256 = out.evals.first().map(|e| e.source.sha256.clone());
    row.params_total = out.accounting.total as u64;
    row.params_trainable = out.accounting.trainable as u64;
    row.trainable_ratio = out.accounting.ratio();
    let group = |g: Group| Some(out.accounting.by_group.get(&g).map_or(0, |c| c.trainable) as u64);
    row.trainable_embeddings = group(Group::Embeddings);
    row.trainable_attention = group(Group::Attention);
    row.trainable_mlp = group(Group::Mlp);
    row.trainable_norms = group(Group::Norms);
    row.trainable_adapters = group(Group::Adapters);
    row.tokens_seen = t.tokens_seen as u64;
    row.train_seconds = t.train_seconds;
    row.tokens_per_s = t.tokens_per_s;
    row.step_ms_p50 = t.step_ms_p50.is_finite().then_some(t.step_ms_p50);
    row.step_ms_p95 = t.step_ms_p95.is_finite().then_some(t.step_ms_p95);
    row.eval_tokens_per_s = out.eval_tokens_per_s;
    row.eval_seconds = out.eval_before_seconds + out.curve_seconds + out.eval_after_seconds;
    row.eval_before_seconds = Some(out.eval_before_seconds);
    row.curve_seconds = Some(out.curve_seconds);
    row.eval_after_seconds = Some(out.eval_after_seconds);
    row.peak_mem_bytes = t.peak_mem_bytes.map(|b| b as u64);
    row.peak_mem_method = t.peak_mem_method.clone();
    row.peak_rss_bytes = t.peak_rss_bytes;
    // The breakdown is of the heap: on a GPU the heap holds only the host's share.
    if cfg.device.is_cpu()
        && let Some(m) = t.memory
    {
        row.mem_weights_bytes = Some(m.start_bytes as u64);
        row.mem_grads_bytes = Some(m.grads_bytes as u64);
        row.mem_optimizer_bytes = Some(m.optimizer_bytes as u64);
        row.mem_activations_bytes = Some(m.activations_bytes as u64);
    }
    row.final_loss = t.steps.last().map(|s| s.loss);
    row.saved_bytes = out.saved_bytes;
    row.sample_before = out.sample_before.clone();
    row.sample_after = out.sample_after.clone();
    let evals: Vec<EvalRow> = out
        .evals
        .iter()
        .map(|e| {
            let src = &e.source;
            let files: std::collections::BTreeSet<usize> = src.blocks.iter().map(|b| b.0).collect();
            EvalRow {
                run_id: id.clone(),
                corpus: src.corpus.clone(),
                role: cfg.role_of(&src.corpus),
                ppl_before: Some(e.ppl_before()),
                ppl_after: e.ppl_after(),
                corpus_sha256: Some(src.sha256.clone()),
                blocks: Some(src.blocks.len() as u64),
                tokens: Some(src.tokens.iter().sum::<usize>() as u64),
                files: Some(
                    files
                        .into_iter()
                        .map(|f| src.files[f].as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                before_cached: Some(u64::from(e.before_cached)),
            }
        })
        .collect();
    let eval_blocks = out
        .evals
        .iter()
        .flat_map(|e| {
            let (id, src) = (&id, &e.source);
            (0..src.blocks.len()).map(move |i| EvalBlockRow {
                run_id: id.clone(),
                corpus: src.corpus.clone(),
                role: cfg.role_of(&src.corpus),
                block: i as u64,
                file: src.files[src.blocks[i].0].clone(),
                offset: src.blocks[i].1 as u64,
                tokens: src.tokens[i] as u64,
                nll_before: Some(e.nll_before[i]),
                nll_after: e.nll_after.as_ref().map(|a| a[i]),
            })
        })
        .collect();
    let curves = out
        .curves
        .iter()
        .map(|c| CurveRow {
            run_id: id.clone(),
            step: c.step as u64,
            corpus: c.corpus.clone(),
            role: cfg.role_of(&c.corpus),
            nll: c.nll,
            tokens: c.tokens as u64,
        })
        .collect();
    let curve_blocks = out
        .curves
        .iter()
        .flat_map(|c| {
            c.block_nll
                .iter()
                .enumerate()
                .map(|(i, &nll)| CurveBlockRow {
                    run_id: id.clone(),
                    step: c.step as u64,
                    corpus: c.corpus.clone(),
                    role: cfg.role_of(&c.corpus),
                    block: i as u64,
                    nll,
                })
        })
        .collect();
    let pick = |r: Role, after: bool| {
        let v: Vec<f64> = evals
            .iter()
            .filter(|e| e.role == r)
            .filter_map(|e| if after { e.ppl_after } else { e.ppl_before })
            .collect();
        mean(&v)
    };
    row.ppl_before = pick(Role::Own, false);
    row.ppl_after = pick(Role::Own, true);
    row.ppl_before_cross = pick(Role::Cross, false);
    row.ppl_after_cross = pick(Role::Cross, true);
    row.ppl_before_general = pick(Role::General, false);
    row.ppl_after_general = pick(Role::General, true);
    match &t.outcome {
        Outcome::Completed => {
            row.status = Status::Ok;
            row.error = None;
        }
        Outcome::Diverged { step, what } => {
            row.status = Status::Failed;
            row.error = Some(format!("diverged at step {step}: {what}"));
        }
    }
    RunRecord {
        run: row,
        steps: step_rows(&id, &t.steps),
        evals,
        eval_blocks,
        curves,
        curve_blocks,
    }
}
