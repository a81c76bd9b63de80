//! Deterministic train/eval split and tokenization.
//!
//! Each file is cleaned, then cut once: the last `eval_fraction` of its characters (moved
//! forward to the next paragraph break) is eval text, the rest train text. The two parts are
//! tokenized separately, so no eval token can appear in any train window.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use tokenizers::Tokenizer;

use super::text::read_clean;
use crate::config::datasets::DatasetSpec;

/// One file's text, split.
#[derive(Clone, Debug)]
pub struct SplitText {
    pub file: PathBuf,
    pub train: String,
    pub eval: String,
}

pub fn split_text(file: &Path, text: &str, eval_fraction: f64) -> SplitText {
    let target = ((1.0 - eval_fraction) * text.len() as f64) as usize;
    let mut cut = target.min(text.len());
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    // Prefer a paragraph break, else a line break, at or after the target.
    let tail = &text[cut..];
    let step = tail
        .find("\n\n")
        .map(|i| i + 2)
        .or_else(|| tail.find('\n').map(|i| i + 1))
        .unwrap_or(0);
    if step < tail.len() {
        cut += step;
    }
    SplitText {
        file: file.to_path_buf(),
        train: text[..cut].to_string(),
        eval: text[cut..].to_string(),
    }
}

/// A tokenized dataset: one token stream per file for train and for eval.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    pub seq_len: usize,
    pub files: Vec<PathBuf>,
    pub train: Vec<Vec<u32>>,
    pub eval: Vec<Vec<u32>>,
}

fn encode(tok: &Tokenizer, text: &str, file: &Path) -> Result<Vec<u32>> {
    Ok(tok
        .encode(text, false)
        .map_err(|e| anyhow!("cannot tokenize {}: {e}", file.display()))?
        .get_ids()
        .to_vec())
}

impl Dataset {
    pub fn load(spec: &DatasetSpec, tok: &Tokenizer) -> Result<Self> {
        let mut train = Vec::new();
        let mut eval = Vec::new();
        for f in &spec.files {
            let split = split_text(f, &read_clean(f)?, spec.eval_fraction);
            let (tr, ev) = (encode(tok, &split.train, f)?, encode(tok, &split.eval, f)?);
            for (part, ids) in [("train", &tr), ("eval", &ev)] {
                if ids.len() < spec.seq_len {
                    bail!(
                        "text file {} is too short: its {part} split has {} tokens, fewer than one block of seq_len = {}",
                        f.display(),
                        ids.len(),
                        spec.seq_len
                    )
                }
            }
            train.push(tr);
            eval.push(ev);
        }
        Ok(Self {
            name: spec.name.clone(),
            seq_len: spec.seq_len,
            files: spec.files.clone(),
            train,
            eval,
        })
    }

    /// Non-overlapping eval blocks of `seq_len` tokens, file by file (remainders dropped).
    pub fn eval_blocks(&self) -> Vec<&[u32]> {
        blocks(&self.eval, self.seq_len)
    }

    pub fn train_blocks(&self) -> Vec<&[u32]> {
        blocks(&self.train, self.seq_len)
    }

    pub fn train_tokens(&self) -> usize {
        self.train.iter().map(Vec::len).sum()
    }

    pub fn eval_tokens(&self) -> usize {
        self.eval.iter().map(Vec::len).sum()
    }
}

fn blocks(streams: &[Vec<u32>], seq_len: usize) -> Vec<&[u32]> {
    streams
        .iter()
        .flat_map(|s| s.chunks_exact(seq_len))
        .collect()
}
