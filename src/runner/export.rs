//! Plans for the PyTorch reference backend: everything a run needs, resolved on the Rust side so
//! both frameworks see the same weights, token blocks in the same order, the same trainable set
//! and the same settings (`src/reference/torch_grid.py` reads these files).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use candle_core::Device;
use serde::Serialize;

use super::{GridOptions, ResolvedGrid, ResolvedRun};
use crate::config::grid::sweep_label;
use crate::config::train::TrainSettings;
use crate::data::Dataset;
use crate::results::schema::{self, ColumnKind};
use crate::strategy::LoraSpec;
use crate::train::batches::Batches;
use crate::train::eval_plan::eval_plan;
use crate::train::setup::plan_for;

pub const FRAMEWORK: &str = "pytorch";

#[derive(Serialize)]
pub struct ReferencePlan {
    pub run_id: String,
    pub grid: String,
    pub model: String,
    /// `gguf` (file), `hf` (folder) or `hub` (id).
    pub model_kind: String,
    pub model_location: String,
    pub dataset: String,
    pub strategy: String,
    pub strategy_spec: String,
    pub seed: u64,
    pub settings: TrainSettings,
    /// The sweep's rates as the runs table records them (`lr_sweep`), if the run is in one.
    pub lr_sweep: Option<String>,
    /// The learning rate of every optimizer step (the schedule lives in Rust only).
    pub lrs: Vec<f64>,
    pub seq_len: usize,
    /// Hugging Face names of the base parameters that train.
    pub trainable: Vec<String>,
    pub lora: Option<LoraSpec>,
    /// Per optimizer step, per micro-batch: `batch_size` blocks of token ids.
    pub batches: Vec<Vec<Vec<Vec<u32>>>>,
    /// Corpus -> (role, eval blocks); the trained corpus first.
    pub eval: Vec<(String, String, Vec<Vec<u32>>)>,
    pub sample_prompt_ids: Vec<u32>,
    /// The Parquet columns of each table, (name, kind), as `results::schema` defines them.
    pub schema: BTreeMap<&'static str, Vec<(&'static str, ColumnKind)>>,
    /// The columns of each table that may not be null (a failed run writes their defaults).
    pub required: BTreeMap<&'static str, Vec<&'static str>>,
}

fn plan_one(
    grid: &ResolvedGrid,
    run: &ResolvedRun,
    tok: &tokenizers::Tokenizer,
) -> Result<ReferencePlan> {
    let cfg = &run.config;
    let trainable = plan_for(&run.model.arch()?, &run.strategy, cfg.seed)?
        .trainable
        .into_iter()
        .collect();
    let s = &cfg.settings;
    let datasets = std::iter::once(&cfg.dataset)
        .chain(&cfg.eval_corpora)
        .map(|d| Dataset::load(d, tok))
        .collect::<Result<Vec<_>>>()?;
    // The same sets, in the same order, as the candle run scores.
    let planned = eval_plan(&datasets, s)?;
    let blocks: Vec<Vec<u32>> = planned.train_blocks.iter().map(|b| b.to_vec()).collect();
    let mut order = Batches::new(blocks, s.batch_size, s.seed);
    let batches = (0..s.steps)
        .map(|_| {
            (0..s.grad_accum)
                .map(|_| {
                    order
                        .next_batch()
                        .chunks(cfg.dataset.seq_len)
                        .map(<[u32]>::to_vec)
                        .collect()
                })
                .collect()
        })
        .collect();
    let eval = planned
        .sets
        .iter()
        .map(|p| {
            let ids = p.blocks.iter().map(|b| b.ids.to_vec()).collect();
            (p.corpus.clone(), cfg.role_of(&p.corpus).to_string(), ids)
        })
        .collect();
    let (model_kind, model_location) = run.model.for_reference()?;
    Ok(ReferencePlan {
        run_id: run.id.clone(),
        grid: grid.name.clone(),
        model: cfg.model.clone(),
        model_kind,
        model_location,
        dataset: cfg.dataset.name.clone(),
        strategy: cfg.strategy.clone(),
        strategy_spec: serde_json::to_string(&cfg.strategy_spec)?,
        seed: cfg.seed,
        settings: s.clone(),
        lr_sweep: cfg.lr_sweep.as_deref().map(sweep_label),
        lrs: (0..s.steps).map(|i| s.lr_at(i)).collect(),
        seq_len: cfg.dataset.seq_len,
        trainable,
        lora: run.strategy.lora().cloned(),
        batches,
        eval,
        sample_prompt_ids: tok
            .encode(s.sample_prompt.as_str(), false)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .get_ids()
            .to_vec(),
        schema: schema::TABLES
            .iter()
            .map(|(t, cols)| (*t, cols.iter().map(|c| (c.name, c.kind)).collect()))
            .collect(),
        required: schema::TABLES
            .iter()
            .map(|(t, cols)| {
                let names = cols.iter().filter(|c| !c.nullable).map(|c| c.name);
                (*t, names.collect())
            })
            .collect(),
    })
}

/// Write one plan file per pending PyTorch run of the shard; returns the folder (below the
/// results folder, `.plans/shard-K-of-N/`).
pub fn export_plans(grid: &ResolvedGrid, opts: &GridOptions) -> Result<(PathBuf, usize)> {
    let dir = opts.results_dir(grid);
    // One folder per shard: shards sharing a results folder must not run each other's plans.
    let shard = opts.shard.unwrap_or_else(super::Shard::all);
    let plans = dir
        .root
        .join(".plans")
        .join(format!("shard-{}-of-{}", shard.index, shard.count));
    std::fs::create_dir_all(&plans)
        .with_context(|| format!("cannot create {}", plans.display()))?;
    let mut tokenizers: BTreeMap<String, tokenizers::Tokenizer> = BTreeMap::new();
    let mut n = 0;
    for run in opts.pending(grid, &dir)? {
        let loc = &run.model.location();
        if !tokenizers.contains_key(loc) {
            tokenizers.insert(loc.clone(), run.model.read(&Device::Cpu)?.tokenizer);
        }
        let plan = plan_one(grid, run, &tokenizers[loc])?;
        let path = plans.join(format!("{}.json", run.id));
        std::fs::write(&path, serde_json::to_string(&plan)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        n += 1;
    }
    Ok((plans, n))
}
