//! Addition that stores no gradient for a constant operand. candle's `Add` backward accumulates
//! a gradient for both sides, so `frozen_embeddings + attention_out` would keep an
//! activation-sized gradient for the embeddings, which nothing will ever read.

use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::op::Add;
use candle_core::{CpuStorage, CudaStorage, CustomOp1, Layout, Result, Shape, Tensor};

use super::slices::{with_cpu, with_cuda};

/// `a + b` (b may broadcast to a's shape).
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (ta, tb) = (a.track_op(), b.track_op());
    if ta && !tb {
        return a.apply_op1_arc(Arc::new(Box::new(AddConst(b.broadcast_as(a.shape())?))));
    }
    if tb && !ta && a.shape() == b.shape() {
        return b.apply_op1_arc(Arc::new(Box::new(AddConst(a.clone()))));
    }
    a.broadcast_add(b)
}

struct AddConst(Tensor);

fn add_fwd<S: BackendStorage>(x: &S, xl: &Layout, c: &S, cl: &Layout) -> Result<(S, Shape)> {
    Ok((x.binary_impl::<Add>(c, xl, cl)?, xl.shape().clone()))
}

impl CustomOp1 for AddConst {
    fn name(&self) -> &'static str {
        "add-const"
    }

    fn cpu_fwd(&self, x: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        with_cpu(&self.0, |c, cl| add_fwd(x, xl, c, cl))
    }

    fn cuda_fwd(&self, x: &CudaStorage, xl: &Layout) -> Result<(CudaStorage, Shape)> {
        with_cuda(&self.0, |c, cl| add_fwd(x, xl, c, cl))
    }

    fn bwd(&self, _x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.clone()))
    }
}
