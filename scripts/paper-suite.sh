#!/usr/bin/env bash
# Runs the paper suite of experiments/paper/ at the CPU scale, or continues it from wherever it
# stands: every run is claimed from the store, every stage resumes from its checkpoints, and a
# run whose worker died is requeued on the next start. Then it regenerates reports/paper.
#
#   scripts/paper-suite.sh [--db FILE] [--results DIR] [--bin OFHNET] [--overrides FILE]...
#                          [--reports-only] [--with-tune]
#
# --db       the run store (default results/paper/paper.sqlite)
# --results  where runs keep their models and samples (default results)
# --bin      an ofhnet built with `--features tch` (default: scripts/tch-env.sh build --release)
# --overrides      an overrides file given to every experiment (e.g. your own CelebA roots:
#                  `data.source.celeba: [/data/celeba]`); repeatable
# --reports-only   only regenerate reports/paper from the store
# --with-tune      also finish experiments/paper/tune.yaml's queued runs (after the suite)
# --identities     CelebA's identity_CelebA.txt for metric rows stored without identities (before
#                  ofhnet kept them), for table1_by_identity (default: celeba6k's, where it is)
#
# Order: table1 trains every method's stage 2 (and OFHNet's three seeds); the ablation trains
# its other loss sets; table2 and the two occlusion sweeps only evaluate table1's models.
set -euo pipefail
cd "$(dirname "$0")/.."

db=results/paper/paper.sqlite
results=results
bin=""
reports_only=0
with_tune=0
identities=../shared/data/celeba6k/identity_CelebA.txt
overrides=()
while [ $# -gt 0 ]; do
  case "$1" in
    --db) db="$2"; shift 2 ;;
    --results) results="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --overrides) overrides+=(--overrides "$2"); shift 2 ;;
    --reports-only) reports_only=1; shift ;;
    --with-tune) with_tune=1; shift ;;
    --identities) identities="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  scripts/tch-env.sh build --release
  bin="${CARGO_TARGET_DIR:-target}/release/ofhnet"
fi
run() { scripts/tch-env.sh run "$bin" "$@"; }

experiments="table1 ablation_losses table2 occlusion_position occlusion_size"
if [ "$reports_only" = 0 ]; then
  for e in $experiments; do
    echo "== $e ($(date -u +%H:%M:%S) UTC)"
    run --device auto run "experiments/paper/$e.yaml" --db "$db" --results "$results" "${overrides[@]}"
  done
  if [ "$with_tune" = 1 ]; then
    run --device auto run experiments/paper/tune.yaml --db "$db" --results "$results" "${overrides[@]}"
  fi
fi

echo "== reports"
for e in $experiments; do
  run report "$e" --db "$db" --out "reports/paper/$e" --no-face-images
done
run report table1 --db "$db" --out reports/paper/table1_vs_ofhnet --no-face-images --reference ofhnet
# Table 1 again, resampling people instead of faces (the test split's 22 identities of 30 faces):
# the interval for a claim about people the models have not seen.
identity_file=()
[ -f "$identities" ] && identity_file=(--identities "$identities")
run report table1 --db "$db" --out reports/paper/table1_by_identity --no-face-images \
  --resample identities "${identity_file[@]}"
# tune.yaml runs only with --with-tune; a store without it keeps the committed tune report.
if run status tune --db "$db" >/dev/null 2>&1; then
  run report tune --db "$db" --out reports/paper/tune --no-face-images
fi
python3 scripts/paper_readme.py
