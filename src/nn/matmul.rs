//! Batched matmul that stores no gradient for an untracked operand. With LoRA on q and v only,
//! the keys are constants: candle's `Matmul` backward would still compute and keep their
//! gradient in every layer.

use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CudaStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};

use super::slices::{with_cpu, with_cuda};

/// `a @ b` over the last two dims, with equal leading (batch) dims.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match (a.track_op(), b.track_op()) {
        (true, false) => a.apply_op1_arc(Arc::new(Box::new(MatmulConst {
            other: b.clone(),
            tracked_is_lhs: true,
        }))),
        (false, true) => b.apply_op1_arc(Arc::new(Box::new(MatmulConst {
            other: a.clone(),
            tracked_is_lhs: false,
        }))),
        _ => a.matmul(b),
    }
}

struct MatmulConst {
    other: Tensor,
    tracked_is_lhs: bool,
}

fn bmnk(l: &Layout, r: &Layout) -> Result<((usize, usize, usize, usize), Shape)> {
    let (ld, rd) = (l.dims(), r.dims());
    let n_dims = ld.len();
    if n_dims < 2 || rd.len() != n_dims || ld[..n_dims - 2] != rd[..n_dims - 2] {
        bail!("matmul: incompatible shapes {ld:?} and {rd:?}")
    }
    let (m, k, k2, n) = (
        ld[n_dims - 2],
        ld[n_dims - 1],
        rd[n_dims - 2],
        rd[n_dims - 1],
    );
    if k != k2 {
        bail!("matmul: inner dims differ in {ld:?} and {rd:?}")
    }
    let batch = ld[..n_dims - 2].iter().product();
    let mut out = ld[..n_dims - 2].to_vec();
    out.extend([m, n]);
    Ok(((batch, m, n, k), Shape::from(out)))
}

fn mm<S: BackendStorage>(l: &S, ll: &Layout, r: &S, rl: &Layout) -> Result<(S, Shape)> {
    let (dims, shape) = bmnk(ll, rl)?;
    Ok((l.matmul(r, dims, ll, rl)?, shape))
}

impl MatmulConst {
    /// The tracked operand `x` on its side of the product.
    fn fwd<S: BackendStorage>(&self, x: &S, xl: &Layout, o: &S, ol: &Layout) -> Result<(S, Shape)> {
        if self.tracked_is_lhs {
            mm(x, xl, o, ol)
        } else {
            mm(o, ol, x, xl)
        }
    }
}

impl CustomOp1 for MatmulConst {
    fn name(&self) -> &'static str {
        "matmul-const"
    }

    fn cpu_fwd(&self, x: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        with_cpu(&self.other, |o, ol| self.fwd(x, xl, o, ol))
    }

    fn cuda_fwd(&self, x: &CudaStorage, xl: &Layout) -> Result<(CudaStorage, Shape)> {
        with_cuda(&self.other, |o, ol| self.fwd(x, xl, o, ol))
    }

    fn bwd(&self, _x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let o = &self.other;
        let g = if self.tracked_is_lhs {
            grad.matmul(&o.t()?)?
        } else {
            o.t()?.matmul(grad)?
        };
        Ok(Some(g))
    }
}
