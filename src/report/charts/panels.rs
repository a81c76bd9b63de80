//! What every chart is drawn with: the font, legends, category axes, dots with intervals (never a
//! bar on a cut axis), stacked bars, and the interval labels.

use crate::measure::stats::mean;
use crate::report::data::Results;
use crate::report::stats::t_interval;
use crate::report::style::colour;
use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

pub(super) const FONT: &str = "sans-serif";

static DEJAVU: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

pub(super) type Area<'a, DB> = DrawingArea<DB, Shift>;

pub(super) fn register() -> Result<()> {
    register_font(FONT, FontStyle::Normal, DEJAVU)
        .map_err(|_| anyhow!("cannot load the bundled font"))
}

/// A strip of coloured boxes and names above the plots; returns the area below it.
pub(super) fn legend<'a, DB: DrawingBackend>(
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

pub(super) fn strategy_legend(data: &Results) -> Vec<(String, RGBColor)> {
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

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One category per strategy on x (names at the centres), `y` on the value axis; `size` is the
/// tick label size (caption +3, axis description +1).
pub(super) fn category_chart<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    names: &[String],
    caption: &str,
    y_desc: &str,
    y: std::ops::Range<f64>,
    size: u32,
) -> Result<Chart<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let fmt = label_of(names);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, size + 3))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d(categories(names.len()), y)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * names.len() + 1)
        .x_label_formatter(&fmt)
        .y_desc(y_desc)
        .label_style((FONT, size))
        .axis_desc_style((FONT, size + 1))
        .draw()?;
    Ok(chart)
}

/// A thin dashed black line (a reference: before training, zero change, a total).
pub(super) fn dashed<DB: DrawingBackend>(
    chart: &mut Chart<DB>,
    from: (f64, f64),
    to: (f64, f64),
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart.draw_series(DashedLineSeries::new(
        vec![from, to],
        6,
        4,
        BLACK.stroke_width(1),
    ))?;
    Ok(())
}

/// A value with its 95% t interval over seeds or repeats (None with fewer than two).
#[derive(Clone, Copy, Debug)]
pub(super) struct Point {
    pub(super) mean: f64,
    pub(super) ci: Option<(f64, f64)>,
}

pub(super) fn point(v: &[f64]) -> Option<Point> {
    Some(Point {
        mean: mean(v)?,
        ci: t_interval(v).map(|i| (i.lo, i.hi)),
    })
}

/// The interval label every chart uses.
pub(super) fn over(n: usize, what: &str) -> String {
    if n >= 2 {
        format!("95% t interval over {n} {what}")
    } else {
        format!("one {what}: no interval")
    }
}

/// A range around every value given, padded by 8% (never empty).
pub(super) fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |a, v| {
            (a.0.min(v), a.1.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = 0.08 * (hi - lo).max(1e-6 * hi.abs().max(1.0));
    (lo - pad, hi + pad)
}

/// Dots (one per strategy) with their intervals: no bar, so the axis may start anywhere.
#[allow(clippy::too_many_arguments)]
pub(super) fn dot_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    data: &Results,
    caption: &str,
    y_desc: &str,
    points: &[Option<Point>],
    labels: &[String],
    hline: Option<f64>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let names = &data.strategies;
    let (y0, y1) = padded(
        points
            .iter()
            .flatten()
            .flat_map(|p| {
                [
                    p.mean,
                    p.ci.map_or(p.mean, |c| c.0),
                    p.ci.map_or(p.mean, |c| c.1),
                ]
            })
            .chain(hline),
    );
    let mut chart = category_chart(area, names, caption, y_desc, y0..y1, 13)?;
    if let Some(h) = hline {
        dashed(&mut chart, (0.0, h), (names.len() as f64, h))?;
    }
    for (i, (p, name)) in points.iter().zip(names).enumerate() {
        let x = i as f64 + 0.5;
        let Some(p) = p else {
            let style =
                TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
            let label = labels
                .get(i)
                .filter(|l| !l.is_empty())
                .map_or("no data", |l| l.as_str());
            chart.draw_series(std::iter::once(Text::new(
                label.to_string(),
                (x, (y0 + y1) / 2.0),
                style,
            )))?;
            continue;
        };
        let c = colour(name, names);
        if let Some((lo, hi)) = p.ci {
            chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                x,
                lo,
                p.mean,
                hi,
                c.stroke_width(2),
                12,
            )))?;
        }
        chart.draw_series(std::iter::once(Circle::new((x, p.mean), 6, c.filled())))?;
        let style = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series(std::iter::once(Text::new(
            labels.get(i).cloned().unwrap_or_default(),
            (x + 0.08, p.mean),
            style,
        )))?;
    }
    Ok(())
}

/// Stacked bars from zero (one per strategy), parts coloured by `parts`, a label above each, an
/// optional dashed line and shaded band.
#[allow(clippy::too_many_arguments)]
pub(super) fn stacked_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    names: &[String],
    caption: &str,
    y_desc: &str,
    stacks: &[Option<Vec<f64>>],
    parts: &[RGBColor],
    labels: &[String],
    hline: Option<f64>,
    band: Option<(f64, f64)>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let top = stacks
        .iter()
        .flatten()
        .map(|v| v.iter().sum::<f64>())
        .chain(hline)
        .chain(band.map(|b| b.1))
        .fold(0.0f64, f64::max);
    let y1 = if top > 0.0 { top * 1.18 } else { 1.0 };
    let mut chart = category_chart(area, names, caption, y_desc, 0.0..y1, 13)?;
    if let Some((lo, hi)) = band {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, lo), (names.len() as f64, hi)],
            RGBColor(200, 200, 200).mix(0.5).filled(),
        )))?;
    }
    for (i, stack) in stacks.iter().enumerate() {
        let x = i as f64;
        let Some(stack) = stack else {
            chart.draw_series(std::iter::once(Text::new(
                "no data",
                (x + 0.3, y1 * 0.05),
                (FONT, 12),
            )))?;
            continue;
        };
        let mut base = 0.0;
        for (v, c) in stack.iter().zip(parts) {
            if *v > 0.0 {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x + 0.2, base), (x + 0.8, base + v)],
                    c.filled(),
                )))?;
            }
            base += v;
        }
        let style =
            TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(std::iter::once(Text::new(
            labels.get(i).cloned().unwrap_or_default(),
            (x + 0.5, base + y1 * 0.01),
            style,
        )))?;
    }
    if let Some(h) = hline {
        dashed(&mut chart, (0.0, h), (names.len() as f64, h))?;
    }
    Ok(())
}

/// Colours of the parts of a stack (not strategy colours: the x axis names the strategy).
pub(super) const PARTS: [RGBColor; 5] = [
    RGBColor(66, 99, 140),
    RGBColor(120, 170, 210),
    RGBColor(240, 160, 70),
    RGBColor(150, 200, 120),
    RGBColor(190, 120, 170),
];

pub(super) fn parts_legend(names: &[&str]) -> Vec<(String, RGBColor)> {
    names
        .iter()
        .zip(PARTS)
        .map(|(n, c)| (n.to_string(), c))
        .collect()
}

/// Three significant digits.
pub(super) fn sig3(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

pub(super) fn seeds_in(data: &Results) -> usize {
    let mut seeds: Vec<u64> = data.runs.iter().map(|r| r.seed).collect();
    seeds.sort();
    seeds.dedup();
    seeds.len()
}
