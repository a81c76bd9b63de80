//! Resolve a grid once: every run gets its id, its parsed model, its compiled strategy and its
//! parameter counts, and every strategy rule is checked against its model's parameters before any
//! run starts. Each model is parsed once and each strategy compiled once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use super::run_id::run_id;
use crate::config::grid::{Grid, RunConfig};
use crate::data::dataset::text_sha256;
use crate::models::{ArchConfig, ModelSpec, Resolution};
use crate::strategy::Strategy;
use crate::train::plan_accounting;

/// One run, resolved: everything the runner and the child need.
pub struct ResolvedRun {
    pub id: String,
    pub model_sha256: String,
    /// (corpus, sha256 of its cleaned text), the trained corpus first.
    pub corpora_sha256: Vec<(String, String)>,
    pub config: RunConfig,
    pub model: ModelSpec,
    pub strategy: Arc<Strategy>,
    pub params_total: usize,
    pub params_trainable: usize,
}

pub struct ResolvedGrid {
    pub name: String,
    pub path: PathBuf,
    /// One line per model reference that the rule resolved past a local path of the same name.
    pub notes: Vec<String>,
    /// `candle` or `pytorch`: part of every run id.
    pub framework: &'static str,
    pub runs: Vec<ResolvedRun>,
}

/// A grid's model reference by the one rule (`models::spec`), local paths relative to the grid
/// file; the note, if any, names the grid.
pub fn model_of(grid_path: &Path, reference: &str) -> Result<Resolution> {
    let file = grid_path.display();
    let base = grid_path.parent().unwrap_or(Path::new(""));
    let mut r = ModelSpec::resolve(reference, base)
        .with_context(|| format!("{file}: model `{reference}`"))?;
    r.note = r.note.map(|n| format!("{file}: {n}"));
    Ok(r)
}

pub fn resolve(grid: Grid, framework: &'static str) -> Result<ResolvedGrid> {
    let file = grid.path.display().to_string();
    let mut notes = Vec::new();
    let mut models: HashMap<String, (ModelSpec, ArchConfig, String)> = HashMap::new();
    let mut corpora: HashMap<String, String> = HashMap::new();
    let mut strategies: HashMap<String, Arc<Strategy>> = HashMap::new();
    let mut counts: HashMap<(String, String), (usize, usize)> = HashMap::new();
    let mut runs = Vec::with_capacity(grid.runs.len());
    for cfg in grid.runs {
        if !models.contains_key(&cfg.model) {
            let resolved = model_of(&grid.path, &cfg.model)?;
            notes.extend(resolved.note);
            let spec = resolved.spec;
            let arch = spec
                .arch()
                .with_context(|| format!("{file}: model `{}`", cfg.model))?;
            let sha = spec
                .sha256()
                .with_context(|| format!("{file}: model `{}`", cfg.model))?;
            models.insert(cfg.model.clone(), (spec, arch, sha));
        }
        let (spec, arch, model_sha256) = &models[&cfg.model];
        let mut corpora_sha256 = Vec::new();
        for d in std::iter::once(&cfg.dataset).chain(&cfg.eval_corpora) {
            if !corpora.contains_key(&d.name) {
                let sha =
                    text_sha256(d).with_context(|| format!("{file}: dataset `{}`", d.name))?;
                corpora.insert(d.name.clone(), sha);
            }
            corpora_sha256.push((d.name.clone(), corpora[&d.name].clone()));
        }
        if !strategies.contains_key(&cfg.strategy) {
            let s = Strategy::new(&cfg.strategy, cfg.strategy_spec.clone())
                .with_context(|| file.clone())?;
            strategies.insert(cfg.strategy.clone(), Arc::new(s));
        }
        let strategy = strategies[&cfg.strategy].clone();
        let key = (cfg.model.clone(), cfg.strategy.clone());
        if !counts.contains_key(&key) {
            let a = plan_accounting(arch, &strategy)
                .with_context(|| format!("{file}: model `{}`", cfg.model))?;
            counts.insert(key.clone(), (a.total, a.trainable));
        }
        let (params_total, params_trainable) = counts[&key];
        runs.push(ResolvedRun {
            id: run_id(&cfg, framework, model_sha256, &corpora_sha256),
            model_sha256: model_sha256.clone(),
            corpora_sha256,
            model: spec.clone(),
            strategy,
            params_total,
            params_trainable,
            config: cfg,
        });
    }
    Ok(ResolvedGrid {
        name: grid.name,
        path: grid.path,
        notes,
        framework,
        runs,
    })
}
