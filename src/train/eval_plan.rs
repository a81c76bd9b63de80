//! What a run scores, decided once for both backends (the candle run in `train::run` and the
//! PyTorch plan in `runner::export`): the eval sample of the trained corpus and of every other
//! corpus in the plan's order, then the validation slice (train blocks held out of training,
//! scored as `<corpus>:validation`); and the train blocks left to train on.

use anyhow::{Result, bail};

use crate::config::train::{TrainSettings, VALIDATION_SUFFIX};
use crate::data::Dataset;
use crate::data::dataset::EvalBlock;

/// Which part of a corpus a set scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Held-out eval text.
    Eval,
    /// Train blocks held out of training.
    Validation,
}

/// One scored set: its corpus name as rows carry it, where its blocks come from, the blocks.
pub struct PlannedSet<'d> {
    pub corpus: String,
    pub dataset: &'d Dataset,
    pub split: Split,
    pub blocks: Vec<EvalBlock<'d>>,
}

pub struct EvalPlan<'d> {
    /// The trained corpus first, then the others in order, then the validation slice if any.
    pub sets: Vec<PlannedSet<'d>>,
    /// The trained corpus's train blocks, less the validation slice.
    pub train_blocks: Vec<&'d [u32]>,
}

/// The plan for `datasets` (the trained corpus first) under `settings`.
pub fn eval_plan<'d>(datasets: &'d [Dataset], settings: &TrainSettings) -> Result<EvalPlan<'d>> {
    let Some(own) = datasets.first() else {
        bail!("an eval plan needs the trained corpus")
    };
    let mut sets = Vec::with_capacity(datasets.len() + 1);
    for ds in datasets {
        sets.push(PlannedSet {
            corpus: ds.name.clone(),
            dataset: ds,
            split: Split::Eval,
            blocks: sample(ds, settings.eval_blocks)?,
        });
    }
    let (validation, train_blocks) = own.validation_split(settings.validation_blocks);
    if !validation.is_empty() {
        sets.push(PlannedSet {
            corpus: format!("{}{VALIDATION_SUFFIX}", own.name),
            dataset: own,
            split: Split::Validation,
            blocks: validation,
        });
    }
    Ok(EvalPlan { sets, train_blocks })
}

/// The stratified eval sample of a dataset, refused when it asks for more than the split has.
fn sample<'d>(ds: &'d Dataset, n: usize) -> Result<Vec<EvalBlock<'d>>> {
    let have = ds.eval_blocks().len();
    if n > have {
        bail!(
            "eval_blocks = {n} but the eval split of `{}` has only {have} blocks of {} tokens",
            ds.name,
            ds.seq_len
        )
    }
    Ok(ds.eval_sample(n))
}
