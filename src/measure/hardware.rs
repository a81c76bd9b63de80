//! The machine and build a measurement ran on, recorded with every timing: timings from
//! different hosts (or CPU features, or builds) are not comparable.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hardware {
    pub cpu_model: String,
    /// Logical CPUs the OS reports (threads used are recorded separately).
    pub cpus: u64,
    /// SIMD features detected at run time that the matrix kernels can use.
    pub simd: String,
    /// The matrix-multiply backend of the build.
    pub gemm: String,
    pub mem_total_bytes: Option<u64>,
}

fn proc_field(file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

/// Which libraries compute the CPU matrix products in this build: the linears' (ablate's own
/// calls, `nn::cpu_gemm`), the attention heads' and the rest of candle's.
fn gemm_backend() -> String {
    let gemm = format!("gemm crate, f32, {} kernels", gemm_kernels());
    let linears = if cfg!(feature = "mkl") {
        "Intel MKL sgemm, static, OpenMP threads"
    } else {
        &gemm
    };
    format!(
        "candle-core {} CPU backend; linears: {linears}; attention heads: {gemm}",
        env!("ABLATE_CANDLE_VERSION")
    )
}

/// The microkernel family gemm dispatches to on this CPU, by gemm 0.19's own rule
/// (`init_gemm_fn`: `avx512f` in a build with its `x86-v4`, our feature `avx512`; else `fma`).
fn gemm_kernels() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if cfg!(feature = "avx512") && has!("avx512f") {
            return "AVX-512 (x86-v4)";
        }
        if has!("fma") {
            return "AVX2 (x86-v3)";
        }
        "SSE (x86-v2 or generic)"
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH
    }
}

fn simd() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut v = Vec::new();
        macro_rules! check {
            ($($f:tt),*) => {$(
                if std::arch::is_x86_feature_detected!($f) {
                    v.push($f);
                }
            )*};
        }
        check!(
            "sse4.2",
            "avx",
            "avx2",
            "fma",
            "f16c",
            "avx512f",
            "avx512bw",
            "avx512vnni",
            "avx512bf16"
        );
        v.join(",")
    }
    #[cfg(target_arch = "aarch64")]
    {
        "neon".to_string()
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        String::new()
    }
}

impl Hardware {
    pub fn detect() -> Self {
        Self {
            cpu_model: proc_field("/proc/cpuinfo", "model name")
                .unwrap_or_else(|| std::env::consts::ARCH.to_string()),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
            simd: simd(),
            gemm: gemm_backend(),
            mem_total_bytes: proc_field("/proc/meminfo", "MemTotal")
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .map(|kib| kib * 1024),
        }
    }
}

/// The framework behind ablate's own measurements, with versions.
pub fn framework_version() -> String {
    format!(
        "candle-core {} / ablate {}",
        env!("ABLATE_CANDLE_VERSION"),
        env!("CARGO_PKG_VERSION")
    )
}
