use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Parser;
use evaluate::{EvaluateConfig, Inputs, TableKind};
use stage::PipelineConfig;

/// Measures whether embeddings and clusters capture what is inside a drawing: per label column
/// (`word`, `label_<factor>`), cross-validated kNN accuracy of the embeddings beside the
/// majority rate, ARI/NMI of the clusters, and the same for a baseline (each drawing as a
/// raster reduced by PCA, clustered with the [cluster] settings); and the Chamfer distance of
/// the reconstructions to their originals. Writes evaluation.json and prints a table.
///
/// Inputs are told apart by their columns: drawings (dx + split; several are joined by
/// key_id), embeddings (embedding), clusters (cluster), reconstructions (dx, no split).
#[derive(Parser)]
#[command(name = "evaluate", version)]
struct Args {
    /// Parquet tables written by ingest, embed and cluster, in any order; each a file, a folder
    /// (every *.parquet under it, a Hive-partitioned folder included) or a quoted glob.
    inputs: Vec<PathBuf>,
    /// Output JSON file.
    #[arg(short, long)]
    output: PathBuf,
    /// A drawings table, named rather than detected (repeat for several).
    #[arg(long)]
    drawings: Vec<PathBuf>,
    /// The embeddings table, named rather than detected.
    #[arg(long)]
    embeddings: Option<PathBuf>,
    /// The clusters table, named rather than detected.
    #[arg(long)]
    clusters: Option<PathBuf>,
    /// The reconstructions table, named rather than detected.
    #[arg(long)]
    reconstructions: Option<PathBuf>,
    /// Config file (default: pipeline.toml in the current folder, when present).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> Result<()> {
    stage::init();
    let (args, cfg): (Args, EvaluateConfig) = stage::settings::parse("evaluate")?;
    // the baseline is clustered as `cluster` clusters
    let config = PipelineConfig::load(args.config.as_deref())?;
    let cluster: clustering::ClusterParams = config.section("cluster")?;

    let mut inputs = Inputs::default();
    for p in &args.drawings {
        inputs.add(TableKind::Drawings, p.clone())?;
    }
    for (kind, p) in [
        (TableKind::Embeddings, &args.embeddings),
        (TableKind::Clusters, &args.clusters),
        (TableKind::Reconstructions, &args.reconstructions),
    ] {
        if let Some(p) = p {
            inputs.add(kind, p.clone())?;
        }
    }
    inputs.detect(&args.inputs)?;
    if inputs.all().iter().any(|p| *p == args.output) {
        bail!("the output {} is also an input", args.output.display());
    }

    evaluate::same_model(&inputs)?;
    // one writer at a time; released when this run ends or dies
    let _lock = stage::OutputLock::file(&args.output)?;
    let bar = stage::spinner("{prefix:>8} {spinner} {msg} {elapsed}");
    bar.set_prefix("evaluate");
    let step = |s: &str| bar.set_message(s.to_string());
    let result = evaluate::evaluate(&inputs, &cfg, &cluster, &step);
    bar.finish_and_clear();
    let e = result?;
    evaluate::write(&args.output, &e)?;
    print!("{}", e.table());
    println!(
        "[evaluate] {} in {:.1}s -> {}",
        e.summary,
        e.seconds.total,
        args.output.display()
    );
    Ok(())
}
