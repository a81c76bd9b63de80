//! Typed reads of a GGUF file's metadata; every error names the file and the key.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, anyhow};
use candle_core::quantized::gguf_file::Value;

pub(crate) struct Meta<'a> {
    pub md: &'a HashMap<String, Value>,
    pub file: &'a Path,
}

impl Meta<'_> {
    pub fn get(&self, key: &str) -> Result<&Value> {
        self.md
            .get(key)
            .ok_or_else(|| anyhow!("{}: GGUF metadata `{key}` is missing", self.file.display()))
    }
    pub fn usize(&self, key: &str) -> Result<usize> {
        let v = self.get(key)?;
        let n = v
            .to_u64()
            .or_else(|_| v.to_u32().map(u64::from))
            .or_else(|_| v.to_i32().map(|x| x as u64))
            .map_err(|e| anyhow!("{}: GGUF metadata `{key}`: {e}", self.file.display()))?;
        Ok(n as usize)
    }
    pub fn f64(&self, key: &str) -> Result<f64> {
        let v = self.get(key)?;
        v.to_f32()
            .map(f64::from)
            .or_else(|_| v.to_f64())
            .map_err(|e| anyhow!("{}: GGUF metadata `{key}`: {e}", self.file.display()))
    }
    pub fn string(&self, key: &str) -> Result<String> {
        Ok(self
            .get(key)?
            .to_string()
            .map_err(|e| anyhow!("{}: GGUF metadata `{key}`: {e}", self.file.display()))?
            .clone())
    }
    pub fn strings(&self, key: &str) -> Result<Vec<String>> {
        let v = self
            .get(key)?
            .to_vec()
            .map_err(|e| anyhow!("{}: `{key}`: {e}", self.file.display()))?;
        v.iter()
            .map(|s| {
                s.to_string()
                    .cloned()
                    .map_err(|e| anyhow!("{}: `{key}`: {e}", self.file.display()))
            })
            .collect()
    }
    /// A numeric array (token types, scores) as i64/f32 through `f`; missing: `None`.
    pub fn numbers<T>(&self, key: &str, f: impl Fn(&Value) -> Option<T>) -> Result<Option<Vec<T>>> {
        let Some(v) = self.md.get(key) else {
            return Ok(None);
        };
        let v = v
            .to_vec()
            .map_err(|e| anyhow!("{}: GGUF metadata `{key}`: {e}", self.file.display()))?;
        v.iter()
            .enumerate()
            .map(|(i, x)| {
                f(x).ok_or_else(|| {
                    anyhow!(
                        "{}: GGUF metadata `{key}`[{i}] is not a number",
                        self.file.display()
                    )
                })
            })
            .collect::<Result<Vec<T>>>()
            .map(Some)
    }
}
