//! The Llama family (SmolLM2, TinyLlama, Llama 2/3 without RoPE scaling), as transformers'
//! `LlamaForCausalLM` computes it: RMSNorm, RoPE on q and k, grouped-query attention, SwiGLU.

use anyhow::Result;
use candle_core::{Device, Tensor};

use super::causal_lm::{CausalLm, embed};
use super::config::{ArchConfig, LlamaConfig};
use super::weights::WeightSet;
use crate::nn::add::add;
use crate::nn::attention::{AttentionSpec, attention};
use crate::nn::glu::{GateActivation, glu_then};
use crate::nn::rope::RotaryTables;
use crate::nn::{Linear, Param, RmsNorm};

pub struct Llama {
    arch: ArchConfig,
    cfg: LlamaConfig,
    embed_tokens: Param,
    layers: Vec<Block>,
    norm: RmsNorm,
    lm_head: Linear,
    rope: RotaryTables,
}

struct Block {
    input_layernorm: RmsNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    post_attention_layernorm: RmsNorm,
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Llama {
    pub fn new(cfg: &LlamaConfig, w: &mut WeightSet, device: &Device) -> Result<Self> {
        let (h, hd) = (cfg.hidden_size, cfg.head_dim);
        let (nq, nkv) = (cfg.num_attention_heads, cfg.num_key_value_heads);
        let embed_tokens = w.param("model.embed_tokens.weight", (cfg.vocab_size, h))?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let ab = cfg.attention_bias;
            let mb = cfg.mlp_bias;
            let eps = cfg.rms_norm_eps;
            layers.push(Block {
                input_layernorm: RmsNorm::new(
                    w.param(&format!("{p}.input_layernorm.weight"), h)?,
                    eps,
                ),
                q_proj: w.linear(&format!("{p}.self_attn.q_proj"), nq * hd, h, ab)?,
                k_proj: w.linear(&format!("{p}.self_attn.k_proj"), nkv * hd, h, ab)?,
                v_proj: w.linear(&format!("{p}.self_attn.v_proj"), nkv * hd, h, ab)?,
                o_proj: w.linear(&format!("{p}.self_attn.o_proj"), h, nq * hd, ab)?,
                post_attention_layernorm: RmsNorm::new(
                    w.param(&format!("{p}.post_attention_layernorm.weight"), h)?,
                    eps,
                ),
                gate_proj: w.linear(&format!("{p}.mlp.gate_proj"), cfg.intermediate_size, h, mb)?,
                up_proj: w.linear(&format!("{p}.mlp.up_proj"), cfg.intermediate_size, h, mb)?,
                down_proj: w.linear(&format!("{p}.mlp.down_proj"), h, cfg.intermediate_size, mb)?,
            });
        }
        let norm = RmsNorm::new(w.param("model.norm.weight", h)?, cfg.rms_norm_eps);
        // Checkpoints of tied models usually omit lm_head; when present and untied, use it.
        let lm_head = if cfg.tie_word_embeddings {
            // A tied checkpoint may still carry a copy; transformers ignores it, so do we.
            w.discard("lm_head.weight");
            Linear::new(embed_tokens.clone(), None)
        } else {
            w.linear("lm_head", cfg.vocab_size, h, false)?
        };
        let rope = RotaryTables::new(hd, cfg.max_position_embeddings, cfg.rope_theta, device)?;
        Ok(Self {
            arch: ArchConfig::Llama(cfg.clone()),
            cfg: cfg.clone(),
            embed_tokens,
            layers,
            norm,
            lm_head,
            rope,
        })
    }
}

impl Block {
    fn attention(
        &self,
        x: &Tensor,
        cfg: &LlamaConfig,
        rope: &RotaryTables,
    ) -> candle_core::Result<Tensor> {
        let spec = AttentionSpec {
            heads: cfg.num_attention_heads,
            kv_heads: cfg.num_key_value_heads,
            head_dim: cfg.head_dim,
            scale: 1.0 / (cfg.head_dim as f64).sqrt(),
            window: None,
        };
        let (q, k, v) = (
            self.q_proj.forward(x)?,
            self.k_proj.forward(x)?,
            self.v_proj.forward(x)?,
        );
        self.o_proj
            .forward(&attention(&q, &k, &v, &spec, Some(rope))?)
    }

    fn forward(
        &self,
        x: &Tensor,
        cfg: &LlamaConfig,
        rope: &RotaryTables,
    ) -> candle_core::Result<Tensor> {
        let x = add(
            x,
            &self.attention(&self.input_layernorm.forward(x)?, cfg, rope)?,
        )?;
        let h = self.post_attention_layernorm.forward(&x)?;
        let (gate, up) = (self.gate_proj.forward(&h)?, self.up_proj.forward(&h)?);
        add(
            &x,
            &glu_then(&gate, &up, &self.down_proj, GateActivation::Silu)?,
        )
    }

    fn params(&self) -> Vec<&Param> {
        let mut p = self.input_layernorm.params();
        for l in [&self.q_proj, &self.k_proj, &self.v_proj, &self.o_proj] {
            p.extend(l.params());
        }
        p.extend(self.post_attention_layernorm.params());
        for l in [&self.gate_proj, &self.up_proj, &self.down_proj] {
            p.extend(l.params());
        }
        p
    }
}

impl CausalLm for Llama {
    fn hidden(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = embed(&self.embed_tokens, ids)?;
        for layer in &self.layers {
            x = layer.forward(&x, &self.cfg, &self.rope)?;
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
