//! From a checkpoint and a strategy to a model whose parameters train as the strategy says, in a
//! straight line: read the checkpoint, resolve the strategy against the architecture's parameters
//! into a plan, build. Accounting and the PyTorch plans resolve through the same `plan_for`.

use anyhow::Result;
use candle_core::Device;

use super::accounting::Accounting;
use crate::models::{ArchConfig, CausalLm, Checkpoint, Model, ParamPlan, WeightSet, build_lm};
use crate::strategy::{ParamInfo, Strategy};

/// What `strategy` trains and adapts in a model of `arch` (its own parameters, named by the
/// architecture's table), after checking that every rule of the strategy matches something.
pub fn plan_for(arch: &ArchConfig, strategy: &Strategy, seed: u64) -> Result<ParamPlan> {
    let lm = shapes(arch, ParamPlan::frozen())?;
    let params: Vec<ParamInfo> = arch
        .naming()
        .describe_all(lm.params().iter().map(|p| p.name()))?;
    let sel = strategy.select(&params, arch.num_layers())?;
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
    ckpt.build(device, plan_for(&ckpt.arch, strategy, seed)?)
}

/// Parameter names and shapes of an architecture from its config alone (nothing allocated).
fn shapes(arch: &ArchConfig, plan: ParamPlan) -> Result<Box<dyn CausalLm>> {
    build_lm(
        arch,
        &mut WeightSet::shapes_only("config", plan),
        &Device::Cpu,
    )
}

/// Parameter accounting from the architecture alone (no weights are read or allocated).
pub fn plan_accounting(arch: &ArchConfig, strategy: &Strategy) -> Result<Accounting> {
    let plan = plan_for(arch, strategy, 0)?;
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
