use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use ingest::IngestConfig;
use tables::dataset::Shard;

/// Reads Quick, Draw! files (simplified or raw .ndjson[.gz], .bin, sketch-rnn .npz) into one
/// Parquet table of stroke-3 drawings. The format is told by each file's name and checked
/// against its content.
#[derive(Parser)]
#[command(name = "ingest", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    args: IngestArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Generate labelled synthetic face doodles as simplified ndjson (the built-in data set).
    Synth(SynthArgs),
}

#[derive(Args)]
struct SynthArgs {
    /// Number of faces.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Generator seed: the same seed gives the same faces; different seeds, disjoint key_ids.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output .ndjson file.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Args)]
struct IngestArgs {
    /// Input files: .ndjson, .ndjson.gz, .bin or .npz.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output Parquet file (with --partition-by, the output folder).
    #[arg(short, long, required = true)]
    output: Option<PathBuf>,
    /// Config file (default: pipeline.toml in the current folder, when present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Keep only shard I of N: the drawings whose key_id's xxHash64 (seed 0) modulo N is I, the
    /// same drawings whatever the order of the inputs. Run I = 0..N-1 (on as many machines) to
    /// split the work; with --partition-by each shard writes its own part-0000I.parquet files.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Write a Hive-partitioned folder instead of one file: OUTPUT/<COLUMN>=<value>/part-0000I.parquet,
    /// one file per value (I: the shard's number, else 0), without the column, which the path
    /// holds. Every stage, DuckDB, pyarrow and polars read the folder as one table. A string
    /// column of the drawings table: word, split, countrycode or a label.
    #[arg(long, value_name = "COLUMN")]
    partition_by: Option<String>,
}

fn main() -> Result<()> {
    stage::init();
    // a stream of any length: memory must not creep with it
    stage::alloc::bounded_memory();
    let (cli, cfg): (Cli, IngestConfig) = stage::settings::parse("ingest")?;
    if let Some(Command::Synth(a)) = cli.command {
        let _lock = stage::OutputLock::file(&a.output)?;
        let t = Instant::now();
        ingest::write_synthetic(&a.output, a.count, a.seed)?;
        println!(
            "[ingest synth] wrote {} synthetic faces (seed {}) to {} in {:.1}s",
            a.count,
            a.seed,
            a.output.display(),
            t.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let args = cli.args;
    let output = args.output.expect("required by clap");
    // one writer at a time; released when this run ends or dies. A partitioned folder is
    // written by every shard at once: each locks its own part.
    let _lock = match &args.partition_by {
        None => stage::OutputLock::file(&output)?,
        Some(_) => stage::OutputLock::part(&output, &tables::dataset::part_file_name(args.shard))?,
    };

    let t = Instant::now();
    let bar = stage::spinner("{spinner} {pos} drawings read, {per_sec} {msg}");
    struct Bar(stage::ProgressBar);
    impl ingest::Progress for Bar {
        fn advance(&self, read: usize, written: usize) {
            self.0.set_position(read as u64);
            self.0.set_message(format!("{written} written"));
        }
    }
    let run = ingest::RunOptions {
        shard: args.shard,
        partition_by: args.partition_by.clone(),
    };
    let result = ingest::ingest_with(&args.inputs, &output, &cfg, &run, &Bar(bar.clone()));
    bar.finish_and_clear();
    let r = result?;
    let secs = t.elapsed().as_secs_f64().max(1e-9);
    if let Some(e) = &r.first_bad {
        tracing::warn!("first skipped bad record: {e}");
    }
    let shard = match args.shard {
        Some(s) => format!(
            "; shard {s} kept {} of them ({} in other shards)",
            r.read - r.other_shard,
            r.other_shard
        ),
        None => String::new(),
    };
    let layout = match &args.partition_by {
        Some(c) => format!(" partitioned by {c}"),
        None => String::new(),
    };
    println!(
        "[ingest] read {} drawings from {} file(s) ({:.1} MB) in {:.2}s ({:.0} drawings/s, {:.1} MB/s){shard}; \
         wrote {} to {}{layout} (train {}, valid {}, test {}); skipped {}: {}",
        r.read,
        r.files,
        r.bytes as f64 / 1e6,
        secs,
        r.read as f64 / secs,
        r.bytes as f64 / 1e6 / secs,
        r.written,
        output.display(),
        r.splits[0],
        r.splits[1],
        r.splits[2],
        r.skipped(),
        r.skipped_summary()
    );
    Ok(())
}
