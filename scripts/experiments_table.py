#!/usr/bin/env python3
"""Prints the Markdown table of docs/experiments.md from target/experiments/*/ (written by
scripts/experiment.sh): per run, its flags, steps and training time, the held-out kNN accuracy of
each factor, the clusters' NMI with the mouth and eyes factors, and the Chamfer distance."""
import glob, json, os, sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/experiments"
factors = ["outline", "eyes", "mouth", "nose", "hair_ears"]
print("| run | train flags | steps | train s | " + " | ".join(f"kNN {f}" for f in factors)
      + " | NMI mouth | NMI eyes | clusters | Chamfer |")
print("|" + " --- |" * (8 + len(factors)))
raster = None
for ev_path in sorted(glob.glob(f"{root}/*/evaluation.json"), key=os.path.getmtime):
    d = os.path.dirname(ev_path)
    ev = json.load(open(ev_path))
    model = json.load(open(f"{d}/run/model.json"))
    flags = open(f"{d}/flags.txt").read().strip() if os.path.exists(f"{d}/flags.txt") else ""
    lab = {l["name"].removeprefix("label_"): l for l in ev["labels"]}
    if not any(f in lab for f in factors):
        continue  # not a synthetic-faces run (e.g. the real samples)
    knn = [lab[f]["knn_accuracy"] if f in lab else float("nan") for f in factors]
    raster = [lab[f]["baseline_knn_accuracy"] if f in lab else float("nan") for f in factors]
    nmi = lambda f: lab[f]["clusters"]["nmi"] if f in lab and lab[f].get("clusters") else float("nan")
    ls = model["losses"]
    print(f"| {os.path.basename(d)} | `{flags}` | {ls['steps']} | {ls['elapsed_s']:.0f} | "
          + " | ".join(f"{v:.3f}" for v in knn)
          + f" | {nmi('mouth'):.3f} | {nmi('eyes'):.3f} | {ev['clusters']['n_clusters']} | "
          + f"{ev['chamfer']['mean']:.3f} |")
if raster:
    print("| raster 28×28 + PCA (baseline) | | | | " + " | ".join(f"{v:.3f}" for v in raster)
          + " | | | | |")

# Round five: the runs embedded, clustered and evaluated again (scripts/reevaluate.sh) with the
# inside vectors and the clusters of `pipeline.toml` (k-means on the inside vectors).
reevals = sorted(glob.glob(f"{root}/*/reeval/evaluation.json"), key=os.path.getmtime)
if reevals:
    print()
    print("| run | steps | outline | hair_ears | eyes | mouth | nose | eyes, inside | mouth, inside "
          "| nose, inside | NMI eyes | NMI mouth | NMI outline | NMI hair_ears |")
    print("|" + " --- |" * 14)
    for ev_path in reevals:
        d = os.path.dirname(os.path.dirname(ev_path))
        ev = json.load(open(ev_path))
        ls = json.load(open(f"{d}/run/model.json"))["losses"]
        lab = {l["name"].removeprefix("label_"): l for l in ev["labels"]}
        whole = lambda f: f"{lab[f]['knn_accuracy']:.3f}"
        # evaluation.json before the part vectors had `inside_knn_accuracy`
        inside = lambda f: f"{lab[f].get('part_knn_accuracy', {}).get('inside', lab[f].get('inside_knn_accuracy')):.3f}"
        nmi = lambda f: f"{lab[f]['clusters']['nmi']:.3f}"
        print(f"| {os.path.basename(d)} | {ls['steps']} | {whole('outline')} | {whole('hair_ears')} "
              f"| {whole('eyes')} | {whole('mouth')} | {whole('nose')} | {inside('eyes')} "
              f"| {inside('mouth')} | {inside('nose')} | {nmi('eyes')} | {nmi('mouth')} "
              f"| {nmi('outline')} | {nmi('hair_ears')} |")

# Round six: the part vectors (scripts/reevaluate.sh with REEVAL=parts): each factor from the
# whole drawing's vector and from the part that holds it.
parts = sorted(glob.glob(f"{root}/*/parts/evaluation.json"), key=os.path.getmtime)
if parts:
    print()
    print("| run | steps | outline: whole / outline | hair_ears: whole / outside | eyes: whole / inside "
          "| mouth: whole / inside | nose: whole / inside | raster: outline, hair_ears, eyes, mouth, nose |")
    print("|" + " --- |" * 8)
    for ev_path in parts:
        d = os.path.dirname(os.path.dirname(ev_path))
        ev = json.load(open(ev_path))
        ls = json.load(open(f"{d}/run/model.json"))["losses"]
        lab = {l["name"].removeprefix("label_"): l for l in ev["labels"]}
        pair = lambda f, p: f"{lab[f]['knn_accuracy']:.3f} / {lab[f]['part_knn_accuracy'][p]:.3f}"
        raw = ", ".join(f"{lab[f]['baseline_knn_accuracy']:.3f}"
                        for f in ["outline", "hair_ears", "eyes", "mouth", "nose"])
        print(f"| {os.path.basename(d)} | {ls['steps']} | {pair('outline', 'outline')} "
              f"| {pair('hair_ears', 'outside')} | {pair('eyes', 'inside')} | {pair('mouth', 'inside')} "
              f"| {pair('nose', 'inside')} | {raw} |")

# Round seven on: runs evaluated with their part vectors straight away (scripts/experiment.sh
# with today's `embed`), each factor from the whole drawing's vector and from its part's, with
# the clusters (of the inside vectors) and the reconstructions.
direct = [p for p in sorted(glob.glob(f"{root}/*/evaluation.json"), key=os.path.getmtime)
          if any("part_knn_accuracy" in l for l in json.load(open(p))["labels"])]
if direct:
    print()
    print("| run | train flags | steps | outline: whole / outline | hair_ears: whole / outside "
          "| eyes: whole / inside | mouth: whole / inside | nose: whole / inside | NMI eyes "
          "| NMI mouth | Chamfer |")
    print("|" + " --- |" * 11)
    for ev_path in direct:
        d = os.path.dirname(ev_path)
        ev = json.load(open(ev_path))
        ls = json.load(open(f"{d}/run/model.json"))["losses"]
        flags = open(f"{d}/flags.txt").read().strip() if os.path.exists(f"{d}/flags.txt") else ""
        lab = {l["name"].removeprefix("label_"): l for l in ev["labels"]}
        if not all(f in lab for f in factors):
            continue  # not a synthetic-faces run (e.g. the real samples)
        pair = lambda f, p: f"{lab[f]['knn_accuracy']:.3f} / {lab[f]['part_knn_accuracy'][p]:.3f}"
        nmi = lambda f: f"{lab[f]['clusters']['nmi']:.3f}"
        print(f"| {os.path.basename(d)} | `{flags}` | {ls['steps']} | {pair('outline', 'outline')} "
              f"| {pair('hair_ears', 'outside')} | {pair('eyes', 'inside')} "
              f"| {pair('mouth', 'inside')} | {pair('nose', 'inside')} | {nmi('eyes')} "
              f"| {nmi('mouth')} | {ev['chamfer']['mean']:.3f} |")
