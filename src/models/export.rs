//! Writing a model out in formats other tools load: a Hugging Face folder (config.json +
//! model.safetensors + tokenizer.json) that transformers' `from_pretrained` reads, and a PEFT
//! LoRA adapter (adapter_config.json + adapter_model.safetensors) that
//! `peft.PeftModel.from_pretrained` puts on the same base model.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use candle_core::Tensor;
use serde_json::{Value, json};

use super::config::{ArchConfig, AttentionKind};
use super::{CausalLm, Model};
use crate::strategy::LoraSpec;

impl ArchConfig {
    /// The config.json transformers reads for this architecture (float32 weights).
    pub fn to_hf_json(&self) -> Value {
        match self {
            Self::Llama(c) => json!({
                "model_type": "llama",
                "architectures": ["LlamaForCausalLM"],
                "vocab_size": c.vocab_size,
                "hidden_size": c.hidden_size,
                "intermediate_size": c.intermediate_size,
                "num_hidden_layers": c.num_hidden_layers,
                "num_attention_heads": c.num_attention_heads,
                "num_key_value_heads": c.num_key_value_heads,
                "head_dim": c.head_dim,
                "hidden_act": "silu",
                "rms_norm_eps": c.rms_norm_eps,
                // transformers 5 reads rope_parameters, 4.x rope_theta: the same value in both.
                "rope_theta": c.rope_theta,
                "rope_parameters": { "rope_theta": c.rope_theta, "rope_type": "default" },
                "max_position_embeddings": c.max_position_embeddings,
                "tie_word_embeddings": c.tie_word_embeddings,
                "attention_bias": c.attention_bias,
                "mlp_bias": c.mlp_bias,
                "torch_dtype": "float32",
            }),
            Self::Gemma3(c) => {
                let kinds: Vec<&str> = c
                    .layer_types
                    .iter()
                    .map(|k| match k {
                        AttentionKind::Global => "full_attention",
                        AttentionKind::Local => "sliding_attention",
                    })
                    .collect();
                json!({
                    "model_type": "gemma3_text",
                    "architectures": ["Gemma3ForCausalLM"],
                    "vocab_size": c.vocab_size,
                    "hidden_size": c.hidden_size,
                    "intermediate_size": c.intermediate_size,
                    "num_hidden_layers": c.layer_types.len(),
                    "num_attention_heads": c.num_attention_heads,
                    "num_key_value_heads": c.num_key_value_heads,
                    "head_dim": c.head_dim,
                    "hidden_activation": "gelu_pytorch_tanh",
                    "rms_norm_eps": c.rms_norm_eps,
                    "rope_parameters": {
                        "full_attention": { "rope_type": "default", "rope_theta": c.rope_theta },
                        "sliding_attention": { "rope_type": "default", "rope_theta": c.rope_local_theta },
                    },
                    "sliding_window": c.sliding_window,
                    "layer_types": kinds,
                    "query_pre_attn_scalar": c.query_pre_attn_scalar,
                    "final_logit_softcapping": null,
                    "attn_logit_softcapping": null,
                    "max_position_embeddings": c.max_position_embeddings,
                    "tie_word_embeddings": c.tie_word_embeddings,
                    "attention_bias": false,
                    "torch_dtype": "float32",
                })
            }
            Self::GptNeo(c) => {
                let kinds: Vec<Value> = c
                    .attention_layers
                    .iter()
                    .map(|k| {
                        let k = match k {
                            AttentionKind::Global => "global",
                            AttentionKind::Local => "local",
                        };
                        json!([[k], 1])
                    })
                    .collect();
                json!({
                    "model_type": "gpt_neo",
                    "architectures": ["GPTNeoForCausalLM"],
                    "vocab_size": c.vocab_size,
                    "hidden_size": c.hidden_size,
                    "intermediate_size": c.intermediate_size,
                    "num_heads": c.num_heads,
                    "num_layers": c.attention_layers.len(),
                    "attention_types": kinds,
                    "max_position_embeddings": c.max_position_embeddings,
                    "window_size": c.window_size,
                    "layer_norm_epsilon": c.layer_norm_epsilon,
                    "activation_function": "gelu_new",
                    "tie_word_embeddings": true,
                    "torch_dtype": "float32",
                })
            }
        }
    }
}

fn write_json(path: &Path, v: &Value) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(v)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn save_tensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<u64> {
    candle_core::safetensors::save(tensors, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(std::fs::metadata(path)?.len())
}

/// The model as a Hugging Face folder: every parameter as it is now (a tied lm_head once, as
/// transformers saves it). A model with LoRA adapters is saved with `save_peft_adapter`.
/// Returns the bytes written.
pub fn save_hf_folder(model: &Model, dir: &Path) -> Result<u64> {
    let params = model.lm.params();
    anyhow::ensure!(
        !params.iter().any(|p| p.name().contains(".lora_")),
        "a model with LoRA adapters is saved as a PEFT adapter, not a Hugging Face folder"
    );
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_json(&dir.join("config.json"), &model.arch().to_hf_json())?;
    let tensors: HashMap<String, Tensor> = params
        .iter()
        .map(|p| (p.name().to_string(), p.tensor().detach()))
        .collect();
    let bytes = save_tensors(&tensors, &dir.join("model.safetensors"))?;
    let tok = dir.join("tokenizer.json");
    model
        .tokenizer
        .save(&tok, false)
        .map_err(|e| anyhow!("cannot write {}: {e}", tok.display()))?;
    // Without it, AutoTokenizer rebuilds a GPT-Neo tokenizer from vocab and merges (losing a
    // digit-splitting pre-tokenizer) and an instruct model loses its chat template.
    let mut tok_config = json!({ "tokenizer_class": "PreTrainedTokenizerFast" });
    if let Some(chat) = &model.chat {
        tok_config["chat_template"] = json!(chat.template);
        if let Some(eos) = chat
            .end_token
            .and_then(|id| model.tokenizer.id_to_token(id))
        {
            tok_config["eos_token"] = json!(eos);
        }
    }
    let tok_config_path = dir.join("tokenizer_config.json");
    write_json(&tok_config_path, &tok_config)?;
    Ok(bytes + std::fs::metadata(&tok)?.len() + std::fs::metadata(&tok_config_path)?.len())
}

/// The LoRA adapters of a model as a PEFT adapter folder for the base model `base` (a name or
/// path written into the config, for the reader's information). Returns the bytes written.
pub fn save_peft_adapter(
    lm: &dyn CausalLm,
    lora: &LoraSpec,
    base: &str,
    dir: &Path,
) -> Result<u64> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tensors = HashMap::new();
    let mut modules = Vec::new();
    for p in lm.params() {
        if !p.name().contains(".lora_") {
            continue;
        }
        // PEFT saves `base_model.model.<module>.lora_A.weight` (no adapter name).
        tensors.insert(
            format!("base_model.model.{}", p.name()),
            p.tensor().detach(),
        );
        if let Some(m) = p.name().strip_suffix(".lora_A.weight") {
            modules.push(m.to_string());
        }
    }
    anyhow::ensure!(
        !modules.is_empty(),
        "the model has no LoRA adapters to save"
    );
    modules.sort();
    let config = json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base,
        "r": lora.rank,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        // The exact modules adapted, so a layer-restricted strategy loads as it trained.
        "target_modules": modules,
        "bias": "none",
        "fan_in_fan_out": false,
        "use_rslora": false,
        "use_dora": false,
        "init_lora_weights": true,
        "inference_mode": true,
        "modules_to_save": null,
    });
    write_json(&dir.join("adapter_config.json"), &config)?;
    let bytes = save_tensors(&tensors, &dir.join("adapter_model.safetensors"))?;
    Ok(bytes + std::fs::metadata(dir.join("adapter_config.json"))?.len())
}
