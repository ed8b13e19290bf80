#!/usr/bin/env bash
# The map and the explorer at the face category's size: N synthetic faces (default 160,000)
# through ingest, embed, cluster (UMAP fitted on a sample, the rest placed) and plot, then
# explorer.html opened in headless Chromium. Prints each stage's time and peak memory, the
# page's size and its time to interactive, and how well the map keeps neighbours (UMAP vs PCA).
#
#   scripts/bench_explorer.sh [N]      (MODEL=run-folder to embed with; default work/run from
#                                      `make all`, else a small model trained for one minute)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release}
N=${1:-${EXPLORER_DRAWINGS:-160000}}
OUT=target/bench/explorer_$N
mkdir -p "$OUT"
timed() { # LABEL CMD...: runs CMD, prints its wall time and peak memory
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" > "$OUT/$label.log"
  read -r secs kb < "$OUT/time.txt"
  printf "  %-10s %8.1f s  peak RSS %6.0f MB   %s\n" "$label" "$secs" "$((kb / 1024))" "$(tail -1 "$OUT/$label.log" | cut -c1-150)"
}
echo "== explorer: $N synthetic faces"
[ -s "$OUT/faces.ndjson" ] || "$BIN/ingest" synth --count "$N" --seed 77 -o "$OUT/faces.ndjson" >/dev/null
timed ingest "$BIN/ingest" -o "$OUT/drawings.parquet" "$OUT/faces.ndjson"
MODEL=${MODEL:-work/run}
if [ ! -f "$MODEL/model.safetensors" ]; then
  MODEL=$OUT/run
  if [ ! -f "$MODEL/model.safetensors" ]; then
    echo "  (no work/run: training a small model for one minute)"
    "$BIN/train" --config scripts/e2e.toml --max-minutes 1 --epochs 100 --overwrite -o "$MODEL" "$OUT/drawings.parquet" >/dev/null
  fi
fi
timed embed "$BIN/embed" --model "$MODEL" --interpolations 0 -o "$OUT/embeddings.parquet" "$OUT/drawings.parquet"
timed cluster "$BIN/cluster" -o "$OUT/clusters.parquet" "$OUT/embeddings.parquet"
timed plot "$BIN/plot" -o "$OUT/plots" "$OUT/drawings.parquet" "$OUT/embeddings.parquet" "$OUT/clusters.parquet" "$OUT/reconstructions.parquet"
python3 - "$OUT/cluster_summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
m = s["map"]
kept = ", ".join(f"{k} {v:.3f}" for k, v in m["neighbours_kept_10"].items())
u = m.get("umap") or {}
print(f"  map: {m['method']} in {m['seconds']:.1f} s (fitted {u.get('fitted', '-')}, placed {u.get('placed', '-')}); "
      f"share of the 10 nearest neighbours kept: {kept}")
PY
if command -v chromium >/dev/null 2>&1; then
  scripts/check-explorer.py "$OUT/plots/explorer.html" --screenshot "$OUT/explorer-screenshot.png" | sed 's/^/  /'
else
  echo "  (no Chromium: the page's time to interactive is not measured; scripts/check-report.sh installs it)"
fi
