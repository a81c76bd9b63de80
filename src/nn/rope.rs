//! Rotary position embedding in the Hugging Face layout (`rotate_half`, not interleaved).
//!
//! The cos/sin tables are constants: as plain tensors in a composed `x*cos + rot(x)*sin`,
//! candle's backward would store an activation-sized gradient for each of them. The fused op
//! keeps them inside and differentiates only through `x`: the inverse rotation, `rope(dy, -sin)`.

use candle_core::{CpuStorage, CustomOp1, D, DType, Device, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::slices::{contiguous_f32, fused_ok};

/// cos and sin tables of shape (max_positions, head_dim / 2).
#[derive(Clone, Debug)]
pub struct RotaryTables {
    cos: Tensor,
    sin: Tensor,
}

impl RotaryTables {
    pub fn new(head_dim: usize, max_pos: usize, theta: f64, device: &Device) -> Result<Self> {
        // RoPE rotates pairs (i, i + head_dim/2): an odd head_dim leaves one element unpaired.
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            bail!("RoPE needs an even head_dim, got {head_dim}")
        }
        let half = head_dim / 2;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| (1.0 / theta.powf(2.0 * i as f64 / head_dim as f64)) as f32)
            .collect();
        let inv_freq = Tensor::from_vec(inv_freq, (1, half), device)?;
        let pos = Tensor::arange(0u32, max_pos as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((max_pos, 1))?;
        let freqs = pos.broadcast_mul(&inv_freq)?;
        Ok(Self {
            cos: freqs.cos()?,
            sin: freqs.sin()?,
        })
    }

    /// Half the head dim: the number of rotated pairs.
    pub fn half_dim(&self) -> Result<usize> {
        self.cos.dim(1)
    }

    /// (cos, sin) for positions 0..seq.
    pub fn tables(&self, seq: usize) -> Result<(Tensor, Tensor)> {
        if seq > self.cos.dim(0)? {
            bail!(
                "sequence of {seq} tokens is longer than the model's {} positions",
                self.cos.dim(0)?
            )
        }
        Ok((self.cos.narrow(0, 0, seq)?, self.sin.narrow(0, 0, seq)?))
    }

    /// Rotate `x` of shape (batch, heads, seq, head_dim) by positions 0..seq.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let (cos, sin) = self.tables(x.dim(2)?)?;
        if fused_ok(x) {
            rope_fused(x, &cos, &sin)
        } else {
            rope_composed(x, &cos, &sin)
        }
    }
}

fn rotate_half(x: &Tensor) -> Result<Tensor> {
    let half = x.dim(D::Minus1)? / 2;
    let x1 = x.narrow(D::Minus1, 0, half)?;
    let x2 = x.narrow(D::Minus1, half, half)?;
    Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)
}

/// The textbook form; the reference for the fused op.
pub fn rope_composed(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let cos = Tensor::cat(&[cos, cos], D::Minus1)?;
    let sin = Tensor::cat(&[sin, sin], D::Minus1)?;
    x.broadcast_mul(&cos)? + rotate_half(x)?.broadcast_mul(&sin)?
}

pub fn rope_fused(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let d = x.dim(D::Minus1)?;
    if !d.is_multiple_of(2) || cos.dim(D::Minus1)? * 2 != d || sin.dims() != cos.dims() {
        bail!(
            "rope: head_dim {d} must be even and twice the tables' width ({:?})",
            cos.dims()
        )
    }
    x.contiguous()?.apply_op1(Rope {
        cos: cos.contiguous()?,
        sin: sin.contiguous()?,
    })
}

struct Rope {
    cos: Tensor,
    sin: Tensor,
}

impl CustomOp1 for Rope {
    fn name(&self) -> &'static str {
        "rope"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(xs, xl, "rope")?;
        let (_, _, seq, d) = xl.shape().dims4()?;
        let half = d / 2;
        let cos = self.cos.flatten_all()?.to_vec1::<f32>()?;
        let sin = self.sin.flatten_all()?.to_vec1::<f32>()?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(d)
            .zip(x.par_chunks(d))
            .enumerate()
            .for_each(|(row, (o, v))| {
                let t = row % seq;
                let (c, s) = (&cos[t * half..][..half], &sin[t * half..][..half]);
                for i in 0..half {
                    let (x1, x2) = (v[i], v[i + half]);
                    o[i] = x1 * c[i] - x2 * s[i];
                    o[i + half] = x2 * c[i] + x1 * s[i];
                }
            });
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        // A rotation's transpose is the rotation by the opposite angle.
        rope_fused(grad, &self.cos, &self.sin.neg()?).map(Some)
    }
}
