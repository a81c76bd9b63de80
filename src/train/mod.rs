//! Applying a strategy to a model's parameters, the optimizer and schedule, the loop.

pub mod accounting;
pub mod batches;
mod before_cache;
mod chat_probe;
pub mod eval_plan;
pub mod optim;
pub mod run;
pub mod scoring;
pub mod setup;
pub mod trainer;

pub use accounting::Accounting;
pub use setup::{build_for_strategy, plan_accounting};
pub use trainer::{Outcome, StepRecord, TrainReport, train};
