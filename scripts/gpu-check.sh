#!/usr/bin/env bash
# The CUDA build's measurements, on a machine with an NVIDIA GPU (issue 25; docs/cuda.md): run
# from the repository root after `make cuda` built target/cuda/release (here, or on a machine
# of the same kind whose binaries were carried over). Prints, for the card it runs on:
#   - PyTorch's figures on the GPU (cuDNN's LSTM, `scripts/bench_torch.py OUT STEPS cuda`);
#   - ours on the GPU (`BENCH_DEVICE=cuda` bench example: the original and the default model's
#     training step and encoding throughput, each as a ratio against PyTorch's), and candle-nn's
#     step loop on the GPU for comparison;
#   - a model trained on the GPU, its vectors on the GPU against the CPU's (within 1e-4).
# Needs: the GPU's driver, python3 with torch (a CUDA 13 build: its wheels' libraries are the
# runtime our binaries load, unless CUDA_LIBS names a folder of them).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/cuda/release}
PY=${PYTHON:-python3}
STEPS=${STEPS:-30}
OUT=${OUT:-target/gpu-check}
mkdir -p "$OUT"

[ -x "$BIN/examples/bench" ] || { echo "gpu-check: no $BIN/examples/bench: run make cuda first" >&2; exit 1; }
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

# cuBLAS, cuRAND, NVRTC and the runtime: the toolkit's own, else the ones torch's wheels bring
libs=${CUDA_LIBS:-}
if [ -z "$libs" ]; then
  libs=$("$PY" - <<'EOF'
import glob, os, site
dirs = set()
for sp in site.getsitepackages() + [site.getusersitepackages()]:
    for so in glob.glob(os.path.join(sp, "nvidia", "**", "lib*.so*"), recursive=True):
        dirs.add(os.path.dirname(so))
print(":".join(sorted(dirs)))
EOF
)
fi
[ -d target/cuda-toolkit/nvidia/cu13/lib ] && libs="$PWD/target/cuda-toolkit/nvidia/cu13/lib:$libs"
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ldd "$BIN/examples/bench" | grep -q "not found"; then
  echo "gpu-check: libraries missing (set CUDA_LIBS to a folder of CUDA 13 libraries):" >&2
  ldd "$BIN/examples/bench" | grep "not found" >&2
  exit 1
fi

echo "== PyTorch on the GPU"
"$PY" scripts/bench_torch.py "$OUT/torch.json" "$STEPS" cuda
echo "== ours on the GPU: training steps, encoding, candle-nn's loop, and the cross-device check"
BENCH_DEVICE=cuda TORCH_BENCH="$OUT/torch.json" "$BIN/examples/bench" "$STEPS" 10
