//! Column access for readers of the results tables (the report, tests).

use anyhow::{Result, bail};
use polars::prelude::*;

fn values(df: &DataFrame, name: &str) -> Result<Vec<AnyValue<'static>>> {
    let c = df.column(name)?;
    (0..c.len()).map(|i| Ok(c.get(i)?.into_static())).collect()
}

/// A string column; nulls as `None`.
pub fn strings(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    values(df, name)?
        .into_iter()
        .map(|v| match v {
            AnyValue::Null => Ok(None),
            AnyValue::String(s) => Ok(Some(s.to_string())),
            AnyValue::StringOwned(s) => Ok(Some(s.to_string())),
            other => bail!("column `{name}`: expected text, found {other:?}"),
        })
        .collect()
}

/// A numeric column as f64; nulls as `None`.
pub fn numbers(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    values(df, name)?
        .into_iter()
        .map(|v| match v {
            AnyValue::Null => Ok(None),
            v => v
                .extract::<f64>()
                .map(Some)
                .ok_or_else(|| anyhow::anyhow!("column `{name}`: expected a number, found {v:?}")),
        })
        .collect()
}

/// An integer column; nulls as `None`.
pub fn integers(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    values(df, name)?
        .into_iter()
        .map(|v| match v {
            AnyValue::Null => Ok(None),
            v => v.extract::<i64>().map(Some).ok_or_else(|| {
                anyhow::anyhow!("column `{name}`: expected an integer, found {v:?}")
            }),
        })
        .collect()
}

/// A string column without nulls.
pub fn strings_required(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    strings(df, name)?
        .into_iter()
        .map(|s| s.ok_or_else(|| anyhow::anyhow!("column `{name}` has a null")))
        .collect()
}
