#!/usr/bin/env bash
# Assembles a CUDA toolkit from NVIDIA's PyPI wheels under target/cuda-toolkit and prints the
# folder to use as CUDA_ROOT: nvcc (candle-kernels compiles its kernels with it at build time),
# the runtime, cuBLAS, cuRAND and NVRTC with their headers, and a link stub of the driver
# library. No root, no system package, no GPU needed; about 1 GB of disk.
#
# Why a stub: candle turns on cudarc's `dynamic-linking`, so the binaries link against
# libcuda.so, which only a GPU driver installs. The stub (what the CUDA toolkit ships in
# lib64/stubs) has the driver API's symbols and the driver's soname, libcuda.so.1; at run time
# the real driver's library is loaded instead.
#
# A CUDA_ROOT already set (a toolkit of your own: bin/nvcc, include, lib or lib64) is used as
# it is, and nothing is fetched.
#
# With --env it prints shell exports instead (CUDA_ROOT, PATH, and CUDA_COMPUTE_CAP: the GPU
# generation the kernels target, 90 (H100) unless already set), so that
#   eval "$(scripts/cuda-toolkit.sh --env)" && cargo build --release --features cuda
# works in that shell (that build then replaces target/release's CPU binaries; `make cuda` builds
# into target/cuda instead, and `make all` rebuilds its own).
#
# Versions: CUDA 13.2, the newest that cudarc 0.19 knows (13.0 to 13.4) and the runtime the
# torch wheel of `make test` brings. Override with CUDA_WHEELS_VERSION=13.0 etc.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root="$here/target/cuda-toolkit"
cuda="$root/nvidia/cu13"
version=${CUDA_WHEELS_VERSION:-13.2}

if [ -n "${CUDA_ROOT:-}" ]; then
  [ -x "$CUDA_ROOT/bin/nvcc" ] || { echo "cuda-toolkit: no nvcc in CUDA_ROOT=$CUDA_ROOT" >&2; exit 1; }
  cuda=$CUDA_ROOT
elif [ ! -x "$cuda/bin/nvcc" ] || [ ! -e "$cuda/lib/stubs/libcuda.so" ]; then
  command -v python3 >/dev/null || { echo "cuda-toolkit: python3 is needed to fetch the wheels" >&2; exit 1; }
  rm -rf "$root.tmp"
  python3 -m venv "$root.tmp/venv" >&2
  # one pip call: every wheel unpacks into the same nvidia/cu13 tree
  "$root.tmp/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --target "$root.tmp/tree" \
    "nvidia-cuda-nvcc==$version.*" "nvidia-nvvm==$version.*" "nvidia-cuda-crt==$version.*" \
    "nvidia-cuda-runtime==$version.*" "nvidia-cuda-nvrtc==$version.*" "nvidia-cuda-cccl==$version.*" \
    "nvidia-cublas==13.*" "nvidia-curand==10.*" >&2
  lib="$root.tmp/tree/nvidia/cu13/lib"
  # the linker looks for libX.so; the wheels ship only libX.so.N
  for so in "$lib"/*.so.*; do
    base=$(basename "$so"); plain="${base%%.so.*}.so"
    [ -e "$lib/$plain" ] || ln -s "$base" "$lib/$plain"
  done
  # the driver API's exported names, as the preprocessor turns cuda.h's macros (cuCtxCreate ->
  # cuCtxCreate_v4) into the library's symbols
  mkdir -p "$lib/stubs"
  gcc -E -P -I"$root.tmp/tree/nvidia/cu13/include" -x c - <<<'#include <cuda.h>' \
    | grep -oE '\bCUresult +cu[A-Za-z0-9_]+ *\(' | sed -E 's/CUresult +//; s/ *\(//' | sort -u \
    | sed -E 's/.*/int &(void) { return 34; }/' > "$root.tmp/cuda_stub.c"  # 34: CUDA_ERROR_STUB_LIBRARY
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$lib/stubs/libcuda.so" "$root.tmp/cuda_stub.c"
  # so that the cuda build's tests start on a machine without a driver (with lib/stubs on
  # LD_LIBRARY_PATH; never on a GPU machine's)
  ln -s libcuda.so "$lib/stubs/libcuda.so.1"
  rm -rf "$root"
  mkdir -p "$root"
  mv "$root.tmp/tree/nvidia" "$root/nvidia"
  rm -rf "$root.tmp"
fi
if [ "${1:-}" = --env ]; then
  printf 'export CUDA_ROOT=%q PATH=%q CUDA_COMPUTE_CAP=%q\n' "$cuda" "$cuda/bin:$PATH" "${CUDA_COMPUTE_CAP:-90}"
else
  echo "$cuda"
fi
