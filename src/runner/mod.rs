//! Expanding a grid into runs, run ids, shards, resuming, and running each run in a child
//! process (so that a crash or an out-of-memory kill is recorded as that run's failure, and each
//! run's peak RSS is its own).

pub mod estimate;
pub mod execute;
pub mod export;
pub mod record;
pub mod run_id;
pub mod shard;

pub use execute::{GridOptions, run_grid};
pub use run_id::run_id;
pub use shard::Shard;
