#!/usr/bin/env bash
# Prints the path of a Python that has pyarrow, duckdb and Snakemake, creating a virtual environment under
# target/pyenv on first use. Prints nothing (and exits 0) when it cannot (no python3, no network):
# the tests that need it then say that they were skipped.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
env="$here/target/pyenv"
# pinned: the partitioned-folder check (scripts/check_dataset.py) reads Hive folders with it
duckdb_version=2.0.1
# the workflow engine of workflow/Snakefile (scripts/workflow-check.sh)
snakemake_version=9.27.1
if [ -x "$env/bin/python" ] && "$env/bin/python" -c "import pyarrow, duckdb, numpy, snakemake
assert duckdb.__version__ == '$duckdb_version'
assert snakemake.__version__ == '$snakemake_version'" 2>/dev/null; then
  echo "$env/bin/python"; exit 0
fi
command -v python3 >/dev/null 2>&1 || exit 0
mkdir -p "$here/target"
{ python3 -m venv "$env" && "$env/bin/pip" install --quiet --disable-pip-version-check pyarrow "duckdb==$duckdb_version" numpy \
  "snakemake==$snakemake_version"; } >&2 || exit 0
"$env/bin/python" -c "import pyarrow, duckdb" 2>/dev/null && echo "$env/bin/python"
exit 0
