//! Deterministic training batches: the dataset's non-overlapping train blocks, shuffled with a
//! seeded RNG each epoch, taken `batch_size` at a time.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

pub struct Batches {
    blocks: Vec<Vec<u32>>,
    order: Vec<usize>,
    pos: usize,
    rng: StdRng,
    batch_size: usize,
}

impl Batches {
    pub fn new(blocks: Vec<Vec<u32>>, batch_size: usize, seed: u64) -> Self {
        let mut b = Self {
            order: (0..blocks.len()).collect(),
            blocks,
            pos: 0,
            rng: StdRng::seed_from_u64(seed),
            batch_size,
        };
        b.order.shuffle(&mut b.rng);
        b
    }

    pub fn seq_len(&self) -> usize {
        self.blocks.first().map_or(0, Vec::len)
    }

    /// The next `batch_size` blocks, flattened row-major; reshuffles at each epoch's end.
    pub fn next_batch(&mut self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.batch_size * self.seq_len());
        for _ in 0..self.batch_size {
            if self.pos == self.order.len() {
                self.order.shuffle(&mut self.rng);
                self.pos = 0;
            }
            out.extend_from_slice(&self.blocks[self.order[self.pos]]);
            self.pos += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_order_and_every_block_once_per_epoch() {
        let blocks: Vec<Vec<u32>> = (0..10).map(|i| vec![i, i]).collect();
        let mut a = Batches::new(blocks.clone(), 5, 3);
        let mut b = Batches::new(blocks, 5, 3);
        let (a1, a2) = (a.next_batch(), a.next_batch());
        assert_eq!(a1, b.next_batch());
        let mut seen: Vec<u32> = a1.iter().chain(&a2).step_by(2).copied().collect();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }
}
