//! The Parquet schema, in one place: each table is declared once ([`table!`]), and the
//! declaration gives its row type, its column list (`TABLES`, which the PyTorch backend
//! receives in its plans, the report derives its numeric columns from, and the README
//! documents), the frame writer and the reader. A column's type in the row (`str`, `opt_str`,
//! `u64`, `opt_u64`, `f64`, `opt_f64`) fixes its stored kind and whether it may be null;
//! `since 2` marks a column added later, which files written before it lack (read as null).

use super::table::table;
pub use super::table::{ColumnKind, ColumnSpec};

table! {
    /// One run. Optional fields are null where they do not apply (e.g. after-training perplexity of
    /// a failed run).
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct RunRow;
    columns RUN_COLUMNS, write runs_frame, read read_runs;
    {
        run_id: str,
        grid: str,
        model: str,
        model_source: str,
        dataset: str,
        strategy: str,
        strategy_spec: str,
        seed: u64,
        framework: str,
        framework_version: str,
        device: str,
        threads: u64,
        git_rev: str,
        started_at: str,
        params_total: u64,
        params_trainable: u64,
        trainable_ratio: f64,
        steps: u64,
        batch_size: u64,
        grad_accum: u64,
        seq_len: u64,
        lr: f64,
        warmup_steps: u64,
        weight_decay: f64,
        optimizer: str,
        tokens_seen: u64,
        train_seconds: f64,
        tokens_per_s: f64,
        step_ms_p50: opt_f64,
        step_ms_p95: opt_f64,
        eval_tokens_per_s: opt_f64,
        eval_seconds: f64,
        peak_mem_bytes: opt_u64,
        peak_mem_method: str,
        peak_rss_bytes: opt_u64,
        peak_rss_method: str,
        ppl_before: opt_f64,
        ppl_after: opt_f64,
        ppl_before_cross: opt_f64,
        ppl_after_cross: opt_f64,
        ppl_before_general: opt_f64,
        ppl_after_general: opt_f64,
        final_loss: opt_f64,
        saved_bytes: opt_u64,
        sample_prompt: str,
        sample_before: opt_str,
        sample_after: opt_str,
        wall_seconds: f64,
        status: status,
        error: opt_str,
        min_lr_ratio: opt_f64 since 2,
        beta1: opt_f64 since 2,
        beta2: opt_f64 since 2,
        eps: opt_f64 since 2,
        grad_clip: opt_f64 since 2,
        measure_skip_steps: opt_u64 since 2,
        eval_blocks: opt_u64 since 2,
        eval_batch: opt_u64 since 2,
        eval_every: opt_u64 since 2,
        curve_blocks: opt_u64 since 2,
        schedule: opt_str since 2,
        cpu_model: opt_str since 2,
        cpus: opt_u64 since 2,
        simd: opt_str since 2,
        gemm: opt_str since 2,
        mem_total_bytes: opt_u64 since 2,
        model_sha256: opt_str since 2,
        data_sha256: opt_str since 2,
        mem_weights_bytes: opt_u64 since 2,
        mem_grads_bytes: opt_u64 since 2,
        mem_optimizer_bytes: opt_u64 since 2,
        mem_activations_bytes: opt_u64 since 2,
        eval_before_seconds: opt_f64 since 2,
        curve_seconds: opt_f64 since 2,
        eval_after_seconds: opt_f64 since 2,
        notes: opt_str since 2,
        samples: opt_u64 since 2,
        sample_temperature: opt_f64 since 2,
        sample_top_p: opt_f64 since 2,
        /// Trainable parameters by group (the architecture's naming table decides the group).
        trainable_embeddings: opt_u64 since 2,
        trainable_attention: opt_u64 since 2,
        trainable_mlp: opt_u64 since 2,
        trainable_norms: opt_u64 since 2,
        trainable_adapters: opt_u64 since 2,
        /// Settings that feed the run id and had no column before schema version 3.
        validation_blocks: opt_u64 since 3,
        sample_tokens: opt_u64 since 3,
        /// The learning rates of the sweep the run is one of (`1e-4,5e-4`); null: no sweep.
        lr_sweep: opt_str since 3,
    }
}

table! {

    #[derive(Clone, Debug, PartialEq)]
    pub struct StepRow;
    columns STEP_COLUMNS, write steps_frame, read read_steps;
    {
        run_id: str,
        step: u64,
        loss: f64,
        lr: f64,
        grad_norm: f64,
        tokens: u64,
        elapsed_s: f64,
    }
}

table! {

    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct EvalRow;
    columns EVAL_COLUMNS, write evals_frame, read read_evals;
    {
        run_id: str,
        corpus: str,
        /// `own`, `cross` (another style), `general` or `probe` (out-of-domain).
        role: role,
        ppl_before: opt_f64,
        ppl_after: opt_f64,
        corpus_sha256: opt_str since 2,
        /// Blocks and tokens scored, and the files they came from (comma-separated).
        blocks: opt_u64 since 2,
        tokens: opt_u64 since 2,
        files: opt_str since 2,
        /// 1 when the before scores came from the cache of an earlier run of the same model.
        before_cached: opt_u64 since 2,
    }
}

table! {
    /// One scored eval block of one corpus: the unit of intervals and paired comparisons.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct EvalBlockRow;
    columns EVAL_BLOCK_COLUMNS, write eval_blocks_frame, read read_eval_blocks;
    {
        run_id: str,
        corpus: str,
        role: role,
        /// Index of the block in the corpus's stratified sample.
        block: u64,
        file: str,
        /// Token offset of the block in the file's eval split.
        offset: u64,
        tokens: u64,
        /// Mean next-token NLL of the block before and after training.
        nll_before: opt_f64,
        nll_after: opt_f64,
    }
}

table! {
    /// A point of a learning or forgetting curve: a corpus's small fixed subset scored during
    /// training (step 0 is before the first update).
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct CurveRow;
    columns CURVE_COLUMNS, write curves_frame, read read_curves;
    {
        run_id: str,
        step: u64,
        corpus: str,
        role: role,
        nll: f64,
        tokens: u64,
    }
}

table! {
    /// One block of a curve point: the unit of the bootstrap that gives a single seed's
    /// frontier an interval (noise of the evaluation, not of training).
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct CurveBlockRow;
    columns CURVE_BLOCK_COLUMNS, write curve_blocks_frame, read read_curve_blocks;
    {
        run_id: str,
        step: u64,
        corpus: str,
        role: role,
        /// Index of the block in the curve subset (the same blocks at every step).
        block: u64,
        nll: f64,
    }
}

table! {
    /// One timed measurement of `ablate bench` (every repeat, interleaved with the other
    /// strategies; one child process each), with the settings and the machine.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct BenchRow;
    columns BENCH_COLUMNS, write bench_frame, read read_bench;
    {
        bench_id: str,
        started_at: str,
        model: str,
        strategy: str,
        repeat: u64,
        framework: str,
        framework_version: str,
        git_rev: str,
        params_total: u64,
        params_trainable: u64,
        trainable_ratio: f64,
        tokens_per_s: f64,
        step_s: f64,
        peak_mem_bytes: opt_u64,
        peak_mem_method: str,
        peak_rss_bytes: opt_u64,
        peak_rss_method: str,
        batch_size: u64,
        seq_len: u64,
        steps: u64,
        optimizer: str,
        threads: u64,
        cpu_model: str,
        cpus: u64,
        simd: str,
        gemm: str,
        mem_total_bytes: opt_u64,
        /// `cpu` or `cuda:N`.
        device: opt_str since 2,
    }
}

table! {
    /// One timed inference measurement of `ablate bench --latency`: one model variant, one
    /// shape, one interleaved repeat (the median of its iterations), with the machine.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct LatencyRow;
    columns LATENCY_COLUMNS, write latency_frame, read read_latency;
    {
        latency_id: str,
        started_at: str,
        model: str,
        /// `base`, `partial` (attn_embed_frozen's trained set changed: the same graph), `lora`
        /// (adapters applied at run time), `lora_merged` (adapters folded into the weights).
        variant: str,
        /// `forward_1x128` (the rule's), `token_1x128` (one generated token after a 128-token
        /// prompt), `forward_4x128`.
        measure: str,
        repeat: u64,
        /// Median seconds per iteration of this repeat.
        seconds: f64,
        iterations: u64,
        batch_size: u64,
        tokens: u64,
        /// How generation gets its next token (`recomputes the prefix: no KV cache`).
        generation: str,
        framework_version: str,
        git_rev: str,
        device: str,
        threads: u64,
        cpu_model: str,
        cpus: u64,
        simd: str,
        gemm: str,
    }
}

/// Every table by its folder name under a results directory.
pub const TABLES: [(&str, &[ColumnSpec]); 8] = [
    ("runs", RUN_COLUMNS),
    ("steps", STEP_COLUMNS),
    ("evals", EVAL_COLUMNS),
    ("eval_blocks", EVAL_BLOCK_COLUMNS),
    ("curves", CURVE_COLUMNS),
    ("curve_blocks", CURVE_BLOCK_COLUMNS),
    ("bench", BENCH_COLUMNS),
    ("latency", LATENCY_COLUMNS),
];

/// The columns of `table`, if it is one of ours.
pub fn columns(table: &str) -> Option<&'static [ColumnSpec]> {
    TABLES.iter().find(|(t, _)| *t == table).map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;

    fn kind_of(dt: &DataType) -> ColumnKind {
        match dt {
            DataType::String => ColumnKind::Str,
            DataType::Int64 => ColumnKind::Int,
            DataType::Float64 => ColumnKind::Float,
            other => panic!("unexpected column type {other:?}"),
        }
    }

    /// One declaration gives the row, the columns, the writer and the reader: rows written and
    /// read back are the rows, for every table, nulls included.
    #[test]
    fn rows_round_trip_through_writer_and_reader() {
        let run = RunRow {
            run_id: "a".into(),
            seed: 3,
            lr: 1e-4,
            ppl_after: Some(12.5),
            peak_mem_bytes: Some(1 << 40),
            error: Some("x".into()),
            ..Default::default()
        };
        let runs = [run, RunRow::default()];
        assert_eq!(read_runs(&runs_frame(&runs).unwrap()).unwrap(), runs);
        let steps = [StepRow {
            run_id: "s".into(),
            step: 7,
            loss: 2.5,
            lr: 0.1,
            grad_norm: 0.75,
            tokens: 512,
            elapsed_s: 1.5,
        }];
        assert_eq!(read_steps(&steps_frame(&steps).unwrap()).unwrap(), steps);
        let evals = [EvalRow {
            ppl_before: Some(3.0),
            ..Default::default()
        }];
        assert_eq!(read_evals(&evals_frame(&evals).unwrap()).unwrap(), evals);
        let blocks = [EvalBlockRow::default()];
        let frame = eval_blocks_frame(&blocks).unwrap();
        assert_eq!(read_eval_blocks(&frame).unwrap(), blocks);
        let curves = [CurveRow::default()];
        assert_eq!(
            read_curves(&curves_frame(&curves).unwrap()).unwrap(),
            curves
        );
        let cb = [CurveBlockRow::default()];
        let frame = curve_blocks_frame(&cb).unwrap();
        assert_eq!(read_curve_blocks(&frame).unwrap(), cb);
        let lat = [LatencyRow::default()];
        assert_eq!(read_latency(&latency_frame(&lat).unwrap()).unwrap(), lat);
        let bench = [BenchRow::default()];
        assert_eq!(read_bench(&bench_frame(&bench).unwrap()).unwrap(), bench);
    }

    /// A file from before a later column reads it as null; a missing original column, or a null
    /// where none may be, is an error naming the column.
    #[test]
    fn older_files_read_later_columns_as_null_and_nothing_else_is_forgiven() {
        let mut df = runs_frame(&[RunRow {
            schedule: Some("cosine".into()),
            ..Default::default()
        }])
        .unwrap();
        df = df.drop("schedule").unwrap();
        assert_eq!(read_runs(&df).unwrap()[0].schedule, None);
        let no_seed = df.drop("seed").unwrap();
        let e = format!("{:#}", read_runs(&no_seed).unwrap_err());
        assert!(e.contains("`seed`"), "{e}");
        let mut nulls = df.clone();
        nulls
            .replace(
                "status",
                Series::new("status".into(), [None::<&str>]).into_column(),
            )
            .unwrap();
        let e = format!("{:#}", read_runs(&nulls).unwrap_err());
        assert!(e.contains("`status`") && e.contains("null"), "{e}");
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
            (
                curve_blocks_frame(&[CurveBlockRow::default()]).unwrap(),
                CURVE_BLOCK_COLUMNS,
            ),
            (bench_frame(&[BenchRow::default()]).unwrap(), BENCH_COLUMNS),
            (
                latency_frame(&[LatencyRow::default()]).unwrap(),
                LATENCY_COLUMNS,
            ),
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
