//! Gemma 3's text model in llama.cpp's GGUF layout (`general.architecture` = "gemma3").
//!
//! The file gives the sliding window and the global RoPE base but not the layer pattern, the
//! local RoPE base or `query_pre_attn_scalar`: those come from Gemma 3's published configuration,
//! as transformers' `Gemma3TextConfig` fills them in when it loads such a file (every sixth layer
//! global, local base 10,000, scalar 256). llama.cpp's converter stores every RMSNorm weight as
//! `w + 1` (its kernel computes `norm(x) * w`); transformers subtracts the 1 again, and so do we,
//! so that the model, its exports and PEFT adapters use transformers' zero-centred weights.

use std::collections::HashSet;

use anyhow::{Result, bail};
use candle_core::Tensor;

use super::meta::Meta;
use crate::models::config::Gemma3Config;

/// Gemma 3's published layer pattern, local RoPE base and score scalar (see the module note).
const SLIDING_WINDOW_PATTERN: usize = 6;
const ROPE_LOCAL_BASE: f64 = 10_000.0;
const QUERY_PRE_ATTN_SCALAR: usize = 256;

pub(crate) fn hf_name(gguf: &str) -> Option<String> {
    match gguf {
        "token_embd.weight" => return Some("model.embed_tokens.weight".into()),
        "output_norm.weight" => return Some("model.norm.weight".into()),
        "output.weight" => return Some("lm_head.weight".into()),
        _ => {}
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, tail) = rest.split_once('.')?;
    let (module, kind) = tail.rsplit_once('.')?;
    let hf = match module {
        "attn_norm" => "input_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "attn_q_norm" => "self_attn.q_norm",
        "attn_k_norm" => "self_attn.k_norm",
        "post_attention_norm" => "post_attention_layernorm",
        "ffn_norm" => "pre_feedforward_layernorm",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        "post_ffw_norm" => "post_feedforward_layernorm",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.{kind}"))
}

/// A dequantized tensor in transformers' layout: norms back to zero-centred weights.
pub(crate) fn to_hf(gguf: &str, t: Tensor) -> candle_core::Result<Tensor> {
    if gguf.ends_with("norm.weight") {
        t.affine(1.0, -1.0)
    } else {
        Ok(t)
    }
}

pub(crate) fn config(meta: &Meta, vocab: usize, tied: bool) -> Result<Gemma3Config> {
    let k = |s: &str| format!("gemma3.{s}");
    let layers = meta.usize(&k("block_count"))?;
    let heads = meta.usize(&k("attention.head_count"))?;
    let head_dim = meta.usize(&k("attention.key_length"))?;
    let value_dim = meta.usize(&k("attention.value_length")).unwrap_or(head_dim);
    let file = meta.file.display();
    if value_dim != head_dim {
        bail!(
            "{file}: GGUF metadata `gemma3.attention.value_length` ({value_dim}) differs from `gemma3.attention.key_length` ({head_dim}); Gemma 3 has one head_dim"
        )
    }
    for key in ["rope.scaling.type", "rope.scaling.factor"] {
        if let Some(v) = meta.md.get(&k(key)) {
            let none = v.to_string().is_ok_and(|t| t == "none")
                || v.to_f32().is_ok_and(|f| f == 0.0 || f == 1.0);
            if !none {
                bail!(
                    "{file}: GGUF metadata `gemma3.{key}` = {v:?}: scaled RoPE is not implemented"
                )
            }
        }
    }
    let cfg = Gemma3Config {
        vocab_size: vocab,
        hidden_size: meta.usize(&k("embedding_length"))?,
        intermediate_size: meta.usize(&k("feed_forward_length"))?,
        num_attention_heads: heads,
        num_key_value_heads: meta.usize(&k("attention.head_count_kv")).unwrap_or(heads),
        head_dim,
        rms_norm_eps: meta.f64(&k("attention.layer_norm_rms_epsilon"))?,
        rope_theta: meta.f64(&k("rope.freq_base")).unwrap_or(1_000_000.0),
        rope_local_theta: ROPE_LOCAL_BASE,
        sliding_window: meta.usize(&k("attention.sliding_window"))?,
        layer_types: Gemma3Config::default_layer_types(layers, SLIDING_WINDOW_PATTERN),
        query_pre_attn_scalar: QUERY_PRE_ATTN_SCALAR,
        max_position_embeddings: meta.usize(&k("context_length"))?,
        tie_word_embeddings: tied,
    };
    cfg.check(&|f| {
        let key = match f {
            "num_attention_heads" => "attention.head_count",
            "num_key_value_heads" => "attention.head_count_kv",
            "head_dim" => "attention.key_length",
            "sliding_window" => "attention.sliding_window",
            other => other,
        };
        format!("{file}: GGUF metadata `gemma3.{key}`")
    })?;
    Ok(cfg)
}

/// Every layer must carry its tensors, with the shapes the metadata implies; a missing q/k norm
/// would otherwise surface as an unnamed weight error, and inconsistent head counts as a shape
/// error deep inside attention.
pub(crate) fn check_tensors(
    cfg: &Gemma3Config,
    shapes: &[(String, Vec<usize>)],
    file: &std::path::Path,
) -> Result<()> {
    let present: HashSet<&str> = shapes.iter().map(|(n, _)| n.as_str()).collect();
    let file = file.display();
    for i in 0..cfg.layer_types.len() {
        for leaf in [
            "attn_norm",
            "attn_q",
            "attn_k",
            "attn_v",
            "attn_output",
            "attn_q_norm",
            "attn_k_norm",
            "post_attention_norm",
            "ffn_norm",
            "ffn_gate",
            "ffn_up",
            "ffn_down",
            "post_ffw_norm",
        ] {
            let name = format!("blk.{i}.{leaf}.weight");
            if !present.contains(name.as_str()) {
                bail!("{file}: GGUF tensor `{name}` is missing (a Gemma 3 layer has {leaf})")
            }
        }
    }
    let (h, hd) = (cfg.hidden_size, cfg.head_dim);
    for (name, dims) in shapes {
        // Row-major (out, in), as candle reads a GGUF's dimensions.
        let want: Option<Vec<usize>> = match name.rsplit('.').nth(1) {
            Some("attn_q") => Some(vec![cfg.num_attention_heads * hd, h]),
            Some("attn_k" | "attn_v") => Some(vec![cfg.num_key_value_heads * hd, h]),
            Some("attn_output") => Some(vec![h, cfg.num_attention_heads * hd]),
            Some("attn_q_norm" | "attn_k_norm") => Some(vec![hd]),
            _ => None,
        };
        if let Some(want) = want
            && *dims != want
        {
            bail!(
                "{file}: GGUF tensor `{name}` has shape {dims:?}, but the metadata (heads {}, kv heads {}, head_dim {hd}, hidden {h}) implies {want:?}",
                cfg.num_attention_heads,
                cfg.num_key_value_heads
            )
        }
    }
    Ok(())
}
