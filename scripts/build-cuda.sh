#!/usr/bin/env bash
# Build ablate with CUDA (`--device cuda`) from PyPI's CUDA 13.0 wheels alone: no system CUDA.
#
#   scripts/build-cuda.sh            # -> target/release/ablate-cuda (scripts/gpu-check.sh --prepare packs it)
#   scripts/build-cuda.sh --setup    # only the toolchain (venv, links, libcuda stub); prints the env
#
# Pinned to CUDA 13.0: the GPU machines run driver 580 (CUDA 13.0), which accepts the PTX 9.0
# that nvcc 13.0 writes. CUDA_COMPUTE_CAP defaults to 90 (H100/H200); set it for other cards.
# Costs: ~2 GB of wheels once, then ~10 minutes on 2 cores on top of a built CPU tree (measured:
# 9 min 33 s of cargo, of which most is nvcc on candle-kernels); the binary is ~133 MB stripped.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ABLATE_CUDA_VENV:-.cuda-venv}
WHEELS=(
  "nvidia-cuda-nvcc==13.0.88" "nvidia-nvvm==13.0.88" "nvidia-cuda-crt==13.0.88"
  "nvidia-cuda-runtime==13.0.96" "nvidia-cuda-cccl==13.0.85" "nvidia-cuda-nvrtc==13.0.88"
  "nvidia-curand==10.4.0.35" "nvidia-cublas==13.0.2.14"
)
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q "${WHEELS[@]}"
CUDA_HOME=$("$VENV/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')
export CUDA_HOME
# The wheels carry only versioned names (libcublas.so.13): add the plain names the linker asks for.
for f in "$CUDA_HOME"/lib/lib*.so.*; do
  base=${f%%.so.*}.so
  [ -e "$base" ] || ln -s "$(basename "$f")" "$base"
done
# No wheel has libcuda (the driver brings it): link against a stub exporting every cu* entry
# point of cuda.h, with the driver's soname, so the real libcuda.so.1 is loaded at run time.
mkdir -p "$CUDA_HOME/lib/stubs"
if [ ! -e "$CUDA_HOME/lib/stubs/libcuda.so" ]; then
  grep -ohE '\bcu[A-Z][A-Za-z0-9_]*\b' "$CUDA_HOME/include/cuda.h" | sort -u |
    sed 's/.*/void &(void) {}/' >"$CUDA_HOME/lib/stubs/libcuda_stub.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$CUDA_HOME/lib/stubs/libcuda.so" \
    "$CUDA_HOME/lib/stubs/libcuda_stub.c"
fi
export PATH="$CUDA_HOME/bin:$PATH"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CUDARC_CUDA_VERSION=13000
export LIBRARY_PATH="$CUDA_HOME/lib:$CUDA_HOME/lib/stubs:${LIBRARY_PATH:-}"
if [ "${1:-}" = "--setup" ]; then
  echo "export CUDA_HOME=$CUDA_HOME PATH=$PATH CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP CUDARC_CUDA_VERSION=13000 LIBRARY_PATH=$LIBRARY_PATH"
  exit 0
fi
nvcc --version | tail -1
# Same target folder as the CPU build (its dependencies are reused); the CUDA binary is kept
# under its own name, so the CPU build and its tests stay as they are.
cargo build --release --features cuda --bin ablate
cp target/release/ablate target/release/ablate-cuda
touch src/main.rs # the next CPU build relinks target/release/ablate without CUDA
strip target/release/ablate-cuda
ls -la target/release/ablate-cuda
