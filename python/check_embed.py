"""Checks python/doodle_torch.py against `embed`: loads a run folder into PyTorch, encodes a
drawings table and compares with the embeddings table `embed` wrote from it (the `embedding`
column and every part column). Prints the largest absolute difference; exits 1 above the
tolerance.

    python python/check_embed.py RUN DRAWINGS EMBEDDINGS [--tolerance 1e-5]
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import doodle_torch as dt  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("drawings")
    ap.add_argument("embeddings")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    a = ap.parse_args()

    model = dt.load_run(a.run)
    table = dt.read_drawings(a.drawings)
    emb = pq.read_table(a.embeddings)
    footer = pq.ParquetFile(a.embeddings).metadata.metadata or {}
    meta = {k.decode(): v.decode() for k, v in footer.items()}
    unit = meta.get("embed.unit_length", "true") == "true"
    own_box = meta.get("embed.part_box", "own") == "own"
    names = [p for p in meta.get("embed.parts", "none").split(",") if p and p != "none"]
    cols = emb.to_pydict()
    if cols["key_id"] != table["key_id"]:
        print(f"{a.embeddings}: rows are not those of {a.drawings}", file=sys.stderr)
        return 1

    worst = {}
    got = dt.embed(model, table["drawings"], unit=unit).numpy()
    want = np.array(cols["embedding"], dtype=np.float32)
    worst["embedding"] = float(np.abs(got - want).max())
    if names:
        part = dt.embed_parts(model, table["drawings"], names, own_box=own_box, unit=unit)
        for n in names:
            diffs, missing = [], 0
            for g, w in zip(part[n], cols[n]):
                if (g is None) != (w is None):
                    missing += 1
                elif g is not None:
                    diffs.append(float(np.abs(g.numpy() - np.array(w, dtype=np.float32)).max()))
            if missing:
                print(f"part {n}: present in one and not the other for {missing} drawings",
                      file=sys.stderr)
                return 1
            worst[n] = max(diffs, default=0.0)
    cfg = model.cfg
    print(
        f"[check_embed] {len(table['drawings'])} drawings, model enc_hidden {cfg['enc_hidden']} "
        f"latent {cfg['latent']} head {cfg['head']} pool {cfg['encoder_pool']}: max abs "
        "difference " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items())
        + f" (tolerance {a.tolerance:.0e})"
    )
    return 0 if max(worst.values()) < a.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
