//! Architecture hyper-parameters, read from a Hugging Face `config.json` or built from GGUF
//! metadata.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq)]
pub enum ArchConfig {
    Llama(LlamaConfig),
    GptNeo(GptNeoConfig),
    Gemma3(Gemma3Config),
}

impl ArchConfig {
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Llama(c) => c.vocab_size,
            Self::GptNeo(c) => c.vocab_size,
            Self::Gemma3(c) => c.vocab_size,
        }
    }

    pub fn max_positions(&self) -> usize {
        match self {
            Self::Llama(c) => c.max_position_embeddings,
            Self::GptNeo(c) => c.max_position_embeddings,
            Self::Gemma3(c) => c.max_position_embeddings,
        }
    }

    pub fn num_layers(&self) -> usize {
        match self {
            Self::Llama(c) => c.num_hidden_layers,
            Self::GptNeo(c) => c.attention_layers.len(),
            Self::Gemma3(c) => c.layer_types.len(),
        }
    }

    /// Parse a `config.json`; errors name the file and the offending field.
    pub fn from_hf_json(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read model config {}", path.display()))?;
        Self::from_hf_str(&text).with_context(|| format!("in model config {}", path.display()))
    }

    pub fn from_hf_str(text: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct Probe {
            model_type: Option<String>,
        }
        let probe: Probe = serde_json::from_str(text).context("not valid JSON")?;
        match probe.model_type.as_deref() {
            Some("llama") => {
                let raw: RawLlama = serde_json::from_str(text).context("bad llama config")?;
                Ok(Self::Llama(raw.resolve()?))
            }
            Some("gpt_neo") => {
                let raw: RawGptNeo = serde_json::from_str(text).context("bad gpt_neo config")?;
                Ok(Self::GptNeo(raw.resolve()?))
            }
            Some("gemma3_text") => {
                let raw: RawGemma3 =
                    serde_json::from_str(text).context("bad gemma3_text config")?;
                Ok(Self::Gemma3(raw.resolve()?))
            }
            Some(other) => bail!(
                "field `model_type` is \"{other}\", which ablate does not implement (supported: \"llama\", \"gpt_neo\", \"gemma3_text\")"
            ),
            None => bail!("field `model_type` is missing"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
    pub attention_bias: bool,
    pub mlp_bias: bool,
}

#[derive(Deserialize)]
struct RopeParameters {
    rope_theta: Option<f64>,
    rope_type: Option<String>,
}

#[derive(Deserialize)]
struct RawLlama {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: f64,
    rope_theta: Option<f64>,
    rope_parameters: Option<RopeParameters>,
    rope_scaling: Option<serde_json::Value>,
    max_position_embeddings: usize,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
    hidden_act: Option<String>,
}

impl RawLlama {
    fn resolve(self) -> Result<LlamaConfig> {
        if let Some(act) = self.hidden_act.as_deref().filter(|a| *a != "silu") {
            bail!("field `hidden_act` is \"{act}\"; the llama family here uses \"silu\"")
        }
        let rope_type = self
            .rope_parameters
            .as_ref()
            .and_then(|r| r.rope_type.clone())
            .unwrap_or_else(|| "default".into());
        if rope_type != "default" || self.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
            bail!(
                "field `rope_parameters.rope_type`: only unscaled (\"default\") RoPE is implemented"
            )
        }
        let rope_theta = self
            .rope_parameters
            .and_then(|r| r.rope_theta)
            .or(self.rope_theta)
            .unwrap_or(10_000.0);
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            bail!("field `num_attention_heads` must divide `hidden_size`")
        }
        let kv = self.num_key_value_heads.unwrap_or(self.num_attention_heads);
        if kv == 0 || !self.num_attention_heads.is_multiple_of(kv) {
            bail!("field `num_key_value_heads` must divide `num_attention_heads`")
        }
        Ok(LlamaConfig {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            num_key_value_heads: kv,
            head_dim: self
                .head_dim
                .unwrap_or(self.hidden_size / self.num_attention_heads),
            rms_norm_eps: self.rms_norm_eps,
            rope_theta,
            max_position_embeddings: self.max_position_embeddings,
            tie_word_embeddings: self.tie_word_embeddings,
            attention_bias: self.attention_bias,
            mlp_bias: self.mlp_bias,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionKind {
    Global,
    Local,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GptNeoConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_heads: usize,
    pub max_position_embeddings: usize,
    pub window_size: usize,
    pub layer_norm_epsilon: f64,
    /// One entry per layer.
    pub attention_layers: Vec<AttentionKind>,
}

#[derive(Deserialize)]
struct RawGptNeo {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: Option<usize>,
    num_heads: usize,
    num_layers: usize,
    max_position_embeddings: usize,
    window_size: usize,
    layer_norm_epsilon: f64,
    attention_types: Vec<(Vec<String>, usize)>,
    activation_function: String,
}

impl RawGptNeo {
    fn resolve(self) -> Result<GptNeoConfig> {
        if self.activation_function != "gelu_new" {
            bail!(
                "field `activation_function` is \"{}\"; only \"gelu_new\" is implemented",
                self.activation_function
            )
        }
        let mut layers = Vec::new();
        for (kinds, repeat) in &self.attention_types {
            for _ in 0..*repeat {
                for k in kinds {
                    layers.push(match k.as_str() {
                        "global" => AttentionKind::Global,
                        "local" => AttentionKind::Local,
                        other => {
                            bail!("field `attention_types` names unknown attention \"{other}\"")
                        }
                    });
                }
            }
        }
        if layers.len() != self.num_layers {
            bail!(
                "field `attention_types` expands to {} layers but `num_layers` is {}",
                layers.len(),
                self.num_layers
            )
        }
        if self.num_heads == 0 || !self.hidden_size.is_multiple_of(self.num_heads) {
            bail!("field `num_heads` must divide `hidden_size`")
        }
        if self.window_size == 0 && layers.contains(&AttentionKind::Local) {
            bail!("field `window_size` is 0: a local attention layer would see no token")
        }
        Ok(GptNeoConfig {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size.unwrap_or(4 * self.hidden_size),
            num_heads: self.num_heads,
            max_position_embeddings: self.max_position_embeddings,
            window_size: self.window_size,
            layer_norm_epsilon: self.layer_norm_epsilon,
            attention_layers: layers,
        })
    }
}

/// Gemma 3's text model (`Gemma3ForCausalLM`).
#[derive(Clone, Debug, PartialEq)]
pub struct Gemma3Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    /// Independent of the hidden size (256 in every Gemma 3).
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    /// RoPE base of the global (full-attention) layers.
    pub rope_theta: f64,
    /// RoPE base of the sliding-window layers.
    pub rope_local_theta: f64,
    /// Keys a sliding-window query sees, itself included.
    pub sliding_window: usize,
    /// One entry per layer.
    pub layer_types: Vec<AttentionKind>,
    /// Scores are scaled by `query_pre_attn_scalar ** -0.5`, not by `head_dim ** -0.5`.
    pub query_pre_attn_scalar: usize,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
}

impl Gemma3Config {
    /// transformers' default layer pattern (`sliding_window_pattern` 6): every sixth layer global.
    pub fn default_layer_types(layers: usize, pattern: usize) -> Vec<AttentionKind> {
        (0..layers)
            .map(|i| {
                if (i + 1) % pattern == 0 {
                    AttentionKind::Global
                } else {
                    AttentionKind::Local
                }
            })
            .collect()
    }

    /// Checks shared by the config.json and GGUF paths; `what(field)` names the field as the
    /// source spells it.
    pub fn check(&self, what: &dyn Fn(&str) -> String) -> Result<()> {
        let (h, kv) = (self.num_attention_heads, self.num_key_value_heads);
        if h == 0 {
            bail!("{} must be at least 1", what("num_attention_heads"))
        }
        if kv == 0 || !h.is_multiple_of(kv) {
            bail!(
                "{} ({kv}) must be at least 1 and divide {} ({h})",
                what("num_key_value_heads"),
                what("num_attention_heads")
            )
        }
        if self.head_dim == 0 || !self.head_dim.is_multiple_of(2) {
            bail!(
                "{} ({}) must be even and at least 2 (RoPE rotates pairs)",
                what("head_dim"),
                self.head_dim
            )
        }
        if self.sliding_window == 0 && self.layer_types.contains(&AttentionKind::Local) {
            bail!(
                "{} is 0: a sliding-window layer would see no token",
                what("sliding_window")
            )
        }
        if self.query_pre_attn_scalar == 0 {
            bail!("{} must be positive", what("query_pre_attn_scalar"))
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Gemma3RopeParameters {
    full_attention: Option<RopeParameters>,
    sliding_attention: Option<RopeParameters>,
}

#[derive(Deserialize)]
struct RawGemma3 {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    hidden_activation: Option<String>,
    rms_norm_eps: f64,
    rope_theta: Option<f64>,
    rope_local_base_freq: Option<f64>,
    rope_parameters: Option<Gemma3RopeParameters>,
    rope_scaling: Option<serde_json::Value>,
    sliding_window: usize,
    sliding_window_pattern: Option<usize>,
    layer_types: Option<Vec<String>>,
    query_pre_attn_scalar: Option<usize>,
    final_logit_softcapping: Option<f64>,
    attn_logit_softcapping: Option<f64>,
    #[serde(default)]
    use_bidirectional_attention: bool,
    #[serde(default)]
    attention_bias: bool,
    max_position_embeddings: usize,
    tie_word_embeddings: Option<bool>,
}

impl RawGemma3 {
    fn resolve(self) -> Result<Gemma3Config> {
        if let Some(act) = self
            .hidden_activation
            .as_deref()
            .filter(|a| *a != "gelu_pytorch_tanh")
        {
            bail!("field `hidden_activation` is \"{act}\"; Gemma 3 here uses \"gelu_pytorch_tanh\"")
        }
        for (field, set) in [
            (
                "final_logit_softcapping",
                self.final_logit_softcapping.is_some(),
            ),
            (
                "attn_logit_softcapping",
                self.attn_logit_softcapping.is_some(),
            ),
            (
                "use_bidirectional_attention",
                self.use_bidirectional_attention,
            ),
            ("attention_bias", self.attention_bias),
            (
                "rope_scaling",
                self.rope_scaling.as_ref().is_some_and(|v| !v.is_null()),
            ),
        ] {
            if set {
                bail!(
                    "field `{field}` is set; the Gemma 3 text model here implements it unset (as Gemma 3 270M ships)"
                )
            }
        }
        let (mut global, mut local) = (None, None);
        if let Some(rp) = &self.rope_parameters {
            for (slot, p, key) in [
                (&mut global, &rp.full_attention, "full_attention"),
                (&mut local, &rp.sliding_attention, "sliding_attention"),
            ] {
                if let Some(p) = p {
                    if p.rope_type.as_deref().is_some_and(|t| t != "default") {
                        bail!(
                            "field `rope_parameters.{key}.rope_type`: only unscaled (\"default\") RoPE is implemented"
                        )
                    }
                    *slot = p.rope_theta;
                }
            }
        }
        let layer_types = match &self.layer_types {
            Some(kinds) => kinds
                .iter()
                .map(|k| match k.as_str() {
                    "full_attention" => Ok(AttentionKind::Global),
                    "sliding_attention" => Ok(AttentionKind::Local),
                    other => bail!("field `layer_types` names unknown attention \"{other}\""),
                })
                .collect::<Result<Vec<_>>>()?,
            None => {
                let pattern = self.sliding_window_pattern.unwrap_or(6);
                if pattern == 0 {
                    bail!("field `sliding_window_pattern` is 0")
                }
                Gemma3Config::default_layer_types(self.num_hidden_layers, pattern)
            }
        };
        if layer_types.len() != self.num_hidden_layers {
            bail!(
                "field `layer_types` lists {} layers but `num_hidden_layers` is {}",
                layer_types.len(),
                self.num_hidden_layers
            )
        }
        let cfg = Gemma3Config {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_attention_heads: self.num_attention_heads,
            num_key_value_heads: self.num_key_value_heads.unwrap_or(self.num_attention_heads),
            head_dim: self.head_dim.unwrap_or(256),
            rms_norm_eps: self.rms_norm_eps,
            // transformers' defaults (Gemma3TextConfig.default_theta).
            rope_theta: global.or(self.rope_theta).unwrap_or(1_000_000.0),
            rope_local_theta: local.or(self.rope_local_base_freq).unwrap_or(10_000.0),
            sliding_window: self.sliding_window,
            layer_types,
            query_pre_attn_scalar: self.query_pre_attn_scalar.unwrap_or(256),
            max_position_embeddings: self.max_position_embeddings,
            tie_word_embeddings: self.tie_word_embeddings.unwrap_or(true),
        };
        cfg.check(&|f| format!("field `{f}`"))?;
        Ok(cfg)
    }
}
