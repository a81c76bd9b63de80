//! Strategies as data: the schema (`spec`), the presets, and rules resolved against a model's
//! parameters (`rules`). Pure data and regexes: no candle, no files. Which group and layer a
//! parameter belongs to is architecture knowledge and comes from `models::naming`.

pub mod rules;
pub mod spec;

pub use rules::{ParamInfo, Selection, Strategy};
pub use spec::{Group, LayerRange, LoraSpec, PRESETS, StrategySpec};
