//! Raw f32 views of CPU storage for the fused kernels, and access to the storage of tensors a
//! custom op holds besides its arguments.

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{CpuStorage, CudaStorage, Layout, Result, Storage, Tensor, bail};

pub(crate) fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{what}: input must be contiguous"),
    }
}

static PORTABLE: AtomicBool = AtomicBool::new(false);

/// Take the portable path on the CPU too: the composed ops (candle's own kernels, the backward in
/// tensor ops) and candle-nn's AdamW, i.e. the code a CUDA device runs, minus its kernels, so
/// that tests exercise it without a GPU. Process-wide; the binary sets it from
/// `ABLATE_PORTABLE_OPS=1`.
pub fn force_portable(on: bool) {
    PORTABLE.store(on, Ordering::Relaxed);
}

pub fn portable_forced() -> bool {
    PORTABLE.load(Ordering::Relaxed)
}

/// Fused kernels run on f32 CPU tensors; everything else takes the composed path.
pub(crate) fn fused_ok(t: &candle_core::Tensor) -> bool {
    !portable_forced() && t.device().is_cpu() && t.dtype() == candle_core::DType::F32
}

/// Run `f` on the CPU storage of `t` (a second operand a custom op holds on to).
pub(crate) fn with_cpu<T>(
    t: &Tensor,
    f: impl FnOnce(&CpuStorage, &Layout) -> Result<T>,
) -> Result<T> {
    let (s, l) = t.storage_and_layout();
    match &*s {
        Storage::Cpu(c) => f(c, l),
        _ => bail!("operands of a custom op are on different devices"),
    }
}

/// Run `f` on the contiguous f32 data of several CPU tensors at once (what a fused backward
/// pass reads: its inputs and the incoming gradient).
pub(crate) fn with_cpu_f32<T>(
    ts: &[&Tensor],
    what: &str,
    f: impl FnOnce(&[&[f32]]) -> Result<T>,
) -> Result<T> {
    let guards: Vec<_> = ts.iter().map(|t| t.storage_and_layout()).collect();
    let mut slices = Vec::with_capacity(ts.len());
    for (s, l) in &guards {
        match &**s {
            Storage::Cpu(c) => slices.push(contiguous_f32(c, l, what)?),
            _ => bail!("operands of a custom op are on different devices"),
        }
    }
    f(&slices)
}

/// A fused backward pass's result for input `t`: a tensor of its shape, or None where `t` is
/// not differentiated (a frozen weight).
pub(crate) fn grad_for(t: &Tensor, grad: Vec<f32>) -> Result<Option<Tensor>> {
    t.track_op()
        .then(|| Tensor::from_vec(grad, t.shape(), t.device()))
        .transpose()
}

/// Run `f` on the CUDA storage of `t`.
pub(crate) fn with_cuda<T>(
    t: &Tensor,
    f: impl FnOnce(&CudaStorage, &Layout) -> Result<T>,
) -> Result<T> {
    let (s, l) = t.storage_and_layout();
    match &*s {
        Storage::Cuda(c) => f(c, l),
        _ => bail!("operands of a custom op are on different devices"),
    }
}
