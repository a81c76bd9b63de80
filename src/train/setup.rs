//! From a model spec and a strategy to a model whose parameters train as the strategy says.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use candle_core::Device;

use super::accounting::Accounting;
use super::strategy::{Strategy, group_of};
use crate::config::strategy::Group;
use crate::models::{
    ArchConfig, CausalLm, Checkpoint, Model, ModelSpec, ParamPlan, WeightSet, build_lm,
};

fn plan(strategy: &Arc<Strategy>, n_layers: usize, seed: u64) -> ParamPlan {
    let (s1, s2) = (strategy.clone(), strategy.clone());
    let lora = strategy.lora();
    ParamPlan {
        trainable: Box::new(move |name| s1.trains(name, n_layers)),
        adapts: Box::new(move |prefix| s2.adapts(prefix, n_layers)),
        lora_rank: lora.map_or(0, |l| l.rank),
        lora_alpha: lora.map_or(0.0, |l| l.alpha),
        seed,
    }
}

/// The plan for a checkpoint, after checking that every rule of the strategy matches it.
pub fn plan_for(strategy: &Arc<Strategy>, ckpt: &Checkpoint, seed: u64) -> Result<ParamPlan> {
    let n_layers = ckpt.arch.num_layers();
    strategy.check(&ckpt.names(), n_layers)?;
    Ok(plan(strategy, n_layers, seed))
}

pub fn load_for_strategy(
    spec: &ModelSpec,
    strategy: &Arc<Strategy>,
    seed: u64,
    device: &Device,
) -> Result<Model> {
    spec.load(device, &|ckpt| plan_for(strategy, ckpt, seed))
}

/// Parameter accounting from the architecture alone (no weights are read or allocated).
pub fn plan_accounting(arch: &ArchConfig, strategy: &Arc<Strategy>) -> Result<Accounting> {
    let n_layers = arch.num_layers();
    let mut w = WeightSet::shapes_only("config", plan(strategy, n_layers, 0));
    let lm = build_lm(arch, &mut w, &Device::Cpu)?;
    let names: Vec<String> = lm.params().iter().map(|p| p.name().to_string()).collect();
    strategy.check(&names, n_layers)?;
    Ok(Accounting::new(lm.params().iter().map(|p| {
        let trains = group_of(p.name()) == Group::Adapters || strategy.trains(p.name(), n_layers);
        (p.name(), p.numel(), trains)
    })))
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
