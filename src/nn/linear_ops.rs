//! The linear layer's products as custom ops, so that backward computes exactly what is needed:
//! - trainable weight: dX (only when the input itself needs a gradient) and dW;
//! - frozen weight: dX only. No dW matmul is run and no weight-sized gradient is stored.
//!
//! A frozen bias is added inside the op for the same reason: candle's broadcast add would
//! otherwise store an activation-sized gradient for the constant.

use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::op::Add;
use candle_core::{
    CpuStorage, CudaStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail,
};

use rayon::prelude::*;

use super::counters;
use super::cpu_gemm::{Mat, product};
use super::param::Param;
use super::slices::{contiguous_f32, fused_ok, portable_forced, with_cpu, with_cpu_f32, with_cuda};

/// `x @ w^T (+ frozen_bias)` through the op matching whether `w` trains.
pub(crate) fn project(x: &Tensor, w: &Param, frozen_bias: Option<Tensor>) -> Result<Tensor> {
    if w.is_trainable() {
        x.apply_op2_arc(
            w.tensor(),
            Arc::new(Box::new(TrainableMatmul { bias: frozen_bias })),
        )
    } else {
        x.apply_op1_arc(Arc::new(Box::new(FrozenMatmul {
            weight: w.tensor().clone(),
            bias: frozen_bias,
        })))
    }
}

/// `x @ w^T (+ b)` on any backend's storage; x is (..., k) contiguous, w is (n, k) contiguous.
pub(crate) fn linear_fwd<S: BackendStorage>(
    x: &S,
    xl: &Layout,
    w: &S,
    wl: &Layout,
    bias: Option<(&S, &Layout)>,
) -> Result<(S, Shape)> {
    let (m, n, k, shape) = linear_dims(xl, wl)?;
    let lhs = Layout::contiguous_with_offset((m, k), xl.start_offset());
    let rhs_t = Layout::new(Shape::from((k, n)), vec![1, k], wl.start_offset());
    let mut y = x.matmul(w, (1, m, n, k), &lhs, &rhs_t)?;
    if let Some((b, bl)) = bias {
        let bl = bl.broadcast_as((m, n))?;
        y = y.binary_impl::<Add>(b, &Layout::contiguous((m, n)), &bl)?;
    }
    Ok((y, shape))
}

/// The CPU form of [`linear_fwd`] for f32: the product writes its output without candle's
/// zero-fill (see `cpu_gemm`), and the bias is added in the same parallel pass over rows.
pub(crate) fn linear_fwd_cpu(
    x: &CpuStorage,
    xl: &Layout,
    w: &CpuStorage,
    wl: &Layout,
    bias: Option<(&CpuStorage, &Layout)>,
) -> Result<(CpuStorage, Shape)> {
    let f32s = [Some(x), Some(w), bias.map(|b| b.0)]
        .into_iter()
        .flatten()
        .all(|s| matches!(s, CpuStorage::F32(_)));
    if !f32s || portable_forced() {
        return linear_fwd(x, xl, w, wl, bias);
    }
    let (m, n, k, shape) = linear_dims(xl, wl)?;
    let xs = contiguous_f32(x, xl, "linear input")?;
    let ws = contiguous_f32(w, wl, "linear weight")?;
    let mut y = product(m, n, k, Mat::rows(xs, k), Mat::cols(ws, k));
    if let Some((b, bl)) = bias {
        let b = contiguous_f32(b, bl, "linear bias")?;
        if b.len() != n {
            bail!("linear: bias of {} for {n} outputs", b.len())
        }
        y.par_chunks_mut(n)
            .for_each(|row| row.iter_mut().zip(b).for_each(|(y, b)| *y += b));
    }
    Ok((CpuStorage::F32(y), shape))
}

/// [`linear_fwd_cpu`] with a weight and bias that an op holds rather than takes as arguments.
pub(crate) fn frozen_linear_cpu(
    x: &CpuStorage,
    xl: &Layout,
    weight: &Tensor,
    bias: Option<&Tensor>,
) -> Result<(CpuStorage, Shape)> {
    with_cpu(weight, |w, wl| match bias {
        Some(b) => with_cpu(b, |b, bl| linear_fwd_cpu(x, xl, w, wl, Some((b, bl)))),
        None => linear_fwd_cpu(x, xl, w, wl, None),
    })
}

/// (m, n, k, output shape) of `x @ w^T`, checked.
fn linear_dims(xl: &Layout, wl: &Layout) -> Result<(usize, usize, usize, Shape)> {
    let dims = xl.dims();
    let Some(&k) = dims.last() else {
        bail!("linear: input must have at least one dimension")
    };
    let (n, wk) = wl.shape().dims2()?;
    if wk != k {
        bail!("linear: input has {k} features but the weight expects {wk}")
    }
    if !xl.is_contiguous() || !wl.is_contiguous() {
        bail!("linear: input and weight must be contiguous")
    }
    let m = xl.shape().elem_count() / k;
    let mut out = dims[..dims.len() - 1].to_vec();
    out.push(n);
    Ok((m, n, k, Shape::from(out)))
}

/// dX = dY @ W, with dY reshaped to 2-D.
pub(crate) fn input_grad(x: &Tensor, w: &Tensor, grad: &Tensor) -> Result<Tensor> {
    counters::count_input_grad();
    let n = grad.dim(candle_core::D::Minus1)?;
    let m = grad.elem_count() / n;
    if fused_ok(grad) && fused_ok(w) {
        let k = w.dim(1)?;
        let dx = with_cpu_f32(&[&grad.contiguous()?, w], "linear backward", |t| {
            Ok(product(m, k, n, Mat::rows(t[0], n), Mat::rows(t[1], k)))
        })?;
        return Tensor::from_vec(dx, x.shape(), x.device());
    }
    grad.reshape((m, n))?
        .matmul(&w.detach())?
        .reshape(x.shape())
}

/// dW = dY^T @ X, with dY and X reshaped to 2-D.
fn weight_grad(x: &Tensor, w: &Tensor, grad: &Tensor) -> Result<Tensor> {
    counters::count_weight_grad();
    let (n, k) = w.dims2()?;
    let m = grad.elem_count() / n;
    if fused_ok(grad) && fused_ok(x) {
        let dw = with_cpu_f32(
            &[&grad.contiguous()?, &x.contiguous()?],
            "linear backward",
            |t| Ok(product(n, k, m, Mat::cols(t[0], n), Mat::rows(t[1], k))),
        )?;
        return Tensor::from_vec(dw, (n, k), w.device());
    }
    grad.reshape((m, n))?
        .t()?
        .matmul(&x.detach().reshape((m, k))?)
}

struct FrozenMatmul {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl CustomOp1 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, x: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        frozen_linear_cpu(x, xl, &self.weight, self.bias.as_ref())
    }

    fn cuda_fwd(&self, x: &CudaStorage, xl: &Layout) -> Result<(CudaStorage, Shape)> {
        with_cuda(&self.weight, |w, wl| match &self.bias {
            Some(b) => with_cuda(b, |b, bl| linear_fwd(x, xl, w, wl, Some((b, bl)))),
            None => linear_fwd(x, xl, w, wl, None),
        })
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        input_grad(x, &self.weight, grad).map(Some)
    }
}

struct TrainableMatmul {
    bias: Option<Tensor>,
}

impl CustomOp2 for TrainableMatmul {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        w: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        match &self.bias {
            Some(b) => with_cpu(b, |b, bl| linear_fwd_cpu(x, xl, w, wl, Some((b, bl)))),
            None => linear_fwd_cpu(x, xl, w, wl, None),
        }
    }

    fn cuda_fwd(
        &self,
        x: &CudaStorage,
        xl: &Layout,
        w: &CudaStorage,
        wl: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        match &self.bias {
            Some(b) => with_cuda(b, |b, bl| linear_fwd(x, xl, w, wl, Some((b, bl)))),
            None => linear_fwd(x, xl, w, wl, None),
        }
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // The input needs a gradient only when something upstream of it trains.
        let dx = if x.track_op() {
            Some(input_grad(x, w, grad)?)
        } else {
            None
        };
        Ok((dx, Some(weight_grad(x, w, grad)?)))
    }
}
