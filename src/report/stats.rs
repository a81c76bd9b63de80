//! Intervals for the report: a t interval over seeds (or over interleaved bench repeats), and,
//! where there is a single seed, a bootstrap over the items that were scored (eval blocks),
//! labelled as such. Every interval says how it was made.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// An estimate with its 95% interval and how the interval was made.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    pub estimate: f64,
    pub lo: f64,
    pub hi: f64,
    /// Observations behind it (seeds, repeats or blocks).
    pub n: usize,
    pub method: Method,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Student t over `n` independent values (seeds or repeats).
    T,
    /// Percentile bootstrap over `n` scored items of one run: noise of the evaluation only, not
    /// of training (one seed).
    Bootstrap,
}

impl Interval {
    pub fn excludes_zero(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }

    /// `12.3 [10.1, 14.5] (t, 3 seeds)`.
    pub fn show(&self, digits: usize, unit: &str, over: &str) -> String {
        let how = match self.method {
            Method::T => format!("95% t, {} {over}", self.n),
            Method::Bootstrap => format!("95% bootstrap over {} blocks, one seed", self.n),
        };
        format!(
            "{:.digits$}{unit} [{:.digits$}, {:.digits$}] ({how})",
            self.estimate, self.lo, self.hi
        )
    }
}

/// Two-sided 97.5% quantile of Student's t with `df` degrees of freedom.
fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => T[df - 1],
        _ => 1.96 + 2.4 / df as f64,
    }
}

fn mean(v: &[f64]) -> f64 {
    crate::measure::stats::mean(v).unwrap_or(f64::NAN)
}

/// Mean and 95% t interval; `None` for fewer than 2 values (no spread to speak of).
pub fn t_interval(v: &[f64]) -> Option<Interval> {
    if v.len() < 2 {
        return None;
    }
    let m = mean(v);
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    let half = t975(v.len() - 1) * (var / v.len() as f64).sqrt();
    Some(Interval {
        estimate: m,
        lo: m - half,
        hi: m + half,
        n: v.len(),
        method: Method::T,
    })
}

/// Mean and 95% percentile-bootstrap interval (2,000 resamples, fixed seed: reports are
/// deterministic); `None` for fewer than 2 values.
pub fn bootstrap(v: &[f64]) -> Option<Interval> {
    if v.len() < 2 {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut means: Vec<f64> = (0..2000)
        .map(|_| {
            (0..v.len())
                .map(|_| v[rng.random_range(0..v.len())])
                .sum::<f64>()
                / v.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    Some(Interval {
        estimate: mean(v),
        lo: means[49],
        hi: means[1949],
        n: v.len(),
        method: Method::Bootstrap,
    })
}

/// mean(a) - mean(b) with a 95% bootstrap interval, resampling both independently (two
/// different sets of blocks of one run); `None` when either has fewer than 2 values.
pub fn bootstrap_diff(a: &[f64], b: &[f64]) -> Option<Interval> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut draw = |v: &[f64]| {
        (0..v.len())
            .map(|_| v[rng.random_range(0..v.len())])
            .sum::<f64>()
            / v.len() as f64
    };
    let mut d: Vec<f64> = (0..2000).map(|_| draw(a) - draw(b)).collect();
    d.sort_by(f64::total_cmp);
    Some(Interval {
        estimate: mean(a) - mean(b),
        lo: d[49],
        hi: d[1949],
        n: a.len() + b.len(),
        method: Method::Bootstrap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_interval_matches_the_textbook() {
        // mean 2, sd 1, n 3: half-width 4.303 / sqrt(3).
        let i = t_interval(&[1.0, 2.0, 3.0]).unwrap();
        assert!((i.estimate - 2.0).abs() < 1e-12);
        assert!((i.hi - 2.0 - 4.303 / 3f64.sqrt()).abs() < 1e-9);
        assert!(t_interval(&[1.0]).is_none());
        assert!(!i.excludes_zero() && t_interval(&[2.0, 3.0, 4.0]).unwrap().excludes_zero());
        assert!(!t_interval(&[-1.0, 1.0, 0.5]).unwrap().excludes_zero());
    }

    #[test]
    fn bootstrap_is_deterministic_and_covers_the_mean() {
        let v: Vec<f64> = (0..64).map(|i| (i % 7) as f64 - 3.0).collect();
        let a = bootstrap(&v).unwrap();
        assert_eq!(Some(a.clone()), bootstrap(&v));
        assert!(a.lo < a.estimate && a.estimate < a.hi);
        assert_eq!(a.method, Method::Bootstrap);
    }
}
