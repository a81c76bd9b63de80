//! What a run scores and how: a set of token blocks (or chat replies) with where each came from,
//! scored to a mean NLL per item; the per-corpus result and the curve points.

use crate::data::Dataset;
use crate::data::dataset::EvalBlock;
use crate::eval::chat::reply_nll;
use crate::eval::perplexity;
use crate::measure::stats::mean;
use crate::models::CausalLm;
use anyhow::Result;
use candle_core::Device;

/// What a corpus (or probe) scores: which blocks, spread over which files.
#[derive(Clone, Debug)]
pub struct EvalSource {
    pub corpus: String,
    pub sha256: String,
    pub files: Vec<String>,
    /// (file index, token offset in that file's eval split) of each block; for the chat probe,
    /// (0, instruction index).
    pub blocks: Vec<(usize, usize)>,
    /// Tokens scored in each block.
    pub tokens: Vec<usize>,
}

impl EvalSource {
    /// The `keep` blocks of this source, in that order.
    fn pick(&self, keep: &[usize]) -> Self {
        Self {
            corpus: self.corpus.clone(),
            sha256: self.sha256.clone(),
            files: self.files.clone(),
            blocks: keep.iter().map(|&i| self.blocks[i]).collect(),
            tokens: keep.iter().map(|&i| self.tokens[i]).collect(),
        }
    }
}

/// One corpus's evaluation: its blocks and their mean NLL before and after training.
#[derive(Clone, Debug)]
pub struct CorpusEval {
    pub source: EvalSource,
    pub nll_before: Vec<f64>,
    /// The before scores came from the cache (another run of the same model scored them).
    pub before_cached: bool,
    pub nll_after: Option<Vec<f64>>,
}

fn ppl(nll: &[f64]) -> f64 {
    mean(nll).unwrap_or(f64::NAN).exp()
}

impl CorpusEval {
    pub fn ppl_before(&self) -> f64 {
        ppl(&self.nll_before)
    }
    pub fn ppl_after(&self) -> Option<f64> {
        self.nll_after.as_deref().map(ppl)
    }
}

/// A corpus's curve subset scored after `step` optimizer steps (0 = before training).
#[derive(Clone, Debug, PartialEq)]
pub struct CurvePoint {
    pub step: usize,
    pub corpus: String,
    pub nll: f64,
    pub tokens: usize,
    /// Mean NLL of each block (or reply) of the subset, in the subset's order.
    pub block_nll: Vec<f64>,
}

/// What an eval set scores: token blocks of a corpus, or a chat probe's (prompt, reply) pairs.
#[derive(Clone)]
pub(super) enum Items {
    Blocks(Vec<Vec<u32>>),
    Chat(Vec<(Vec<u32>, Vec<u32>)>),
}

/// One corpus (or probe) as scored: its items and where each came from.
pub(super) struct EvalSet {
    pub(super) source: EvalSource,
    pub(super) items: Items,
}

impl EvalSet {
    pub(super) fn blocks(ds: &Dataset, picks: &[EvalBlock]) -> Self {
        Self {
            source: EvalSource {
                corpus: ds.name.clone(),
                sha256: ds.sha256.clone(),
                files: crate::config::datasets::file_names(&ds.files),
                blocks: picks.iter().map(|b| (b.file, b.offset)).collect(),
                tokens: picks.iter().map(|b| b.ids.len()).collect(),
            },
            items: Items::Blocks(picks.iter().map(|b| b.ids.to_vec()).collect()),
        }
    }

    /// Mean NLL per item, and forward tokens/s for blocks.
    pub(super) fn score(
        &self,
        lm: &dyn CausalLm,
        batch: usize,
        device: &Device,
    ) -> Result<(Vec<f64>, f64)> {
        match &self.items {
            Items::Blocks(b) => {
                let ids: Vec<&[u32]> = b.iter().map(Vec::as_slice).collect();
                let r = perplexity(lm, &ids, batch, device)?;
                Ok((r.block_nll, r.tokens_per_s))
            }
            Items::Chat(pairs) => Ok((reply_nll(lm, pairs, batch, device)?, f64::NAN)),
        }
    }

    /// `n` items evenly spaced through the set (all when it has no more): the curve subset.
    pub(super) fn subset(&self, n: usize) -> Self {
        let k = self.source.blocks.len();
        let keep: Vec<usize> = if n == 0 || n >= k {
            (0..k).collect()
        } else {
            (0..n).map(|j| (2 * j + 1) * k / (2 * n)).collect()
        };
        Self {
            source: self.source.pick(&keep),
            items: match &self.items {
                Items::Blocks(b) => Items::Blocks(keep.iter().map(|&i| b[i].clone()).collect()),
                Items::Chat(c) => Items::Chat(keep.iter().map(|&i| c[i].clone()).collect()),
            },
        }
    }
}
