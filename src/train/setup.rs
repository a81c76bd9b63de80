//! From a checkpoint and a strategy to a model whose parameters train as the strategy says, in a
//! straight line: read the checkpoint, resolve the strategy against its names into a plan, build.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use candle_core::Device;

use super::accounting::Accounting;
use crate::models::{ArchConfig, CausalLm, Checkpoint, Model, ParamPlan, WeightSet, build_lm};
use crate::strategy::{ParamInfo, Strategy};

/// What `strategy` trains and adapts in a model with these parameters, after checking that every
/// rule of the strategy matches something.
pub fn param_plan(
    strategy: &Strategy,
    params: &[ParamInfo],
    n_layers: usize,
    seed: u64,
) -> Result<ParamPlan> {
    let sel = strategy.select(params, n_layers)?;
    let lora = strategy.lora();
    Ok(ParamPlan {
        trainable: sel.trainable,
        adapted: sel.adapted,
        lora_rank: lora.map_or(0, |l| l.rank),
        lora_alpha: lora.map_or(0.0, |l| l.alpha),
        seed,
    })
}

/// Build the model of `ckpt` for `strategy` (LoRA adapters initialised from `seed`).
pub fn build_for_strategy(
    ckpt: &Checkpoint,
    strategy: &Strategy,
    seed: u64,
    device: &Device,
) -> Result<Model> {
    let plan = param_plan(strategy, &ckpt.param_infos()?, ckpt.arch.num_layers(), seed)?;
    ckpt.build(device, plan)
}

/// Parameter names and shapes of an architecture from its config alone (nothing allocated).
fn shapes(arch: &ArchConfig, plan: ParamPlan) -> Result<Box<dyn CausalLm>> {
    build_lm(
        arch,
        &mut WeightSet::shapes_only("config", plan),
        &Device::Cpu,
    )
}

/// The base parameter names of an architecture, from its config alone.
pub fn base_param_names(arch: &ArchConfig) -> Result<Vec<String>> {
    let lm = shapes(arch, ParamPlan::frozen())?;
    Ok(lm.params().iter().map(|p| p.name().to_string()).collect())
}

/// Parameter accounting from the architecture alone (no weights are read or allocated).
pub fn plan_accounting(arch: &ArchConfig, strategy: &Strategy) -> Result<Accounting> {
    let names = base_param_names(arch)?;
    let infos = arch
        .naming()
        .describe_all(names.iter().map(String::as_str))?;
    let plan = param_plan(strategy, &infos, arch.num_layers(), 0)?;
    let trainable = plan.trainable.clone();
    let lm = shapes(arch, plan)?;
    Accounting::new(
        arch,
        lm.params().iter().map(|p| {
            // Placeholders are all frozen; adapters always train.
            let trains = trainable.contains(p.name()) || p.name().contains(".lora_");
            (p.name(), p.numel(), trains)
        }),
    )
}

/// Save what the strategy trained (adapters, or the trainable tensors) as safetensors; returns
/// the file size in bytes.
pub fn save_trainable(lm: &dyn CausalLm, path: &Path) -> Result<u64> {
    let tensors: HashMap<String, candle_core::Tensor> = lm
        .params()
        .into_iter()
        .filter(|p| p.is_trainable())
        .map(|p| (p.name().to_string(), p.tensor().clone()))
        .collect();
    candle_core::safetensors::save(&tensors, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(std::fs::metadata(path)?.len())
}
