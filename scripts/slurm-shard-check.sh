#!/usr/bin/env bash
# Prove that `ablate run GRID --shard K/N` works as a real Slurm job array on one node:
# bring up a single-node Slurm (munge + slurmctld + slurmd), run the grid as a 2-task array
# into one results folder, run it again unsharded, and check both give the same runs and losses.
#
# usage: scripts/slurm-shard-check.sh [ABLATE [GRID [WORK]]]
#   ABLATE  ablate binary   (default target/release/ablate, relative to the repo root)
#   GRID    grid file       (default tests/fixtures/tiny-grid.toml)
#   WORK    work folder     (default a fresh mktemp -d)
# env: the same names override the defaults; PYTHON picks the interpreter for the comparison;
#      SLURM_CHECK_TIMEOUT caps the wait for the array (seconds, default 1800).
# Needs root (apt-get, daemons). Idempotent: running daemons are reused, the config is only
# rewritten (and the daemons restarted) when it changed. The daemons are left running.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
ABLATE=$(realpath "${1:-${ABLATE:-target/release/ablate}}")
GRID=$(realpath "${2:-${GRID:-tests/fixtures/tiny-grid.toml}}")
WORK=${3:-${WORK:-$(mktemp -d /tmp/slurm-shard-check.XXXXXX)}}
mkdir -p "$WORK" && WORK=$(realpath "$WORK")
[ -x "$ABLATE" ] || { echo "no ablate binary at $ABLATE (build it first)" >&2; exit 1; }
[ -f "$GRID" ] || { echo "no grid file at $GRID" >&2; exit 1; }
say() { printf '== %s\n' "$*"; }

# ---- 1. Slurm on this node ---------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q slurm-wlm munge
fi

# munge: the package's postinst normally creates the key; make one if it did not.
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
# No systemd here (containers): start munged ourselves, as the munge user it expects.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  install -d -o munge -g munge -m 755 /run/munge
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
fi
munge -n | unmunge >/dev/null || { echo "munged is not working" >&2; exit 1; }

# Describe the node with slurmd's own detection (CPUs, topology, RealMemory), so the config never
# claims more than slurmd finds, which would drain the node ("Low RealMemory"/"Low CPUs").
HOST=$(hostname -s)
NODE=$(slurmd -C 2>/dev/null | sed -n 's/^NodeName=[^ ]* //p' | head -1 || true)
[ -n "$NODE" ] || NODE="CPUs=$(nproc) RealMemory=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)"
CONF=/etc/slurm/slurm.conf
NEW=$(mktemp)
cat >"$NEW" <<EOF
# Written by scripts/slurm-shard-check.sh: a single-node test cluster.
ClusterName=ablate-check
# host(addr): pin the address to loopback so a hostname that does not resolve cannot break it.
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
# No cgroups: containers (gVisor, Docker) often lack a writable cgroup tree.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No accounting database: sacct is unavailable, the check reads per-task exit files instead.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# Cores only (memory not consumable), so array tasks without --mem run side by side.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# A node that was down comes back by itself once slurmd registers with a valid config.
ReturnToService=2
StateSaveLocation=/var/spool/slurm/ctld
SlurmdSpoolDir=/var/spool/slurm/d
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 $NODE State=UNKNOWN
PartitionName=check Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
mkdir -p /var/spool/slurm/ctld /var/spool/slurm/d /run/slurm /var/log/slurm
running() { pgrep -x "$1" >/dev/null; }
if ! cmp -s "$NEW" "$CONF"; then
  # A changed node/partition definition needs a restart, not just `scontrol reconfigure`.
  if running slurmctld; then say "slurm.conf changed: restarting the daemons"; scontrol shutdown || true
    for _ in $(seq 30); do running slurmctld || running slurmd || break; sleep 1; done
  fi
  install -m 644 "$NEW" "$CONF"
fi
rm -f "$NEW"
# Plain daemon form: each forks into the background and writes its pid file.
running slurmctld || slurmctld
running slurmd || slurmd
say "waiting for node $HOST to be idle"
for i in $(seq 60); do
  STATE=$(sinfo -h -N -n "$HOST" -o %t 2>/dev/null | head -1 || true)
  case "$STATE" in
    idle|mix|alloc) break ;;
    # Left drained/down by an earlier run: ReturnToService=2 covers down, resume covers drain.
    drain*|down*) scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
  esac
  [ "$i" = 60 ] && { echo "node never became idle (state '$STATE'); see /var/log/slurm/" >&2; exit 1; }
  sleep 1
done
sinfo
say "$(sinfo --version)"

# ---- 2. the grid as a 2-task job array ---------------------------------------------------
rm -rf "$WORK/sharded" "$WORK/whole" "$WORK"/task-*
# The task lists the runs its shard owns (--dry-run: no training) before running them, so the
# log says which shard produced which run id, then records its exit code: sacct needs accounting.
cat >"$WORK/task.sh" <<'EOF'
#!/usr/bin/env bash
K=$SLURM_ARRAY_TASK_ID
echo "task $K/2 on $(hostname -s), job ${SLURM_ARRAY_JOB_ID}_$K"
"$ABLATE" --threads 1 run "$GRID" --results "$WORK/sharded" --shard "$K/2" --dry-run
"$ABLATE" --threads 1 run "$GRID" --results "$WORK/sharded" --shard "$K/2"
rc=$?
echo "$rc" >"$WORK/task-$K.rc"
exit "$rc"
EOF
export ABLATE GRID WORK
SBATCH=(sbatch --wait --array=1-2 --ntasks=1 --cpus-per-task=1 --job-name=ablate-shard
        --chdir="$REPO" --output="$WORK/task-%a.out" --error="$WORK/task-%a.out" "$WORK/task.sh")
say "submitting: ${SBATCH[*]}"
# --wait blocks until every task ends (nonzero if one failed: the .rc files below tell which);
# timeout caps a hung array, which is then cancelled.
if ! timeout "${SLURM_CHECK_TIMEOUT:-1800}" "${SBATCH[@]}"; then
  squeue -h -n ablate-shard -o %i | xargs -r scancel 2>/dev/null || true
fi
FAIL=0
for k in 1 2; do
  echo "---- task $k log ($WORK/task-$k.out)"; cat "$WORK/task-$k.out" 2>/dev/null || true
  rc=$(cat "$WORK/task-$k.rc" 2>/dev/null || echo missing)
  echo "---- task $k exit code: $rc"
  [ "$rc" = 0 ] || FAIL=1
done
[ "$FAIL" = 0 ] || { echo "FAIL: a shard task did not exit 0" >&2; exit 1; }

# ---- 3. the same grid unsharded ----------------------------------------------------------
say "unsharded: $ABLATE --threads 1 run $GRID --results $WORK/whole"
"$ABLATE" --threads 1 run "$GRID" --results "$WORK/whole" || { echo "FAIL: the unsharded run failed" >&2; exit 1; }

# ---- 4. compare ---------------------------------------------------------------------------
say "run id -> shard (from the task logs)"
for k in 1 2; do
  awk -v k="$k" '$1 != "run_id" && ($NF == "pending" || $NF == "done") {print "  " $1 "  shard " k "/2"}' "$WORK/task-$k.out"
done
ids() { find "$1/runs" -maxdepth 1 -type f -printf '%f\n' | sort; }
if ! diff <(ids "$WORK/sharded") <(ids "$WORK/whole"); then
  echo "FAIL: runs/ differ between merged shards (<) and unsharded (>)" >&2; exit 1
fi
echo "runs/: $(ids "$WORK/whole" | wc -l) files, same names in both"
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for p in /work/venv/bin/python python3; do command -v "$p" >/dev/null && PY=$p && break; done
fi
if [ -n "$PY" ] && "$PY" -c 'import pyarrow' 2>/dev/null; then
  # Every run must have succeeded in both, with identical per-step losses (same seeds, 1 thread).
  "$PY" - "$WORK/sharded" "$WORK/whole" <<'EOF' || { echo "FAIL: results differ" >&2; exit 1; }
import sys, pathlib, pyarrow.parquet as pq
a, b = (pathlib.Path(p) for p in sys.argv[1:3])
bad = 0
for f in sorted((b / "runs").glob("*.parquet")):
    rid = f.stem
    for d in (a, b):
        r = pq.read_table(d / "runs" / f.name).to_pylist()[0]
        if r["status"] != "ok":
            print(f"  {rid}: status {r['status']!r} in {d.name}: {r.get('error')}"); bad += 1
    la, lb = ([row["loss"] for row in sorted(pq.read_table(d / "steps" / f.name).to_pylist(),
                                          key=lambda s: s["step"])] for d in (a, b))
    same = la == lb and len(la) > 0
    print(f"  {rid}: {len(la)} steps, losses {'equal' if same else 'DIFFER'}")
    if not same:
        print(f"    sharded {la}\n    whole   {lb}"); bad += 1
sys.exit(1 if bad else 0)
EOF
  echo "merged shards == unsharded: OK (run ids and per-step losses)"
else
  echo "pyarrow not importable (python: ${PY:-none}; set PYTHON): compared run ids only"
  echo "merged shards == unsharded: OK (run ids only)"
fi
