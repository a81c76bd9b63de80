//! Ratios of paired measurements (ablate over PyTorch within one repeat): median and range.

use crate::measure::stats::median;
use crate::results::BenchRow;

/// ablate over PyTorch for one strategy: the median and range of each repeat's paired ratio.
#[derive(Clone, Debug, PartialEq)]
pub struct Ratio {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// Paired ratios (ablate / PyTorch, repeat by repeat) of `metric` for `strategy` in bench rows.
pub fn paired_ratio(
    rows: &[BenchRow],
    strategy: &str,
    metric: impl Fn(&BenchRow) -> Option<f64>,
) -> Option<Ratio> {
    paired(rows, (strategy, "candle"), (strategy, "pytorch"), metric)
}

/// Ratios of `metric`, repeat by repeat, between two (strategy, framework) measurements.
pub fn paired(
    rows: &[BenchRow],
    num: (&str, &str),
    den: (&str, &str),
    metric: impl Fn(&BenchRow) -> Option<f64>,
) -> Option<Ratio> {
    let of = |(strategy, fw): (&str, &str), rep: u64| {
        rows.iter()
            .find(|r| r.strategy == strategy && r.framework == fw && r.repeat == rep)
            .and_then(&metric)
    };
    let reps: std::collections::BTreeSet<u64> = rows.iter().map(|r| r.repeat).collect();
    let v: Vec<f64> = reps
        .into_iter()
        .filter_map(|rep| Some(of(num, rep)? / of(den, rep)?))
        .filter(|x| x.is_finite())
        .collect();
    Some(Ratio {
        median: median(&v)?,
        min: v.iter().copied().fold(f64::INFINITY, f64::min),
        max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}
