//! Measuring a run: live heap bytes (a counting global allocator), resident set size, timers.

pub mod alloc;
pub mod device_mem;
pub mod hardware;
pub mod malloc;
pub mod rss;
pub mod stats;

/// How a peak-memory number was obtained; stored next to the number in every result row.
pub const HEAP_METHOD: &str = "counting global allocator: high-water mark of live heap bytes";
/// A run on a GPU whose device allocates without a memory pool: no exact peak is known, so none
/// is reported (host RSS is).
pub const GPU_UNMEASURED: &str = "not measured: this device allocates without a CUDA memory pool (host peak RSS is in peak_rss_bytes)";
/// A run's peak memory and how it was measured: the counting allocator's heap peak on the CPU;
/// on a GPU the device pool's (the heap holds only the host's share of such a run).
pub fn peak_memory(
    device: &candle_core::Device,
    heap: Option<usize>,
    gpu: Option<device_mem::DevicePeak>,
) -> (Option<usize>, String) {
    if device.is_cpu() {
        (heap, HEAP_METHOD.into())
    } else {
        (
            gpu.map(|p| p.used_bytes as usize),
            gpu.map_or_else(|| GPU_UNMEASURED.into(), |p| p.method()),
        )
    }
}

/// Start every peak (heap, resident set, device pool) afresh where a measurement begins.
pub fn reset_peaks(device: &candle_core::Device) -> anyhow::Result<()> {
    alloc::reset_peak();
    rss::reset_peak_rss();
    device_mem::reset_peak(device)
}

pub const RSS_METHOD: &str = "VmHWM from /proc/self/status, reset via /proc/self/clear_refs";
