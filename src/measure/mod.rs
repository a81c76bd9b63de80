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
pub const RSS_METHOD: &str = "VmHWM from /proc/self/status, reset via /proc/self/clear_refs";
