//! What a run measures: stratified eval blocks with per-block losses, the before-cache, curves at
//! the set steps, provenance columns, content-hashed run ids, bench rows as data.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use ablate::config::datasets::Catalog;
use ablate::config::grid::Grid;
use ablate::data::Dataset;
use ablate::results::frame::{numbers, strings, strings_required};
use ablate::results::store::read_table;

use crate::common::fixture;

fn catalog() -> Catalog {
    Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("ablations/datasets.toml")).unwrap()
}

fn tiny_tokenizer() -> tokenizers::Tokenizer {
    tokenizers::Tokenizer::from_file(fixture("tiny-gpt-neo/tokenizer.json")).unwrap()
}

#[test]
fn eval_blocks_are_spread_over_every_file() {
    let mut spec = catalog().get("edgar").unwrap();
    spec.seq_len = 128;
    let ds = Dataset::load(&spec, &tiny_tokenizer()).unwrap();
    let sample = ds.eval_sample(64);
    assert_eq!(sample.len(), 64);
    let files: BTreeSet<usize> = sample.iter().map(|b| b.file).collect();
    assert_eq!(files.len(), 3, "every file of edgar contributes");
    // Shares follow each file's size; within a file the blocks spread over the whole split.
    for f in 0..3 {
        let offsets: Vec<usize> = sample
            .iter()
            .filter(|b| b.file == f)
            .map(|b| b.offset)
            .collect();
        let len = ds.eval[f].len();
        assert!(offsets.first().unwrap() * 4 < len && offsets.last().unwrap() * 4 > 3 * len / 2);
        assert!(offsets.windows(2).all(|w| w[0] < w[1]));
    }
    // Deterministic, aligned to blocks, and the whole split when asked for all.
    assert_eq!(ds.eval_sample(64), sample);
    assert!(
        sample
            .iter()
            .all(|b| b.offset % 128 == 0 && b.ids.len() == 128)
    );
    assert_eq!(ds.eval_sample(0).len(), ds.eval_blocks().len());
}

#[test]
fn a_run_records_blocks_curves_provenance_and_caches_before() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::run_tiny_grid(dir.path());
    let runs = read_table(dir.path(), "runs").unwrap().unwrap();
    assert_eq!(runs.height(), 6);
    for c in [
        "min_lr_ratio",
        "beta1",
        "beta2",
        "eps",
        "grad_clip",
        "measure_skip_steps",
        "eval_blocks",
        "eval_batch",
        "eval_every",
        "curve_blocks",
        "cpus",
        "mem_total_bytes",
        "mem_weights_bytes",
        "mem_grads_bytes",
        "mem_optimizer_bytes",
        "mem_activations_bytes",
        "eval_before_seconds",
        "curve_seconds",
        "eval_after_seconds",
    ] {
        assert!(
            numbers(&runs, c).unwrap().iter().all(Option::is_some),
            "{c} has nulls"
        );
    }
    for c in [
        "schedule",
        "cpu_model",
        "simd",
        "gemm",
        "model_sha256",
        "data_sha256",
    ] {
        assert!(
            strings(&runs, c)
                .unwrap()
                .iter()
                .all(|v| v.as_deref().is_some_and(|s| !s.is_empty())),
            "{c} has nulls"
        );
    }
    // The memory split adds up to the peak, and the measured gradients and AdamW state match
    // the counts: 4 bytes per trainable parameter, 8 for the two moments.
    let n = |c: &str| numbers(&runs, c).unwrap();
    let (peak, w, g, o, a, trainable) = (
        n("peak_mem_bytes"),
        n("mem_weights_bytes"),
        n("mem_grads_bytes"),
        n("mem_optimizer_bytes"),
        n("mem_activations_bytes"),
        n("params_trainable"),
    );
    for i in 0..runs.height() {
        let (peak, w, g, o, a, t) = (
            peak[i].unwrap(),
            w[i].unwrap(),
            g[i].unwrap(),
            o[i].unwrap(),
            a[i].unwrap(),
            trainable[i].unwrap(),
        );
        assert_eq!(w + g + o + a, peak, "run {i}");
        // Besides the tensors: the gradient map and small buffers, a few KiB on a tiny model.
        let close =
            |measured: f64, counted: f64| (measured - counted).abs() < 0.05 * counted + 4096.0;
        assert!(close(o, 8.0 * t), "optimizer {o} vs 8 x {t}");
        assert!(close(g, 4.0 * t), "gradients {g} vs 4 x {t}");
    }

    // Per-block losses, from every file of each corpus; evals rows say what was scored.
    let blocks = read_table(dir.path(), "eval_blocks").unwrap().unwrap();
    assert_eq!(
        blocks.height(),
        6 * 3 * 4,
        "6 runs x 3 corpora x eval_blocks"
    );
    let evals = read_table(dir.path(), "evals").unwrap().unwrap();
    let files = strings(&evals, "files").unwrap();
    let corpus = strings_required(&evals, "corpus").unwrap();
    for (c, f) in corpus.iter().zip(&files) {
        let n_files = f.as_deref().unwrap().split(',').count();
        let want = if c == "alice" { 2 } else { 1 };
        assert!(n_files >= want, "{c}: {f:?}");
    }
    assert!(
        strings_required(&evals, "role")
            .unwrap()
            .contains(&"probe".to_string())
    );

    // The before scores are computed by the first run of the model and reused by the others.
    let cached = numbers(&evals, "before_cached").unwrap();
    let computed = cached.iter().filter(|c| **c == Some(0.0)).count();
    assert_eq!(computed, 3, "one computation per corpus, {cached:?}");
    assert!(Path::new(dir.path()).join(".cache/before").is_dir());

    // Curves at steps 0, 3 and 6 (eval_every = 3, steps = 6) for each of the 3 corpora.
    let curves = read_table(dir.path(), "curves").unwrap().unwrap();
    assert_eq!(curves.height(), 6 * 3 * 3);
    let steps: BTreeSet<i64> = numbers(&curves, "step")
        .unwrap()
        .iter()
        .map(|s| s.unwrap() as i64)
        .collect();
    assert_eq!(steps, BTreeSet::from([0, 3, 6]));
}

/// A grid over a copy of the alice corpus, so a test can change a byte of it.
fn grid_over_copy(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data/alice");
    std::fs::create_dir_all(&data).unwrap();
    for f in catalog().get("alice").unwrap().files {
        std::fs::copy(&f, data.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.join("datasets.toml"),
        "root = \"data\"\n[datasets.alice]\nfiles = [\"alice\"]\n",
    )
    .unwrap();
    let g = dir.join("grid.toml");
    std::fs::write(
        &g,
        format!(
            "models = [\"{}\"]\ndatasets = [\"alice\"]\nstrategies = [\"full\"]\n",
            fixture("tiny-gpt-neo").display()
        ),
    )
    .unwrap();
    g
}

#[test]
fn a_changed_corpus_byte_gives_a_new_run_id() {
    let dir = tempfile::tempdir().unwrap();
    let g = grid_over_copy(dir.path());
    let id = || {
        ablate::runner::resolve(Grid::load(&g).unwrap(), "candle")
            .unwrap()
            .runs[0]
            .id
            .clone()
    };
    let before = id();
    assert_eq!(id(), before, "ids are stable");
    let f = dir.path().join("data/alice/pg11-alice.txt");
    let mut bytes = std::fs::read(&f).unwrap();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
    std::fs::write(&f, bytes).unwrap();
    assert_ne!(id(), before, "a changed corpus must not count as finished");
}

#[test]
fn bench_writes_every_repeat_as_parquet() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::run_ok(
        Command::new(env!("CARGO_BIN_EXE_ablate"))
            .args(["bench", "--model"])
            .arg(fixture("tiny-gpt-neo"))
            .args([
                "--strategies",
                "full,lora",
                "--batch",
                "2",
                "--seq-len",
                "16",
                "--steps",
                "2",
            ])
            .args(["--repeats", "2", "--results"])
            .arg(dir.path()),
    );
    let rows = read_table(dir.path(), "bench").unwrap().unwrap();
    assert_eq!(rows.height(), 4, "2 strategies x 2 repeats");
    let order = strings_required(&rows, "strategy").unwrap();
    assert_eq!(order, ["full", "lora", "full", "lora"], "interleaved");
    assert!(
        numbers(&rows, "tokens_per_s")
            .unwrap()
            .iter()
            .all(|t| t.unwrap() > 0.0)
    );
    assert!(
        strings_required(&rows, "cpu_model")
            .unwrap()
            .iter()
            .all(|c| !c.is_empty())
    );
    assert!(
        numbers(&rows, "peak_mem_bytes")
            .unwrap()
            .iter()
            .all(Option::is_some)
    );
}

/// A copy of the tiny Llama with a ChatML template, as an instruct checkpoint ships it.
fn tiny_instruct() -> tempfile::TempDir {
    let dir = crate::common::copy_fixture("tiny-llama");
    let template = "{% for message in messages %}{{'<s>' + message['role'] + '\\n' + message['content'] + '</s>\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<s>assistant\\n' }}{% endif %}";
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        serde_json::json!({ "chat_template": template, "eos_token": "</s>" }).to_string(),
    )
    .unwrap();
    dir
}

#[test]
fn chat_replies_batched_equal_one_by_one() {
    use ablate::eval::chat::{encode_prompt, generate_replies, reply_nll};
    let dir = tiny_instruct();
    let m = ablate::models::load_frozen(dir.path().to_str().unwrap(), &candle_core::Device::Cpu)
        .unwrap();
    let t = m
        .chat
        .clone()
        .expect("the template is read from tokenizer_config.json");
    let prompts: Vec<Vec<u32>> = [
        "Hi",
        "What is the capital of France?",
        "Name three painters, please.",
    ]
    .iter()
    .map(|i| encode_prompt(&m.tokenizer, &t, i).unwrap())
    .collect();
    assert!(
        prompts[0].len() < prompts[1].len(),
        "different lengths share a batch"
    );
    let dev = candle_core::Device::Cpu;
    let one = generate_replies(m.lm.as_ref(), &prompts, 6, t.end_token, 1, &dev).unwrap();
    let batched = generate_replies(m.lm.as_ref(), &prompts, 6, t.end_token, 3, &dev).unwrap();
    assert_eq!(one, batched, "right padding must not change a reply");
    let pairs: Vec<_> = prompts.into_iter().zip(one).collect();
    let a = reply_nll(m.lm.as_ref(), &pairs, 1, &dev).unwrap();
    let b = reply_nll(m.lm.as_ref(), &pairs, 3, &dev).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-5 && x.is_finite(), "{a:?} vs {b:?}");
    }
}

/// A short probe that fits the tiny models' 64 positions.
fn tiny_probe() -> ablate::config::probe::ChatProbe {
    ablate::config::probe::ChatProbe {
        file: "tiny-chat.toml".into(),
        instructions: ["Hi", "Why?", "Name a cat.", "Go on."]
            .map(String::from)
            .to_vec(),
        max_reply_tokens: 6,
    }
}

fn chat_run(model: &Path, cache: &Path) -> ablate::train::run::RunOutput {
    use ablate::config::train::TrainSettings;
    use ablate::train::run::{RunPlan, run};
    let mut ds = catalog().get("alice").unwrap();
    ds.seq_len = 16;
    let plan = RunPlan {
        model: ablate::models::ModelSpec::parse(model.to_str().unwrap()).unwrap(),
        model_sha256: None,
        model_name: "tiny".into(),
        strategy: std::sync::Arc::new(ablate::strategy::Strategy::preset("full").unwrap()),
        dataset: ds,
        others: vec![],
        settings: TrainSettings {
            steps: 4,
            batch_size: 2,
            lr: 1e-2,
            warmup_steps: 0,
            measure_skip_steps: 1,
            eval_blocks: 4,
            eval_every: 2,
            curve_blocks: 2,
            sample_tokens: 0,
            ..Default::default()
        },
        save: None,
        before_cache: Some(cache.to_path_buf()),
        chat_probe: Some(tiny_probe()),
    };
    run(&plan, &candle_core::Device::Cpu, |_| {}).unwrap()
}

#[test]
fn chat_probe_scores_the_base_replies_and_caches_them() {
    let probe = ablate::config::probe::ChatProbe::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("ablations/probes/chat.toml"),
    )
    .unwrap();
    assert!((40..=60).contains(&probe.instructions.len()));
    let probe = tiny_probe();
    let cache = tempfile::tempdir().unwrap();
    let dir = tiny_instruct();
    let first = chat_run(dir.path(), cache.path());
    let chat = first
        .evals
        .iter()
        .find(|e| e.source.corpus == "chat")
        .expect("a chat eval");
    assert_eq!(chat.source.blocks.len(), probe.instructions.len());
    assert!(!chat.before_cached);
    assert!(chat.source.tokens.iter().all(|&t| (1..=6).contains(&t)));
    let after = chat.nll_after.as_ref().unwrap();
    assert_ne!(after, &chat.nll_before, "training moved the reply NLL");
    assert!(
        first
            .curves
            .iter()
            .any(|c| c.corpus == "chat" && c.step == 4)
    );
    // A second run of the same model takes replies and before scores from the cache.
    let second = chat_run(dir.path(), cache.path());
    let chat2 = second
        .evals
        .iter()
        .find(|e| e.source.corpus == "chat")
        .unwrap();
    assert!(chat2.before_cached);
    assert_eq!(chat2.nll_before, chat.nll_before);

    // A model without a chat template skips the probe and says why.
    let plain = chat_run(&fixture("tiny-gpt-neo"), cache.path());
    assert!(plain.evals.iter().all(|e| e.source.corpus != "chat"));
    assert!(
        plain.notes.iter().any(|n| n.contains("no chat template")),
        "{:?}",
        plain.notes
    );
}

#[test]
fn nucleus_samples_are_seeded() {
    use ablate::eval::generate::{Chooser, continuation, greedy};
    let dev = candle_core::Device::Cpu;
    let m = ablate::models::load_frozen(fixture("tiny-gpt-neo").to_str().unwrap(), &dev).unwrap();
    let draw = |temperature, seed| {
        let c = Chooser {
            temperature,
            top_p: 0.9,
            seed,
        };
        continuation(m.lm.as_ref(), &m.tokenizer, "It was late", 12, 32, c, &dev).unwrap()
    };
    assert_eq!(draw(1.0, 0), draw(1.0, 0), "the same seed, the same sample");
    assert_ne!(draw(1.0, 0), draw(1.0, 1), "another seed, another sample");
    let g = greedy(m.lm.as_ref(), &m.tokenizer, "It was late", 12, 32, &dev).unwrap();
    assert_eq!(draw(0.0, 7), g, "temperature 0 is greedy whatever the seed");
}

/// `--against pytorch` without torch: a stand-in "python" that answers as torch_bench.py does
/// (and records the plan it was handed), so the plumbing is checked where CI has no torch.
#[test]
fn bench_against_pytorch_interleaves_and_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("python");
    let seen = dir.path().join("plans.txt");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\n# $1 = the script, $2 = the plan\ncat \"$2\" >> {seen}; echo >> {seen}\ns=$(sed 's/.*\"strategy\":\"\\([a-z_]*\\)\".*/\\1/' \"$2\")\necho '{{\"strategy\":\"'$s'\",\"params_total\":10,\"params_trainable\":5,\"trainable_pct\":50.0,\"tokens_per_s\":16.0,\"peak_mem_bytes\":1000000000,\"peak_mem_method\":\"peak RSS\",\"peak_rss_bytes\":1000000000,\"framework\":\"pytorch\",\"framework_version\":\"torch fake\",\"threads\":1,\"gemm\":\"torch fake BLAS\"}}'\n",
            seen = seen.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = crate::common::run_ok(
        Command::new(env!("CARGO_BIN_EXE_ablate"))
            .env("ABLATE_PYTHON", &fake)
            .args(["--threads", "1", "bench", "--model"])
            .arg(fixture("tiny-llama"))
            .args([
                "--strategies",
                "full,attn_embed_frozen,eval",
                "--batch",
                "2",
            ])
            .args(["--seq-len", "16", "--steps", "1", "--repeats", "2"])
            .args(["--against", "pytorch", "--results"])
            .arg(dir.path()),
    );
    let rows = read_table(dir.path(), "bench").unwrap().unwrap();
    let fw = strings_required(&rows, "framework").unwrap();
    let strategy = strings_required(&rows, "strategy").unwrap();
    let pairs: Vec<String> = fw
        .iter()
        .zip(&strategy)
        .map(|(f, s)| format!("{f} {s}"))
        .collect();
    assert_eq!(
        pairs,
        [
            "candle products_only",
            "candle full",
            "pytorch full",
            "candle attn_embed_frozen",
            "pytorch attn_embed_frozen",
            "candle products_forward",
            "candle eval",
            "pytorch eval",
            "pytorch full",
            "candle products_only",
            "candle full",
            "pytorch attn_embed_frozen",
            "candle attn_embed_frozen",
            "pytorch eval",
            "candle products_forward",
            "candle eval",
        ],
        "A B, then B A, one strategy at a time; each bound right before ablate's full or eval"
    );
    // Each framework's row names its own matrix backend.
    let gemm = strings_required(&rows, "gemm").unwrap();
    for (f, g) in fw.iter().zip(&gemm) {
        match f.as_str() {
            "pytorch" => assert_eq!(g, "torch fake BLAS"),
            _ => assert!(g.starts_with("candle-core"), "{g}"),
        }
    }
    // The bound is a rate, not a measurement of memory; its step time and tokens/s agree
    // (2 x 16 tokens per step). Which is faster is the benchmark's business, not a test's.
    let (tps, step) = (
        numbers(&rows, "tokens_per_s").unwrap(),
        numbers(&rows, "step_s").unwrap(),
    );
    for i in [0, 5, 9, 14] {
        let (t, s) = (tps[i].unwrap(), step[i].unwrap());
        assert!(t > 0.0 && (t * s - 32.0).abs() < 1e-6, "{t} {s}");
        assert_eq!(numbers(&rows, "peak_mem_bytes").unwrap()[i], None);
    }
    // The plan names the same trainable set ablate trains, with the settings and threads.
    let plans = std::fs::read_to_string(&seen).unwrap();
    let frozen: serde_json::Value = serde_json::from_str(
        plans
            .lines()
            .find(|l| l.contains("attn_embed_frozen"))
            .unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = frozen["trainable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"model.layers.0.mlp.up_proj.weight"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| !n.contains("self_attn") && !n.contains("embed"))
    );
    assert_eq!(frozen["threads"], 1);
    assert_eq!(frozen["device"], "cpu");
    assert_eq!(frozen["settings"]["lr"], 1e-4);
    // The printed memory ratio pairs each repeat: ablate's heap over the stand-in's 1 GB.
    let text = String::from_utf8_lossy(&out.stdout);
    let mem = numbers(&rows, "peak_mem_bytes").unwrap();
    let mut r: Vec<f64> = [mem[1], mem[10]].iter().map(|m| m.unwrap() / 1e9).collect();
    r.sort_by(f64::total_cmp);
    let line = text
        .lines()
        .find(|l| l.starts_with("full ") && l.contains('['))
        .unwrap_or_default();
    assert!(
        line.contains(&format!(
            "{:.2} [{:.2}, {:.2}]",
            (r[0] + r[1]) / 2.0,
            r[0],
            r[1]
        )),
        "{text}"
    );
    // Each measurement over its bound pairs the repeat's measurement with the bound timed just
    // before it; the stand-in's 16 tokens/s against eval's bound give the 1.5x line.
    let pct = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!("{:.1}% [{:.1}%, {:.1}%]", (v[0] + v[1]) / 2.0, v[0], v[1])
    };
    let share = |pairs: [(usize, usize); 2], k: f64| {
        pct(pairs
            .iter()
            .map(|&(f, b)| k * 100.0 * tps[f].unwrap() / tps[b].unwrap())
            .collect())
    };
    let lines: Vec<&str> = text.lines().collect();
    let after = |head: &str| {
        let i = lines.iter().position(|l| l.starts_with(head)).unwrap();
        lines[i + 1..].join("\n")
    };
    let full = after("full: ");
    let want = format!("of the bound: ablate {}", share([(1, 0), (10, 9)], 1.0));
    assert!(
        full.starts_with(&format!("  per repeat, {want}")),
        "{want} not in {text}"
    );
    let eval = after("eval: ");
    let want = format!("of the bound: ablate {}", share([(6, 5), (15, 14)], 1.0));
    assert!(eval.contains(&want), "{want} not in {text}");
    let want = format!(
        "1.5x PyTorch's eval would need {} of the bound",
        share([(7, 5), (13, 14)], 1.5)
    );
    assert!(eval.contains(&want), "{want} not in {text}");
}

/// `eval` in the strategy list measures forward-only evaluation of the frozen model: nothing
/// trains, and it holds less memory than a training step of the same shape.
#[test]
fn bench_measures_forward_only_eval() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::run_ok(
        Command::new(env!("CARGO_BIN_EXE_ablate"))
            .args(["--threads", "1", "bench", "--model"])
            .arg(fixture("tiny-llama"))
            .args([
                "--strategies",
                "eval,full",
                "--batch",
                "2",
                "--seq-len",
                "32",
            ])
            .args(["--steps", "3", "--repeats", "1", "--results"])
            .arg(dir.path()),
    );
    let rows = read_table(dir.path(), "bench").unwrap().unwrap();
    assert_eq!(
        strings_required(&rows, "strategy").unwrap(),
        ["eval", "full"]
    );
    let trainable = numbers(&rows, "params_trainable").unwrap();
    assert_eq!(trainable[0], Some(0.0));
    assert!(trainable[1].unwrap() > 0.0);
    assert!(numbers(&rows, "tokens_per_s").unwrap()[0].unwrap() > 0.0);
    // No gradients or optimizer state: eval's heap peak is below a training step's.
    let mem = numbers(&rows, "peak_mem_bytes").unwrap();
    assert!(mem[0].unwrap() > 0.0 && mem[0] < mem[1], "{mem:?}");
}

/// Each side's share of a products-only bound pairs it with the bound timed in its own repeat,
/// and the share 1.5x PyTorch's eval would need is 1.5 times PyTorch's, for eval only.
#[test]
fn bound_readings_pair_each_measurement_with_its_repeats_bound() {
    use ablate::bench::{BenchSettings, PRODUCTS, PRODUCTS_FORWARD, bound_readings, step_gflop};
    use ablate::results::BenchRow;
    let model = ablate::models::ModelSpec::parse(fixture("tiny-llama").to_str().unwrap()).unwrap();
    let settings = BenchSettings {
        batch_size: 2,
        seq_len: 8,
        steps: 1,
        repeats: 2,
        optimizer: ablate::config::train::OptimizerKind::Inplace,
        device: Default::default(),
        against_pytorch: true,
        products_bound: true,
    };
    let row = |strategy: &str, fw: &str, repeat: u64, tps: f64| BenchRow {
        strategy: strategy.into(),
        framework: fw.into(),
        repeat,
        tokens_per_s: tps,
        ..Default::default()
    };
    // The host halves its speed in repeat 2: paired shares stay put.
    let rows = [
        row(PRODUCTS, "candle", 1, 200.0),
        row("full", "candle", 1, 160.0),
        row("full", "pytorch", 1, 100.0),
        row(PRODUCTS, "candle", 2, 100.0),
        row("full", "candle", 2, 80.0),
        row("full", "pytorch", 2, 50.0),
        row(PRODUCTS_FORWARD, "candle", 1, 400.0),
        row("eval", "candle", 1, 300.0),
        row("eval", "pytorch", 1, 240.0),
    ];
    let r = bound_readings(&model, &settings, &rows).unwrap();
    assert_eq!(r.len(), 2);
    let (full, eval) = (&r[0], &r[1]);
    assert_eq!(full.name, "full");
    let share = |x: &Option<ablate::bench::Ratio>| x.as_ref().map(|x| (x.median, x.min, x.max));
    assert_eq!(share(&full.of_bound[0]), Some((0.8, 0.8, 0.8)));
    assert_eq!(share(&full.of_bound[1]), Some((0.5, 0.5, 0.5)));
    assert!(full.torch_x1_5_needs.is_none());
    assert_eq!(share(&eval.of_bound[1]), Some((0.6, 0.6, 0.6)));
    let needs = eval.torch_x1_5_needs.as_ref().unwrap();
    assert!((needs.median - 0.9).abs() < 1e-12);
    // GFLOP/s from the step's products: full's GFLOP times tokens/s over tokens per step.
    let step = step_gflop(&model, &settings).unwrap();
    assert!((full.gflops[2] - step * 150.0 / 16.0).abs() < 1e-9 * step.max(1.0));
}
