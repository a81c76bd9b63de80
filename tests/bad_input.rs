//! Every bad input gets an error that names the file and what is wrong, never a panic.

mod common;

use ablate::config::datasets::{Catalog, DatasetSpec};
use ablate::data::Dataset;
use ablate::models;
use candle_core::Device;
use common::{copy_fixture, err_text, fixture};

fn load_err(spec: &str) -> String {
    match models::load_frozen(spec, &Device::Cpu) {
        Ok(_) => panic!("{spec} loaded but should not"),
        Err(e) => err_text(e),
    }
}

#[test]
fn missing_model_file() {
    let msg = load_err("/nonexistent/dir/model.gguf");
    assert!(msg.contains("/nonexistent/dir/model.gguf"), "{msg}");
    assert!(msg.contains("no such file"), "{msg}");

    let dir = copy_fixture("tiny-gpt-neo");
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let msg = load_err(dir.path().to_str().unwrap());
    assert!(
        msg.contains("missing model file") && msg.contains("config.json"),
        "{msg}"
    );

    let dir = copy_fixture("tiny-gpt-neo");
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let msg = load_err(dir.path().to_str().unwrap());
    assert!(msg.contains("no *.safetensors"), "{msg}");
}

#[test]
fn truncated_gguf() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("tiny-llama.gguf")).unwrap();
    for keep in [bytes.len() - 1000, 200] {
        let p = dir.path().join(format!("cut-{keep}.gguf"));
        std::fs::write(&p, &bytes[..keep]).unwrap();
        let msg = load_err(p.to_str().unwrap());
        assert!(msg.contains(&format!("cut-{keep}.gguf")), "{msg}");
    }
}

#[test]
fn non_gguf_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("not-a-model.gguf");
    std::fs::write(&p, "this is plain text, not a GGUF file at all").unwrap();
    let msg = load_err(p.to_str().unwrap());
    assert!(
        msg.contains("not-a-model.gguf") && msg.contains("not a readable GGUF"),
        "{msg}"
    );
}

#[test]
fn corrupt_safetensors_header() {
    let dir = copy_fixture("tiny-gpt-neo");
    let p = dir.path().join("model.safetensors");
    let mut bytes = std::fs::read(&p).unwrap();
    // Header length says 1 TB; then scribble over the JSON header.
    bytes[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    bytes[8..40].fill(b'#');
    std::fs::write(&p, bytes).unwrap();
    let msg = load_err(dir.path().to_str().unwrap());
    assert!(
        msg.contains("model.safetensors") && msg.contains("safetensors"),
        "{msg}"
    );
}

#[test]
fn unknown_model_type() {
    let dir = copy_fixture("tiny-gpt-neo");
    let p = dir.path().join("config.json");
    let cfg = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, cfg.replace("\"gpt_neo\"", "\"bert\"")).unwrap();
    let msg = load_err(dir.path().to_str().unwrap());
    assert!(
        msg.contains("config.json") && msg.contains("model_type") && msg.contains("bert"),
        "{msg}"
    );
}

#[test]
fn tokenizer_vocabulary_larger_than_model() {
    let dir = copy_fixture("tiny-gpt-neo");
    let p = dir.path().join("config.json");
    let cfg = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        cfg.replace("\"vocab_size\": 320", "\"vocab_size\": 100"),
    )
    .unwrap();
    let msg = load_err(dir.path().to_str().unwrap());
    assert!(
        msg.contains("tokenizer.json") && msg.contains("320 tokens") && msg.contains("100"),
        "{msg}"
    );
}

#[test]
fn wrong_tensor_shape_names_the_tensor() {
    let dir = copy_fixture("tiny-gpt-neo");
    let p = dir.path().join("config.json");
    let cfg = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        cfg.replace("\"intermediate_size\": 64", "\"intermediate_size\": 48"),
    )
    .unwrap();
    let msg = load_err(dir.path().to_str().unwrap());
    assert!(
        msg.contains("transformer.h.0.mlp.c_fc.weight") && msg.contains("shape"),
        "{msg}"
    );
}

fn tiny_tokenizer() -> tokenizers::Tokenizer {
    tokenizers::Tokenizer::from_file(fixture("tiny-llama/tokenizer.json")).unwrap()
}

#[test]
fn empty_text_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.txt");
    std::fs::write(&p, "\u{feff}\r\n   \r\n").unwrap();
    let spec = DatasetSpec::from_path(&p, 16).unwrap();
    let msg = err_text(Dataset::load(&spec, &tiny_tokenizer()).unwrap_err());
    assert!(msg.contains("empty.txt") && msg.contains("empty"), "{msg}");
}

#[test]
fn text_shorter_than_one_block() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("short.txt");
    std::fs::write(&p, "Once upon a time.\n\nThe end.\n").unwrap();
    let spec = DatasetSpec::from_path(&p, 64).unwrap();
    let msg = err_text(Dataset::load(&spec, &tiny_tokenizer()).unwrap_err());
    assert!(
        msg.contains("short.txt") && msg.contains("too short") && msg.contains("seq_len = 64"),
        "{msg}"
    );
}

#[test]
fn dataset_catalog_errors_name_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("datasets.toml");
    std::fs::write(&p, "[datasets.alice]\nfiles = [\"alice\"]\nseq_lne = 128\n").unwrap();
    let msg = err_text(Catalog::load(&p).unwrap_err());
    assert!(
        msg.contains("datasets.toml") && msg.contains("seq_lne") && msg.contains("line 3"),
        "{msg}"
    );

    std::fs::write(&p, "[datasets.alice]\nfiles = [\"nowhere\"]\n").unwrap();
    let cat = Catalog::load(&p).unwrap();
    let msg = err_text(cat.get("alice").unwrap_err());
    assert!(
        msg.contains("datasets.alice.files") && msg.contains("nowhere"),
        "{msg}"
    );
    let msg = err_text(cat.get("bob").unwrap_err());
    assert!(msg.contains("no dataset named `bob`"), "{msg}");
}
