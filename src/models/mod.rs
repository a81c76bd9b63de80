//! Causal language models on differentiable building blocks, and the loaders that build them
//! from a Hugging Face folder, a GGUF file, a hub id or the offline default (`smollm2-135m`).

pub mod causal_lm;
pub mod config;
pub mod export;
pub mod fetch;
pub mod gemma3;
pub mod gguf;
pub mod gpt_neo;
pub mod hf;
pub mod hub;
pub mod llama;
pub mod naming;
pub mod random;
pub mod spec;
pub mod weights;

use anyhow::{Result, bail};
use candle_core::{Device, Tensor};
use tokenizers::Tokenizer;

pub use causal_lm::CausalLm;
pub use config::ArchConfig;
pub use spec::{ModelSpec, Resolution, load_frozen};
pub use weights::{ParamPlan, WeightSet};

/// A loaded model with its tokenizer and a note on where it came from.
pub struct Model {
    pub lm: Box<dyn CausalLm>,
    pub tokenizer: Tokenizer,
    /// Human-readable origin, e.g. the file and how its weights were converted.
    pub source: String,
    pub chat: Option<ChatTemplate>,
}

/// An instruct model's chat template (Jinja, as the checkpoint ships it) and the token that ends
/// an assistant turn.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatTemplate {
    pub template: String,
    pub end_token: Option<u32>,
}

impl Model {
    pub fn arch(&self) -> &ArchConfig {
        self.lm.arch()
    }

    /// A dataset tokenized for this model, whose blocks must fit the model's positions.
    pub fn dataset(
        &self,
        spec: &crate::config::datasets::DatasetSpec,
    ) -> Result<crate::data::Dataset> {
        if self.tokenizer.get_vocab_size(true) == 0 {
            bail!(
                "dataset {}: the model ({}) has no tokenizer; random:SPEC models are for `bench` and `device-check` only",
                spec.name,
                self.source
            )
        }
        let max = self.arch().max_positions();
        if spec.seq_len > max {
            bail!(
                "dataset {}: seq_len {} exceeds the model's {max} positions",
                spec.name,
                spec.seq_len
            )
        }
        crate::data::Dataset::load(spec, &self.tokenizer)
    }
}

/// Tensors, architecture and tokenizer as read from disk, before any model is built.
pub struct Checkpoint {
    pub arch: ArchConfig,
    pub tensors: std::collections::HashMap<String, Tensor>,
    pub tokenizer: Tokenizer,
    pub source: String,
    pub chat: Option<ChatTemplate>,
}

impl Checkpoint {
    /// Build a model whose parameters train as `plan` says; every checkpoint tensor must be
    /// used. The checkpoint stays usable (tensors are shared, Vars copy on creation).
    pub fn build(&self, device: &Device, plan: ParamPlan) -> Result<Model> {
        let mut weights = WeightSet::new(self.tensors.clone(), self.source.clone(), plan);
        let lm = build_lm(&self.arch, &mut weights, device)?;
        weights.finish(self.arch.naming().unused_ok)?;
        Ok(Model {
            lm,
            tokenizer: self.tokenizer.clone(),
            source: self.source.clone(),
            chat: self.chat.clone(),
        })
    }
}

/// Build the architecture from its config and named weights.
pub fn build_lm(
    arch: &ArchConfig,
    w: &mut WeightSet,
    device: &Device,
) -> Result<Box<dyn CausalLm>> {
    Ok(match arch {
        ArchConfig::Llama(c) => Box::new(llama::Llama::new(c, w, device)?),
        ArchConfig::GptNeo(c) => Box::new(gpt_neo::GptNeo::new(c, w, device)?),
        ArchConfig::Gemma3(c) => Box::new(gemma3::Gemma3::new(c, w, device)?),
    })
}

/// The tokenizer must not produce ids the embedding table does not have.
pub(crate) fn check_vocab(tokenizer: &Tokenizer, arch: &ArchConfig, origin: &str) -> Result<()> {
    let n = tokenizer.get_vocab_size(true);
    if n > arch.vocab_size() {
        bail!(
            "tokenizer {origin} has {n} tokens but the model's vocab_size is {}: they do not belong together",
            arch.vocab_size()
        )
    }
    Ok(())
}
