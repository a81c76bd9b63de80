//! Per-thread counts of the matmuls our linear ops run in backward, so that a test can prove that
//! a frozen weight never gets a weight-gradient matmul, and of frozen projections and attention
//! layers run as fused ops, so that a test can prove the fusion is taken. Backward runs on the
//! thread that calls `backward()`, and each test runs on its own thread, so parallel tests do not
//! see each other's counts.

use std::cell::Cell;

thread_local! {
    static WEIGHT_GRAD_MATMULS: Cell<usize> = const { Cell::new(0) };
    static INPUT_GRAD_MATMULS: Cell<usize> = const { Cell::new(0) };
    static FUSED_PROJECTIONS: Cell<usize> = const { Cell::new(0) };
    static FUSED_ATTENTIONS: Cell<usize> = const { Cell::new(0) };
    static FUSED_ADAPTERS: Cell<usize> = const { Cell::new(0) };
}

pub(crate) fn count_weight_grad() {
    WEIGHT_GRAD_MATMULS.with(|c| c.set(c.get() + 1));
}

pub(crate) fn count_input_grad() {
    INPUT_GRAD_MATMULS.with(|c| c.set(c.get() + 1));
}

/// (weight-gradient matmuls, input-gradient matmuls) run by linear backward passes on this
/// thread so far.
pub fn backward_matmuls() -> (usize, usize) {
    (
        WEIGHT_GRAD_MATMULS.with(Cell::get),
        INPUT_GRAD_MATMULS.with(Cell::get),
    )
}

pub(crate) fn count_fused_projection() {
    FUSED_PROJECTIONS.with(|c| c.set(c.get() + 1));
}

/// Frozen projections run inside a fused op (forward) on this thread so far.
pub fn fused_projections() -> usize {
    FUSED_PROJECTIONS.with(Cell::get)
}

pub(crate) fn count_fused_attention() {
    FUSED_ATTENTIONS.with(|c| c.set(c.get() + 1));
}

/// Attention layers run as the fused op on this thread so far.
pub fn fused_attentions() -> usize {
    FUSED_ATTENTIONS.with(Cell::get)
}

pub(crate) fn count_fused_adapter() {
    FUSED_ADAPTERS.with(|c| c.set(c.get() + 1));
}

/// Adapted linears (base and LoRA) run as one fused op on this thread so far.
pub fn fused_adapters() -> usize {
    FUSED_ADAPTERS.with(Cell::get)
}
