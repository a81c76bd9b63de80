//! Raw f32 views of CPU storage for the fused kernels.

use candle_core::{CpuStorage, Layout, Result, bail};

pub(crate) fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{what}: input must be contiguous"),
    }
}

/// Fused kernels run on f32 CPU tensors; everything else takes the composed path.
pub(crate) fn fused_ok(t: &candle_core::Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == candle_core::DType::F32
}
