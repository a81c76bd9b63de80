//! GPT-Neo exactly as transformers' `GPTNeoForCausalLM` computes it. The traps: attention scores
//! are NOT scaled by 1/sqrt(head_dim); layers alternate global and local (window) attention per
//! `attention_types`; q/k/v have no bias while out_proj has one; the MLP uses gelu_new; positions
//! are learned; lm_head is tied to wte.

use anyhow::Result;
use candle_core::{Device, Tensor};

use super::causal_lm::{CausalLm, embed};
use super::config::{ArchConfig, AttentionKind, GptNeoConfig};
use super::weights::WeightSet;
use crate::nn::add::add;
use crate::nn::attention::{AttentionSpec, attention};
use crate::nn::{LayerNorm, Linear, Param};

pub struct GptNeo {
    arch: ArchConfig,
    cfg: GptNeoConfig,
    wte: Param,
    wpe: Param,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    lm_head: Linear,
}

struct Block {
    ln_1: LayerNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    /// `Some(window)` on local-attention layers.
    window: Option<usize>,
    ln_2: LayerNorm,
    c_fc: Linear,
    c_proj: Linear,
}

fn layer_norm(w: &mut WeightSet, name: &str, h: usize, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        w.param(&format!("{name}.weight"), h)?,
        w.param(&format!("{name}.bias"), h)?,
        eps,
    ))
}

impl GptNeo {
    pub fn new(cfg: &GptNeoConfig, w: &mut WeightSet, _device: &Device) -> Result<Self> {
        let h = cfg.hidden_size;
        let eps = cfg.layer_norm_epsilon;
        let wte = w.param("transformer.wte.weight", (cfg.vocab_size, h))?;
        let wpe = w.param("transformer.wpe.weight", (cfg.max_position_embeddings, h))?;
        let mut blocks = Vec::new();
        for (i, kind) in cfg.attention_layers.iter().enumerate() {
            let p = format!("transformer.h.{i}");
            let a = format!("{p}.attn.attention");
            blocks.push(Block {
                ln_1: layer_norm(w, &format!("{p}.ln_1"), h, eps)?,
                q_proj: w.linear(&format!("{a}.q_proj"), h, h, false)?,
                k_proj: w.linear(&format!("{a}.k_proj"), h, h, false)?,
                v_proj: w.linear(&format!("{a}.v_proj"), h, h, false)?,
                out_proj: w.linear(&format!("{a}.out_proj"), h, h, true)?,
                window: (*kind == AttentionKind::Local).then_some(cfg.window_size),
                ln_2: layer_norm(w, &format!("{p}.ln_2"), h, eps)?,
                c_fc: w.linear(&format!("{p}.mlp.c_fc"), cfg.intermediate_size, h, true)?,
                c_proj: w.linear(&format!("{p}.mlp.c_proj"), h, cfg.intermediate_size, true)?,
            });
        }
        let ln_f = layer_norm(w, "transformer.ln_f", h, eps)?;
        // Tied to wte; a checkpoint may still carry a copy, which transformers ignores.
        w.discard("lm_head.weight");
        let lm_head = Linear::new(wte.clone(), None);
        Ok(Self {
            arch: ArchConfig::GptNeo(cfg.clone()),
            cfg: cfg.clone(),
            wte,
            wpe,
            blocks,
            ln_f,
            lm_head,
        })
    }
}

impl Block {
    fn attention(&self, x: &Tensor, n_heads: usize) -> candle_core::Result<Tensor> {
        let spec = AttentionSpec {
            heads: n_heads,
            kv_heads: n_heads,
            head_dim: x.dim(2)? / n_heads,
            // No 1/sqrt(head_dim) scaling: GPT-Neo was trained without it.
            scale: 1.0,
            window: self.window,
        };
        let (q, k, v) = (
            self.q_proj.forward(x)?,
            self.k_proj.forward(x)?,
            self.v_proj.forward(x)?,
        );
        self.out_proj.forward(&attention(&q, &k, &v, &spec, None)?)
    }

    fn forward(&self, x: &Tensor, n_heads: usize) -> candle_core::Result<Tensor> {
        let x = add(x, &self.attention(&self.ln_1.forward(x)?, n_heads)?)?;
        // gelu_new is the tanh approximation, which is candle's `gelu`.
        let m = self.c_fc.forward(&self.ln_2.forward(&x)?)?.gelu()?;
        add(&x, &self.c_proj.forward(&m)?)
    }

    fn params(&self) -> Vec<&Param> {
        let mut p = self.ln_1.params();
        for l in [&self.q_proj, &self.k_proj, &self.v_proj, &self.out_proj] {
            p.extend(l.params());
        }
        p.extend(self.ln_2.params());
        p.extend(self.c_fc.params());
        p.extend(self.c_proj.params());
        p
    }
}

impl CausalLm for GptNeo {
    fn hidden(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let t = ids.dim(1)?;
        if t > self.cfg.max_position_embeddings {
            candle_core::bail!(
                "sequence of {t} tokens is longer than the model's {} positions",
                self.cfg.max_position_embeddings
            )
        }
        let pos = self.wpe.tensor().narrow(0, 0, t)?;
        let mut x = add(&embed(&self.wte, ids)?, &pos)?;
        for block in &self.blocks {
            x = block.forward(&x, self.cfg.num_heads)?;
        }
        self.ln_f.forward(&x)
    }

    fn head(&self) -> &Linear {
        &self.lm_head
    }

    fn params(&self) -> Vec<&Param> {
        let mut p = vec![&self.wte, &self.wpe];
        p.extend(self.blocks.iter().flat_map(Block::params));
        p.extend(self.ln_f.params());
        p
    }

    fn arch(&self) -> &ArchConfig {
        &self.arch
    }
}
