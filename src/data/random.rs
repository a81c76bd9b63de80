//! Seeded random token blocks: inputs whose values do not matter (timing, device comparisons).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// `count` blocks of `seq_len` ids below `vocab`, the same for the same arguments.
pub fn random_blocks(vocab: usize, count: usize, seq_len: usize) -> Vec<Vec<u32>> {
    let mut rng = StdRng::seed_from_u64(0);
    (0..count)
        .map(|_| {
            (0..seq_len)
                .map(|_| rng.random_range(0..vocab as u32))
                .collect()
        })
        .collect()
}
