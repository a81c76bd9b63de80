//! Causal multi-head attention as one op, from the q/k/v projections' outputs
//! (batch, seq, heads * head_dim) to the output projection's input (same layout).
//!
//! Composed from candle ops, attention is about a dozen graph nodes per layer (head reshapes and
//! transposes with their copies, RoPE, scaling, grouped-query repeats, two batched products,
//! softmax). candle's backward allocates a zero-filled accumulator and runs an add for every
//! node's input, single-threaded, and its batched product runs the (batch, head) products one
//! after another, each split across all threads. Here one (batch, head) pair (one (batch, kv
//! head) group in backward) is one task on one thread; RoPE and the scale are applied on the
//! fly, and only the probabilities are kept for backward: the rotated q and k are recomputed.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::cpu_gemm::{Mat, product_into as gemm};
use super::matmul::matmul;
use super::rope::RotaryTables;
use super::simd;
use super::slices::{contiguous_f32, fused_ok, grad_for, par_fill, par_fill2, with_cpu_f32};
use super::softmax::causal_softmax;

/// The shape of one attention layer.
#[derive(Clone, Copy, Debug)]
pub struct AttentionSpec {
    pub heads: usize,
    /// Key/value heads; each serves `heads / kv_heads` consecutive query heads.
    pub kv_heads: usize,
    pub head_dim: usize,
    /// Multiplies the scores: 1/sqrt(head_dim) for Llama, 1 for GPT-Neo.
    pub scale: f64,
    /// `Some(w)`: a query sees only the `w` most recent keys, itself included.
    pub window: Option<usize>,
}

/// Attention of q (batch, seq, heads * head_dim) over k and v (batch, seq, kv_heads *
/// head_dim), RoPE first where given; returns (batch, seq, heads * head_dim). On the CPU the
/// graph can be differentiated once: backward takes the saved probabilities.
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    spec: &AttentionSpec,
    rope: Option<&RotaryTables>,
) -> Result<Tensor> {
    if !(fused_ok(q) && fused_ok(k) && fused_ok(v)) {
        return attention_composed(q, k, v, spec, rope);
    }
    check(q, k, v, spec)?;
    let t = q.dim(1)?;
    let tables = match rope {
        Some(r) => {
            if r.half_dim()? * 2 != spec.head_dim {
                bail!(
                    "attention: RoPE tables rotate {} dims, heads have {}",
                    r.half_dim()? * 2,
                    spec.head_dim
                )
            }
            let (cos, sin) = r.tables(t)?;
            Some((
                cos.flatten_all()?.to_vec1::<f32>()?,
                sin.flatten_all()?.to_vec1::<f32>()?,
            ))
        }
        None => None,
    };
    let keep = q.track_op() || k.track_op() || v.track_op();
    super::counters::count_fused_attention();
    let op = Attention {
        spec: *spec,
        rope: tables,
        keep,
        probs: Mutex::new(None),
    };
    q.contiguous()?
        .apply_op3(&k.contiguous()?, &v.contiguous()?, op)
}

fn check(q: &Tensor, k: &Tensor, v: &Tensor, s: &AttentionSpec) -> Result<()> {
    if s.heads == 0 || s.kv_heads == 0 || !s.heads.is_multiple_of(s.kv_heads) {
        bail!(
            "attention: {} query heads cannot share {} key/value heads",
            s.heads,
            s.kv_heads
        )
    }
    if s.head_dim == 0 {
        bail!("attention: heads of 0 dims")
    }
    if s.window == Some(0) {
        bail!("attention: a local window of 0 lets a query see no key")
    }
    let (b, t, qw) = q.dims3()?;
    if b == 0 || t == 0 {
        bail!("attention: empty batch or sequence ({b} x {t})")
    }
    if qw != s.heads * s.head_dim {
        bail!(
            "attention: q has width {qw}, expected {} heads x {}",
            s.heads,
            s.head_dim
        )
    }
    for (name, x) in [("k", k), ("v", v)] {
        if x.dims3()? != (b, t, s.kv_heads * s.head_dim) {
            bail!(
                "attention: {name} has shape {:?}, expected ({b}, {t}, {})",
                x.dims(),
                s.kv_heads * s.head_dim
            )
        }
    }
    Ok(())
}

/// The composed form: the reference for the fused op and the path off the CPU.
pub fn attention_composed(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    spec: &AttentionSpec,
    rope: Option<&RotaryTables>,
) -> Result<Tensor> {
    check(q, k, v, spec)?;
    let (b, t, _) = q.dims3()?;
    let hd = spec.head_dim;
    let heads = |y: &Tensor, n: usize| y.reshape((b, t, n, hd))?.transpose(1, 2)?.contiguous();
    let (mut q, mut k) = (heads(q, spec.heads)?, heads(k, spec.kv_heads)?);
    if let Some(r) = rope {
        q = r.apply(&q)?;
        k = r.apply(&k)?;
    }
    let n_rep = spec.heads / spec.kv_heads;
    let (k, v) = (
        repeat_kv(&k, n_rep)?,
        repeat_kv(&heads(v, spec.kv_heads)?, n_rep)?,
    );
    let q = if spec.scale == 1.0 {
        q
    } else {
        (q * spec.scale)?
    };
    let scores = matmul(&q, &k.t()?)?;
    let probs = causal_softmax(&scores, spec.window)?;
    let y = matmul(&probs, &v.contiguous()?)?;
    y.transpose(1, 2)?.reshape((b, t, spec.heads * hd))
}

/// Grouped-query attention: each key/value head serves `n_rep` consecutive query heads.
fn repeat_kv(x: &Tensor, n_rep: usize) -> Result<Tensor> {
    if n_rep == 1 {
        return Ok(x.clone());
    }
    let (b, n, t, d) = x.dims4()?;
    x.unsqueeze(2)?
        .broadcast_as((b, n, n_rep, t, d))?
        .reshape((b, n * n_rep, t, d))
}

struct Attention {
    spec: AttentionSpec,
    /// cos and sin, (seq, head_dim / 2) each, flattened.
    rope: Option<(Vec<f32>, Vec<f32>)>,
    /// Whether backward will run: only then are the probabilities kept.
    keep: bool,
    /// (batch, heads, seq, seq), written by forward and taken by backward.
    probs: Mutex<Option<Vec<f32>>>,
}

/// Sizes of one call, from q's layout.
#[derive(Clone, Copy)]
struct Dims {
    b: usize,
    t: usize,
    d: usize,
    nq: usize,
    nkv: usize,
}

impl Dims {
    fn n_rep(&self) -> usize {
        self.nq / self.nkv
    }
}

impl Attention {
    fn dims(&self, q: &Layout) -> Result<Dims> {
        let (b, t, _) = q.shape().dims3()?;
        Ok(Dims {
            b,
            t,
            d: self.spec.head_dim,
            nq: self.spec.heads,
            nkv: self.spec.kv_heads,
        })
    }

    /// Head `h` of batch row `bi` from x (b, t, n * d), rotated and scaled, as a (t, d) block.
    fn head(&self, x: &[f32], n: usize, bi: usize, h: usize, dm: Dims, scale: f32) -> Vec<f32> {
        let (t, d) = (dm.t, dm.d);
        let mut out = Vec::with_capacity(t * d);
        for i in 0..t {
            out.extend_from_slice(&x[(bi * t + i) * n * d + h * d..][..d]);
        }
        self.rotate(&mut out, d, false);
        if scale != 1.0 {
            out.iter_mut().for_each(|v| *v *= scale);
        }
        out
    }

    /// RoPE (rotate_half layout) on each (t, d) row of `x` in place; `inverse` rotates back.
    fn rotate(&self, x: &mut [f32], d: usize, inverse: bool) {
        let Some((cos, sin)) = &self.rope else { return };
        let half = d / 2;
        let sign = if inverse { -1.0 } else { 1.0 };
        for (i, row) in x.chunks_exact_mut(d).enumerate() {
            let (c, s) = (&cos[i * half..][..half], &sin[i * half..][..half]);
            let (x1, x2) = row.split_at_mut(half);
            for j in 0..half {
                let (a, b, s) = (x1[j], x2[j], sign * s[j]);
                x1[j] = a * c[j] - b * s;
                x2[j] = b * c[j] + a * s;
            }
        }
    }

    fn softmax_rows(&self, p: &mut [f32], t: usize) {
        for (i, row) in p.chunks_exact_mut(t).enumerate() {
            let lo = self.spec.window.map_or(0, |w| (i + 1).saturating_sub(w));
            let seen = &mut row[lo..=i];
            let max = seen.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let inv = 1.0 / simd::exp_shifted(seen, max, 1.0);
            seen.iter_mut().for_each(|x| *x *= inv);
            row[..lo].fill(0.0);
            row[i + 1..].fill(0.0);
        }
    }
}

/// Copy (b, n, t, d) blocks into the (b, t, n * d) layout.
fn interleave_heads(blocks: &[f32], n: usize, t: usize, d: usize) -> Vec<f32> {
    par_fill(blocks.len(), n * d, |row, o| {
        let (bi, i) = (row / t, row % t);
        for (h, o) in o.chunks_exact_mut(d).enumerate() {
            o.copy_from_slice(&blocks[((bi * n + h) * t + i) * d..][..d]);
        }
    })
    .0
}

impl CustomOp3 for Attention {
    fn name(&self) -> &'static str {
        "attention"
    }

    fn cpu_fwd(
        &self,
        qs: &CpuStorage,
        ql: &Layout,
        ks: &CpuStorage,
        kl: &Layout,
        vs: &CpuStorage,
        vl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let q = contiguous_f32(qs, ql, "attention")?;
        let k = contiguous_f32(ks, kl, "attention")?;
        let v = contiguous_f32(vs, vl, "attention")?;
        let dm = self.dims(ql)?;
        let Dims { t, d, nq, nkv, .. } = dm;
        let scale = self.spec.scale as f32;
        let n_rep = dm.n_rep();
        // One task per (batch, kv head), as in backward: its key head is rotated once for the
        // query heads that share it.
        let (probs, blocks) = par_fill2(
            (dm.b * nq * t * t, n_rep * t * t),
            (q.len(), n_rep * t * d),
            |bg, p, y| {
                let (bi, g) = (bg / nkv, bg % nkv);
                let kh = self.head(k, nkv, bi, g, dm, 1.0);
                let vh = Mat::strided(&v[(bi * t) * nkv * d + g * d..], nkv * d, 1);
                for (r, (p, y)) in p
                    .chunks_exact_mut(t * t)
                    .zip(y.chunks_exact_mut(t * d))
                    .enumerate()
                {
                    let qh = self.head(q, nq, bi, g * n_rep + r, dm, scale);
                    // S = Qh Kh^T, then P = softmax(S) in place, then Yh = P Vh.
                    gemm(p, t, t, d, false, Mat::rows(&qh, d), Mat::cols(&kh, d));
                    self.softmax_rows(p, t);
                    gemm(y, t, d, t, false, Mat::rows(p, t), vh);
                }
            },
        );
        if self.keep {
            *self.probs.lock().map_err(|_| poisoned())? = Some(probs);
        }
        let out = interleave_heads(&blocks, nq, t, d);
        Ok((CpuStorage::F32(out), ql.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let probs = self
            .probs
            .lock()
            .map_err(|_| poisoned())?
            .take()
            .ok_or_else(|| candle_core::Error::Msg("attention: backward ran twice".into()))?;
        let grad = grad.contiguous()?;
        let dm = self.dims(q.layout())?;
        let Dims { b, t, d, nq, nkv } = dm;
        let n_rep = dm.n_rep();
        let scale = self.spec.scale as f32;
        let (need_q, need_k, need_v) = (q.track_op(), k.track_op(), v.track_op());
        let (dq, dk, dv) = with_cpu_f32(&[q, k, v, &grad], "attention", |x| {
            let (q, k, v, dy) = (x[0], x[1], x[2], x[3]);
            let mut dq = vec![0f32; q.len()];
            let mut dk = vec![0f32; k.len()];
            let mut dv = vec![0f32; v.len()];
            // One task per (batch, kv head): it owns the gradients of that key/value head and
            // of the query heads that share it.
            dq.par_chunks_mut(n_rep * t * d)
                .zip(dk.par_chunks_mut(t * d).zip(dv.par_chunks_mut(t * d)))
                .enumerate()
                .for_each(|(bg, (dq, (dk, dv)))| {
                    let (bi, g) = (bg / nkv, bg % nkv);
                    let kh = self.head(k, nkv, bi, g, dm, 1.0);
                    let vh = Mat::strided(&v[(bi * t) * nkv * d + g * d..], nkv * d, 1);
                    let mut ds = vec![0f32; t * t];
                    for (r, dq) in dq.chunks_exact_mut(t * d).enumerate() {
                        let h = g * n_rep + r;
                        let p = &probs[(bi * nq + h) * t * t..][..t * t];
                        let dyh = Mat::strided(&dy[(bi * t) * nq * d + h * d..], nq * d, 1);
                        let first = r == 0;
                        if need_v {
                            // dVh += P^T dYh
                            gemm(dv, t, d, t, !first, Mat::cols(p, t), dyh);
                        }
                        // dP = dYh Vh^T, then dS = P * (dP - rowsum(dP * P)).
                        gemm(&mut ds, t, t, d, false, dyh, vh.transposed());
                        for (drow, prow) in ds.chunks_exact_mut(t).zip(p.chunks_exact(t)) {
                            let dot: f32 = drow.iter().zip(prow).map(|(a, b)| a * b).sum();
                            for (x, p) in drow.iter_mut().zip(prow) {
                                *x = p * (*x - dot);
                            }
                        }
                        if need_q {
                            // dQ = scale * rope^-1(dS Kh)
                            gemm(dq, t, d, t, false, Mat::rows(&ds, t), Mat::rows(&kh, d));
                            self.rotate(dq, d, true);
                            if scale != 1.0 {
                                dq.iter_mut().for_each(|x| *x *= scale);
                            }
                        }
                        if need_k {
                            // dK += rope^-1(dS^T Qh), Qh rotated and scaled
                            let qh = self.head(q, nq, bi, h, dm, scale);
                            gemm(dk, t, d, t, !first, Mat::cols(&ds, t), Mat::rows(&qh, d));
                        }
                    }
                    if need_k {
                        self.rotate(dk, d, true);
                    }
                });
            Ok((
                interleave_heads(&dq, nq, t, d),
                interleave_heads(&dk, nkv, t, d),
                interleave_heads(&dv, nkv, t, d),
            ))
        })?;
        debug_assert_eq!(b * t * nq * d, dq.len());
        Ok((grad_for(q, dq)?, grad_for(k, dk)?, grad_for(v, dv)?))
    }
}

fn poisoned() -> candle_core::Error {
    candle_core::Error::Msg("attention: saved probabilities poisoned".into())
}
