//! Peak GPU memory. candle allocates every CUDA buffer with `cuMemAllocAsync` from the device's
//! current memory pool (cudarc does so whenever the device supports pools), so the pool's
//! used-memory high-water mark is the exact peak of memory in use by ablate's tensors; the
//! reserved high-water mark is what the driver held for the pool (torch's "reserved"). Both are
//! reset where the CPU heap peak is reset. cuBLAS's own workspace is outside the pool.

use candle_core::Device;

/// The row's method for a CUDA peak.
pub const POOL_METHOD: &str = "CUDA memory pool high-water mark (CU_MEMPOOL_ATTR_USED_MEM_HIGH; candle allocates with cuMemAllocAsync), reset when training starts; excludes cuBLAS workspace";

/// High-water marks of the device's memory pool since the last reset, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevicePeak {
    pub used_bytes: u64,
    pub reserved_bytes: u64,
}

impl DevicePeak {
    /// The method string with the reserved figure, for the result row.
    pub fn method(&self) -> String {
        format!("{POOL_METHOD}; max reserved {} bytes", self.reserved_bytes)
    }
}

/// Let the device's memory pool keep what it has reserved (its release threshold at the
/// maximum) instead of unmapping freed memory at every synchronisation, as PyTorch's caching
/// allocator keeps it; nothing on the CPU.
pub fn keep_pool_memory(device: &Device) -> anyhow::Result<()> {
    imp::keep(device)
}

/// Reset the high-water marks; nothing on the CPU.
pub fn reset_peak(device: &Device) -> anyhow::Result<()> {
    imp::reset(device)
}

/// The high-water marks since [`reset_peak`]; None on the CPU, or where the device allocates
/// without a pool (then nothing exact is known).
pub fn peak(device: &Device) -> anyhow::Result<Option<DevicePeak>> {
    imp::peak(device)
}

#[cfg(feature = "cuda")]
mod imp {
    use super::DevicePeak;
    use candle_core::Device;
    use candle_core::cuda_backend::cudarc::driver::{result, sys};

    fn pool(device: &Device) -> anyhow::Result<Option<sys::CUmemoryPool>> {
        let Device::Cuda(d) = device else {
            return Ok(None);
        };
        let stream = d.cuda_stream();
        let ctx = stream.context();
        if !ctx.has_async_alloc() {
            return Ok(None);
        }
        ctx.bind_to_thread()?;
        // Safety: cu_device comes from a live context.
        Ok(Some(unsafe {
            result::device::get_mem_pool(ctx.cu_device())?
        }))
    }

    fn attr(p: sys::CUmemoryPool, a: sys::CUmemPool_attribute) -> anyhow::Result<u64> {
        let mut v: u64 = 0;
        // Safety: these attributes are cuuint64_t.
        unsafe { result::mem_pool::get_attribute(p, a, (&raw mut v).cast())? };
        Ok(v)
    }

    pub fn keep(device: &Device) -> anyhow::Result<()> {
        let Some(p) = pool(device)? else {
            return Ok(());
        };
        let mut max = u64::MAX;
        // Safety: the release threshold is a cuuint64_t.
        unsafe {
            result::mem_pool::set_attribute(
                p,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                (&raw mut max).cast(),
            )?
        };
        Ok(())
    }

    pub fn reset(device: &Device) -> anyhow::Result<()> {
        let Some(p) = pool(device)? else {
            return Ok(());
        };
        device.synchronize()?;
        for a in [
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH,
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH,
        ] {
            let mut zero: u64 = 0;
            // Safety: the high-water attributes take a cuuint64_t, and only 0 (reset).
            unsafe { result::mem_pool::set_attribute(p, a, (&raw mut zero).cast())? };
        }
        Ok(())
    }

    pub fn peak(device: &Device) -> anyhow::Result<Option<DevicePeak>> {
        let Some(p) = pool(device)? else {
            return Ok(None);
        };
        device.synchronize()?;
        Ok(Some(DevicePeak {
            used_bytes: attr(p, sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH)?,
            reserved_bytes: attr(
                p,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH,
            )?,
        }))
    }
}

#[cfg(not(feature = "cuda"))]
mod imp {
    use super::DevicePeak;
    use candle_core::Device;

    pub fn keep(_: &Device) -> anyhow::Result<()> {
        Ok(())
    }

    pub fn reset(_: &Device) -> anyhow::Result<()> {
        Ok(())
    }

    pub fn peak(_: &Device) -> anyhow::Result<Option<DevicePeak>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_has_no_device_peak() {
        let cpu = Device::Cpu;
        reset_peak(&cpu).unwrap();
        assert_eq!(peak(&cpu).unwrap(), None);
        let p = DevicePeak {
            used_bytes: 5,
            reserved_bytes: 7,
        };
        assert!(
            p.method().ends_with("max reserved 7 bytes"),
            "{}",
            p.method()
        );
    }
}
