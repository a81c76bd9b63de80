//! The `ablate` binary: the command line (`cli`) over the library.

mod cli;

/// Every tensor lives on the heap on CPU, so this allocator's high-water mark is the measured peak
/// memory of a run (weights + activations + gradients + optimizer state).
#[global_allocator]
static GLOBAL: ablate::measure::alloc::CountingAlloc = ablate::measure::alloc::CountingAlloc;

fn main() -> anyhow::Result<()> {
    let code = cli::main()?;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}
