#!/usr/bin/env bash
# The Snakemake workflow (workflow/Snakefile) with its local executor, 4 shards, on a few
# thousand synthetic faces, against the same stages run in one process each on the whole table:
# every drawing must get the same embedding (within 1e-5) and the same cluster, both from the
# fit on every shard's embeddings and from the fitted model placing each shard.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${WORKFLOW_PROFILE:-debug}
bin=$PWD/target/$PROFILE
py=$(scripts/python-env.sh)
if [ -z "$py" ] || ! "$(dirname "$py")/snakemake" --version >/dev/null 2>&1; then
  echo "workflow-check: SKIPPED (no Python environment with Snakemake; needs python3 and PyPI)" >&2
  exit 0
fi
snakemake="$(dirname "$py")/snakemake"
if [ "$PROFILE" = debug ]; then
  cargo build -q --bin ingest --bin train --bin embed --bin cluster --bin evaluate --bin plot
else
  cargo build -q --profile "$PROFILE" --bin ingest --bin train --bin embed --bin cluster \
    --bin evaluate --bin plot
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/workflow-check.XXXXXX")
[ -n "${KEEP_WORKFLOW_DIR:-}" ] || trap 'rm -rf "$W"' EXIT
cp scripts/e2e.toml "$W/pipeline.toml"
"$bin/ingest" synth --count 2000 --seed 3 -o "$W/faces-a.ndjson" >/dev/null
"$bin/ingest" synth --count 1000 --seed 4 -o "$W/faces-b.ndjson" >/dev/null

# one process per stage, on the whole table
(
  cd "$W" && mkdir one
  "$bin/ingest" --config pipeline.toml -o one/drawings.parquet faces-b.ndjson faces-a.ndjson >/dev/null
  "$bin/train" --config pipeline.toml -o one/run one/drawings.parquet >/dev/null
  "$bin/embed" --config pipeline.toml --model one/run -o one/embeddings.parquet one/drawings.parquet >/dev/null
  "$bin/cluster" --config pipeline.toml -o one/clusters.parquet one/embeddings.parquet >/dev/null
)

# the workflow, 4 shards, 4 jobs at once (the inputs in the other order: shards do not depend on it)
"$snakemake" -s workflow/Snakefile --cores 4 --quiet rules --directory "$W" \
  --config inputs="faces-a.ndjson faces-b.ndjson" shards=4 work=shards bin="$bin" \
  pipeline=pipeline.toml >"$W/snakemake.log" 2>&1 || {
  cat "$W/snakemake.log" >&2
  for f in "$W"/shards/logs/*.log; do echo "== $f" >&2; cat "$f" >&2; done
  echo "workflow-check: FAILED (the workflow did not run)" >&2
  exit 1
}
"$py" scripts/workflow_compare.py "$W/one" "$W/shards" 4
