//! What ablate saves loads in the reference tools with identical logits: a trained full or
//! partial model as a Hugging Face folder in transformers, a trained LoRA adapter in PEFT.
//! Needs PyTorch + transformers + PEFT, hence ignored by default (see torch_parity.rs).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use ablate::config::train::TrainSettings;
use ablate::models::ModelSpec;
use ablate::models::export::{save_hf_folder, save_peft_adapter};
use ablate::strategy::Strategy;
use ablate::train::{build_for_strategy, train};
use candle_core::{DType, Device, Tensor};

use crate::common::fixture;
use crate::torch_parity::python;

fn ids() -> Tensor {
    let r =
        candle_core::safetensors::load(fixture("tiny-llama/reference.safetensors"), &Device::Cpu)
            .unwrap();
    r["input_ids"].to_dtype(DType::U32).unwrap()
}

/// ablate's tokens of the sample sentence check_export.py tokenizes with AutoTokenizer.
fn sample_ids(m: &ablate::models::Model) -> Tensor {
    let text = "Alice was beginning to get very tired of sitting by her sister on the bank, 1865.";
    let ids: Vec<i64> = m
        .tokenizer
        .encode(text, false)
        .unwrap()
        .get_ids()
        .iter()
        .map(|&i| i64::from(i))
        .collect();
    let n = ids.len();
    Tensor::from_vec(ids, n, &Device::Cpu).unwrap()
}

/// Train `strategy` on `model` for a few steps, export it, and have Python compare logits.
fn round_trip(py: &str, model: &str, strategy: &str) {
    let spec = ModelSpec::parse(fixture(model).to_str().unwrap()).unwrap();
    let strategy = Strategy::preset(strategy).unwrap();
    let m = build_for_strategy(
        &spec.read(&Device::Cpu).unwrap(),
        &strategy,
        0,
        &Device::Cpu,
    )
    .unwrap();
    let ids = ids();
    let base_logits = m.lm.forward(&ids).unwrap();
    let blocks: Vec<Vec<u32>> = ids.to_vec2().unwrap();
    let s = TrainSettings {
        steps: 4,
        batch_size: 2,
        lr: 1e-2,
        warmup_steps: 0,
        measure_skip_steps: 1,
        ..Default::default()
    };
    train(m.lm.as_ref(), blocks, &s, &Device::Cpu, |_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let logits = dir.path().join("logits.safetensors");
    let tensors: HashMap<String, Tensor> = [
        ("input_ids".to_string(), ids.to_dtype(DType::I64).unwrap()),
        ("logits".to_string(), m.lm.forward(&ids).unwrap()),
        ("base_logits".to_string(), base_logits),
        ("sample_ids".to_string(), sample_ids(&m)),
    ]
    .into();
    candle_core::safetensors::save(&tensors, &logits).unwrap();
    let mut cmd = Command::new(py);
    cmd.arg(fixture("check_export.py"));
    match strategy.lora() {
        Some(l) => {
            save_peft_adapter(m.lm.as_ref(), l, model, &out).unwrap();
            cmd.arg("peft").arg(&out).arg(fixture(model));
        }
        None => {
            save_hf_folder(&m, &out).unwrap();
            cmd.arg("hf").arg(&out);
        }
    }
    let o = cmd.arg(&logits).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{model}/{}: {text}", strategy.name);
    eprintln!("{model}/{}: {}", strategy.name, text.trim());
    assert!(Path::new(&out).is_dir());
}

#[test]
#[ignore = "needs PyTorch + transformers + PEFT: ABLATE_PYTHON=.venv/bin/python cargo test --release -- --ignored"]
fn exports_load_in_transformers_and_peft_with_identical_logits() {
    let py = python();
    for (model, strategy) in [
        ("tiny-llama", "full"),
        ("tiny-gpt-neo", "full"),
        ("tiny-gpt-neo", "attn_embed_frozen"),
        ("tiny-llama", "lora"),
        ("tiny-gpt-neo", "lora"),
        // Norm weights leave as transformers' zero-centred ones; the tied head is saved once.
        ("tiny-gemma3", "attn_embed_frozen"),
        ("tiny-gemma3", "lora"),
    ] {
        round_trip(&py, model, strategy);
    }
}
