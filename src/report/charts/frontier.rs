//! The sweep and the frontiers: validation NLL against learning rate per dataset, and per
//! (dataset, probe) each strategy's checkpoints over its rates with its frontier drawn.

use super::panels::{Area, FONT, dashed, legend, padded, strategy_legend};
use crate::report::data::Results;
use crate::report::frontier::{Point, curves_by_seed, mean_points, pareto, probes, rates};
use crate::report::stats::t_interval;
use crate::report::style::colour;
use crate::report::sweep::Pick;
use anyhow::Result;
use plotters::prelude::*;

pub(super) fn learning_rates<DB: DrawingBackend>(
    root: &Area<DB>,
    data: &Results,
    picks: &[Pick],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let area = legend(
        root,
        "Validation NLL after training against learning rate (mean over seeds, 95% t bars; ringed: the pick)",
        &strategy_legend(data),
    )?;
    let datasets: Vec<&String> = data.datasets.iter().collect();
    let panels = area.split_evenly((1, datasets.len().max(1)));
    for (i, d) in datasets.iter().enumerate() {
        let here: Vec<&Pick> = picks.iter().filter(|p| &p.dataset == *d).collect();
        let xs = here
            .iter()
            .flat_map(|p| p.trials.iter().map(|t| t.lr.log10()));
        let ys = here.iter().flat_map(|p| {
            p.trials.iter().flat_map(|t| {
                let i = t.after_interval();
                [
                    t.after,
                    i.as_ref().map_or(t.after, |i| i.lo),
                    i.map_or(t.after, |i| i.hi),
                ]
            })
        });
        // Padded in log space, drawn on a log axis, so that ticks sit at the rates they name.
        let (x0, x1) = padded(xs);
        let (y0, y1) = padded(ys);
        let mut chart = ChartBuilder::on(&panels[i])
            .caption(format!("trained on {d}"), (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d((10f64.powf(x0)..10f64.powf(x1)).log_scale(), y0..y1)?;
        let fmt = |x: &f64| format!("{x:.0e}");
        chart
            .configure_mesh()
            .x_desc("peak learning rate (log scale)")
            .y_desc("validation NLL after training (nats)")
            .x_label_formatter(&fmt)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()?;
        for p in &here {
            let col = colour(&p.strategy, &data.strategies);
            let pts: Vec<(f64, f64)> = p.trials.iter().map(|t| (t.lr, t.after)).collect();
            chart.draw_series(LineSeries::new(pts.iter().copied(), col.stroke_width(2)))?;
            chart.draw_series(pts.iter().map(|q| Circle::new(*q, 4, col.filled())))?;
            for t in &p.trials {
                if let Some(i) = t.after_interval() {
                    chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                        t.lr,
                        i.lo,
                        i.estimate,
                        i.hi,
                        col.stroke_width(1),
                        8,
                    )))?;
                }
            }
            if let Some(t) = p.trials.iter().find(|t| t.lr == p.lr) {
                chart.draw_series(std::iter::once(Circle::new(
                    (t.lr, t.after),
                    9,
                    col.stroke_width(2),
                )))?;
            }
        }
    }
    Ok(())
}

/// One strategy in one panel: each rate's seed-mean checkpoints, its frontier, and t intervals
/// over seeds at final points with several seeds.
struct Lines {
    strategy: String,
    paths: Vec<Vec<Point>>,
    frontier: Vec<Point>,
    bars: Vec<(f64, f64, f64, f64)>,
}

fn lines(data: &Results, d: &str, probe: &str) -> Vec<Lines> {
    let mut out = Vec::new();
    for s in &data.strategies {
        let by = curves_by_seed(data, d, s, probe);
        let mut paths = Vec::new();
        let mut bars = Vec::new();
        for lr in rates(&by) {
            let (pts, _) = mean_points(&by, lr);
            let finals: Vec<Point> = by
                .values()
                .flat_map(|v| v.iter().filter(|(r, _)| *r == lr))
                .filter_map(|(_, c)| c.points().last().copied())
                .collect();
            let ys: Vec<f64> = finals.iter().map(|p| p.change).collect();
            if let (Some(i), Some(last)) = (t_interval(&ys), pts.last()) {
                bars.push((last.gain, i.lo, i.estimate, i.hi));
            }
            paths.push(pts);
        }
        let all: Vec<Point> = paths.iter().flatten().copied().collect();
        if all.is_empty() {
            continue;
        }
        out.push(Lines {
            strategy: s.clone(),
            frontier: pareto(&all),
            paths,
            bars,
        });
    }
    out
}

pub(super) fn frontiers<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let probes = probes(data);
    let area = legend(
        root,
        "x: own-style NLL gained, y: probe NLL change; thin: each rate's checkpoints (off-scale on the top edge), thick: the frontier",
        &strategy_legend(data),
    )?;
    let panels = area.split_evenly((data.datasets.len().max(1), probes.len().max(1)));
    for (r, d) in data.datasets.iter().enumerate() {
        for (c, probe) in probes.iter().enumerate() {
            let ls = lines(data, d, probe);
            let pts = ls.iter().flat_map(|l| l.paths.iter().flatten());
            // The view is the frontiers' neighbourhood: a rate that forgets far more than any
            // frontier point would flatten them all; its points are drawn on the top edge.
            let front = ls.iter().flat_map(|l| l.frontier.iter());
            let (f0, f1) = padded(front.map(|p| p.change).chain([0.0]));
            let cap = f1 + (f1 - f0).max(0.05);
            let (x0, x1) = padded(pts.clone().map(|p| p.gain).chain([0.0]));
            let bar_ys = ls
                .iter()
                .flat_map(|l| l.bars.iter().flat_map(|b| [b.1, b.3]));
            let (y0, y1) = padded(
                pts.map(|p| p.change.min(cap))
                    .chain(bar_ys.map(|y| y.min(cap)))
                    .chain([0.0]),
            );
            let clamp = |q: &Point| (q.gain, q.change.clamp(y0, y1));
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
            for l in &ls {
                let col = colour(&l.strategy, &data.strategies);
                for p in &l.paths {
                    let xy = p.iter().map(clamp);
                    chart.draw_series(LineSeries::new(xy, col.mix(0.45).stroke_width(1)))?;
                    if let Some(q) = p.last() {
                        chart.draw_series(std::iter::once(Circle::new(
                            clamp(q),
                            3,
                            col.filled(),
                        )))?;
                    }
                }
                // Below its first point the frontier is flat: a smaller gain is reachable at no
                // more forgetting (as `frontier::at` reads it).
                let start = l.frontier.first().map(|q| (0.0, q.change));
                let f = start
                    .into_iter()
                    .chain(l.frontier.iter().map(|q| (q.gain, q.change)));
                chart.draw_series(LineSeries::new(f, col.stroke_width(3)))?;
                let c = |y: &f64| y.clamp(y0, y1);
                for (x, lo, m, hi) in &l.bars {
                    chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                        *x,
                        c(lo),
                        c(m),
                        c(hi),
                        col.stroke_width(1),
                        6,
                    )))?;
                }
            }
        }
    }
    Ok(())
}
