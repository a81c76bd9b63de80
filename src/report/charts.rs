//! The figures, each drawn once per backend (PNG for reading, SVG for papers). Every chart uses
//! the strategy colours of `style`, puts its legend in a strip above the plot (never over data),
//! and labels its axes with units.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::data::{Results, Stat};
use super::style::colour;

const FONT: &str = "sans-serif";
static DEJAVU: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

type Area<'a, DB> = DrawingArea<DB, Shift>;

fn register() -> Result<()> {
    register_font(FONT, FontStyle::Normal, DEJAVU)
        .map_err(|_| anyhow!("cannot load the bundled font"))
}

macro_rules! render {
    ($out:expr, $files:expr, $name:expr, $size:expr, $draw:expr) => {{
        let png = $out.join(format!("{}.png", $name));
        {
            let root = BitMapBackend::new(&png, $size).into_drawing_area();
            root.fill(&WHITE)?;
            $draw(&root)?;
            root.present()?;
        }
        let svg = $out.join(format!("{}.svg", $name));
        {
            let root = SVGBackend::new(&svg, $size).into_drawing_area();
            root.fill(&WHITE)?;
            $draw(&root)?;
            root.present()?;
        }
        $files.push(format!("{}.png", $name));
        $files.push(format!("{}.svg", $name));
    }};
}

pub fn draw_all(data: &Results, out: &Path) -> Result<Vec<String>> {
    register()?;
    let mut files = Vec::new();
    render!(out, files, "params", (1000, 560), |r| params(r, data));
    render!(out, files, "memory", (1400, 560), |r| memory(r, data));
    render!(out, files, "throughput", (1500, 560), |r| throughput(
        r, data
    ));
    let h = 420 * data.datasets.len().max(1) as u32;
    render!(out, files, "perplexity", (1000, h + 60), |r| perplexity(
        r, data
    ));
    render!(out, files, "loss_curves", (1000, h + 60), |r| loss_curves(
        r, data
    ));
    render!(out, files, "pareto", (1200, 560), |r| pareto(r, data));
    render!(out, files, "forgetting", (1500, h + 60), |r| forgetting(
        r, data
    ));
    for (fw, reference) in &data.references {
        let name = format!("frameworks_{fw}");
        render!(out, files, name, (1800, 560), |r| frameworks(
            r, data, fw, reference
        ));
    }
    Ok(files)
}

/// A strip of coloured boxes and names above the plots; returns the area below it.
fn legend<'a, DB: DrawingBackend>(
    root: &Area<'a, DB>,
    title: &str,
    entries: &[(String, RGBColor)],
) -> Result<Area<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let (top, rest) = root.split_vertically(64);
    top.draw(&Text::new(
        title.to_string(),
        (12, 6),
        (FONT, 20).into_font(),
    ))?;
    let mut x = 14;
    for (name, c) in entries {
        top.draw(&Rectangle::new([(x, 38), (x + 14, 52)], c.filled()))?;
        top.draw(&Text::new(
            name.clone(),
            (x + 20, 38),
            (FONT, 15).into_font(),
        ))?;
        x += 34 + 9 * name.chars().count() as i32;
    }
    Ok(rest)
}

fn strategy_legend(data: &Results) -> Vec<(String, RGBColor)> {
    data.strategies
        .iter()
        .map(|s| (s.clone(), colour(s, &data.strategies)))
        .collect()
}

/// Category axis 0..n; with 2n+1 labels plotters puts ticks every 0.5, and the centres (i + 0.5)
/// carry the names.
fn categories(n: usize) -> std::ops::Range<f64> {
    0f64..n.max(1) as f64
}

fn label_of<'a>(names: &'a [String]) -> impl Fn(&f64) -> String + 'a {
    move |x| {
        let centre = (x - 0.5).rem_euclid(1.0) < 1e-6 || (x - 0.5).rem_euclid(1.0) > 1.0 - 1e-6;
        if centre {
            names.get(x.floor() as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// Bars (one per strategy) with error bars and a text label above each.
#[allow(clippy::too_many_arguments)]
fn bar_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    data: &Results,
    caption: &str,
    y_desc: &str,
    values: &[Option<Stat>],
    labels: &[String],
    reference: Option<f64>,
    floor: Option<f64>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let names = &data.strategies;
    let finite: Vec<f64> = values
        .iter()
        .flatten()
        .map(|s| s.mean + s.std)
        .chain(reference)
        .collect();
    let lo_data: Vec<f64> = values.iter().flatten().map(|s| s.mean - s.std).collect();
    let max = finite.iter().copied().fold(0.0f64, f64::max);
    let min = lo_data.iter().copied().fold(0.0f64, f64::min);
    let y0 = floor.unwrap_or(if min < 0.0 { min * 1.25 } else { 0.0 });
    let y1 = if max > 0.0 {
        max + (max - y0) * 0.22
    } else {
        1.0
    };
    let fmt = label_of(names);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 17))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d(categories(names.len()), y0..y1)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * names.len() + 1)
        .x_label_formatter(&fmt)
        .y_desc(y_desc)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()?;
    for (i, (v, name)) in values.iter().zip(names).enumerate() {
        let Some(s) = v else {
            chart.draw_series(std::iter::once(Text::new(
                "no data",
                (i as f64 + 0.3, y1 * 0.05),
                (FONT, 12),
            )))?;
            continue;
        };
        let c = colour(name, names);
        let x = i as f64;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x + 0.2, floor.unwrap_or(0.0)), (x + 0.8, s.mean)],
            c.filled(),
        )))?;
        if s.n > 1 && s.std > 0.0 {
            chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                x + 0.5,
                s.mean - s.std,
                s.mean,
                s.mean + s.std,
                BLACK.stroke_width(1),
                8,
            )))?;
        }
        // Centred over the bar (under it when negative), clear of the error bar.
        let (y_text, v) = if s.mean >= 0.0 {
            (s.mean + s.std + (y1 - y0) * 0.015, VPos::Bottom)
        } else {
            (s.mean - s.std - (y1 - y0) * 0.015, VPos::Top)
        };
        let style = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, v));
        chart.draw_series(std::iter::once(Text::new(
            labels.get(i).cloned().unwrap_or_default(),
            (x + 0.5, y_text),
            style,
        )))?;
    }
    if let Some(r) = reference {
        chart.draw_series(DashedLineSeries::new(
            vec![(0.0, r), (names.len() as f64, r)],
            6,
            4,
            BLACK.stroke_width(1),
        ))?;
    }
    Ok(())
}

fn params<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let area = legend(
        root,
        "Trainable parameters per strategy",
        &strategy_legend(data),
    )?;
    let values: Vec<Option<Stat>> = data
        .strategies
        .iter()
        .map(|s| {
            data.across_datasets(s, "params_trainable").map(|v| Stat {
                mean: v.mean / 1e6,
                std: 0.0,
                n: 1,
            })
        })
        .collect();
    let labels: Vec<String> = data
        .strategies
        .iter()
        .map(|s| {
            let pct = data
                .across_datasets(s, "trainable_ratio")
                .map_or(f64::NAN, |v| 100.0 * v.mean);
            let m = data
                .across_datasets(s, "params_trainable")
                .map_or(f64::NAN, |v| v.mean / 1e6);
            format!("{m:.2}M ({pct:.1}%)")
        })
        .collect();
    let total = data.runs.first().map(|r| r.params_total / 1e6);
    let caption = match total {
        Some(t) => format!("dashed line: all {t:.1}M parameters"),
        None => String::new(),
    };
    bar_panel(
        &area,
        data,
        &caption,
        "trainable parameters (millions)",
        &values,
        &labels,
        total,
        None,
    )
}

fn change_vs_full(data: &Results, strategy: &str, metric: &str) -> Option<f64> {
    let full = data.across_datasets("full", metric)?;
    let s = data.across_datasets(strategy, metric)?;
    Some(100.0 * (s.mean / full.mean - 1.0))
}

/// Three significant digits.
fn sig3(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

fn gb(s: Stat) -> Stat {
    Stat {
        mean: s.mean / 1e9,
        std: s.std / 1e9,
        n: s.n,
    }
}

fn memory<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let area = legend(
        root,
        "Peak memory during training (change against full)",
        &strategy_legend(data),
    )?;
    let panels = area.split_evenly((1, 2));
    for (panel, (metric, what)) in panels.iter().zip([
        ("peak_mem_bytes", "live heap"),
        ("peak_rss_bytes", "resident set"),
    ]) {
        let values: Vec<Option<Stat>> = data
            .strategies
            .iter()
            .map(|s| data.across_datasets(s, metric).map(gb))
            .collect();
        let labels: Vec<String> = data
            .strategies
            .iter()
            .zip(&values)
            .map(|(s, v)| match (v, change_vs_full(data, s, metric)) {
                (Some(v), Some(c)) if s != "full" => format!("{} ({c:+.1}%)", sig3(v.mean)),
                (Some(v), _) => sig3(v.mean),
                _ => String::new(),
            })
            .collect();
        bar_panel(
            panel,
            data,
            &format!("peak {what}"),
            &format!("peak {what} (GB)"),
            &values,
            &labels,
            None,
            None,
        )?;
    }
    Ok(())
}

fn throughput<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let area = legend(
        root,
        "Training speed (warm-up steps excluded)",
        &strategy_legend(data),
    )?;
    let panels = area.split_evenly((1, 2));
    let tps: Vec<Option<Stat>> = data
        .strategies
        .iter()
        .map(|s| data.across_datasets(s, "tokens_per_s"))
        .collect();
    let labels: Vec<String> = tps
        .iter()
        .map(|v| v.map_or(String::new(), |v| format!("{:.1}", v.mean)))
        .collect();
    bar_panel(
        &panels[0],
        data,
        "throughput",
        "training tokens per second",
        &tps,
        &labels,
        None,
        None,
    )?;
    let p50: Vec<Option<Stat>> = data
        .strategies
        .iter()
        .map(|s| {
            data.across_datasets(s, "step_ms_p50").map(|v| Stat {
                mean: v.mean / 1e3,
                std: v.std / 1e3,
                n: v.n,
            })
        })
        .collect();
    let labels: Vec<String> = data
        .strategies
        .iter()
        .zip(&p50)
        .map(|(s, v)| match (v, data.across_datasets(s, "step_ms_p95")) {
            (Some(v), Some(p95)) => format!("{:.2} (p95 {:.2})", v.mean, p95.mean / 1e3),
            _ => String::new(),
        })
        .collect();
    bar_panel(
        &panels[1],
        data,
        "step time, median (p95 in brackets)",
        "seconds per optimizer step",
        &p50,
        &labels,
        None,
        None,
    )
}

fn perplexity<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let area = legend(
        root,
        "Eval perplexity on the trained style: after training (bars), before (dashed)",
        &strategy_legend(data),
    )?;
    let panels = area.split_evenly((data.datasets.len().max(1), 1));
    for (panel, d) in panels.iter().zip(&data.datasets) {
        let after: Vec<Option<Stat>> = data
            .strategies
            .iter()
            .map(|s| data.stat(d, s, "ppl_after"))
            .collect();
        let before = data
            .strategies
            .iter()
            .find_map(|s| data.stat(d, s, "ppl_before"))
            .map(|s| s.mean);
        let labels: Vec<String> = data
            .strategies
            .iter()
            .zip(&after)
            .map(|(s, v)| match (v, data.stat(d, s, "d_own_pct")) {
                (Some(v), Some(c)) => format!("{:.2} ({:+.1}%)", v.mean, c.mean),
                _ => String::new(),
            })
            .collect();
        let caption = format!("{d}: before training {:.2}", before.unwrap_or(f64::NAN));
        // Perplexities differ by percent, not by orders: start the axis near the data.
        let low = after
            .iter()
            .flatten()
            .map(|s| s.mean - s.std)
            .chain(before)
            .fold(f64::INFINITY, f64::min);
        let floor = low.is_finite().then_some(0.9 * low);
        bar_panel(
            panel,
            data,
            &caption,
            "eval perplexity",
            &after,
            &labels,
            before,
            floor,
        )?;
    }
    Ok(())
}

fn loss_curves<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let area = legend(
        root,
        "Training loss (mean over seeds; band: one standard deviation)",
        &strategy_legend(data),
    )?;
    let panels = area.split_evenly((data.datasets.len().max(1), 1));
    for (panel, d) in panels.iter().zip(&data.datasets) {
        // strategy -> per step (mean, std)
        let mut series = Vec::new();
        for s in &data.strategies {
            let curves: Vec<&Vec<(f64, f64)>> = data
                .ok_runs(d, s)
                .filter_map(|r| data.curves.get(&r.id))
                .collect();
            let len = curves.iter().map(|c| c.len()).min().unwrap_or(0);
            let pts: Vec<(f64, f64, f64)> = (0..len)
                .map(|i| {
                    let v: Vec<f64> = curves.iter().map(|c| c[i].1).collect();
                    let m = v.iter().sum::<f64>() / v.len() as f64;
                    let sd = if v.len() > 1 {
                        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64)
                            .sqrt()
                    } else {
                        0.0
                    };
                    (curves[0][i].0, m, sd)
                })
                .collect();
            series.push((s, pts));
        }
        let all: Vec<&(f64, f64, f64)> = series.iter().flat_map(|(_, p)| p.iter()).collect();
        let x1 = all.iter().map(|p| p.0).fold(1.0f64, f64::max);
        let y0 = all.iter().map(|p| p.1 - p.2).fold(f64::INFINITY, f64::min);
        let y1 = all
            .iter()
            .map(|p| p.1 + p.2)
            .fold(f64::NEG_INFINITY, f64::max);
        let (y0, y1) = if y0.is_finite() {
            (y0 - 0.05 * (y1 - y0), y1 + 0.05 * (y1 - y0))
        } else {
            (0.0, 1.0)
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(d.as_str(), (FONT, 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x1, y0..y1.max(y0 + 1e-6))?;
        chart
            .configure_mesh()
            .x_desc("optimizer step")
            .y_desc("training loss (nats per token)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        for (s, pts) in &series {
            let c = colour(s, &data.strategies);
            if pts.iter().any(|p| p.2 > 0.0) {
                let band: Vec<(f64, f64)> = pts
                    .iter()
                    .map(|p| (p.0, p.1 + p.2))
                    .chain(pts.iter().rev().map(|p| (p.0, p.1 - p.2)))
                    .collect();
                chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.2).filled())))?;
            }
            chart.draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.1)),
                c.stroke_width(2),
            ))?;
        }
    }
    Ok(())
}

fn marker<DB: DrawingBackend>(
    i: usize,
    at: (f64, f64),
    c: RGBColor,
) -> DynElement<'static, DB, (f64, f64)> {
    match i % 3 {
        0 => Circle::new(at, 7, c.filled()).into_dyn(),
        1 => TriangleMarker::new(at, 8, c.filled()).into_dyn(),
        _ => Cross::new(at, 7, c.stroke_width(3)).into_dyn(),
    }
}

fn pareto<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let shapes: Vec<String> = data
        .datasets
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{d}: {}", ["circle", "triangle", "cross"][i % 3]))
        .collect();
    let title = format!(
        "Quality against cost: eval perplexity after training ({})",
        shapes.join(", ")
    );
    let area = legend(root, &title, &strategy_legend(data))?;
    let panels = area.split_evenly((1, 2));
    for (panel, (metric, x_desc, scale)) in panels.iter().zip([
        (
            "peak_mem_bytes",
            "peak live heap during training (GB)",
            1e-9,
        ),
        ("trainable_ratio", "trainable parameters (%)", 100.0),
    ]) {
        let mut pts = Vec::new();
        for (di, d) in data.datasets.iter().enumerate() {
            for s in &data.strategies {
                if let (Some(x), Some(y)) = (data.stat(d, s, metric), data.stat(d, s, "ppl_after"))
                {
                    pts.push((di, s, x.mean * scale, y));
                }
            }
        }
        let (x0, x1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
            (a.0.min(p.2), a.1.max(p.2))
        });
        let (y0, y1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
            (a.0.min(p.3.mean - p.3.std), a.1.max(p.3.mean + p.3.std))
        });
        let (x0, x1) = if x0.is_finite() {
            (
                x0 - 0.08 * (x1 - x0).max(1e-3 * x1.abs().max(1.0)),
                x1 + 0.08 * (x1 - x0).max(1e-3 * x1.abs().max(1.0)),
            )
        } else {
            (0.0, 1.0)
        };
        let (y0, y1) = if y0.is_finite() {
            (
                y0 - 0.08 * (y1 - y0).max(1e-3),
                y1 + 0.08 * (y1 - y0).max(1e-3),
            )
        } else {
            (0.0, 1.0)
        };
        let mut chart = ChartBuilder::on(panel)
            .margin(16)
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
        for (di, s, x, y) in &pts {
            let c = colour(s, &data.strategies);
            if y.n > 1 && y.std > 0.0 {
                chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                    *x,
                    y.mean - y.std,
                    y.mean,
                    y.mean + y.std,
                    c.stroke_width(1),
                    8,
                )))?;
            }
            chart.draw_series(std::iter::once(marker::<DB>(*di, (*x, y.mean), c)))?;
        }
    }
    Ok(())
}

fn forgetting<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let area = legend(
        root,
        "Forgetting: change of eval perplexity on corpora not trained on (higher = more forgetting)",
        &strategy_legend(data),
    )?;
    let rows = data.datasets.len().max(1);
    let panels = area.split_evenly((rows, 2));
    for (r, d) in data.datasets.iter().enumerate() {
        for (c, (metric, what)) in [
            ("d_general_pct", "general English (Austen)"),
            ("d_cross_pct", "the other style"),
        ]
        .iter()
        .enumerate()
        {
            let values: Vec<Option<Stat>> = data
                .strategies
                .iter()
                .map(|s| data.stat(d, s, metric))
                .collect();
            let labels: Vec<String> = values
                .iter()
                .map(|v| v.map_or(String::new(), |v| format!("{:+.1}%", v.mean)))
                .collect();
            bar_panel(
                &panels[r * 2 + c],
                data,
                &format!("trained on {d}: {what}"),
                "perplexity change (%)",
                &values,
                &labels,
                None,
                None,
            )?;
        }
    }
    Ok(())
}

/// ablate against another framework on the same grid: solid bars ablate, pale bars the other.
fn frameworks<DB: DrawingBackend>(
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
    let panels = area.split_evenly((1, 3));
    let names = &data.strategies;
    for (panel, (metric, y_desc, scale)) in panels.iter().zip([
        ("tokens_per_s", "training tokens per second", 1.0),
        ("peak_rss_bytes", "peak RSS during training (GB)", 1e-9),
        (
            "ppl_after",
            "eval perplexity after training (own style)",
            1.0,
        ),
    ]) {
        let pairs: Vec<(Option<Stat>, Option<Stat>)> = names
            .iter()
            .map(|s| {
                (
                    data.across_datasets(s, metric),
                    other.across_datasets(s, metric),
                )
            })
            .collect();
        let max = pairs
            .iter()
            .flat_map(|(a, b)| [a, b])
            .flatten()
            .map(|s| (s.mean + s.std) * scale)
            .fold(0.0f64, f64::max);
        let fmt = label_of(names);
        let mut chart = ChartBuilder::on(panel)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .build_cartesian_2d(categories(names.len()), 0.0..(max * 1.2).max(1e-9))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * names.len() + 1)
            .x_label_formatter(&fmt)
            .y_desc(y_desc)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .draw()?;
        for (i, (s, (a, b))) in names.iter().zip(&pairs).enumerate() {
            let c = colour(s, names);
            let x = i as f64;
            for (v, x0, style) in [(a, x + 0.1, c.filled()), (b, x + 0.5, c.mix(0.35).filled())] {
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
    Ok(())
}
