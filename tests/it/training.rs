//! Strategies really freeze, LoRA starts at the base model and merges exactly, the loop is
//! deterministic and stops cleanly on NaN.

use crate::common::{err_text, fixture, max_abs_diff};
use ablate::config::train::TrainSettings;
use ablate::eval::next_token_loss;
use ablate::models::{Model, ModelSpec};
use ablate::strategy::{PRESETS, Strategy, StrategySpec};
use ablate::train::{Accounting, Outcome, build_for_strategy, plan_accounting, train};
use candle_core::{DType, Device, Tensor};

const MODELS: [&str; 2] = ["tiny-llama", "tiny-gpt-neo"];

fn load(model: &str, strategy: &str) -> Model {
    let spec = ModelSpec::parse(fixture(model).to_str().unwrap()).unwrap();
    load_with(&spec, &Strategy::preset(strategy).unwrap()).unwrap()
}

fn load_with(spec: &ModelSpec, strategy: &Strategy) -> anyhow::Result<Model> {
    build_for_strategy(&spec.read(&Device::Cpu)?, strategy, 0, &Device::Cpu)
}

fn ids() -> Tensor {
    let r =
        candle_core::safetensors::load(fixture("tiny-llama/reference.safetensors"), &Device::Cpu)
            .unwrap();
    r["input_ids"].to_dtype(DType::U32).unwrap()
}

#[test]
fn gradients_exist_exactly_for_trainable_parameters() {
    for model in MODELS {
        for strategy in PRESETS {
            let m = load(model, strategy);
            let ids = ids();
            let loss = next_token_loss(&m.lm.forward(&ids).unwrap(), &ids).unwrap();
            let grads = loss.backward().unwrap();
            let mut trained = 0;
            for p in m.lm.params() {
                let g = grads.get(p.tensor());
                if p.is_trainable() {
                    trained += 1;
                    let g = g.unwrap_or_else(|| {
                        panic!("{model}/{strategy}: no gradient for {}", p.name())
                    });
                    let mag = g
                        .abs()
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .to_scalar::<f32>()
                        .unwrap();
                    // LoRA's A gets zero gradient at step 0 because B = 0; B's must be non-zero.
                    if !p.name().contains("lora_A") {
                        assert!(
                            mag > 0.0,
                            "{model}/{strategy}: zero gradient for {}",
                            p.name()
                        );
                    }
                } else {
                    assert!(
                        g.is_none(),
                        "{model}/{strategy}: frozen {} has a gradient",
                        p.name()
                    );
                }
            }
            assert!(trained > 0);
            // Nothing weight-sized hides in the store under another id: every entry is a trainable var.
            let trainable_ids: Vec<_> =
                m.lm.params()
                    .iter()
                    .filter(|p| p.is_trainable())
                    .map(|p| p.tensor().id())
                    .collect();
            for id in grads.get_ids() {
                assert!(
                    trainable_ids.contains(id),
                    "{model}/{strategy}: gradient store holds a non-parameter tensor"
                );
            }
        }
    }
}

#[test]
fn accounting_matches_transformers_and_peft() {
    // From transformers / PEFT on the same fixtures (see make_reference.py's counts).
    let want = [
        ("tiny-llama", "full", 39_072, 39_072),
        ("tiny-llama", "attn_embed_frozen", 12_448, 39_072),
        ("tiny-llama", "lora", 1_792, 40_864),
        ("tiny-gpt-neo", "full", 29_248, 29_248),
        ("tiny-gpt-neo", "attn_embed_frozen", 8_704, 29_248),
        ("tiny-gpt-neo", "lora", 2_048, 31_296),
    ];
    for (model, strategy, trainable, total) in want {
        let m = load(model, strategy);
        let a = Accounting::from_model(m.lm.as_ref()).unwrap();
        assert_eq!(
            (a.trainable, a.total),
            (trainable, total),
            "{model}/{strategy}"
        );
        // The config-only count agrees with the loaded model's.
        let spec = ModelSpec::parse(fixture(model).to_str().unwrap()).unwrap();
        let planned =
            plan_accounting(&spec.arch().unwrap(), &Strategy::preset(strategy).unwrap()).unwrap();
        assert_eq!(planned, a, "{model}/{strategy}");
    }
    let m = load("tiny-llama", "lora");
    assert_eq!(
        Accounting::from_model(m.lm.as_ref()).unwrap().peft_line(),
        "trainable params: 1,792 || all params: 40,864 || trainable%: 4.3853"
    );
}

#[test]
fn lora_starts_at_the_base_model_and_merges_exactly() {
    let ids = ids();
    let base = load("tiny-llama", "full").lm.forward(&ids).unwrap();
    let m = load("tiny-llama", "lora");
    let adapted = m.lm.forward(&ids).unwrap();
    let d = max_abs_diff(&adapted, &base);
    assert_eq!(d, 0.0, "step-0 LoRA logits differ from the base model");

    // Give B non-zero values, then compare a merged layer with the adapted one.
    let m = load("tiny-gpt-neo", "lora");
    let x = Tensor::randn(0f32, 1.0, (2, 5, 32), &Device::Cpu).unwrap();
    let mut checked = 0;
    for p in m.lm.params() {
        if p.name().ends_with("lora_B.weight") {
            let v = p.var().unwrap();
            v.set(&Tensor::randn(0f32, 0.5, v.shape(), &Device::Cpu).unwrap())
                .unwrap();
        }
    }
    for l in ablate_linears(&m) {
        let merged = l.merged().unwrap();
        let a = l.forward(&x).unwrap();
        let b = merged.forward(&x).unwrap();
        let d = max_abs_diff(&a, &b);
        assert!(d <= 1e-5, "merged differs by {d}");
        checked += 1;
    }
    assert_eq!(checked, 4, "two layers x (q, v)");
}

/// The adapted linears of a model built with the `lora` preset, rebuilt from its parameters with
/// that preset's own scale (alpha / rank).
fn ablate_linears(m: &Model) -> Vec<ablate::nn::Linear> {
    use ablate::nn::{Linear, Lora, Param};
    let lora = Strategy::preset("lora").unwrap().lora().cloned().unwrap();
    let scale = lora.alpha / lora.rank as f64;
    let params = m.lm.params();
    let find = |n: &str| params.iter().find(|p| p.name() == n).map(|p| (*p).clone());
    params
        .iter()
        .filter_map(|p| p.name().strip_suffix(".lora_A.weight").map(String::from))
        .map(|prefix| {
            let w: Param = find(&format!("{prefix}.weight")).unwrap();
            Linear::new(w, find(&format!("{prefix}.bias"))).with_lora(Lora {
                a: find(&format!("{prefix}.lora_A.weight")).unwrap(),
                b: find(&format!("{prefix}.lora_B.weight")).unwrap(),
                scale,
            })
        })
        .collect()
}

fn blocks() -> Vec<Vec<u32>> {
    let ids: Vec<Vec<u32>> = ids().to_vec2().unwrap();
    ids.into_iter()
        .cycle()
        .take(8)
        .enumerate()
        .map(|(i, mut b)| {
            b.rotate_left(i);
            b
        })
        .collect()
}

#[test]
fn fixed_seed_gives_identical_loss_curve_and_loss_falls() {
    let s = TrainSettings {
        steps: 12,
        batch_size: 2,
        lr: 3e-3,
        warmup_steps: 2,
        ..Default::default()
    };
    let curve = |strategy| {
        let m = load("tiny-gpt-neo", strategy);
        let r = train(m.lm.as_ref(), blocks(), &s, &Device::Cpu, |_| {}).unwrap();
        assert_eq!(r.outcome, Outcome::Completed);
        r.steps.iter().map(|x| x.loss).collect::<Vec<_>>()
    };
    for strategy in ["full", "attn_embed_frozen", "lora"] {
        let (a, b) = (curve(strategy), curve(strategy));
        assert_eq!(a, b, "{strategy}: loss curve not reproducible");
        assert!(
            a.last().unwrap() < a.first().unwrap(),
            "{strategy}: loss did not fall: {a:?}"
        );
    }
}

#[test]
fn nan_loss_stops_the_run_with_a_status() {
    let m = load("tiny-llama", "full");
    let p =
        m.lm.params()
            .into_iter()
            .find(|p| p.name() == "model.norm.weight")
            .unwrap();
    let v = p.var().unwrap();
    v.set(&Tensor::full(f32::NAN, v.shape(), &Device::Cpu).unwrap())
        .unwrap();
    let s = TrainSettings {
        steps: 3,
        batch_size: 2,
        ..Default::default()
    };
    let r = train(m.lm.as_ref(), blocks(), &s, &Device::Cpu, |_| {}).unwrap();
    assert!(
        matches!(r.outcome, Outcome::Diverged { step: 0, .. }),
        "{:?}",
        r.outcome
    );
}

#[test]
fn bad_strategies_are_named_errors() {
    let spec = ModelSpec::parse(fixture("tiny-llama").to_str().unwrap()).unwrap();
    let try_load = |name: &str, s: StrategySpec| match Strategy::new(name, s) {
        Err(e) => err_text(e),
        Ok(st) => match load_with(&spec, &st) {
            Ok(_) => panic!("{name} should fail"),
            Err(e) => err_text(e),
        },
    };
    let msg = try_load(
        "typo",
        StrategySpec {
            train: vec!["\\.mpl\\.".into()],
            ..Default::default()
        },
    );
    assert!(
        msg.contains("`typo`") && msg.contains("\\.mpl\\.") && msg.contains("matches no parameter"),
        "{msg}"
    );
    let msg = try_load(
        "bad_regex",
        StrategySpec {
            train: vec!["(".into()],
            ..Default::default()
        },
    );
    assert!(
        msg.contains("`bad_regex`") && msg.contains("not a valid regex"),
        "{msg}"
    );
    let msg = try_load("nothing", StrategySpec::default());
    assert!(
        msg.contains("`nothing`") && msg.contains("leaves nothing trainable"),
        "{msg}"
    );
    let msg = try_load(
        "everything_frozen",
        StrategySpec {
            groups: vec![ablate::strategy::Group::Mlp],
            freeze: vec![".".into()],
            ..Default::default()
        },
    );
    assert!(msg.contains("leaves nothing trainable"), "{msg}");
}

#[test]
fn custom_strategies_select_by_rule_and_layer() {
    use ablate::strategy::{Group, LayerRange};
    let spec = ModelSpec::parse(fixture("tiny-llama").to_str().unwrap()).unwrap();
    let last_mlp = Strategy::new(
        "last_mlp",
        StrategySpec {
            groups: vec![Group::Mlp],
            layers: Some(LayerRange { from: -1, to: None }),
            ..Default::default()
        },
    )
    .unwrap();
    let m = load_with(&spec, &last_mlp).unwrap();
    let trained: Vec<String> =
        m.lm.params()
            .iter()
            .filter(|p| p.is_trainable())
            .map(|p| p.name().to_string())
            .collect();
    assert_eq!(
        trained,
        [
            "model.layers.1.mlp.gate_proj.weight",
            "model.layers.1.mlp.up_proj.weight",
            "model.layers.1.mlp.down_proj.weight"
        ]
    );
    let norms = Strategy::new(
        "norms",
        StrategySpec {
            groups: vec![Group::Norms],
            ..Default::default()
        },
    )
    .unwrap();
    let m = load_with(&spec, &norms).unwrap();
    let n: usize =
        m.lm.params()
            .iter()
            .filter(|p| p.is_trainable())
            .map(|p| p.numel())
            .sum();
    assert_eq!(n, 5 * 32, "2 layers x 2 norms + final norm");
}

#[test]
fn inplace_adamw_equals_candle_adamw() {
    use ablate::config::train::OptimizerKind;
    let run = |kind| {
        let s = TrainSettings {
            steps: 5,
            batch_size: 2,
            lr: 1e-2,
            warmup_steps: 0,
            grad_clip: 0.5,
            optimizer: kind,
            ..Default::default()
        };
        let m = load("tiny-llama", "attn_embed_frozen");
        let r = train(m.lm.as_ref(), blocks(), &s, &Device::Cpu, |_| {}).unwrap();
        let param = |name: &str| {
            let params = m.lm.params();
            params
                .iter()
                .find(|p| p.name() == name)
                .unwrap()
                .tensor()
                .clone()
        };
        let (w, n) = (
            param("model.layers.1.mlp.up_proj.weight"),
            param("model.norm.weight"),
        );
        (r.steps.iter().map(|x| x.loss).collect::<Vec<_>>(), w, n)
    };
    let (la, wa, na) = run(OptimizerKind::Inplace);
    let (lb, wb, nb) = run(OptimizerKind::Candle);
    for (a, b) in la.iter().zip(&lb) {
        assert!((a - b).abs() < 1e-4, "loss curves differ: {la:?} vs {lb:?}");
    }
    for (a, b) in [(wa, wb), (na, nb)] {
        let d = max_abs_diff(&a, &b);
        assert!(d < 1e-5, "weights differ by {d}");
    }
}

#[test]
fn fused_cross_entropy_equals_composed() {
    use ablate::eval::perplexity::next_token_loss_composed;
    let ids = ids();
    let logits = candle_core::Var::from_tensor(
        &Tensor::randn(0f32, 3.0, (2, 12, 320), &Device::Cpu).unwrap(),
    )
    .unwrap();
    let a = next_token_loss(logits.as_tensor(), &ids).unwrap();
    let b = next_token_loss_composed(logits.as_tensor(), &ids).unwrap();
    let (va, vb) = (a.to_scalar::<f32>().unwrap(), b.to_scalar::<f32>().unwrap());
    assert!((va - vb).abs() < 1e-5, "{va} vs {vb}");
    let ga = a
        .backward()
        .unwrap()
        .get(logits.as_tensor())
        .unwrap()
        .clone();
    let gb = b
        .backward()
        .unwrap()
        .get(logits.as_tensor())
        .unwrap()
        .clone();
    let d = max_abs_diff(&ga, &gb);
    assert!(d < 1e-6, "gradients differ by {d}");
}

#[test]
fn params_from_config_alone() {
    // A folder with nothing but config.json: enough to plan a grid.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("tiny-gpt-neo/config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ablate"))
        .args([
            "params",
            "--model",
            dir.path().to_str().unwrap(),
            "--strategy",
            "attn_embed_frozen",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("trainable params: 8,704 || all params: 29,248 || trainable%: 29.7593"),
        "{text}"
    );
    assert!(text.contains("attention") && text.contains("mlp"), "{text}");
}

/// The code a CUDA device runs (composed norms, softmax, RoPE and cross-entropy with their
/// backward in tensor ops, candle-nn's AdamW), forced on the CPU by `ABLATE_PORTABLE_OPS=1`:
/// it trains both architectures like the fused CPU path, step for step.
#[test]
fn the_portable_path_trains_like_the_fused_one() {
    let losses = |model: &str, strategy: &str, portable: bool| -> Vec<f64> {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ablate"));
        cmd.args(["train", "--model"])
            .arg(fixture(model))
            .args([
                "--data",
                "alice",
                "--seq-len",
                "16",
                "--steps",
                "6",
                "--batch",
                "2",
            ])
            .args(["--lr", "3e-3", "--eval-blocks", "2", "--strategy", strategy])
            .env("ABLATE_PORTABLE_OPS", if portable { "1" } else { "0" });
        let out = crate::common::run_ok(&mut cmd);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("step "))
            .map(|l| l.split_whitespace().nth(3).unwrap().parse().unwrap())
            .collect()
    };
    for model in MODELS {
        for strategy in ["full", "attn_embed_frozen"] {
            let (fused, portable) = (
                losses(model, strategy, false),
                losses(model, strategy, true),
            );
            assert_eq!(fused.len(), 6, "{model}/{strategy}");
            assert_eq!(fused.len(), portable.len());
            for (a, b) in fused.iter().zip(&portable) {
                assert!(
                    ((a - b) / a).abs() < 1e-4,
                    "{model}/{strategy}: fused {fused:?} vs portable {portable:?}"
                );
            }
        }
    }
}

/// A CUDA device in a CPU-only build is refused with what to do; an unknown device is named.
#[test]
fn devices_are_checked() {
    let run = |device: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ablate"))
            .args(["train", "--model"])
            .arg(fixture("tiny-gpt-neo"))
            .args(["--data", "alice", "--seq-len", "16", "--steps", "2"])
            .args(["--device", device])
            .output()
            .unwrap()
    };
    let out = run("tpu");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("unknown device `tpu`"),
        "{err}"
    );
    if !cfg!(feature = "cuda") {
        let out = run("cuda:1");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("built without CUDA"),
            "{err}"
        );
    }
}

/// `random:SPEC` builds SPEC's architecture with seeded random weights: the same parameter
/// names and counts as the checkpoint, identical in two builds, different from the checkpoint.
#[test]
fn random_models_take_the_shapes_of_their_config() {
    use ablate::models::ParamPlan;
    for name in ["tiny-llama", "tiny-gpt-neo"] {
        let spec = format!("random:{}", fixture(name).display());
        let random = ModelSpec::parse(&spec).unwrap();
        let real = ModelSpec::parse(fixture(name).to_str().unwrap()).unwrap();
        let build = |m: &ModelSpec| {
            m.read(&Device::Cpu)
                .unwrap()
                .build(&Device::Cpu, ParamPlan::frozen())
                .unwrap()
        };
        let (a, b, r) = (build(&random), build(&random), build(&real));
        let shapes = |m: &Model| -> Vec<(String, Vec<usize>)> {
            m.lm.params()
                .iter()
                .map(|p| (p.name().to_string(), p.tensor().dims().to_vec()))
                .collect()
        };
        assert_eq!(shapes(&a), shapes(&r), "{name}");
        for ((pa, pb), pr) in a.lm.params().iter().zip(b.lm.params()).zip(r.lm.params()) {
            let (ta, tb, tr) = (pa.tensor(), pb.tensor(), pr.tensor());
            assert_eq!(max_abs_diff(ta, tb), 0.0, "{} is seeded", pa.name());
            if ta.rank() == 2 {
                let std = ta
                    .sqr()
                    .unwrap()
                    .mean_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    .sqrt();
                assert!((std - 0.02).abs() < 0.002, "{}: std {std}", pa.name());
                assert!(max_abs_diff(ta, tr) > 0.0, "{}", pa.name());
            }
        }
        let ids = Tensor::new(&[[1u32, 2, 3, 4]], &Device::Cpu).unwrap();
        let logits = a.lm.forward(&ids).unwrap();
        assert_eq!(logits.dims()[2], a.arch().vocab_size());
        assert_ne!(random.sha256().unwrap(), real.sha256().unwrap());
        let nested = ModelSpec::parse(&format!("random:{spec}")).unwrap_err();
        assert!(nested.to_string().contains("random of random"), "{nested}");
    }
    // No tokenizer: training or evaluating on text is refused with the reason.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ablate"))
        .args(["train", "--data", "alice", "--steps", "3", "--model"])
        .arg(format!("random:{}", fixture("tiny-llama").display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("has no tokenizer"),
        "{err}"
    );
}

/// The device check on the CPU against itself: the same code on both sides, so every
/// difference is exactly zero and it passes; the JSON carries every figure.
#[test]
fn device_check_compares_every_gradient() {
    let out = crate::common::run_ok(
        std::process::Command::new(env!("CARGO_BIN_EXE_ablate"))
            .args(["device-check", "--device", "cpu", "--model"])
            .arg(fixture("tiny-llama"))
            .args(["--strategies", "full,lora", "--steps", "2"]),
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (c, s) in lines.iter().zip(["full", "lora"]) {
        assert_eq!(c["strategy"], s);
        assert_eq!(c["ok"], true);
        assert_eq!(c["logits_max_abs_diff"], 0.0);
        assert_eq!(c["grad_max_rel_diff"], 0.0);
        assert!(c["logits_max"].as_f64().unwrap() > 0.0);
        assert_eq!(c["train_loss_cpu"].as_array().unwrap().len(), 2);
    }
    // Every trainable tensor of full fine-tuning is compared; LoRA compares its adapters.
    let full = lines[0]["grads_compared"].as_u64().unwrap();
    let lora = lines[1]["grads_compared"].as_u64().unwrap();
    assert!(full > lora && lora > 0, "{full} {lora}");
}
