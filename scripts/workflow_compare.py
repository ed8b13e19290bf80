"""Compares the workflow's shards with the one-process run (scripts/workflow-check.sh)."""
import glob
import os
import sys

import duckdb
import numpy as np
import pyarrow.parquet as pq

one, shards, n = sys.argv[1], sys.argv[2], int(sys.argv[3])


def table(path):
    # a folder or a glob of files, as DuckDB reads it: the same as the stages read it
    files = sorted(glob.glob(path)) if any(c in path for c in "*?[") else [path]
    return pq.ParquetDataset(files).read() if len(files) > 1 else pq.read_table(files[0])


def by_key(t, column):
    keys = t.column("key_id").to_pylist()
    values = t.column(column).to_pylist()
    assert len(set(keys)) == len(keys), "a key_id twice"
    return dict(zip(keys, values))


fail = []
# shards are disjoint and make up the whole
parts = [pq.read_table(f"{shards}/drawings/part-{i}.parquet").column("key_id").to_pylist() for i in range(n)]
whole = pq.read_table(f"{one}/drawings.parquet").column("key_id").to_pylist()
if sorted(k for p in parts for k in p) != sorted(whole):
    fail.append("the shards' drawings are not the whole table's, each once")
if min(len(p) for p in parts) == 0:
    fail.append("a shard is empty")

# DuckDB reads the sharded folder as one table
con = duckdb.connect()
rows = con.execute(f"select count(*), count(distinct key_id) from read_parquet('{shards}/drawings/*.parquet')").fetchone()
if rows != (len(whole), len(whole)):
    fail.append(f"DuckDB reads {rows} rows from the shards' folder, not {len(whole)}")

e1 = by_key(table(f"{one}/embeddings.parquet"), "embedding")
e2 = by_key(table(f"{shards}/embed/*/embeddings.parquet"), "embedding")
if e1.keys() != e2.keys():
    fail.append("the embeddings are not of the same drawings")
else:
    d = max(float(np.max(np.abs(np.array(e1[k]) - np.array(e2[k])))) for k in e1)
    print(f"workflow-check: embeddings of {len(e1)} drawings, max abs difference {d:.2e}")
    if d > 1e-5:
        fail.append(f"embeddings differ by {d}")

c1 = by_key(table(f"{one}/clusters.parquet"), "cluster")
for name, path in [("fit", f"{shards}/clusters.parquet"), ("assigned", f"{shards}/assigned/*/clusters.parquet")]:
    c2 = by_key(table(path), "cluster")
    same = sum(c1.get(k) == v for k, v in c2.items())
    print(f"workflow-check: {name}: {same} of {len(c1)} drawings in the same cluster")
    if c2.keys() != c1.keys() or same != len(c1):
        fail.append(f"the {name} clusters differ from the one-process run's")

for name in ["plots/report.html", "evaluation.json"]:
    if not os.path.exists(f"{shards}/{name}"):
        fail.append(f"no {name}")
if fail:
    sys.exit("workflow-check: FAILED: " + "; ".join(fail))
print(f"workflow-check: ok ({n} shards through Snakemake = one process per stage)")
