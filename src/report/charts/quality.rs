//! Quality charts: perplexity after training and against full, training loss against full's.

use super::panels::{
    Area, FONT, Point, dashed, dot_panel, legend, over, padded, point, seeds_in, strategy_legend,
};
use crate::report::compare::{full_pair, paired_with_full, pct_change};
use crate::report::data::{Results, Run};
use crate::report::style::colour;
use anyhow::Result;
use plotters::prelude::*;

pub(super) fn perplexity<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let n = seeds_in(data);
    let area = legend(
        root,
        &format!(
            "Eval perplexity on the trained style after training ({}; dashed: before training)",
            over(n, "seeds")
        ),
        &strategy_legend(data),
    )?;
    let panels = area.split_evenly((data.datasets.len().max(1), 2));
    for (r, d) in data.datasets.iter().enumerate() {
        let after = |x: &Run| x.get("ppl_after");
        let points: Vec<Option<Point>> = data
            .strategies
            .iter()
            .map(|s| point(&data.values(d, s, "ppl_after")))
            .collect();
        let before = data
            .strategies
            .iter()
            .find_map(|s| data.stat(d, s, "ppl_before"))
            .map(|s| s.mean);
        let labels: Vec<String> = points
            .iter()
            .map(|p| p.map_or(String::new(), |p| format!("{:.2}", p.mean)))
            .collect();
        dot_panel(
            &panels[2 * r],
            data,
            &format!(
                "{d}: perplexity after (before: {:.2})",
                before.unwrap_or(f64::NAN)
            ),
            "eval perplexity",
            &points,
            &labels,
            before,
        )?;
        let diffs: Vec<Option<Point>> = data
            .strategies
            .iter()
            .map(|s| {
                if s == "full" {
                    None
                } else {
                    point(&paired_with_full(data, d, s, after, pct_change))
                }
            })
            .collect();
        let labels: Vec<String> = data
            .strategies
            .iter()
            .zip(&diffs)
            .map(|(s, p)| match p {
                _ if s == "full" => "reference".into(),
                Some(p) => format!("{:+.1}%", p.mean),
                None => String::new(),
            })
            .collect();
        dot_panel(
            &panels[2 * r + 1],
            data,
            &format!("{d}: against full, same seed (lower is better)"),
            "perplexity change against full (%)",
            &diffs,
            &labels,
            Some(0.0),
        )?;
    }
    Ok(())
}

/// Trailing moving average over `w` points: per-step losses of 4 blocks are noisy.
fn smooth(v: &[f64], w: usize) -> Vec<f64> {
    (0..v.len())
        .map(|i| {
            let lo = i + 1 - w.min(i + 1);
            v[lo..=i].iter().sum::<f64>() / (i + 1 - lo) as f64
        })
        .collect()
}

const SMOOTH: usize = 5;

pub(super) fn loss_curves<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let n = seeds_in(data);
    let band = if n >= 2 {
        format!("band: {}", over(n, "seeds"))
    } else {
        "one seed: no band".into()
    };
    let area = legend(
        root,
        &format!(
            "Training loss minus full's on the same batches (moving average of {SMOOTH} steps; {band})"
        ),
        &strategy_legend(data),
    )?;
    let panels = area.split_evenly((data.datasets.len().max(1), 1));
    for (panel, d) in panels.iter().zip(&data.datasets) {
        // strategy -> per step (step, mean, interval)
        let mut series = Vec::new();
        for s in data.strategies.iter().filter(|s| *s != "full") {
            let diffs: Vec<Vec<(f64, f64)>> = data
                .ok_runs(d, s)
                .filter_map(|r| {
                    let full = full_pair(data, r)?;
                    let (a, b) = (data.curves.get(&r.run_id)?, data.curves.get(&full.run_id)?);
                    let len = a.len().min(b.len());
                    let raw: Vec<f64> = (0..len).map(|i| a[i].1 - b[i].1).collect();
                    let sm = smooth(&raw, SMOOTH);
                    Some((0..len).map(|i| (a[i].0, sm[i])).collect())
                })
                .collect();
            let len = diffs.iter().map(Vec::len).min().unwrap_or(0);
            let pts: Vec<(f64, Point)> = (0..len)
                .filter_map(|i| {
                    let v: Vec<f64> = diffs.iter().map(|c| c[i].1).collect();
                    Some((diffs[0][i].0, point(&v)?))
                })
                .collect();
            series.push((s, pts));
        }
        let all = series.iter().flat_map(|(_, p)| p.iter());
        let x1 = all.clone().map(|p| p.0).fold(1.0f64, f64::max);
        let (y0, y1) = padded(
            all.flat_map(|(_, p)| {
                [
                    p.mean,
                    p.ci.map_or(p.mean, |c| c.0),
                    p.ci.map_or(p.mean, |c| c.1),
                ]
            })
            .chain([0.0]),
        );
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{d} (dashed: full)"), (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc("optimizer step")
            .y_desc("loss minus full's (nats per token)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        dashed(&mut chart, (0.0, 0.0), (x1, 0.0))?;
        for (s, pts) in &series {
            let c = colour(s, &data.strategies);
            if pts.iter().all(|p| p.1.ci.is_some()) && !pts.is_empty() {
                let band: Vec<(f64, f64)> = pts
                    .iter()
                    .filter_map(|p| Some((p.0, p.1.ci?.1)))
                    .chain(pts.iter().rev().filter_map(|p| Some((p.0, p.1.ci?.0))))
                    .collect();
                chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.15).filled())))?;
            }
            chart.draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.1.mean)),
                c.stroke_width(2),
            ))?;
        }
    }
    Ok(())
}
