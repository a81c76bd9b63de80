//! A linear layer `y = x W^T + b` whose weight is trainable or frozen, optionally with a LoRA
//! adapter. Its products are custom ops (`linear_ops`) so that backward computes exactly what is
//! needed: a frozen weight gets dX only, no dW matmul and no weight-sized gradient.

use candle_core::{Result, Tensor};

use super::linear_ops::project;
use super::lora::{Lora, adapted};
use super::param::Param;
use super::slices::fused_ok;

#[derive(Clone, Debug)]
pub struct Linear {
    weight: Param,
    bias: Option<Param>,
    lora: Option<Lora>,
}

impl Linear {
    pub fn new(weight: Param, bias: Option<Param>) -> Self {
        Self {
            weight,
            bias,
            lora: None,
        }
    }

    pub fn with_lora(mut self, lora: Lora) -> Self {
        self.lora = Some(lora);
        self
    }

    /// Fold the adapter into the base weight: W + scale * B A (a frozen layer, no adapter).
    pub fn merged(&self) -> Result<Linear> {
        let Some(l) = &self.lora else {
            return Ok(self.clone());
        };
        let delta = (l.b.tensor().matmul(l.a.tensor())? * l.scale)?;
        let w = (self.weight.tensor() + delta)?;
        Ok(Linear::new(
            Param::frozen(self.weight.name(), w),
            self.bias.clone(),
        ))
    }

    pub fn weight(&self) -> &Param {
        &self.weight
    }

    /// The weight of a layer that trains nothing (frozen weight, no bias, no adapter): what a
    /// fused op may apply in place of this layer.
    pub fn frozen_weight(&self) -> Option<&Tensor> {
        (!self.weight.is_trainable() && self.bias.is_none() && self.lora.is_none())
            .then(|| self.weight.tensor())
    }

    /// The weight of a layer that is its weight alone (no bias, no adapter), trainable or not:
    /// what a fused op may take as the layer's matrix.
    pub fn plain_weight(&self) -> Option<&Tensor> {
        (self.bias.is_none() && self.lora.is_none()).then(|| self.weight.tensor())
    }

    pub fn params(&self) -> Vec<&Param> {
        let adapters = self.lora.iter().flat_map(|l| [&l.a, &l.b]);
        std::iter::once(&self.weight)
            .chain(self.bias.as_ref())
            .chain(adapters)
            .collect()
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.contiguous()?;
        match (&self.lora, self.fusable_base(&x)) {
            (Some(l), Some((w, b))) => adapted(&x, w, b, l),
            _ => self.forward_composed(&x),
        }
    }

    /// The layer as separate graph nodes: what any device runs, and what the fused adapter
    /// (`nn::lora`) is tested against.
    pub fn forward_composed(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.contiguous()?;
        let y = self.base_forward(&x)?;
        match &self.lora {
            None => Ok(y),
            Some(l) => {
                // Scaling the rank-r activation, not the output: r / out_features of the work.
                let h = (project(&x, &l.a, None)? * l.scale)?;
                super::add::add(&project(&h, &l.b, None)?, &y)
            }
        }
    }

    /// Weight and bias of a frozen base layer that the fused adapter op can apply to `x`.
    fn fusable_base(&self, x: &Tensor) -> Option<(&Tensor, Option<&Tensor>)> {
        let frozen_bias = self.bias.as_ref().is_none_or(|b| !b.is_trainable());
        let w = self.weight.tensor();
        (!self.weight.is_trainable() && frozen_bias && fused_ok(x) && fused_ok(w))
            .then(|| (w, self.bias.as_ref().map(Param::tensor)))
    }

    fn base_forward(&self, x: &Tensor) -> Result<Tensor> {
        let frozen_bias = self
            .bias
            .as_ref()
            .filter(|b| !b.is_trainable())
            .map(|b| b.tensor().clone());
        let y = project(x, &self.weight, frozen_bias)?;
        match self.bias.as_ref().filter(|b| b.is_trainable()) {
            Some(b) => y.broadcast_add(b.tensor()),
            None => Ok(y),
        }
    }
}
