//! The Llama family in llama.cpp's GGUF layout: hyper-parameters under `llama.*`, tensor names,
//! and q/k rows interleaved by llama.cpp's converter for its rotary kernel.

use anyhow::{Result, bail};
use candle_core::Tensor;

use super::meta::Meta;
use crate::models::config::LlamaConfig;

pub(crate) fn hf_name(gguf: &str) -> Option<String> {
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

/// A dequantized tensor in transformers' layout.
pub(crate) fn to_hf(cfg: &LlamaConfig, gguf: &str, t: Tensor) -> candle_core::Result<Tensor> {
    if gguf.ends_with("attn_q.weight") {
        unpermute(&t, cfg.num_attention_heads)
    } else if gguf.ends_with("attn_k.weight") {
        unpermute(&t, cfg.num_key_value_heads)
    } else {
        Ok(t)
    }
}

pub(crate) fn config(meta: &Meta, vocab: usize, tied: bool) -> Result<LlamaConfig> {
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
        tie_word_embeddings: tied,
        attention_bias: false,
        mlp_bias: false,
    })
}
