//! ablate against PyTorch + transformers + PEFT on the tiny grid: identical parameter counts,
//! eval perplexity before training within 0.5%, and the same loss curves (same weights, same
//! batches, same optimizer). Needs a Python with torch, transformers, peft and pyarrow
//! ($ABLATE_PYTHON, else python3); ignored unless asked for with `--ignored`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::fixture;
use ablate::results::frame::{numbers, strings_required};
use ablate::results::store::read_table;

/// The Python with the reference stack. These tests are `#[ignore]`d (CI does not install the
/// 5 GB of torch): run them with `ABLATE_PYTHON=.venv/bin/python cargo test --release -- --ignored`.
pub fn python() -> String {
    let py = std::env::var("ABLATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import torch, transformers, peft, pyarrow, gguf"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{py}` cannot import torch, transformers, peft, pyarrow and gguf (set ABLATE_PYTHON; see src/reference/requirements.txt)"
    );
    py
}

type Key = (String, String, i64);

/// (dataset, strategy, seed) -> (total, trainable, ppl_before, losses)
fn rows(dir: &Path) -> BTreeMap<Key, (f64, f64, f64, Vec<f64>)> {
    let runs = read_table(dir, "runs").unwrap().unwrap();
    let steps = read_table(dir, "steps").unwrap().unwrap();
    let (ids, ds, st) = (
        strings_required(&runs, "run_id").unwrap(),
        strings_required(&runs, "dataset").unwrap(),
        strings_required(&runs, "strategy").unwrap(),
    );
    let n = |c: &str| numbers(&runs, c).unwrap();
    let (seed, total, trainable, ppl) = (
        n("seed"),
        n("params_total"),
        n("params_trainable"),
        n("ppl_before"),
    );
    let s_ids = strings_required(&steps, "run_id").unwrap();
    let s_step = numbers(&steps, "step").unwrap();
    let s_loss = numbers(&steps, "loss").unwrap();
    (0..ids.len())
        .map(|i| {
            let mut c: Vec<(f64, f64)> = (0..s_ids.len())
                .filter(|&j| s_ids[j] == ids[i])
                .map(|j| (s_step[j].unwrap(), s_loss[j].unwrap()))
                .collect();
            c.sort_by(|a, b| a.0.total_cmp(&b.0));
            (
                (ds[i].clone(), st[i].clone(), seed[i].unwrap() as i64),
                (
                    total[i].unwrap(),
                    trainable[i].unwrap(),
                    ppl[i].unwrap(),
                    c.into_iter().map(|x| x.1).collect(),
                ),
            )
        })
        .collect()
}

fn ablate(args: &[&str], dir: &Path, py: Option<&str>) {
    ablate_grid("tiny-grid.toml", args, dir, py)
}

fn ablate_grid(grid: &str, args: &[&str], dir: &Path, py: Option<&str>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ablate"));
    cmd.arg("run")
        .arg(fixture(grid))
        .arg("--results")
        .arg(dir)
        .args(args);
    if let Some(p) = py {
        cmd.env("ABLATE_PYTHON", p);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs PyTorch + transformers + PEFT: ABLATE_PYTHON=.venv/bin/python cargo test --release -- --ignored"]
fn pytorch_reference_agrees_with_ablate() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    ablate(&[], dir.path(), None);
    let candle = rows(dir.path());
    let torch_dir = tempfile::tempdir().unwrap();
    ablate(&["--framework", "pytorch"], torch_dir.path(), Some(&py));
    let torch = rows(torch_dir.path());
    assert_eq!(candle.len(), 6);
    assert_eq!(
        candle.keys().collect::<Vec<_>>(),
        torch.keys().collect::<Vec<_>>()
    );
    for (k, (total, trainable, ppl, loss)) in &candle {
        let (t_total, t_trainable, t_ppl, t_loss) = &torch[k];
        assert_eq!(
            (total, trainable),
            (t_total, t_trainable),
            "{k:?}: parameter counts"
        );
        assert!(
            (ppl / t_ppl - 1.0).abs() < 0.005,
            "{k:?}: ppl before {ppl} vs {t_ppl}"
        );
        assert_eq!(loss.len(), t_loss.len());
        // LoRA's A starts from each framework's own RNG; everything else is the same computation.
        let tol = if k.1 == "lora" { 0.03 } else { 1e-4 };
        for (a, b) in loss.iter().zip(t_loss).take(20) {
            assert!((a / b - 1.0).abs() < tol, "{k:?}: loss {a} vs {b}");
        }
    }
    // Both frameworks' rows side by side in one report.
    let both = tempfile::tempdir().unwrap();
    for d in [dir.path(), torch_dir.path()] {
        for t in ["runs", "steps", "evals"] {
            std::fs::create_dir_all(both.path().join(t)).unwrap();
            for e in std::fs::read_dir(d.join(t)).unwrap() {
                let p = e.unwrap().path();
                std::fs::copy(&p, both.path().join(t).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let out = tempfile::tempdir().unwrap();
    ablate::report::build(both.path(), out.path()).unwrap();
    let md = std::fs::read_to_string(out.path().join("REPORT.md")).unwrap();
    assert!(
        md.contains("## ablate against pytorch")
            && out.path().join("frameworks_pytorch.png").is_file()
    );
}

/// Gemma 3 (tiny fixture, BOS-led blocks) through every strategy: the same parameter counts, the
/// same perplexity before training and, but for LoRA's own random A, the same losses to 1e-4.
#[test]
#[ignore = "needs PyTorch + transformers + PEFT: ABLATE_PYTHON=.venv/bin/python cargo test --release -- --ignored"]
fn pytorch_reference_agrees_with_ablate_on_gemma3() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    ablate_grid("tiny-gemma3-grid.toml", &[], dir.path(), None);
    let candle = rows(dir.path());
    let torch_dir = tempfile::tempdir().unwrap();
    ablate_grid(
        "tiny-gemma3-grid.toml",
        &["--framework", "pytorch"],
        torch_dir.path(),
        Some(&py),
    );
    let torch = rows(torch_dir.path());
    assert_eq!(candle.len(), 5);
    assert_eq!(
        candle.keys().collect::<Vec<_>>(),
        torch.keys().collect::<Vec<_>>()
    );
    for (k, (total, trainable, ppl, loss)) in &candle {
        let (t_total, t_trainable, t_ppl, t_loss) = &torch[k];
        assert_eq!(
            (total, trainable),
            (t_total, t_trainable),
            "{k:?}: parameter counts"
        );
        assert!(
            (ppl / t_ppl - 1.0).abs() < 1e-3,
            "{k:?}: ppl before {ppl} vs {t_ppl}"
        );
        assert_eq!(loss.len(), t_loss.len());
        let tol = if k.1 == "lora" { 0.03 } else { 1e-4 };
        for (a, b) in loss.iter().zip(t_loss) {
            assert!((a / b - 1.0).abs() < tol, "{k:?}: loss {a} vs {b}");
        }
        eprintln!("{k:?}: losses {loss:?} vs {t_loss:?}");
    }
}
