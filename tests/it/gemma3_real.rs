//! The real Gemma 3 270M (Q4_K_M GGUF: Q4_K, Q5_0, Q6_K, Q8_0 and F32 tensors): its shape, its
//! parameter count, its tokenizer and its perplexity against transformers 5.24 loading the same
//! GGUF (tests/fixtures/smollm2_parity.py scores the blocks `ablate eval --save-blocks` wrote).
//! It runs where the GGUF is cached (`ablate fetch gemma3-270m`; `.ci/run` fetches it) and shows
//! as ignored, with the reason, where it is not: build.rs sets the cfg `ablate_gemma3`.

use ablate::config::datasets::Catalog;
use ablate::data::Dataset;
use ablate::data::dataset::split_text;
use ablate::data::text::read_clean;
use ablate::eval::perplexity;
use ablate::models::config::AttentionKind;
use ablate::models::{self, ArchConfig, fetch::KnownModel};
use candle_core::Device;

/// Blocks scored (every eval block of alice, each BOS + 127 text tokens: what
/// `ablate eval --data alice --max-blocks 64` scores), and transformers' perplexity on exactly
/// those blocks.
const BLOCKS: usize = 59;
const HF_PPL: f64 = 37.5791;

fn cached() -> String {
    let path = KnownModel::by_alias("gemma3-270m").unwrap().path();
    assert!(path.is_file(), "{} is not cached", path.display());
    path.to_string_lossy().into_owned()
}

fn catalog() -> Catalog {
    Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ablations/datasets.toml"))
        .unwrap()
}

#[test]
#[cfg_attr(
    not(ablate_gemma3),
    ignore = "the Gemma 3 GGUF is not cached: run `ablate fetch gemma3-270m` (.ci/run does), then rebuild"
)]
fn gemma3_270m_matches_transformers() {
    let m = models::load_frozen(&cached(), &Device::Cpu).unwrap();
    let ArchConfig::Gemma3(c) = m.arch() else {
        panic!("not gemma3")
    };
    assert_eq!(
        (
            c.layer_types.len(),
            c.hidden_size,
            c.num_attention_heads,
            c.num_key_value_heads,
            c.head_dim,
            c.vocab_size,
            c.sliding_window,
            c.intermediate_size,
        ),
        (18, 640, 4, 1, 256, 262_144, 512, 2048)
    );
    let global: Vec<usize> = (0..18)
        .filter(|&i| c.layer_types[i] == AttentionKind::Global)
        .collect();
    assert_eq!(global, [5, 11, 17]);
    assert_eq!((c.rope_theta, c.rope_local_theta), (1e6, 1e4));
    assert!(c.tie_word_embeddings);
    // transformers' Gemma3ForCausalLM from this GGUF: 268,098,176 parameters.
    let n: usize = m.lm.params().iter().map(|p| p.numel()).sum();
    assert_eq!(n, 268_098_176);

    // transformers' GGUF tokenizer gives these ids (digits one by one, "," and "." separate).
    let ids = m
        .tokenizer
        .encode(
            "Alice was beginning to get very tired of sitting by her sister on the bank, 1865.",
            false,
        )
        .unwrap();
    assert_eq!(
        ids.get_ids(),
        [
            85305, 691, 6534, 531, 974, 1401, 20718, 529, 8116, 684, 1116, 12198, 580, 506, 4856,
            236764, 236743, 236770, 236828, 236825, 236810, 236761
        ]
    );

    let ds = Dataset::load(&catalog().get("alice").unwrap(), &m.tokenizer).unwrap();
    assert_eq!(ds.bos, Some(2));
    let blocks = ds.eval_blocks();
    assert_eq!(blocks.len(), BLOCKS);
    let r = perplexity(m.lm.as_ref(), &blocks, 8, &Device::Cpu).unwrap();
    let rel = (r.ppl / HF_PPL - 1.0).abs();
    assert!(
        rel < 1e-3,
        "perplexity {} vs transformers {HF_PPL}: {:.4}% apart",
        r.ppl,
        100.0 * rel
    );
}

/// Every corpus of ../shared/data, as ablate feeds it (each file cleaned, then its train and eval
/// parts) and as the file stands: the Rust tokenizer rebuilt from the GGUF gives transformers'
/// ids. Needs transformers (and the cached GGUF).
#[test]
#[ignore = "needs transformers and the Gemma 3 GGUF: ABLATE_PYTHON=.venv/bin/python cargo test --release -- --ignored"]
fn gemma3_tokenizer_matches_transformers_on_every_corpus() {
    let path = cached();
    let m = models::load_frozen(&path, &Device::Cpu).unwrap();
    let cat = catalog();
    let dir = tempfile::tempdir().unwrap();
    let mut texts: Vec<(String, String)> = Vec::new();
    for name in ["alice", "edgar", "general", "docs", "code"] {
        let spec = cat.get(name).unwrap();
        for f in &spec.files {
            let clean = read_clean(f, spec.unwraps(f)).unwrap();
            let split = split_text(f, &clean, spec.eval_fraction);
            let raw = std::fs::read_to_string(f).unwrap();
            let stem = f.file_name().unwrap().to_string_lossy().into_owned();
            for (part, text) in [("train", split.train), ("eval", split.eval), ("raw", raw)] {
                texts.push((format!("{name}/{stem}/{part}"), text));
            }
        }
    }
    let mut files = Vec::new();
    for (i, (_, text)) in texts.iter().enumerate() {
        let p = dir.path().join(format!("{i}.txt"));
        std::fs::write(&p, text).unwrap();
        files.push(p);
    }
    let out = std::process::Command::new(crate::torch_parity::python())
        .arg(crate::common::fixture("gguf_tokens.py"))
        .arg(&path)
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: std::collections::HashMap<String, Vec<u32>> =
        serde_json::from_slice(&out.stdout).unwrap();
    let mut total = 0;
    for ((label, text), p) in texts.iter().zip(&files) {
        let ours = m.tokenizer.encode(text.as_str(), false).unwrap();
        let theirs = &want[&p.to_string_lossy().into_owned()];
        if ours.get_ids() != theirs.as_slice() {
            let at = ours
                .get_ids()
                .iter()
                .zip(theirs)
                .position(|(a, b)| a != b)
                .unwrap_or(theirs.len().min(ours.get_ids().len()));
            panic!(
                "{label}: ids differ first at token {at} (ours {:?}, transformers {:?})",
                &ours.get_ids()[at..(at + 5).min(ours.get_ids().len())],
                &theirs[at..(at + 5).min(theirs.len())]
            );
        }
        total += theirs.len();
    }
    assert!(total > 1_000_000, "{total} tokens compared");
}
