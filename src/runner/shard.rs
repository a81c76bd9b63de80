//! `--shard K/N`: run i of the grid belongs to shard (i mod N) + 1.

use std::str::FromStr;

use anyhow::{Result, bail};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let Some((k, n)) = s.split_once('/') else {
            bail!("--shard takes K/N (e.g. 2/4), got `{s}`")
        };
        let (k, n): (usize, usize) = (k.trim().parse()?, n.trim().parse()?);
        if n == 0 || k == 0 || k > n {
            bail!("--shard {s}: need 1 <= K <= N")
        }
        Ok(Self { index: k, count: n })
    }
}

impl Shard {
    pub fn all() -> Self {
        Self { index: 1, count: 1 }
    }

    pub fn owns(&self, i: usize) -> bool {
        i % self.count == self.index - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_grid() {
        let shards: Vec<Shard> = ["1/3", "2/3", "3/3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        for i in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1);
        }
        assert!(
            "0/2".parse::<Shard>().is_err()
                && "3/2".parse::<Shard>().is_err()
                && "x".parse::<Shard>().is_err()
        );
    }
}
