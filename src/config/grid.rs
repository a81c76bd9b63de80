//! The grid file: models x datasets x strategies x seeds, training settings with per-model and
//! per-strategy overrides, custom strategies, excludes. Names, datasets and settings are checked on
//! load; what needs a model (its architecture, the strategy rules against its parameters) is
//! checked by the runner before any run starts.
//!
//! ```toml
//! name = "paper"                      # default: the file's stem; results go to results/<name>/
//! models = ["smollm2-135m"]           # known name, path (relative to this file) or hub id
//! datasets = ["alice", "edgar"]       # names in the dataset catalog
//! strategies = ["full", "lora", "bitfit"]
//! seeds = [0]
//! eval_corpora = ["alice", "edgar", "general"]   # evaluated before and after every run
//! catalog = "datasets.toml"           # relative to this file
//! exclude = [{ strategy = "lora", dataset = "edgar" }]
//! chat_probe = "probes/chat.toml"    # instruct models: score the base model's own replies
//! device = "cpu"                      # or "cuda", "cuda:N" (a build with --features cuda)
//!
//! [train]                             # TrainSettings; seq_len overrides the catalog's
//! steps = 40
//! [overrides.strategy.lora]           # merged over [train] for that strategy
//! lr = 1e-3
//! [overrides.model."smollm2-135m"]
//! batch_size = 2
//! [custom_strategies.bitfit]          # custom strategies (see strategy::spec)
//! train = ['\.bias$']
//! [lr_sweep]                          # a learning-rate sweep: one run per rate
//! full = [1e-4, 3e-4]
//! ```
//!
//! A program too long for one sitting is split into parts: a part file names a `base` (relative
//! to it; a base may have its own) whose keys it inherits and overrides key by key (`[train]` and
//! `[overrides]` merged one level down), so the settings are written once and every part writes
//! into the same results. Relative paths inside a base resolve against the part file, so keep a
//! program's files in one folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::datasets::{Catalog, DatasetSpec};
use super::device::DeviceSpec;
use super::probe::ChatProbe;
use super::read_toml;
use super::train::TrainSettings;
use crate::results::Role;
use crate::strategy::{PRESETS, StrategySpec};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrid {
    name: Option<String>,
    models: Vec<String>,
    datasets: Vec<String>,
    strategies: Vec<String>,
    #[serde(default = "default_seeds")]
    seeds: Vec<u64>,
    eval_corpora: Option<Vec<String>>,
    catalog: Option<PathBuf>,
    seq_len: Option<usize>,
    /// Save every non-LoRA run as a Hugging Face folder (LoRA runs always save a PEFT adapter).
    #[serde(default)]
    save_model: bool,
    /// A chat probe file (relative to this file), scored before, during and after every run.
    chat_probe: Option<PathBuf>,
    #[serde(default)]
    exclude: Vec<Exclude>,
    #[serde(default)]
    train: toml::Table,
    #[serde(default)]
    overrides: Overrides,
    #[serde(default)]
    custom_strategies: BTreeMap<String, StrategySpec>,
    /// Where every run computes (`cpu`, `cuda`, `cuda:N`); `ablate run --device` overrides it.
    #[serde(default)]
    device: DeviceSpec,
    /// Learning rates to try per strategy, one run each (a learning-rate pilot); a strategy not
    /// listed keeps its settings' `lr`.
    #[serde(default)]
    lr_sweep: BTreeMap<String, Vec<f64>>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Overrides {
    #[serde(default)]
    model: BTreeMap<String, toml::Table>,
    #[serde(default)]
    strategy: BTreeMap<String, toml::Table>,
}

/// Leave out every run that matches all the given fields.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Exclude {
    pub model: Option<String>,
    pub dataset: Option<String>,
    pub strategy: Option<String>,
    pub seed: Option<u64>,
}

/// One run of the grid, fully resolved.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    /// The model reference as the grid writes it; the runner resolves it (`models::spec`),
    /// local paths relative to the grid file.
    pub model: String,
    pub dataset: DatasetSpec,
    pub eval_corpora: Vec<DatasetSpec>,
    pub strategy: String,
    pub strategy_spec: StrategySpec,
    pub seed: u64,
    pub settings: TrainSettings,
    /// Save the trained model as a Hugging Face folder (an output option: not part of the id).
    #[serde(default)]
    pub save_model: bool,
    /// Every dataset the grid trains on (the styles), for the role of each eval corpus.
    #[serde(default)]
    pub styles: Vec<String>,
    pub chat_probe: Option<ChatProbe>,
    /// Where the run computes.
    #[serde(default)]
    pub device: DeviceSpec,
    /// The learning rates of the `[lr_sweep]` this run is one of (None: no sweep). Recorded,
    /// not part of the run's identity.
    #[serde(default)]
    pub lr_sweep: Option<Vec<f64>>,
}

/// A sweep's rates as one column value: `1e-4,5e-4`.
pub fn sweep_label(rates: &[f64]) -> String {
    rates
        .iter()
        .map(|r| format!("{r:e}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl RunConfig {
    /// `validation` (train blocks held out for the learning-rate pilot), `own` (the corpus trained on), `cross` (another style the grid trains on), `general` (the
    /// near-domain control) or `probe` (any other corpus: out-of-domain text for forgetting).
    pub fn role_of(&self, corpus: &str) -> Role {
        if corpus.ends_with(super::train::VALIDATION_SUFFIX) {
            Role::Validation
        } else if corpus == self.dataset.name {
            Role::Own
        } else if self.styles.iter().any(|s| s == corpus) {
            Role::Cross
        } else if corpus == "general" {
            Role::General
        } else {
            Role::Probe
        }
    }
}

#[derive(Debug)]
pub struct Grid {
    pub name: String,
    pub path: PathBuf,
    pub runs: Vec<RunConfig>,
}

fn merge(base: &toml::Table, over: &toml::Table, what: &str) -> Result<TrainSettings> {
    let mut t = base.clone();
    for (k, v) in over {
        t.insert(k.clone(), v.clone());
    }
    toml::Value::Table(t)
        .try_into::<TrainSettings>()
        .map_err(|e| anyhow::anyhow!("{what}: {}", e.message()))
}

/// A grid file's table with its `base` (if any, itself possibly with a base) merged under it.
fn grid_table(path: &Path, depth: usize) -> Result<toml::Table> {
    let mut part: toml::Table = read_toml(path)?;
    let Some(base) = part.remove("base") else {
        return Ok(part);
    };
    let file = path.display();
    let Some(base) = base.as_str() else {
        bail!("{file}: `base` must be a path to a grid file")
    };
    let base_path = path.parent().unwrap_or(Path::new(".")).join(base);
    if depth >= 4 {
        bail!("{file}: `base` = \"{base}\": more than 4 bases deep (a cycle?)")
    }
    let mut merged = grid_table(&base_path, depth + 1)
        .map_err(|e| anyhow::anyhow!("{file}: `base` = \"{base}\": {e:#}"))?;
    // Parts write where their base does: the base's name, or its file's stem.
    if !merged.contains_key("name")
        && let Some(stem) = base_path.file_stem()
    {
        merged.insert("name".into(), stem.to_string_lossy().into_owned().into());
    }
    for (k, v) in part {
        match (merged.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(p)) if k == "train" => b.extend(p),
            (Some(toml::Value::Table(b)), toml::Value::Table(p)) if k == "overrides" => {
                // [overrides.KIND.NAME] merged key by key, as [train] is.
                for (kind, over) in p {
                    let Some(toml::Value::Table(bt)) = b.get_mut(&kind) else {
                        b.insert(kind, over);
                        continue;
                    };
                    let toml::Value::Table(pt) = over else {
                        bt.clear();
                        continue;
                    };
                    for (name, keys) in pt {
                        match (bt.get_mut(&name), keys) {
                            (Some(toml::Value::Table(bk)), toml::Value::Table(pk)) => bk.extend(pk),
                            (_, keys) => {
                                bt.insert(name, keys);
                            }
                        }
                    }
                }
            }
            (_, v) => {
                merged.insert(k, v);
            }
        }
    }
    Ok(merged)
}

/// The lists every grid names, itself or through its base (in `RawGrid`'s order).
const GRID_LISTS: [&str; 3] = ["models", "datasets", "strategies"];

impl Grid {
    pub fn load(path: &Path) -> Result<Self> {
        let table: toml::Table = read_toml(path)?;
        let missing: Vec<&str> = GRID_LISTS
            .into_iter()
            .filter(|k| !table.contains_key(*k))
            .collect();
        if !table.contains_key("base") && !missing.is_empty() {
            bail!(
                "{}: not a grid by itself: no `{}` and no `base` (a grid names its models, datasets and \
strategies, or inherits them through `base = \"FILE\"`; a file of shared settings runs through a part \
that names it as its base)",
                path.display(),
                missing.join("`, `")
            );
        }
        // A file without a base parses straight from its text, so errors keep line and column.
        let raw: RawGrid = if table.contains_key("base") {
            toml::Value::Table(grid_table(path, 0)?)
                .try_into()
                .map_err(|e: toml::de::Error| anyhow::anyhow!("{}: {e}", path.display()))?
        } else {
            read_toml(path)?
        };
        Self::resolve(raw, path)
    }

    fn resolve(raw: RawGrid, path: &Path) -> Result<Self> {
        let file = path.display().to_string();
        let here = path.parent().unwrap_or(Path::new("."));
        let name = raw.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map_or_else(|| "grid".into(), |s| s.to_string_lossy().into_owned())
        });
        let catalog = Catalog::load(
            &here.join(
                raw.catalog
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(super::datasets::DEFAULT_CATALOG_NAME)),
            ),
        )?;
        for (field, list) in
            GRID_LISTS
                .into_iter()
                .zip([&raw.models, &raw.datasets, &raw.strategies])
        {
            if list.is_empty() {
                bail!("{file}: `{field}` is empty")
            }
            let mut seen = std::collections::HashSet::new();
            for x in list {
                if !seen.insert(x) {
                    bail!("{file}: `{field}` lists `{x}` twice")
                }
            }
        }
        let resolve_ds = |n: &str| -> Result<DatasetSpec> {
            let mut d = catalog
                .get(n)
                .map_err(|e| anyhow::anyhow!("{file}: {e:#}"))?;
            if let Some(s) = raw.seq_len {
                d.seq_len = s;
            }
            Ok(d)
        };
        let datasets: Vec<DatasetSpec> = raw
            .datasets
            .iter()
            .map(|d| resolve_ds(d))
            .collect::<Result<_>>()?;
        let eval_names = raw
            .eval_corpora
            .clone()
            .unwrap_or_else(|| raw.datasets.clone());
        let eval_corpora: Vec<DatasetSpec> = eval_names
            .iter()
            .map(|d| resolve_ds(d))
            .collect::<Result<_>>()?;

        let custom = &raw.custom_strategies;
        for n in custom.keys() {
            if PRESETS.contains(&n.as_str()) {
                bail!(
                    "{file}: [custom_strategies.{n}] has the name of a built-in preset; choose another name"
                )
            }
        }
        let mut strategies = Vec::new();
        for s in &raw.strategies {
            let spec = match custom.get(s) {
                Some(spec) => spec.clone(),
                None => StrategySpec::preset(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "{file}: strategy `{s}` is neither a preset ({}) nor defined under [custom_strategies.{s}]",
                        PRESETS.join(", ")
                    )
                })?,
            };
            strategies.push((s.clone(), spec));
        }

        for (sname, lrs) in &raw.lr_sweep {
            if !raw.strategies.contains(sname) {
                bail!("{file}: [lr_sweep] `{sname}` names a strategy that is not in the grid")
            }
            if lrs.is_empty() {
                bail!("{file}: [lr_sweep] `{sname}` lists no learning rate")
            }
        }
        for (kind, table, known) in [
            ("model", &raw.overrides.model, &raw.models),
            ("strategy", &raw.overrides.strategy, &raw.strategies),
        ] {
            for key in table.keys() {
                if !known.contains(key) {
                    bail!(
                        "{file}: [overrides.{kind}.\"{key}\"] names a {kind} that is not in the grid"
                    )
                }
            }
        }
        merge(&raw.train, &toml::Table::new(), &format!("{file}: [train]"))?;
        let chat_probe = match &raw.chat_probe {
            Some(p) => Some(ChatProbe::load(&here.join(p))?),
            None => None,
        };

        let mut runs = Vec::new();
        for model in &raw.models {
            for ds in &datasets {
                for (sname, sspec) in &strategies {
                    let lrs: Vec<Option<f64>> = match raw.lr_sweep.get(sname) {
                        Some(l) => l.iter().copied().map(Some).collect(),
                        None => vec![None],
                    };
                    for (&seed, lr) in raw
                        .seeds
                        .iter()
                        .flat_map(|s| lrs.iter().map(move |l| (s, *l)))
                    {
                        let excluded = raw.exclude.iter().any(|x| {
                            x.model.as_ref().is_none_or(|m| m == model)
                                && x.dataset.as_ref().is_none_or(|d| *d == ds.name)
                                && x.strategy.as_ref().is_none_or(|s| s == sname)
                                && x.seed.is_none_or(|s| s == seed)
                        });
                        if excluded {
                            continue;
                        }
                        let empty = toml::Table::new();
                        let mut base = raw.train.clone();
                        for (k, v) in raw.overrides.model.get(model).unwrap_or(&empty) {
                            base.insert(k.clone(), v.clone());
                        }
                        let what = format!("{file}: settings for {model} / {sname}");
                        let mut settings = merge(
                            &base,
                            raw.overrides.strategy.get(sname).unwrap_or(&empty),
                            &what,
                        )?;
                        settings.seed = seed;
                        if let Some(lr) = lr {
                            settings.lr = lr;
                        }
                        settings
                            .check()
                            .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
                        // Own corpus first, then the others in the grid's order.
                        let others: Vec<DatasetSpec> = eval_corpora
                            .iter()
                            .filter(|c| c.name != ds.name)
                            .cloned()
                            .collect();
                        runs.push(RunConfig {
                            model: model.clone(),
                            dataset: ds.clone(),
                            eval_corpora: others,
                            strategy: sname.clone(),
                            strategy_spec: sspec.clone(),
                            seed,
                            settings,
                            save_model: raw.save_model,
                            styles: raw.datasets.clone(),
                            lr_sweep: raw.lr_sweep.get(sname).cloned(),
                            chat_probe: chat_probe.clone(),
                            device: raw.device,
                        });
                    }
                }
            }
        }
        if runs.is_empty() {
            bail!("{file}: the excludes leave no run")
        }
        Ok(Self {
            name,
            path: path.to_path_buf(),
            runs,
        })
    }
}
