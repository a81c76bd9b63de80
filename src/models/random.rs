//! A real architecture with random weights, built from its config alone (`random:SPEC`): speed
//! and memory depend on shapes, not values, so this measures a model whose weights cannot travel
//! (the GPU machine takes 64 MiB per call). Never for quality: there is no tokenizer.

use std::collections::HashMap;

use anyhow::Result;
use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokenizers::Tokenizer;
use tokenizers::models::wordlevel::WordLevel;

use super::{ArchConfig, Checkpoint, ParamPlan, WeightSet, build_lm};

/// Standard deviation of the random matrices (GPT-2's and GPT-Neo's initializer range).
const INIT_STD: f32 = 0.02;

/// Every tensor the architecture takes, with its config's shape: matrices uniform with std 0.02,
/// norm weights one, biases zero; seeded, so two processes build the same model.
pub fn checkpoint(arch: &ArchConfig, origin: &str, device: &Device) -> Result<Checkpoint> {
    let shapes = build_lm(
        arch,
        &mut WeightSet::shapes_only(origin, ParamPlan::frozen()),
        &Device::Cpu,
    )?;
    let mut rng = StdRng::seed_from_u64(0);
    let bound = INIT_STD * 3f32.sqrt();
    let mut tensors = HashMap::new();
    for p in shapes.params() {
        let shape = p.tensor().shape().clone();
        let t = match shape.rank() {
            1 if p.name().ends_with("bias") => {
                Tensor::zeros(shape, candle_core::DType::F32, device)?
            }
            1 => Tensor::ones(shape, candle_core::DType::F32, device)?,
            _ => {
                let v: Vec<f32> = (0..shape.elem_count())
                    .map(|_| rng.random_range(-bound..bound))
                    .collect();
                Tensor::from_vec(v, shape, device)?
            }
        };
        tensors.insert(p.name().to_string(), t);
    }
    Ok(Checkpoint {
        arch: arch.clone(),
        tensors,
        tokenizer: Tokenizer::new(WordLevel::default()),
        source: format!("random weights (std {INIT_STD}) in the shapes of {origin}"),
        chat: None,
    })
}
