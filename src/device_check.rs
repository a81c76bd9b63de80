//! `ablate device-check`: the same model on the CPU (the fused path, the one the parity tests
//! hold to transformers) and on another device (the portable path and that device's kernels):
//! logits, loss and every trainable gradient of one batch, then the losses and gradient norms of
//! a few training steps. What a GPU machine runs first (scripts/gpu-check.sh).

use anyhow::{Result, bail};
use candle_core::{Device, Tensor};
use serde::Serialize;

use crate::config::train::TrainSettings;
use crate::data::random::random_blocks;
use crate::eval::next_token_loss;
use crate::models::ModelSpec;
use crate::strategy::Strategy;
use crate::train::{build_for_strategy, train};

/// fp32 agreement expected between two devices (different reduction orders, no TF32).
pub const TOLERANCE: f64 = 1e-3;

#[derive(Clone, Debug, Serialize)]
pub struct DeviceCheck {
    pub model: String,
    pub strategy: String,
    pub device: String,
    /// Largest |logit| on the CPU, for scale.
    pub logits_max: f64,
    pub logits_max_abs_diff: f64,
    pub loss_cpu: f64,
    pub loss_device: f64,
    /// Over trainable tensors: max |g_cpu - g_dev| / max |g_cpu|, and the worst tensor.
    pub grad_max_rel_diff: f64,
    pub worst_grad: String,
    pub grads_compared: usize,
    pub train_loss_cpu: Vec<f64>,
    pub train_loss_device: Vec<f64>,
    pub train_grad_norm_cpu: Vec<f64>,
    pub train_grad_norm_device: Vec<f64>,
    pub train_max_abs_diff: f64,
    pub ok: bool,
}

fn max_abs(t: &Tensor) -> Result<f64> {
    Ok(f64::from(t.abs()?.max_all()?.to_scalar::<f32>()?))
}

/// Compare `device` with the CPU on `model` trained as `strategy`: random ids (seeded), one
/// batch of (batch, seq), then `steps` AdamW steps.
pub fn check(
    model: &ModelSpec,
    strategy: &Strategy,
    device: &Device,
    batch: usize,
    seq: usize,
    steps: usize,
) -> Result<DeviceCheck> {
    let blocks = random_blocks(model.arch()?.vocab_size(), batch * steps.max(1), seq);
    let flat: Vec<u32> = blocks[..batch].concat();
    let cpu = Device::Cpu;
    let on = |dev: &Device| -> Result<_> {
        let m = build_for_strategy(&model.read(dev)?, strategy, 0, dev)?;
        let ids = Tensor::from_vec(flat.clone(), (batch, seq), dev)?;
        let logits = m.lm.forward(&ids)?;
        let loss = next_token_loss(&logits, &ids)?;
        let grads = loss.backward()?;
        let mut named = Vec::new();
        for p in m.lm.params() {
            if let Some(v) = p.var()
                && let Some(g) = grads.get(v.as_tensor())
            {
                named.push((p.name().to_string(), g.to_device(&Device::Cpu)?));
            }
        }
        let settings = TrainSettings {
            steps,
            batch_size: batch,
            warmup_steps: 0,
            lr: 1e-3,
            measure_skip_steps: 0,
            ..TrainSettings::default()
        };
        let r = train(m.lm.as_ref(), blocks.clone(), &settings, dev, |_| {})?;
        Ok((
            logits.to_device(&Device::Cpu)?,
            f64::from(loss.to_scalar::<f32>()?),
            named,
            r.steps,
        ))
    };
    let (l_cpu, loss_cpu, g_cpu, s_cpu) = on(&cpu)?;
    let (l_dev, loss_dev, g_dev, s_dev) = on(device)?;
    let logits_max_abs_diff = max_abs(&(&l_cpu - &l_dev)?)?;
    if g_cpu.len() != g_dev.len() {
        bail!(
            "{} trainable gradients on the CPU but {} on {device:?}",
            g_cpu.len(),
            g_dev.len()
        )
    }
    let (mut grad_max_rel_diff, mut worst_grad) = (0f64, String::new());
    for ((name, a), (_, b)) in g_cpu.iter().zip(&g_dev) {
        let rel = max_abs(&(a - b)?)? / max_abs(a)?.max(f64::MIN_POSITIVE);
        if rel > grad_max_rel_diff || worst_grad.is_empty() {
            grad_max_rel_diff = rel;
            worst_grad = name.clone();
        }
    }
    let pick = |s: &[crate::train::StepRecord], f: fn(&crate::train::StepRecord) -> f64| {
        s.iter().map(f).collect::<Vec<f64>>()
    };
    let (train_loss_cpu, train_loss_device) = (pick(&s_cpu, |r| r.loss), pick(&s_dev, |r| r.loss));
    let train_max_abs_diff = train_loss_cpu
        .iter()
        .zip(&train_loss_device)
        .map(|(a, b)| (a - b).abs())
        .fold(0f64, f64::max);
    let ok = logits_max_abs_diff <= TOLERANCE
        && (loss_cpu - loss_dev).abs() <= TOLERANCE
        && grad_max_rel_diff <= TOLERANCE
        && train_max_abs_diff <= TOLERANCE
        && train_loss_cpu.len() == train_loss_device.len();
    Ok(DeviceCheck {
        model: model.describe(),
        strategy: strategy.name.clone(),
        device: format!("{device:?}"),
        logits_max: max_abs(&l_cpu)?,
        logits_max_abs_diff,
        loss_cpu,
        loss_device: loss_dev,
        grad_max_rel_diff,
        worst_grad,
        grads_compared: g_cpu.len(),
        train_grad_norm_cpu: pick(&s_cpu, |r| r.grad_norm),
        train_grad_norm_device: pick(&s_dev, |r| r.grad_norm),
        train_loss_cpu,
        train_loss_device,
        train_max_abs_diff,
        ok,
    })
}
