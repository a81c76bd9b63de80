//! exp over slices for the softmax, cross-entropy, SwiGLU and GeGLU kernels, compiled for the widest
//! vectors the CPU has (AVX-512, AVX2 + FMA, else the build's baseline), picked at run time by
//! `multiversion`. wide's `f32x8::exp` (used before) is fixed at compile time to the baseline,
//! SSE2 here: two 4-lane halves and no rounding instruction; it took ~4 ns per element, 7% of
//! the command thread and a third of the other worker in an eval batch. Rust forms no fused
//! multiply-add on its own, so every target computes the same bits.
//!
//! The exp is Cephes' `expf` (Cody-Waite reduction, degree-5 polynomial), written per lane
//! and branch-free so that LLVM vectorises the loops at each target's width: max relative error
//! 7.3e-8 over [-86, 83] against f64 (AVX-512 host; the test allows 5e-7), exp(-inf) = 0
//! exactly (masked scores), exp(x) = inf past f32's range, NaN stays NaN.

use multiversion::multiversion;

/// Lanes of the partial sums: one AVX-512 vector, two AVX2 ones.
const LANES: usize = 16;

/// exp(x) for one lane; inlined into each target's loop.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that n * LN2_HI is exact for the n here.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23: adding it rounds to the nearest integer (ties to even) for |v| < 2^22, and
    // leaves that integer in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    // Below -105, exp rounds to 0 in f32; above 88.8 it is past f32::MAX.
    let x = x.clamp(-105.0, 88.8);
    let shifted = x * LOG2E + ROUND;
    let n = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = shifted - ROUND;
    let f = x - r * LN2_HI - r * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * f + 1.398_199_9e-3;
    let p = p * f + 8.333_452e-3;
    let p = p * f + 4.166_579_6e-2;
    let p = p * f + 0.166_666_65;
    let p = p * f + 0.5;
    let y = p * (f * f) + f + 1.0;
    // 2^n in two halves, each a normal float for n in [-152, 128]: gives inf above f32's range
    // and rounds to 0 or a subnormal below it.
    let pow2 = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    let half = n >> 1;
    y * pow2(half) * pow2(n - half)
}

/// `x[i] = exp(x[i] - shift) * scale` in place; returns the sum of `exp(x[i] - shift)`.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
pub(crate) fn exp_shifted(x: &mut [f32], shift: f32, scale: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut xs = x.chunks_exact_mut(LANES);
    for x in &mut xs {
        for (v, a) in x.iter_mut().zip(&mut acc) {
            let e = exp(*v - shift);
            *a += e;
            *v = e * scale;
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for v in xs.into_remainder() {
        let e = exp(*v - shift);
        sum += e;
        *v = e * scale;
    }
    sum
}

/// The sum of `exp(x[i] - shift)`, writing nothing.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
pub(crate) fn sum_exp_shifted(x: &[f32], shift: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut xs = x.chunks_exact(LANES);
    for x in &mut xs {
        for (v, a) in x.iter().zip(&mut acc) {
            *a += exp(v - shift);
        }
    }
    acc.iter().sum::<f32>() + xs.remainder().iter().map(|v| exp(v - shift)).sum::<f32>()
}

/// `out[i] = 1 / (1 + exp(-x[i]))`.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
pub(crate) fn sigmoid(x: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), out.len());
    for (x, o) in x.iter().zip(out.iter_mut()) {
        *o = 1.0 / (1.0 + exp(-x));
    }
}

/// `out[i] = 1 / (1 + exp(-k x (1 + a x^2)))`, x = `x[i]`: with k = 2 sqrt(2/pi) and a = 0.044715,
/// GELU's tanh approximation is `x out[i]` (as 1 + tanh(u) = 2 sigmoid(2u), without the
/// cancellation of 1 + tanh for negative u).
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
pub(crate) fn sigmoid_of_cubic(x: &[f32], k: f32, a: f32, out: &mut [f32]) {
    assert_eq!(x.len(), out.len());
    for (x, o) in x.iter().zip(out.iter_mut()) {
        *o = 1.0 / (1.0 + exp(-(k * x * (1.0 + a * x * x))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vector bodies and scalar tails agree with f64's exp to 5e-7 relative over f32's normal
    /// range, -inf gives 0, the ends overflow and underflow as f32 does, NaN stays NaN.
    #[test]
    fn vector_exp_matches_libm() {
        let x: Vec<f32> = (0..1063).map(|i| -85.0 + i as f32 * 0.16).collect();
        let mut y = x.clone();
        let sum = exp_shifted(&mut y, 1.5, 2.0);
        let mut want_sum = 0f64;
        let mut worst = 0f64;
        for (x, y) in x.iter().zip(&y) {
            // The shift is applied in f32, as the kernels do.
            let want = f64::from(x - 1.5).exp();
            want_sum += want;
            let rel = ((f64::from(*y) - 2.0 * want) / (2.0 * want)).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 5e-7, "relative error {worst}");
        assert!(((f64::from(sum) - want_sum) / want_sum).abs() < 1e-6);
        let s = sum_exp_shifted(&x, 1.5);
        assert!(((f64::from(s) - want_sum) / want_sum).abs() < 1e-6);

        let mut masked = vec![f32::NEG_INFINITY; 21];
        masked[19] = 0.0;
        assert_eq!(exp_shifted(&mut masked, 0.0, 1.0), 1.0);
        assert!(
            masked
                .iter()
                .enumerate()
                .all(|(i, v)| *v == f32::from(i == 19))
        );
        // The edge cases in the vector body (the first 32) and again in the scalar tail.
        let edges = [
            89.0,
            88.5,
            -95.0,
            -200.0,
            f32::INFINITY,
            f32::NAN,
            -100.0,
            0.0,
        ];
        let n = 2 * LANES + edges.len();
        let mut ends: Vec<f32> = edges.iter().cycle().take(n).copied().collect();
        exp_shifted(&mut ends, 0.0, 1.0);
        for (i, e) in ends.iter().enumerate() {
            let x = edges[i % edges.len()];
            if x.is_nan() {
                assert!(e.is_nan(), "exp(NaN) = {e}");
                continue;
            }
            // Normal results to 5e-7 relative, subnormal ones to one unit in the last place.
            let want = f64::from(x).exp();
            let ok = if want > f64::from(f32::MAX) {
                *e == f32::INFINITY
            } else {
                let tol = (5e-7 * want).max(f64::from(f32::from_bits(1)));
                (f64::from(*e) - want).abs() <= tol
            };
            assert!(ok, "exp({x}) = {e}, want {want}");
        }

        // GELU (tanh approximation) as x sigmoid_of_cubic(x), against f64's tanh form.
        let c = (2.0 / std::f64::consts::PI).sqrt();
        let xs: Vec<f32> = (0..801).map(|i| -20.0 + i as f32 * 0.05).collect();
        let mut s = vec![0f32; xs.len()];
        sigmoid_of_cubic(&xs, 2.0 * c as f32, 0.044715, &mut s);
        for (x, s) in xs.iter().zip(&s) {
            let x64 = f64::from(*x);
            let want = 0.5 * x64 * (1.0 + (c * (x64 + 0.044715 * x64.powi(3))).tanh());
            let got = f64::from(x * s);
            assert!(
                (got - want).abs() <= 1e-6 * want.abs().max(1e-3),
                "gelu({x}) = {got}, want {want}"
            );
        }

        let g: Vec<f32> = (0..41).map(|i| -100.0 + i as f32 * 5.0).collect();
        let mut s = vec![0f32; g.len()];
        sigmoid(&g, &mut s);
        for (g, s) in g.iter().zip(&s) {
            assert!(
                (s - 1.0 / (1.0 + (-g).exp())).abs() < 1e-7,
                "sigmoid({g}) = {s}"
            );
        }
    }
}
