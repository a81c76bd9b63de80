//! RMSNorm (Llama) and LayerNorm (GPT-Neo) with backward passes.
//!
//! candle-nn's fused `rms_norm` / `layer_norm` have no backward: gradients silently stop there.
//! Here the forward is a fused CPU kernel; RMSNorm's backward is one parallel pass too,
//! LayerNorm's is written out in tensor ops. The weight (and bias) gradient is returned only when
//! that parameter trains. Other devices use the
//! composed form, which autograd differentiates by itself.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, D, Layout, Result, Shape, Tensor, bail};

use super::param::Param;
use super::slices::{contiguous_f32, fused_ok, grad_for, par_fill, with_cpu_f32};

#[derive(Clone, Debug)]
pub struct RmsNorm {
    weight: Param,
    eps: f64,
    /// Added to the weight before it scales: 1 for Gemma (`x * (1 + w)`, weights stored
    /// zero-centred), 0 for Llama.
    offset: f64,
}

impl RmsNorm {
    pub fn new(weight: Param, eps: f64) -> Self {
        Self {
            weight,
            eps,
            offset: 0.0,
        }
    }

    /// Gemma's RMSNorm, `norm(x) * (1 + w)`, computed in f32 as transformers' `Gemma3RMSNorm`.
    pub fn one_centred(weight: Param, eps: f64) -> Self {
        Self {
            weight,
            eps,
            offset: 1.0,
        }
    }

    pub fn params(&self) -> Vec<&Param> {
        vec![&self.weight]
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // A vector-sized op: a trainable weight still gets its gradient through it.
        let shifted;
        let w = if self.offset == 0.0 {
            self.weight.tensor()
        } else {
            shifted = self.weight.tensor().affine(1.0, self.offset)?;
            &shifted
        };
        if fused_ok(x) {
            rms_norm_fused(x, w, self.eps)
        } else {
            rms_norm_composed(x, w, self.eps)
        }
    }
}

/// The textbook form, differentiated by candle's autograd; the reference for the fused op.
pub fn rms_norm_composed(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    x.broadcast_div(&(ms + eps)?.sqrt()?)?.broadcast_mul(w)
}

/// A norm's weight (and bias) must have one entry per element of the normalised last dimension;
/// the fused kernels would otherwise read past it or leave part of the row unscaled (the
/// composed forms fail in broadcasting by themselves).
fn check_weight(op: &str, x: &Tensor, w: &Tensor) -> Result<()> {
    let d = x.dim(D::Minus1)?;
    if w.dims() != [d] {
        bail!(
            "{op}: weight of shape {:?} does not match the last dimension ({d}) of its input {:?}",
            w.dims(),
            x.dims()
        )
    }
    Ok(())
}

/// Fused RMSNorm as a custom op, public so tests can compare it with the composed form.
pub fn rms_norm_fused(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    check_weight("rms-norm", x, w)?;
    x.contiguous()?.apply_op2(w, RmsNormOp { eps })
}

/// Rows per parallel task of the RMSNorm backward (a fixed split: deterministic sums).
const ROWS_PER_BLOCK: usize = 32;

struct RmsNormOp {
    eps: f64,
}

impl CustomOp2 for RmsNormOp {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(xs, xl, "rms-norm")?;
        let w = contiguous_f32(ws, wl, "rms-norm weight")?;
        let d = w.len();
        let eps = self.eps as f32;
        let (out, _) = par_fill(x.len(), d, |i, o| {
            let row = &x[i * d..][..d];
            let ms = row.iter().map(|v| v * v).sum::<f32>() / d as f32;
            let r = 1.0 / (ms + eps).sqrt();
            for ((o, v), w) in o.iter_mut().zip(row).zip(w) {
                *o = v * r * w;
            }
        });
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // One parallel pass over rows: xhat = x r with r = 1 / rms(x), g = grad w;
        // dx = r (g - xhat mean(g xhat)); dw = sum over rows of grad xhat.
        let grad = grad.contiguous()?;
        let eps = self.eps as f32;
        let (dx, dw) = with_cpu_f32(&[x, w, &grad], "rms-norm", |t| {
            let (x, w, g) = (t[0], t[1], t[2]);
            let d = w.len();
            // dw sums over rows: per fixed block of rows, then the blocks in order, so the
            // result does not depend on how the threads split the work.
            let block = ROWS_PER_BLOCK * d;
            let (dx, partial) = par_fill(x.len(), block, |b, dx| {
                let (x, g) = (&x[b * block..][..dx.len()], &g[b * block..][..dx.len()]);
                let mut dw = vec![0f32; d];
                for (dx, (x, g)) in dx.chunks_mut(d).zip(x.chunks(d).zip(g.chunks(d))) {
                    let ms = x.iter().map(|v| v * v).sum::<f32>() / d as f32;
                    let r = 1.0 / (ms + eps).sqrt();
                    let mut proj = 0f32;
                    for i in 0..d {
                        let xhat = x[i] * r;
                        proj += g[i] * w[i] * xhat;
                        dw[i] += g[i] * xhat;
                    }
                    proj /= d as f32;
                    for i in 0..d {
                        dx[i] = r * (g[i] * w[i] - x[i] * r * proj);
                    }
                }
                dw
            });
            let mut dw = vec![0f32; d];
            for p in &partial {
                dw.iter_mut().zip(p).for_each(|(a, b)| *a += b);
            }
            Ok((dx, dw))
        })?;
        Ok((grad_for(x, dx)?, grad_for(w, dw)?))
    }
}

/// Sum over every dimension but the last.
fn sum_rows(t: &Tensor) -> Result<Tensor> {
    let d = t.dim(D::Minus1)?;
    t.reshape(((), d))?.sum(0)
}

#[derive(Clone, Debug)]
pub struct LayerNorm {
    weight: Param,
    bias: Param,
    eps: f64,
}

impl LayerNorm {
    pub fn new(weight: Param, bias: Param, eps: f64) -> Self {
        Self { weight, bias, eps }
    }

    pub fn params(&self) -> Vec<&Param> {
        vec![&self.weight, &self.bias]
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if fused_ok(x) {
            layer_norm_fused(x, self.weight.tensor(), self.bias.tensor(), self.eps)
        } else {
            layer_norm_composed(x, self.weight.tensor(), self.bias.tensor(), self.eps)
        }
    }
}

pub fn layer_norm_composed(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    let mu = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mu)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    xc.broadcast_div(&(var + eps)?.sqrt()?)?
        .broadcast_mul(w)?
        .broadcast_add(b)
}

pub fn layer_norm_fused(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    check_weight("layer-norm", x, w)?;
    check_weight("layer-norm", x, b)?;
    x.contiguous()?.apply_op3(w, b, LayerNormOp { eps })
}

struct LayerNormOp {
    eps: f64,
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(xs, xl, "layer-norm")?;
        let w = contiguous_f32(ws, wl, "layer-norm weight")?;
        let b = contiguous_f32(bs, bl, "layer-norm bias")?;
        let d = w.len();
        let eps = self.eps as f32;
        let (out, _) = par_fill(x.len(), d, |i, o| {
            let row = &x[i * d..][..d];
            let mu = row.iter().sum::<f32>() / d as f32;
            let var = row.iter().map(|v| (v - mu) * (v - mu)).sum::<f32>() / d as f32;
            let r = 1.0 / (var + eps).sqrt();
            for (i, o) in o.iter_mut().enumerate() {
                *o = (row[i] - mu) * r * w[i] + b[i];
            }
        });
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let need_dx = x.track_op();
        let x = x.detach();
        let mu = x.mean_keepdim(D::Minus1)?;
        let xc = x.broadcast_sub(&mu)?;
        let r = (xc.sqr()?.mean_keepdim(D::Minus1)? + self.eps)?
            .sqrt()?
            .recip()?;
        let xhat = xc.broadcast_mul(&r)?;
        let dw = w
            .track_op()
            .then(|| sum_rows(&(grad * &xhat)?))
            .transpose()?;
        let db = b.track_op().then(|| sum_rows(grad)).transpose()?;
        if !need_dx {
            return Ok((None, dw, db));
        }
        let g = grad.broadcast_mul(&w.detach())?;
        let g_mean = g.mean_keepdim(D::Minus1)?;
        let proj = (&g * &xhat)?.mean_keepdim(D::Minus1)?;
        let dx = g
            .broadcast_sub(&g_mean)?
            .sub(&xhat.broadcast_mul(&proj)?)?
            .broadcast_mul(&r)?;
        Ok((Some(dx), dw, db))
    }
}
