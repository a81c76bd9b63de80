//! A global allocator that counts live heap bytes and their high-water mark. On CPU every tensor
//! lives on the heap, so the peak is the measured peak of weights + activations + gradients +
//! optimizer state, not an estimate. The binary installs it (`#[global_allocator]` in
//! `src/main.rs`); a program that does not gets `None` from `peak_bytes`, never a made-up zero.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call forwards to the system allocator unchanged; only counters are updated.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Whether this allocator is the process's global allocator (it has seen an allocation).
pub fn installed() -> bool {
    LIVE.load(Ordering::Relaxed) > 0
}

/// Highest live heap bytes since the last `reset_peak`; `None` when the allocator is not installed.
pub fn peak_bytes() -> Option<usize> {
    installed().then(|| PEAK.load(Ordering::Relaxed))
}

/// Start a new high-water mark from what is live now.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// Live heap bytes now; `None` when the allocator is not installed.
pub fn live_bytes() -> Option<usize> {
    installed().then(|| LIVE.load(Ordering::Relaxed))
}

/// Run `f` without letting its allocations raise the high-water mark (evaluation inside a
/// training loop must not count as training memory).
pub fn excluded_from_peak<T>(f: impl FnOnce() -> T) -> T {
    let before = PEAK.load(Ordering::Relaxed);
    let out = f();
    PEAK.store(before.max(LIVE.load(Ordering::Relaxed)), Ordering::Relaxed);
    out
}
