//! A strategy resolved into compiled rules, applied to a model's parameters: which weights train,
//! which linears get LoRA adapters, and the checks that every rule means something for the model.

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use regex::Regex;

use super::spec::{Group, LoraSpec, PRESETS, StrategySpec};

/// A parameter as the strategy sees it: its Hugging Face name, group and transformer layer. The
/// group and layer come from the architecture's naming table (`models::naming`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    pub name: String,
    pub group: Group,
    pub layer: Option<usize>,
}

/// What a strategy selects in one model: the base parameters that train and the linear layers
/// (by prefix, e.g. `model.layers.3.self_attn.q_proj`) that get adapters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub trainable: BTreeSet<String>,
    pub adapted: BTreeSet<String>,
}

#[derive(Debug)]
pub struct Strategy {
    pub name: String,
    pub spec: StrategySpec,
    train: Vec<Regex>,
    freeze: Vec<Regex>,
}

fn compile(strategy: &str, field: &str, patterns: &[String]) -> Result<Vec<Regex>> {
    patterns
        .iter()
        .map(|p| {
            Regex::new(p).map_err(|e| {
                anyhow::anyhow!(
                    "strategy `{strategy}`: `{field}` rule `{p}` is not a valid regex: {e}"
                )
            })
        })
        .collect()
}

impl Strategy {
    pub fn new(name: &str, spec: StrategySpec) -> Result<Self> {
        if let Some(l) = &spec.lora {
            if l.rank == 0 || l.targets.is_empty() {
                bail!("strategy `{name}`: `lora` needs rank > 0 and at least one target")
            }
            if !l.alpha.is_finite() || l.alpha <= 0.0 {
                bail!("strategy `{name}`: `lora.alpha` must be a positive number")
            }
            if l.dropout != 0.0 {
                bail!("strategy `{name}`: `lora.dropout` > 0 is not implemented (use 0.0)")
            }
        }
        Ok(Self {
            name: name.to_string(),
            train: compile(name, "train", &spec.train)?,
            freeze: compile(name, "freeze", &spec.freeze)?,
            spec,
        })
    }

    pub fn preset(name: &str) -> Result<Self> {
        match StrategySpec::preset(name) {
            Some(spec) => Self::new(name, spec),
            None => bail!(
                "unknown strategy `{name}` (presets: {})",
                PRESETS.join(", ")
            ),
        }
    }

    pub fn lora(&self) -> Option<&LoraSpec> {
        self.spec.lora.as_ref()
    }

    fn in_layers(&self, layer: Option<usize>, n_layers: usize) -> bool {
        let Some(r) = &self.spec.layers else {
            return true;
        };
        let resolve = |i: i64| {
            if i < 0 {
                (n_layers as i64 + i).max(0)
            } else {
                i
            }
        };
        let (from, to) = (resolve(r.from), r.to.map_or(n_layers as i64, resolve));
        layer.is_some_and(|l| (from..to).contains(&(l as i64)))
    }

    /// Does base parameter `p` train?
    pub fn trains(&self, p: &ParamInfo, n_layers: usize) -> bool {
        let selected =
            self.spec.groups.contains(&p.group) || self.train.iter().any(|r| r.is_match(&p.name));
        selected
            && !self.freeze.iter().any(|r| r.is_match(&p.name))
            && self.in_layers(p.layer, n_layers)
    }

    /// Does the linear layer whose weight is `p` (`{prefix}.weight`) get a LoRA adapter?
    fn adapts(&self, p: &ParamInfo, n_layers: usize) -> bool {
        let Some(prefix) = p.name.strip_suffix(".weight") else {
            return false;
        };
        self.lora().is_some_and(|l| {
            let last = prefix.rsplit('.').next().unwrap_or(prefix);
            l.targets.iter().any(|t| t == last) && self.in_layers(p.layer, n_layers)
        })
    }

    /// Every rule must match some parameter of this model and something must train.
    pub fn check(&self, params: &[ParamInfo], n_layers: usize) -> Result<()> {
        let n = &self.name;
        for g in &self.spec.groups {
            if !params.iter().any(|p| p.group == *g) {
                bail!(
                    "strategy `{n}`: group `{}` matches no parameter of this model",
                    g.name()
                )
            }
        }
        for (field, rules) in [("train", &self.train), ("freeze", &self.freeze)] {
            for r in rules {
                if !params.iter().any(|p| r.is_match(&p.name)) {
                    bail!("strategy `{n}`: `{field}` rule `{r}` matches no parameter of this model")
                }
            }
        }
        if let Some(l) = self.lora() {
            for t in &l.targets {
                if !params
                    .iter()
                    .any(|p| p.name.ends_with(&format!(".{t}.weight")))
                {
                    bail!("strategy `{n}`: LoRA target `{t}` matches no linear layer of this model")
                }
            }
        }
        let s = self.select_unchecked(params, n_layers);
        if s.trainable.is_empty() && s.adapted.is_empty() {
            bail!("strategy `{n}` leaves nothing trainable in this model")
        }
        Ok(())
    }

    /// Check the strategy against the model's parameters, then say what trains and what adapts.
    pub fn select(&self, params: &[ParamInfo], n_layers: usize) -> Result<Selection> {
        self.check(params, n_layers)?;
        Ok(self.select_unchecked(params, n_layers))
    }

    fn select_unchecked(&self, params: &[ParamInfo], n_layers: usize) -> Selection {
        let base = params.iter().filter(|p| p.group != Group::Adapters);
        Selection {
            trainable: base
                .clone()
                .filter(|p| self.trains(p, n_layers))
                .map(|p| p.name.clone())
                .collect(),
            adapted: base
                .filter(|p| self.adapts(p, n_layers))
                .filter_map(|p| p.name.strip_suffix(".weight").map(String::from))
                .collect(),
        }
    }
}
