//! Gemma 3's text model, as transformers' `Gemma3ForCausalLM` computes it: embeddings scaled by
//! sqrt(hidden), four RMSNorms per layer (before and after attention, before and after the MLP)
//! of the form `norm(x) * (1 + w)`, RMSNorm on every q and k head before RoPE, grouped-query
//! attention with head_dim independent of the hidden size and scores scaled by
//! `query_pre_attn_scalar ** -0.5`, sliding-window layers with their own RoPE base beside the
//! global layers, GeGLU with the tanh-approximate GELU, a tied lm_head.

use anyhow::Result;
use candle_core::{Device, Tensor};

use super::causal_lm::{CausalLm, embed};
use super::config::{ArchConfig, AttentionKind, Gemma3Config};
use super::weights::WeightSet;
use crate::nn::add::add;
use crate::nn::attention::{AttentionSpec, attention};
use crate::nn::glu::{GateActivation, glu_then};
use crate::nn::rope::RotaryTables;
use crate::nn::{Linear, Param, RmsNorm};

pub struct Gemma3 {
    arch: ArchConfig,
    cfg: Gemma3Config,
    embed_tokens: Param,
    layers: Vec<Block>,
    norm: RmsNorm,
    lm_head: Linear,
    /// RoPE of the global layers (`rope_theta`) and of the sliding-window layers.
    rope_global: RotaryTables,
    rope_local: RotaryTables,
}

struct Block {
    kind: AttentionKind,
    input_layernorm: RmsNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    post_attention_layernorm: RmsNorm,
    pre_feedforward_layernorm: RmsNorm,
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
    post_feedforward_layernorm: RmsNorm,
}

impl Gemma3 {
    pub fn new(cfg: &Gemma3Config, w: &mut WeightSet, device: &Device) -> Result<Self> {
        let (h, hd, eps) = (cfg.hidden_size, cfg.head_dim, cfg.rms_norm_eps);
        let (nq, nkv) = (cfg.num_attention_heads, cfg.num_key_value_heads);
        let embed_tokens = w.param("model.embed_tokens.weight", (cfg.vocab_size, h))?;
        let mut norm = |name: &str, n: usize| -> Result<RmsNorm> {
            Ok(RmsNorm::one_centred(w.param(name, n)?, eps))
        };
        let mut norms = Vec::new();
        for i in 0..cfg.layer_types.len() {
            let p = format!("model.layers.{i}");
            norms.push([
                norm(&format!("{p}.input_layernorm.weight"), h)?,
                norm(&format!("{p}.self_attn.q_norm.weight"), hd)?,
                norm(&format!("{p}.self_attn.k_norm.weight"), hd)?,
                norm(&format!("{p}.post_attention_layernorm.weight"), h)?,
                norm(&format!("{p}.pre_feedforward_layernorm.weight"), h)?,
                norm(&format!("{p}.post_feedforward_layernorm.weight"), h)?,
            ]);
        }
        let final_norm = norm("model.norm.weight", h)?;
        let mut layers = Vec::with_capacity(cfg.layer_types.len());
        for (i, (kind, [input, qn, kn, post_attn, pre_ff, post_ff])) in
            cfg.layer_types.iter().zip(norms).enumerate()
        {
            let p = format!("model.layers.{i}");
            let mi = cfg.intermediate_size;
            layers.push(Block {
                kind: *kind,
                input_layernorm: input,
                q_proj: w.linear(&format!("{p}.self_attn.q_proj"), nq * hd, h, false)?,
                k_proj: w.linear(&format!("{p}.self_attn.k_proj"), nkv * hd, h, false)?,
                v_proj: w.linear(&format!("{p}.self_attn.v_proj"), nkv * hd, h, false)?,
                o_proj: w.linear(&format!("{p}.self_attn.o_proj"), h, nq * hd, false)?,
                q_norm: qn,
                k_norm: kn,
                post_attention_layernorm: post_attn,
                pre_feedforward_layernorm: pre_ff,
                gate_proj: w.linear(&format!("{p}.mlp.gate_proj"), mi, h, false)?,
                up_proj: w.linear(&format!("{p}.mlp.up_proj"), mi, h, false)?,
                down_proj: w.linear(&format!("{p}.mlp.down_proj"), h, mi, false)?,
                post_feedforward_layernorm: post_ff,
            });
        }
        let lm_head = if cfg.tie_word_embeddings {
            w.discard("lm_head.weight");
            Linear::new(embed_tokens.clone(), None)
        } else {
            w.linear("lm_head", cfg.vocab_size, h, false)?
        };
        let tables = |theta| RotaryTables::new(hd, cfg.max_position_embeddings, theta, device);
        Ok(Self {
            arch: ArchConfig::Gemma3(cfg.clone()),
            cfg: cfg.clone(),
            embed_tokens,
            layers,
            norm: final_norm,
            lm_head,
            rope_global: tables(cfg.rope_theta)?,
            rope_local: tables(cfg.rope_local_theta)?,
        })
    }
}

/// RMSNorm over each head of a (batch, seq, heads * head_dim) projection.
fn per_head(norm: &RmsNorm, x: &Tensor, head_dim: usize) -> candle_core::Result<Tensor> {
    let (b, t, width) = x.dims3()?;
    norm.forward(&x.reshape((b, t, width / head_dim, head_dim))?)?
        .reshape((b, t, width))
}

impl Block {
    fn attention(
        &self,
        x: &Tensor,
        cfg: &Gemma3Config,
        rope: &RotaryTables,
    ) -> candle_core::Result<Tensor> {
        let spec = AttentionSpec {
            heads: cfg.num_attention_heads,
            kv_heads: cfg.num_key_value_heads,
            head_dim: cfg.head_dim,
            scale: 1.0 / (cfg.query_pre_attn_scalar as f64).sqrt(),
            window: (self.kind == AttentionKind::Local).then_some(cfg.sliding_window),
        };
        let q = per_head(&self.q_norm, &self.q_proj.forward(x)?, cfg.head_dim)?;
        let k = per_head(&self.k_norm, &self.k_proj.forward(x)?, cfg.head_dim)?;
        let v = self.v_proj.forward(x)?;
        self.o_proj
            .forward(&attention(&q, &k, &v, &spec, Some(rope))?)
    }

    fn forward(&self, x: &Tensor, model: &Gemma3) -> candle_core::Result<Tensor> {
        let rope = match self.kind {
            AttentionKind::Global => &model.rope_global,
            AttentionKind::Local => &model.rope_local,
        };
        let a = self.attention(&self.input_layernorm.forward(x)?, &model.cfg, rope)?;
        let x = add(x, &self.post_attention_layernorm.forward(&a)?)?;
        let h = self.pre_feedforward_layernorm.forward(&x)?;
        // GeGLU: gelu_pytorch_tanh is the tanh approximation, which is candle's `gelu`.
        let (gate, up) = (self.gate_proj.forward(&h)?, self.up_proj.forward(&h)?);
        let m = glu_then(&gate, &up, &self.down_proj, GateActivation::GeluTanh)?;
        add(&x, &self.post_feedforward_layernorm.forward(&m)?)
    }

    fn params(&self) -> Vec<&Param> {
        let mut p = self.input_layernorm.params();
        for l in [&self.q_proj, &self.k_proj, &self.v_proj, &self.o_proj] {
            p.extend(l.params());
        }
        for n in [
            &self.q_norm,
            &self.k_norm,
            &self.post_attention_layernorm,
            &self.pre_feedforward_layernorm,
        ] {
            p.extend(n.params());
        }
        for l in [&self.gate_proj, &self.up_proj, &self.down_proj] {
            p.extend(l.params());
        }
        p.extend(self.post_feedforward_layernorm.params());
        p
    }
}

impl CausalLm for Gemma3 {
    fn hidden(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        // transformers multiplies by the scale as an f32 tensor: the same rounding here.
        let scale = (self.cfg.hidden_size as f64).sqrt() as f32;
        let mut x = embed(&self.embed_tokens, ids)?.affine(f64::from(scale), 0.0)?;
        for layer in &self.layers {
            x = layer.forward(&x, self)?;
        }
        self.norm.forward(&x)
    }

    fn head(&self) -> &Linear {
        &self.lm_head
    }

    fn params(&self) -> Vec<&Param> {
        let mut p = vec![&self.embed_tokens];
        p.extend(self.layers.iter().flat_map(Block::params));
        p.extend(self.norm.params());
        if !self.cfg.tie_word_embeddings {
            p.extend(self.lm_head.params());
        }
        p
    }

    fn arch(&self) -> &ArchConfig {
        &self.arch
    }
}
