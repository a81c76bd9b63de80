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
    let text = read_clean(poems, edgar.unwraps(poems)).unwrap();
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
        let text = read_clean(f, spec.unwraps(f)).unwrap();
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

/// The pilot's validation slice comes from the train split, is never trained on, spans the files,
/// and does not depend on the seed.
#[test]
fn validation_slice_is_held_out_of_training() {
    let spec = catalog().get("alice").unwrap();
    let tok = tokenizers::Tokenizer::from_file(fixture("tiny-llama/tokenizer.json")).unwrap();
    let ds = Dataset::load(&spec, &tok).unwrap();
    let all = ds.train_blocks();
    let (val, train) = ds.validation_split(16);
    assert_eq!(val.len(), 16);
    assert_eq!(train.len() + 16, all.len());
    for v in &val {
        assert_eq!(&ds.train[v.file][v.offset..v.offset + ds.seq_len], v.ids);
        assert!(
            !train.contains(&v.ids),
            "a validation block is also trained on"
        );
        // Not an eval block either: the slice is disjoint from every block the report scores.
        assert!(!ds.eval_blocks().contains(&v.ids));
    }
    let files: std::collections::BTreeSet<usize> = val.iter().map(|v| v.file).collect();
    assert!(files.len() > 1, "the slice sits in one file: {files:?}");
    let (none, every) = ds.validation_split(0);
    assert!(none.is_empty());
    assert_eq!(every.len(), all.len());
}

/// Unwrapping on the real books: a prose paragraph of pg11 becomes one line, the verse keeps its
/// lines (Alice's indented poem by the paragraph rule, every stanza of pg10031 by `keep_lines`).
#[test]
fn unwrap_on_the_real_files() {
    let cat = catalog();
    let alice = cat.get("alice").unwrap();
    let pg11 = alice
        .files
        .iter()
        .find(|f| f.ends_with("pg11-alice.txt"))
        .unwrap();
    assert!(alice.unwraps(pg11));
    let text = read_clean(pg11, true).unwrap();
    let para = "Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do:";
    let line = text
        .lines()
        .find(|l| l.starts_with(para))
        .expect("the first paragraph");
    assert!(
        line.ends_with("\u{201c}without pictures or conversations?\u{201d}"),
        "{line}"
    );
    assert!(
        text.contains("\u{201c}How doth the little crocodile\n    Improve his shining tail,\n")
    );
    let wrapped = read_clean(pg11, false).unwrap();
    let lines = |t: &str| t.lines().filter(|l| !l.is_empty()).count();
    assert!(
        lines(&text) * 2 < lines(&wrapped),
        "{} lines unwrapped vs {} wrapped",
        lines(&text),
        lines(&wrapped)
    );

    let edgar = cat.get("edgar").unwrap();
    let poems = edgar
        .files
        .iter()
        .find(|f| f.ends_with("pg10031-poe-poetical-works.txt"))
        .unwrap();
    assert!(!edgar.unwraps(poems));
    let verse = read_clean(poems, edgar.unwraps(poems)).unwrap();
    assert!(verse.contains(
        "Once upon a midnight dreary, while I pondered, weak and weary,\n  Over many a quaint"
    ));
    let tales = edgar
        .files
        .iter()
        .find(|f| f.ends_with("pg2147-poe-vol1.txt"))
        .unwrap();
    assert!(edgar.unwraps(tales));
}

/// The out-of-domain probes resolve, every file of them is read, and they are read verbatim.
#[test]
fn docs_and_code_corpora() {
    let cat = catalog();
    for (name, n, ext) in [("docs", 24, "rst"), ("code", 17, "py")] {
        let spec = cat.get(name).unwrap();
        assert_eq!(spec.files.len(), n, "{name}");
        assert!(
            spec.files
                .iter()
                .all(|f| f.extension().is_some_and(|e| e == ext))
        );
        assert!(!spec.unwrap);
    }
}
