//! Every bad input gets an error that names the file and what is wrong, never a panic.

use crate::common::{copy_fixture, err_text, fixture};
use ablate::config::datasets::{Catalog, DatasetSpec};
use ablate::data::Dataset;
use ablate::models;
use candle_core::Device;
use candle_core::quantized::gguf_file;

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

fn edited_gguf(
    name: &str,
    edit: impl FnOnce(&mut std::collections::HashMap<String, gguf_file::Value>),
    extra: &[&str],
) -> (tempfile::TempDir, String) {
    crate::common::edited_gguf("tiny-llama.gguf", name, edit, extra, &[])
}

#[test]
fn gguf_head_counts_that_cannot_be() {
    use gguf_file::Value;
    let cases: [(&str, u32, &str); 4] = [
        (
            "llama.attention.head_count",
            0,
            "llama.attention.head_count",
        ),
        (
            "llama.attention.head_count",
            3,
            "divide `llama.embedding_length`",
        ),
        (
            "llama.attention.head_count_kv",
            0,
            "llama.attention.head_count_kv",
        ),
        (
            "llama.attention.head_count_kv",
            3,
            "divide `llama.attention.head_count`",
        ),
    ];
    for (key, value, want) in cases {
        let (_d, p) = edited_gguf(
            "heads.gguf",
            |md| {
                md.insert(key.into(), Value::U32(value));
            },
            &[],
        );
        let msg = load_err(&p);
        assert!(
            msg.contains("heads.gguf") && msg.contains(want),
            "{key}={value}: {msg}"
        );
    }
}

#[test]
fn gguf_unknown_tensor_and_rope_scaling_are_refused() {
    let (_d, p) = edited_gguf("llama3.gguf", |_| {}, &["rope_freqs.weight"]);
    let msg = load_err(&p);
    assert!(
        msg.contains("llama3.gguf")
            && msg.contains("`rope_freqs.weight`")
            && msg.contains("scaled RoPE"),
        "{msg}"
    );
    let (_d, p) = edited_gguf("extra.gguf", |_| {}, &["blk.0.attn_q_norm.weight"]);
    let msg = load_err(&p);
    assert!(msg.contains("`blk.0.attn_q_norm.weight`"), "{msg}");
    let (_d, p) = edited_gguf(
        "yarn.gguf",
        |md| {
            md.insert(
                "llama.rope.scaling.type".into(),
                gguf_file::Value::String("yarn".into()),
            );
        },
        &[],
    );
    let msg = load_err(&p);
    assert!(
        msg.contains("yarn.gguf") && msg.contains("llama.rope.scaling.type"),
        "{msg}"
    );
}

#[test]
fn checkpoint_tensor_the_model_does_not_use() {
    let dir = copy_fixture("tiny-gpt-neo");
    let p = dir.path().join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&p, &Device::Cpu).unwrap();
    tensors.insert(
        "transformer.h.0.attn.attention.q_proj.bias".into(),
        candle_core::Tensor::zeros(32, candle_core::DType::F32, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&tensors, &p).unwrap();
    let msg = load_err(dir.path().to_str().unwrap());
    assert!(
        msg.contains("does not use") && msg.contains("transformer.h.0.attn.attention.q_proj.bias"),
        "{msg}"
    );
}

#[test]
fn gpt_neo_window_size_zero() {
    let dir = copy_fixture("tiny-gpt-neo");
    let p = dir.path().join("config.json");
    let cfg = std::fs::read_to_string(&p).unwrap();
    let cfg = regex::Regex::new(r#""window_size": \d+"#)
        .unwrap()
        .replace(&cfg, r#""window_size": 0"#)
        .into_owned();
    std::fs::write(&p, cfg).unwrap();
    let msg = load_err(dir.path().to_str().unwrap());
    assert!(
        msg.contains("config.json") && msg.contains("`window_size`"),
        "{msg}"
    );
}

#[test]
fn fused_ops_refuse_shapes_they_cannot_compute() {
    use ablate::nn::norm::{layer_norm_fused, rms_norm_fused};
    use ablate::nn::rope::{RotaryTables, rope_fused};
    use ablate::nn::softmax::causal_softmax;
    use candle_core::{DType, Tensor};
    let dev = Device::Cpu;
    let x = Tensor::ones((2, 3, 8), DType::F32, &dev).unwrap();
    let w7 = Tensor::ones(7, DType::F32, &dev).unwrap();
    let w8 = Tensor::ones(8, DType::F32, &dev).unwrap();
    let msg = err_text(rms_norm_fused(&x, &w7, 1e-5).unwrap_err().into());
    assert!(msg.contains("rms-norm") && msg.contains("[7]"), "{msg}");
    let msg = err_text(layer_norm_fused(&x, &w8, &w7, 1e-5).unwrap_err().into());
    assert!(msg.contains("layer-norm") && msg.contains("[7]"), "{msg}");
    let msg = err_text(
        RotaryTables::new(7, 16, 10_000.0, &dev)
            .err()
            .unwrap()
            .into(),
    );
    assert!(msg.contains("even head_dim") && msg.contains('7'), "{msg}");
    let q = Tensor::ones((1, 2, 4, 7), DType::F32, &dev).unwrap();
    let t = Tensor::ones((4, 3), DType::F32, &dev).unwrap();
    let msg = err_text(rope_fused(&q, &t, &t).unwrap_err().into());
    assert!(msg.contains("head_dim 7"), "{msg}");
    let s = Tensor::ones((1, 1, 4, 4), DType::F32, &dev).unwrap();
    let msg = err_text(causal_softmax(&s, Some(0)).unwrap_err().into());
    assert!(msg.contains("window of 0"), "{msg}");
}

/// A grid whose [train] table holds `line`, beside the real catalog.
fn grid_with_train(line: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    let catalog = fixture("../../ablations/datasets.toml");
    std::fs::write(
        &p,
        format!(
            "models = [\"{}\"]\ndatasets = [\"alice\"]\nstrategies = [\"full\"]\ncatalog = \"{}\"\n[train]\n{line}\n",
            fixture("tiny-gpt-neo").display(),
            catalog.display()
        ),
    )
    .unwrap();
    (dir, p)
}

#[test]
fn train_settings_that_cannot_run_name_file_and_field() {
    use ablate::config::grid::Grid;
    for (line, field) in [
        ("grad_accum = 0", "grad_accum"),
        ("batch_size = 0", "batch_size"),
        ("steps = 4\nmeasure_skip_steps = 4", "measure_skip_steps"),
        ("lr = -1e-4", "lr"),
        ("lr = nan", "lr"),
        ("lr = inf", "lr"),
    ] {
        let (_d, p) = grid_with_train(line);
        let msg = err_text(Grid::load(&p).unwrap_err());
        assert!(
            msg.contains("bad.toml") && msg.contains(&format!("`{field}`")),
            "{line}: {msg}"
        );
    }
    let (_d, p) = grid_with_train("steps = 0\nmeasure_skip_steps = 0");
    let msg = err_text(Grid::load(&p).unwrap_err());
    assert!(msg.contains("bad.toml") && msg.contains("`steps`"), "{msg}");
}

#[test]
fn eval_blocks_beyond_the_split_is_an_error() {
    use ablate::config::train::TrainSettings;
    use ablate::models::ModelSpec;
    use ablate::train::run::{RunPlan, run};
    let cat = Catalog::load(&fixture("../../ablations/datasets.toml")).unwrap();
    let mut ds = cat.get("alice").unwrap();
    ds.seq_len = 16;
    let plan = RunPlan {
        model: ModelSpec::parse(fixture("tiny-gpt-neo").to_str().unwrap()).unwrap(),
        model_sha256: None,
        model_name: "tiny-gpt-neo".into(),
        strategy: std::sync::Arc::new(ablate::strategy::Strategy::preset("full").unwrap()),
        dataset: ds,
        others: vec![],
        settings: TrainSettings {
            steps: 2,
            measure_skip_steps: 1,
            eval_blocks: 1_000_000,
            ..Default::default()
        },
        save: None,
        before_cache: None,
        chat_probe: None,
    };
    let msg = err_text(run(&plan, &Device::Cpu, |_| {}).err().unwrap());
    assert!(
        msg.contains("eval_blocks = 1000000") && msg.contains("`alice`") && msg.contains("only"),
        "{msg}"
    );
}

/// The committed base and probe files are not grids: running one says so and how they are used,
/// instead of a serde complaint about the first missing field.
#[test]
fn a_file_that_is_not_a_grid_says_so() {
    use ablate::config::grid::Grid;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, missing) in [
        (
            "ablations/frontier/base.toml",
            "no `datasets`, `strategies` and no `base`",
        ),
        (
            "ablations/frontier-gemma3/base.toml",
            "no `datasets`, `strategies` and no `base`",
        ),
        (
            "ablations/probes/chat.toml",
            "no `models`, `datasets`, `strategies` and no `base`",
        ),
    ] {
        let msg = err_text(Grid::load(&root.join(file)).unwrap_err());
        assert!(
            msg.contains(file) && msg.contains("not a grid by itself") && msg.contains(missing),
            "{file}: {msg}"
        );
    }
}
