//! Raw f32 views of CPU storage for the fused kernels, and access to the storage of tensors a
//! custom op holds besides its arguments.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

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

/// A fused kernel's output of `n` floats, made `chunk` at a time in parallel: `f(i, out)` fills
/// chunk `i` (it starts zeroed) and returns what the chunk contributes besides (a partial sum).
/// Each chunk is zeroed by the thread that fills it, just before, while it is in cache, instead of
/// calloc zeroing the whole buffer on one thread first (a 100 MB memset for the logits' gradient:
/// ~5% of a training step here).
pub(crate) fn par_fill<T: Send>(
    n: usize,
    chunk: usize,
    f: impl Fn(usize, &mut [f32]) -> T + Sync,
) -> (Vec<f32>, Vec<T>) {
    let mut out = Vec::with_capacity(n);
    let parts = out.spare_capacity_mut()[..n]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .map(|(i, c)| f(i, zeroed(c)))
        .collect();
    // SAFETY: the chunks cover 0..n and `zeroed` initialised each of them.
    unsafe { out.set_len(n) };
    (out, parts)
}

/// Two outputs filled together, as `par_fill` fills one: `a` and `b` are (length, chunk) with
/// the same number of chunks; `f(i, a_chunk, b_chunk)`.
pub(crate) fn par_fill2(
    a: (usize, usize),
    b: (usize, usize),
    f: impl Fn(usize, &mut [f32], &mut [f32]) + Sync,
) -> (Vec<f32>, Vec<f32>) {
    let (mut va, mut vb) = (Vec::with_capacity(a.0), Vec::with_capacity(b.0));
    let chunks = |(n, c): (usize, usize)| n.div_ceil(c.max(1));
    assert_eq!(
        chunks(a),
        chunks(b),
        "par_fill2: outputs with different chunk counts"
    );
    va.spare_capacity_mut()[..a.0]
        .par_chunks_mut(a.1.max(1))
        .zip(vb.spare_capacity_mut()[..b.0].par_chunks_mut(b.1.max(1)))
        .enumerate()
        .for_each(|(i, (ca, cb))| f(i, zeroed(ca), zeroed(cb)));
    // SAFETY: as in `par_fill`, for both (equal chunk counts: the zip covers both).
    unsafe {
        va.set_len(a.0);
        vb.set_len(b.0);
    }
    (va, vb)
}

fn zeroed(c: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    c.fill(MaybeUninit::new(0.0));
    // SAFETY: every element was just written, and MaybeUninit<f32> has f32's layout.
    unsafe { &mut *(c as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_fill_covers_every_chunk_once_from_zero() {
        // 10 floats in chunks of 4: 4, 4 and a short last one of 2.
        let (out, lens) = par_fill(10, 4, |i, o| {
            assert!(o.iter().all(|&v| v == 0.0), "chunk {i} not zeroed");
            for (j, v) in o.iter_mut().enumerate() {
                *v = (i * 100 + j) as f32;
            }
            o.len()
        });
        let want = [0., 1., 2., 3., 100., 101., 102., 103., 200., 201.];
        assert_eq!(out, want);
        assert_eq!(lens, [4, 4, 2]);

        let (a, b) = par_fill2((6, 2), (9, 3), |i, a, b| {
            a.fill(i as f32);
            b[0] = -(i as f32);
        });
        assert_eq!(a, [0., 0., 1., 1., 2., 2.]);
        assert_eq!(b, [0., 0., 0., -1., 0., 0., -2., 0., 0.]);
    }

    #[test]
    #[should_panic(expected = "different chunk counts")]
    fn par_fill2_refuses_outputs_that_do_not_pair_up() {
        par_fill2((6, 2), (6, 3), |_, _, _| {});
    }
}
