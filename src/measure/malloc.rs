//! glibc malloc tuning for training loops. By default glibc serves every large block with a fresh
//! mmap and returns it with munmap on free, so each training step page-faults and zeroes gigabytes
//! (a quarter of a full fine-tuning step was kernel time here). Keeping freed memory in the heap
//! lets the next step reuse it; RSS then stays at the step's high-water mark, which is what a
//! peak-memory measurement reports anyway.

/// Serve large blocks from the heap and never trim it. Returns false where unsupported.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; called before threads allocate.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
                && libc::mallopt(libc::M_TOP_PAD, 256 << 20) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
