#!/usr/bin/env bash
# The side-by-side benchmark: ofhnet's training steps and inference on each compiled backend
# against the PyTorch reference (benches/reference/ofhnet_ref.py), in one invocation, alternating
# implementations round by round so that a slow minute of the machine hits all of them. Prints
# the table and writes BENCHMARKS.md.
#
#   scripts/bench.sh [--preset cpu] [--rounds 3] [--repeats 3] [--repeats-io 1] [--threads N]
#                    [--out BENCHMARKS.md] [--only stage1,stage2,infer1,inferbatch,evaluate,hallucinate]
#                    [--no-tch] [--no-unfused] [--gpu]
#
# Work (preset cpu unless --preset): stage1 = one Stage1Nets::step at batch 64; stage2 = one
# Stage2Nets::step at batch 16 (OFHNet: L2 + adversarial); infer1 = one face through
# InpaintNet + UpsampleNet; inferbatch = 16 faces; evaluate = `ofhnet evaluate` with an
# evaluation detector on 660 test faces (OFHNet and IN+bicubic, every metric); hallucinate =
# `ofhnet hallucinate` on a directory of 1,000 128x128 PNG faces (read, downscale, infer, write).
# Each invocation runs --repeats repeats; the first repeat of each invocation is a warm-up and is
# left out of the medians. evaluate and hallucinate take seconds to a minute each and run
# --repeats-io repeats (default 1: no warm-up, so each cell includes the first call's one-time
# costs, small against their length; 2 or more adds a warm-up and doubles their time).
#
# Implementations: ofhnet on burn-flex (`--device cpu`, the default build); ofhnet on burn-tch
# (`--device tch-cpu`, built with --features tch against the venv's libtorch, like
# scripts/tch-env.sh; skipped with --no-tch or when no libtorch can be had); PyTorch 2.9.0 eager
# from a venv this script creates (torch==2.9.0, the version burn-tch links), once with its
# defaults and once with the glibc malloc settings ofhnet applies to itself (src/alloc.rs). With
# --gpu (a CUDA machine): ofhnet on tch-cuda:0 and on burn-cuda (cuda:0) against PyTorch CUDA.
# Each ofhnet CPU build also runs as `flex-unfused` / `tch-cpu-unfused`: the same binary with
# OFHNET_FUSED_OPS=0, i.e. burn's own batch norm, ReLU and convolution backward instead of
# src/nets/fused.rs, so that the table shows what the fused operations buy (skip with
# --no-unfused). `tch-cpu-glibc` is the tch binary at glibc's default malloc settings (ofhnet
# tunes malloc for itself at start-up, src/alloc.rs), so that tch-cpu / pytorch-malloc compares
# both tuned and tch-cpu-glibc / pytorch both at glibc's defaults.
# `evaluate` and `hallucinate` (minutes per round) run on flex, tch-cpu and
# pytorch only: inference has no backward pass for the fused operations to change, and the
# malloc variant is a training-step question.
# At the end, `ofhnet bench harness` times the harness's overhead (sweep, metric rows, report).
set -euo pipefail
cd "$(dirname "$0")/.."

preset=cpu rounds=3 repeats=3 repeats_io=1 threads=$(nproc) out=BENCHMARKS.md
only=stage1,stage2,infer1,inferbatch,evaluate,hallucinate
use_tch=1 gpu=0 unfused=1
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --repeats-io) repeats_io=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --no-tch) use_tch=0; shift ;;
    --no-unfused) unfused=0; shift ;;
    --gpu) gpu=1; shift ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

venv="${OFHNET_TORCH_VENV:-$HOME/.cache/ofhnet/torch-venv}"
if ! "$venv/bin/python" -c 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.9.0") else 1)' 2>/dev/null; then
  echo "creating $venv with torch==2.9.0 (about 7 GB, a few minutes)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r benches/reference/requirements.txt
fi
py="$venv/bin/python"

# Both CPU builds share one target directory (only burn's crates and ofhnet compile again between
# them); each binary is copied aside.
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target/bench"
echo "building ofhnet (release, burn-flex)" >&2
cargo build --release -q
flex_bin="$target/bench/ofhnet-flex"
cp "$target/release/ofhnet" "$flex_bin"
impls=("flex")
[ "$unfused" = 1 ] && impls+=("flex-unfused")
tch_bin=""
if [ "$use_tch" = 1 ] || [ "$gpu" = 1 ]; then
  echo "building ofhnet (release, burn-tch)" >&2
  torch_lib=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  if PATH="$venv/bin:$PATH" LIBTORCH_USE_PYTORCH=1 cargo build --release -q --features tch; then
    tch_bin="$target/bench/ofhnet-tch"
    cp "$target/release/ofhnet" "$tch_bin"
    export LD_LIBRARY_PATH="$torch_lib:${LD_LIBRARY_PATH:-}"
    [ "$use_tch" = 1 ] && impls+=("tch-cpu")
    [ "$use_tch" = 1 ] && [ "$unfused" = 1 ] && impls+=("tch-cpu-unfused")
    [ "$use_tch" = 1 ] && impls+=("tch-cpu-glibc")
  else
    echo "the burn-tch build failed; benchmarking without it" >&2
  fi
fi
impls+=("pytorch" "pytorch-malloc")
cuda_bin=""
if [ "$gpu" = 1 ]; then
  [ -n "$tch_bin" ] && impls+=("tch-cuda")
  echo "building ofhnet (release, burn-cuda) into target/bench-cuda" >&2
  if CARGO_TARGET_DIR=target/bench-cuda cargo build --release -q --features cuda; then
    cuda_bin=target/bench-cuda/release/ofhnet
    impls+=("cuda")
  fi
  impls+=("pytorch-cuda")
fi

batch_of() {
  case "$1" in stage1) echo 64 ;; infer1) echo 1 ;; evaluate) echo 660 ;; hallucinate) echo 1000 ;;
    *) echo 16 ;; esac
}
repeats_of() { case "$1" in evaluate | hallucinate) echo "$repeats_io" ;; *) echo "$repeats" ;; esac; }
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
run_one() { # impl work
  local impl=$1 work=$2 b
  b=$(batch_of "$work")
  local args=(--which "$work" --preset "$preset" --batch "$b" --repeats "$(repeats_of "$work")")
  case "$impl" in
    flex) "$flex_bin" --device cpu bench step "${args[@]}" ;;
    flex-unfused) OFHNET_FUSED_OPS=0 "$flex_bin" --device cpu bench step "${args[@]}" ;;
    tch-cpu) "$tch_bin" --device tch-cpu bench step "${args[@]}" ;;
    tch-cpu-unfused) OFHNET_FUSED_OPS=0 "$tch_bin" --device tch-cpu bench step "${args[@]}" ;;
    # glibc's own malloc settings: a GLIBC_TUNABLES in the environment (empty: glibc's defaults)
    # makes ofhnet leave malloc alone (src/alloc.rs), as PyTorch's `pytorch` row runs.
    tch-cpu-glibc) GLIBC_TUNABLES= "$tch_bin" --device tch-cpu bench step "${args[@]}" ;;
    tch-cuda) "$tch_bin" --device tch-cuda:0 bench step "${args[@]}" ;;
    cuda) "$cuda_bin" --device cuda:0 bench step "${args[@]}" ;;
    pytorch) "$py" benches/reference/ofhnet_ref.py step "${args[@]}" --threads "$threads" ;;
    # PyTorch with the glibc malloc settings ofhnet applies to itself (src/alloc.rs), so the
    # table shows how much of ofhnet's lead is the allocator.
    pytorch-malloc) MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483647 \
      MALLOC_TOP_PAD_=268435456 "$py" benches/reference/ofhnet_ref.py step "${args[@]}" \
      --threads "$threads" ;;
    pytorch-cuda) "$py" benches/reference/ofhnet_ref.py step "${args[@]}" --threads "$threads" --device cuda ;;
  esac
}

IFS=, read -r -a works <<<"$only"
start=$(date +%s)
for ((r = 1; r <= rounds; r++)); do
  for work in "${works[@]}"; do
    # Alternate the order each round.
    order=("${impls[@]}")
    if ((r % 2 == 0)); then
      order=()
      for ((i = ${#impls[@]} - 1; i >= 0; i--)); do order+=("${impls[$i]}"); done
    fi
    for impl in "${order[@]}"; do
      case "$work:$impl" in
        evaluate:*-unfused | hallucinate:*-unfused | evaluate:pytorch-malloc | hallucinate:pytorch-malloc) continue ;;
        evaluate:tch-cpu-glibc | hallucinate:tch-cpu-glibc) continue ;;
      esac
      echo "round $r/$rounds: $work on $impl" >&2
      json=$(run_one "$impl" "$work" | tr -d '\n')
      printf '%s\t%s\t%s\n' "$impl" "$work" "$json" >>"$rows"
    done
  done
done
wall=$(($(date +%s) - start))

echo "harness overhead (ofhnet bench harness)" >&2
harness=$("$flex_bin" bench harness 2>/dev/null | grep '^|' || echo "(ofhnet bench harness failed)")

cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
gpu_name=$(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader | head -1 || true)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git diff --quiet 2>/dev/null || echo " (with uncommitted changes)")
cmdline="scripts/bench.sh --preset $preset --rounds $rounds --repeats $repeats --repeats-io $repeats_io --threads $threads --only $only"
if [ "$use_tch" = 0 ]; then cmdline+=" --no-tch"; fi
if [ "$gpu" = 1 ]; then cmdline+=" --gpu"; fi

python3 - "$rows" "$out" "$preset" "$rounds" "$repeats" "$repeats_io" "$threads" "$cpu_model" "$(nproc)" "$mem" \
  "${gpu_name:-none}" "$commit$dirty" "$cmdline" "$wall" \
  "$($py -c 'import torch; print(torch.__version__)' 2>/dev/null)" "$harness" <<'EOF'
import json, statistics, sys, datetime
(rows, out, preset, rounds, repeats, repeats_io, threads, cpu, cores, mem, gpu, commit, cmdline,
 wall, torch_version, harness) = sys.argv[1:]
io_note = (f"{rounds} x ({repeats_io} - 1) timed repeats" if int(repeats_io) > 1 else
           f"{rounds} rounds x 1 repeat, no warm-up: the first call's one-time costs are in it")
times, rss = {}, {}
for line in open(rows):
    impl, work, js = line.rstrip("\n").split("\t", 2)
    d = json.loads(js)
    reps = d["repeats"]
    timed = reps[1:] if len(reps) > 1 else reps  # the first repeat warms up
    times.setdefault((work, impl), []).extend(r["seconds"] for r in timed)
    rss[(work, impl)] = max([rss.get((work, impl), 0.0)] + [r["peak_rss_mib"] for r in reps])
works = list(dict.fromkeys(w for w, _ in times))
impls = list(dict.fromkeys(i for _, i in times))
ref = {"pytorch": "pytorch", "flex": "pytorch", "tch-cpu": "pytorch", "pytorch-malloc": "pytorch",
       "flex-unfused": "pytorch", "tch-cpu-unfused": "pytorch", "tch-cpu-glibc": "pytorch",
       "tch-cuda": "pytorch-cuda", "cuda": "pytorch-cuda", "pytorch-cuda": "pytorch-cuda"}
batch = {"stage1": 64, "infer1": 1, "evaluate": 660, "hallucinate": 1000}
head = ["work", "batch"] + [f"{i} median s" for i in impls] + \
       [f"{i} / {ref[i]}" for i in impls if ref[i] != i] + [f"{i} peak MiB" for i in impls]
lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
for w in works:
    med = {i: statistics.median(times[(w, i)]) for i in impls if (w, i) in times}
    cells = [w, str(batch.get(w, 16))]
    cells += [f"{med[i]:.4f}" if i in med else "-" for i in impls]
    cells += [f"{med[i] / med[ref[i]]:.2f}x" if i in med and ref[i] in med else "-"
              for i in impls if ref[i] != i]
    cells += [f"{rss[(w, i)]:.0f}" if (w, i) in rss else "-" for i in impls]
    lines.append("| " + " | ".join(cells) + " |")
table = "\n".join(lines)
print(table)
n = {k: len(v) for k, v in times.items()}
doc = f"""# Benchmarks

Written by `scripts/bench.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; rerun it to
regenerate this file. Each cell is the median over {rounds} rounds x ({repeats} - 1) timed repeats
(the first repeat of each invocation warms up; for `evaluate` and `hallucinate`, {io_note});
implementations alternate within each round. Ratios below 1
mean ofhnet is faster than PyTorch. Peak MiB: the process's peak resident set (VmHWM / ru_maxrss).

- Machine: {cpu}, {cores} cores, {mem}; GPU: {gpu}.
- ofhnet commit {commit}; PyTorch {torch_version} eager (the reference in `benches/reference/`),
  {threads} threads; network preset `{preset}`.
- Work: `stage1` one InpaintNet training step (Eq. 1), batch 64; `stage2` one UpsampleNet +
  discriminator training step (L2 + adversarial, Eq. 3 then Eq. 6), batch 16; `infer1` one face
  through InpaintNet + UpsampleNet (u8 in, u8 out); `inferbatch` 16 faces; `evaluate` what
  `ofhnet evaluate --landmarks` does with a 660-face test split (random faces, as many as celeba6k's test split), in batches of 32: the
  random protocol's hole per face, InpaintNet + UpsampleNet (u8 out) and IN+bicubic behind the
  same InpaintNet outputs, the evaluation detector (LandmarkNet, eval widths) on the ground truth,
  the output and the bicubic face, then PSNR, SSIM, PSNR-Y, SSIM-Y, NRMSE and parsing IoU of both
  methods (not timed: loading the model and data, the CSV); `hallucinate` what `ofhnet
  hallucinate --input DIR --out DIR` does with a directory of 1,000 128x128 PNG faces (the
  protocol's HR crop): list, read, downscale to 16x16 per PROTOCOL, infer 32 faces at a time,
  write each 128x128 output as PNG (not timed: loading the model). Networks are freshly
  initialised (preset `{preset}`); faces are random (smooth ones for the PNGs). The reference's
  metrics are torch ops in float64, batched (SSIM's Gaussian filter as two matrix products, the
  parsing maps as a batched crossing-number test); its images are read and written with PIL.
- Implementations: `flex` is ofhnet's default build (burn-flex); `tch-cpu` is ofhnet built with
  `--features tch` (burn-tch on LibTorch), which `--device auto` (the default) picks when the
  binary has it; `flex-unfused` and `tch-cpu-unfused` are the same binaries with
  `OFHNET_FUSED_OPS=0` (burn's own batch norm, ReLU and convolution backward instead of
  `src/nets/fused.rs`, i.e. what ofhnet ran before the fused operations; training rows only);
  `pytorch` is the reference with PyTorch's defaults; `pytorch-malloc` (training rows only) is the same
  reference with the glibc malloc settings that ofhnet applies to itself at start-up
  (`src/alloc.rs`: no mmap below 1 GiB, no trimming, 256 MiB top pad), to show how much of a
  difference is the allocator; `tch-cpu-glibc` (training rows only) is the tch binary left at
  glibc's default malloc settings (`GLIBC_TUNABLES` set, empty), as `pytorch` runs. So
  `tch-cpu` / `pytorch` compares each as it ships, `tch-cpu` against `pytorch-malloc` both tuned,
  and `tch-cpu-glibc` / `pytorch` both at glibc's defaults. Ratios are against `pytorch`.
- Command: `{cmdline}` ({wall} s in all).

{table}

## Harness overhead

`ofhnet bench harness` (default sizes: a 10,000-run sweep; 1,000,000 metric rows; a report over
1,000 finished runs with 660 test images each and 10,000 bootstrap resamples), on a fresh SQLite
store in a temporary directory, run once at the end of the same invocation:

{harness}
"""
open(out, "w").write(doc)
print(f"wrote {out}", file=sys.stderr)
EOF
