#!/usr/bin/env bash
# Two builds of ablate side by side on this host: for each repeat and strategy, one
# `bench --one STRATEGY` process per build, A B on odd repeats and B A on even ones (drift hits
# both alike); prints each build's medians and the paired ratio B/A, and keeps every measurement
# with the CPU model in OUT (JSON lines). Use it to decide a build option (a cargo feature, a
# dependency) on the host you have; nothing else should run meanwhile.
#
# usage: scripts/ab-builds.sh A_BIN B_BIN [OUT]
# env: REPEATS (5), STEPS (4), STRATEGIES (full,eval), MODEL (smollm2-135m), THREADS (2)
set -euo pipefail
A=$(realpath "$1")
B=$(realpath "$2")
OUT=${3:-results/speed/ab/$(date -u +%Y%m%dT%H%M%SZ).jsonl}
REPEATS=${REPEATS:-5}
STEPS=${STEPS:-4}
STRATEGIES=${STRATEGIES:-full,eval}
MODEL=${MODEL:-smollm2-135m}
THREADS=${THREADS:-2}
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
mkdir -p "$(dirname "$OUT")"

one() { # build-label binary strategy repeat
  local json
  json=$("$2" --threads "$THREADS" bench --model "$MODEL" --one "$3" --steps "$STEPS")
  printf '{"build":"%s","binary":"%s","repeat":%d,"cpu":"%s","sample":%s}\n' \
    "$1" "$2" "$4" "$CPU" "$json" | tee -a "$OUT" | cut -c1-160 >&2
}

for r in $(seq 1 "$REPEATS"); do
  for s in ${STRATEGIES//,/ }; do
    if (( r % 2 )); then one A "$A" "$s" "$r"; one B "$B" "$s" "$r"
    else one B "$B" "$s" "$r"; one A "$A" "$s" "$r"; fi
  done
done

python3 - "$OUT" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{rows[0]['cpu']}: medians over repeats; B/A paired ratio median [min, max]")
for s in dict.fromkeys(r["sample"]["strategy"] for r in rows):
    by = {(r["build"], r["repeat"]): r["sample"] for r in rows if r["sample"]["strategy"] == s}
    reps = sorted({k[1] for k in by if ("A", k[1]) in by and ("B", k[1]) in by})
    tps = {b: [by[(b, k)]["tokens_per_s"] for k in reps] for b in "AB"}
    mem = {b: [by[(b, k)]["peak_mem_bytes"] or 0 for k in reps] for b in "AB"}
    ratio = [tps["B"][i] / tps["A"][i] for i in range(len(reps))]
    print(f"{s:<18} A {statistics.median(tps['A']):7.1f} tok/s  B {statistics.median(tps['B']):7.1f} tok/s"
          f"  B/A {statistics.median(ratio):.3f} [{min(ratio):.3f}, {max(ratio):.3f}]"
          f"  peak mem A {statistics.median(mem['A'])/1e9:.2f} GB B {statistics.median(mem['B'])/1e9:.2f} GB")
EOF
