//! The charts of REPORT.md, drawn with plotters as PNG and SVG: one file per section (cost,
//! quality, forgetting, frameworks) on the shared panels of `panels`.

mod cost;
mod forgetting;
mod frameworks;
mod frontier;
mod panels;
mod quality;

use crate::report::data::Results;
use crate::report::sweep::Pick;
use anyhow::Result;
use cost::{memory, params, throughput};
pub(crate) use forgetting::probe_names;
use forgetting::{forgetting, pareto};
use frameworks::frameworks;
use panels::register;
use plotters::prelude::*;
use quality::{loss_curves, perplexity};
use std::path::Path;

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

/// `data`: the runs at each cell's picked rate; `all`: every run; `picks`: the sweep's picks
/// (empty without sweeps).
pub fn draw_all(data: &Results, all: &Results, picks: &[Pick], out: &Path) -> Result<Vec<String>> {
    register()?;
    let mut files = Vec::new();
    if !picks.is_empty() {
        let n = all.datasets.len().max(1) as u32;
        // At least the width the title needs with one dataset's panel.
        render!(
            out,
            files,
            "learning_rates",
            ((560 * n + 40).max(1000), 480),
            |r| { frontier::learning_rates(r, all, picks) }
        );
    }
    let frontier_probes = crate::report::frontier::probes(all).len() as u32;
    if frontier_probes > 0 && !all.evidence.eval_curves.is_empty() {
        let rows = all.datasets.len().max(1) as u32;
        render!(
            out,
            files,
            "frontiers",
            (420 * frontier_probes + 40, 420 * rows + 64),
            |r| frontier::frontiers(r, all)
        );
    }
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
