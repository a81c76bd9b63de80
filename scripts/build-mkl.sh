#!/usr/bin/env bash
# Build ablate with Intel MKL's sgemm behind candle's CPU matrix products (candle's `mkl`
# feature), from PyPI's MKL wheels alone: no system MKL, no download at build time.
#
#   scripts/build-mkl.sh     # -> target/release/ablate-mkl, beside the default (gemm crate) build
#
# MKL and its OpenMP runtime are linked statically, so the binary runs without the wheels.
# Whether it is faster depends on the CPU: measure it against the default build on the host
# you have (scripts/ab-builds.sh target/release/ablate target/release/ablate-mkl) before
# using it. The same MKL version (2024.2) is what PyTorch 2.x links.
set -euo pipefail
cd "$(dirname "$0")/.."
MKL_VERSION=${ABLATE_MKL_VERSION:-2024.2.0}
ROOT=${ABLATE_MKL_ROOT:-.mkl}
if [ ! -e "$ROOT/lib/libmkl_core.a" ]; then
  mkdir -p "$ROOT/wheels" "$ROOT/lib" "$ROOT/include"
  python3 -m pip download -q --no-deps -d "$ROOT/wheels" \
    "mkl-static==$MKL_VERSION" "mkl-include==$MKL_VERSION" "intel-openmp==$MKL_VERSION"
  # Only what an LP64, Intel-threaded static link needs. libiomp5.so is left out on purpose:
  # with only the archive present the linker cannot pick the shared runtime.
  python3 - "$ROOT" <<'PY'
import sys, zipfile, pathlib
root = pathlib.Path(sys.argv[1])
keep = {"libmkl_intel_lp64.a", "libmkl_intel_thread.a", "libmkl_core.a", "libiomp5.a"}
for whl in (root / "wheels").glob("*.whl"):
    with zipfile.ZipFile(whl) as z:
        for name in z.namelist():
            p = pathlib.PurePosixPath(name)
            if p.name in keep:
                (root / "lib" / p.name).write_bytes(z.read(name))
            elif "/data/include/" in name and not name.endswith("/"):
                dest = root / "include" / name.split("/data/include/", 1)[1]
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(z.read(name))
PY
  rm -rf "$ROOT/wheels"
fi
MKLROOT=$(cd "$ROOT" && pwd)
export MKLROOT
# MKL's three archives depend on each other in a cycle: group them for the linker.
cargo rustc --release --features mkl --bin ablate -- \
  -C link-arg=-Wl,--start-group -C link-arg="$MKLROOT/lib/libmkl_intel_lp64.a" \
  -C link-arg="$MKLROOT/lib/libmkl_intel_thread.a" -C link-arg="$MKLROOT/lib/libmkl_core.a" \
  -C link-arg=-Wl,--end-group -C link-arg=-lpthread -C link-arg=-ldl -C link-arg=-lm
cp target/release/ablate target/release/ablate-mkl
touch src/main.rs # the next default build relinks target/release/ablate without MKL
strip target/release/ablate-mkl
ls -la target/release/ablate-mkl
