//! The models reproduce transformers' outputs on tiny random checkpoints made by
//! tests/fixtures/make_reference.py: logits to 1e-4, loss to 1e-5.

use crate::common::{fixture, max_abs_diff};
use ablate::eval::next_token_loss;
use ablate::models;
use candle_core::{DType, Device, Tensor};

pub(crate) fn reference(dir: &str) -> (Tensor, Tensor, f32) {
    let r =
        candle_core::safetensors::load(fixture(dir).join("reference.safetensors"), &Device::Cpu)
            .unwrap();
    let ids = r["input_ids"].to_dtype(DType::U32).unwrap();
    let loss = r["loss"].to_scalar::<f32>().unwrap();
    (ids, r["logits"].clone(), loss)
}

pub(crate) fn check(model: &str, reference_dir: &str) -> (f32, f32) {
    let m = models::load_frozen(model, &Device::Cpu).unwrap();
    let (ids, want_logits, want_loss) = reference(reference_dir);
    let logits = m.lm.forward(&ids).unwrap();
    assert_eq!(logits.dims(), want_logits.dims());
    let diff = max_abs_diff(&logits, &want_logits);
    let loss = next_token_loss(&logits, &ids)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff <= 1e-4, "{model}: max |logits diff| {diff} > 1e-4");
    assert!(
        (loss - want_loss).abs() <= 1e-5,
        "{model}: loss {loss} vs transformers {want_loss}"
    );
    (diff, loss)
}

#[test]
fn gpt_neo_matches_transformers() {
    check(fixture("tiny-gpt-neo").to_str().unwrap(), "tiny-gpt-neo");
}

#[test]
fn llama_hf_folder_matches_transformers() {
    check(fixture("tiny-llama").to_str().unwrap(), "tiny-llama");
}

#[test]
fn llama_gguf_matches_transformers() {
    // Same weights written as llama.cpp does (q/k rows permuted), tokenizer from metadata.
    check(fixture("tiny-llama.gguf").to_str().unwrap(), "tiny-llama");
}

#[test]
fn gguf_tokenizer_equals_the_hf_tokenizer() {
    let hf = models::load_frozen(fixture("tiny-llama").to_str().unwrap(), &Device::Cpu).unwrap();
    let gg =
        models::load_frozen(fixture("tiny-llama.gguf").to_str().unwrap(), &Device::Cpu).unwrap();
    let text = "Alice was beginning to get very tired of sitting by her sister on the bank, 1865.<|endoftext|>";
    let a = hf.tokenizer.encode(text, false).unwrap();
    let b = gg.tokenizer.encode(text, false).unwrap();
    assert_eq!(a.get_ids(), b.get_ids());
    assert!(a.get_ids().len() > 10);
    assert_eq!(hf.tokenizer.decode(a.get_ids(), false).unwrap(), text);
}

#[test]
fn gpt_neo_local_window_matters() {
    // With the window disabled the logits must move: proves the fixture exercises local attention.
    let dir = crate::common::copy_fixture("tiny-gpt-neo");
    let cfg_path = dir.path().join("config.json");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    std::fs::write(
        &cfg_path,
        cfg.replace("\"window_size\": 5", "\"window_size\": 64"),
    )
    .unwrap();
    let m = models::load_frozen(dir.path().to_str().unwrap(), &Device::Cpu).unwrap();
    let (ids, want, _) = reference("tiny-gpt-neo");
    let diff = max_abs_diff(&m.lm.forward(&ids).unwrap(), &want);
    assert!(diff > 1e-2, "window had no effect: {diff}");
}

#[test]
fn parameter_counts_match_transformers() {
    // transformers' num_parameters() for the fixtures (printed by make_reference.py).
    for (dir, want) in [("tiny-gpt-neo", 29_248usize), ("tiny-llama", 39_072)] {
        let m = models::load_frozen(fixture(dir).to_str().unwrap(), &Device::Cpu).unwrap();
        let n: usize = m.lm.params().iter().map(|p| p.numel()).sum();
        assert_eq!(n, want, "{dir}");
    }
}
