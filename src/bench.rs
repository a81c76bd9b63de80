//! `ablate bench`: one training step per strategy, interleaved (A B C A B C ...) and repeated,
//! so that this host's minute-to-minute drift hits every strategy alike; medians reported.

use std::sync::Arc;

use anyhow::Result;
use candle_core::Device;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::train::TrainSettings;
use crate::measure::stats::median;
use crate::models::ModelSpec;
use crate::train::setup::plan_for;
use crate::train::{Accounting, Strategy, train};

pub struct BenchSettings {
    pub batch_size: usize,
    pub seq_len: usize,
    /// Timed steps per strategy per repeat (after one untimed warm-up step).
    pub steps: usize,
    pub repeats: usize,
}

#[derive(Clone, Debug)]
pub struct BenchRow {
    pub strategy: String,
    pub trainable_pct: f64,
    pub tokens_per_s: f64,
    pub step_s: f64,
    pub peak_heap_bytes: usize,
    pub peak_rss_bytes: Option<u64>,
}

pub fn bench(
    model: &ModelSpec,
    strategies: &[Arc<Strategy>],
    b: &BenchSettings,
    device: &Device,
    mut progress: impl FnMut(&str),
) -> Result<Vec<BenchRow>> {
    let ckpt = model.read(device)?;
    let vocab = ckpt.arch.vocab_size() as u32;
    let mut rng = StdRng::seed_from_u64(0);
    let blocks: Vec<Vec<u32>> = (0..b.batch_size * (b.steps + 1))
        .map(|_| (0..b.seq_len).map(|_| rng.random_range(0..vocab)).collect())
        .collect();
    let settings = TrainSettings {
        steps: b.steps + 1,
        batch_size: b.batch_size,
        measure_skip_steps: 1,
        warmup_steps: 0,
        ..TrainSettings::default()
    };
    let n = strategies.len();
    let mut step_times = vec![Vec::new(); n];
    let mut heap = vec![Vec::new(); n];
    let mut rss = vec![Vec::new(); n];
    let mut pct = vec![0.0; n];
    for rep in 0..b.repeats {
        for (i, s) in strategies.iter().enumerate() {
            let model = ckpt.build(device, &|c| plan_for(s, c, 0))?;
            pct[i] = 100.0 * Accounting::from_params(model.lm.params()).ratio();
            let r = train(model.lm.as_ref(), blocks.clone(), &settings, device, |_| {})?;
            let med = b.batch_size as f64 * b.seq_len as f64 / r.tokens_per_s;
            progress(&format!(
                "repeat {}/{} {:<18} {:>7.1} tokens/s  peak heap {:.2} GB",
                rep + 1,
                b.repeats,
                s.name,
                r.tokens_per_s,
                r.peak_heap_bytes as f64 / 1e9
            ));
            step_times[i].push(med);
            heap[i].push(r.peak_heap_bytes as f64);
            if let Some(x) = r.peak_rss_bytes {
                rss[i].push(x as f64);
            }
        }
    }
    Ok(strategies
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let step_s = median(&step_times[i]).unwrap_or(f64::NAN);
            BenchRow {
                strategy: s.name.clone(),
                trainable_pct: pct[i],
                tokens_per_s: (b.batch_size * b.seq_len) as f64 / step_s,
                step_s,
                peak_heap_bytes: median(&heap[i]).unwrap_or(0.0) as usize,
                peak_rss_bytes: median(&rss[i]).map(|x| x as u64),
            }
        })
        .collect())
}
