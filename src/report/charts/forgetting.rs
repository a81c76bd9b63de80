//! Learning against forgetting: probe NLL change along the own-style gain, and quality against
//! cost.

use super::panels::{Area, FONT, dashed, legend, over, padded, point, seeds_in, strategy_legend};
use crate::measure::stats::mean;
use crate::report::data::Results;
use crate::report::style::colour;
use crate::results::Role;
use anyhow::Result;
use plotters::prelude::*;

/// Curve corpora in the role of the near-domain control (first) or an out-of-domain probe, as
/// the runner recorded their roles.
pub(crate) fn probe_names(data: &Results) -> Vec<String> {
    let mut out: Vec<String> = data
        .evidence
        .roles
        .iter()
        .filter(|(_, roles)| {
            roles
                .iter()
                .all(|r| matches!(r, Role::General | Role::Probe))
        })
        .map(|(c, _)| c.clone())
        .collect();
    out.sort_by_key(|c| (c != "general", c.clone()));
    out
}

/// One run's (own-style NLL gained, probe NLL change) at every curve step, in nats.
fn learning_path(data: &Results, id: &str, own: &str, probe: &str) -> Option<Vec<(f64, f64)>> {
    let c = data.evidence.eval_curves.get(id)?;
    let (o, p) = (c.get(own)?, c.get(probe)?);
    let (o0, p0) = (o.first()?.1, p.first()?.1);
    Some(
        o.iter()
            .zip(p)
            .filter(|(a, b)| a.0 == b.0)
            .map(|(a, b)| (o0 - a.1, b.1 - p0))
            .collect(),
    )
}

pub(super) fn forgetting<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let probes = probe_names(data);
    let area = legend(
        root,
        &format!(
            "Learning (x: own-style NLL gained) against forgetting (y: probe NLL change), curve steps, mean of {} seed(s)",
            seeds_in(data)
        ),
        &strategy_legend(data),
    )?;
    let panels = area.split_evenly((data.datasets.len().max(1), probes.len().max(1)));
    for (r, d) in data.datasets.iter().enumerate() {
        for (c, probe) in probes.iter().enumerate() {
            let mut lines = Vec::new();
            for s in &data.strategies {
                let paths: Vec<Vec<(f64, f64)>> = data
                    .ok_runs(d, s)
                    .filter_map(|x| learning_path(data, &x.run_id, d, probe))
                    .collect();
                let len = paths.iter().map(Vec::len).min().unwrap_or(0);
                let pts: Vec<(f64, f64)> = (0..len)
                    .filter_map(|i| {
                        let xs: Vec<f64> = paths.iter().map(|p| p[i].0).collect();
                        let ys: Vec<f64> = paths.iter().map(|p| p[i].1).collect();
                        Some((mean(&xs)?, mean(&ys)?))
                    })
                    .collect();
                lines.push((s, pts));
            }
            let all = lines.iter().flat_map(|(_, p)| p.iter());
            let (x0, x1) = padded(all.clone().map(|p| p.0).chain([0.0]));
            let (y0, y1) = padded(all.map(|p| p.1).chain([0.0]));
            let mut chart = ChartBuilder::on(&panels[r * probes.len().max(1) + c])
                .caption(format!("trained on {d}: {probe}"), (FONT, 15))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(x0..x1, y0..y1)?;
            chart
                .configure_mesh()
                .x_desc("own-style NLL gained (nats)")
                .y_desc(format!("{probe} NLL change (nats; up = forgetting)"))
                .label_style((FONT, 12))
                .axis_desc_style((FONT, 12))
                .draw()?;
            dashed(&mut chart, (x0, 0.0), (x1, 0.0))?;
            for (s, pts) in &lines {
                let col = colour(s, &data.strategies);
                chart.draw_series(LineSeries::new(pts.iter().copied(), col.stroke_width(2)))?;
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, col.filled())))?;
            }
        }
    }
    Ok(())
}

pub(super) fn pareto<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let n = seeds_in(data);
    let area = legend(
        root,
        &format!(
            "Quality against cost: own-style perplexity after training ({})",
            over(n, "seeds")
        ),
        &strategy_legend(data),
    )?;
    let panels = area.split_evenly((data.datasets.len().max(1), 2));
    for (r, d) in data.datasets.iter().enumerate() {
        for (c, (metric, x_desc, scale)) in [
            (
                "peak_mem_bytes",
                "peak live heap during training (GB)",
                1e-9,
            ),
            ("trainable_ratio", "trainable parameters (%)", 100.0),
        ]
        .into_iter()
        .enumerate()
        {
            let mut pts = Vec::new();
            for s in &data.strategies {
                let x = mean(&data.values(d, s, metric));
                let y = point(&data.values(d, s, "ppl_after"));
                if let (Some(x), Some(y)) = (x, y) {
                    pts.push((s, x * scale, y));
                }
            }
            let (x0, x1) = padded(pts.iter().map(|p| p.1));
            let (y0, y1) = padded(pts.iter().flat_map(|p| {
                [
                    p.2.mean,
                    p.2.ci.map_or(p.2.mean, |c| c.0),
                    p.2.ci.map_or(p.2.mean, |c| c.1),
                ]
            }));
            let mut chart = ChartBuilder::on(&panels[2 * r + c])
                .caption(d.as_str(), (FONT, 16))
                .margin(14)
                .x_label_area_size(44)
                .y_label_area_size(64)
                .build_cartesian_2d(x0..x1, y0..y1)?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc("eval perplexity after training")
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .draw()?;
            for (s, x, y) in &pts {
                let col = colour(s, &data.strategies);
                if let Some((lo, hi)) = y.ci {
                    chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                        *x,
                        lo,
                        y.mean,
                        hi,
                        col.stroke_width(2),
                        10,
                    )))?;
                }
                chart.draw_series(std::iter::once(Circle::new((*x, y.mean), 6, col.filled())))?;
            }
        }
    }
    Ok(())
}
