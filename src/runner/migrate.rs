//! Bring a results folder's runs rows to the current schema: each finished run of the grid is
//! read through the schema's reader (columns added since read as null), the columns added since
//! it was written are filled from the resolved configuration that gave the run its id, and the
//! row is written back. Nothing else changes: the other tables, the run ids, every value present.

use anyhow::Result;

use super::{GridOptions, ResolvedGrid};
use crate::config::grid::sweep_label;

/// What a migration did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Migrated {
    /// Rows rewritten with columns filled.
    pub updated: usize,
    /// Rows already complete.
    pub unchanged: usize,
    /// Runs of the grid with no row in the folder.
    pub absent: usize,
}

pub fn migrate(grid: &ResolvedGrid, opts: &GridOptions) -> Result<Migrated> {
    let dir = opts.results_dir(grid);
    let mut m = Migrated::default();
    for run in &grid.runs {
        let Some(mut row) = dir.read_run(&run.id)? else {
            m.absent += 1;
            continue;
        };
        let before = row.clone();
        let s = &run.config.settings;
        // Schema v3: settings that feed the run id, and the sweep the run is one of.
        row.validation_blocks
            .get_or_insert(s.validation_blocks as u64);
        row.sample_tokens.get_or_insert(s.sample_tokens as u64);
        if row.lr_sweep.is_none() {
            row.lr_sweep = run.config.lr_sweep.as_deref().map(sweep_label);
        }
        if row == before {
            m.unchanged += 1;
        } else {
            dir.rewrite_run(&row)?;
            m.updated += 1;
        }
    }
    Ok(m)
}
