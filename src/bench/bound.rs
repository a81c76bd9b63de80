//! The products-only bound: how fast the matrix products of a step (forward, dX and dW, each
//! shape and layout as a step runs it) alone would run on this host, to read a step's speed against.

use super::measurement::{BenchSample, BenchSettings, EVAL};
use super::paired::{Ratio, paired};
use crate::measure::stats::median;
use crate::models::{ModelSpec, ParamPlan};
use crate::nn::cpu_gemm::{Mat, product, product_into};
use crate::results::BenchRow;
use anyhow::Result;
use candle_core::{Device, Tensor};
use rayon::prelude::*;
use std::time::Instant;

/// What the matrix products of a full fine-tuning step allow on this host: every linear (the
/// lm_head included) and the attention products, forward, dX and dW (3x the forward's FLOP),
/// each shape and layout timed alone on random data, with the same threads and the same kernels
/// as a step runs them: the linears as one product on all threads, the attention products one
/// (batch, head) per thread. The bound is optimistic: a shape timed in a loop finds its operands
/// in cache, where a step's stream from memory.
#[derive(Clone, Copy, Debug)]
pub struct ProductsBound {
    pub step_gflop: f64,
    /// GFLOP/s of the products alone.
    pub rate_gflops: f64,
}

impl ProductsBound {
    /// Tokens/s of a full step if nothing but the products took time.
    pub fn tokens_per_s(&self, tokens: usize) -> f64 {
        tokens as f64 * self.rate_gflops / self.step_gflop
    }
}

/// The pseudo-strategy that times the products-only bound of a full step (forward, dX and dW),
/// in each repeat right before `full`.
pub const PRODUCTS: &str = "products_only";

/// The pseudo-strategy that times the forward products alone, the bound of `eval`, in each
/// repeat right before it.
pub const PRODUCTS_FORWARD: &str = "products_forward";

/// The bound a pseudo-strategy times, if `name` is one: whether it is the forward pass alone.
pub fn bound_of(name: &str) -> Option<bool> {
    match name {
        PRODUCTS => Some(false),
        PRODUCTS_FORWARD => Some(true),
        _ => None,
    }
}

/// The pseudo-strategy that bounds `strategy`, timed right before it, if it has one.
pub fn bound_for(strategy: &str) -> Option<&'static str> {
    match strategy {
        "full" => Some(PRODUCTS),
        EVAL => Some(PRODUCTS_FORWARD),
        _ => None,
    }
}

/// The matrix products of a full step: linears (rows x in -> out, with their count) and the
/// attention products per layer.
struct ProductShapes {
    linears: std::collections::BTreeMap<(usize, usize), usize>,
    rows: usize,
    /// batch x heads products of (t x hd x t) and (t x t x hd) per layer.
    head_products: usize,
    t: usize,
    hd: usize,
    layers: usize,
}

impl ProductShapes {
    fn of(model: &ModelSpec, b: &BenchSettings) -> Result<Self> {
        use crate::models::{ArchConfig, WeightSet, build_lm};
        let arch = model.arch()?;
        let shapes = build_lm(
            &arch,
            &mut WeightSet::shapes_only("bench", ParamPlan::frozen()),
            &Device::Cpu,
        )?;
        let params = shapes.params();
        let has_head = params.iter().any(|p| p.name().contains("lm_head"));
        let mut linears: std::collections::BTreeMap<(usize, usize), usize> = Default::default();
        for p in &params {
            let n = p.name();
            let embedding = n.contains("embed_tokens") || n.contains("wte");
            let positions = n.contains("wpe") || n.contains("embed_positions");
            if let [out, inp] = p.tensor().dims() {
                // A table used by lookup is no product, unless it is the tied lm_head.
                if !positions && (!embedding || !has_head) {
                    *linears.entry((*out, *inp)).or_default() += 1;
                }
            }
        }
        let (heads, hidden, layers) = match &arch {
            ArchConfig::Llama(c) => (
                c.num_attention_heads,
                c.num_attention_heads * c.head_dim,
                c.num_hidden_layers,
            ),
            ArchConfig::GptNeo(c) => (c.num_heads, c.hidden_size, c.attention_layers.len()),
            ArchConfig::Gemma3(c) => (
                c.num_attention_heads,
                c.num_attention_heads * c.head_dim,
                c.layer_types.len(),
            ),
        };
        Ok(Self {
            linears,
            rows: b.batch_size * b.seq_len,
            head_products: b.batch_size * heads,
            t: b.seq_len,
            hd: hidden / heads,
            layers,
        })
    }

    fn step_gflop(&self) -> f64 {
        3.0 * self.forward_flop() / 1e9
    }

    fn forward_flop(&self) -> f64 {
        let linear: usize = self
            .linears
            .iter()
            .map(|(&(out, inp), &count)| count * 2 * self.rows * inp * out)
            .sum();
        let attention = self.layers * 2 * 2 * self.head_products * self.t * self.t * self.hd;
        (linear + attention) as f64
    }
}

/// GFLOP of matrix products in one full fine-tuning step: forward, dX and dW (3x the forward).
pub fn step_gflop(model: &ModelSpec, b: &BenchSettings) -> Result<f64> {
    Ok(ProductShapes::of(model, b)?.step_gflop())
}

/// The products of a full step (`forward_only`: of the forward pass), each shape timed alone on
/// this host with ablate's kernels and threads: the rate nothing else in a step could beat.
pub fn products_bound(
    model: &ModelSpec,
    b: &BenchSettings,
    forward_only: bool,
) -> Result<ProductsBound> {
    let shapes = ProductShapes::of(model, b)?;
    let (rows, t, hd) = (shapes.rows, shapes.t, shapes.hd);
    let dev = Device::Cpu;
    // The median of at least 9 runs and 0.3 s per shape: three runs caught the host's swings
    // (a bound below the full step it bounds, once in five repeats).
    let time = |f: &dyn Fn() -> Vec<f32>| -> Result<f64> {
        std::hint::black_box(f()); // warm
        let (mut v, start) = (Vec::new(), Instant::now());
        while v.len() < 9 || start.elapsed().as_secs_f64() < 0.3 {
            let t0 = Instant::now();
            std::hint::black_box(f());
            v.push(t0.elapsed().as_secs_f64());
        }
        Ok(median(&v).unwrap_or(f64::NAN))
    };
    let mut seconds = 0f64;
    let random = |n: usize| Tensor::randn(0f32, 1.0, n, &dev)?.to_vec1::<f32>();
    // Each linear's three products as a full step runs them (`nn::linear`): Y = X W^T,
    // dX = dY W and dW = dY^T X; their shapes and layouts differ and so may their rates.
    for (&(out, inp), &count) in &shapes.linears {
        let (x, w, dy) = (random(rows * inp)?, random(out * inp)?, random(rows * out)?);
        let y = time(&|| product(rows, out, inp, Mat::rows(&x, inp), Mat::cols(&w, inp)))?;
        seconds += count as f64 * y;
        if !forward_only {
            let dx = time(&|| product(rows, inp, out, Mat::rows(&dy, out), Mat::rows(&w, inp)))?;
            let dw = time(&|| product(out, inp, rows, Mat::cols(&dy, out), Mat::rows(&x, inp)))?;
            seconds += count as f64 * (dx + dw);
        }
    }
    // Per (batch, head), as `nn::attention` runs them, one head per task: forward S = Q K^T and
    // Y = P V; backward dV = P^T dY, dP = dY V^T, dQ = dS K and dK = dS^T Q.
    let n = shapes.head_products;
    let (q, k, p) = (random(n * t * hd)?, random(n * t * hd)?, random(n * t * t)?);
    let heads = |backward: bool| {
        let width = if backward {
            2 * t * hd + t * t + t * hd
        } else {
            t * t + t * hd
        };
        let mut out = vec![0f32; n * width];
        out.par_chunks_mut(width).enumerate().for_each(|(i, o)| {
            let (qi, ki, pi) = (&q[i * t * hd..], &k[i * t * hd..], &p[i * t * t..]);
            let (s, rest) = o.split_at_mut(t * t);
            if backward {
                let (dv, rest) = rest.split_at_mut(t * hd);
                let (dq, dk) = rest.split_at_mut(t * hd);
                let (dy, vi) = (Mat::rows(qi, hd), Mat::rows(ki, hd));
                product_into(dv, t, hd, t, false, Mat::cols(pi, t), dy);
                product_into(s, t, t, hd, false, dy, vi.transposed());
                product_into(dq, t, hd, t, false, Mat::rows(pi, t), Mat::rows(ki, hd));
                product_into(dk, t, hd, t, false, Mat::cols(pi, t), Mat::rows(qi, hd));
            } else {
                product_into(s, t, t, hd, false, Mat::rows(qi, hd), Mat::cols(ki, hd));
                product_into(rest, t, hd, t, false, Mat::rows(pi, t), Mat::rows(ki, hd));
            }
        });
        out
    };
    seconds += shapes.layers as f64 * time(&|| heads(false))?;
    if !forward_only {
        seconds += shapes.layers as f64 * time(&|| heads(true))?;
    }
    let step_gflop = if forward_only {
        shapes.forward_flop() / 1e9
    } else {
        shapes.step_gflop()
    };
    Ok(ProductsBound {
        step_gflop,
        rate_gflops: step_gflop / seconds,
    })
}

/// A products-only bound timed in this process, as a measurement row: its tokens/s is what a
/// full step (`forward_only`: an eval batch) would reach if nothing but its products took time.
pub fn measure_products(
    model: &ModelSpec,
    b: &BenchSettings,
    forward_only: bool,
) -> Result<BenchSample> {
    let bound = products_bound(model, b, forward_only)?;
    Ok(BenchSample {
        strategy: if forward_only {
            PRODUCTS_FORWARD
        } else {
            PRODUCTS
        }
        .into(),
        params_total: 0,
        params_trainable: 0,
        trainable_pct: 0.0,
        tokens_per_s: bound.tokens_per_s(b.batch_size * b.seq_len),
        peak_mem_bytes: None,
        peak_mem_method: if forward_only {
            "n/a: the matrix products of a forward pass alone, timed"
        } else {
            "n/a: the matrix products of a full step alone, timed"
        }
        .into(),
        peak_rss_bytes: None,
        framework: None,
        framework_version: None,
        threads: None,
        gemm: None,
    })
}

/// A bench session's reading against one products-only bound it timed: full fine-tuning or
/// eval, the GFLOP/s behind each side, and each side's share of the bound, repeat by repeat.
#[derive(Clone, Debug)]
pub struct BoundReading {
    /// `full` or `eval`.
    pub name: &'static str,
    pub what: &'static str,
    /// Matrix-product GFLOP per step (full) or batch (eval).
    pub gflop: f64,
    /// Median GFLOP/s: ablate, PyTorch, and the products alone.
    pub gflops: [f64; 3],
    /// Share of the bound per repeat: ablate, PyTorch.
    pub of_bound: [Option<Ratio>; 2],
    /// The share 1.5x PyTorch's eval would need (eval only).
    pub torch_x1_5_needs: Option<Ratio>,
}

/// The readings of `rows` (one session, `tokens` per step) against the bounds they timed.
pub fn bound_readings(
    model: &ModelSpec,
    settings: &BenchSettings,
    rows: &[BenchRow],
) -> Result<Vec<BoundReading>> {
    let step = step_gflop(model, settings)?;
    let tokens = (settings.batch_size * settings.seq_len) as f64;
    let tps = |r: &BenchRow| Some(r.tokens_per_s);
    let mut out = Vec::new();
    for (name, gflop, what) in [
        ("full", step, "full fine-tuning step (forward, dX and dW)"),
        (EVAL, step / 3.0, "eval batch (forward only)"),
    ] {
        // A bound this session timed.
        let Some(bound) = bound_for(name).filter(|b| rows.iter().any(|r| r.strategy == *b)) else {
            continue;
        };
        let gflops = |strategy: &str, fw: &str| {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| r.strategy == strategy && r.framework == fw)
                .map(|r| gflop * r.tokens_per_s / tokens)
                .collect();
            median(&v).unwrap_or(f64::NAN)
        };
        let of_bound = |fw: &str| paired(rows, (name, fw), (bound, "candle"), tps);
        let torch = of_bound("pytorch");
        out.push(BoundReading {
            name,
            what,
            gflop,
            gflops: [
                gflops(name, "candle"),
                gflops(name, "pytorch"),
                gflops(bound, "candle"),
            ],
            of_bound: [of_bound("candle"), torch.clone()],
            // What 1.5x PyTorch's eval would take, against what the products allow.
            torch_x1_5_needs: torch.filter(|_| name == EVAL).map(|r| Ratio {
                median: 1.5 * r.median,
                min: 1.5 * r.min,
                max: 1.5 * r.max,
            }),
        });
    }
    Ok(out)
}
