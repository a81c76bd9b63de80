//! GGUF checkpoints of the Llama family (llama.cpp's format). Every tensor is dequantized to
//! f32 and renamed to the Hugging Face layout; q/k rows are un-permuted (llama.cpp's converter
//! interleaves them for its rotary kernel); the tokenizer is rebuilt from the file's metadata.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::{Device, Tensor};
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

use super::config::{ArchConfig, LlamaConfig};
use super::{ChatTemplate, Checkpoint, check_vocab};

struct Meta<'a> {
    md: &'a HashMap<String, Value>,
    file: &'a Path,
}

impl Meta<'_> {
    fn get(&self, key: &str) -> Result<&Value> {
        self.md
            .get(key)
            .ok_or_else(|| anyhow!("{}: GGUF metadata `{key}` is missing", self.file.display()))
    }
    fn usize(&self, key: &str) -> Result<usize> {
        let v = self.get(key)?;
        let n = v
            .to_u64()
            .or_else(|_| v.to_u32().map(u64::from))
            .or_else(|_| v.to_i32().map(|x| x as u64))
            .map_err(|e| anyhow!("{}: GGUF metadata `{key}`: {e}", self.file.display()))?;
        Ok(n as usize)
    }
    fn f64(&self, key: &str) -> Result<f64> {
        let v = self.get(key)?;
        v.to_f32()
            .map(f64::from)
            .or_else(|_| v.to_f64())
            .map_err(|e| anyhow!("{}: GGUF metadata `{key}`: {e}", self.file.display()))
    }
    fn string(&self, key: &str) -> Result<String> {
        Ok(self
            .get(key)?
            .to_string()
            .map_err(|e| anyhow!("{}: GGUF metadata `{key}`: {e}", self.file.display()))?
            .clone())
    }
    fn strings(&self, key: &str) -> Result<Vec<String>> {
        let v = self
            .get(key)?
            .to_vec()
            .map_err(|e| anyhow!("{}: `{key}`: {e}", self.file.display()))?;
        v.iter()
            .map(|s| {
                s.to_string()
                    .cloned()
                    .map_err(|e| anyhow!("{}: `{key}`: {e}", self.file.display()))
            })
            .collect()
    }
}

fn hf_name(gguf: &str) -> Option<String> {
    let fixed = match gguf {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, tail) = rest.split_once('.')?;
    let (module, kind) = tail.rsplit_once('.')?;
    let hf = match module {
        "attn_norm" => "input_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.{kind}"))
}

/// Undo llama.cpp's `permute`: rows (heads, 2, half, in) were stored as (heads, half, 2, in).
fn unpermute(t: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    let (out, inp) = t.dims2()?;
    let half = out / heads / 2;
    t.reshape((heads, half, 2, inp))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((out, inp))
}

fn config(meta: &Meta, vocab: usize) -> Result<LlamaConfig> {
    let arch = meta.string("general.architecture")?;
    if arch != "llama" {
        bail!(
            "{}: GGUF architecture is \"{arch}\"; ablate loads only \"llama\" GGUF files",
            meta.file.display()
        )
    }
    let k = |s: &str| format!("llama.{s}");
    let file = meta.file.display();
    let hidden = meta.usize(&k("embedding_length"))?;
    let heads = meta.usize(&k("attention.head_count"))?;
    let kv = meta.usize(&k("attention.head_count_kv")).unwrap_or(heads);
    if heads == 0 || !hidden.is_multiple_of(heads) {
        bail!(
            "{file}: GGUF metadata `llama.attention.head_count` ({heads}) must be at least 1 and divide `llama.embedding_length` ({hidden})"
        )
    }
    if kv == 0 || !heads.is_multiple_of(kv) {
        bail!(
            "{file}: GGUF metadata `llama.attention.head_count_kv` ({kv}) must be at least 1 and divide `llama.attention.head_count` ({heads})"
        )
    }
    // Scaled RoPE (linear, YaRN, Llama 3's rope_freqs) changes every position's rotation.
    for key in [
        "rope.scaling.type",
        "rope.scaling.factor",
        "rope.scaling.original_context_length",
    ] {
        if let Some(v) = meta.md.get(&k(key)) {
            let none = v.to_string().is_ok_and(|t| t == "none")
                || v.to_f32().is_ok_and(|f| f == 0.0 || f == 1.0);
            if !none {
                bail!(
                    "{file}: GGUF metadata `llama.{key}` = {v:?}: scaled RoPE is not implemented (only unscaled RoPE)"
                )
            }
        }
    }
    let head_dim = meta
        .usize(&k("rope.dimension_count"))
        .unwrap_or(hidden / heads);
    Ok(LlamaConfig {
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: meta.usize(&k("feed_forward_length"))?,
        num_hidden_layers: meta.usize(&k("block_count"))?,
        num_attention_heads: heads,
        num_key_value_heads: kv,
        head_dim,
        rms_norm_eps: meta.f64(&k("attention.layer_norm_rms_epsilon"))?,
        rope_theta: meta.f64(&k("rope.freq_base")).unwrap_or(10_000.0),
        max_position_embeddings: meta.usize(&k("context_length"))?,
        tie_word_embeddings: false, // decided below from the tensors present
        attention_bias: false,
        mlp_bias: false,
    })
}

/// Byte-level BPE tokenizer from `tokenizer.ggml.*` metadata.
fn tokenizer(meta: &Meta) -> Result<Tokenizer> {
    let kind = meta.string("tokenizer.ggml.model")?;
    if kind != "gpt2" {
        bail!(
            "{}: GGUF tokenizer model is \"{kind}\"; only byte-level BPE (\"gpt2\") is supported",
            meta.file.display()
        )
    }
    let tokens = meta.strings("tokenizer.ggml.tokens")?;
    let merges: Vec<(String, String)> = meta
        .strings("tokenizer.ggml.merges")?
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| anyhow!("{}: malformed merge `{m}`", meta.file.display()))
        })
        .collect::<Result<_>>()?;
    let types: Vec<i32> = match meta.md.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .to_vec()
            .map_err(|e| anyhow!("{e}"))?
            .iter()
            .map(|x| x.to_i32().unwrap_or(1))
            .collect(),
        None => vec![1; tokens.len()],
    };
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| anyhow!("{}: cannot build BPE tokenizer: {e}", meta.file.display()))?;
    let pre = meta
        .string("tokenizer.ggml.pre")
        .unwrap_or_else(|_| "default".into());
    let byte_level = ByteLevel::new(false, true, true);
    let pre_tokenizer: PreTokenizerWrapper = match pre.as_str() {
        // llama.cpp's "smollm": digits split one by one, then the GPT-2 regex.
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into(),
        "gpt2" | "gpt-2" | "default" => byte_level.into(),
        other => bail!(
            "{}: GGUF pre-tokenizer \"{other}\" is not supported (known: smollm, gpt2)",
            meta.file.display()
        ),
    };
    let mut tok = Tokenizer::new(bpe);
    tok.with_pre_tokenizer(Some(pre_tokenizer));
    tok.with_decoder(Some(ByteLevel::default()));
    // Control tokens (type 3) are matched whole, never split by the BPE.
    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(&types)
        .filter(|(_, t)| **t == 3)
        .map(|(s, _)| AddedToken::from(s.clone(), true))
        .collect();
    tok.add_special_tokens(special)
        .map_err(|e| anyhow!("{}: cannot add special tokens: {e}", meta.file.display()))?;
    Ok(tok)
}

fn open(path: &Path) -> Result<(BufReader<File>, Content)> {
    if !path.is_file() {
        bail!("missing model file {}", path.display())
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let content = Content::read(&mut reader)
        .map_err(|e| anyhow!("{} is not a readable GGUF file: {e}", path.display()))?;
    Ok((reader, content))
}

fn arch_of(content: &Content, meta: &Meta) -> Result<LlamaConfig> {
    let vocab = meta.strings("tokenizer.ggml.tokens")?.len();
    let mut cfg = config(meta, vocab)?;
    cfg.tie_word_embeddings = !content.tensor_infos.contains_key("output.weight");
    Ok(cfg)
}

/// The architecture from the metadata, without dequantizing any tensor.
pub fn read_arch(path: &Path) -> Result<ArchConfig> {
    let (_, content) = open(path)?;
    let meta = Meta {
        md: &content.metadata,
        file: path,
    };
    Ok(ArchConfig::Llama(arch_of(&content, &meta)?))
}

pub fn read(path: &Path, device: &Device) -> Result<Checkpoint> {
    let (mut reader, content) = open(path)?;
    let meta = Meta {
        md: &content.metadata,
        file: path,
    };
    let tokenizer = tokenizer(&meta)?;
    let cfg = arch_of(&content, &meta)?;
    let arch = ArchConfig::Llama(cfg.clone());
    check_vocab(&tokenizer, &arch, &path.display().to_string())?;

    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = HashMap::new();
    let mut kinds = std::collections::BTreeSet::new();
    for name in names {
        let Some(hf) = hf_name(name) else {
            let why = if name == "rope_freqs.weight" {
                " (Llama 3.x RoPE frequency factors: scaled RoPE is not implemented)"
            } else {
                ""
            };
            bail!(
                "{}: GGUF tensor `{name}` is not part of the Llama model ablate builds{why}",
                path.display()
            )
        };
        let q = content.tensor(&mut reader, name, device).map_err(|e| {
            anyhow!(
                "{}: cannot read tensor `{name}` (truncated file?): {e}",
                path.display()
            )
        })?;
        kinds.insert(format!("{:?}", q.dtype()));
        let mut t = q.dequantize(device)?;
        if name.ends_with("attn_q.weight") {
            t = unpermute(&t, cfg.num_attention_heads)?;
        } else if name.ends_with("attn_k.weight") {
            t = unpermute(&t, cfg.num_key_value_heads)?;
        }
        tensors.insert(hf, t);
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
