//! The fused ops agree with their textbook forms in value and gradient, and frozen weights
//! get no gradient at all.

use crate::common::max_abs_diff;
use ablate::nn::attention::{AttentionSpec, attention, attention_composed};
use ablate::nn::counters::{backward_matmuls, fused_adapters, fused_attentions, fused_projections};
use ablate::nn::glu::{GateActivation, glu, glu_composed, glu_then};
use ablate::nn::norm::{layer_norm_composed, layer_norm_fused, rms_norm_composed, rms_norm_fused};
use ablate::nn::rope::{RotaryTables, rope_composed, rope_fused};
use ablate::nn::softmax::{causal_softmax, causal_softmax_composed};
use ablate::nn::{Linear, Lora, Param};
use candle_core::{DType, Device, Tensor, Var};

fn randn(shape: &[usize], seed: u64) -> Tensor {
    // Deterministic pseudo-random values without depending on candle's RNG.
    let n: usize = shape.iter().product();
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// Value and gradients (w.r.t. each var) of sum(f(vars) * r).
fn value_and_grads(
    vars: &[Var],
    f: &dyn Fn(&[Tensor]) -> Tensor,
    r_seed: u64,
) -> (Tensor, Vec<Tensor>) {
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts);
    let r = randn(y.dims(), r_seed);
    let loss = (&y * &r).unwrap().sum_all().unwrap();
    let g = loss.backward().unwrap();
    let grads = vars
        .iter()
        .map(|v| g.get(v.as_tensor()).unwrap().clone())
        .collect();
    (y.detach(), grads)
}

fn assert_same(
    name: &str,
    fused: &dyn Fn(&[Tensor]) -> Tensor,
    composed: &dyn Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
) {
    let mk = || {
        inputs
            .iter()
            .map(|t| Var::from_tensor(t).unwrap())
            .collect::<Vec<_>>()
    };
    let (y1, g1) = value_and_grads(&mk(), fused, 99);
    let (y2, g2) = value_and_grads(&mk(), composed, 99);
    let d = max_abs_diff(&y1, &y2);
    assert!(d < 1e-5, "{name}: forward differs by {d}");
    for (i, (a, b)) in g1.iter().zip(&g2).enumerate() {
        let d = max_abs_diff(a, b);
        assert!(d < 1e-4, "{name}: gradient of input {i} differs by {d}");
        assert!(
            a.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                > 0.0
        );
    }
}

#[test]
fn rms_norm_fused_equals_composed() {
    assert_same(
        "rms_norm",
        &|t| rms_norm_fused(&t[0], &t[1], 1e-5).unwrap(),
        &|t| rms_norm_composed(&t[0], &t[1], 1e-5).unwrap(),
        &[randn(&[2, 5, 16], 1), randn(&[16], 2)],
    );
}

#[test]
fn layer_norm_fused_equals_composed() {
    assert_same(
        "layer_norm",
        &|t| layer_norm_fused(&t[0], &t[1], &t[2], 1e-5).unwrap(),
        &|t| layer_norm_composed(&t[0], &t[1], &t[2], 1e-5).unwrap(),
        &[randn(&[2, 5, 16], 3), randn(&[16], 4), randn(&[16], 5)],
    );
}

#[test]
fn rope_fused_equals_composed() {
    let tables = ablate::nn::rope::RotaryTables::new(8, 32, 10_000.0, &Device::Cpu).unwrap();
    let (cos, sin) = tables.tables(6).unwrap();
    // Position 1, frequency 0 is a rotation by exactly 1 radian.
    let c: Vec<Vec<f32>> = cos.to_vec2().unwrap();
    assert!((c[1][0] - 1f32.cos()).abs() < 1e-6);
    let x = randn(&[2, 3, 6, 8], 6);
    assert_same(
        "rope",
        &|t| rope_fused(&t[0], &cos, &sin).unwrap(),
        &|t| rope_composed(&t[0], &cos, &sin).unwrap(),
        std::slice::from_ref(&x),
    );
    let d = max_abs_diff(
        &tables.apply(&x).unwrap(),
        &rope_composed(&x, &cos, &sin).unwrap(),
    );
    assert!(d < 1e-5, "tables differ by {d}");
}

#[test]
fn causal_softmax_fused_equals_composed() {
    for window in [None, Some(3)] {
        assert_same(
            "causal_softmax",
            &|t| causal_softmax(&t[0], window).unwrap(),
            &|t| causal_softmax_composed(&t[0], window).unwrap(),
            &[randn(&[2, 2, 7, 7], 7)],
        );
    }
}

#[test]
fn local_window_masks_old_keys() {
    let p = causal_softmax(
        &Tensor::zeros((1, 1, 6, 6), DType::F32, &Device::Cpu).unwrap(),
        Some(2),
    )
    .unwrap();
    let rows: Vec<Vec<f32>> = p.squeeze(0).unwrap().squeeze(0).unwrap().to_vec2().unwrap();
    assert_eq!(rows[0], vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(rows[5], vec![0.0, 0.0, 0.0, 0.0, 0.5, 0.5]);
}

#[test]
fn trainable_linear_equals_plain_matmul() {
    // Param::trainable on a Var's tensor shares that Var, so the gradients land on the inputs.
    assert_same(
        "linear",
        &|t| {
            let w = Param::trainable("w", t[1].clone()).unwrap();
            let b = Param::trainable("b", t[2].clone()).unwrap();
            Linear::new(w, Some(b)).forward(&t[0]).unwrap()
        },
        &|t| {
            t[0].broadcast_matmul(&t[1].t().unwrap())
                .unwrap()
                .broadcast_add(&t[2])
                .unwrap()
        },
        &[randn(&[2, 3, 8], 8), randn(&[5, 8], 9), randn(&[5], 10)],
    );
}

/// A frozen linear with a LoRA adapter runs as one op that agrees with the five composed
/// nodes in value and in the gradients of x, A and B; 210 rows cover several row blocks and a
/// short last one. A base that trains takes the composed path.
#[test]
fn lora_fused_equals_composed() {
    let (w, bias) = (randn(&[40, 24], 21), randn(&[40], 22));
    let layer = |t: &[Tensor], trainable_base: bool| {
        Linear::new(
            Param::new("w", w.clone(), trainable_base).unwrap(),
            Some(Param::frozen("b", bias.clone())),
        )
        .with_lora(Lora {
            a: Param::trainable("a", t[1].clone()).unwrap(),
            b: Param::trainable("b", t[2].clone()).unwrap(),
            scale: 2.0,
        })
    };
    let before = fused_adapters();
    assert_same(
        "lora",
        &|t| layer(t, false).forward(&t[0]).unwrap(),
        &|t| layer(t, false).forward_composed(&t[0]).unwrap(),
        &[
            randn(&[3, 70, 24], 23),
            randn(&[4, 24], 24),
            randn(&[40, 4], 25),
        ],
    );
    assert_eq!(
        fused_adapters() - before,
        1,
        "the fused adapter was not taken"
    );
    let x = randn(&[2, 24], 26);
    layer(&[x.clone(), randn(&[4, 24], 24), randn(&[40, 4], 25)], true)
        .forward(&x)
        .unwrap();
    assert_eq!(fused_adapters() - before, 1, "a trainable base was fused");
}

/// Without a bias and with a constant input (layer 0 under frozen embeddings), the fused
/// adapter gives A and B the composed form's gradients and x none.
#[test]
fn lora_fused_on_a_constant_input_without_bias() {
    let (w, x) = (randn(&[40, 24], 31), randn(&[3, 70, 24], 32));
    let run = |fused: bool| {
        let (a, b) = (
            Var::from_tensor(&randn(&[4, 24], 33)).unwrap(),
            Var::from_tensor(&randn(&[40, 4], 34)).unwrap(),
        );
        let layer = Linear::new(Param::frozen("w", w.clone()), None).with_lora(Lora {
            a: Param::trainable("a", a.as_tensor().clone()).unwrap(),
            b: Param::trainable("b", b.as_tensor().clone()).unwrap(),
            scale: 0.5,
        });
        let y = if fused {
            layer.forward(&x)
        } else {
            layer.forward_composed(&x)
        }
        .unwrap();
        let r = randn(y.dims(), 35);
        let g = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
        assert!(g.get(&x).is_none(), "a constant input got a gradient");
        let grad = |v: &Var| g.get(v.as_tensor()).unwrap().clone();
        (y, grad(&a), grad(&b))
    };
    let before = fused_adapters();
    let (fused, composed) = (run(true), run(false));
    assert_eq!(
        fused_adapters() - before,
        1,
        "the fused adapter was not taken"
    );
    assert!(max_abs_diff(&fused.0, &composed.0) < 1e-5);
    assert!(max_abs_diff(&fused.1, &composed.1) < 1e-4);
    assert!(max_abs_diff(&fused.2, &composed.2) < 1e-4);
}

#[test]
fn frozen_linear_computes_no_weight_gradient() {
    let x = Var::from_tensor(&randn(&[2, 3, 8], 11)).unwrap();
    let w = randn(&[5, 8], 12);
    let b = randn(&[5], 13);
    let frozen = Linear::new(
        Param::frozen("w", w.clone()),
        Some(Param::frozen("b", b.clone())),
    );
    let y = frozen.forward(x.as_tensor()).unwrap();
    let want = x
        .as_tensor()
        .broadcast_matmul(&w.t().unwrap())
        .unwrap()
        .broadcast_add(&b)
        .unwrap();
    assert!(max_abs_diff(&y, &want) < 1e-5);

    let (dw0, dx0) = backward_matmuls();
    let grads = y.sum_all().unwrap().backward().unwrap();
    let (dw1, dx1) = backward_matmuls();
    assert_eq!(dw1 - dw0, 0, "a frozen linear ran a weight-gradient matmul");
    assert!(dx1 > dx0, "the input gradient was not computed");
    assert!(grads.get(&w).is_none() && grads.get(&b).is_none());
    assert!(grads.get(x.as_tensor()).is_some());
}

const ACTIVATIONS: [GateActivation; 2] = [GateActivation::Silu, GateActivation::GeluTanh];

#[test]
fn glu_fused_equals_composed() {
    // 45,000 elements: several parallel chunks, the last one partial.
    let (g, u) = (randn(&[3, 5, 3000], 11), randn(&[3, 5, 3000], 12));
    let g = (g * 4.0).unwrap(); // the activation's curved part and both tails
    for act in ACTIVATIONS {
        assert_same(
            &format!("{act:?}"),
            &|t| glu(&t[0], &t[1], act).unwrap(),
            &|t| glu_composed(&t[0], &t[1], act).unwrap(),
            &[g.clone(), u.clone()],
        );
    }
}

/// GeGLU's gate gradient is GELU's exact derivative (PyTorch's form), checked against a central
/// difference in f64 at points across the curve.
#[test]
fn geglu_gate_gradient_matches_a_finite_difference() {
    let gelu =
        |x: f64| 0.5 * x * (1.0 + (0.797_884_560_802_865_4 * (x + 0.044_715 * x * x * x)).tanh());
    let xs: Vec<f32> = (-40..=40).map(|i| i as f32 * 0.125).collect();
    let n = xs.len();
    let g = Var::from_tensor(&Tensor::from_vec(xs.clone(), n, &Device::Cpu).unwrap()).unwrap();
    let u = Tensor::ones(n, DType::F32, &Device::Cpu).unwrap();
    let y = glu(g.as_tensor(), &u, GateActivation::GeluTanh).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    let dg: Vec<f32> = grads.get(g.as_tensor()).unwrap().to_vec1().unwrap();
    for (x, d) in xs.iter().zip(dg) {
        let (x, h) = (f64::from(*x), 1e-4);
        let want = (gelu(x + h) - gelu(x - h)) / (2.0 * h);
        assert!(
            (f64::from(d) - want).abs() < 2e-6,
            "at {x}: {d} against {want}"
        );
    }
}

/// A frozen down projection applied inside the GLU op (so that the GLU output is not kept for
/// backward) agrees with the GLU followed by the projection, in value and in the gradients of
/// gate and up; a projection that trains, or has a bias, runs as a layer of its own.
#[test]
fn glu_into_a_frozen_down_projection_equals_the_pair() {
    let w = randn(&[7, 64], 13);
    let inputs = [
        (randn(&[3, 5, 64], 14) * 4.0).unwrap(),
        randn(&[3, 5, 64], 15),
    ];
    let frozen = Linear::new(Param::frozen("w", w.clone()), None);
    let trainable = Linear::new(Param::trainable("w", w.clone()).unwrap(), None);
    let biased = Linear::new(
        Param::frozen("w", w.clone()),
        Some(Param::frozen(
            "b",
            Tensor::zeros(7, DType::F32, &Device::Cpu).unwrap(),
        )),
    );
    for act in ACTIVATIONS {
        let pair = |t: &[Tensor]| {
            glu_composed(&t[0], &t[1], act)
                .unwrap()
                .broadcast_matmul(&w.t().unwrap())
                .unwrap()
        };
        for (name, down, fused) in [
            ("frozen", &frozen, true),
            ("trainable", &trainable, false),
            ("biased", &biased, false),
        ] {
            let before = fused_projections();
            assert_same(
                &format!("{act:?} {name}"),
                &|t| glu_then(&t[0], &t[1], down, act).unwrap(),
                &pair,
                &inputs,
            );
            // assert_same runs the op once.
            assert_eq!(
                fused_projections() - before,
                usize::from(fused),
                "{act:?} {name}"
            );
        }
    }
}

/// The fused attention op agrees with the composed heads-reshape / RoPE / repeat / softmax /
/// product chain, in value and in the gradients of q, k and v: Llama's shape (RoPE, scaled,
/// grouped-query) and GPT-Neo's (unscaled, a local window).
#[test]
fn attention_fused_equals_composed() {
    let rope = RotaryTables::new(8, 32, 10_000.0, &Device::Cpu).unwrap();
    let llama = AttentionSpec {
        heads: 6,
        kv_heads: 2,
        head_dim: 8,
        scale: 1.0 / 8f64.sqrt(),
        window: None,
    };
    let neo = AttentionSpec {
        heads: 3,
        kv_heads: 3,
        head_dim: 8,
        scale: 1.0,
        window: Some(3),
    };
    for (name, spec, rope) in [("llama", llama, Some(&rope)), ("gpt-neo", neo, None)] {
        let (b, t) = (2, 9);
        let inputs = [
            randn(&[b, t, spec.heads * 8], 21),
            randn(&[b, t, spec.kv_heads * 8], 22),
            randn(&[b, t, spec.kv_heads * 8], 23),
        ];
        let before = fused_attentions();
        assert_same(
            name,
            &|t| attention(&t[0], &t[1], &t[2], &spec, rope).unwrap(),
            &|t| attention_composed(&t[0], &t[1], &t[2], &spec, rope).unwrap(),
            &inputs,
        );
        assert_eq!(fused_attentions() - before, 1, "{name}: fused op not taken");
    }
}

/// One input constant, the others trained: the fused op returns no gradient for the constant
/// and the composed chain's for the rest. Constant keys are LoRA on q and v; constant queries
/// run over 40 positions with 32-dim heads and a local window (several gemm blocks per head).
#[test]
fn attention_gives_no_gradient_to_a_constant_input() {
    let gqa = |head_dim: usize, scale: f64, window| AttentionSpec {
        heads: 4,
        kv_heads: 2,
        head_dim,
        scale,
        window,
    };
    let cases = [
        ("keys", 1, gqa(4, 0.5, None), 5, 1e-5),
        (
            "queries",
            0,
            gqa(32, 1.0 / 32f64.sqrt(), Some(17)),
            40,
            1e-4,
        ),
    ];
    for (name, constant, spec, t, tol) in cases {
        let d = spec.head_dim;
        let rope = RotaryTables::new(d, 64, 10_000.0, &Device::Cpu).unwrap();
        let widths = [4 * d, 2 * d, 2 * d];
        let inputs: Vec<Tensor> = (0..3)
            .map(|i| randn(&[2, t, widths[i]], 31 + i as u64))
            .collect();
        let vars: Vec<Option<Var>> = (0..3)
            .map(|i| (i != constant).then(|| Var::from_tensor(&inputs[i]).unwrap()))
            .collect();
        let x: Vec<&Tensor> = (0..3)
            .map(|i| vars[i].as_ref().map_or(&inputs[i], |v| v.as_tensor()))
            .collect();
        let grads = |f: &dyn Fn() -> Tensor| {
            let r = randn(&[2, t, 4 * d], 34);
            (f() * r).unwrap().sum_all().unwrap().backward().unwrap()
        };
        let fused = grads(&|| attention(x[0], x[1], x[2], &spec, Some(&rope)).unwrap());
        let composed = grads(&|| attention_composed(x[0], x[1], x[2], &spec, Some(&rope)).unwrap());
        assert!(
            fused.get(x[constant]).is_none(),
            "constant {name} got a gradient"
        );
        for v in vars.iter().flatten() {
            let diff = max_abs_diff(
                fused.get(v.as_tensor()).unwrap(),
                composed.get(v.as_tensor()).unwrap(),
            );
            assert!(diff < tol, "{name} constant: gradient differs by {diff}");
        }
    }
}

/// The lm_head fused with the loss over chunks of rows (300 rows: two full chunks and a part)
/// gives the loss and both gradients of the logits-then-loss pair, scaled by the incoming
/// gradient; a frozen head gets no dW; with nothing tracked, the loss alone.
#[test]
fn linear_cross_entropy_equals_logits_then_loss() {
    use ablate::nn::cross_entropy::cross_entropy;
    use ablate::nn::linear_cross_entropy::{linear_cross_entropy, linear_cross_entropy_no_grad};
    let (rows, d, vocab) = (300, 24, 50);
    let targets: Vec<Option<u32>> = (0..rows)
        .map(|i| (i % 7 != 6).then_some(((i * 13) % vocab) as u32))
        .collect();
    let (h0, w0) = (randn(&[rows, d], 41), randn(&[vocab, d], 42));
    let run = |fused: bool, trainable: bool| {
        let (h, w) = (
            Var::from_tensor(&h0).unwrap(),
            Var::from_tensor(&w0).unwrap(),
        );
        let head = if trainable {
            Linear::new(Param::trainable("w", w.as_tensor().clone()).unwrap(), None)
        } else {
            Linear::new(Param::frozen("w", w0.clone()), None)
        };
        let loss = if fused {
            linear_cross_entropy(h.as_tensor(), &head, targets.clone())
        } else {
            cross_entropy(&head.forward(h.as_tensor()).unwrap(), targets.clone())
        }
        .unwrap();
        // An incoming gradient of 2: backward scales what forward computed.
        let g = (&loss * 2.0).unwrap().backward().unwrap();
        let dw = g.get(w.as_tensor()).cloned();
        let dh = g.get(h.as_tensor()).unwrap().clone();
        (loss.to_scalar::<f32>().unwrap(), dh, dw)
    };
    for trainable in [true, false] {
        let (l1, dh1, dw1) = run(true, trainable);
        let (l2, dh2, dw2) = run(false, trainable);
        assert!((l1 - l2).abs() < 1e-5, "loss {l1} vs {l2}");
        assert!(l1 > 3.0, "a loss near ln(50) = 3.9 expected, got {l1}");
        let d = max_abs_diff(&dh1, &dh2);
        assert!(d < 1e-6, "dh differs by {d}");
        assert!(max_abs_diff(&dh1, &dh1.zeros_like().unwrap()) > 1e-4);
        match (dw1, dw2) {
            (Some(a), Some(b)) => {
                assert!(trainable);
                let d = max_abs_diff(&a, &b);
                assert!(d < 1e-6, "dW differs by {d}");
                assert!(max_abs_diff(&a, &a.zeros_like().unwrap()) > 1e-4);
            }
            (None, None) => assert!(!trainable),
            _ => panic!("fused and composed disagree on whether W has a gradient"),
        }
    }
    // Frozen: the fused op runs the input-gradient product only, in forward.
    let frozen = Linear::new(Param::frozen("w", w0.clone()), None);
    let h = Var::from_tensor(&h0).unwrap();
    let (dw0, dx0) = backward_matmuls();
    linear_cross_entropy(h.as_tensor(), &frozen, targets.clone()).unwrap();
    let (dw1, dx1) = backward_matmuls();
    assert_eq!((dw1 - dw0, dx1 - dx0), (0, 1), "frozen head: dX only");
    // Nothing tracked, or evaluation of a head and input that train: the same loss, no
    // gradient product.
    let loss = linear_cross_entropy(&h0, &frozen, targets.clone()).unwrap();
    let w = Var::from_tensor(&w0).unwrap();
    let trainable = Linear::new(Param::trainable("w", w.as_tensor().clone()).unwrap(), None);
    let scored = linear_cross_entropy_no_grad(h.as_tensor(), &trainable, targets.clone()).unwrap();
    assert_eq!(
        backward_matmuls(),
        (dw1, dx1),
        "evaluation ran a gradient product"
    );
    assert!(!scored.track_op(), "evaluation recorded a graph");
    assert!((scored.to_scalar::<f32>().unwrap() - loss.to_scalar::<f32>().unwrap()).abs() < 1e-6);
    let want = cross_entropy(&frozen.forward(&h0).unwrap(), targets).unwrap();
    let (a, b) = (
        loss.to_scalar::<f32>().unwrap(),
        want.to_scalar::<f32>().unwrap(),
    );
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
}
