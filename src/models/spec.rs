//! A model reference, as written in a grid or on the command line, and the one rule that maps it
//! to a model (the README's model table and `ablate run --help` state it; [`rule`] gives the text):
//! a known name always means the known model; otherwise an existing local path (relative to the
//! working directory on the command line, to the grid file inside a grid) means that folder or
//! file; otherwise `owner/name` is a hub id. `./` (or `../`, `/`) forces a local path.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use candle_core::Device;

use super::weights::ParamPlan;
use super::{ArchConfig, Checkpoint, Model, fetch, gguf, hf, hub, random};
use crate::config::datasets::file_name;

/// The known models by every name they answer to, from the one list of known models.
pub fn known_names() -> String {
    fetch::KNOWN
        .iter()
        .map(|k| k.names().collect::<Vec<_>>().join(" or "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rule in words, for `--help`.
pub fn rule() -> String {
    let known = known_names();
    format!(
        "A model reference is resolved in this order: (1) a known name ({known}) always \
means the known model, fetched offline on first use; (2) otherwise an existing local path, relative to \
the working directory on the command line and to the grid file inside a grid, means that Hugging Face \
folder or .gguf file; a reference starting with ./ ../ or / is always a local path, so `./smollm2-135m` \
names a folder of that name; (3) otherwise owner/name is a hub id (needs internet). random:REF gives \
REF's architecture with random weights. Where a known name also exists as a local folder, a one-line \
note says which was taken."
    )
}

/// A resolved reference, with a note when the rule passed over a local path of the same name.
#[derive(Debug)]
pub struct Resolution {
    pub spec: ModelSpec,
    pub note: Option<String>,
}

impl Resolution {
    fn plain(spec: ModelSpec) -> Self {
        Self { spec, note: None }
    }
}

/// `./x`, `../x`, `/x`, `.`, `..`: a path whatever its name.
fn is_forced_local(reference: &str) -> bool {
    reference.starts_with("./")
        || reference.starts_with("../")
        || reference.starts_with('/')
        || reference == "."
        || reference == ".."
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
    /// Resolve `reference` by the rule above; local paths are relative to `base` (the grid
    /// file's folder inside a grid, empty for the working directory).
    pub fn resolve(reference: &str, base: &Path) -> Result<Resolution> {
        if let Some(inner) = reference.strip_prefix("random:") {
            let r = Self::resolve(inner, base)?;
            return match r.spec {
                Self::Random(_) => bail!("model `{reference}`: random of random"),
                m => Ok(Resolution {
                    spec: Self::Random(Box::new(m)),
                    note: r.note,
                }),
            };
        }
        let local = base.join(reference);
        let forced_local = is_forced_local(reference);
        if !forced_local && let Some(known) = fetch::KnownModel::by_alias(reference) {
            let note = local.exists().then(|| {
                format!(
                    "model `{reference}`: took the known model ({}), not the local `{}`; write `./{reference}` for the local one",
                    known.note,
                    local.display()
                )
            });
            return Ok(Resolution {
                spec: Self::Alias(known),
                note,
            });
        }
        if local.is_dir() {
            return Ok(Resolution::plain(Self::HfDir(local)));
        }
        if local.is_file() {
            if local.extension().is_some_and(|e| e == "gguf") {
                return Ok(Resolution::plain(Self::Gguf(local)));
            }
            bail!(
                "model file {}: expected a .gguf file or a folder with config.json",
                local.display()
            )
        }
        let hub_shaped = !forced_local
            && !reference.starts_with('~')
            && !reference.ends_with(".gguf")
            && reference.matches('/').count() == 1
            && !reference.ends_with('/');
        if !hub_shaped {
            bail!(
                "model `{reference}`: no such file or folder ({}), not a known model ({}) and not a hub id (owner/name)",
                local.display(),
                fetch::KnownModel::aliases().join(", ")
            )
        }
        Ok(Resolution::plain(Self::Hub(reference.to_string())))
    }

    /// Resolve relative to the working directory, quietly.
    pub fn parse(reference: &str) -> Result<Self> {
        Ok(Self::resolve(reference, Path::new(""))?.spec)
    }

    /// Resolve a command-line argument relative to the working directory; the note, if any, goes
    /// to stderr.
    pub fn from_arg(reference: &str) -> Result<Self> {
        let r = Self::resolve(reference, Path::new(""))?;
        if let Some(note) = r.note {
            eprintln!("note: {note}");
        }
        Ok(r.spec)
    }

    /// A reference that `parse` maps back to this spec from the working directory, whatever
    /// lies there: local paths carry `./` (or are absolute), so no known name can capture them.
    pub fn location(&self) -> String {
        match self {
            Self::Alias(k) => k.alias.to_string(),
            Self::HfDir(p) | Self::Gguf(p) => {
                let s = p.display().to_string();
                if p.is_absolute() || is_forced_local(&s) {
                    s
                } else {
                    format!("./{s}")
                }
            }
            Self::Hub(id) => id.clone(),
            Self::Random(inner) => format!("random:{}", inner.location()),
        }
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

/// Load a model by spec with every weight frozen (evaluation).
pub fn load_frozen(spec: &str, device: &Device) -> Result<Model> {
    ModelSpec::parse(spec)?
        .read(device)?
        .build(device, ParamPlan::frozen())
}
