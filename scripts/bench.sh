#!/usr/bin/env bash
# `make bench`: prints throughput figures; asserts nothing about time (the machine is shared and
# noisy: compare the variants within one run, as ratios). Generated inputs go to target/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release}
OUT=target/bench
mkdir -p "$OUT"
N=${BENCH_DRAWINGS:-200000}

echo "== ingest: simplified ndjson, $N drawings, 10x and 20x that"
small=$OUT/faces_${N}.ndjson
big=$OUT/faces_${N}x10.ndjson
[ -s "$small" ] || "$BIN/ingest" synth --count "$N" --seed 42 -o "$small" >/dev/null
if [ ! -s "$big" ]; then
  # ten copies with distinct key_ids, so every drawing is written
  for i in $(seq 0 9); do sed "s/\"key_id\":\"synth-42-/\"key_id\":\"synth-42-r$i-/" "$small"; done > "$big.tmp"
  mv "$big.tmp" "$big"
fi
# ingest_run LABEL DRAWINGS INPUT...: the inputs go into one table
ingest_run() {
  local label=$1 n=$2; shift 2
  local bytes=0 f; for f in "$@"; do bytes=$((bytes + $(stat -c %s "$f"))); done
  local mb=$((bytes / 1048576))
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$BIN/ingest" --config /dev/null -o "$OUT/bench.parquet" "$@" >/dev/null
  read -r secs kb < "$OUT/time.txt"
  last_secs=$secs
  awk -v n="$n" -v mb="$mb" -v s="$secs" -v kb="$kb" -v f="$label" \
    'BEGIN { printf "  %-28s %9d drawings %6d MB  %6.2f s  %9.0f drawings/s  %6.1f MB/s  peak RSS %5.0f MB\n", f, n, mb, s, n/s, mb/s, kb/1024 }'
}
ingest_run "$(basename "$small")" "$N" "$small"
small_secs=$last_secs
# ingest's two halves alone, to set beside its figure: the parse (one thread) and the writer
echo "  its halves alone: parsing, then writing the table just written"
cargo run --quiet --release -p quickdraw --example parse_bench -- "$small" | grep "in memory" || true
cargo run --quiet --release -p tables --example write_bench -- "$OUT/bench.parquet" "$small"
ingest_run "$(basename "$big")" $((N * 10)) "$big"
# the big file twice: peak memory must stay where it was at ten times the drawings
ingest_run "$(basename "$big") twice" $((N * 20)) "$big" "$big"
py=$(scripts/python-env.sh || true)
if [ -n "$py" ]; then
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$py" scripts/bench_ingest_baseline.py "$small" "$OUT/baseline.parquet"
  read -r secs kb < "$OUT/time.txt"
  awk -v n="$N" -v mb="$(du -m "$small" | cut -f1)" -v s="$secs" -v kb="$kb" \
    'BEGIN { printf "  %-28s %9d drawings %6d MB  %6.2f s  %9.0f drawings/s  %6.1f MB/s  peak RSS %5.0f MB\n", "python json+numpy+pyarrow", n, mb, s, n/s, mb/s, kb/1024 }'
  awk -v ours="$small_secs" -v theirs="$secs" -v f="$(basename "$small")" \
    'BEGIN { printf "  ingest of %s vs the Python script: %.1fx\n", f, theirs/ours }'
fi

echo "== train / encode: the LSTM autoencoder (hidden 256, batch 100, 100 steps), against PyTorch"
# PyTorch on the same shapes in this run (scripts/torch-check.sh installs it into the same
# environment); the Rust bench prints its figures as ratios against these
torch_json=$OUT/torch.json
rm -f "$torch_json"
if [ -n "$py" ] && { "$py" -c "import torch" 2>/dev/null \
    || "$py" -m pip install --quiet --disable-pip-version-check torch >&2; }; then
  "$py" scripts/bench_torch.py "$torch_json" || rm -f "$torch_json"
fi
# the step's products alone: gemm against our own tiles (seqae::f32x8)
cargo run --quiet --release -p seqae --example products
if [ -s "$torch_json" ]; then
  TORCH_BENCH=$torch_json cargo run --quiet --release --example bench
else
  cargo run --quiet --release --example bench
fi

echo "== cluster: HDBSCAN on 50-d blobs"
cargo run --quiet --release --example cluster_bench

scripts/bench_explorer.sh

# every reader under the mutation harness (docs/trust.md); issue 26's figure is 10 million
# inputs per reader: FUZZ_COUNT=10000000 make bench (about 1.5 hours on one core)
FUZZ_COUNT=${FUZZ_COUNT:-100000}
echo "== fuzz: every reader, $FUZZ_COUNT mutated inputs each (findings in target/fuzz)"
cargo run --quiet --release -p trust --example fuzz_readers -- --count "$FUZZ_COUNT" --out "$OUT/../fuzz"
