//! Matrix products on CPU f32 slices, into fresh buffers that are never zero-filled. candle's CPU
//! matmul zero-fills every output before the product overwrites it (with MKL on the Intel host,
//! memset was 8% of the command thread in a full fine-tuning step); BLAS with beta = 0 and gemm
//! with `read_dst = false` never read the output. The large products run on all threads: MKL's
//! sgemm in an MKL build (as candle's would), the gemm crate on the rayon pool otherwise (as
//! candle's does). Small ones run on the calling thread, many in parallel (attention).

/// A read-only matrix view: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Mat<'a> {
    pub fn strided(data: &'a [f32], rs: usize, cs: usize) -> Self {
        Self { data, rs, cs }
    }

    /// Row-major with `width` columns.
    pub fn rows(data: &'a [f32], width: usize) -> Self {
        Self::strided(data, width, 1)
    }

    /// The transpose of a row-major matrix with `width` columns.
    pub fn cols(data: &'a [f32], width: usize) -> Self {
        Self::strided(data, 1, width)
    }

    pub fn transposed(self) -> Self {
        Self::strided(self.data, self.cs, self.rs)
    }

    /// Whether an (r, c) matrix, r and c > 0, lies inside the data.
    fn fits(&self, r: usize, c: usize) -> bool {
        let last = (r - 1)
            .checked_mul(self.rs)
            .zip((c - 1).checked_mul(self.cs))
            .and_then(|(a, b)| a.checked_add(b));
        last.is_some_and(|i| i < self.data.len())
    }
}

/// Where a product runs.
#[derive(Clone, Copy, PartialEq)]
enum Threads {
    /// On the calling thread: one of many small products run in parallel.
    Caller,
    /// On all threads.
    All,
}

/// lhs (m, k) rhs (k, n) into a new row-major (m, n) buffer, on all threads.
pub(crate) fn product(m: usize, n: usize, k: usize, lhs: Mat, rhs: Mat) -> Vec<f32> {
    let len = m.checked_mul(n).expect("product: output size overflows");
    if m == 0 || n == 0 || k == 0 {
        return vec![0.0; len];
    }
    // gemm's vector kernels (one row or column) view the whole output as a slice: give them an
    // initialised one; everything else writes into bare capacity.
    let mut dst = if m == 1 || n == 1 {
        vec![0.0; len]
    } else {
        Vec::with_capacity(len)
    };
    check(dst.capacity(), m, n, k, lhs, rhs);
    // SAFETY: `check` keeps every read inside the operands and every write inside the capacity;
    // the kernels write all m * n elements without reading them (beta = 0 / read_dst = false),
    // so the buffer is initialised when its length is set.
    unsafe {
        run(dst.as_mut_ptr(), m, n, k, false, lhs, rhs, Threads::All);
        dst.set_len(len);
    }
    dst
}

/// dst (m, n), row-major, = [dst +] lhs (m, k) rhs (k, n), on the calling thread.
pub(crate) fn product_into(
    dst: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
) {
    product_into_on(dst, m, n, k, accumulate, lhs, rhs, Threads::Caller)
}

/// dst (m, n), row-major, = [dst +] lhs (m, k) rhs (k, n), on all threads.
pub(crate) fn product_into_all(
    dst: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
) {
    product_into_on(dst, m, n, k, accumulate, lhs, rhs, Threads::All)
}

#[allow(clippy::too_many_arguments)]
fn product_into_on(
    dst: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
    threads: Threads,
) {
    check(dst.len(), m, n, k, lhs, rhs);
    // SAFETY: `check` keeps every index inside the slices; `dst` is borrowed mutably, so it
    // overlaps neither operand.
    unsafe { run(dst.as_mut_ptr(), m, n, k, accumulate, lhs, rhs, threads) }
}

fn check(dst_len: usize, m: usize, n: usize, k: usize, lhs: Mat, rhs: Mat) {
    assert!(m > 0 && n > 0 && k > 0, "product: empty dimension");
    assert!(
        m.checked_mul(n).is_some_and(|len| dst_len >= len),
        "product: output too small"
    );
    assert!(
        lhs.fits(m, k) && rhs.fits(k, n),
        "product: operand out of bounds"
    );
}

#[allow(clippy::too_many_arguments)]
unsafe fn run(
    dst: *mut f32,
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
    threads: Threads,
) {
    #[cfg(feature = "mkl")]
    if threads == Threads::All && !accumulate {
        if let (Some(a), Some(b)) = (mkl::operand(lhs, m, k), mkl::operand(rhs, k, n)) {
            // SAFETY: as the caller's; the operand layouts are what cblas reads.
            unsafe { mkl::sgemm(dst, m, n, k, a, b) };
            return;
        }
    }
    let parallelism = match threads {
        Threads::Caller => gemm::Parallelism::None,
        Threads::All => gemm::Parallelism::Rayon(rayon::current_num_threads()),
    };
    // SAFETY: as the caller's.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

#[cfg(feature = "mkl")]
mod mkl {
    use super::Mat;

    const ROW_MAJOR: i32 = 101;
    const NO_TRANS: i32 = 111;
    const TRANS: i32 = 112;

    unsafe extern "C" {
        // MKL's CBLAS, linked by candle-core's `mkl` feature.
        fn cblas_sgemm(
            layout: i32,
            trans_a: i32,
            trans_b: i32,
            m: i32,
            n: i32,
            k: i32,
            alpha: f32,
            a: *const f32,
            lda: i32,
            b: *const f32,
            ldb: i32,
            beta: f32,
            c: *mut f32,
            ldc: i32,
        );
    }

    /// (pointer, transpose flag, leading dimension) of a (rows, cols) operand stored row-major
    /// or transposed.
    pub(super) fn operand(x: Mat, rows: usize, cols: usize) -> Option<(*const f32, i32, i32)> {
        let ld = |s: usize| i32::try_from(s.max(1)).ok();
        if x.cs == 1 && x.rs >= cols {
            Some((x.data.as_ptr(), NO_TRANS, ld(x.rs)?))
        } else if x.rs == 1 && x.cs >= rows {
            Some((x.data.as_ptr(), TRANS, ld(x.cs)?))
        } else {
            None
        }
    }

    /// dst (m, n) = a (m, k) b (k, n), row-major, beta = 0.
    pub(super) unsafe fn sgemm(
        dst: *mut f32,
        m: usize,
        n: usize,
        k: usize,
        (a, ta, lda): (*const f32, i32, i32),
        (b, tb, ldb): (*const f32, i32, i32),
    ) {
        let dim = |x: usize| i32::try_from(x).expect("product dimension exceeds i32");
        // SAFETY: the caller checked the operands and the output against m, n and k.
        unsafe {
            cblas_sgemm(
                ROW_MAJOR,
                ta,
                tb,
                dim(m),
                dim(n),
                dim(k),
                1.0,
                a,
                lda,
                b,
                ldb,
                0.0,
                dst,
                dim(n),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
            })
            .collect()
    }

    fn naive(m: usize, n: usize, k: usize, a: Mat, b: Mat) -> Vec<f64> {
        let at = |x: Mat, i: usize, j: usize| f64::from(x.data[i * x.rs + j * x.cs]);
        (0..m * n)
            .map(|o| (0..k).map(|p| at(a, o / n, p) * at(b, p, o % n)).sum())
            .collect()
    }

    fn assert_close(got: &[f32], want: &[f64], what: &str) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(
                (f64::from(*g) - w).abs() < 1e-4 * (1.0 + w.abs()),
                "{what}: {g} vs {w}"
            );
        }
    }

    /// Both entry points against an f64 product: vector shapes, several depth blocks (k > 512),
    /// row-major and transposed operands, an output full of NaN that must not leak into the
    /// result, and accumulation.
    #[test]
    fn products_match_a_naive_product() {
        for (m, n, k) in [
            (1, 64, 700),
            (70, 600, 70),
            (9, 9, 2),
            (300, 5, 513),
            (64, 1, 33),
        ] {
            let (a, b) = (data(m * k, 1), data(k * n, 2));
            for (la, lb) in [
                (Mat::rows(&a, k), Mat::rows(&b, n)),
                (Mat::cols(&a, m), Mat::cols(&b, k)),
            ] {
                let want = naive(m, n, k, la, lb);
                assert_close(&product(m, n, k, la, lb), &want, "product");
                let mut dst = vec![f32::NAN; m * n];
                product_into(&mut dst, m, n, k, false, la, lb);
                assert_close(&dst, &want, "product_into");
                product_into(&mut dst, m, n, k, true, la, lb);
                let twice: Vec<f64> = want.iter().map(|w| 2.0 * w).collect();
                assert_close(&dst, &twice, "accumulate");
            }
        }
        assert_eq!(
            product(2, 3, 0, Mat::rows(&[], 0), Mat::rows(&[], 3)),
            vec![0.0; 6]
        );
    }
}
