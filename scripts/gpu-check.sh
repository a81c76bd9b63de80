#!/usr/bin/env bash
# The prepared GPU check, in two halves.
#
# Here (no GPU):   scripts/gpu-check.sh --prepare
#   builds the CUDA binary (scripts/build-cuda.sh; incremental), compresses it with xz (Python's lzma
#   unpacks it there) and downloads the wheels PyTorch's LoRA needs (peft, accelerate, psutil).
#   It prints what to carry (~30 MB of the 64 MiB a call takes).
#
# On the GPU machine, from the repository root:   bash scripts/gpu-check.sh
#   (at most ~8 minutes on an H100/H200: the timeouts add up to 480 s; everything lands under
#   $OUT; a bench cut by its timeout writes no rows, so the repeats are kept low)
#   1. CPU vs CUDA on both tiny fixtures, every strategy: logits, loss, every trainable gradient
#      and 3 AdamW steps (`ablate device-check`) -> $OUT/device-check.jsonl
#   2. ablate vs PyTorch on the same card (`ablate bench --against pytorch`, interleaved), all
#      five strategies, on a SmolLM2-135M-shaped and a GPT-Neo-125M-shaped model with random
#      weights (the real weights do not fit a call; speed and memory depend on shapes only):
#      tokens/s and peak GPU memory (ablate: memory-pool high-water mark; PyTorch:
#      torch.cuda.max_memory_allocated) -> $OUT/results/bench/*.parquet
#   Afterwards, here: copy $OUT/results/bench to results/gpu/bench and
#   `ablate report --results results/gpu`... or read the rows with polars.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN_XZ=target/release/ablate-cuda.xz
WHEELS=.gpu-wheels

if [ "${1:-}" = "--prepare" ]; then
  set -e
  scripts/build-cuda.sh
  xz -T2 -9 -k -f -c target/release/ablate-cuda >"$BIN_XZ"
  mkdir -p "$WHEELS"
  "${ABLATE_PYTHON:-python3}" -m pip download -q --no-deps -d "$WHEELS" \
    peft==0.21.2 accelerate==1.15.0 psutil==7.2.2
  du -ch "$BIN_XZ" "$WHEELS"/* | tail -1
  echo "carry: $BIN_XZ $WHEELS   command: bash scripts/gpu-check.sh"
  exit 0
fi

OUT=${OUT:-/tmp/gpu-check}
REPEATS=${ABLATE_GPU_REPEATS:-2}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-check.log") 2>&1
t0=$(date +%s)
BIN=/tmp/ablate-cuda
python3 -c "import lzma, shutil; shutil.copyfileobj(lzma.open('$BIN_XZ'), open('$BIN', 'wb'))"
chmod +x "$BIN"
# cuBLAS, cuRAND and NVRTC at run time: PyTorch's CUDA wheels bring them (nvidia/cu13/lib).
LIBS=$(python3 -c 'import nvidia, os, glob; print(":".join(sorted({os.path.dirname(p) for d in nvidia.__path__ for p in glob.glob(os.path.join(d, "**", "lib*.so*"), recursive=True)})))')
export LD_LIBRARY_PATH="$LIBS:${LD_LIBRARY_PATH:-}"
if ! python3 -c 'import peft' 2>/dev/null && [ -d "$WHEELS" ]; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/pylib "$WHEELS"/*.whl &&
    export PYTHONPATH="/tmp/pylib:${PYTHONPATH:-}"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'
"$BIN" --version

# ABLATE_GPU_ONLY_BENCH=1 skips step 1; ABLATE_GPU_STRATEGIES and ABLATE_GPU_BENCH_S narrow step 2
# (e.g. full,attn_embed_frozen with 120 s per model, to rerun the memory comparison alone).
STRATEGIES=${ABLATE_GPU_STRATEGIES:-full,attn_frozen,attn_embed_frozen,mlp_only}
BENCH_S=${ABLATE_GPU_BENCH_S:-150}
[ -n "${ABLATE_GPU_ONLY_BENCH:-}" ] || {
echo "== 1. CPU vs CUDA on the tiny fixtures ($(($(date +%s) - t0)) s)"
for m in tests/fixtures/tiny-llama tests/fixtures/tiny-gpt-neo; do
  timeout 60 "$BIN" device-check --model "$m" --device cuda \
    --strategies full,attn_frozen,attn_embed_frozen,mlp_only,lora >>"$OUT/device-check.jsonl" ||
    echo "device-check $m: exit $?"
done
}

echo "== 2. ablate vs PyTorch on this card ($(($(date +%s) - t0)) s)"
# LoRA apart: without peft the PyTorch side cannot run it, and one failing child would cost the
# other strategies' rows.
LORA_AGAINST=(--against pytorch)
python3 -c 'import peft' 2>/dev/null || {
  echo "peft is missing here: LoRA is measured for ablate only"
  LORA_AGAINST=()
}
for model in random:ablations/configs/smollm2-135m random:ablations/configs/gpt-neo-125m; do
  common=(bench --device cuda --model "$model" --batch 8 --seq-len 512 --steps 10
    --repeats "$REPEATS" --results "$OUT/results")
  timeout "$BENCH_S" "$BIN" "${common[@]}" --against pytorch \
    --strategies "$STRATEGIES" || echo "bench $model: exit $?"
  [ -n "${ABLATE_GPU_STRATEGIES:-}" ] ||
    timeout 50 "$BIN" "${common[@]}" ${LORA_AGAINST[@]+"${LORA_AGAINST[@]}"} --strategies lora ||
    echo "bench $model lora: exit $?"
done
echo "== done in $(($(date +%s) - t0)) s"
