//! Building blocks that train correctly: every op here has a backward pass, and frozen weights
//! cost nothing in backward (no weight gradient is computed or stored for them).
//!
//! candle's own `Op::Matmul`, `Op::Binary` and `Op::IndexSelect` backward passes compute the
//! gradient of every operand, even a plain tensor that nobody will ever update. The ops in this
//! module are custom ops whose backward returns only what is needed.

pub mod add;
pub mod attention;
pub mod counters;
pub(crate) mod cpu_gemm;
pub mod cross_entropy;
pub mod glu;
pub mod linear;
pub mod linear_cross_entropy;
pub(crate) mod linear_ops;
pub(crate) mod lora;
pub mod matmul;
pub mod norm;
pub mod param;
pub mod rope;
mod simd;
pub mod slices;
pub mod softmax;

pub use linear::Linear;
pub use lora::Lora;
pub use norm::{LayerNorm, RmsNorm};
pub use param::Param;
