"""DuckDB and pyarrow read a Hive-partitioned folder written by `ingest --partition-by` as one
table: the same rows as the single-file table (key_id, the partition column from the paths,
n_points and the points), and the same count per partition value.

Usage: check_dataset.py FOLDER SINGLE.parquet (run by crates/ingest/tests/shards.rs)."""
import os
import sys

import duckdb
import pyarrow.parquet as pq

folder, single = sys.argv[1], sys.argv[2]
column = next(d.split("=", 1)[0] for d in sorted(os.listdir(folder)) if "=" in d)
want = pq.read_table(single, columns=["key_id", column, "n_points", "dx"]).to_pylist()
want = sorted((r["key_id"], r[column], r["n_points"], r["dx"]) for r in want)

# pyarrow: a folder is a dataset, Hive-partitioned by default
got = pq.read_table(folder).to_pylist()
got = sorted((r["key_id"], r[column], r["n_points"], r["dx"]) for r in got)
assert got == want, f"pyarrow: {len(got)} rows against {len(want)}"

# DuckDB: every file under the folder, the partition column from the paths
sql = (f"select key_id, {column}, n_points, dx from "
       f"read_parquet('{folder}/**/*.parquet', hive_partitioning = true)")
got = sorted(tuple(r) for r in duckdb.sql(sql).fetchall())
assert [g[:3] for g in got] == [w[:3] for w in want], f"duckdb: {len(got)} rows against {len(want)}"
assert all(abs(a - b) < 1e-6 for g, w in zip(got, want) for a, b in zip(g[3], w[3]))
counts = dict(duckdb.sql(
    f"select {column}, count(*) from read_parquet('{folder}/**/*.parquet', hive_partitioning = true) "
    f"group by all").fetchall())
print(f"check_dataset: pyarrow and duckdb {duckdb.__version__} read {len(want)} rows of {folder} "
      f"as one table, by {column}: {counts}")
