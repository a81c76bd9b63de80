//! The strategy schema: which parameters train, as groups and rules over parameter names, plus an
//! optional LoRA block. Five presets are built in; a grid (or any TOML) can define more.
//!
//! ```toml
//! [custom_strategies.bitfit]
//! train = ['\.bias$']                  # regexes over parameter names
//! [custom_strategies.norms_only]
//! groups = ["norms"]                   # embeddings | attention | mlp | norms
//! [custom_strategies.last2_mlp]
//! groups = ["mlp"]
//! layers = { from = -2 }               # only layers [n-2, n); negative counts from the end
//! [custom_strategies.lora_qkvo]
//! lora = { rank = 16, alpha = 32, targets = ["q_proj", "k_proj", "v_proj", "o_proj"] }
//! ```
//! A parameter trains when it is in one of `groups` or matches one of `train`, matches none of
//! `freeze`, and (when `layers` is set) lies in those layers.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Embeddings,
    Attention,
    Mlp,
    Norms,
    Adapters,
}

impl Group {
    pub const BASE: [Group; 4] = [
        Group::Embeddings,
        Group::Attention,
        Group::Mlp,
        Group::Norms,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Group::Embeddings => "embeddings",
            Group::Attention => "attention",
            Group::Mlp => "mlp",
            Group::Norms => "norms",
            Group::Adapters => "adapters",
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LayerRange {
    #[serde(default)]
    pub from: i64,
    pub to: Option<i64>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoraSpec {
    #[serde(default = "default_rank")]
    pub rank: usize,
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default)]
    pub dropout: f64,
    #[serde(default = "default_targets")]
    pub targets: Vec<String>,
}

fn default_rank() -> usize {
    8
}
fn default_alpha() -> f64 {
    16.0
}
fn default_targets() -> Vec<String> {
    vec!["q_proj".into(), "v_proj".into()]
}

impl Default for LoraSpec {
    fn default() -> Self {
        Self {
            rank: default_rank(),
            alpha: default_alpha(),
            dropout: 0.0,
            targets: default_targets(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub train: Vec<String>,
    #[serde(default)]
    pub freeze: Vec<String>,
    pub layers: Option<LayerRange>,
    pub lora: Option<LoraSpec>,
}

pub const PRESETS: [&str; 5] = [
    "full",
    "attn_frozen",
    "attn_embed_frozen",
    "mlp_only",
    "lora",
];

impl StrategySpec {
    pub fn preset(name: &str) -> Option<Self> {
        let groups = |g: &[Group]| Self {
            groups: g.to_vec(),
            ..Self::default()
        };
        Some(match name {
            "full" => groups(&Group::BASE),
            "attn_frozen" => groups(&[Group::Embeddings, Group::Mlp, Group::Norms]),
            // The reference experiment: attention and embeddings (hence a tied lm_head) frozen.
            "attn_embed_frozen" => groups(&[Group::Mlp, Group::Norms]),
            "mlp_only" => groups(&[Group::Mlp]),
            "lora" => Self {
                lora: Some(LoraSpec::default()),
                ..Self::default()
            },
            _ => return None,
        })
    }
}
