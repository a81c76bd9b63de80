#!/usr/bin/env bash
# vendor/candle-core is crates.io's candle-core, exactly, plus vendor/candle-core.patch (the edits
# of src/backprop.rs, src/tensor.rs and Cargo.toml that vendor/README.md explains), less the
# targets the crate does not ship (benches, examples, tests).
#
#   scripts/vendor-candle.sh check         # .ci/run: pristine + patch == vendor/candle-core, or fail
#   scripts/vendor-candle.sh patch         # rewrite the patch from vendor/candle-core after an edit
#   scripts/vendor-candle.sh apply 0.12.0  # vendor/candle-core := that version + the patch
#                                          # (then fix rejects by hand, `patch`, rerun the tests)
#
# The pristine crate is fetched by cargo in a scratch crate (the `[patch]` in this one's
# Cargo.toml keeps cargo from ever fetching it here), so cargo checks it against the registry's
# checksum.
set -euo pipefail
cd "$(dirname "$0")/.."
VENDOR=vendor/candle-core
PATCH=vendor/candle-core.patch
FILES=(Cargo.toml src/backprop.rs src/tensor.rs)
# In the published crate but not in vendor/: VCS info, its lock file, the original manifest, and
# the targets it does not ship.
NOT_VENDORED=(.cargo_vcs_info.json Cargo.lock Cargo.toml.orig benches examples tests)
version() { sed -n 's/^version = "\(.*\)"$/\1/p' "$VENDOR/Cargo.toml" | head -1; }

# pristine VERSION DIR: the published candle-core VERSION unpacked into DIR/candle-core-VERSION.
pristine() {
  local v=$1 dir=$2
  mkdir -p "$dir/scratch/src"
  printf '[package]\nname = "pristine"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\ncandle-core = { version = "=%s", default-features = false }\n' \
    "$v" >"$dir/scratch/Cargo.toml"
  : >"$dir/scratch/src/lib.rs"
  cargo fetch --quiet --manifest-path "$dir/scratch/Cargo.toml"
  local crate
  crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/candle-core-"$v".crate | head -1)
  tar xzf "$crate" -C "$dir"
  (cd "$dir/candle-core-$v" && rm -rf "${NOT_VENDORED[@]}")
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case "${1:-check}" in
check)
  v=$(version)
  pristine "$v" "$tmp"
  (cd "$tmp/candle-core-$v" && patch -s -p1 --no-backup-if-mismatch) <"$PATCH"
  if ! diff -r "$tmp/candle-core-$v" "$VENDOR" >"$tmp/diff"; then
    echo "vendor/candle-core is not candle-core $v + $PATCH:" >&2
    head -40 "$tmp/diff" >&2
    exit 1
  fi
  echo "vendor/candle-core = crates.io candle-core $v + $PATCH"
  ;;
patch)
  v=$(version)
  pristine "$v" "$tmp"
  for f in "${FILES[@]}"; do
    diff -u --label "a/$f" --label "b/$f" "$tmp/candle-core-$v/$f" "$VENDOR/$f" || true
  done >"$PATCH"
  echo "wrote $PATCH ($(grep -c '^@@' "$PATCH") hunks) against candle-core $v"
  ;;
apply)
  v=${2:?usage: scripts/vendor-candle.sh apply VERSION}
  pristine "$v" "$tmp"
  rm -rf "$VENDOR"
  cp -r "$tmp/candle-core-$v" "$VENDOR"
  (cd "$VENDOR" && patch -p1 --no-backup-if-mismatch) <"$PATCH" ||
    echo "rejects left beside the files in $VENDOR: fix them, then scripts/vendor-candle.sh patch" >&2
  ;;
*)
  sed -n '2,12p' "$0"
  exit 2
  ;;
esac
