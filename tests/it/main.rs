//! One test binary with a module per area (as ripgrep does): the heavy dependencies (candle,
//! polars, plotters, tokenizers) are linked once, not once per file.

// The library measures live heap bytes through this allocator; the binary under test installs it
// the same way `src/main.rs` does, so peak-memory tests measure what the product measures.
#[global_allocator]
static GLOBAL: ablate::measure::alloc::CountingAlloc = ablate::measure::alloc::CountingAlloc;

mod architecture;
mod backprop;
mod bad_input;
mod common;
mod data;
mod docs;
mod exports;
mod gemma3;
mod gemma3_real;
mod grid;
mod hub;
mod measurement;
mod model_refs;
mod nn_ops;
mod reference_parity;
mod report;
mod smollm2;
mod torch_parity;
mod training;
