//! A frozen linear and its low-rank adapter as one op on CPU f32:
//! `y = x W^T (+ b) + scale (x A^T) B^T`, with gradients for x (when it is tracked), A and B.
//!
//! Composed, an adapted linear is five graph nodes (base, A, scale, B, add): each keeps its
//! output or input alive for backward, and backward adds the adapter's dX into the base's in a
//! separate pass. Here forward keeps only x, the rank-r product is recomputed in backward
//! (2 m k r flops against the base's 2 m k n), and dX = dY W + dH A is one buffer.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::counters;
use super::cpu_gemm::{Mat, product, product_into};
use super::linear_ops::frozen_linear_cpu;
use super::param::Param;
use super::slices::{contiguous_f32, grad_for, with_cpu_f32};

/// A low-rank adapter: `y += scale * (x A^T) B^T`, with A (rank, in) and B (out, rank).
/// B starts at zero, so an adapted layer starts out equal to its base layer.
#[derive(Clone, Debug)]
pub struct Lora {
    pub a: Param,
    pub b: Param,
    pub scale: f64,
}

/// Rows of the rank-r update added per parallel task.
const ROWS: usize = 64;

/// `x W^T (+ b) + scale (x A^T) B^T` for a frozen `weight` (n, k) and frozen `bias` (n); A is
/// (r, k), B is (n, r). CPU f32 only: the caller checks `fused_ok`.
pub(crate) fn adapted(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    lora: &Lora,
) -> Result<Tensor> {
    counters::count_fused_adapter();
    let op = Adapted {
        weight: weight.clone(),
        bias: bias.cloned(),
        scale: lora.scale as f32,
    };
    x.apply_op3_arc(lora.a.tensor(), lora.b.tensor(), Arc::new(Box::new(op)))
}

struct Adapted {
    weight: Tensor,
    bias: Option<Tensor>,
    scale: f32,
}

/// (m, k, r, n) of an adapted product, checked: x is (m, k), W (n, k), A (r, k), B (n, r).
fn dims(
    x: &Layout,
    w: (usize, usize),
    a: (usize, usize),
    b: (usize, usize),
) -> Result<(usize, usize, usize, usize)> {
    let k = x.dims().last().copied().unwrap_or(0);
    let ((n, wk), (r, ak), (bn, br)) = (w, a, b);
    if k == 0 || n == 0 || r == 0 || wk != k || ak != k || bn != n || br != r {
        bail!("lora: W {w:?}, A {a:?} and B {b:?} do not fit an input of {k} features")
    }
    Ok((x.shape().elem_count() / k, k, r, n))
}

/// `dst (m, width) += h (m, r) rhs (r, width)`, in parallel blocks of rows.
fn add_low_rank(dst: &mut [f32], width: usize, h: &[f32], r: usize, rhs: Mat) {
    dst.par_chunks_mut(ROWS * width)
        .zip(h.par_chunks(ROWS * r))
        .for_each(|(dst, h)| {
            product_into(dst, h.len() / r, width, r, true, Mat::rows(h, r), rhs);
        });
}

/// The adapter's activation `scale * x A^T`, (m, r).
fn scaled_down(x: &[f32], a: &[f32], (m, k, r): (usize, usize, usize), scale: f32) -> Vec<f32> {
    let mut h = product(m, r, k, Mat::rows(x, k), Mat::cols(a, k));
    h.iter_mut().for_each(|v| *v *= scale);
    h
}

impl CustomOp3 for Adapted {
    fn name(&self) -> &'static str {
        "lora-linear"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        a: &CpuStorage,
        al: &Layout,
        b: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (y, shape) = frozen_linear_cpu(x, xl, &self.weight, self.bias.as_ref())?;
        let CpuStorage::F32(mut y) = y else {
            bail!("lora: the fused op runs on f32 only")
        };
        let (m, k, r, n) = dims(
            xl,
            self.weight.dims2()?,
            al.shape().dims2()?,
            bl.shape().dims2()?,
        )?;
        let xs = contiguous_f32(x, xl, "lora input")?;
        let h = scaled_down(xs, contiguous_f32(a, al, "lora A")?, (m, k, r), self.scale);
        let bs = contiguous_f32(b, bl, "lora B")?;
        add_low_rank(&mut y, n, &h, r, Mat::cols(bs, r));
        Ok((CpuStorage::F32(y), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (m, k, r, n) = dims(x.layout(), self.weight.dims2()?, a.dims2()?, b.dims2()?)?;
        let grad = grad.contiguous()?;
        let ts = [&grad, x, a, b, &self.weight];
        let (dx, da, db) = with_cpu_f32(&ts, "lora backward", |t| {
            let (g, xs, a_, b_, w) = (t[0], t[1], t[2], t[3], t[4]);
            let h = scaled_down(xs, a_, (m, k, r), self.scale);
            // dB = dY^T (scale x A^T); dH = scale dY B; dA = dH^T x.
            let db = product(n, r, m, Mat::cols(g, n), Mat::rows(&h, r));
            let mut dh = product(m, r, n, Mat::rows(g, n), Mat::rows(b_, r));
            dh.iter_mut().for_each(|v| *v *= self.scale);
            let da = product(r, k, m, Mat::cols(&dh, r), Mat::rows(xs, k));
            counters::count_weight_grad();
            counters::count_weight_grad();
            // dX = dY W + dH A, the adapter's part added row block by row block.
            let dx = x.track_op().then(|| {
                counters::count_input_grad();
                let mut dx = product(m, k, n, Mat::rows(g, n), Mat::rows(w, k));
                add_low_rank(&mut dx, k, &dh, r, Mat::rows(a_, k));
                dx
            });
            Ok((dx, da, db))
        })?;
        let dx = dx
            .map(|d| Tensor::from_vec(d, x.shape(), x.device()))
            .transpose()?;
        Ok((dx, grad_for(a, da)?, grad_for(b, db)?))
    }
}
