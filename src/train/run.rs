//! One run, start to finish: load the model with its strategy, score the eval sets before,
//! along and after training, train, sample, save; what it measured comes back as a `RunOutput`.

use super::accounting::Accounting;
use super::before_cache::{CachedBefore, cache_read, cache_write, key};
use super::chat_probe::{ChatOutcome, chat_set};
use super::eval_plan::{Split, eval_plan};
use super::scoring::{CorpusEval, CurvePoint, EvalSet};
use super::setup::build_for_strategy;
use super::trainer::{StepRecord, TrainReport, train};
use crate::config::datasets::DatasetSpec;
use crate::config::probe::ChatProbe;
use crate::config::train::TrainSettings;
use crate::eval::generate::{Chooser, continuation};
use crate::measure::alloc;
use crate::measure::stats::mean;
use crate::models::export::{save_hf_folder, save_peft_adapter};
use crate::models::{CausalLm, ModelSpec};
use crate::strategy::Strategy;
use anyhow::Result;
use candle_core::Device;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Between the continuations of one run in `sample_before` / `sample_after`.
pub const SAMPLE_SEPARATOR: &str = "\n\u{2014}\n";

pub struct RunPlan {
    pub model: ModelSpec,
    /// The model's sha256 as the runner resolved it; None: hashed here (`ablate train`).
    pub model_sha256: Option<String>,
    /// The model as the user named it (written into an exported adapter's config).
    pub model_name: String,
    pub strategy: Arc<Strategy>,
    /// The corpus trained on.
    pub dataset: DatasetSpec,
    /// Other corpora evaluated before and after (cross-style, general, probes) for forgetting.
    pub others: Vec<DatasetSpec>,
    pub settings: TrainSettings,
    /// Where to save what trained (None: not saved).
    pub save: Option<Save>,
    /// Folder of cached "before" scores, shared by every run of the same model and blocks.
    pub before_cache: Option<PathBuf>,
    /// Instructions whose base-model replies are scored before, during and after training.
    pub chat_probe: Option<ChatProbe>,
}

/// `Export(dir)`: a PEFT adapter for a LoRA strategy, else a Hugging Face folder of the whole
/// model.
pub enum Save {
    Export(PathBuf),
}

pub struct RunOutput {
    /// What the run could not measure, and why (e.g. a probe the model cannot take).
    pub notes: Vec<String>,
    pub accounting: Accounting,
    pub model_source: String,
    pub model_sha256: String,
    pub train: TrainReport,
    /// The trained corpus first, then the others in the plan's order.
    pub evals: Vec<CorpusEval>,
    pub curves: Vec<CurvePoint>,
    /// Forward-only tokens/s of the trained corpus's eval (before training, when not cached).
    pub eval_tokens_per_s: Option<f64>,
    pub eval_before_seconds: f64,
    pub curve_seconds: f64,
    pub eval_after_seconds: f64,
    pub saved_bytes: Option<u64>,
    /// Greedy continuations of the sample prompt, before and after training.
    pub sample_before: Option<String>,
    pub sample_after: Option<String>,
}

pub fn run(
    plan: &RunPlan,
    device: &Device,
    mut on_step: impl FnMut(&StepRecord),
) -> Result<RunOutput> {
    let s = &plan.settings;
    // Settings were checked where they entered: the grid loader, or `ablate train`'s arguments.
    let model_sha256 = match &plan.model_sha256 {
        Some(sha) => sha.clone(),
        None => plan.model.sha256()?,
    };
    let model = build_for_strategy(&plan.model.read(device)?, &plan.strategy, s.seed, device)?;
    let lm = model.lm.as_ref();
    let accounting = Accounting::from_model(lm)?;
    let datasets = std::iter::once(&plan.dataset)
        .chain(&plan.others)
        .map(|d| model.dataset(d))
        .collect::<Result<Vec<_>>>()?;
    let cache = plan.before_cache.as_deref();

    // Before training: every corpus's sample (scores from the cache when another run of the same
    // model scored the same blocks), then the chat probe.
    let t_eval = Instant::now();
    let mut sets = Vec::new();
    let mut evals = Vec::new();
    let mut eval_tokens_per_s = None;
    let planned = eval_plan(&datasets, s)?;
    let train_blocks = planned.train_blocks;
    let to_score = planned.sets.iter().map(|p| {
        let mut set = EvalSet::blocks(p.dataset, &p.blocks);
        set.source.corpus = p.corpus.clone();
        let split = match p.split {
            Split::Eval => "eval",
            Split::Validation => "validation",
        };
        (set, p.dataset.seq_len, split)
    });
    for (i, (set, seq_len, split)) in to_score.enumerate() {
        let mut k = serde_json::json!({
            "model": model_sha256, "corpus": set.source.sha256, "seq_len": seq_len,
            "blocks": set.source.blocks, "batch": s.eval_batch,
        });
        if split != "eval" {
            k["split"] = split.into();
        }
        let k = key(k);
        let (nll, cached) = match cache_read(cache, &k) {
            Some(c) if c.nll.len() == set.source.blocks.len() => (c.nll, true),
            _ => {
                let (nll, tps) = set.score(lm, s.eval_batch, device)?;
                if i == 0 {
                    eval_tokens_per_s = Some(tps);
                }
                let value = CachedBefore {
                    nll: nll.clone(),
                    replies: Vec::new(),
                };
                cache_write(cache, &k, &value)?;
                (nll, false)
            }
        };
        evals.push((nll, cached));
        sets.push(set);
    }
    let mut notes = Vec::new();
    if let Some(probe) = &plan.chat_probe {
        match chat_set(&model, probe, &model_sha256, cache, s.eval_batch, device)? {
            ChatOutcome::Scored(set, nll, cached) => {
                sets.push(set);
                evals.push((nll, cached));
            }
            ChatOutcome::Skipped(reason) => notes.push(reason),
        }
    }
    let eval_before_seconds = t_eval.elapsed().as_secs_f64();

    let max_len = plan.dataset.seq_len;
    // Several continuations (seeds 0..samples), the same seeds before and after training.
    let sample_text = |lm: &dyn CausalLm| -> Result<Option<String>> {
        if s.sample_prompt.is_empty() || s.sample_tokens == 0 || s.samples == 0 {
            return Ok(None);
        }
        let texts = (0..s.samples as u64)
            .map(|seed| {
                let chooser = Chooser {
                    temperature: s.sample_temperature,
                    top_p: s.sample_top_p,
                    seed,
                };
                let (tok, n) = (&model.tokenizer, s.sample_tokens);
                continuation(lm, tok, &s.sample_prompt, n, max_len, chooser, device)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(texts.join(SAMPLE_SEPARATOR)))
    };
    let sample_before = sample_text(lm)?;

    // Curves: the subsets before training, then every `eval_every` steps; their cost is kept out
    // of the step times (measured before the callback) and out of the peak heap.
    let curve_sets: Vec<EvalSet> = if s.eval_every > 0 {
        sets.iter().map(|x| x.subset(s.curve_blocks)).collect()
    } else {
        Vec::new()
    };
    let mut curves = Vec::new();
    let mut curve_seconds = 0.0;
    let mut curve_error = None;
    let mut score_curves = |step: usize, curves: &mut Vec<CurvePoint>| -> Result<()> {
        let t = Instant::now();
        for set in &curve_sets {
            let (nll, _) = alloc::excluded_from_peak(|| set.score(lm, s.eval_batch, device))?;
            curves.push(CurvePoint {
                step,
                corpus: set.source.corpus.clone(),
                nll: mean(&nll).unwrap_or(f64::NAN),
                tokens: set.source.tokens.iter().sum(),
                block_nll: nll,
            });
        }
        curve_seconds += t.elapsed().as_secs_f64();
        Ok(())
    };
    if s.eval_every > 0 {
        score_curves(0, &mut curves)?;
    }
    let blocks: Vec<Vec<u32>> = train_blocks.iter().map(|b| b.to_vec()).collect();
    let report = train(lm, blocks, s, device, |rec| {
        on_step(rec);
        let done = rec.step + 1;
        if s.eval_every > 0
            && (done % s.eval_every == 0 || done == s.steps)
            && curve_error.is_none()
            && let Err(e) = score_curves(done, &mut curves)
        {
            curve_error = Some(e);
        }
    })?;
    if let Some(e) = curve_error {
        return Err(e.context("scoring the curves during training"));
    }

    let t_eval = Instant::now();
    let completed = report.outcome == super::Outcome::Completed;
    let mut out_evals = Vec::with_capacity(sets.len());
    for (set, (nll_before, before_cached)) in sets.iter().zip(evals) {
        let nll_after = if completed {
            Some(set.score(lm, s.eval_batch, device)?.0)
        } else {
            None
        };
        out_evals.push(CorpusEval {
            source: set.source.clone(),
            nll_before,
            before_cached,
            nll_after,
        });
    }
    let eval_after_seconds = t_eval.elapsed().as_secs_f64();
    let sample_after = if completed { sample_text(lm)? } else { None };
    let saved_bytes = match &plan.save {
        Some(Save::Export(dir)) => Some(match plan.strategy.lora() {
            Some(l) => save_peft_adapter(lm, l, &plan.model_name, dir)?,
            None => save_hf_folder(&model, dir)?,
        }),
        None => None,
    };
    Ok(RunOutput {
        notes,
        accounting,
        model_source: model.source.clone(),
        model_sha256,
        train: report,
        evals: out_evals,
        curves,
        eval_tokens_per_s,
        eval_before_seconds,
        curve_seconds,
        eval_after_seconds,
        saved_bytes,
        sample_before,
        sample_after,
    })
}
