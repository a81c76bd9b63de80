//! Named checkpoint tensors handed to model constructors, which take each one by its Hugging
//! Face name with the shape the config implies. Whether a weight trains, and which linears get
//! LoRA adapters, is decided here by a `ParamPlan`, so the models know nothing of strategies.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Result, bail};
use candle_core::{DType, Device, Shape, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::nn::{Linear, Lora, Param};

/// Which parameters train and which linear layers (by prefix) get adapters: decided from the
/// checkpoint's names before the model is built (read checkpoint -> plan -> build).
#[derive(Clone, Debug, Default)]
pub struct ParamPlan {
    pub trainable: BTreeSet<String>,
    pub adapted: BTreeSet<String>,
    pub lora_rank: usize,
    pub lora_alpha: f64,
    pub seed: u64,
}

impl ParamPlan {
    /// Everything frozen, no adapters: evaluation.
    pub fn frozen() -> Self {
        Self::default()
    }
}

pub struct WeightSet {
    tensors: HashMap<String, Tensor>,
    origin: String,
    plan: ParamPlan,
    rng: StdRng,
    /// Build with placeholder tensors (no memory) to count parameters from a config alone.
    shapes_only: Option<Device>,
}

impl WeightSet {
    pub fn new(
        tensors: HashMap<String, Tensor>,
        origin: impl Into<String>,
        plan: ParamPlan,
    ) -> Self {
        let rng = StdRng::seed_from_u64(plan.seed);
        Self {
            tensors,
            origin: origin.into(),
            plan,
            rng,
            shapes_only: None,
        }
    }

    /// Placeholder weights of the right shapes, all frozen; for parameter accounting only.
    pub fn shapes_only(origin: impl Into<String>, plan: ParamPlan) -> Self {
        let mut w = Self::new(HashMap::new(), origin, plan);
        w.shapes_only = Some(Device::Cpu);
        w
    }

    fn placeholder(dev: &Device, name: &str, shape: Shape) -> Result<Param> {
        let t = Tensor::zeros((), DType::F32, dev)?.broadcast_as(shape)?;
        Ok(Param::frozen(name, t))
    }

    /// Take tensor `name`, check its shape, convert to f32.
    pub fn param(&mut self, name: &str, shape: impl Into<Shape>) -> Result<Param> {
        let shape = shape.into();
        if let Some(dev) = &self.shapes_only {
            return Self::placeholder(dev, name, shape);
        }
        let Some(t) = self.tensors.remove(name) else {
            bail!("{}: tensor `{name}` is missing", self.origin)
        };
        if t.shape() != &shape {
            bail!(
                "{}: tensor `{name}` has shape {:?} but the config implies {:?}",
                self.origin,
                t.dims(),
                shape.dims()
            )
        }
        let t = t.to_dtype(DType::F32)?;
        Ok(Param::new(name, t, self.plan.trainable.contains(name))?)
    }

    /// Drop tensor `name` if the checkpoint has it (a tied lm_head saved beside the embeddings).
    pub fn discard(&mut self, name: &str) {
        self.tensors.remove(name);
    }

    /// After the model took its tensors: any left over means the checkpoint and its config do
    /// not describe the same model (or it needs something ablate does not implement), except
    /// derived buffers the naming table lists as safe to leave.
    pub fn finish(self, unused_ok: &[&str]) -> Result<()> {
        let mut left: Vec<&String> = self
            .tensors
            .keys()
            .filter(|k| !unused_ok.iter().any(|s| k.ends_with(s)))
            .collect();
        left.sort();
        if !left.is_empty() {
            let shown: Vec<&str> = left.iter().take(8).map(|s| s.as_str()).collect();
            bail!(
                "{}: {} tensor(s) that the model built from its config does not use: {}{}",
                self.origin,
                left.len(),
                shown.join(", "),
                if left.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            )
        }
        Ok(())
    }

    /// Take `{prefix}.weight` of shape (out, inp) and, when `bias`, `{prefix}.bias`; wrap it with
    /// a LoRA adapter when the plan says so.
    pub fn linear(&mut self, prefix: &str, out: usize, inp: usize, bias: bool) -> Result<Linear> {
        let weight = self.param(&format!("{prefix}.weight"), (out, inp))?;
        let bias = if bias {
            Some(self.param(&format!("{prefix}.bias"), out)?)
        } else {
            None
        };
        let linear = Linear::new(weight, bias);
        if !self.plan.adapted.contains(prefix) {
            return Ok(linear);
        }
        let r = self.plan.lora_rank;
        let (a_name, b_name) = (
            format!("{prefix}.lora_A.weight"),
            format!("{prefix}.lora_B.weight"),
        );
        let (a, b) = if let Some(dev) = &self.shapes_only {
            (
                Self::placeholder(dev, &a_name, (r, inp).into())?,
                Self::placeholder(dev, &b_name, (out, r).into())?,
            )
        } else {
            // PEFT's init: A ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0.
            let bound = 1.0 / (inp as f32).sqrt();
            let a: Vec<f32> = (0..r * inp)
                .map(|_| self.rng.random_range(-bound..bound))
                .collect();
            let dev = linear.weight().tensor().device().clone();
            (
                Param::trainable(a_name, Tensor::from_vec(a, (r, inp), &dev)?)?,
                Param::trainable(b_name, Tensor::zeros((out, r), DType::F32, &dev)?)?,
            )
        };
        Ok(linear.with_lora(Lora {
            a,
            b,
            scale: self.plan.lora_alpha / r as f64,
        }))
    }
}
