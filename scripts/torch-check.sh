#!/usr/bin/env bash
# The PyTorch check (issue 26): python/doodle_torch.py loads a run folder into nn.LSTM and
# friends and must give `embed`'s vectors (the whole drawings' and the parts') to 1e-5, for the
# default model (pipeline.toml's [train]) and for the original experiment's configuration (one
# LSTM of 256 each way, its last states, latent 50, MSE). The models train for a few steps only:
# the check is of the arithmetic, not of what the model learnt.
#
# It installs PyPI's `torch` into the environment scripts/python-env.sh makes (the CUDA build:
# about 5.4 GB with its nvidia packages, a minute here; it runs on the CPU). Skipped, saying so,
# when there is no Python or no network; TORCH_CHECK=require makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${TORCH_PROFILE:-debug}
CARGO=${CARGO:-cargo}
skip() {
  if [ "${TORCH_CHECK:-}" = require ]; then echo "torch-check: $1" >&2; exit 1; fi
  echo "torch-check: SKIPPED: $1" >&2; exit 0
}
py=$(scripts/python-env.sh)
[ -n "$py" ] || skip "no Python environment (no python3, or no network for pip)"
if ! "$py" -c "import torch" 2>/dev/null; then
  "$py" -m pip install --quiet --disable-pip-version-check torch >&2 \
    || skip "PyPI's torch could not be installed"
fi
if [ "$PROFILE" = debug ]; then $CARGO build --bin ingest --bin train --bin embed; else
  $CARGO build --profile "$PROFILE" --bin ingest --bin train --bin embed; fi
bin=target/$PROFILE
W=${TORCH_WORK:-target/torch-check}
rm -rf "$W"; mkdir -p "$W"
"$bin/ingest" synth --count 300 --seed 5 -o "$W/faces.ndjson" >/dev/null
# the edge drawings too: one point, one stroke, 10,000 points
"$py" - "$W/faces.ndjson" <<'PY'
import math, sys
def line(key, strokes):
    s = ",".join("[[%s],[%s]]" % (",".join(map(str, x)), ",".join(map(str, y))) for x, y in strokes)
    return ('{"word":"face","countrycode":"US","timestamp":"2017-03-08 21:12:07.266040 UTC",'
            '"recognized":true,"key_id":"%s","drawing":[%s]}\n' % (key, s))
long = []
for k in range(25):
    x, y = [], []
    for j in range(400):
        a, r = (k * 400 + j) * 0.01, 20 + 0.01 * (k * 400 + j)
        x.append(min(max(round(128 + r * math.cos(a)), 0), 255))
        y.append(min(max(round(128 + r * math.sin(a)), 0), 255))
    long.append((x, y))
with open(sys.argv[1], "a") as f:
    f.write(line("edge-one-point", [([100], [100])]))
    f.write(line("edge-one-stroke", [([10, 200, 200, 10, 10], [10, 10, 200, 200, 10])]))
    f.write(line("edge-10000-points", long))
PY
# --max-points 0: the drawing of 10,000 points is encoded too
"$bin/ingest" --config pipeline.toml --max-points 0 -o "$W/drawings.parquet" "$W/faces.ndjson" >/dev/null
fail=0
check() {
  local name=$1; shift
  local config=$1; shift
  "$bin/train" --config "$config" --max-steps 3 --max-minutes 0 --optimiser.batch-size 32 \
    -o "$W/$name" "$@" "$W/drawings.parquet" >/dev/null
  "$bin/embed" --config "$config" --model "$W/$name" --reconstructions 0 --interpolations 0 \
    -o "$W/$name.embeddings.parquet" "$W/drawings.parquet" >/dev/null
  echo -n "torch-check: $name: "
  "$py" python/check_embed.py "$W/$name" "$W/drawings.parquet" "$W/$name.embeddings.parquet" \
    || fail=1
}
check default pipeline.toml
check original datasets/original-experiment.toml
# the original model read both ways, so the backward LSTM and the last-state pool are checked
check original-bidirectional datasets/original-experiment.toml --model.bidirectional true
[ $fail -eq 0 ] || { echo "torch-check: FAILED" >&2; exit 1; }
echo "torch-check: ok"
