//! ablate: measure what partial fine-tuning of small causal language models costs and buys.
//!
//! Data flows one way: config -> data -> model -> train -> measure -> record -> report. Each
//! top-level module uses only modules below it (tests/it/architecture.rs holds the floors):
//! `strategy`, `nn`, `measure`, `results` at the bottom; then `config`; `data`; `models`;
//! `eval`; `train`; and `runner`, `bench`, `device_check`, `report` on top.

pub mod bench;
pub mod config;
pub mod data;
pub mod device_check;
pub mod eval;
pub mod measure;
pub mod models;
pub mod nn;
pub mod report;
pub mod results;
pub mod runner;
pub mod strategy;
pub mod train;
