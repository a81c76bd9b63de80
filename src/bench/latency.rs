//! `ablate bench --latency`: does a fine-tuned model answer as fast as the base model? Four
//! variants of one model live in one process: the base model; the partially fine-tuned model
//! (the tensors attn_embed_frozen trains, changed: what a partial fine-tune exports, the same
//! graph); LoRA applied at run time (the adapters as separate products beside each adapted
//! weight); LoRA merged into the weights (W + scale B A: the base graph again). Each repeat
//! measures every variant in a rotated order (interleaved, so drift hits them alike) on three
//! shapes: a batch-1 forward of a 128-token prompt (claim 7's rule reads it), one generated token
//! after that prompt (ablate keeps no KV cache: each token recomputes the prefix, so a token
//! costs a forward over the prompt plus the tokens so far), and a 4 x 128 forward. Latency does
//! not depend on the weights' values, only on the graph; the values are changed so that each
//! variant is the model it claims to be.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};

use crate::measure::hardware::{Hardware, framework_version};
use crate::measure::stats::median;
use crate::models::{CausalLm, Checkpoint, Model, ModelSpec, ParamPlan};
use crate::results::schema::LatencyRow;
use crate::strategy::Strategy;
use crate::train::setup::plan_for;

/// The variants, in the order of the first repeat.
pub const VARIANTS: [&str; 4] = ["base", "partial", "lora", "lora_merged"];
/// The shapes for prompts of `tokens` (128 for claim 7): (measure, batch, tokens, timed
/// iterations).
pub fn measures(tokens: usize) -> [(String, usize, usize, usize); 3] {
    [
        (format!("forward_1x{tokens}"), 1, tokens, 3),
        (format!("token_1x{tokens}"), 1, tokens, 4),
        (format!("forward_4x{tokens}"), 4, tokens, 2),
    ]
}
pub const GENERATION: &str = "recomputes the prefix: no KV cache";

/// A checkpoint whose `names` tensors are replaced by `f(name, tensor)`.
fn changed(
    ckpt: &Checkpoint,
    names: impl IntoIterator<Item = String>,
    f: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
) -> Result<Checkpoint> {
    let mut tensors: HashMap<String, Tensor> = ckpt.tensors.clone();
    for n in names {
        // Adapted layers are named by module (`...q_proj`), trained tensors in full.
        let key = [n.clone(), format!("{n}.weight")]
            .into_iter()
            .find(|k| tensors.contains_key(k))
            .with_context(|| format!("{}: no tensor `{n}` to change", ckpt.source))?;
        let new = f(&tensors[&key])?;
        tensors.insert(key, new);
    }
    Ok(Checkpoint {
        arch: ckpt.arch.clone(),
        tensors,
        tokenizer: ckpt.tokenizer.clone(),
        source: ckpt.source.clone(),
        chat: ckpt.chat.clone(),
    })
}

/// The four variants of `model`, built once.
pub fn variants(model: &ModelSpec, device: &Device) -> Result<Vec<(&'static str, Model)>> {
    let ckpt = model.read(device)?;
    let base = ckpt.build(device, ParamPlan::frozen())?;
    let partial_plan = plan_for(&ckpt.arch, &Strategy::preset("attn_embed_frozen")?, 0)?;
    let partial = changed(&ckpt, partial_plan.trainable, |t| t.affine(1.001, 0.0))?
        .build(device, ParamPlan::frozen())?;
    let lora_strategy = Strategy::preset("lora")?;
    let lora_plan = plan_for(&ckpt.arch, &lora_strategy, 0)?;
    let (rank, scale) = (
        lora_plan.lora_rank,
        lora_plan.lora_alpha / lora_plan.lora_rank.max(1) as f64,
    );
    let merged = changed(&ckpt, lora_plan.adapted.clone(), |w| {
        let (out, inp) = w.dims2()?;
        let b = Tensor::randn(0f32, 1e-3, (out, rank), w.device())?;
        let a = Tensor::randn(0f32, 1e-2, (rank, inp), w.device())?;
        w + (b.matmul(&a)? * scale)?.to_dtype(w.dtype())?
    })?
    .build(device, ParamPlan::frozen())?;
    let lora = ckpt.build(device, lora_plan)?;
    Ok(vec![
        ("base", base),
        ("partial", partial),
        ("lora", lora),
        ("lora_merged", merged),
    ])
}

fn ids(batch: usize, tokens: usize, vocab: usize, device: &Device) -> Result<Tensor> {
    // A fixed, spread-out id pattern: latency does not depend on which tokens.
    let v: Vec<u32> = (0..batch * tokens)
        .map(|i| ((i * 7919 + 13) % vocab) as u32)
        .collect();
    Ok(Tensor::from_vec(v, (batch, tokens), device)?)
}

/// Seconds of each timed iteration of one measure on one variant.
fn time(
    lm: &dyn CausalLm,
    measure: (&str, usize, usize, usize),
    device: &Device,
) -> Result<Vec<f64>> {
    let (name, batch, tokens, iterations) = measure;
    let vocab = lm.arch().vocab_size();
    let mut out = Vec::with_capacity(iterations);
    if name.starts_with("token") {
        // Greedy decoding through candle-transformers' LogitsProcessor, one token per iteration,
        // each a forward over the whole sequence so far.
        let mut chooser = LogitsProcessor::from_sampling(0, Sampling::ArgMax);
        let mut seq: Vec<u32> = ids(1, tokens, vocab, device)?.flatten_all()?.to_vec1()?;
        for _ in 0..iterations {
            let t0 = Instant::now();
            let x = Tensor::from_vec(seq.clone(), (1, seq.len()), device)?;
            let logits = lm.forward(&x)?;
            let last = logits.get(0)?.get(seq.len() - 1)?.to_dtype(DType::F32)?;
            seq.push(chooser.sample(&last)?);
            out.push(t0.elapsed().as_secs_f64());
        }
    } else {
        let x = ids(batch, tokens, vocab, device)?;
        for _ in 0..iterations {
            let t0 = Instant::now();
            // Force the result: on a GPU the work is asynchronous until read back.
            lm.forward(&x)?.sum_all()?.to_scalar::<f32>()?;
            out.push(t0.elapsed().as_secs_f64());
        }
    }
    Ok(out)
}

/// Every variant on every shape, `repeats` times in a rotated order; one row per (repeat,
/// variant, measure) with the median of its iterations. `progress` sees each row as it comes.
pub fn measure(
    model_name: &str,
    model: &ModelSpec,
    repeats: usize,
    tokens: usize,
    device: &Device,
    device_label: &str,
    mut progress: impl FnMut(&LatencyRow),
) -> Result<Vec<LatencyRow>> {
    let built = variants(model, device)?;
    let shapes = measures(tokens);
    // One untimed pass over every shape warms caches, allocator and thread pool alike.
    for (_, m) in &built {
        for (name, b, t, _) in &shapes {
            time(m.lm.as_ref(), (name, *b, *t, 1), device)?;
        }
    }
    let hw = Hardware::detect();
    let started = chrono::Utc::now().to_rfc3339();
    let latency_id = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        crate::models::fetch::sha256_hex(format!("{model_name}{started}").as_bytes())
            .get(..8)
            .unwrap_or_default()
    );
    let framework_version = framework_version();
    let mut rows = Vec::new();
    for rep in 0..repeats {
        for k in 0..built.len() {
            let (variant, m) = &built[(k + rep) % built.len()];
            for (name, b, tk, iters) in &shapes {
                let ms = (name.as_str(), *b, *tk, *iters);
                let t = time(m.lm.as_ref(), ms, device)?;
                let row = LatencyRow {
                    latency_id: latency_id.clone(),
                    started_at: started.clone(),
                    model: model_name.to_string(),
                    variant: variant.to_string(),
                    measure: ms.0.to_string(),
                    repeat: rep as u64,
                    seconds: median(&t).unwrap_or(f64::NAN),
                    iterations: t.len() as u64,
                    batch_size: ms.1 as u64,
                    tokens: ms.2 as u64,
                    generation: GENERATION.into(),
                    framework_version: framework_version.clone(),
                    git_rev: env!("ABLATE_GIT_REV").into(),
                    device: device_label.to_string(),
                    threads: rayon::current_num_threads() as u64,
                    cpu_model: hw.cpu_model.clone(),
                    cpus: hw.cpus,
                    simd: hw.simd.clone(),
                    gemm: hw.gemm.clone(),
                };
                progress(&row);
                rows.push(row);
            }
        }
    }
    Ok(rows)
}
