"""The straightforward Python way to do what `ingest` does (json + numpy + pyarrow), the
baseline `make bench` compares against. Usage: bench_ingest_baseline.py IN.ndjson OUT.parquet"""
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

src, dst = sys.argv[1], sys.argv[2]
keys, dxs, dys, pens = [], [], [], []
with open(src) as f:
    for line in f:
        rec = json.loads(line)
        xs = np.concatenate([np.asarray(s[0], np.float32) for s in rec["drawing"]])
        ys = np.concatenate([np.asarray(s[1], np.float32) for s in rec["drawing"]])
        pen = np.zeros(len(xs), np.uint8)
        pen[np.cumsum([len(s[0]) for s in rec["drawing"]]) - 1] = 1
        keys.append(rec["key_id"])
        dxs.append(np.diff(xs, prepend=0))
        dys.append(np.diff(ys, prepend=0))
        pens.append(pen)
table = pa.table({"key_id": keys, "dx": dxs, "dy": dys, "pen": pens})
pq.write_table(table, dst, compression="zstd")
