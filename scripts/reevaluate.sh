#!/usr/bin/env bash
# Embeds, clusters and evaluates the held-out faces again with an experiment's trained model and
# the current stages and config, without training again (for changes after the model):
#
#   scripts/reevaluate.sh NAME [CLUSTER FLAGS...]   -> target/experiments/NAME/$REEVAL (reeval)
#   (EMBED_FLAGS="--part-box whole" passes flags to embed)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,5p "$0"; exit 2; }
name=$1; shift
BIN=${BIN:-target/release}
CONFIG=${CONFIG:-pipeline.toml}
EXP=target/experiments
out=$EXP/$name/${REEVAL:-reeval}
mkdir -p "$out"
"$BIN/embed" --config "$CONFIG" ${EMBED_FLAGS:-} --model "$EXP/$name/run" --interpolations 0 -o "$out/embeddings.parquet" "$EXP/data/faces_1001.parquet" 2>&1 | tail -1
"$BIN/cluster" --config "$CONFIG" "$@" -o "$out/clusters.parquet" "$out/embeddings.parquet" 2>&1 | tail -1
"$BIN/evaluate" --config "$CONFIG" -o "$out/evaluation.json" "$EXP/data/faces_1001.parquet" \
  "$out/embeddings.parquet" "$out/clusters.parquet" "$out/reconstructions.parquet" 2>&1 | tail -12
