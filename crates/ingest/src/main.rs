use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use ingest::{IngestConfig, OnError};
use stage::{override_from_flags, PipelineConfig};

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
    /// Output Parquet file.
    #[arg(short, long, required = true)]
    output: Option<PathBuf>,
    /// Config file (default: pipeline.toml in the current folder, when present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Keep only drawings of this category (repeat for several) [config: word].
    #[arg(long)]
    word: Option<Vec<String>>,
    /// Drop drawings the game did not recognise [config: recognized_only].
    #[arg(long)]
    recognized_only: Option<bool>,
    /// Drop drawings with more points than this; 0 keeps all (sketch-rnn uses 250) [config: max_points].
    #[arg(long)]
    max_points: Option<usize>,
    /// Stop after writing this many drawings; 0 for no limit [config: limit].
    #[arg(long)]
    limit: Option<usize>,
    /// Salt of the key_id hash that assigns splits [config: seed].
    #[arg(long)]
    seed: Option<u64>,
    /// Share of drawings without a split of their own that go to `valid` [config: valid_fraction].
    #[arg(long)]
    valid_fraction: Option<f64>,
    /// Share that go to `test` [config: test_fraction].
    #[arg(long)]
    test_fraction: Option<f64>,
    /// What a bad record does: stop with an error, or skip it and count it [config: on_error].
    #[arg(long, value_enum)]
    on_error: Option<OnError>,
    /// Drop drawings whose key_id was already written (memory grows with the input, about 25
    /// bytes a drawing) [config: drop_duplicates].
    #[arg(long)]
    drop_duplicates: Option<bool>,
}

fn main() -> Result<()> {
    stage::init();
    // a stream of any length: memory must not creep with it
    stage::alloc::bounded_memory();
    let cli = Cli::parse();
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
    let config = PipelineConfig::load(args.config.as_deref())?;
    let mut cfg: IngestConfig = config.section("ingest")?;
    override_from_flags!(cfg, args; word, recognized_only, max_points, limit, seed,
        valid_fraction, test_fraction, on_error, drop_duplicates);
    let output = args.output.expect("required by clap");
    // one writer at a time; released when this run ends or dies
    let _lock = stage::OutputLock::file(&output)?;

    let t = Instant::now();
    let bar = stage::spinner("{spinner} {pos} drawings read, {per_sec} {msg}");
    struct Bar(stage::ProgressBar);
    impl ingest::Progress for Bar {
        fn advance(&self, read: usize, written: usize) {
            self.0.set_position(read as u64);
            self.0.set_message(format!("{written} written"));
        }
    }
    let result = ingest::ingest(&args.inputs, &output, &cfg, &Bar(bar.clone()));
    bar.finish_and_clear();
    let r = result?;
    let secs = t.elapsed().as_secs_f64().max(1e-9);
    if let Some(e) = &r.first_bad {
        tracing::warn!("first skipped bad record: {e}");
    }
    println!(
        "[ingest] read {} drawings from {} file(s) ({:.1} MB) in {:.2}s ({:.0} drawings/s, {:.1} MB/s); \
         wrote {} to {} (train {}, valid {}, test {}); skipped {}: {}",
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
