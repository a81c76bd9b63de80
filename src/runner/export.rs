//! Plans for the PyTorch reference backend: everything a run needs, resolved on the Rust side so
//! both frameworks see the same weights, token blocks in the same order, the same trainable set
//! and the same settings (`src/reference/torch_grid.py` reads these files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use candle_core::Device;
use serde::Serialize;

use super::execute::{GridOptions, results_dir, shard_runs};
use super::run_id::run_id;
use crate::config::grid::{Grid, RunConfig};
use crate::config::strategy::LoraSpec;
use crate::config::train::TrainSettings;
use crate::data::Dataset;
use crate::models::{ModelSpec, ParamPlan, WeightSet, build_lm};
use crate::train::Strategy;
use crate::train::batches::Batches;

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
    pub seq_len: usize,
    /// Hugging Face names of the base parameters that train.
    pub trainable: Vec<String>,
    pub lora: Option<LoraSpec>,
    /// Per optimizer step, per micro-batch: `batch_size` blocks of token ids.
    pub batches: Vec<Vec<Vec<Vec<u32>>>>,
    /// Corpus -> (role, eval blocks); the trained corpus first.
    pub eval: Vec<(String, String, Vec<Vec<u32>>)>,
    pub sample_prompt_ids: Vec<u32>,
}

fn model_kind(spec: &ModelSpec) -> Result<(String, String)> {
    Ok(match spec {
        ModelSpec::Alias(k) => ("gguf".into(), k.ensure()?.to_string_lossy().into_owned()),
        ModelSpec::Gguf(p) => (
            "gguf".into(),
            std::fs::canonicalize(p)?.to_string_lossy().into_owned(),
        ),
        ModelSpec::HfDir(p) => (
            "hf".into(),
            std::fs::canonicalize(p)?.to_string_lossy().into_owned(),
        ),
        ModelSpec::Hub(id) => ("hub".into(), id.clone()),
    })
}

fn plan_one(grid: &Grid, cfg: &RunConfig, tok: &tokenizers::Tokenizer) -> Result<ReferencePlan> {
    let spec = ModelSpec::parse(&cfg.model_location)?;
    let arch = spec.arch()?;
    let n_layers = arch.num_layers();
    let strategy = Arc::new(Strategy::new(&cfg.strategy, cfg.strategy_spec.clone())?);
    let mut w = WeightSet::shapes_only("plan", ParamPlan::frozen());
    let lm = build_lm(&arch, &mut w, &Device::Cpu)?;
    let trainable = lm
        .params()
        .iter()
        .map(|p| p.name().to_string())
        .filter(|n| strategy.trains(n, n_layers))
        .collect();
    let s = &cfg.settings;
    let ds = Dataset::load(&cfg.dataset, tok)?;
    let blocks: Vec<Vec<u32>> = ds.train_blocks().iter().map(|b| b.to_vec()).collect();
    let mut order = Batches::new(blocks, s.batch_size, s.seed);
    let batches = (0..s.steps)
        .map(|_| {
            (0..s.grad_accum.max(1))
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
    let mut eval = Vec::new();
    for (d, role) in
        std::iter::once((&cfg.dataset, "own")).chain(cfg.eval_corpora.iter().map(|c| {
            (
                c,
                if c.name == "general" {
                    "general"
                } else {
                    "cross"
                },
            )
        }))
    {
        let set = Dataset::load(d, tok)?;
        let mut b: Vec<Vec<u32>> = set.eval_blocks().iter().map(|x| x.to_vec()).collect();
        if s.eval_blocks > 0 {
            b.truncate(s.eval_blocks);
        }
        eval.push((d.name.clone(), role.to_string(), b));
    }
    let (model_kind, model_location) = model_kind(&spec)?;
    Ok(ReferencePlan {
        run_id: run_id(cfg, FRAMEWORK),
        grid: grid.name.clone(),
        model: cfg.model.clone(),
        model_kind,
        model_location,
        dataset: cfg.dataset.name.clone(),
        strategy: cfg.strategy.clone(),
        strategy_spec: serde_json::to_string(&cfg.strategy_spec)?,
        seed: cfg.seed,
        settings: s.clone(),
        seq_len: cfg.dataset.seq_len,
        trainable,
        lora: strategy.lora().cloned(),
        batches,
        eval,
        sample_prompt_ids: tok
            .encode(s.sample_prompt.as_str(), false)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .get_ids()
            .to_vec(),
    })
}

/// Write one plan file per unfinished PyTorch run of the shard; returns the folder.
pub fn export_plans(grid_path: &Path, opts: &GridOptions) -> Result<(PathBuf, usize)> {
    let grid = Grid::load(grid_path)?;
    let dir = results_dir(&grid, opts);
    let finished = dir.finished()?;
    let plans = dir.root.join(".plans");
    std::fs::create_dir_all(&plans)?;
    let mut tokenizers: BTreeMap<String, tokenizers::Tokenizer> = BTreeMap::new();
    let mut n = 0;
    for (_, cfg) in shard_runs(&grid, opts.shard) {
        let id = run_id(cfg, FRAMEWORK);
        if finished.contains(&id) && !opts.force {
            continue;
        }
        if !tokenizers.contains_key(&cfg.model_location) {
            let ckpt = ModelSpec::parse(&cfg.model_location)?.read(&Device::Cpu)?;
            tokenizers.insert(cfg.model_location.clone(), ckpt.tokenizer);
        }
        let plan = plan_one(&grid, cfg, &tokenizers[&cfg.model_location])?;
        let path = plans.join(format!("{id}.json"));
        std::fs::write(&path, serde_json::to_string(&plan)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        n += 1;
    }
    Ok((plans, n))
}
