//! Encoding speed of the drawings writer alone: `ingest`'s writing half, without the parse.
//!
//! `cargo run --release -p tables --example write_bench -- TABLE.parquet [SOURCE.ndjson]`
//!
//! Reads a drawings table into memory, then writes it with [`DrawingWriter`] (its columns
//! encoded on all cores, as `ingest` writes them) to a file in the system temp folder, five
//! times, and prints the fastest run: wall time, CPU time, and, given the ndjson the table
//! came from, MB/s of that text, to set beside `ingest`'s own figure.

use std::path::PathBuf;
use std::time::Instant;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tables::drawings::DrawingWriter;

fn main() {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let Some(table) = args.first() else {
        eprintln!("usage: write_bench TABLE.parquet [SOURCE.ndjson]");
        std::process::exit(2);
    };
    let batches: Vec<_> = match std::fs::File::open(table)
        .map_err(|e| e.to_string())
        .and_then(|f| ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| e.to_string()))
        .and_then(|b| b.build().map_err(|e| e.to_string()))
        .and_then(|r| r.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string()))
    {
        Ok(b) if !b.is_empty() => b,
        Ok(_) => {
            eprintln!("{}: no rows", table.display());
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{}: {e}", table.display());
            std::process::exit(1);
        }
    };
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let labels: Vec<String> = batches[0]
        .schema()
        .fields()
        .iter()
        .filter_map(|f| f.name().strip_prefix("label_").map(String::from))
        .collect();
    let out = std::env::temp_dir().join(format!("write_bench_{}.parquet", std::process::id()));
    let mut best: Option<(f64, Option<f64>)> = None;
    for _ in 0..5 {
        let (t, cpu0) = (Instant::now(), cpu_seconds());
        let mut w = DrawingWriter::create(&out, &labels, &Vec::new()).expect("create the output");
        for b in &batches {
            w.write(b.clone()).expect("write a batch");
        }
        w.finish().expect("finish the output");
        let s = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
        if best.is_none_or(|(b, _)| s < b) {
            best = Some((s, cpu));
        }
    }
    let _ = std::fs::remove_file(&out);
    let (s, cpu) = best.expect("five runs");
    let text = args
        .get(1)
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len() as f64 / 1048576.0);
    println!(
        "  {:<28} {rows:9} drawings  {s:6.2} s  {}{}",
        "writing alone (best of 5)",
        cpu.map_or("".into(), |c| format!("{c:.2} CPU-s  ")),
        text.map_or("".into(), |mb| format!(
            "{:.1} MB/s of the source text",
            mb / s
        )),
    );
}

/// User + system CPU time of this process (Linux `/proc/self/stat`, 100 ticks a second).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
