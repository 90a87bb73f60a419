#!/usr/bin/env bash
# The README's main job, timed: `ofhnet run experiments/quickstart.yaml` from nothing (no
# prepared data, no store) in a fresh directory, with the default build (burn-flex, release),
# then `ofhnet report quickstart`. Prints the wall time of the run (the build excluded) against
# its 5-minute budget, each stage's time from the store, and OFHNet's paired differences against
# IN+bicubic under every protocol the quickstart evaluates.
#
#   scripts/quickstart-bench.sh [--bin PATH] [--keep DIR]
#
# --bin: the ofhnet binary (default: `cargo build --release`, then its output under
# CARGO_TARGET_DIR or target/). --keep: work in DIR and keep it (default: a temporary directory
# that is removed). Exits 1 when the run takes more than 300 s or fails.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bin="" keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="${CARGO_TARGET_DIR:-$repo/target}/release/ofhnet"
fi
bin=$(realpath "$bin")
if [ -n "$keep" ]; then
  work=$keep
  # A directory that already holds a store would time nothing: every run is already done.
  if [ -d "$work" ] && [ -n "$(ls -A "$work")" ]; then
    echo "--keep $work is not empty; give a new directory (the run must start from nothing)" >&2
    exit 2
  fi
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
cp -r "$repo/experiments" "$work/"
cd "$work"
echo "== $(date -u +%FT%TZ) quickstart in $work with $bin ($(nproc) cores)"
start=$(date +%s.%N)
"$bin" run experiments/quickstart.yaml
end=$(date +%s.%N)
wall=$(python3 -c "print(f'{$end - $start:.1f}')")
"$bin" report quickstart --out report >/dev/null
echo
echo "== stages (from the store)"
for run in $("$bin" status quickstart | awk '/ done /{print $NF}'); do
  "$bin" show "$run" | grep -E '^(run|time|stage|  +training)' || true
done
echo
echo "== OFHNet against IN+bicubic (paired 95% intervals; test split)"
for f in report/tables/table1_*.md; do
  sed -n '1p;/^| ofhnet/p' "$f"
done
echo
echo "wall time of \`ofhnet run experiments/quickstart.yaml\`: ${wall} s (budget 300 s)"
python3 -c "import sys; sys.exit(0 if $wall <= 300 else 1)" || {
  echo "over the 5-minute budget"
  exit 1
}
