//! Causal language models on differentiable building blocks, and the loaders that build them
//! from a Hugging Face folder, a GGUF file, a hub id or the offline default (`smollm2-135m`).

pub mod config;
pub mod export;
pub mod fetch;
pub mod gguf;
pub mod gpt_neo;
pub mod hf;
pub mod hub;
pub mod llama;
pub mod naming;
pub mod random;
pub mod weights;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use candle_core::{Device, Tensor};
use tokenizers::Tokenizer;

use crate::config::datasets::file_name;
use crate::nn::Param;
pub use config::ArchConfig;
pub use weights::{ParamPlan, WeightSet};

/// A decoder-only LM: token ids (batch, seq) -> logits (batch, seq, vocab) at every position.
pub trait CausalLm: Send + Sync {
    /// The final hidden states (batch, seq, hidden), normalised, before the lm_head.
    fn hidden(&self, ids: &Tensor) -> candle_core::Result<Tensor>;
    /// The lm_head (tied models: a layer over the embedding table).
    fn head(&self) -> &crate::nn::Linear;
    /// Logits (batch, seq, vocab).
    fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.head().forward(&self.hidden(ids)?)
    }
    /// Every distinct parameter once (a tied lm_head is not counted twice), in checkpoint order.
    fn params(&self) -> Vec<&Param>;
    fn arch(&self) -> &ArchConfig;
}

/// Embedding lookup. A frozen table is a plain tensor, so nothing is recorded for backward.
pub(crate) fn embed(table: &Param, ids: &Tensor) -> candle_core::Result<Tensor> {
    let (b, t) = ids.dims2()?;
    let h = table.tensor().dim(1)?;
    table
        .tensor()
        .index_select(&ids.flatten_all()?, 0)?
        .reshape((b, t, h))
}

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

/// Where a model comes from, as named in a config or on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSpec {
    /// A short alias of a model `ablate fetch` knows how to obtain offline.
    Alias(&'static fetch::KnownModel),
    HfDir(PathBuf),
    Gguf(PathBuf),
    Hub(String),
    /// `random:SPEC`: SPEC's architecture with random weights (speed and memory only).
    Random(Box<ModelSpec>),
}

impl ModelSpec {
    pub fn parse(spec: &str) -> Result<Self> {
        if let Some(inner) = spec.strip_prefix("random:") {
            return match Self::parse(inner)? {
                Self::Random(_) => bail!("model `{spec}`: random of random"),
                m => Ok(Self::Random(Box::new(m))),
            };
        }
        if let Some(known) = fetch::KnownModel::by_alias(spec) {
            return Ok(Self::Alias(known));
        }
        let path = Path::new(spec);
        if path.is_dir() {
            return Ok(Self::HfDir(path.to_path_buf()));
        }
        if path.is_file() {
            if path.extension().is_some_and(|e| e == "gguf") {
                return Ok(Self::Gguf(path.to_path_buf()));
            }
            bail!(
                "model file {}: expected a .gguf file or a folder with config.json",
                path.display()
            )
        }
        let looks_like_path = spec.starts_with('.')
            || spec.starts_with('/')
            || spec.starts_with('~')
            || spec.ends_with(".gguf")
            || spec.matches('/').count() != 1;
        if looks_like_path {
            bail!(
                "model `{spec}`: no such file or folder, and not a known alias ({})",
                fetch::KnownModel::aliases().join(", ")
            )
        }
        Ok(Self::Hub(spec.to_string()))
    }

    /// Read the checkpoint (weights, architecture, tokenizer) without building a model.
    pub fn read(&self, device: &Device) -> Result<Checkpoint> {
        match self {
            Self::Alias(known) => gguf::read(&known.ensure()?, device),
            Self::HfDir(dir) => hf::read(dir, device),
            Self::Gguf(path) => gguf::read(path, device),
            Self::Hub(id) => hf::read(&hub::download(id)?, device),
            Self::Random(inner) => random::checkpoint(&inner.arch()?, &inner.describe(), device),
        }
    }

    /// How the PyTorch reference loads this model: (kind, location), kind one of gguf, hf, hub
    /// or random (then the location holds the config: a folder's config.json or GGUF metadata).
    pub fn for_reference(&self) -> Result<(String, String)> {
        let canonical = |p: &Path| -> Result<String> {
            Ok(std::fs::canonicalize(p)?.to_string_lossy().into_owned())
        };
        Ok(match self {
            Self::Alias(k) => ("gguf".into(), k.ensure()?.to_string_lossy().into_owned()),
            Self::Gguf(p) => ("gguf".into(), canonical(p)?),
            Self::HfDir(p) => ("hf".into(), canonical(p)?),
            Self::Hub(id) => ("hub".into(), id.clone()),
            Self::Random(inner) => ("random".into(), inner.for_reference()?.1),
        })
    }

    /// What the spec names, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Alias(k) => k.alias.to_string(),
            Self::HfDir(p) | Self::Gguf(p) => p.display().to_string(),
            Self::Hub(id) => id.clone(),
            Self::Random(inner) => format!("random:{}", inner.describe()),
        }
    }

    /// sha256 of the checkpoint: of the GGUF file, or of a folder's config, tokenizer and weight
    /// files (name and digest of each, sorted). Recorded with every run and part of its id.
    pub fn sha256(&self) -> Result<String> {
        let dir = match self {
            Self::Alias(known) => {
                // `ensure` has checked the file against this digest.
                known.ensure()?;
                return Ok(known.sha256.to_string());
            }
            Self::Gguf(path) => return fetch::sha256_file(path),
            Self::HfDir(dir) => dir.clone(),
            Self::Hub(id) => hub::download(id)?,
            // The weights are a function of the architecture (seeded).
            Self::Random(inner) => {
                return Ok(fetch::sha256_hex(
                    format!("random {:?}", inner.arch()?).as_bytes(),
                ));
            }
        };
        // The files `hf::read` reads: config, tokenizer, weights.
        let files = [dir.join("config.json"), dir.join("tokenizer.json")]
            .into_iter()
            .chain(hf::weight_files(&dir)?);
        let mut listing = String::new();
        for f in files {
            let digest = fetch::sha256_file(&f)?;
            listing.push_str(&format!("{digest} {}\n", file_name(&f)));
        }
        Ok(fetch::sha256_hex(listing.as_bytes()))
    }

    /// The architecture alone (config.json or GGUF metadata), without reading weights.
    pub fn arch(&self) -> Result<ArchConfig> {
        match self {
            Self::Alias(known) => gguf::read_arch(&known.ensure()?),
            Self::HfDir(dir) => ArchConfig::from_hf_json(&dir.join("config.json")),
            Self::Gguf(path) => gguf::read_arch(path),
            Self::Hub(id) => ArchConfig::from_hf_json(&hub::download_config(id)?),
            Self::Random(inner) => inner.arch(),
        }
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

/// Load a model by spec with every weight frozen (evaluation).
pub fn load_frozen(spec: &str, device: &Device) -> Result<Model> {
    ModelSpec::parse(spec)?
        .read(device)?
        .build(device, ParamPlan::frozen())
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
