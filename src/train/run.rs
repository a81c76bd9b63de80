//! One run: load the model for a strategy, evaluate every corpus, train on one, evaluate again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use candle_core::Device;

use super::accounting::Accounting;
use super::setup::{build_for_strategy, save_trainable};
use super::trainer::{StepRecord, TrainReport, train};
use crate::config::datasets::DatasetSpec;
use crate::config::train::TrainSettings;
use crate::data::Dataset;
use crate::eval::generate::greedy;
use crate::eval::perplexity;
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
    /// Other corpora evaluated before and after (cross-style, general) for forgetting.
    pub others: Vec<DatasetSpec>,
    pub settings: TrainSettings,
    /// Where to save what trained: `Tensors(file)` the trained tensors as safetensors; `Export(dir)`
    /// a PEFT adapter for a LoRA strategy, else a Hugging Face folder of the whole model.
    pub save: Option<Save>,
}

pub enum Save {
    Tensors(PathBuf),
    Export(PathBuf),
}

pub struct RunOutput {
    pub accounting: Accounting,
    pub model_source: String,
    pub train: TrainReport,
    /// Eval perplexity per corpus name, before and after training.
    pub ppl_before: BTreeMap<String, f64>,
    pub ppl_after: BTreeMap<String, f64>,
    /// Forward-only tokens/s of the before-training eval on the trained corpus.
    pub eval_tokens_per_s: f64,
    pub eval_seconds: f64,
    pub saved_bytes: Option<u64>,
    /// Greedy continuations of the sample prompt, before and after training.
    pub sample_before: Option<String>,
    pub sample_after: Option<String>,
}

fn eval_all(
    lm: &dyn CausalLm,
    sets: &[Dataset],
    s: &TrainSettings,
    device: &Device,
) -> Result<(BTreeMap<String, f64>, f64)> {
    let mut out = BTreeMap::new();
    let mut first_tps = 0.0;
    for (i, ds) in sets.iter().enumerate() {
        let mut blocks = ds.eval_blocks();
        if s.eval_blocks > blocks.len() {
            bail!(
                "eval_blocks = {} but the eval split of `{}` has only {} blocks of {} tokens",
                s.eval_blocks,
                ds.name,
                blocks.len(),
                ds.seq_len
            )
        }
        if s.eval_blocks > 0 {
            blocks.truncate(s.eval_blocks);
        }
        let r = perplexity(lm, &blocks, s.eval_batch, device)?;
        if i == 0 {
            first_tps = r.tokens_per_s;
        }
        out.insert(ds.name.clone(), r.ppl);
    }
    Ok((out, first_tps))
}

pub fn run(plan: &RunPlan, device: &Device, on_step: impl FnMut(&StepRecord)) -> Result<RunOutput> {
    let s = &plan.settings;
    s.check()
        .map_err(|e| anyhow::anyhow!("train settings: {e}"))?;
    let model = build_for_strategy(&plan.model.read(device)?, &plan.strategy, s.seed, device)?;
    let accounting = Accounting::from_model(model.lm.as_ref())?;
    let sets = std::iter::once(&plan.dataset)
        .chain(&plan.others)
        .map(|d| model.dataset(d))
        .collect::<Result<Vec<_>>>()?;
    let t_eval = Instant::now();
    let (ppl_before, eval_tps) = eval_all(model.lm.as_ref(), &sets, s, device)?;
    let mut eval_seconds = t_eval.elapsed().as_secs_f64();
    let max_len = plan.dataset.seq_len;
    let sample = |m: &crate::models::Model| -> Result<Option<String>> {
        if s.sample_prompt.is_empty() || s.sample_tokens == 0 {
            return Ok(None);
        }
        greedy(
            m.lm.as_ref(),
            &m.tokenizer,
            &s.sample_prompt,
            s.sample_tokens,
            max_len,
            device,
        )
        .map(Some)
    };
    let sample_before = sample(&model)?;
    let blocks: Vec<Vec<u32>> = sets[0].train_blocks().iter().map(|b| b.to_vec()).collect();
    let report = train(model.lm.as_ref(), blocks, s, device, on_step)?;
    let t_eval = Instant::now();
    let ppl_after = if report.outcome == super::Outcome::Completed {
        eval_all(model.lm.as_ref(), &sets, s, device)?.0
    } else {
        BTreeMap::new()
    };
    eval_seconds += t_eval.elapsed().as_secs_f64();
    let sample_after = if report.outcome == super::Outcome::Completed {
        sample(&model)?
    } else {
        None
    };
    let saved_bytes = match &plan.save {
        Some(Save::Tensors(p)) => Some(save_trainable(model.lm.as_ref(), p)?),
        Some(Save::Export(dir)) => Some(match plan.strategy.lora() {
            Some(l) => save_peft_adapter(model.lm.as_ref(), l, &plan.model_name, dir)?,
            None => save_hf_folder(&model, None, dir)?,
        }),
        None => None,
    };
    Ok(RunOutput {
        accounting,
        model_source: model.source,
        train: report,
        ppl_before,
        ppl_after,
        eval_tokens_per_s: eval_tps,
        eval_seconds,
        saved_bytes,
        sample_before,
        sample_after,
    })
}
