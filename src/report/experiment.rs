//! Which runs form one experiment. A results folder may hold several models (each is its own
//! experiment: its cells, picks and verdicts never pool with another model's), but one model's
//! runs under several grids would be pooled into the same (dataset, strategy) cells, so they are
//! refused with what was found, unless pooling is asked for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use polars::prelude::DataFrame;

use crate::results::frame::strings_required;
use crate::results::store::read_table;

/// One experiment: the runs of `model` under `root` (every run there when `model` is None, the
/// knowingly pooled case).
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    pub root: PathBuf,
    pub model: Option<String>,
}

impl Experiment {
    /// The folder its report goes to beside the others (a hub id's `/` is not a folder).
    pub fn folder(&self) -> String {
        self.model
            .as_deref()
            .unwrap_or("pooled")
            .replace(['/', '\\'], "_")
    }
}

/// The experiments under `roots`, one per model, in the order the folders were given (models by
/// name within a folder). `pool`: each folder is one experiment whatever it holds.
pub fn find(roots: &[PathBuf], pool: bool) -> Result<Vec<Experiment>> {
    if roots.is_empty() {
        bail!("no results folder given");
    }
    if pool {
        if roots.len() > 1 {
            bail!(
                "--mix-experiments pools the runs of one results folder; {} were given",
                roots.len()
            )
        }
        return Ok(vec![Experiment {
            root: roots[0].clone(),
            model: None,
        }]);
    }
    let mut out: Vec<Experiment> = Vec::new();
    for root in roots {
        for model in models(root)? {
            if let Some(other) = out.iter().find(|e| e.model.as_deref() == Some(&model)) {
                bail!(
                    "runs of model `{model}` are under both {} and {}: one model is one experiment, so give one of the folders",
                    other.root.display(),
                    root.display()
                )
            }
            out.push(Experiment {
                root: root.clone(),
                model: Some(model),
            });
        }
    }
    Ok(out)
}

/// Every runs row under `root`, or the error that names what was expected.
pub(super) fn runs_table(root: &Path) -> Result<DataFrame> {
    match read_table(root, "runs")? {
        Some(runs) => Ok(runs),
        None => bail!(
            "no results under {} (expected runs/*.parquet)",
            root.display()
        ),
    }
}

/// The models under `root`, each run by one grid (else refused: its cells would mix grids).
fn models(root: &Path) -> Result<Vec<String>> {
    let runs = runs_table(root)?;
    let (grids, models) = (
        strings_required(&runs, "grid")?,
        strings_required(&runs, "model")?,
    );
    let mut found: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (g, m) in grids.into_iter().zip(models) {
        *found.entry(m).or_default().entry(g).or_default() += 1;
    }
    for (m, grids) in &found {
        if grids.len() > 1 {
            let list: Vec<String> = grids
                .iter()
                .map(|(g, n)| format!("grid `{g}` / model `{m}` ({n} runs)"))
                .collect();
            bail!(
                "{} holds runs of {} experiments of model `{m}`: {}; point --results at one grid's folder, or pass --mix-experiments to pool them knowingly",
                root.display(),
                grids.len(),
                list.join(", ")
            )
        }
    }
    Ok(found.into_keys().collect())
}
