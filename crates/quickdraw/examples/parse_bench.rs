//! Parsing speed of the ndjson readers, in MB/s of line text (MB of 2^20 bytes).
//!
//! `cargo run --release -p quickdraw --example parse_bench [-- FILE.ndjson ...]`
//!
//! Without arguments it builds two files in the system temp folder (never in the repository)
//! from the samples in `../shared/datasets/quickdraw/`: ~200k simplified lines (the first-25,
//! eye, mouth and SPG files, repeated) and the raw first-chunk files decompressed and repeated
//! to ~60k lines. Each file is read four ways: the sequential reader, batches parsed on one
//! thread, batches parsed on all cores with rayon, and the lines held in memory parsed on one
//! thread as `ingest` parses them (a [`LineParser`] lending each record, nothing allocated;
//! best of 5): `ingest`'s parsing half alone.

use quickdraw::ndjson::{read_lines_batched, LineParser, NdjsonReader};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let files = if args.is_empty() {
        match generate() {
            Ok(f) => f,
            Err(e) => {
                eprintln!("cannot build the benchmark files: {e}");
                std::process::exit(1);
            }
        }
    } else {
        args
    };
    println!("threads: {}", rayon::current_num_threads());
    for f in &files {
        bench(f);
    }
}

fn bench(path: &Path) {
    // MB of 2^20 bytes, as `make bench` counts the input of `ingest`
    let mb = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0;
    println!("{} ({mb:.1} MB)", path.display());
    // read whole: it warms the page cache, so that the first mode is not charged for the
    // disk, and the last mode parses these lines in memory
    let text = std::fs::read(path).unwrap_or_default();

    let t = start();
    let (mut ok, mut bad, mut points) = (0usize, 0usize, 0usize);
    for r in NdjsonReader::open(path).expect("open") {
        match r {
            Ok(r) => {
                ok += 1;
                points += r.drawing.len();
            }
            Err(_) => bad += 1,
        }
    }
    report("sequential reader", mb, t, ok, bad, points);

    for (label, parallel) in [("batches, 1 thread", false), ("batches, rayon", true)] {
        let t = start();
        let (mut ok, mut bad, mut points) = (0usize, 0usize, 0usize);
        let mut batches = read_lines_batched(path, 4 << 20).expect("open");
        while let Some(batch) = batches.next() {
            let batch = batch.expect("read");
            let out = if parallel {
                batch.parse_par()
            } else {
                batch.parse()
            };
            batches.recycle(batch);
            for r in out {
                match r {
                    Ok(r) => {
                        ok += 1;
                        points += r.drawing.len();
                    }
                    Err(_) => bad += 1,
                }
            }
        }
        report(label, mb, t, ok, bad, points);
    }

    let lines: Vec<&[u8]> = text
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut parser = LineParser::default();
    let mut best: Option<(f64, usize, usize, usize)> = None;
    for _ in 0..5 {
        let t = Instant::now();
        let (mut ok, mut bad, mut points) = (0usize, 0usize, 0usize);
        for (n, line) in lines.iter().enumerate() {
            match parser.parse(line, n as u64 + 1, path) {
                Ok(r) => {
                    ok += 1;
                    points += r.drawing.len();
                }
                Err(_) => bad += 1,
            }
        }
        let s = t.elapsed().as_secs_f64();
        if best.is_none_or(|b| s < b.0) {
            best = Some((s, ok, bad, points));
        }
    }
    if let Some((s, ok, bad, points)) = best {
        println!(
            "  {:<18} {:>7.1} MB/s wall, one thread ({ok} drawings, {bad} errors, {points} points, {s:.2} s wall)",
            "in memory, lent",
            mb / s,
        );
    }
}

fn report(label: &str, mb: f64, t: (Instant, Option<f64>), ok: usize, bad: usize, points: usize) {
    let s = t.0.elapsed().as_secs_f64();
    // CPU seconds too: on a shared, busy machine wall-clock speed understates the parser
    let cpu = cpu_seconds().zip(t.1).map(|(b, a)| b - a);
    println!(
        "  {label:<18} {:>7.1} MB/s wall, {} ({ok} drawings, {bad} errors, {points} points, {s:.2} s wall)",
        mb / s,
        cpu.map_or("cpu time unknown".into(), |c| format!("{:.1} MB per CPU-second, {c:.2} CPU-s", mb / c)),
    );
}

/// Start of a measurement: wall clock and process CPU time.
fn start() -> (Instant, Option<f64>) {
    (Instant::now(), cpu_seconds())
}

/// User + system CPU time of this process (Linux `/proc/self/stat`, 100 ticks a second).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Builds the two benchmark files from the samples; returns their paths.
fn generate() -> std::io::Result<Vec<PathBuf>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/quickdraw");
    if !root.is_dir() {
        return Err(std::io::Error::other(format!(
            "no samples at {}; pass ndjson files instead",
            root.display()
        )));
    }
    let tmp = std::env::temp_dir();
    let mut simplified = Vec::new();
    for dir in ["simplified/first25", "simplified", "spg"] {
        simplified.extend(ndjson_files(&root.join(dir), ".ndjson")?);
    }
    let raw = ndjson_files(&root.join("raw/first_chunk"), ".ndjson.gz")?;
    Ok(vec![
        build(
            &tmp.join("quickdraw_bench_simplified.ndjson"),
            &simplified,
            200_000,
        )?,
        build(&tmp.join("quickdraw_bench_raw.ndjson"), &raw, 60_000)?,
    ])
}

fn ndjson_files(dir: &Path, suffix: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.to_string_lossy().ends_with(suffix) {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

/// Writes the sources' lines round-robin until `lines` are written (skipped if it exists).
fn build(out: &Path, sources: &[PathBuf], lines: usize) -> std::io::Result<PathBuf> {
    if out.exists() {
        return Ok(out.to_path_buf());
    }
    let mut all = Vec::new();
    for s in sources {
        let file = std::fs::File::open(s)?;
        let reader: Box<dyn Read> = if s.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        for line in BufReader::new(reader).lines() {
            let line = line?;
            if !line.trim().is_empty() {
                all.push(line);
            }
        }
    }
    let tmp = out.with_extension("partial");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    for line in all.iter().cycle().take(lines) {
        writeln!(w, "{line}")?;
    }
    w.into_inner()?.sync_all()?;
    std::fs::rename(&tmp, out)?;
    Ok(out.to_path_buf())
}
