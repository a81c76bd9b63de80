//! Text corpora: read, clean, split into train and eval, tokenize, cut into blocks.

pub mod dataset;
pub mod random;
pub mod text;

pub use dataset::{Dataset, SplitText};
