#!/usr/bin/env bash
# One row of the experiments table (docs/experiments.md): trains a model with the given `train`
# flags on the built-in synthetic faces, embeds and clusters faces from a generator seed the
# model never saw, and evaluates them. The seed and the counts are CONFIG's [synth] ones, as in
# `make all` (the held-out seed is seed + 1000); SYNTH_SEED, SYNTH_COUNT, HELDOUT_SEED and
# HELDOUT_COUNT override them.
#
#   scripts/experiment.sh NAME [TRAIN FLAGS...]
#   e.g. scripts/experiment.sh mse-50 --head mse --latent 50 --max-minutes 4
#
# Uses the release binaries (make build); everything goes to target/experiments/NAME.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,11p "$0"; exit 2; }
name=$1; shift
BIN=${BIN:-target/release}
CONFIG=${CONFIG:-pipeline.toml}
# key SECTION NAME: a value of $CONFIG, as the Makefile reads it (empty when absent)
key() {
  sed -n "/^\[$1\]/,/^\[/{s/^$2 *= *\"\{0,1\}\([^\"]*\)\"\{0,1\} *\(#.*\)\{0,1\}$/\1/p}" "$CONFIG" | head -1
}
SEED=${SYNTH_SEED:-$(key synth seed)}; SEED=${SEED:-1}
COUNT=${SYNTH_COUNT:-$(key synth count)}; COUNT=${COUNT:-10000}
HELDOUT_SEED=${HELDOUT_SEED:-$((SEED + 1000))}
HELDOUT_COUNT=${HELDOUT_COUNT:-$(key synth heldout_count)}; HELDOUT_COUNT=${HELDOUT_COUNT:-10000}
EXP=target/experiments
data=$EXP/data
mkdir -p "$data"
# faces SEED COUNT: prints the path of that synthetic set's table, made on first use
faces() {
  local f=$data/faces_$1_n$2
  if [ ! -s "$f.parquet" ]; then
    "$BIN/ingest" synth --count "$2" --seed "$1" -o "$f.ndjson" >/dev/null || return 1
    "$BIN/ingest" --config "$CONFIG" -o "$f.parquet" "$f.ndjson" >/dev/null || return 1
  fi
  echo "$f.parquet"
}
train=$(faces "$SEED" "$COUNT")
heldout=$(faces "$HELDOUT_SEED" "$HELDOUT_COUNT")
out=$EXP/$name
mkdir -p "$out"
printf '%q ' "$@" > "$out/flags.txt"
start=$(date +%s)
"$BIN/train" --config "$CONFIG" --overwrite -o "$out/run" "$@" "$train" 2>&1 | tail -1
train_s=$(( $(date +%s) - start ))
"$BIN/embed" --config "$CONFIG" --model "$out/run" --interpolations 0 -o "$out/embeddings.parquet" "$heldout" 2>&1 | tail -1
"$BIN/cluster" --config "$CONFIG" -o "$out/clusters.parquet" "$out/embeddings.parquet" 2>&1 | tail -1
"$BIN/evaluate" --config "$CONFIG" -o "$out/evaluation.json" "$heldout" \
  "$out/embeddings.parquet" "$out/clusters.parquet" "$out/reconstructions.parquet" 2>&1 | tail -12
echo "$name: train ${train_s}s; flags: $*"
