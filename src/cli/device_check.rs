use super::lookup;
use ablate::config::device::DeviceSpec;
use ablate::device_check::{TOLERANCE, check};
use ablate::models::ModelSpec;
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct DeviceCheckArgs {
    /// A small model: the tiny fixtures are what the parity tests hold to transformers.
    #[arg(long, default_value = "tests/fixtures/tiny-llama")]
    model: String,
    /// Comma-separated strategies.
    #[arg(long, value_delimiter = ',', default_values_t = ["full".to_string(), "attn_embed_frozen".into(), "lora".into()])]
    strategies: Vec<String>,
    /// The device compared with the CPU.
    #[arg(long, default_value = "cuda")]
    device: DeviceSpec,
    #[arg(long, default_value_t = 2)]
    batch: usize,
    #[arg(long, default_value_t = 16)]
    seq_len: usize,
    #[arg(long, default_value_t = 3)]
    steps: usize,
}

/// Prints one JSON line per strategy; exit code 1 when any is outside the tolerance.
pub fn device_check(a: DeviceCheckArgs) -> Result<i32> {
    let model = ModelSpec::from_arg(&a.model)?;
    let device = a.device.open()?;
    let mut all_ok = true;
    for s in &a.strategies {
        let strategy = lookup::strategy(s, None)?;
        let c = check(&model, &strategy, &device, a.batch, a.seq_len, a.steps)?;
        eprintln!(
            "{} {s:<18} logits {:.2e} (of {:.1})  loss {:.6} vs {:.6}  gradients {:.2e} relative ({} tensors, worst {})  {} steps {:.2e}  {}",
            c.model,
            c.logits_max_abs_diff,
            c.logits_max,
            c.loss_cpu,
            c.loss_device,
            c.grad_max_rel_diff,
            c.grads_compared,
            c.worst_grad,
            c.train_loss_cpu.len(),
            c.train_max_abs_diff,
            if c.ok { "ok" } else { "OUTSIDE TOLERANCE" }
        );
        all_ok &= c.ok;
        println!("{}", serde_json::to_string(&c)?);
    }
    eprintln!(
        "tolerance {TOLERANCE:e}: {}",
        if all_ok { "all within" } else { "FAILED" }
    );
    Ok(if all_ok { 0 } else { 1 })
}
