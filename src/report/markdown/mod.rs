//! REPORT.md: setup, claims with verdicts, each chart with the table behind it (every row lists
//! the run ids it comes from), samples, and every run; one file per section.

mod cells;
mod cost;
mod frameworks;
mod frontier;
pub mod models;
mod quality;
mod runs;
mod setup;

use crate::report::claims::Claim;
use crate::report::data::Results;
use crate::report::sweep::Pick;
use cost::{memory, parameters, throughput};
use frameworks::frameworks;
use quality::{forgetting, loss_curves, perplexity, quality_cost};
use runs::{every_run, samples};
use setup::{claims_section, limits, missing, setup, title};

/// `data`: the runs at each cell's picked rate; `all`: every run; `picks`: the sweep's picks
/// (empty without sweeps); `tuning`: how the learning rates were chosen by a separate pilot.
pub fn render(
    data: &Results,
    all: &Results,
    picks: &[Pick],
    claims: &[Claim],
    files: &[String],
    tuning: Option<&str>,
) -> String {
    let mut o = String::new();
    title(&mut o, all);
    setup(&mut o, data);
    missing(&mut o, data);
    claims_section(&mut o, data, claims);
    frontier::learning_rates(&mut o, all, picks, files);
    frontier::frontiers(&mut o, all, files);
    parameters(&mut o, data, files);
    memory(&mut o, data, files);
    throughput(&mut o, data, files);
    perplexity(&mut o, data, files);
    loss_curves(&mut o, data, files);
    quality_cost(&mut o, files);
    forgetting(&mut o, data, files);
    frameworks(&mut o, data);
    samples(&mut o, data);
    limits(&mut o, data, tuning, picks);
    every_run(&mut o, all);
    o
}
