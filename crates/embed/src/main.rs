use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use embed::{EmbedConfig, Outputs};

/// Encodes every drawing of a drawings table with a trained model (`train`'s run folder) into
/// embeddings.parquet, and decodes some drawings back from their vectors alone:
/// reconstructions.parquet and interpolations.parquet, beside the output unless flags say.
#[derive(Parser)]
#[command(name = "embed", version)]
struct Args {
    /// The drawings table written by `ingest`: a file, a folder (every *.parquet under it, a
    /// Hive-partitioned folder included) or a quoted glob, read as one table.
    input: PathBuf,
    /// Embed only shard I of N of the drawings: those whose key_id's xxHash64 (seed 0) modulo N
    /// is I, the same whatever the order of the input files.
    #[arg(long, value_name = "I/N")]
    shard: Option<tables::dataset::Shard>,
    /// Run folder written by `train` (model.safetensors + model.json).
    #[arg(long)]
    model: PathBuf,
    /// Output embeddings Parquet file (with --partition-by, the output folder).
    #[arg(short, long)]
    output: PathBuf,
    /// Write a Hive-partitioned folder instead of one file: OUTPUT/<COLUMN>=<value>/part-0000I.parquet,
    /// one file per value (I: the shard's number, else 0), without the column, which the path
    /// holds. A string column of the embeddings table: word, split or a label.
    #[arg(long, value_name = "COLUMN")]
    partition_by: Option<String>,
    /// Where the reconstructions go (default: reconstructions.parquet beside the output; with
    /// --partition-by and --shard, reconstructions.part-0000I.parquet, so that the shards keep
    /// theirs apart).
    #[arg(long)]
    reconstructions_output: Option<PathBuf>,
    /// Where the interpolations go (default: interpolations.parquet beside the output; with
    /// --partition-by and --shard, interpolations.part-0000I.parquet).
    #[arg(long)]
    interpolations_output: Option<PathBuf>,
    /// Config file (default: pipeline.toml in the current folder, when present).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> Result<()> {
    stage::init();
    let (args, cfg): (Args, EmbedConfig) = stage::settings::parse("embed")?;
    if let Some(note) = cfg.precision.fallback_note(cfg.device == "cpu") {
        eprintln!("[embed] {note}");
    }
    let mut out = Outputs::beside(&args.output);
    let part = tables::dataset::part_file_name(args.shard);
    // one writer at a time; released when this run ends or dies. A partitioned folder is
    // written by every shard at once: each locks its own part.
    let _lock = match &args.partition_by {
        None => stage::OutputLock::file(&args.output)?,
        Some(column) => {
            out.partition_by = Some((column.clone(), part.clone()));
            if let Some(s) = args.shard {
                let folder = args.output.clone();
                let beside =
                    |stem: &str| folder.with_file_name(format!("{stem}.{}", s.file_name()));
                out.reconstructions = beside("reconstructions");
                out.interpolations = beside("interpolations");
            }
            stage::OutputLock::part(&args.output, &part)?
        }
    };
    if let Some(p) = args.reconstructions_output {
        out.reconstructions = p;
    }
    if let Some(p) = args.interpolations_output {
        out.interpolations = p;
    }
    let t = Instant::now();
    let bar = stage::progress(0, "drawings");
    bar.set_prefix("embed");
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let result = embed::embed_shard(&args.model, &args.input, &out, &cfg, args.shard, &progress);
    bar.finish_and_clear();
    let r = result?;
    let shard = match r.shard {
        Some((s, read)) => format!(" (shard {s}: {} of the {read} read)", r.drawings),
        None => String::new(),
    };
    println!(
        "[embed] {} drawings{shard} to {}-d vectors{} in {:.1}s ({:.0} drawings/s) -> {}; decoded {} reconstructions and {} interpolation steps in {:.1}s; total {:.1}s",
        r.drawings,
        r.dim,
        if r.parts.is_empty() {
            String::new()
        } else {
            let each: Vec<String> = r
                .parts
                .iter()
                .map(|(p, k)| format!("{k} {}", p.name()))
                .collect();
            format!(" and their parts ({})", each.join(", "))
        },
        r.encode_s,
        r.drawings as f64 / r.encode_s.max(1e-9),
        match &out.partition_by {
            Some((column, _)) => format!("{} partitioned by {column}", out.embeddings.display()),
            None => out.embeddings.display().to_string(),
        },
        r.reconstructions,
        r.interpolations,
        r.decode_s,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
