//! One run: load the model for a strategy, evaluate every corpus (or take the "before" scores
//! from the cache), train on one corpus while scoring the curve subsets, evaluate again, save.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::accounting::Accounting;
use super::setup::{build_for_strategy, save_trainable};
use super::trainer::{StepRecord, TrainReport, train};
use crate::config::datasets::DatasetSpec;
use crate::config::train::TrainSettings;
use crate::data::Dataset;
use crate::data::dataset::EvalBlock;
use crate::eval::generate::greedy;
use crate::eval::perplexity;
use crate::measure::alloc;
use crate::models::export::{save_hf_folder, save_peft_adapter};
use crate::models::{CausalLm, ModelSpec};
use crate::strategy::Strategy;

pub struct RunPlan {
    pub model: ModelSpec,
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
}

/// `Tensors(file)`: the trained tensors as safetensors; `Export(dir)`: a PEFT adapter for a LoRA
/// strategy, else a Hugging Face folder of the whole model.
pub enum Save {
    Tensors(PathBuf),
    Export(PathBuf),
}

/// One corpus's evaluation: which blocks (spread over its files) and their mean NLL.
#[derive(Clone, Debug)]
pub struct CorpusEval {
    pub corpus: String,
    pub sha256: String,
    pub files: Vec<String>,
    /// (file index, token offset in that file's eval split) of each block.
    pub blocks: Vec<(usize, usize)>,
    pub block_len: usize,
    pub nll_before: Vec<f64>,
    /// The before scores came from the cache (another run of the same model scored them).
    pub before_cached: bool,
    pub nll_after: Option<Vec<f64>>,
}

fn ppl(nll: &[f64]) -> f64 {
    (nll.iter().sum::<f64>() / nll.len() as f64).exp()
}

impl CorpusEval {
    pub fn ppl_before(&self) -> f64 {
        ppl(&self.nll_before)
    }
    pub fn ppl_after(&self) -> Option<f64> {
        self.nll_after.as_deref().map(ppl)
    }
}

/// A corpus's curve subset scored after `step` optimizer steps (0 = before training).
#[derive(Clone, Debug, PartialEq)]
pub struct CurvePoint {
    pub step: usize,
    pub corpus: String,
    pub nll: f64,
    pub tokens: usize,
}

pub struct RunOutput {
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

/// The stratified eval sample of a dataset, refused when it asks for more than the split has.
fn sample<'d>(ds: &'d Dataset, n: usize, field: &str) -> Result<Vec<EvalBlock<'d>>> {
    let have = ds.eval_blocks().len();
    if n > have {
        bail!(
            "{field} = {n} but the eval split of `{}` has only {have} blocks of {} tokens",
            ds.name,
            ds.seq_len
        )
    }
    Ok(ds.eval_sample(n))
}

/// Mean NLL per block, and forward tokens/s.
fn score(
    lm: &dyn CausalLm,
    blocks: &[EvalBlock],
    batch: usize,
    device: &Device,
) -> Result<(Vec<f64>, f64)> {
    let ids: Vec<&[u32]> = blocks.iter().map(|b| b.ids).collect();
    let r = perplexity(lm, &ids, batch, device)?;
    Ok((r.block_nll, r.tokens_per_s))
}

#[derive(Serialize, Deserialize)]
struct CachedBefore {
    nll: Vec<f64>,
}

/// Cache key: everything that determines the before scores, nothing that does not (strategy,
/// seed and training settings do not: training has not started).
fn before_key(model_sha256: &str, ds: &Dataset, blocks: &[EvalBlock], batch: usize) -> String {
    let positions: Vec<(usize, usize)> = blocks.iter().map(|b| (b.file, b.offset)).collect();
    let key = serde_json::json!({
        "model": model_sha256,
        "corpus": ds.sha256,
        "seq_len": ds.seq_len,
        "blocks": positions,
        "batch": batch,
    });
    crate::models::fetch::sha256_hex(key.to_string().as_bytes())
}

/// The before scores: from the cache when another run already computed them, else computed
/// (and cached). Returns (scores, from cache, tokens/s when computed).
fn before_scores(
    lm: &dyn CausalLm,
    key: &str,
    cache: Option<&Path>,
    blocks: &[EvalBlock],
    batch: usize,
    device: &Device,
) -> Result<(Vec<f64>, bool, Option<f64>)> {
    let file = cache.map(|c| c.join(format!("{key}.json")));
    if let Some(f) = &file
        && let Ok(text) = std::fs::read_to_string(f)
        && let Ok(c) = serde_json::from_str::<CachedBefore>(&text)
        && c.nll.len() == blocks.len()
    {
        return Ok((c.nll, true, None));
    }
    let (nll, tps) = score(lm, blocks, batch, device)?;
    if let Some(f) = &file {
        let dir = f.parent().context("cache file has no folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // Written under a temporary name and renamed: parallel shards may race on one key.
        let tmp = f.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(
            &tmp,
            serde_json::to_string(&CachedBefore { nll: nll.clone() })?,
        )
        .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, f).with_context(|| format!("cannot write {}", f.display()))?;
    }
    Ok((nll, false, Some(tps)))
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

pub fn run(
    plan: &RunPlan,
    device: &Device,
    mut on_step: impl FnMut(&StepRecord),
) -> Result<RunOutput> {
    let s = &plan.settings;
    s.check()
        .map_err(|e| anyhow::anyhow!("train settings: {e}"))?;
    let model_sha256 = plan.model.sha256()?;
    let model = build_for_strategy(&plan.model.read(device)?, &plan.strategy, s.seed, device)?;
    let lm = model.lm.as_ref();
    let accounting = Accounting::from_model(lm)?;
    let sets = std::iter::once(&plan.dataset)
        .chain(&plan.others)
        .map(|d| model.dataset(d))
        .collect::<Result<Vec<_>>>()?;
    let samples = sets
        .iter()
        .map(|ds| sample(ds, s.eval_blocks, "eval_blocks"))
        .collect::<Result<Vec<_>>>()?;
    let curve_sets = if s.eval_every > 0 {
        sets.iter()
            .map(|ds| sample(ds, s.curve_blocks, "curve_blocks"))
            .collect::<Result<Vec<_>>>()?
    } else {
        Vec::new()
    };

    let t_eval = Instant::now();
    let mut evals = Vec::with_capacity(sets.len());
    let mut eval_tokens_per_s = None;
    for (i, (ds, blocks)) in sets.iter().zip(&samples).enumerate() {
        let key = before_key(&model_sha256, ds, blocks, s.eval_batch);
        let cache = plan.before_cache.as_deref();
        let (nll_before, before_cached, tps) =
            before_scores(lm, &key, cache, blocks, s.eval_batch, device)?;
        if i == 0 {
            eval_tokens_per_s = tps;
        }
        evals.push(CorpusEval {
            corpus: ds.name.clone(),
            sha256: ds.sha256.clone(),
            files: ds
                .files
                .iter()
                .map(|f| {
                    f.file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                })
                .collect(),
            blocks: blocks.iter().map(|b| (b.file, b.offset)).collect(),
            block_len: ds.seq_len,
            nll_before,
            before_cached,
            nll_after: None,
        });
    }
    let eval_before_seconds = t_eval.elapsed().as_secs_f64();

    let max_len = plan.dataset.seq_len;
    let sample_text = |lm: &dyn CausalLm| -> Result<Option<String>> {
        if s.sample_prompt.is_empty() || s.sample_tokens == 0 {
            return Ok(None);
        }
        greedy(
            lm,
            &model.tokenizer,
            &s.sample_prompt,
            s.sample_tokens,
            max_len,
            device,
        )
        .map(Some)
    };
    let sample_before = sample_text(lm)?;

    // Curves: the subsets before training, then every `eval_every` steps; their cost is kept out
    // of the step times (measured before the callback) and out of the peak heap.
    let mut curves = Vec::new();
    let mut curve_seconds = 0.0;
    let mut curve_error = None;
    let mut score_curves = |step: usize, curves: &mut Vec<CurvePoint>| -> Result<()> {
        let t = Instant::now();
        for (ds, blocks) in sets.iter().zip(&curve_sets) {
            let (nll, _) = alloc::excluded_from_peak(|| score(lm, blocks, s.eval_batch, device))?;
            curves.push(CurvePoint {
                step,
                corpus: ds.name.clone(),
                nll: mean(&nll),
                tokens: blocks.len() * ds.seq_len,
            });
        }
        curve_seconds += t.elapsed().as_secs_f64();
        Ok(())
    };
    if s.eval_every > 0 {
        score_curves(0, &mut curves)?;
    }
    let blocks: Vec<Vec<u32>> = sets[0].train_blocks().iter().map(|b| b.to_vec()).collect();
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
    if completed {
        for (e, blocks) in evals.iter_mut().zip(&samples) {
            e.nll_after = Some(score(lm, blocks, s.eval_batch, device)?.0);
        }
    }
    let eval_after_seconds = t_eval.elapsed().as_secs_f64();
    let sample_after = if completed { sample_text(lm)? } else { None };
    let saved_bytes = match &plan.save {
        Some(Save::Tensors(p)) => Some(save_trainable(lm, p)?),
        Some(Save::Export(dir)) => Some(match plan.strategy.lora() {
            Some(l) => save_peft_adapter(lm, l, &plan.model_name, dir)?,
            None => save_hf_folder(&model, None, dir)?,
        }),
        None => None,
    };
    Ok(RunOutput {
        accounting,
        model_source: model.source.clone(),
        model_sha256,
        train: report,
        evals,
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
