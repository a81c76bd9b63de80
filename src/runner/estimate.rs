//! A rough time estimate for `--dry-run`: matmul FLOPs at a rate measured on this project's
//! 2-core reference machine (SmolLM2-135M: ~80 GFLOP/s for every strategy), scaled by threads.

use crate::config::train::TrainSettings;

const GFLOPS_PER_THREAD: f64 = 40.0;

/// Seconds for training plus before/after evaluation of `corpora` corpora.
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
    let eval_tokens = (s.eval_blocks.max(1) * seq_len * corpora * 2) as f64;
    train + eval_tokens * 2.0 * n / rate
}
