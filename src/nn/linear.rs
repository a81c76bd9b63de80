//! A linear layer `y = x W^T + b` whose weight is trainable or frozen.
//!
//! Both paths are custom ops so that backward computes exactly what is needed:
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

use super::counters;
use super::param::Param;
use super::slices::{with_cpu, with_cuda};

#[derive(Clone, Debug)]
pub struct Linear {
    weight: Param,
    bias: Option<Param>,
    lora: Option<Lora>,
}

/// A low-rank adapter: `y += scale * (x A^T) B^T`, with A (rank, in) and B (out, rank).
/// B starts at zero, so an adapted layer starts out equal to its base layer.
#[derive(Clone, Debug)]
pub struct Lora {
    pub a: Param,
    pub b: Param,
    pub scale: f64,
}

impl Linear {
    pub fn new(weight: Param, bias: Option<Param>) -> Self {
        Self {
            weight,
            bias,
            lora: None,
        }
    }

    pub fn with_lora(mut self, lora: Lora) -> Self {
        self.lora = Some(lora);
        self
    }

    /// Fold the adapter into the base weight: W + scale * B A (a frozen layer, no adapter).
    pub fn merged(&self) -> Result<Linear> {
        let Some(l) = &self.lora else {
            return Ok(self.clone());
        };
        let delta = (l.b.tensor().matmul(l.a.tensor())? * l.scale)?;
        let w = (self.weight.tensor() + delta)?;
        Ok(Linear::new(
            Param::frozen(self.weight.name(), w),
            self.bias.clone(),
        ))
    }

    pub fn weight(&self) -> &Param {
        &self.weight
    }

    /// The weight of a layer that trains nothing (frozen weight, no bias, no adapter): what a
    /// fused op may apply in place of this layer.
    pub fn frozen_weight(&self) -> Option<&Tensor> {
        (!self.weight.is_trainable() && self.bias.is_none() && self.lora.is_none())
            .then(|| self.weight.tensor())
    }

    pub fn params(&self) -> Vec<&Param> {
        let adapters = self.lora.iter().flat_map(|l| [&l.a, &l.b]);
        std::iter::once(&self.weight)
            .chain(self.bias.as_ref())
            .chain(adapters)
            .collect()
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.contiguous()?;
        let y = self.base_forward(&x)?;
        match &self.lora {
            None => Ok(y),
            Some(l) => {
                // Scaling the rank-r activation, not the output: r / out_features of the work.
                let h = (project(&x, &l.a, None)? * l.scale)?;
                super::add::add(&project(&h, &l.b, None)?, &y)
            }
        }
    }

    fn base_forward(&self, x: &Tensor) -> Result<Tensor> {
        let frozen_bias = self
            .bias
            .as_ref()
            .filter(|b| !b.is_trainable())
            .map(|b| b.tensor().clone());
        let y = project(x, &self.weight, frozen_bias)?;
        match self.bias.as_ref().filter(|b| b.is_trainable()) {
            Some(b) => y.broadcast_add(b.tensor()),
            None => Ok(y),
        }
    }
}

/// `x @ w^T (+ frozen_bias)` through the op matching whether `w` trains.
fn project(x: &Tensor, w: &Param, frozen_bias: Option<Tensor>) -> Result<Tensor> {
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
    let lhs = Layout::contiguous_with_offset((m, k), xl.start_offset());
    let rhs_t = Layout::new(Shape::from((k, n)), vec![1, k], wl.start_offset());
    let mut y = x.matmul(w, (1, m, n, k), &lhs, &rhs_t)?;
    if let Some((b, bl)) = bias {
        let bl = bl.broadcast_as((m, n))?;
        y = y.binary_impl::<Add>(b, &Layout::contiguous((m, n)), &bl)?;
    }
    let mut out = dims[..dims.len() - 1].to_vec();
    out.push(n);
    Ok((y, Shape::from(out)))
}

/// dX = dY @ W, with dY reshaped to 2-D.
pub(crate) fn input_grad(x: &Tensor, w: &Tensor, grad: &Tensor) -> Result<Tensor> {
    counters::count_input_grad();
    let n = grad.dim(candle_core::D::Minus1)?;
    let m = grad.elem_count() / n;
    grad.reshape((m, n))?
        .matmul(&w.detach())?
        .reshape(x.shape())
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
        with_cpu(&self.weight, |w, wl| match &self.bias {
            Some(b) => with_cpu(b, |b, bl| linear_fwd(x, xl, w, wl, Some((b, bl)))),
            None => linear_fwd(x, xl, w, wl, None),
        })
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
            Some(b) => with_cpu(b, |b, bl| linear_fwd(x, xl, w, wl, Some((b, bl)))),
            None => linear_fwd(x, xl, w, wl, None),
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
        counters::count_weight_grad();
        let (n, k) = w.dims2()?;
        let m = grad.elem_count() / n;
        let dw = grad
            .reshape((m, n))?
            .t()?
            .matmul(&x.detach().reshape((m, k))?)?;
        Ok((dx, Some(dw)))
    }
}
