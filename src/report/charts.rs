//! The figures, each drawn once per backend (PNG for reading, SVG for papers). Every chart uses
//! the strategy colours of `style`, puts its legend in a strip above the plot (never over data),
//! and labels its axes with units.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::compare::{bench_paired_with_full, full_pair, paired_with_full, pct_change};
use super::data::{Results, Run, Stat};
use super::stats::t_interval;
use super::style::colour;
use crate::measure::stats::mean;

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
    let rows = data.datasets.len().max(1) as u32;
    render!(out, files, "params", (1000, 560), |r| params(r, data));
    render!(out, files, "memory", (1100, 600), |r| memory(r, data));
    render!(out, files, "throughput", (1500, 560), |r| throughput(
        r, data
    ));
    render!(out, files, "perplexity", (1500, 420 * rows + 64), |r| {
        perplexity(r, data)
    });
    render!(out, files, "loss_curves", (1000, 400 * rows + 64), |r| {
        loss_curves(r, data)
    });
    let probes = probe_names(data).len().max(1) as u32;
    render!(
        out,
        files,
        "forgetting",
        (380 * probes + 40, 400 * rows + 64),
        |r| forgetting(r, data)
    );
    render!(out, files, "pareto", (1300, 400 * rows + 64), |r| pareto(
        r, data
    ));
    for (fw, reference) in &data.references {
        let name = format!("frameworks_{fw}");
        render!(out, files, name, (1700, 400 * rows + 64), |r| frameworks(
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

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One category per strategy on x (names at the centres), `y` on the value axis; `size` is the
/// tick label size (caption +3, axis description +1).
fn category_chart<'a, DB: DrawingBackend>(
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
fn dashed<DB: DrawingBackend>(chart: &mut Chart<DB>, from: (f64, f64), to: (f64, f64)) -> Result<()>
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
struct Point {
    mean: f64,
    ci: Option<(f64, f64)>,
}

fn point(v: &[f64]) -> Option<Point> {
    Some(Point {
        mean: mean(v)?,
        ci: t_interval(v).map(|i| (i.lo, i.hi)),
    })
}

/// The interval label every chart uses.
fn over(n: usize, what: &str) -> String {
    if n >= 2 {
        format!("95% t interval over {n} {what}")
    } else {
        format!("one {what}: no interval")
    }
}

/// A range around every value given, padded by 8% (never empty).
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
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
fn dot_panel<DB: DrawingBackend>(
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
fn stacked_panel<DB: DrawingBackend>(
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
const PARTS: [RGBColor; 5] = [
    RGBColor(66, 99, 140),
    RGBColor(120, 170, 210),
    RGBColor(240, 160, 70),
    RGBColor(150, 200, 120),
    RGBColor(190, 120, 170),
];

fn parts_legend(names: &[&str]) -> Vec<(String, RGBColor)> {
    names
        .iter()
        .zip(PARTS)
        .map(|(n, c)| (n.to_string(), c))
        .collect()
}

/// The first ok run of a strategy (parameter counts are the same in every run of it).
fn any_run<'a>(data: &'a Results, s: &'a str) -> Option<&'a Run> {
    data.datasets.iter().find_map(|d| data.ok_runs(d, s).next())
}

fn params<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let groups = ["embeddings", "attention", "mlp", "norms", "adapters"];
    let area = legend(
        root,
        "Trainable parameters per strategy, by group (millions)",
        &parts_legend(&groups),
    )?;
    let stacks: Vec<Option<Vec<f64>>> = data
        .strategies
        .iter()
        .map(|s| {
            let r = any_run(data, s)?;
            groups
                .iter()
                .map(|g| r.get(&format!("trainable_{g}")).map(|v| v / 1e6))
                .collect()
        })
        .collect();
    let labels: Vec<String> = data
        .strategies
        .iter()
        .map(|s| match any_run(data, s) {
            Some(r) => format!(
                "{:.2}M ({:.1}%)",
                r.get("params_trainable").unwrap_or(f64::NAN) / 1e6,
                100.0 * r.get("trainable_ratio").unwrap_or(f64::NAN)
            ),
            None => String::new(),
        })
        .collect();
    let total = data.runs.first().map(|r| r.params_total / 1e6);
    let caption = match total {
        Some(t) => format!("dashed line: all {t:.1}M parameters"),
        None => String::new(),
    };
    stacked_panel(
        &area,
        &data.strategies,
        &caption,
        "trainable parameters (millions)",
        &stacks,
        &PARTS,
        &labels,
        total,
        None,
    )
}

/// Mean over every ok run of a strategy (both datasets, every seed).
fn mean_over_runs(data: &Results, s: &str, metric: &str) -> Option<f64> {
    let v: Vec<f64> = data
        .datasets
        .iter()
        .flat_map(|d| data.values(d, s, metric))
        .collect();
    mean(&v)
}

fn memory<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let parts = [
        ("weights", "mem_weights_bytes"),
        ("gradients", "mem_grads_bytes"),
        ("optimizer state", "mem_optimizer_bytes"),
        ("activations and work buffers", "mem_activations_bytes"),
    ];
    let names: Vec<&str> = parts.iter().map(|p| p.0).collect();
    let area = legend(
        root,
        "Peak live heap during training, by what holds it (GB; mean over runs)",
        &parts_legend(&names),
    )?;
    let stacks: Vec<Option<Vec<f64>>> = data
        .strategies
        .iter()
        .map(|s| {
            parts
                .iter()
                .map(|(_, m)| mean_over_runs(data, s, m).map(|v| v / 1e9))
                .collect()
        })
        .collect();
    let full: Option<f64> = data
        .strategies
        .iter()
        .position(|s| s == "full")
        .and_then(|i| stacks[i].as_ref())
        .map(|v| v.iter().sum());
    let labels: Vec<String> = data
        .strategies
        .iter()
        .zip(&stacks)
        .map(|(s, v)| match (v, full) {
            (Some(v), Some(f)) if s != "full" => {
                let t: f64 = v.iter().sum();
                format!("{} ({:+.1}%)", sig3(t), pct_change(t, f))
            }
            (Some(v), _) => sig3(v.iter().sum()),
            _ => String::new(),
        })
        .collect();
    let caption = if full.is_some() {
        "grey band: the claim, 25-30% below full's peak (counting allocator; CPU heap, not GPU memory)"
    } else {
        "counting allocator; no full run to compare with"
    };
    stacked_panel(
        &area,
        &data.strategies,
        caption,
        "peak live heap (GB)",
        &stacks,
        &PARTS,
        &labels,
        None,
        full.map(|f| (0.70 * f, 0.75 * f)),
    )
}

/// Three significant digits.
fn sig3(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

fn throughput<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let bench = &data.evidence.bench;
    let source = if bench.is_empty() {
        "grid runs, paired by dataset and seed"
    } else {
        "ablate bench, interleaved repeats, paired by repeat"
    };
    let area = legend(
        root,
        &format!("Training speed, warm-up excluded ({source})"),
        &strategy_legend(data),
    )?;
    let panels = area.split_evenly((1, 2));
    // (tokens/s values, change against full in % per pair) per strategy.
    let per: Vec<(Vec<f64>, Vec<f64>)> = data
        .strategies
        .iter()
        .map(|s| {
            if bench.is_empty() {
                let tps = |r: &Run| r.get("tokens_per_s");
                let v = data
                    .datasets
                    .iter()
                    .flat_map(|d| data.values(d, s, "tokens_per_s"))
                    .collect();
                let c = data
                    .datasets
                    .iter()
                    .flat_map(|d| paired_with_full(data, d, s, tps, pct_change))
                    .collect();
                (v, c)
            } else {
                let v = bench
                    .iter()
                    .filter(|((bs, _), _)| bs == s)
                    .map(|(_, (tps, _))| *tps)
                    .collect();
                let c = bench_paired_with_full(data, s, |b| Some(b.0), pct_change);
                (v, c)
            }
        })
        .collect();
    let n = per.iter().map(|p| p.0.len()).max().unwrap_or(0);
    let what = if bench.is_empty() { "runs" } else { "repeats" };
    let points: Vec<Option<Point>> = per.iter().map(|p| point(&p.0)).collect();
    let labels: Vec<String> = points
        .iter()
        .map(|p| p.map_or(String::new(), |p| format!("{:.1}", p.mean)))
        .collect();
    dot_panel(
        &panels[0],
        data,
        &format!("tokens per second ({})", over(n, what)),
        "training tokens per second",
        &points,
        &labels,
        None,
    )?;
    let changes: Vec<Option<Point>> = data
        .strategies
        .iter()
        .zip(&per)
        .map(|(s, p)| if s == "full" { None } else { point(&p.1) })
        .collect();
    let labels: Vec<String> = data
        .strategies
        .iter()
        .zip(&changes)
        .map(|(s, p)| match p {
            _ if s == "full" => "reference".into(),
            Some(p) => format!("{:+.1}%", p.mean),
            None => String::new(),
        })
        .collect();
    dot_panel(
        &panels[1],
        data,
        &format!("change against full, paired ({})", over(n, what)),
        "tokens/s change against full (%)",
        &changes,
        &labels,
        Some(0.0),
    )
}

fn seeds_in(data: &Results) -> usize {
    let mut seeds: Vec<i64> = data.runs.iter().map(|r| r.seed).collect();
    seeds.sort();
    seeds.dedup();
    seeds.len()
}

fn perplexity<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
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

fn loss_curves<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
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
                    let (a, b) = (data.curves.get(&r.id)?, data.curves.get(&full.id)?);
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

/// Curve corpora that are neither a trained style nor a validation slice: the near-domain
/// control first, then the out-of-domain probes.
pub(crate) fn probe_names(data: &Results) -> Vec<String> {
    let mut out: Vec<String> = data
        .evidence
        .eval_curves
        .values()
        .flat_map(|m| m.keys())
        .filter(|c| !data.datasets.contains(c) && !c.contains(':'))
        .cloned()
        .collect();
    out.sort_by_key(|c| (c != "general", c.clone()));
    out.dedup();
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

fn forgetting<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
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
                    .filter_map(|x| learning_path(data, &x.id, d, probe))
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

fn pareto<DB: DrawingBackend>(root: &Area<DB>, data: &Results) -> Result<()>
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

/// ablate against another framework on the same grid, per dataset: solid bars ablate, pale bars
/// the other, both from zero.
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
