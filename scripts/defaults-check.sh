#!/usr/bin/env bash
# One set of defaults: `train`, `embed` and `cluster` run in an empty folder with no config must
# write exactly what they write beside the shipped pipeline.toml (whose keys only restate the
# defaults a user would change). Both runs read the same drawings under the same relative names,
# so every output file must be byte for byte the same; model.json may differ only in the
# seconds it took.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${DEFAULTS_PROFILE:-debug}
bin=$PWD/target/$PROFILE
if [ "$PROFILE" = debug ]; then
  cargo build -q --bin ingest --bin train --bin embed --bin cluster
else
  cargo build -q --profile "$PROFILE" --bin ingest --bin train --bin embed --bin cluster
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/defaults-check.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir "$W/bare" "$W/shipped"
cp pipeline.toml "$W/shipped/"
"$bin/ingest" synth --count 300 --seed 5 -o "$W/faces.ndjson" >/dev/null
for d in bare shipped; do
  (
    cd "$W/$d"
    # the same few steps for both: everything else is the defaults or the shipped file's
    "$bin/ingest" -o drawings.parquet ../faces.ndjson >/dev/null
    "$bin/train" -o run drawings.parquet --max-steps 2 >/dev/null
    "$bin/embed" --model run -o embeddings.parquet drawings.parquet >/dev/null
    "$bin/cluster" -o clusters.parquet embeddings.parquet >/dev/null
  )
done
fail=0
for f in drawings.parquet run/model.safetensors embeddings.parquet reconstructions.parquet \
  interpolations.parquet clusters.parquet cluster_model.json cluster_model.safetensors; do
  if ! cmp -s "$W/bare/$f" "$W/shipped/$f"; then
    echo "defaults-check: $f differs between no config and the shipped pipeline.toml" >&2
    fail=1
  fi
done
strip_times() {
  python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))
m["losses"].pop("elapsed_s", None)
print(json.dumps(m, sort_keys=True))' "$1"
}
if [ "$(strip_times "$W/bare/run/model.json")" != "$(strip_times "$W/shipped/run/model.json")" ]; then
  echo "defaults-check: model.json differs between no config and the shipped pipeline.toml" >&2
  diff <(strip_times "$W/bare/run/model.json" | tr ',' '\n') \
    <(strip_times "$W/shipped/run/model.json" | tr ',' '\n') >&2 || true
  fail=1
fi
[ $fail -eq 0 ] || { echo "defaults-check: FAILED" >&2; exit 1; }
echo "defaults-check: ok (ingest, train, embed, cluster: the same files with no config as with pipeline.toml)"
