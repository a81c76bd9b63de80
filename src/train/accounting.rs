//! Parameter accounting, printed exactly as PEFT's `print_trainable_parameters` does, plus a
//! breakdown by group.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::config::strategy::Group;
use crate::train::strategy::group_of;

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
    /// From (name, element count, trains?) for every distinct parameter.
    pub fn new<'a>(entries: impl IntoIterator<Item = (&'a str, usize, bool)>) -> Self {
        let mut a = Self::default();
        for (name, n, trains) in entries {
            let g = a.by_group.entry(group_of(name)).or_default();
            g.total += n;
            a.total += n;
            if trains {
                g.trainable += n;
                a.trainable += n;
            }
        }
        a
    }

    pub fn from_params<'a>(params: impl IntoIterator<Item = &'a crate::nn::Param>) -> Self {
        Self::new(
            params
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
        let a = Accounting::new([
            ("model.embed_tokens.weight", 750_000, false),
            ("model.layers.0.mlp.up_proj.weight", 250_000, true),
        ]);
        assert_eq!(
            a.peft_line(),
            "trainable params: 250,000 || all params: 1,000,000 || trainable%: 25.0000"
        );
        assert_eq!(a.by_group[&Group::Mlp].trainable, 250_000);
    }
}
