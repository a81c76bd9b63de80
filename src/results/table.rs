//! The machinery of the schema's one declaration per table (`schema.rs`): column kinds and
//! specs, and the `table!` macro that turns a declaration into the row type, its column list,
//! the frame writer and the reader.

use anyhow::{Result, bail};
use polars::prelude::*;

/// The type of a column as stored: strings, 64-bit integers, 64-bit floats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Str,
    Int,
    Float,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: ColumnKind,
    /// Null where it does not apply (e.g. perplexity after training of a failed run).
    pub nullable: bool,
    /// Schema version that added the column: files written before it lack it and read as null.
    pub since: u32,
}

impl ColumnSpec {
    /// From a declaration: nullable where the row's type is optional or the column came later.
    pub const fn declared(
        name: &'static str,
        kind: ColumnKind,
        optional: bool,
        since: u32,
    ) -> Self {
        Self {
            name,
            kind,
            nullable: optional || since > 1,
            since,
        }
    }
}

pub fn col<T, P>(name: &str, v: P) -> Column
where
    Series: NamedFrom<P, T>,
    T: ?Sized,
{
    Series::new(name.into(), v).into_column()
}

/// Declares a table once: the row type, its column list, the frame writer and the reader.
macro_rules! table {
    (
        $(#[doc = $doc:literal])*
        #[derive($($derive:ident),*)]
        pub struct $row:ident;
        columns $columns:ident, write $write:ident, read $read:ident;
        { $( $(#[doc = $fdoc:literal])* $field:ident: $conv:ident $(since $since:literal)?, )* }
    ) => {
        $(#[doc = $doc])*
        #[derive($($derive),*)]
        pub struct $row {
            $( $(#[doc = $fdoc])* pub $field: table!(@ty $conv), )*
        }

        pub const $columns: &[$crate::results::table::ColumnSpec] = &[
            $( $crate::results::table::ColumnSpec::declared(stringify!($field), table!(@kind $conv), table!(@opt $conv), table!(@since $($since)?)), )*
        ];

        pub fn $write(rows: &[$row]) -> anyhow::Result<polars::prelude::DataFrame> {
            Ok(polars::prelude::DataFrame::new_infer_height(vec![ $( table!(@write rows, $field, $conv), )* ])?)
        }

        /// The rows of a frame of this table (read with `store::read_table` or from one file);
        /// a column added later and absent from an older file reads as null.
        pub fn $read(df: &polars::prelude::DataFrame) -> anyhow::Result<Vec<$row>> {
            let n = df.height();
            $( let $field = table!(@read df, n, $columns, $field, $conv); )*
            (0..n)
                .map(|i| Ok($row { $( $field: table!(@get $field, i, $conv), )* }))
                .collect()
        }
    };
    // `status` and `role` are typed labels stored as text: as `str`, but parsed when read.
    (@ty status) => { $crate::results::labels::Status };
    (@ty role) => { $crate::results::labels::Role };
    (@ty str) => { String };
    (@ty opt_str) => { Option<String> };
    (@ty u64) => { u64 };
    (@ty opt_u64) => { Option<u64> };
    (@ty f64) => { f64 };
    (@ty opt_f64) => { Option<f64> };
    (@kind status) => { table!(@kind str) };
    (@kind role) => { table!(@kind str) };
    (@kind str) => { $crate::results::table::ColumnKind::Str };
    (@kind opt_str) => { table!(@kind str) };
    (@kind u64) => { $crate::results::table::ColumnKind::Int };
    (@kind opt_u64) => { table!(@kind u64) };
    (@kind f64) => { $crate::results::table::ColumnKind::Float };
    (@kind opt_f64) => { table!(@kind f64) };
    (@opt opt_str) => { true };
    (@opt opt_u64) => { true };
    (@opt opt_f64) => { true };
    (@opt $other:ident) => { false };
    (@since) => { 1 };
    (@since $s:literal) => { $s };
    (@write $rows:ident, $name:ident, status) => { table!(@write $rows, $name, str) };
    (@write $rows:ident, $name:ident, role) => { table!(@write $rows, $name, str) };
    (@write $rows:ident, $name:ident, str) => {
        $crate::results::table::col(stringify!($name), $rows.iter().map(|r| r.$name.as_str()).collect::<Vec<_>>())
    };
    (@write $rows:ident, $name:ident, opt_str) => {
        $crate::results::table::col(stringify!($name), $rows.iter().map(|r| r.$name.as_deref()).collect::<Vec<_>>())
    };
    (@write $rows:ident, $name:ident, u64) => {
        $crate::results::table::col(stringify!($name), $rows.iter().map(|r| r.$name as i64).collect::<Vec<_>>())
    };
    (@write $rows:ident, $name:ident, opt_u64) => {
        $crate::results::table::col(stringify!($name), $rows.iter().map(|r| r.$name.map(|x| x as i64)).collect::<Vec<_>>())
    };
    (@write $rows:ident, $name:ident, f64) => {
        $crate::results::table::col(stringify!($name), $rows.iter().map(|r| r.$name).collect::<Vec<f64>>())
    };
    (@write $rows:ident, $name:ident, opt_f64) => {
        $crate::results::table::col(stringify!($name), $rows.iter().map(|r| r.$name).collect::<Vec<Option<f64>>>())
    };
    (@read $df:ident, $n:ident, $columns:ident, $field:ident, $conv:ident) => {
        $crate::results::table::read_column($df, $n, $columns, stringify!($field), |df, name| table!(@column df, name, $conv))?
    };
    (@column $df:ident, $name:ident, u64) => { $crate::results::frame::integers($df, $name) };
    (@column $df:ident, $name:ident, opt_u64) => { $crate::results::frame::integers($df, $name) };
    (@column $df:ident, $name:ident, f64) => { $crate::results::frame::numbers($df, $name) };
    (@column $df:ident, $name:ident, opt_f64) => { $crate::results::frame::numbers($df, $name) };
    (@column $df:ident, $name:ident, $text:ident) => { $crate::results::frame::strings($df, $name) };
    (@get $field:ident, $i:ident, status) => { table!(@get $field, $i, str).parse()? };
    (@get $field:ident, $i:ident, role) => { table!(@get $field, $i, str).parse()? };
    (@get $field:ident, $i:ident, str) => { $crate::results::table::required(&$field, $i, stringify!($field))?.clone() };
    (@get $field:ident, $i:ident, opt_str) => { $field[$i].clone() };
    (@get $field:ident, $i:ident, u64) => { *$crate::results::table::required(&$field, $i, stringify!($field))? as u64 };
    (@get $field:ident, $i:ident, opt_u64) => { $field[$i].map(|v| v as u64) };
    (@get $field:ident, $i:ident, f64) => { *$crate::results::table::required(&$field, $i, stringify!($field))? };
    (@get $field:ident, $i:ident, opt_f64) => { $field[$i] };
}

/// A column's values, or all nulls where a file predates a nullable column.
pub fn read_column<T>(
    df: &DataFrame,
    n: usize,
    columns: &[ColumnSpec],
    name: &str,
    read: impl Fn(&DataFrame, &str) -> Result<Vec<Option<T>>>,
) -> Result<Vec<Option<T>>> {
    if df.column(name).is_ok() {
        return read(df, name);
    }
    match columns.iter().find(|c| c.name == name) {
        Some(c) if c.nullable => Ok((0..n).map(|_| None).collect()),
        _ => bail!("column `{name}` is missing"),
    }
}

pub fn required<'a, T>(values: &'a [Option<T>], i: usize, name: &str) -> Result<&'a T> {
    values[i]
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("column `{name}` has a null in row {i}"))
}

pub(crate) use table;
