#!/usr/bin/env bash
# Finds (or installs) libtorch 2.9.0 for burn-tch and runs a command with the environment that
# building and running `--features tch` needs.
#
#   scripts/tch-env.sh build [ARGS]     cargo build --features tch ARGS (e.g. --release: the
#                                       fastest CPU path; `--device auto` then means tch-cpu)
#   scripts/tch-env.sh smoke            build --features tch, run the fused-operation unit tests
#                                       on tch-cpu and the tch-cpu smoke test
#   scripts/tch-env.sh run CMD ARGS...  run CMD with LIBTORCH_USE_PYTORCH / LD_LIBRARY_PATH set
#   scripts/tch-env.sh python           print the venv's Python (it also has safetensors and
#                                       tensorboard, for the tests of `ofhnet export`)
#
# libtorch comes from $LIBTORCH if set, else from a venv with torch==2.9.0 at $OFHNET_TORCH_VENV
# (default ~/.cache/ofhnet/torch-venv), created with pip when missing (about 7 GB, 3 minutes).
# Exits 3 when no libtorch can be had, so callers can report a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${OFHNET_CI_SKIP_TCH:-0}" = "1" ]; then
  echo "OFHNET_CI_SKIP_TCH=1"
  exit 3
fi

if [ -n "${LIBTORCH:-}" ]; then
  export LD_LIBRARY_PATH="$LIBTORCH/lib:${LD_LIBRARY_PATH:-}"
else
  venv="${OFHNET_TORCH_VENV:-$HOME/.cache/ofhnet/torch-venv}"
  if ! "$venv/bin/python" -c 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.9.0") else 1)' 2>/dev/null; then
    echo "installing torch==2.9.0 into $venv" >&2
    python3 -m venv "$venv" && "$venv/bin/pip" install -q torch==2.9.0 >&2 || {
      echo "could not install torch==2.9.0" >&2
      exit 3
    }
  fi
  # The tests' PyTorch round trip of exported weights and TensorBoard read-back.
  if ! "$venv/bin/python" -c 'import safetensors, tensorboard' 2>/dev/null; then
    echo "installing safetensors and tensorboard into $venv" >&2
    "$venv/bin/pip" install -q safetensors tensorboard >&2 || {
      echo "could not install safetensors and tensorboard" >&2
      exit 3
    }
  fi
  export PATH="$venv/bin:$PATH"
  export LIBTORCH_USE_PYTORCH=1
  torch_lib=$("$venv/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  export LD_LIBRARY_PATH="$torch_lib:${LD_LIBRARY_PATH:-}"
fi

case "${1:-smoke}" in
  python)
    # The venv's Python (torch 2.9.0, safetensors, tensorboard), for the tests that need one.
    command -v python
    ;;
  build)
    shift
    cargo build --features tch "$@"
    ;;
  smoke)
    cargo build --features tch
    # The fused batch norm and ReLU (src/nets/fused.rs) against burn's own, on flex and tch-cpu.
    cargo test --features tch --lib nets::fused
    bin="${CARGO_TARGET_DIR:-target}/debug/ofhnet"
    "$bin" --device tch-cpu device
    # A tiny end-to-end run on LibTorch: synthetic faces, both stages, evaluation.
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    "$bin" data synth --out "$work/synth" --count 60 --seed 5
    "$bin" data import --celeba "$work/synth" --out "$work/data"
    "$bin" --device tch-cpu train --data "$work/data" --out "$work/model" --preset tiny \
      --stage1-steps 5 --stage2-steps 5 --batch-size 4
    "$bin" --device tch-cpu evaluate --model "$work/model" --data "$work/data"
    ;;
  run)
    shift
    exec "$@"
    ;;
  *)
    echo "usage: scripts/tch-env.sh build | smoke | run CMD ARGS..." >&2
    exit 2
    ;;
esac
