//! The training loop: AdamW with weight decay (none on biases and norms), linear warm-up then
//! cosine decay, global gradient-norm clipping, gradient accumulation. Only trainable parameters
//! are Vars, so only they receive gradients; frozen weights cost nothing in backward.

use std::time::Instant;

use anyhow::{Result, bail};
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};

use super::batches::Batches;
use super::optim::{AdamWOptimizer, global_grad_norm};
use crate::config::train::TrainSettings;
use crate::eval::lm_loss;
use crate::measure::{self, alloc, device_mem, rss, stats};
use crate::models::CausalLm;

#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    pub step: usize,
    pub loss: f64,
    pub lr: f64,
    pub grad_norm: f64,
    /// Tokens seen so far, this step included.
    pub tokens: usize,
    /// Training seconds so far (evaluation excluded).
    pub elapsed_s: f64,
    pub step_s: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Completed,
    /// Loss or gradient norm became NaN or infinite at this step.
    Diverged {
        step: usize,
        what: String,
    },
}

/// Where the peak heap goes, measured by the counting allocator at phase points: live bytes when
/// training starts (weights, data, everything loaded), what the optimizer state added, what the
/// first step's gradients held after backward, and the rest of the peak (activations, temporaries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryBreakdown {
    pub start_bytes: usize,
    pub optimizer_bytes: usize,
    pub grads_bytes: usize,
    pub activations_bytes: usize,
}

#[derive(Clone, Debug)]
pub struct TrainReport {
    pub steps: Vec<StepRecord>,
    pub outcome: Outcome,
    pub train_seconds: f64,
    pub tokens_seen: usize,
    /// Throughput over the steps after `measure_skip_steps`.
    pub tokens_per_s: f64,
    pub step_ms_p50: f64,
    pub step_ms_p95: f64,
    /// None where the counting allocator is not the global allocator.
    pub peak_heap_bytes: Option<usize>,
    pub memory: Option<MemoryBreakdown>,
    pub peak_rss_bytes: Option<u64>,
    /// The run's peak memory (the heap's on the CPU, the device pool's on a GPU) and its method.
    pub peak_mem_bytes: Option<usize>,
    pub peak_mem_method: String,
}

pub fn train(
    lm: &dyn CausalLm,
    train_blocks: Vec<Vec<u32>>,
    s: &TrainSettings,
    device: &Device,
    mut on_step: impl FnMut(&StepRecord),
) -> Result<TrainReport> {
    if train_blocks.is_empty() {
        bail!("no training blocks")
    }
    let vars: Vec<Var> = lm
        .params()
        .iter()
        .filter_map(|p| p.var().cloned())
        .collect();
    if vars.is_empty() {
        bail!("nothing to train: no parameter is trainable")
    }
    let live_start = alloc::live_bytes();
    let mut opt = AdamWOptimizer::new(s.optimizer, vars.clone(), s)?;
    let optimizer_bytes = alloc::live_bytes()
        .zip(live_start)
        .map(|(now, start)| now.saturating_sub(start));
    let mut grads_bytes = None;

    let mut batches = Batches::new(train_blocks, s.batch_size, s.seed);
    let seq_len = batches.seq_len();
    let step_tokens = s.batch_size * seq_len * s.grad_accum;

    measure::reset_peaks(device)?;
    let mut records = Vec::with_capacity(s.steps);
    let mut outcome = Outcome::Completed;
    let mut elapsed = 0f64;
    'steps: for step in 0..s.steps {
        let t0 = Instant::now();
        let lr = s.lr_at(step);

        let mut acc: Option<GradStore> = None;
        let mut loss_sum = 0f64;
        let micro_batches = s.grad_accum.max(1);
        for _ in 0..micro_batches {
            let ids = Tensor::from_vec(batches.next_batch(), (s.batch_size, seq_len), device)?;
            let loss = lm_loss(lm, &ids)?;
            let value = f64::from(loss.to_scalar::<f32>()?);
            if !value.is_finite() {
                outcome = Outcome::Diverged {
                    step,
                    what: format!("loss is {value}"),
                };
                break 'steps;
            }
            loss_sum += value;
            let loss = if micro_batches > 1 {
                (loss / micro_batches as f64)?
            } else {
                loss
            };
            let grads = loss.backward()?;
            acc = Some(match acc {
                None => grads,
                Some(mut a) => {
                    for v in &vars {
                        if let (Some(old), Some(new)) =
                            (a.get(v.as_tensor()), grads.get(v.as_tensor()))
                        {
                            let sum = (old + new)?;
                            a.insert(v.as_tensor(), sum);
                        }
                    }
                    a
                }
            });
        }
        let Some(mut grads) = acc else { break };
        // The gradients' size: what dropping them frees at the end of the first step. (Live
        // bytes before the step would also count buffers the first step leaves for good, such
        // as gemm's per-thread packing workspace.)
        let live_with_grads = if step == 0 { alloc::live_bytes() } else { None };
        let norm = global_grad_norm(&grads, &vars)?;
        let diverged = !norm.is_finite();
        if !diverged {
            // Clip as torch's clip_grad_norm_ does: scale by max_norm / (norm + 1e-6) when below 1.
            let coef = s.grad_clip / (norm + 1e-6);
            let scale = if s.grad_clip > 0.0 && coef < 1.0 {
                coef
            } else {
                1.0
            };
            opt.step(&mut grads, s, lr, scale)?;
        }
        drop(grads);
        if let Some(with) = live_with_grads {
            grads_bytes = alloc::live_bytes().map(|without| with.saturating_sub(without));
        }
        if diverged {
            outcome = Outcome::Diverged {
                step,
                what: format!("gradient norm is {norm}"),
            };
            break;
        }
        // A GPU queues kernels: the step ends when they have run.
        device.synchronize()?;
        let step_s = t0.elapsed().as_secs_f64();
        elapsed += step_s;
        let rec = StepRecord {
            step,
            loss: loss_sum / micro_batches as f64,
            lr,
            grad_norm: norm,
            tokens: (step + 1) * step_tokens,
            elapsed_s: elapsed,
            step_s,
        };
        on_step(&rec);
        records.push(rec);
    }

    let measured: Vec<f64> = records
        .iter()
        .skip(s.measure_skip_steps)
        .map(|r| r.step_s)
        .collect();
    let measured_time: f64 = measured.iter().sum();
    let peak_heap_bytes = alloc::peak_bytes();
    let (peak_mem_bytes, peak_mem_method) =
        measure::peak_memory(device, peak_heap_bytes, device_mem::peak(device)?);
    Ok(TrainReport {
        tokens_seen: records.len() * step_tokens,
        tokens_per_s: if measured_time > 0.0 {
            (measured.len() * step_tokens) as f64 / measured_time
        } else {
            0.0
        },
        step_ms_p50: stats::median(&measured).unwrap_or(f64::NAN) * 1e3,
        step_ms_p95: stats::quantile(&measured, 0.95).unwrap_or(f64::NAN) * 1e3,
        train_seconds: elapsed,
        steps: records,
        outcome,
        peak_heap_bytes,
        memory: match (peak_heap_bytes, live_start, optimizer_bytes, grads_bytes) {
            (Some(peak), Some(start), Some(opt), Some(grads)) => Some(MemoryBreakdown {
                start_bytes: start,
                optimizer_bytes: opt,
                grads_bytes: grads,
                // What the loop itself holds at its peak beyond weights, state and gradients.
                activations_bytes: peak.saturating_sub(start + opt + grads),
            }),
            _ => None,
        },
        peak_rss_bytes: rss::peak_rss_bytes(),
        peak_mem_bytes,
        peak_mem_method,
    })
}
