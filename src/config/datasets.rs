//! Named datasets (`ablations/datasets.toml`): name -> files, eval fraction, block length.
//!
//! ```toml
//! root = "../../shared/data"   # relative to this file; $ABLATE_DATA_DIR overrides it
//! [datasets.alice]
//! files = ["alice"]            # files, or folders (every *.txt inside, sorted)
//! eval_fraction = 0.1          # the last 10% of each file is held out
//! seq_len = 128
//! unwrap = true                # rejoin hard-wrapped prose paragraphs (default)
//! keep_lines = ["verse.txt"]   # files whose lines are kept as they are (verse)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::read_toml;

pub const DEFAULT_CATALOG: &str = "ablations/datasets.toml";
/// The catalog a grid uses unless it names one: beside the grid file.
pub const DEFAULT_CATALOG_NAME: &str = "datasets.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    root: Option<PathBuf>,
    datasets: BTreeMap<String, RawDataset>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    files: Vec<PathBuf>,
    #[serde(default = "default_eval_fraction")]
    eval_fraction: f64,
    #[serde(default = "default_seq_len")]
    seq_len: usize,
    #[serde(default = "default_unwrap")]
    unwrap: bool,
    #[serde(default)]
    keep_lines: Vec<String>,
}

fn default_unwrap() -> bool {
    true
}

fn default_eval_fraction() -> f64 {
    0.1
}

fn default_seq_len() -> usize {
    128
}

/// A dataset with its files resolved to existing paths.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetSpec {
    pub name: String,
    pub files: Vec<PathBuf>,
    pub eval_fraction: f64,
    pub seq_len: usize,
    /// Rejoin hard-wrapped prose paragraphs (see `data::text::unwrap_paragraphs`).
    #[serde(default)]
    pub unwrap: bool,
    /// File names whose lines are kept even when `unwrap` is on (verse).
    #[serde(default)]
    pub keep_lines: Vec<String>,
}

/// A file's name without its folders: ids and records must not depend on the machine.
pub fn file_name(f: &Path) -> String {
    f.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

pub fn file_names(files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|f| file_name(f)).collect()
}

impl DatasetSpec {
    pub fn file_names(&self) -> Vec<String> {
        file_names(&self.files)
    }

    /// Whether `file` of this dataset has its paragraphs unwrapped.
    pub fn unwraps(&self, file: &Path) -> bool {
        self.unwrap
            && !file
                .file_name()
                .is_some_and(|n| self.keep_lines.iter().any(|k| n == k.as_str()))
    }
}

#[derive(Debug)]
pub struct Catalog {
    pub path: PathBuf,
    pub root: PathBuf,
    raw: BTreeMap<String, RawDataset>,
}

impl Catalog {
    pub fn load(path: &Path) -> Result<Self> {
        let raw: RawCatalog = read_toml(path)?;
        let here = path.parent().unwrap_or(Path::new("."));
        let root = match std::env::var_os("ABLATE_DATA_DIR") {
            Some(d) => PathBuf::from(d),
            None => here.join(raw.root.unwrap_or_else(|| PathBuf::from("."))),
        };
        Ok(Self {
            path: path.to_path_buf(),
            root,
            raw: raw.datasets,
        })
    }

    pub fn names(&self) -> Vec<&str> {
        self.raw.keys().map(String::as_str).collect()
    }

    pub fn get(&self, name: &str) -> Result<DatasetSpec> {
        let Some(d) = self.raw.get(name) else {
            bail!(
                "{}: no dataset named `{name}` (known: {})",
                self.path.display(),
                self.names().join(", ")
            )
        };
        let field = |f: &str| format!("{}: datasets.{name}.{f}", self.path.display());
        if !(d.eval_fraction > 0.0 && d.eval_fraction < 1.0) {
            bail!(
                "{}: must be between 0 and 1, got {}",
                field("eval_fraction"),
                d.eval_fraction
            )
        }
        if d.seq_len < 2 {
            bail!(
                "{}: must be at least 2, got {}",
                field("seq_len"),
                d.seq_len
            )
        }
        if d.files.is_empty() {
            bail!("{}: lists no files", field("files"))
        }
        let mut files = Vec::new();
        for f in &d.files {
            let p = if f.is_absolute() {
                f.clone()
            } else {
                self.root.join(f)
            };
            files.extend(expand(&p).map_err(|e| anyhow::anyhow!("{}: {e}", field("files")))?);
        }
        for k in &d.keep_lines {
            if !files
                .iter()
                .any(|f| f.file_name().is_some_and(|n| n == k.as_str()))
            {
                bail!(
                    "{}: `{k}` is not a file of this dataset",
                    field("keep_lines")
                )
            }
        }
        Ok(DatasetSpec {
            name: name.to_string(),
            files,
            eval_fraction: d.eval_fraction,
            seq_len: d.seq_len,
            unwrap: d.unwrap,
            keep_lines: d.keep_lines.clone(),
        })
    }
}

/// A file, or every file in a folder except hidden ones (sorted, for a deterministic order).
pub fn expand(p: &Path) -> Result<Vec<PathBuf>> {
    if p.is_file() {
        return Ok(vec![p.to_path_buf()]);
    }
    if p.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.is_file())
            .filter(|f| {
                !f.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        v.sort();
        if v.is_empty() {
            bail!("folder {} holds no files", p.display())
        }
        return Ok(v);
    }
    bail!(
        "{} does not exist (set ABLATE_DATA_DIR or `root`, see README: Data)",
        p.display()
    )
}

impl DatasetSpec {
    /// An ad-hoc dataset from a path (file or folder) given on the command line.
    pub fn from_path(path: &Path, seq_len: usize) -> Result<Self> {
        Ok(Self {
            name: path
                .file_stem()
                .map_or_else(|| "data".into(), |s| s.to_string_lossy().into_owned()),
            files: expand(path)?,
            eval_fraction: default_eval_fraction(),
            seq_len,
            // Ad-hoc text is read as it is: code or verse must not be joined into lines.
            unwrap: false,
            keep_lines: Vec::new(),
        })
    }
}
