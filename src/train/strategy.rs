//! A strategy resolved against a model's parameter names: which weights train, which linears get
//! LoRA adapters, and the checks that every rule means something for this model.

use anyhow::{Result, bail};
use regex::Regex;

use crate::config::strategy::{Group, LoraSpec, StrategySpec};

/// The parameter group of a Hugging Face parameter name (Llama and GPT-Neo naming).
pub fn group_of(name: &str) -> Group {
    if name.contains(".lora_A.") || name.contains(".lora_B.") {
        Group::Adapters
    } else if name.contains("embed_tokens")
        || name.contains(".wte.")
        || name.contains(".wpe.")
        || name.starts_with("lm_head")
    {
        Group::Embeddings
    } else if name.contains(".self_attn.") || name.contains(".attn.") {
        Group::Attention
    } else if name.contains(".mlp.") {
        Group::Mlp
    } else {
        // input_layernorm, post_attention_layernorm, model.norm, ln_1, ln_2, ln_f
        Group::Norms
    }
}

/// The transformer layer a parameter belongs to, if any.
pub fn layer_of(name: &str) -> Option<usize> {
    for marker in [".layers.", ".h."] {
        if let Some(i) = name.find(marker) {
            let rest = &name[i + marker.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse() {
                return Some(n);
            }
        }
    }
    None
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
                crate::config::strategy::PRESETS.join(", ")
            ),
        }
    }

    pub fn lora(&self) -> Option<&LoraSpec> {
        self.spec.lora.as_ref()
    }

    fn in_layers(&self, name: &str, n_layers: usize) -> bool {
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
        layer_of(name).is_some_and(|l| (from..to).contains(&(l as i64)))
    }

    /// Does base parameter `name` train?
    pub fn trains(&self, name: &str, n_layers: usize) -> bool {
        let selected = self.spec.groups.contains(&group_of(name))
            || self.train.iter().any(|r| r.is_match(name));
        selected && !self.freeze.iter().any(|r| r.is_match(name)) && self.in_layers(name, n_layers)
    }

    /// Does the linear layer at `prefix` (e.g. `model.layers.3.self_attn.q_proj`) get LoRA?
    pub fn adapts(&self, prefix: &str, n_layers: usize) -> bool {
        self.lora().is_some_and(|l| {
            let last = prefix.rsplit('.').next().unwrap_or(prefix);
            l.targets.iter().any(|t| t == last)
                && (self.spec.layers.is_none() || self.in_layers(prefix, n_layers))
        })
    }

    /// Every rule must match some parameter of this model and something must train.
    pub fn check(&self, names: &[String], n_layers: usize) -> Result<()> {
        let n = &self.name;
        for g in &self.spec.groups {
            if !names.iter().any(|p| group_of(p) == *g) {
                bail!(
                    "strategy `{n}`: group `{}` matches no parameter of this model",
                    g.name()
                )
            }
        }
        for (field, rules) in [("train", &self.train), ("freeze", &self.freeze)] {
            for r in rules {
                if !names.iter().any(|p| r.is_match(p)) {
                    bail!("strategy `{n}`: `{field}` rule `{r}` matches no parameter of this model")
                }
            }
        }
        if let Some(l) = self.lora() {
            for t in &l.targets {
                if !names.iter().any(|p| p.ends_with(&format!(".{t}.weight"))) {
                    bail!("strategy `{n}`: LoRA target `{t}` matches no linear layer of this model")
                }
            }
        }
        let any_base = names.iter().any(|p| self.trains(p, n_layers));
        let any_lora = names
            .iter()
            .filter_map(|p| p.strip_suffix(".weight"))
            .any(|p| self.adapts(p, n_layers));
        if !any_base && !any_lora {
            bail!("strategy `{n}` leaves nothing trainable in this model")
        }
        Ok(())
    }
}

/// A preset by name, or a strategy defined in `file` (`[custom_strategies.NAME]`).
pub fn resolve(name: &str, file: Option<&std::path::Path>) -> Result<Strategy> {
    if let Some(f) = file {
        let custom = crate::config::strategy::load_strategy_file(f)?;
        if let Some(spec) = custom.get(name) {
            return Strategy::new(name, spec.clone());
        }
    }
    Strategy::preset(name)
}
