//! Evaluation: next-token loss and perplexity over held-out blocks.

pub mod chat;
pub mod generate;
pub mod perplexity;

pub use perplexity::{Perplexity, lm_loss, next_token_loss, perplexity};
