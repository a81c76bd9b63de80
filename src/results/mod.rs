//! The Parquet results: one place for the schema, atomic per-run writes, reading by glob.
//!
//! Layout under a grid's results folder (each run writes only files named by its own id, so
//! shards never collide; a run counts as finished once its `runs/` file exists):
//! ```text
//! runs/<run_id>.parquet    one row: configuration and measurements
//! steps/<run_id>.parquet   one row per optimizer step
//! evals/<run_id>.parquet   one row per evaluated corpus: perplexity before and after
//! eval_blocks/<run_id>.parquet  one row per scored eval block: NLL before and after
//! curves/<run_id>.parquet  one row per (step, corpus) scored during training
//! curve_blocks/<run_id>.parquet  one row per (step, corpus, block) of those curves
//! bench/<bench_id>.parquet one row per `ablate bench` measurement (every repeat)
//! latency/<latency_id>.parquet  one row per `ablate bench --latency` measurement
//! ```

pub mod frame;
pub mod labels;
pub mod schema;
pub mod store;
pub mod table;

pub use labels::{Role, Status};
pub use schema::{BenchRow, CurveBlockRow, CurveRow, EvalBlockRow, EvalRow, RunRow, StepRow};
pub use store::{ResultsDir, RunRecord};
