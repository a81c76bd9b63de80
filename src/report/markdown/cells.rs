//! Table cells and small pieces every section writes with: intervals, paired changes, run ids,
//! figures.

use crate::report::compare::paired_pct;
use crate::report::data::{Results, Run};
use crate::report::stats::t_interval;
use crate::results::Status;
use std::collections::BTreeSet;
use std::fmt::Write;

pub(super) fn distinct<'a>(runs: &'a [Run], f: impl Fn(&'a Run) -> String) -> String {
    let set: BTreeSet<String> = runs.iter().map(f).collect();
    set.into_iter().collect::<Vec<_>>().join(", ")
}

/// `mean [lo, hi]` (95% t interval) over two or more values, the value alone for one.
pub(super) fn ci(v: &[f64], scale: f64, digits: usize) -> String {
    match (v.len(), t_interval(v)) {
        (0, _) => "n/a".into(),
        (_, Some(i)) => format!(
            "{:.digits$} [{:.digits$}, {:.digits$}]",
            i.estimate * scale,
            i.lo * scale,
            i.hi * scale
        ),
        _ => format!("{:.digits$}", v[0] * scale),
    }
}

/// One value per ok run of the strategy, over every dataset and seed.
pub(super) fn over_runs(data: &Results, s: &str, metric: &str) -> Vec<f64> {
    data.datasets
        .iter()
        .flat_map(|d| data.values(d, s, metric))
        .collect()
}

/// % change of `metric` against full's run with the same dataset and seed: the cell.
pub(super) fn paired_cell(data: &Results, d: &str, s: &str, metric: &str) -> String {
    if s == "full" {
        return "—".into();
    }
    let v = paired_pct(data, d, s, metric);
    if v.is_empty() {
        "n/a".into()
    } else {
        format!("{}%", ci(&v, 1.0, 1))
    }
}

pub(super) fn vs_full(data: &Results, s: &str, metric: &str) -> String {
    if s == "full" {
        return "—".into();
    }
    let v: Vec<f64> = data
        .datasets
        .iter()
        .flat_map(|d| paired_pct(data, d, s, metric))
        .collect();
    if v.is_empty() {
        "n/a".into()
    } else {
        format!("{}%", ci(&v, 1.0, 1))
    }
}

pub(super) fn ids(data: &Results, dataset: Option<&str>, strategy: &str) -> String {
    let v: Vec<&str> = data
        .runs
        .iter()
        .filter(|r| {
            r.strategy == strategy
                && r.status == Status::Ok
                && dataset.is_none_or(|d| r.dataset == d)
        })
        .map(|r| r.run_id.as_str())
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(" ")
    }
}

/// A model source without the machine's folders (`GGUF /root/.cache/x/m.gguf (...)` -> `GGUF
/// m.gguf (...)`): a report must not depend on where the rows were made.
pub(super) fn without_folders(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            if w.starts_with('/') {
                w.rsplit('/').next().unwrap_or(w)
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn one_line(s: &str) -> String {
    s.replace('\n', " ⏎ ").replace('|', "\\|")
}

/// The chart `name.png` with its alt text, if the charts written (`files`) include it.
pub(super) fn figure(o: &mut String, files: &[String], name: &str, alt: &str) {
    if files.iter().any(|f| f == &format!("{name}.png")) {
        let _ = writeln!(o, "![{alt}]({name}.png)\n");
    }
}
