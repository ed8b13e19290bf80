#!/usr/bin/env bash
# `make test`'s check of the CUDA build, on a machine without a GPU (issue 25; docs/cuda.md):
# seqae built with `--features cuda` against the CUDA toolkit scripts/cuda-toolkit.sh assembles
# from PyPI (nvcc compiles candle's kernels and the LSTM gate cell's), then its LSTM tests, among
# them the CUDA kernels' per-thread code built for the CPU against the Rust cell. The build goes
# to target/cuda, apart from the CPU one (about 10 minutes on 2 cores the first time).
#
# Skipped, saying so, when the toolkit cannot be assembled (no python3, no network);
# CUDA_CHECK=require makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
skip() {
  if [ "${CUDA_CHECK:-}" = require ]; then echo "cuda-check: $1" >&2; exit 1; fi
  echo "cuda-check: SKIPPED: $1" >&2; exit 0
}
env=$(scripts/cuda-toolkit.sh --env) || skip "no CUDA toolkit (scripts/cuda-toolkit.sh needs python3 and PyPI)"
eval "$env"
# the driver's link stub stands in for libcuda.so.1: the tests start, and touch no GPU
export CARGO_TARGET_DIR=target/cuda \
  LD_LIBRARY_PATH=$CUDA_ROOT/lib:$CUDA_ROOT/lib/stubs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
$CARGO test -p seqae --features cuda --lib -- cell:: lstm:: gate_cell
echo "cuda-check: ok (the cuda build, nvcc on the kernels, and the kernels' code on the CPU)"
