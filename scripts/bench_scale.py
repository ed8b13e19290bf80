#!/usr/bin/env python3
"""`make bench-scale`: the pipeline at scale, on the built-in synthetic faces.

For each count (default 200,000 and 2,000,000 drawings) it runs, one process per stage, ingest,
train on a sample, embed, fit the clusters on a sample and place every drawing (`cluster
--model`), then evaluate and plot (which read a sample), timing each process and reading its
peak resident memory from the kernel (wait4's ru_maxrss). Then the same through the Snakemake
workflow with N shards (workflow/Snakefile with `measure=1`: each job under scripts/peak_rss.py, which gives its
time and peak memory). It prints a table per run and the ratio of every stage's peak memory at the
largest count to the smallest (flat: within 1.5x), and writes everything to OUT/bench-scale.json.

Usage: scripts/bench_scale.py [--counts 200000,2000000] [--shards 4] [--jobs 2]
       [--out target/bench-scale] [--bin target/release] [--no-workflow]
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(name, cmd, log):
    """Runs cmd, returns (seconds, peak RSS in MiB); stops the benchmark when it fails."""
    t = time.monotonic()
    with open(log, "w") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(p.pid, 0)
    secs = time.monotonic() - t
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"bench-scale: {name} failed (exit {code}); see {log}:\n" + open(log).read()[-2000:])
    return secs, usage.ru_maxrss / 1024.0


def one_process(b, n, d, cfg):
    synth = os.path.join(d, f"synth_n{n}.ndjson")
    rows = []

    def stage(name, cmd, drawings=n):
        secs, rss = run(name, cmd, os.path.join(d, f"{name.split()[0]}.log"))
        rows.append({"stage": name, "seconds": secs, "drawings_per_s": drawings / secs, "peak_rss_mib": rss})
        print(f"  {name:<22} {secs:8.1f} s {drawings / secs:12,.0f} drawings/s  peak {rss:8.1f} MiB", flush=True)

    if not os.path.exists(synth):
        stage("synth (generate)", [f"{b}/ingest", "synth", "--count", str(n), "--seed", "1", "-o", synth])
    size = os.path.getsize(synth)
    stage("ingest", [f"{b}/ingest", "--config", cfg, "-o", f"{d}/drawings.parquet", synth])
    rows[-1]["mb_per_s"] = size / 1e6 / rows[-1]["seconds"]
    stage("train (sample)", [f"{b}/train", "--config", cfg, "--overwrite", "-o", f"{d}/run", f"{d}/drawings.parquet"])
    stage("embed", [f"{b}/embed", "--config", cfg, "--model", f"{d}/run", "-o", f"{d}/embeddings.parquet", f"{d}/drawings.parquet"])
    stage("cluster fit (sample)", [f"{b}/cluster", "--config", cfg, "--fit-only", "-o", f"{d}/fit/clusters.parquet", f"{d}/embeddings.parquet"])
    stage("cluster --model", [f"{b}/cluster", "--config", cfg, "--model", f"{d}/fit/cluster_model.json", "-o", f"{d}/clusters.parquet", f"{d}/embeddings.parquet"])
    stage("evaluate (sample)", [f"{b}/evaluate", "--config", cfg, "-o", f"{d}/evaluation.json", f"{d}/drawings.parquet", f"{d}/embeddings.parquet", f"{d}/clusters.parquet", f"{d}/reconstructions.parquet"])
    stage("plot (sample)", [f"{b}/plot", "--config", cfg, "-o", f"{d}/plots", f"{d}/drawings.parquet", f"{d}/embeddings.parquet", f"{d}/reconstructions.parquet", f"{d}/interpolations.parquet", f"{d}/fit/clusters.parquet", f"{d}/run/train_log.parquet", f"{d}/run/model.json"])
    return synth, size, rows


def workflow(b, n, d, cfg, synth, shards, jobs):
    py = subprocess.run([f"{HERE}/python-env.sh"], capture_output=True, text=True, check=True).stdout.strip()
    snakemake = os.path.join(os.path.dirname(py), "snakemake")
    w = os.path.join(d, "shards")
    shutil.rmtree(w, ignore_errors=True)
    cmd = [snakemake, "-s", "workflow/Snakefile", "--cores", str(jobs), "--quiet", "all",
           "--config", f"inputs={synth}", f"shards={shards}", f"work={w}", f"bin={b}", f"pipeline={cfg}",
           "measure=1"]
    secs, _ = run("workflow", cmd, os.path.join(d, "workflow.log"))
    rows = []
    for f in sorted(glob.glob(os.path.join(w, "measured", "*.json"))):
        with open(f) as fh:
            r = json.load(fh)
        job = os.path.basename(f)[:-5]
        rows.append({"job": job, "seconds": r["seconds"], "peak_rss_mib": r["peak_rss_mib"]})
    print(f"  workflow, {shards} shards, {jobs} jobs: {secs:.1f} s wall ({n / secs:,.0f} drawings/s end to end)")
    for r in rows:
        print(f"    {r['job']:<22} {r['seconds']:8.1f} s  peak {r['peak_rss_mib']:8.1f} MiB")
    return {"wall_seconds": secs, "jobs": rows}


def markdown(results):
    """The figures as a Markdown table: per stage, per count, seconds, drawings/s and peak MiB."""
    counts = results["counts"]
    head = "| stage | " + " | ".join(f"{n:,}: s, drawings/s, peak MiB" for n in counts) + " |"
    lines = [head, "| --- |" + " --- |" * len(counts)]
    by = {n: {s["stage"]: s for s in results["runs"][n]["stages"]} for n in counts}
    for stage in [s["stage"] for s in results["runs"][counts[-1]]["stages"]]:
        if stage.startswith("synth"):
            continue
        cells = []
        for n in counts:
            s = by[n].get(stage)
            cells.append("-" if s is None else
                         f"{s['seconds']:.1f} s, {s['drawings_per_s']:,.0f}/s, {s['peak_rss_mib']:.0f}")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    if all("workflow" in results["runs"][n] for n in counts):
        cells = []
        for n in counts:
            w = results["runs"][n]["workflow"]
            peak = max(j["peak_rss_mib"] for j in w["jobs"])
            cells.append(f"{w['wall_seconds']:.1f} s, {n / w['wall_seconds']:,.0f}/s, {peak:.0f} (largest job)")
        lines.append("| workflow, every stage | " + " | ".join(cells) + " |")
        jobs = sorted({j["job"].split("-")[0] for j in results["runs"][counts[-1]]["workflow"]["jobs"]})
        for job in jobs:
            cells = []
            for n in counts:
                js = [j for j in results["runs"][n]["workflow"]["jobs"] if j["job"].split("-")[0] == job]
                secs = max(j["seconds"] for j in js)
                peak = max(j["peak_rss_mib"] for j in js)
                each = f" each of {len(js)}" if len(js) > 1 else ""
                cells.append(f"{secs:.1f} s{each}, peak {peak:.0f}")
            lines.append(f"| workflow: {job} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", default="200000,2000000")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", default="target/bench-scale")
    ap.add_argument("--bin", default="target/release")
    ap.add_argument("--config", default=os.path.join("scripts", "bench-scale.toml"))
    ap.add_argument("--no-workflow", action="store_true")
    a = ap.parse_args()
    counts = [int(c) for c in a.counts.split(",")]
    out = os.path.join(ROOT, a.out)
    results = {"cpus": os.cpu_count(), "counts": counts, "runs": {}}
    for n in counts:
        d = os.path.join(out, f"n{n}")
        os.makedirs(d, exist_ok=True)
        print(f"[bench-scale] {n:,} drawings, one process per stage", flush=True)
        synth, size, rows = one_process(a.bin, n, d, a.config)
        run_ = {"ndjson_bytes": size, "stages": rows}
        if not a.no_workflow:
            run_["workflow"] = workflow(a.bin, n, d, a.config, synth, a.shards, a.jobs)
        results["runs"][n] = run_
    lo, hi = counts[0], counts[-1]
    if hi != lo:
        print(f"[bench-scale] peak memory at {hi:,} over {lo:,} drawings (flat: at most 1.5):")
        ratios = {}
        highs = {s["stage"]: s for s in results["runs"][hi]["stages"]}
        for a_ in results["runs"][lo]["stages"]:
            b_ = highs.get(a_["stage"])
            if b_ is None or a_["stage"].startswith("synth"):
                continue
            r = b_["peak_rss_mib"] / a_["peak_rss_mib"]
            ratios[a_["stage"]] = r
            print(f"  {a_['stage']:<22} {a_['peak_rss_mib']:8.1f} -> {b_['peak_rss_mib']:8.1f} MiB  x{r:.2f}")
        if not a.no_workflow:
            wl = {j["job"]: j["peak_rss_mib"] for j in results["runs"][lo]["workflow"]["jobs"]}
            wh = {j["job"]: j["peak_rss_mib"] for j in results["runs"][hi]["workflow"]["jobs"]}
            for job in sorted(wl.keys() & wh.keys()):
                ratios["workflow " + job] = wh[job] / wl[job]
            print("  workflow jobs: largest ratio x{:.2f}".format(max(ratios[k] for k in ratios if k.startswith("workflow "))))
        results["rss_ratio"] = ratios
    print(markdown(results))
    with open(os.path.join(out, "bench-scale.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"[bench-scale] wrote {os.path.join(out, 'bench-scale.json')}")


if __name__ == "__main__":
    main()
