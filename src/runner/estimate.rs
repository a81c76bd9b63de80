//! A rough time estimate for `--dry-run`: matmul FLOPs at a rate measured on this project's
//! 2-core reference machine (SmolLM2-135M: ~80 GFLOP/s for every strategy), scaled by threads.

use crate::config::train::TrainSettings;

const GFLOPS_PER_THREAD: f64 = 40.0;

/// Seconds for training plus evaluation of `corpora` corpora (the chat probe counts as one):
/// before and after on the eval sample and the validation slice, and the curve subsets at every
/// curve point.
pub fn estimate_seconds(
    params_total: usize,
    params_trainable: usize,
    s: &TrainSettings,
    seq_len: usize,
    corpora: usize,
    threads: usize,
) -> f64 {
    let n = params_total as f64;
    let rate = GFLOPS_PER_THREAD * 1e9 * threads.max(1) as f64;
    let tokens = (s.steps * s.batch_size * s.grad_accum * seq_len) as f64;
    // forward 2N, input gradients 2N, weight gradients 2 x trainable.
    let train = tokens * (4.0 * n + 2.0 * params_trainable as f64) / rate;
    let validation = s.validation_blocks;
    let mut eval_blocks = (s.eval_blocks.max(1) * corpora + validation) * 2;
    if s.eval_every > 0 {
        let points = s.steps.div_ceil(s.eval_every) + 1;
        let sets = corpora + usize::from(validation > 0);
        eval_blocks += points * s.curve_blocks * sets;
    }
    train + (eval_blocks * seq_len) as f64 * 2.0 * n / rate
}
