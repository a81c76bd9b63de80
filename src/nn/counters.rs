//! Process-wide counts of the matmuls our linear ops run in backward, so that tests can prove
//! that a frozen weight never gets a weight-gradient matmul.

use std::sync::atomic::{AtomicUsize, Ordering};

static WEIGHT_GRAD_MATMULS: AtomicUsize = AtomicUsize::new(0);
static INPUT_GRAD_MATMULS: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn count_weight_grad() {
    WEIGHT_GRAD_MATMULS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_input_grad() {
    INPUT_GRAD_MATMULS.fetch_add(1, Ordering::Relaxed);
}

/// (weight-gradient matmuls, input-gradient matmuls) run by linear backward passes so far.
pub fn backward_matmuls() -> (usize, usize) {
    (
        WEIGHT_GRAD_MATMULS.load(Ordering::Relaxed),
        INPUT_GRAD_MATMULS.load(Ordering::Relaxed),
    )
}
