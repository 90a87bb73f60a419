#!/usr/bin/env bash
# Trains one short run twice with the same binary and seed: with burn's own batch norm, ReLU and
# convolution backward (OFHNET_FUSED_OPS=0) and with the fused operations of src/nets/fused.rs
# (the default), and prints each logged loss of both and their difference. Stage 2 of the fused
# run is trained again from the burn run's InpaintNet, so that its comparison is of stage 2 alone
# (stage 1's rounding differences would otherwise carry into it).
#
#   scripts/fused-check.sh [--bin OFHNET] [--device tch-cpu] [--steps 50] [--batch 16] [--adversarial W]
#                          [--work DIR] [--noise]
#
# --noise also trains burn's path a second time on one thread (OMP_NUM_THREADS=1 for LibTorch,
# RAYON_NUM_THREADS=1 for burn-flex) and prints its difference from the two-thread run beside the
# fused one: the rounding noise of the reference itself, since LibTorch's reductions (oneDNN, MKL)
# sum in an order that depends on the thread count. burn-flex's own kernels do not, so on flex
# that column is zero.
#
# --adversarial W sets the adversarial weight (0: no adversarial term, no discriminator in the
# generator's loss); default: the preset's.
#
# Synthetic faces only; a small landmark network for the semantic loss is trained first.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${CARGO_TARGET_DIR:-target}/debug/ofhnet"
device=tch-cpu
steps=50
batch=16
adversarial=""
work=""
noise=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --adversarial) adversarial="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --noise) noise=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
bin=$(realpath "$bin")
if [ -z "$work" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
work=$(realpath "$work")
run() { scripts/tch-env.sh run "$bin" --device "$device" "$@"; }

[ -d "$work/data" ] || {
  run data synth --out "$work/synth" --count 120 --seed 5 >/dev/null
  run data import --celeba "$work/synth" --out "$work/data" >/dev/null
}
[ -d "$work/lm" ] || run landmarks train --data "$work/data" --out "$work/lm" --steps 30 --batch-size 8 >/dev/null 2>&1
config=()
if [ -n "$adversarial" ]; then
  # The losses block replaces the default one (a missing block is off); --semantic-net adds the
  # semantic term. Weight 0 leaves the adversarial term out.
  {
    printf 'losses:\n  inpaint_l2:\n    weight: 1.0\n  l2:\n    weight: 1.0\n'
    [ "$adversarial" = 0 ] || printf '  adversarial:\n    weight: %s\n' "$adversarial"
  } > "$work/config.yaml"
  config=(--config "$work/config.yaml")
fi
train() {
  local out="$1"; shift
  rm -rf "${work:?}/$out"
  env "$@" scripts/tch-env.sh run "$bin" --device "$device" train --data "$work/data" \
    --out "$work/$out" "${config[@]}" "${extra[@]}" --preset cpu --seed 3 --stage1-steps "$steps" \
    --stage2-steps "$steps" --batch-size "$batch" --semantic-net "$work/lm" 2>&1 | tail -1
}
extra=()
train burn OFHNET_FUSED_OPS=0
train fused OFHNET_FUSED_OPS=1
# Stage 2 again from the burn run's InpaintNet, so that its comparison is of stage 2 alone.
extra=(--inpaint-from "$work/burn/inpaint.bpk")
train fused-stage2 OFHNET_FUSED_OPS=1
if [ "$noise" = 1 ]; then
  extra=()
  train burn-1t OFHNET_FUSED_OPS=0 OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1
  extra=(--inpaint-from "$work/burn/inpaint.bpk")
  train burn-1t-stage2 OFHNET_FUSED_OPS=0 OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1
fi
python3 - "$work" "$noise" <<'PY'
import csv, sys
work, noise = sys.argv[1], sys.argv[2] == "1"
def load(name):
    with open(f"{work}/{name}/train_log.csv") as f:
        return {(r["stage"], int(r["step"]), r["term"]): float(r["value"])
                for r in csv.DictReader(f) if r["term"] != "images_per_s"}
burn, fused, stage2 = load("burn"), load("fused"), load("fused-stage2")
if noise:
    one, one2 = load("burn-1t"), load("burn-1t-stage2")
print("|fused - burn| of each logged loss (stage 2 from the same InpaintNet)"
      + ("; |burn 1 thread - burn| beside it" if noise else ""))
print(f"{'stage':8} {'step':>5} {'term':14} {'burn':>11} {'fused':>11} {'|difference|':>13}"
      + (f" {'1 thread':>13}" if noise else ""))
worst, worst1 = {}, {}
for key in sorted(burn):
    stage, step, term = key
    other = fused if stage == "stage1" else stage2
    if key not in other:
        continue
    d = abs(other[key] - burn[key])
    worst[(stage, term)] = max(worst.get((stage, term), 0.0), d)
    line = f"{stage:8} {step:5} {term:14} {burn[key]:11.7f} {other[key]:11.7f} {d:13.2e}"
    if noise:
        ref = one if stage == "stage1" else one2
        if key in ref:
            d1 = abs(ref[key] - burn[key])
            worst1[(stage, term)] = max(worst1.get((stage, term), 0.0), d1)
            line += f" {d1:13.2e}"
    print(line)
print("largest:", ", ".join(f"{s} {t} {d:.2e}" for (s, t), d in sorted(worst.items())))
if noise:
    print("largest, burn on 1 thread against burn on the default threads:",
          ", ".join(f"{s} {t} {d:.2e}" for (s, t), d in sorted(worst1.items())))
PY
