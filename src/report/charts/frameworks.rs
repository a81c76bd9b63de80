//! ablate against a reference framework, per dataset.

use super::panels::{Area, FONT, category_chart, legend, strategy_legend};
use crate::report::data::{Results, Stat};
use crate::report::style::colour;
use anyhow::Result;
use plotters::prelude::*;

/// ablate against another framework on the same grid, per dataset: solid bars ablate, pale bars
/// the other, both from zero.
pub(super) fn frameworks<DB: DrawingBackend>(
    root: &Area<DB>,
    data: &Results,
    fw: &str,
    other: &Results,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let title = format!("ablate (solid) against {fw} (pale), same grid, same weights and data");
    let area = legend(root, &title, &strategy_legend(data))?;
    let panels = area.split_evenly((data.datasets.len().max(1), 3));
    let names = &data.strategies;
    for (r, d) in data.datasets.iter().enumerate() {
        for (c, (metric, y_desc, scale)) in [
            ("tokens_per_s", "training tokens per second", 1.0),
            ("peak_rss_bytes", "peak RSS during training (GB)", 1e-9),
            ("ppl_after", "own-style perplexity after training", 1.0),
        ]
        .into_iter()
        .enumerate()
        {
            let pairs: Vec<(Option<Stat>, Option<Stat>)> = names
                .iter()
                .map(|s| (data.stat(d, s, metric), other.stat(d, s, metric)))
                .collect();
            let max = pairs
                .iter()
                .flat_map(|(a, b)| [a, b])
                .flatten()
                .map(|s| s.mean * scale)
                .fold(0.0f64, f64::max);
            let mut chart = category_chart(
                &panels[3 * r + c],
                names,
                &format!("{d}: {y_desc}"),
                y_desc,
                0.0..(max * 1.2).max(1e-9),
                12,
            )?;
            for (i, (s, (a, b))) in names.iter().zip(&pairs).enumerate() {
                let col = colour(s, names);
                let x = i as f64;
                for (v, x0, style) in [
                    (a, x + 0.1, col.filled()),
                    (b, x + 0.5, col.mix(0.35).filled()),
                ] {
                    if let Some(v) = v {
                        chart.draw_series(std::iter::once(Rectangle::new(
                            [(x0, 0.0), (x0 + 0.4, v.mean * scale)],
                            style,
                        )))?;
                    }
                }
                if let (Some(a), Some(b)) = (a, b) {
                    let y = a.mean.max(b.mean) * scale * 1.04;
                    chart.draw_series(std::iter::once(Text::new(
                        format!("x{:.2}", a.mean / b.mean),
                        (x + 0.25, y + max * 0.05),
                        (FONT, 13),
                    )))?;
                }
            }
        }
    }
    Ok(())
}
