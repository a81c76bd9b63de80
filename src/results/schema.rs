//! The Parquet schema, in one place: the row types, the column list of each table (`TABLES`,
//! which the frame builders are tested against, the PyTorch backend receives in its plans, the
//! report derives its numeric columns from, and the README documents), and the frame builders.

use anyhow::Result;
use polars::prelude::*;

/// One run. Optional fields are null where they do not apply (e.g. after-training perplexity of
/// a failed run).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunRow {
    pub run_id: String,
    pub grid: String,
    pub model: String,
    pub model_source: String,
    pub dataset: String,
    pub strategy: String,
    pub strategy_spec: String,
    pub seed: u64,
    pub framework: String,
    pub framework_version: String,
    pub device: String,
    pub threads: u64,
    pub git_rev: String,
    pub started_at: String,
    pub params_total: u64,
    pub params_trainable: u64,
    pub trainable_ratio: f64,
    pub steps: u64,
    pub batch_size: u64,
    pub grad_accum: u64,
    pub seq_len: u64,
    pub lr: f64,
    pub warmup_steps: u64,
    pub weight_decay: f64,
    pub optimizer: String,
    pub tokens_seen: u64,
    pub train_seconds: f64,
    pub tokens_per_s: f64,
    pub step_ms_p50: Option<f64>,
    pub step_ms_p95: Option<f64>,
    pub eval_tokens_per_s: Option<f64>,
    pub eval_seconds: f64,
    pub peak_mem_bytes: Option<u64>,
    pub peak_mem_method: String,
    pub peak_rss_bytes: Option<u64>,
    pub peak_rss_method: String,
    pub ppl_before: Option<f64>,
    pub ppl_after: Option<f64>,
    pub ppl_before_cross: Option<f64>,
    pub ppl_after_cross: Option<f64>,
    pub ppl_before_general: Option<f64>,
    pub ppl_after_general: Option<f64>,
    pub final_loss: Option<f64>,
    pub saved_bytes: Option<u64>,
    pub sample_prompt: String,
    pub sample_before: Option<String>,
    pub sample_after: Option<String>,
    pub wall_seconds: f64,
    pub status: String,
    pub error: Option<String>,
    pub min_lr_ratio: Option<f64>,
    pub beta1: Option<f64>,
    pub beta2: Option<f64>,
    pub eps: Option<f64>,
    pub grad_clip: Option<f64>,
    pub measure_skip_steps: Option<u64>,
    pub eval_blocks: Option<u64>,
    pub eval_batch: Option<u64>,
    pub eval_every: Option<u64>,
    pub curve_blocks: Option<u64>,
    pub schedule: Option<String>,
    pub cpu_model: Option<String>,
    pub cpus: Option<u64>,
    pub simd: Option<String>,
    pub gemm: Option<String>,
    pub mem_total_bytes: Option<u64>,
    pub model_sha256: Option<String>,
    pub data_sha256: Option<String>,
    pub mem_weights_bytes: Option<u64>,
    pub mem_grads_bytes: Option<u64>,
    pub mem_optimizer_bytes: Option<u64>,
    pub mem_activations_bytes: Option<u64>,
    pub eval_before_seconds: Option<f64>,
    pub curve_seconds: Option<f64>,
    pub eval_after_seconds: Option<f64>,
    pub notes: Option<String>,
    pub samples: Option<u64>,
    pub sample_temperature: Option<f64>,
    pub sample_top_p: Option<f64>,
    /// Trainable parameters by group (the architecture's naming table decides the group).
    pub trainable_embeddings: Option<u64>,
    pub trainable_attention: Option<u64>,
    pub trainable_mlp: Option<u64>,
    pub trainable_norms: Option<u64>,
    pub trainable_adapters: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepRow {
    pub run_id: String,
    pub step: u64,
    pub loss: f64,
    pub lr: f64,
    pub grad_norm: f64,
    pub tokens: u64,
    pub elapsed_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalRow {
    pub run_id: String,
    pub corpus: String,
    /// `own`, `cross` (another style), `general` or `probe` (out-of-domain).
    pub role: String,
    pub ppl_before: Option<f64>,
    pub ppl_after: Option<f64>,
    pub corpus_sha256: Option<String>,
    /// Blocks and tokens scored, and the files they came from (comma-separated).
    pub blocks: Option<u64>,
    pub tokens: Option<u64>,
    pub files: Option<String>,
    /// 1 when the before scores came from the cache of an earlier run of the same model.
    pub before_cached: Option<u64>,
}

/// One scored eval block of one corpus: the unit of intervals and paired comparisons.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalBlockRow {
    pub run_id: String,
    pub corpus: String,
    pub role: String,
    /// Index of the block in the corpus's stratified sample.
    pub block: u64,
    pub file: String,
    /// Token offset of the block in the file's eval split.
    pub offset: u64,
    pub tokens: u64,
    /// Mean next-token NLL of the block before and after training.
    pub nll_before: Option<f64>,
    pub nll_after: Option<f64>,
}

/// A point of a learning or forgetting curve: a corpus's small fixed subset scored during
/// training (step 0 is before the first update).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CurveRow {
    pub run_id: String,
    pub step: u64,
    pub corpus: String,
    pub role: String,
    pub nll: f64,
    pub tokens: u64,
}

/// One timed measurement of `ablate bench` (every repeat, interleaved with the other
/// strategies; one child process each), with the settings and the machine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BenchRow {
    pub bench_id: String,
    pub started_at: String,
    pub model: String,
    pub strategy: String,
    pub repeat: u64,
    pub framework: String,
    pub framework_version: String,
    pub git_rev: String,
    pub params_total: u64,
    pub params_trainable: u64,
    pub trainable_ratio: f64,
    pub tokens_per_s: f64,
    pub step_s: f64,
    pub peak_mem_bytes: Option<u64>,
    pub peak_mem_method: String,
    pub peak_rss_bytes: Option<u64>,
    pub peak_rss_method: String,
    pub batch_size: u64,
    pub seq_len: u64,
    pub steps: u64,
    pub optimizer: String,
    pub threads: u64,
    pub cpu_model: String,
    pub cpus: u64,
    pub simd: String,
    pub gemm: String,
    pub mem_total_bytes: Option<u64>,
    /// `cpu` or `cuda:N`.
    pub device: Option<String>,
}

/// The type of a column as stored: strings, 64-bit integers, 64-bit floats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Str,
    Int,
    Float,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: ColumnKind,
    /// Null where it does not apply (e.g. perplexity after training of a failed run).
    pub nullable: bool,
    /// Schema version that added the column: files written before it lack it and read as null.
    pub since: u32,
}

impl ColumnSpec {
    const fn new(name: &'static str, kind: ColumnKind, nullable: bool) -> Self {
        Self {
            name,
            kind,
            nullable,
            since: 1,
        }
    }

    /// A column added in schema version 2 (provenance, per-block evals, memory breakdown).
    const fn v2(name: &'static str, kind: ColumnKind) -> Self {
        Self {
            name,
            kind,
            nullable: true,
            since: 2,
        }
    }
}

pub const RUN_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::new("run_id", ColumnKind::Str, false),
    ColumnSpec::new("grid", ColumnKind::Str, false),
    ColumnSpec::new("model", ColumnKind::Str, false),
    ColumnSpec::new("model_source", ColumnKind::Str, false),
    ColumnSpec::new("dataset", ColumnKind::Str, false),
    ColumnSpec::new("strategy", ColumnKind::Str, false),
    ColumnSpec::new("strategy_spec", ColumnKind::Str, false),
    ColumnSpec::new("seed", ColumnKind::Int, false),
    ColumnSpec::new("framework", ColumnKind::Str, false),
    ColumnSpec::new("framework_version", ColumnKind::Str, false),
    ColumnSpec::new("device", ColumnKind::Str, false),
    ColumnSpec::new("threads", ColumnKind::Int, false),
    ColumnSpec::new("git_rev", ColumnKind::Str, false),
    ColumnSpec::new("started_at", ColumnKind::Str, false),
    ColumnSpec::new("params_total", ColumnKind::Int, false),
    ColumnSpec::new("params_trainable", ColumnKind::Int, false),
    ColumnSpec::new("trainable_ratio", ColumnKind::Float, false),
    ColumnSpec::new("steps", ColumnKind::Int, false),
    ColumnSpec::new("batch_size", ColumnKind::Int, false),
    ColumnSpec::new("grad_accum", ColumnKind::Int, false),
    ColumnSpec::new("seq_len", ColumnKind::Int, false),
    ColumnSpec::new("lr", ColumnKind::Float, false),
    ColumnSpec::new("warmup_steps", ColumnKind::Int, false),
    ColumnSpec::new("weight_decay", ColumnKind::Float, false),
    ColumnSpec::new("optimizer", ColumnKind::Str, false),
    ColumnSpec::new("tokens_seen", ColumnKind::Int, false),
    ColumnSpec::new("train_seconds", ColumnKind::Float, false),
    ColumnSpec::new("tokens_per_s", ColumnKind::Float, false),
    ColumnSpec::new("step_ms_p50", ColumnKind::Float, true),
    ColumnSpec::new("step_ms_p95", ColumnKind::Float, true),
    ColumnSpec::new("eval_tokens_per_s", ColumnKind::Float, true),
    ColumnSpec::new("eval_seconds", ColumnKind::Float, false),
    ColumnSpec::new("peak_mem_bytes", ColumnKind::Int, true),
    ColumnSpec::new("peak_mem_method", ColumnKind::Str, false),
    ColumnSpec::new("peak_rss_bytes", ColumnKind::Int, true),
    ColumnSpec::new("peak_rss_method", ColumnKind::Str, false),
    ColumnSpec::new("ppl_before", ColumnKind::Float, true),
    ColumnSpec::new("ppl_after", ColumnKind::Float, true),
    ColumnSpec::new("ppl_before_cross", ColumnKind::Float, true),
    ColumnSpec::new("ppl_after_cross", ColumnKind::Float, true),
    ColumnSpec::new("ppl_before_general", ColumnKind::Float, true),
    ColumnSpec::new("ppl_after_general", ColumnKind::Float, true),
    ColumnSpec::new("final_loss", ColumnKind::Float, true),
    ColumnSpec::new("saved_bytes", ColumnKind::Int, true),
    ColumnSpec::new("sample_prompt", ColumnKind::Str, false),
    ColumnSpec::new("sample_before", ColumnKind::Str, true),
    ColumnSpec::new("sample_after", ColumnKind::Str, true),
    ColumnSpec::new("wall_seconds", ColumnKind::Float, false),
    ColumnSpec::new("status", ColumnKind::Str, false),
    ColumnSpec::new("error", ColumnKind::Str, true),
    ColumnSpec::v2("min_lr_ratio", ColumnKind::Float),
    ColumnSpec::v2("beta1", ColumnKind::Float),
    ColumnSpec::v2("beta2", ColumnKind::Float),
    ColumnSpec::v2("eps", ColumnKind::Float),
    ColumnSpec::v2("grad_clip", ColumnKind::Float),
    ColumnSpec::v2("measure_skip_steps", ColumnKind::Int),
    ColumnSpec::v2("eval_blocks", ColumnKind::Int),
    ColumnSpec::v2("eval_batch", ColumnKind::Int),
    ColumnSpec::v2("eval_every", ColumnKind::Int),
    ColumnSpec::v2("curve_blocks", ColumnKind::Int),
    ColumnSpec::v2("schedule", ColumnKind::Str),
    ColumnSpec::v2("cpu_model", ColumnKind::Str),
    ColumnSpec::v2("cpus", ColumnKind::Int),
    ColumnSpec::v2("simd", ColumnKind::Str),
    ColumnSpec::v2("gemm", ColumnKind::Str),
    ColumnSpec::v2("mem_total_bytes", ColumnKind::Int),
    ColumnSpec::v2("model_sha256", ColumnKind::Str),
    ColumnSpec::v2("data_sha256", ColumnKind::Str),
    ColumnSpec::v2("mem_weights_bytes", ColumnKind::Int),
    ColumnSpec::v2("mem_grads_bytes", ColumnKind::Int),
    ColumnSpec::v2("mem_optimizer_bytes", ColumnKind::Int),
    ColumnSpec::v2("mem_activations_bytes", ColumnKind::Int),
    ColumnSpec::v2("eval_before_seconds", ColumnKind::Float),
    ColumnSpec::v2("curve_seconds", ColumnKind::Float),
    ColumnSpec::v2("eval_after_seconds", ColumnKind::Float),
    ColumnSpec::v2("notes", ColumnKind::Str),
    ColumnSpec::v2("samples", ColumnKind::Int),
    ColumnSpec::v2("sample_temperature", ColumnKind::Float),
    ColumnSpec::v2("sample_top_p", ColumnKind::Float),
    ColumnSpec::v2("trainable_embeddings", ColumnKind::Int),
    ColumnSpec::v2("trainable_attention", ColumnKind::Int),
    ColumnSpec::v2("trainable_mlp", ColumnKind::Int),
    ColumnSpec::v2("trainable_norms", ColumnKind::Int),
    ColumnSpec::v2("trainable_adapters", ColumnKind::Int),
];

pub const STEP_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::new("run_id", ColumnKind::Str, false),
    ColumnSpec::new("step", ColumnKind::Int, false),
    ColumnSpec::new("loss", ColumnKind::Float, false),
    ColumnSpec::new("lr", ColumnKind::Float, false),
    ColumnSpec::new("grad_norm", ColumnKind::Float, false),
    ColumnSpec::new("tokens", ColumnKind::Int, false),
    ColumnSpec::new("elapsed_s", ColumnKind::Float, false),
];

pub const EVAL_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::new("run_id", ColumnKind::Str, false),
    ColumnSpec::new("corpus", ColumnKind::Str, false),
    ColumnSpec::new("role", ColumnKind::Str, false),
    ColumnSpec::new("ppl_before", ColumnKind::Float, true),
    ColumnSpec::new("ppl_after", ColumnKind::Float, true),
    ColumnSpec::v2("corpus_sha256", ColumnKind::Str),
    ColumnSpec::v2("blocks", ColumnKind::Int),
    ColumnSpec::v2("tokens", ColumnKind::Int),
    ColumnSpec::v2("files", ColumnKind::Str),
    ColumnSpec::v2("before_cached", ColumnKind::Int),
];

pub const EVAL_BLOCK_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::new("run_id", ColumnKind::Str, false),
    ColumnSpec::new("corpus", ColumnKind::Str, false),
    ColumnSpec::new("role", ColumnKind::Str, false),
    ColumnSpec::new("block", ColumnKind::Int, false),
    ColumnSpec::new("file", ColumnKind::Str, false),
    ColumnSpec::new("offset", ColumnKind::Int, false),
    ColumnSpec::new("tokens", ColumnKind::Int, false),
    ColumnSpec::new("nll_before", ColumnKind::Float, true),
    ColumnSpec::new("nll_after", ColumnKind::Float, true),
];

pub const CURVE_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::new("run_id", ColumnKind::Str, false),
    ColumnSpec::new("step", ColumnKind::Int, false),
    ColumnSpec::new("corpus", ColumnKind::Str, false),
    ColumnSpec::new("role", ColumnKind::Str, false),
    ColumnSpec::new("nll", ColumnKind::Float, false),
    ColumnSpec::new("tokens", ColumnKind::Int, false),
];

pub const BENCH_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::new("bench_id", ColumnKind::Str, false),
    ColumnSpec::new("started_at", ColumnKind::Str, false),
    ColumnSpec::new("model", ColumnKind::Str, false),
    ColumnSpec::new("strategy", ColumnKind::Str, false),
    ColumnSpec::new("repeat", ColumnKind::Int, false),
    ColumnSpec::new("framework", ColumnKind::Str, false),
    ColumnSpec::new("framework_version", ColumnKind::Str, false),
    ColumnSpec::new("git_rev", ColumnKind::Str, false),
    ColumnSpec::new("params_total", ColumnKind::Int, false),
    ColumnSpec::new("params_trainable", ColumnKind::Int, false),
    ColumnSpec::new("trainable_ratio", ColumnKind::Float, false),
    ColumnSpec::new("tokens_per_s", ColumnKind::Float, false),
    ColumnSpec::new("step_s", ColumnKind::Float, false),
    ColumnSpec::new("peak_mem_bytes", ColumnKind::Int, true),
    ColumnSpec::new("peak_mem_method", ColumnKind::Str, false),
    ColumnSpec::new("peak_rss_bytes", ColumnKind::Int, true),
    ColumnSpec::new("peak_rss_method", ColumnKind::Str, false),
    ColumnSpec::new("batch_size", ColumnKind::Int, false),
    ColumnSpec::new("seq_len", ColumnKind::Int, false),
    ColumnSpec::new("steps", ColumnKind::Int, false),
    ColumnSpec::new("optimizer", ColumnKind::Str, false),
    ColumnSpec::new("threads", ColumnKind::Int, false),
    ColumnSpec::new("cpu_model", ColumnKind::Str, false),
    ColumnSpec::new("cpus", ColumnKind::Int, false),
    ColumnSpec::new("simd", ColumnKind::Str, false),
    ColumnSpec::new("gemm", ColumnKind::Str, false),
    ColumnSpec::new("mem_total_bytes", ColumnKind::Int, true),
    ColumnSpec::v2("device", ColumnKind::Str),
];

/// Every table by its folder name under a results directory.
pub const TABLES: [(&str, &[ColumnSpec]); 6] = [
    ("runs", RUN_COLUMNS),
    ("steps", STEP_COLUMNS),
    ("evals", EVAL_COLUMNS),
    ("eval_blocks", EVAL_BLOCK_COLUMNS),
    ("curves", CURVE_COLUMNS),
    ("bench", BENCH_COLUMNS),
];

/// The columns of `table`, if it is one of ours.
pub fn columns(table: &str) -> Option<&'static [ColumnSpec]> {
    TABLES.iter().find(|(t, _)| *t == table).map(|(_, c)| *c)
}

fn col<T, P>(name: &str, v: P) -> Column
where
    Series: NamedFrom<P, T>,
    T: ?Sized,
{
    Series::new(name.into(), v).into_column()
}

macro_rules! column {
    ($rows:expr, $name:ident, str) => {
        col(
            stringify!($name),
            $rows.iter().map(|r| r.$name.as_str()).collect::<Vec<_>>(),
        )
    };
    ($rows:expr, $name:ident, opt_str) => {
        col(
            stringify!($name),
            $rows.iter().map(|r| r.$name.as_deref()).collect::<Vec<_>>(),
        )
    };
    ($rows:expr, $name:ident, u64) => {
        col(
            stringify!($name),
            $rows.iter().map(|r| r.$name as i64).collect::<Vec<_>>(),
        )
    };
    ($rows:expr, $name:ident, opt_u64) => {
        col(
            stringify!($name),
            $rows
                .iter()
                .map(|r| r.$name.map(|x| x as i64))
                .collect::<Vec<_>>(),
        )
    };
    ($rows:expr, $name:ident, f64) => {
        col(
            stringify!($name),
            $rows.iter().map(|r| r.$name).collect::<Vec<f64>>(),
        )
    };
    ($rows:expr, $name:ident, opt_f64) => {
        col(
            stringify!($name),
            $rows.iter().map(|r| r.$name).collect::<Vec<Option<f64>>>(),
        )
    };
}

pub fn runs_frame(rows: &[RunRow]) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(vec![
        column!(rows, run_id, str),
        column!(rows, grid, str),
        column!(rows, model, str),
        column!(rows, model_source, str),
        column!(rows, dataset, str),
        column!(rows, strategy, str),
        column!(rows, strategy_spec, str),
        column!(rows, seed, u64),
        column!(rows, framework, str),
        column!(rows, framework_version, str),
        column!(rows, device, str),
        column!(rows, threads, u64),
        column!(rows, git_rev, str),
        column!(rows, started_at, str),
        column!(rows, params_total, u64),
        column!(rows, params_trainable, u64),
        column!(rows, trainable_ratio, f64),
        column!(rows, steps, u64),
        column!(rows, batch_size, u64),
        column!(rows, grad_accum, u64),
        column!(rows, seq_len, u64),
        column!(rows, lr, f64),
        column!(rows, warmup_steps, u64),
        column!(rows, weight_decay, f64),
        column!(rows, optimizer, str),
        column!(rows, tokens_seen, u64),
        column!(rows, train_seconds, f64),
        column!(rows, tokens_per_s, f64),
        column!(rows, step_ms_p50, opt_f64),
        column!(rows, step_ms_p95, opt_f64),
        column!(rows, eval_tokens_per_s, opt_f64),
        column!(rows, eval_seconds, f64),
        column!(rows, peak_mem_bytes, opt_u64),
        column!(rows, peak_mem_method, str),
        column!(rows, peak_rss_bytes, opt_u64),
        column!(rows, peak_rss_method, str),
        column!(rows, ppl_before, opt_f64),
        column!(rows, ppl_after, opt_f64),
        column!(rows, ppl_before_cross, opt_f64),
        column!(rows, ppl_after_cross, opt_f64),
        column!(rows, ppl_before_general, opt_f64),
        column!(rows, ppl_after_general, opt_f64),
        column!(rows, final_loss, opt_f64),
        column!(rows, saved_bytes, opt_u64),
        column!(rows, sample_prompt, str),
        column!(rows, sample_before, opt_str),
        column!(rows, sample_after, opt_str),
        column!(rows, wall_seconds, f64),
        column!(rows, status, str),
        column!(rows, error, opt_str),
        column!(rows, min_lr_ratio, opt_f64),
        column!(rows, beta1, opt_f64),
        column!(rows, beta2, opt_f64),
        column!(rows, eps, opt_f64),
        column!(rows, grad_clip, opt_f64),
        column!(rows, measure_skip_steps, opt_u64),
        column!(rows, eval_blocks, opt_u64),
        column!(rows, eval_batch, opt_u64),
        column!(rows, eval_every, opt_u64),
        column!(rows, curve_blocks, opt_u64),
        column!(rows, schedule, opt_str),
        column!(rows, cpu_model, opt_str),
        column!(rows, cpus, opt_u64),
        column!(rows, simd, opt_str),
        column!(rows, gemm, opt_str),
        column!(rows, mem_total_bytes, opt_u64),
        column!(rows, model_sha256, opt_str),
        column!(rows, data_sha256, opt_str),
        column!(rows, mem_weights_bytes, opt_u64),
        column!(rows, mem_grads_bytes, opt_u64),
        column!(rows, mem_optimizer_bytes, opt_u64),
        column!(rows, mem_activations_bytes, opt_u64),
        column!(rows, eval_before_seconds, opt_f64),
        column!(rows, curve_seconds, opt_f64),
        column!(rows, eval_after_seconds, opt_f64),
        column!(rows, notes, opt_str),
        column!(rows, samples, opt_u64),
        column!(rows, sample_temperature, opt_f64),
        column!(rows, sample_top_p, opt_f64),
        column!(rows, trainable_embeddings, opt_u64),
        column!(rows, trainable_attention, opt_u64),
        column!(rows, trainable_mlp, opt_u64),
        column!(rows, trainable_norms, opt_u64),
        column!(rows, trainable_adapters, opt_u64),
    ])?)
}

pub fn steps_frame(rows: &[StepRow]) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(vec![
        column!(rows, run_id, str),
        column!(rows, step, u64),
        column!(rows, loss, f64),
        column!(rows, lr, f64),
        column!(rows, grad_norm, f64),
        column!(rows, tokens, u64),
        column!(rows, elapsed_s, f64),
    ])?)
}

pub fn evals_frame(rows: &[EvalRow]) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(vec![
        column!(rows, run_id, str),
        column!(rows, corpus, str),
        column!(rows, role, str),
        column!(rows, ppl_before, opt_f64),
        column!(rows, ppl_after, opt_f64),
        column!(rows, corpus_sha256, opt_str),
        column!(rows, blocks, opt_u64),
        column!(rows, tokens, opt_u64),
        column!(rows, files, opt_str),
        column!(rows, before_cached, opt_u64),
    ])?)
}

pub fn eval_blocks_frame(rows: &[EvalBlockRow]) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(vec![
        column!(rows, run_id, str),
        column!(rows, corpus, str),
        column!(rows, role, str),
        column!(rows, block, u64),
        column!(rows, file, str),
        column!(rows, offset, u64),
        column!(rows, tokens, u64),
        column!(rows, nll_before, opt_f64),
        column!(rows, nll_after, opt_f64),
    ])?)
}

pub fn curves_frame(rows: &[CurveRow]) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(vec![
        column!(rows, run_id, str),
        column!(rows, step, u64),
        column!(rows, corpus, str),
        column!(rows, role, str),
        column!(rows, nll, f64),
        column!(rows, tokens, u64),
    ])?)
}

pub fn bench_frame(rows: &[BenchRow]) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(vec![
        column!(rows, bench_id, str),
        column!(rows, started_at, str),
        column!(rows, model, str),
        column!(rows, strategy, str),
        column!(rows, repeat, u64),
        column!(rows, framework, str),
        column!(rows, framework_version, str),
        column!(rows, git_rev, str),
        column!(rows, params_total, u64),
        column!(rows, params_trainable, u64),
        column!(rows, trainable_ratio, f64),
        column!(rows, tokens_per_s, f64),
        column!(rows, step_s, f64),
        column!(rows, peak_mem_bytes, opt_u64),
        column!(rows, peak_mem_method, str),
        column!(rows, peak_rss_bytes, opt_u64),
        column!(rows, peak_rss_method, str),
        column!(rows, batch_size, u64),
        column!(rows, seq_len, u64),
        column!(rows, steps, u64),
        column!(rows, optimizer, str),
        column!(rows, threads, u64),
        column!(rows, cpu_model, str),
        column!(rows, cpus, u64),
        column!(rows, simd, str),
        column!(rows, gemm, str),
        column!(rows, mem_total_bytes, opt_u64),
        column!(rows, device, opt_str),
    ])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(dt: &DataType) -> ColumnKind {
        match dt {
            DataType::String => ColumnKind::Str,
            DataType::Int64 => ColumnKind::Int,
            DataType::Float64 => ColumnKind::Float,
            other => panic!("unexpected column type {other:?}"),
        }
    }

    /// The frames the store writes have exactly the columns `TABLES` lists, in order and kind.
    #[test]
    fn frames_match_the_column_lists() {
        let step = StepRow {
            run_id: "x".into(),
            step: 0,
            loss: 1.0,
            lr: 0.1,
            grad_norm: 1.0,
            tokens: 4,
            elapsed_s: 0.5,
        };
        let eval = EvalRow::default();
        for (frame, cols) in [
            (runs_frame(&[RunRow::default()]).unwrap(), RUN_COLUMNS),
            (steps_frame(&[step]).unwrap(), STEP_COLUMNS),
            (evals_frame(&[eval]).unwrap(), EVAL_COLUMNS),
            (
                eval_blocks_frame(&[EvalBlockRow::default()]).unwrap(),
                EVAL_BLOCK_COLUMNS,
            ),
            (curves_frame(&[CurveRow::default()]).unwrap(), CURVE_COLUMNS),
            (bench_frame(&[BenchRow::default()]).unwrap(), BENCH_COLUMNS),
        ] {
            let got: Vec<(String, ColumnKind)> = frame
                .columns()
                .iter()
                .map(|c| (c.name().to_string(), kind_of(c.dtype())))
                .collect();
            let want: Vec<(String, ColumnKind)> =
                cols.iter().map(|c| (c.name.to_string(), c.kind)).collect();
            assert_eq!(got, want);
        }
    }
}
