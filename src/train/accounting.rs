//! Parameter accounting, printed exactly as PEFT's `print_trainable_parameters` does, plus a
//! breakdown by group.

use std::collections::BTreeMap;
use std::fmt::Write;

use anyhow::Result;

use crate::models::ArchConfig;
use crate::strategy::Group;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupCount {
    pub total: usize,
    pub trainable: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accounting {
    pub total: usize,
    pub trainable: usize,
    pub by_group: BTreeMap<Group, GroupCount>,
}

/// 1234567 -> "1,234,567"
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Accounting {
    /// From (name, element count, trains?) for every distinct parameter of a model of `arch`.
    pub fn new<'a>(
        arch: &ArchConfig,
        entries: impl IntoIterator<Item = (&'a str, usize, bool)>,
    ) -> Result<Self> {
        let mut a = Self::default();
        for (name, n, trains) in entries {
            let group = arch.naming().describe_all([name])?[0].group;
            let g = a.by_group.entry(group).or_default();
            g.total += n;
            a.total += n;
            if trains {
                g.trainable += n;
                a.trainable += n;
            }
        }
        Ok(a)
    }

    pub fn from_model(lm: &dyn crate::models::CausalLm) -> Result<Self> {
        Self::new(
            lm.arch(),
            lm.params()
                .into_iter()
                .map(|p| (p.name(), p.numel(), p.is_trainable())),
        )
    }

    pub fn ratio(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.trainable as f64 / self.total as f64
        }
    }

    /// `trainable params: N || all params: M || trainable%: P`, as PEFT prints it.
    pub fn peft_line(&self) -> String {
        format!(
            "trainable params: {} || all params: {} || trainable%: {:.4}",
            thousands(self.trainable),
            thousands(self.total),
            100.0 * self.ratio()
        )
    }

    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<12} {:>14} {:>14} {:>9}\n",
            "group", "params", "trainable", "%"
        );
        for g in Group::BASE.iter().chain([&Group::Adapters]) {
            if let Some(c) = self.by_group.get(g) {
                let pct = 100.0 * c.trainable as f64 / c.total.max(1) as f64;
                let _ = writeln!(
                    s,
                    "{:<12} {:>14} {:>14} {:>8.2}%",
                    g.name(),
                    thousands(c.total),
                    thousands(c.trainable),
                    pct
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peft_format() {
        let arch = ArchConfig::from_hf_str(
            r#"{"model_type": "llama", "vocab_size": 8, "hidden_size": 4, "intermediate_size": 8,
                "num_hidden_layers": 1, "num_attention_heads": 2, "rms_norm_eps": 1e-5,
                "max_position_embeddings": 16}"#,
        )
        .unwrap();
        let a = Accounting::new(
            &arch,
            [
                ("model.embed_tokens.weight", 750_000, false),
                ("model.layers.0.mlp.up_proj.weight", 250_000, true),
            ],
        )
        .unwrap();
        assert_eq!(
            a.peft_line(),
            "trainable params: 250,000 || all params: 1,000,000 || trainable%: 25.0000"
        );
        assert_eq!(a.by_group[&Group::Mlp].trainable, 250_000);
    }
}
