//! Gemma 3 on the tiny random fixture made by tests/fixtures/make_gemma3_reference.py: the HF
//! folder and the GGUF (norms stored as w + 1, SentencePiece-style vocabulary) reproduce
//! transformers' logits and loss; the tokenizer rebuilt from GGUF metadata gives transformers'
//! ids; the sliding window and the q/k norms matter; a damaged Gemma GGUF gets an error naming
//! the file and the tensor or key.

use ablate::models;
use candle_core::Device;
use candle_core::quantized::gguf_file::Value;

use crate::common::{copy_fixture, edited_gguf, err_text, fixture, max_abs_diff};
use crate::reference_parity::{check, reference};

const GGUF: &str = "tiny-gemma3.gguf";

fn load_err(spec: &str) -> String {
    match models::load_frozen(spec, &Device::Cpu) {
        Ok(_) => panic!("{spec} loaded"),
        Err(e) => err_text(e),
    }
}

#[test]
fn gemma3_hf_folder_matches_transformers() {
    check(fixture("tiny-gemma3").to_str().unwrap(), "tiny-gemma3");
}

#[test]
fn gemma3_gguf_matches_transformers() {
    // The norms come back as transformers' zero-centred weights (w + 1 in the file).
    check(fixture(GGUF).to_str().unwrap(), "tiny-gemma3");
}

#[test]
fn gemma3_gguf_tokenizer_gives_transformers_ids() {
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("tiny-gemma3").join("tokens.json")).unwrap(),
    )
    .unwrap();
    let text = want["text"].as_str().unwrap();
    let ids: Vec<u32> = want["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    for spec in [fixture(GGUF), fixture("tiny-gemma3")] {
        let m = models::load_frozen(spec.to_str().unwrap(), &Device::Cpu).unwrap();
        let enc = m.tokenizer.encode(text, false).unwrap();
        assert_eq!(enc.get_ids(), ids.as_slice(), "{}", spec.display());
        assert_eq!(m.tokenizer.decode(&ids, false).unwrap(), text);
    }
    // The sample reaches byte fallback (é, ☃) and a user-defined token ("\n\n", id 6).
    assert!(ids.contains(&6) && ids.iter().any(|&i| (9..265).contains(&i)));
}

#[test]
fn gemma3_sliding_window_and_layer_kinds_matter() {
    let (ids, want, _) = reference("tiny-gemma3");
    let edits: [(&str, serde_json::Value); 2] = [
        ("sliding_window", serde_json::json!(64)),
        // All layers global: the local layers' own RoPE base and window stop applying.
        ("layer_types", serde_json::json!(vec!["full_attention"; 6])),
    ];
    for (key, value) in edits {
        let dir = copy_fixture("tiny-gemma3");
        let cfg_path = dir.path().join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
        cfg[key] = value;
        std::fs::write(&cfg_path, cfg.to_string()).unwrap();
        let m = models::load_frozen(dir.path().to_str().unwrap(), &Device::Cpu).unwrap();
        let diff = max_abs_diff(&m.lm.forward(&ids).unwrap(), &want);
        assert!(diff > 1e-2, "{key}: no effect ({diff})");
    }
}

#[test]
fn gemma3_parameter_count_matches_transformers() {
    // transformers' count (tied head once), printed by make_gemma3_reference.py.
    let m = models::load_frozen(fixture(GGUF).to_str().unwrap(), &Device::Cpu).unwrap();
    let n: usize = m.lm.params().iter().map(|p| p.numel()).sum();
    assert_eq!(n, 92_736);
}

#[test]
fn gemma3_gguf_without_a_qk_norm_is_refused() {
    let (_d, p) = edited_gguf(
        GGUF,
        "no-knorm.gguf",
        |_| {},
        &[],
        &["blk.2.attn_k_norm.weight"],
    );
    let msg = load_err(&p);
    assert!(
        msg.contains("no-knorm.gguf") && msg.contains("`blk.2.attn_k_norm.weight` is missing"),
        "{msg}"
    );
}

#[test]
fn gemma3_gguf_head_counts_that_cannot_be() {
    let cases: [(&str, u32, &str); 3] = [
        // Not a divisor of the query heads.
        (
            "gemma3.attention.head_count_kv",
            3,
            "`gemma3.attention.head_count_kv` (3)",
        ),
        // Divides, but the projections were written for 4 heads.
        (
            "gemma3.attention.head_count",
            2,
            "`blk.0.attn_output.weight` has shape",
        ),
        (
            "gemma3.attention.key_length",
            8,
            "gemma3.attention.value_length",
        ),
    ];
    for (key, value, want) in cases {
        let (_d, p) = edited_gguf(
            GGUF,
            "heads.gguf",
            |md| {
                md.insert(key.into(), Value::U32(value));
            },
            &[],
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
fn gguf_of_an_unknown_architecture_or_tokenizer_is_refused() {
    let (_d, p) = edited_gguf(
        GGUF,
        "mamba.gguf",
        |md| {
            md.insert("general.architecture".into(), Value::String("mamba".into()));
        },
        &[],
        &[],
    );
    let msg = load_err(&p);
    assert!(
        msg.contains("mamba.gguf")
            && msg.contains("`general.architecture` is \"mamba\"")
            && msg.contains("\"gemma3\""),
        "{msg}"
    );
    let (_d, p) = edited_gguf(
        GGUF,
        "bert-vocab.gguf",
        |md| {
            md.insert("tokenizer.ggml.model".into(), Value::String("bert".into()));
        },
        &[],
        &[],
    );
    let msg = load_err(&p);
    assert!(
        msg.contains("bert-vocab.gguf") && msg.contains("`tokenizer.ggml.model` is \"bert\""),
        "{msg}"
    );
}

#[test]
fn blocks_start_with_bos_where_the_tokenizer_adds_one() {
    use ablate::data::Dataset;
    let cat = ablate::config::datasets::Catalog::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ablations/datasets.toml"),
    )
    .unwrap();
    let spec = cat.get("alice").unwrap();
    let gemma = models::load_frozen(fixture(GGUF).to_str().unwrap(), &Device::Cpu).unwrap();
    let ds = Dataset::load(&spec, &gemma.tokenizer).unwrap();
    assert_eq!(ds.bos, Some(2));
    let (val, train) = ds.validation_split(4);
    let blocks: Vec<&[u32]> = ds
        .eval_blocks()
        .into_iter()
        .chain(train)
        .chain(val.iter().map(|b| b.ids))
        .chain(ds.eval_sample(5).iter().map(|b| b.ids))
        .collect();
    assert!(blocks.len() > 10);
    for b in blocks {
        assert_eq!(b.len(), spec.seq_len);
        assert_eq!(b[0], 2, "a block without BOS");
        assert!(!b[1..].contains(&2), "BOS inside a block");
    }
    // The text between the BOS tokens is the tokenized text, in order and complete.
    let text = gemma.tokenizer.decode(&ds.eval[0], true).unwrap();
    let plain = gemma.tokenizer.encode(text.as_str(), false).unwrap();
    let without: Vec<u32> = ds.eval[0].iter().copied().filter(|&t| t != 2).collect();
    assert_eq!(without, plain.get_ids());
    // A tokenizer that adds nothing (the tiny Llama's) leaves the stream as the text's tokens.
    let llama = models::load_frozen(fixture("tiny-llama").to_str().unwrap(), &Device::Cpu).unwrap();
    assert_eq!(Dataset::load(&spec, &llama.tokenizer).unwrap().bos, None);
}

#[test]
fn gguf_with_an_unsupported_quantization_type_names_the_tensor() {
    // Rewrite one tensor's ggml type in the header to 23 (IQ4_XS, which candle cannot read).
    let mut bytes = std::fs::read(fixture(GGUF)).unwrap();
    let name = b"blk.3.ffn_up.weight";
    let at = bytes
        .windows(name.len())
        .position(|w| w == name)
        .expect("tensor name in the header");
    // name, then n_dims (u32) and that many u64 dims, then the type (u32).
    let dims_at = at + name.len();
    let n = u32::from_le_bytes(bytes[dims_at..dims_at + 4].try_into().unwrap()) as usize;
    let type_at = dims_at + 4 + 8 * n;
    assert_eq!(
        &bytes[type_at..type_at + 4],
        &0u32.to_le_bytes(),
        "an F32 tensor"
    );
    bytes[type_at..type_at + 4].copy_from_slice(&23u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("iq4.gguf");
    std::fs::write(&p, bytes).unwrap();
    let msg = load_err(p.to_str().unwrap());
    assert!(
        msg.contains("iq4.gguf")
            && msg.contains("`blk.3.ffn_up.weight`")
            && msg.contains("IQ4_XS")
            && msg.contains("Q4_K"),
        "{msg}"
    );
}
