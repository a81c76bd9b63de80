//! The real default checkpoint: Q4_1/Q8_0 dequantization, the `smollm` pre-tokenizer, a tied
//! Llama lm_head, 9/3 grouped-query attention, 30 layers. It runs where the GGUF is cached
//! (`ablate fetch smollm2`; `.ci/run` fetches it) and shows as ignored, with the reason, where it
//! is not: build.rs sets the cfg `ablate_smollm2`. Fetching needs the package registry, so no
//! test fetches. Reference numbers: HF transformers 5.24 on the same GGUF and the same blocks
//! (tests/fixtures/smollm2_parity.py).

use ablate::config::datasets::Catalog;
use ablate::data::Dataset;
use ablate::eval::perplexity;
use ablate::models::{self, ArchConfig, fetch::KnownModel};
use candle_core::Device;

/// Blocks scored, and transformers' perplexity on exactly those blocks.
const BLOCKS: usize = 16;
const HF_PPL: f64 = 27.8976;

fn cached() -> String {
    let path = KnownModel::by_alias("smollm2-135m").unwrap().path();
    assert!(path.is_file(), "{} is not cached", path.display());
    path.to_string_lossy().into_owned()
}

#[test]
#[cfg_attr(
    not(ablate_smollm2),
    ignore = "the SmolLM2 GGUF is not cached: run `ablate fetch smollm2` (.ci/run does), then rebuild"
)]
fn smollm2_matches_transformers() {
    let path = cached();
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
    // The same 16 blocks as `ablate eval --data alice --max-blocks 16 --save-blocks` hands to
    // tests/fixtures/smollm2_parity.py, which printed transformers' perplexity below.
    let r = perplexity(m.lm.as_ref(), &blocks[..BLOCKS], 8, &Device::Cpu).unwrap();
    assert_eq!(r.blocks, BLOCKS);

    // The chat template from the GGUF metadata renders as transformers' apply_chat_template does.
    let t = m
        .chat
        .clone()
        .expect("SmolLM2-Instruct ships a chat template");
    assert_eq!(
        ablate::eval::chat::render_prompt(&t, "What is the capital of France?").unwrap(),
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    );
    assert_eq!(t.end_token, Some(2), "<|im_end|>");
    assert!(
        // Measured: 27.8941 vs 27.8976, 1.3e-4 apart (f32 attention and Q4_1 dequantization
        // rounding differ slightly between the frameworks).
        (r.ppl / HF_PPL - 1.0).abs() < 2e-4,
        "ppl {} vs transformers {HF_PPL}",
        r.ppl
    );
}
