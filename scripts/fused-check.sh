#!/usr/bin/env bash
# Trains one short run twice with the same binary and seed: with burn's own batch norm, ReLU and
# convolution backward (OFHNET_FUSED_OPS=0) and with the fused operations of src/nets/fused.rs
# (the default), and prints the logged losses of both (every step is logged) and their largest
# difference. Stage 2 of the fused run is trained again from the burn run's InpaintNet, so that
# its comparison is of stage 2 alone (stage 1's rounding differences would otherwise carry into
# it).
#
#   scripts/fused-check.sh [--bin OFHNET] [--device tch-cpu] [--steps 50] [--batch 16]
#                          [--adversarial W | --config FILE] [--ops LIST] [--data PREPARED]
#                          [--work DIR] [--noise]
#
# --config FILE trains with a run's own training configuration (`ofhnet enqueue EXP --dry-run
# --write-configs DIR` writes one per run of an experiment): stage 2 keeps the file's schedule (its
# step count, batch size, learning rate, warmup) and stops after --steps steps (`ofhnet train
# --stop-after`), so the losses compared are the first steps of that very training; stage 1
# runs --steps steps. --batch then applies only when given.
#
# --adversarial W sets the adversarial weight on the preset's configuration (0: no adversarial
# term, no discriminator in the generator's loss); default: the preset's.
#
# --ops LIST is the fused run's OFHNET_FUSED_OPS: 1 (default) every fused operation, or a list of
# batch_norm, relu and conv, to see which operation moves the losses.
#
# --noise also trains burn's path a second time on one thread (OMP_NUM_THREADS=1 for LibTorch,
# RAYON_NUM_THREADS=1 for burn-flex) and prints its difference from the two-thread run beside the
# fused one: the rounding noise of the reference itself, since LibTorch's reductions (oneDNN, MKL)
# may sum in an order that depends on the thread count. burn-flex's own kernels do not, so on
# flex that column is zero.
#
# Synthetic faces unless --data names a prepared dataset (`ofhnet data import`); a small landmark
# network for the semantic loss is trained first.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${CARGO_TARGET_DIR:-target}/debug/ofhnet"
device=tch-cpu
steps=50
batch=""
adversarial=""
config_file=""
ops=1
data=""
work=""
noise=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --adversarial) adversarial="$2"; shift 2 ;;
    --config) config_file=$(realpath "$2"); shift 2 ;;
    --ops) ops="$2"; shift 2 ;;
    --data) data=$(realpath "$2"); shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --noise) noise=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -n "$adversarial" ] && [ -n "$config_file" ]; then
  echo "--adversarial and --config: give the weight in the file" >&2
  exit 2
fi
bin=$(realpath "$bin")
if [ -z "$work" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
work=$(realpath "$work")
run() { scripts/tch-env.sh run "$bin" --device "$device" "$@"; }

if [ -z "$data" ]; then
  data="$work/data"
  [ -d "$data" ] || {
    run data synth --out "$work/synth" --count 120 --seed 5 >/dev/null
    run data import --celeba "$work/synth" --out "$data" >/dev/null
  }
fi
[ -d "$work/lm" ] || run landmarks train --data "$data" --out "$work/lm" --steps 30 --batch-size 8 >/dev/null 2>&1
# The semantic loss's landmark network; a --config file without that loss (the baselines') gets none.
semantic=(--semantic-net "$work/lm")
if [ -n "$config_file" ] && ! grep -q '^  semantic:$' "$config_file"; then
  semantic=()
fi
config=()
schedule=(--stage1-steps "$steps" --stage2-steps "$steps")
if [ -n "$config_file" ]; then
  config=(--config "$config_file")
  schedule=(--stage1-steps "$steps" --stop-after "$steps")
elif [ -n "$adversarial" ]; then
  # The losses block replaces the default one (a missing block is off); --semantic-net adds the
  # semantic term. Weight 0 leaves the adversarial term out.
  {
    printf 'losses:\n  inpaint_l2:\n    weight: 1.0\n  l2:\n    weight: 1.0\n'
    [ "$adversarial" = 0 ] || printf '  adversarial:\n    weight: %s\n' "$adversarial"
  } > "$work/config.yaml"
  config=(--config "$work/config.yaml" --preset cpu)
else
  config=(--preset cpu)
fi
[ -n "$batch" ] || [ -n "$config_file" ] || batch=16
[ -z "$batch" ] || schedule+=(--batch-size "$batch")
train() {
  local out="$1"; shift
  rm -rf "${work:?}/$out"
  env "$@" scripts/tch-env.sh run "$bin" --device "$device" train --data "$data" \
    --out "$work/$out" "${config[@]}" "${extra[@]}" --seed 3 "${schedule[@]}" --log-every 1 \
    "${semantic[@]}" 2>&1 | grep -v '^stage 2: stopped' | tail -1
}
extra=()
train burn OFHNET_FUSED_OPS=0
train fused OFHNET_FUSED_OPS="$ops"
# Stage 2 again from the burn run's InpaintNet, so that its comparison is of stage 2 alone.
extra=(--inpaint-from "$work/burn/inpaint.bpk")
train fused-stage2 OFHNET_FUSED_OPS="$ops"
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
print("|fused - burn| of each logged loss (stage 2 from the same InpaintNet; every 10th step "
      "shown, the largest over every step below)"
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
    if d > worst.get((stage, term), (0.0, 0))[0] or (stage, term) not in worst:
        worst[(stage, term)] = (d, step)
    line = f"{stage:8} {step:5} {term:14} {burn[key]:11.7f} {other[key]:11.7f} {d:13.2e}"
    if noise:
        ref = one if stage == "stage1" else one2
        if key in ref:
            d1 = abs(ref[key] - burn[key])
            worst1[(stage, term)] = max(worst1.get((stage, term), 0.0), d1)
            line += f" {d1:13.2e}"
    if step % 10 == 0:
        print(line)
print("largest:", ", ".join(f"{s} {t} {d:.2e} (step {k})" for (s, t), (d, k) in sorted(worst.items())))
if noise:
    print("largest, burn on 1 thread against burn on the default threads:",
          ", ".join(f"{s} {t} {d:.2e}" for (s, t), d in sorted(worst1.items())))
PY
