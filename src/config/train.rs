//! Training hyper-parameters.

use serde::{Deserialize, Serialize};

pub use crate::train::optim::OptimizerKind;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    /// Optimizer steps.
    pub steps: usize,
    /// Blocks per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    /// Peak learning rate.
    pub lr: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Linear warm-up steps, then cosine decay to `min_lr_ratio * lr` at the last step.
    pub warmup_steps: usize,
    pub min_lr_ratio: f64,
    /// Clip the global gradient norm to this (0 = off).
    pub grad_clip: f64,
    /// First steps left out of throughput and step-time statistics.
    pub measure_skip_steps: usize,
    /// Eval blocks per corpus before and after training (0 = all).
    pub eval_blocks: usize,
    pub eval_batch: usize,
    pub seed: u64,
    pub optimizer: OptimizerKind,
    /// Prompt continued greedily before and after training, to read the style (empty = none).
    pub sample_prompt: String,
    pub sample_tokens: usize,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            steps: 100,
            batch_size: 4,
            grad_accum: 1,
            lr: 1e-4,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            warmup_steps: 10,
            min_lr_ratio: 0.1,
            grad_clip: 1.0,
            measure_skip_steps: 2,
            eval_blocks: 32,
            eval_batch: 8,
            seed: 0,
            optimizer: OptimizerKind::default(),
            sample_prompt: "It was late in the evening when".into(),
            sample_tokens: 40,
        }
    }
}

impl TrainSettings {
    /// Learning rate at optimizer step `step` (0-based).
    pub fn lr_at(&self, step: usize) -> f64 {
        if self.warmup_steps > 0 && step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay_steps = self.steps.saturating_sub(self.warmup_steps).max(1);
        let progress = ((step - self.warmup_steps.min(step)) as f64 / decay_steps as f64).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.lr * (self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine() {
        let s = TrainSettings {
            steps: 110,
            warmup_steps: 10,
            lr: 1.0,
            min_lr_ratio: 0.1,
            ..Default::default()
        };
        assert!((s.lr_at(0) - 0.1).abs() < 1e-12);
        assert!((s.lr_at(9) - 1.0).abs() < 1e-12);
        assert!((s.lr_at(10) - 1.0).abs() < 1e-12);
        assert!((s.lr_at(60) - 0.55).abs() < 1e-12);
        assert!((s.lr_at(110) - 0.1).abs() < 1e-12);
    }
}
