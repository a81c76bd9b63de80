//! Training hyper-parameters.

use serde::{Deserialize, Serialize};

/// Which AdamW implementation updates the weights (same rule; they differ in speed and memory).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Fused in-place update (CPU).
    #[default]
    Inplace,
    /// candle-nn's AdamW.
    Candle,
}

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
    /// Eval blocks per corpus before and after training, spread over every file of its eval split
    /// (0 = all of them).
    pub eval_blocks: usize,
    pub eval_batch: usize,
    /// Score the curve subset of every eval corpus every this many steps (0 = no curves).
    pub eval_every: usize,
    /// Blocks per corpus in the curve subset.
    pub curve_blocks: usize,
    /// Train blocks held out of training and scored before and after as `<corpus>:validation`
    /// (0 = none): the learning-rate pilot picks by them, never by a block the report scores.
    /// Left out of the run id when 0, so runs without it keep their ids.
    #[serde(skip_serializing_if = "is_zero")]
    pub validation_blocks: usize,
    pub seed: u64,
    pub optimizer: OptimizerKind,
    /// Prompt continued greedily before and after training, to read the style (empty = none).
    pub sample_prompt: String,
    pub sample_tokens: usize,
    /// Continuations per run, seeds 0..samples, the same before and after training.
    pub samples: usize,
    /// 0 = greedy; above 0, nucleus sampling with `sample_top_p`.
    pub sample_temperature: f64,
    pub sample_top_p: f64,
}

/// The held-out validation slice of the trained corpus is recorded as `<corpus>:validation`.
pub const VALIDATION_SUFFIX: &str = ":validation";

fn is_zero(n: &usize) -> bool {
    *n == 0
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
            eval_blocks: 64,
            eval_batch: 8,
            eval_every: 0,
            curve_blocks: 16,
            validation_blocks: 0,
            seed: 0,
            optimizer: OptimizerKind::default(),
            sample_prompt: "It was late in the evening when".into(),
            sample_tokens: 40,
            samples: 1,
            sample_temperature: 0.0,
            sample_top_p: 1.0,
        }
    }
}

impl TrainSettings {
    /// Settings that cannot give a meaningful run are refused, naming the field.
    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("steps", self.steps),
            ("batch_size", self.batch_size),
            ("grad_accum", self.grad_accum),
            ("eval_batch", self.eval_batch),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err(format!("`{field}` must be at least 1"));
            }
        }
        if self.measure_skip_steps >= self.steps {
            return Err(format!(
                "`measure_skip_steps` = {} leaves none of the {} steps to measure throughput on",
                self.measure_skip_steps, self.steps
            ));
        }
        for (field, v) in [
            ("lr", self.lr),
            ("beta1", self.beta1),
            ("beta2", self.beta2),
            ("eps", self.eps),
        ] {
            if !v.is_finite() || v <= 0.0 {
                return Err(format!("`{field}` must be a positive number, not {v}"));
            }
        }
        if !self.sample_temperature.is_finite() || self.sample_temperature < 0.0 {
            return Err("`sample_temperature` must be a number >= 0 (0 = greedy)".into());
        }
        if !(self.sample_top_p > 0.0 && self.sample_top_p <= 1.0) {
            return Err("`sample_top_p` must be in (0, 1]".into());
        }
        if self.beta1 >= 1.0 || self.beta2 >= 1.0 {
            return Err("`beta1` and `beta2` must be below 1".into());
        }
        for (field, v) in [
            ("weight_decay", self.weight_decay),
            ("grad_clip", self.grad_clip),
            ("min_lr_ratio", self.min_lr_ratio),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("`{field}` must be a number >= 0, not {v}"));
            }
        }
        Ok(())
    }

    /// The schedule in words, recorded with every run.
    pub fn schedule(&self) -> String {
        format!(
            "linear warm-up over {} steps, cosine decay to {} x lr at step {}",
            self.warmup_steps, self.min_lr_ratio, self.steps
        )
    }

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
    fn settings_that_cannot_run_are_refused() {
        let ok = TrainSettings::default();
        assert_eq!(ok.check(), Ok(()));
        let bad = [
            (
                TrainSettings {
                    grad_accum: 0,
                    ..ok.clone()
                },
                "grad_accum",
            ),
            (
                TrainSettings {
                    steps: 0,
                    ..ok.clone()
                },
                "steps",
            ),
            (
                TrainSettings {
                    batch_size: 0,
                    ..ok.clone()
                },
                "batch_size",
            ),
            (
                TrainSettings {
                    steps: 2,
                    measure_skip_steps: 2,
                    ..ok.clone()
                },
                "measure_skip_steps",
            ),
            (
                TrainSettings {
                    lr: -1e-4,
                    ..ok.clone()
                },
                "lr",
            ),
            (
                TrainSettings {
                    lr: f64::NAN,
                    ..ok.clone()
                },
                "lr",
            ),
            (
                TrainSettings {
                    lr: f64::INFINITY,
                    ..ok.clone()
                },
                "lr",
            ),
        ];
        for (s, field) in bad {
            let e = s.check().unwrap_err();
            assert!(e.contains(&format!("`{field}`")), "{e}");
        }
    }

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
