#!/usr/bin/env bash
# The end-to-end test: `make all` on tiny settings (a few hundred synthetic faces, a tiny model),
# in a work folder of its own, then checks that every table, figure and the report exist and
# that the report loads in a real browser; then that a second `make all` has nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${E2E_WORK:-target/e2e}
PROFILE=${E2E_PROFILE:-debug}
rm -rf "$WORK"
args=(PROFILE="$PROFILE" CONFIG=scripts/e2e.toml WORK="$WORK" SYNTH_COUNT=400 HELDOUT_COUNT=200)
make --no-print-directory all "${args[@]}"

fail=0
expect() {
  for f in "$@"; do
    if [ ! -s "$f" ]; then echo "e2e: missing or empty: $f" >&2; fail=1; fi
  done
}
expect "$WORK/drawings.parquet" "$WORK/run/model.safetensors" "$WORK/run/model.json" \
  "$WORK/run/train_log.parquet" "$WORK/embeddings.parquet" "$WORK/reconstructions.parquet" \
  "$WORK/interpolations.parquet" "$WORK/clusters.parquet" "$WORK/cluster_summary.json" \
  "$WORK/evaluation.json" "$WORK/plots/report.html"
for fig in reconstructions gallery embedding_map loss interpolations; do
  n=$(find "$WORK/plots" -name "${fig}*.png" | wc -l)
  m=$(find "$WORK/plots" -name "${fig}*.svg" | wc -l)
  if [ "$n" -eq 0 ] || [ "$m" -eq 0 ]; then echo "e2e: no ${fig} PNG/SVG in $WORK/plots" >&2; fail=1; fi
done
# the part vectors went through: embed wrote them and evaluate scored each
for part in inside outline outside; do
  if ! grep -q "\"$part\": [0-9]" "$WORK/evaluation.json"; then
    echo "e2e: $WORK/evaluation.json scores no $part vectors" >&2; fail=1
  fi
done
[ $fail -eq 0 ] || exit 1

if ! scripts/check-report.sh "$WORK/plots/report.html" "$WORK/plots/report-screenshot.png"; then
  if ! command -v chromium >/dev/null 2>&1 && [ -z "${REQUIRE_CHROMIUM:-}" ]; then
    echo "e2e: SKIPPED the browser check of report.html: Chromium could not be installed here" >&2
  else
    exit 1
  fi
fi

# the explorer in a real browser: every drawing drawn, a hovered point shows its drawing
expect "$WORK/plots/explorer.html"
[ $fail -eq 0 ] || exit 1
if command -v chromium >/dev/null 2>&1; then
  # every clustered drawing has a place on the map
  n_drawings=$(python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["n_points"] - s["n_left_out"])' "$WORK/cluster_summary.json")
  scripts/check-explorer.py "$WORK/plots/explorer.html" --expect "$n_drawings" \
    --screenshot "$WORK/plots/explorer-screenshot.png"
elif [ -n "${REQUIRE_CHROMIUM:-}" ]; then
  echo "e2e: no Chromium for the explorer check" >&2; exit 1
fi

# file targets: a second run has nothing to redo (cargo is asked, the stages are not run)
again=$(make --no-print-directory all "${args[@]}" 2>&1)
if grep -E "^target/$PROFILE/(ingest|train|embed|cluster|evaluate|plot) " <<<"$again" >&2; then
  echo "e2e: a second 'make all' ran the stages above again although no input changed" >&2
  exit 1
fi
echo "e2e: ok ($WORK)"
