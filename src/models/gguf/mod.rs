//! GGUF checkpoints (llama.cpp's format) of the Llama family and of Gemma 3. Every tensor is
//! dequantized to f32 and renamed to the Hugging Face layout, with each family's converter
//! quirks undone (llama.rs, gemma3.rs); the tokenizer is rebuilt from the file's metadata
//! (tokenizer.rs).

mod gemma3;
mod header;
mod llama;
mod meta;
mod tokenizer;

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};

use super::config::ArchConfig;
use super::{ChatTemplate, Checkpoint, check_vocab};
use meta::Meta;

/// The architectures ablate reads from GGUF, as `general.architecture` names them.
const ARCHITECTURES: &str = "\"llama\", \"gemma3\"";

fn open(path: &Path) -> Result<(BufReader<File>, Content)> {
    if !path.is_file() {
        bail!("missing model file {}", path.display())
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let content = Content::read(&mut reader).map_err(|e| {
        match header::unreadable_tensor(path) {
            Some((name, t, kind)) => anyhow!(
                "{}: GGUF tensor `{name}` has quantization type {kind} (ggml type {t}), which ablate cannot dequantize (supported: {})",
                path.display(),
                header::supported()
            ),
            None => anyhow!("{} is not a readable GGUF file: {e}", path.display()),
        }
    })?;
    Ok((reader, content))
}

fn arch_of(content: &Content, meta: &Meta) -> Result<ArchConfig> {
    let arch = meta.string("general.architecture")?;
    let vocab = meta.strings("tokenizer.ggml.tokens")?.len();
    let tied = !content.tensor_infos.contains_key("output.weight");
    Ok(match arch.as_str() {
        "llama" => ArchConfig::Llama(llama::config(meta, vocab, tied)?),
        "gemma3" => {
            let cfg = gemma3::config(meta, vocab, tied)?;
            // Sorted: the first inconsistent tensor named is the same on every run.
            let mut shapes: Vec<(String, Vec<usize>)> = content
                .tensor_infos
                .iter()
                .map(|(n, t)| (n.clone(), t.shape.dims().to_vec()))
                .collect();
            shapes.sort();
            gemma3::check_tensors(&cfg, &shapes, meta.file)?;
            ArchConfig::Gemma3(cfg)
        }
        other => bail!(
            "{}: GGUF metadata `general.architecture` is \"{other}\"; ablate loads {ARCHITECTURES}",
            meta.file.display()
        ),
    })
}

/// The Hugging Face name of a GGUF tensor, `None` for one the architecture does not have.
fn hf_name(arch: &ArchConfig, gguf: &str) -> Option<String> {
    match arch {
        ArchConfig::Gemma3(_) => gemma3::hf_name(gguf),
        _ => llama::hf_name(gguf),
    }
}

fn to_hf(arch: &ArchConfig, gguf: &str, t: Tensor) -> candle_core::Result<Tensor> {
    match arch {
        ArchConfig::Llama(c) => llama::to_hf(c, gguf, t),
        ArchConfig::Gemma3(_) => gemma3::to_hf(gguf, t),
        ArchConfig::GptNeo(_) => Ok(t),
    }
}

/// The architecture from the metadata, without dequantizing any tensor.
pub fn read_arch(path: &Path) -> Result<ArchConfig> {
    let (_, content) = open(path)?;
    let meta = Meta {
        md: &content.metadata,
        file: path,
    };
    arch_of(&content, &meta)
}

pub fn read(path: &Path, device: &Device) -> Result<Checkpoint> {
    let (mut reader, content) = open(path)?;
    let meta = Meta {
        md: &content.metadata,
        file: path,
    };
    let arch = arch_of(&content, &meta)?;
    let tokenizer = tokenizer::build(&meta, arch.naming().family)?;
    check_vocab(&tokenizer, &arch, &path.display().to_string())?;

    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = HashMap::new();
    let mut kinds = std::collections::BTreeSet::new();
    for name in names {
        let Some(hf) = hf_name(&arch, name) else {
            let why = if name == "rope_freqs.weight" {
                " (Llama 3.x RoPE frequency factors: scaled RoPE is not implemented)"
            } else {
                ""
            };
            bail!(
                "{}: GGUF tensor `{name}` is not part of the {} model ablate builds{why}",
                path.display(),
                arch.naming().family
            )
        };
        let q = content.tensor(&mut reader, name, device).map_err(|e| {
            anyhow!(
                "{}: cannot read tensor `{name}` (truncated file?): {e}",
                path.display()
            )
        })?;
        kinds.insert(format!("{:?}", q.dtype()));
        let t = q.dequantize(device).map_err(|e| {
            anyhow!(
                "{}: cannot dequantize tensor `{name}` of type {:?}: {e}",
                path.display(),
                q.dtype()
            )
        })?;
        tensors.insert(hf, to_hf(&arch, name, t)?);
    }
    let kinds: Vec<String> = kinds.into_iter().collect();
    let chat = meta
        .string("tokenizer.chat_template")
        .ok()
        .map(|template| ChatTemplate {
            template,
            end_token: meta
                .usize("tokenizer.ggml.eos_token_id")
                .ok()
                .map(|t| t as u32),
        });
    Ok(Checkpoint {
        arch,
        tensors,
        tokenizer,
        chat,
        source: format!(
            "GGUF {} ({} dequantized to f32)",
            path.display(),
            kinds.join("/")
        ),
    })
}
