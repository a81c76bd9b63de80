use super::lookup;
use std::path::PathBuf;

use ablate::models::ModelSpec;
use ablate::train::{Accounting, build_for_strategy, plan_accounting};
use anyhow::Result;
use candle_core::Device;
use clap::Args;

#[derive(Args)]
pub struct ParamsArgs {
    #[arg(long, default_value = "smollm2-135m")]
    model: String,
    #[arg(long, default_value = "attn_embed_frozen")]
    strategy: String,
    /// TOML file with `[custom_strategies.NAME]` tables (a grid file works).
    #[arg(long)]
    strategies: Option<PathBuf>,
    /// Build the model from its weights instead of counting from the config alone.
    #[arg(long)]
    load: bool,
}

pub fn params(a: ParamsArgs) -> Result<()> {
    let spec = ModelSpec::from_arg(&a.model)?;
    let strategy = lookup::strategy(&a.strategy, a.strategies.as_deref())?;
    let acc = if a.load {
        let m = build_for_strategy(&spec.read(&Device::Cpu)?, &strategy, 0, &Device::Cpu)?;
        Accounting::from_model(m.lm.as_ref())?
    } else {
        plan_accounting(&spec.arch()?, &strategy)?
    };
    println!("{} / {}", a.model, strategy.name);
    println!("{}", acc.peft_line());
    print!("{}", acc.table());
    Ok(())
}
