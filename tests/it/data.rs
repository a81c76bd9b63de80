//! The corpora of ../shared/data: cleaning and a leak-free, deterministic split.

use crate::common::fixture;
use ablate::config::datasets::Catalog;
use ablate::data::Dataset;
use ablate::data::dataset::split_text;
use ablate::data::text::read_clean;

fn catalog() -> Catalog {
    Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ablations/datasets.toml"))
        .unwrap()
}

#[test]
fn shared_corpora_resolve_and_strip_gutenberg() {
    let cat = catalog();
    let edgar = cat.get("edgar").unwrap();
    assert_eq!(edgar.files.len(), 3);
    let poems = edgar
        .files
        .iter()
        .find(|f| f.to_string_lossy().contains("10031"))
        .unwrap();
    let text = read_clean(poems).unwrap();
    assert!(!text.starts_with('\u{feff}'));
    assert!(!text.contains('\r'));
    assert!(
        !text.contains("PROJECT GUTENBERG"),
        "header/licence left in"
    );
    assert!(text.contains("Quoth the Raven"));
    assert!(!text.contains("\n\n\n"));
}

#[test]
fn split_is_deterministic_and_leak_free() {
    let cat = catalog();
    let spec = cat.get("alice").unwrap();
    let tok = tokenizers::Tokenizer::from_file(fixture("tiny-llama/tokenizer.json")).unwrap();
    let a = Dataset::load(&spec, &tok).unwrap();
    let b = Dataset::load(&spec, &tok).unwrap();
    assert_eq!(a.train, b.train);
    assert_eq!(a.eval, b.eval);
    for f in &spec.files {
        let text = read_clean(f).unwrap();
        let s = split_text(f, &text, spec.eval_fraction);
        assert_eq!(format!("{}{}", s.train, s.eval), text);
        let frac = s.eval.len() as f64 / text.len() as f64;
        assert!((0.09..0.11).contains(&frac), "eval fraction {frac}");
        assert!(s.train.ends_with('\n'), "cut inside a line");
        // The eval text's opening is nowhere in the train text.
        let probe: String = s.eval.chars().take(80).collect();
        assert!(!s.train.contains(&probe));
    }
    let blocks = a.eval_blocks();
    assert!(!blocks.is_empty() && blocks.iter().all(|b| b.len() == spec.seq_len));
}
