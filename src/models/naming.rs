//! Which group (embeddings, attention, mlp, norms) and which transformer layer each parameter of
//! an architecture belongs to: one table per architecture, as PEFT keeps its per-architecture
//! target-module tables. A new architecture adds a table here; strategy code does not change.

use anyhow::{Result, bail};

use super::ArchConfig;
use crate::strategy::{Group, ParamInfo};

/// Parameter naming of one architecture (Hugging Face names).
#[derive(Debug)]
pub struct NamingTable {
    pub family: &'static str,
    /// `{layer_prefix}{i}.` starts every parameter of layer i.
    pub layer_prefix: &'static str,
    /// (substring, group): the first rule whose substring the name contains decides the group.
    pub rules: &'static [(&'static str, Group)],
    /// Suffixes of checkpoint tensors that are derived buffers, not parameters: left unused.
    pub unused_ok: &'static [&'static str],
}

pub const LLAMA: NamingTable = NamingTable {
    family: "llama",
    layer_prefix: "model.layers.",
    rules: &[
        ("model.embed_tokens.", Group::Embeddings),
        ("lm_head.", Group::Embeddings),
        (".self_attn.", Group::Attention),
        (".mlp.", Group::Mlp),
        (".input_layernorm.", Group::Norms),
        (".post_attention_layernorm.", Group::Norms),
        ("model.norm.", Group::Norms),
    ],
    unused_ok: &[".rotary_emb.inv_freq"],
};

pub const GPT_NEO: NamingTable = NamingTable {
    family: "gpt_neo",
    layer_prefix: "transformer.h.",
    rules: &[
        ("transformer.wte.", Group::Embeddings),
        ("transformer.wpe.", Group::Embeddings),
        ("lm_head.", Group::Embeddings),
        (".attn.", Group::Attention),
        (".mlp.", Group::Mlp),
        (".ln_1.", Group::Norms),
        (".ln_2.", Group::Norms),
        ("transformer.ln_f.", Group::Norms),
    ],
    // Causal-mask buffers that older transformers versions saved with the weights.
    unused_ok: &[".attn.attention.bias", ".attn.attention.masked_bias"],
};

/// Gemma 3: the q/k norms live inside attention (`self_attn.q_norm`, `self_attn.k_norm`) and
/// count as attention, as PEFT and the reference's "freeze the self-attention blocks" would have
/// it; the four per-layer RMSNorms and the final norm are norms.
pub const GEMMA3: NamingTable = NamingTable {
    family: "gemma3",
    layer_prefix: "model.layers.",
    rules: &[
        ("model.embed_tokens.", Group::Embeddings),
        ("lm_head.", Group::Embeddings),
        (".self_attn.", Group::Attention),
        (".mlp.", Group::Mlp),
        (".input_layernorm.", Group::Norms),
        (".post_attention_layernorm.", Group::Norms),
        (".pre_feedforward_layernorm.", Group::Norms),
        (".post_feedforward_layernorm.", Group::Norms),
        ("model.norm.", Group::Norms),
    ],
    unused_ok: &[],
};

impl NamingTable {
    /// Group and layer of `name`; `None` for a name this table does not know.
    pub fn describe(&self, name: &str) -> Option<ParamInfo> {
        let group = if name.contains(".lora_A.") || name.contains(".lora_B.") {
            Group::Adapters
        } else {
            self.rules
                .iter()
                .find(|(pat, _)| name.contains(pat))
                .map(|(_, g)| *g)?
        };
        let layer = name.strip_prefix(self.layer_prefix).and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        });
        Some(ParamInfo {
            name: name.to_string(),
            group,
            layer,
        })
    }

    /// Every name described; a name the table does not know is an error that names it.
    pub fn describe_all<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<ParamInfo>> {
        names
            .into_iter()
            .map(|n| match self.describe(n) {
                Some(p) => Ok(p),
                None => bail!(
                    "parameter `{n}` has no group in the {} naming table (models/naming.rs)",
                    self.family
                ),
            })
            .collect()
    }
}

impl ArchConfig {
    pub fn naming(&self) -> &'static NamingTable {
        match self {
            Self::Llama(_) => &LLAMA,
            Self::GptNeo(_) => &GPT_NEO,
            Self::Gemma3(_) => &GEMMA3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_layers() {
        let d = |t: &NamingTable, n: &str| t.describe(n).map(|p| (p.group, p.layer));
        assert_eq!(
            d(&LLAMA, "model.layers.12.self_attn.q_proj.weight"),
            Some((Group::Attention, Some(12)))
        );
        assert_eq!(
            d(&LLAMA, "model.layers.3.self_attn.q_proj.lora_A.weight"),
            Some((Group::Adapters, Some(3)))
        );
        assert_eq!(d(&LLAMA, "model.norm.weight"), Some((Group::Norms, None)));
        assert_eq!(
            d(&GPT_NEO, "transformer.h.1.attn.attention.out_proj.bias"),
            Some((Group::Attention, Some(1)))
        );
        assert_eq!(
            d(&GPT_NEO, "transformer.wpe.weight"),
            Some((Group::Embeddings, None))
        );
        assert_eq!(
            d(&GPT_NEO, "transformer.h.0.ln_2.weight"),
            Some((Group::Norms, Some(0)))
        );
        assert_eq!(
            d(&GEMMA3, "model.layers.5.self_attn.k_norm.weight"),
            Some((Group::Attention, Some(5)))
        );
        assert_eq!(
            d(&GEMMA3, "model.layers.0.pre_feedforward_layernorm.weight"),
            Some((Group::Norms, Some(0)))
        );
        assert_eq!(d(&GEMMA3, "model.norm.weight"), Some((Group::Norms, None)));
        assert!(LLAMA.describe("rope_freqs.weight").is_none());
        assert!(LLAMA.describe_all(["model.norm.weight", "x.y"]).is_err());
    }
}
