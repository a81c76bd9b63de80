//! Measuring a run: live heap bytes (a counting global allocator), resident set size, timers.

pub mod alloc;
pub mod hardware;
pub mod malloc;
pub mod rss;
pub mod stats;

/// How a peak-memory number was obtained; stored next to the number in every result row.
pub const HEAP_METHOD: &str = "counting global allocator: high-water mark of live heap bytes";
/// A run on a GPU: its device memory is not tracked yet, so no peak is reported (host RSS is).
pub const GPU_UNMEASURED: &str =
    "not measured: peak GPU memory is not tracked yet (host peak RSS is in peak_rss_bytes)";
pub const RSS_METHOD: &str = "VmHWM from /proc/self/status, reset via /proc/self/clear_refs";
