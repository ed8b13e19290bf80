use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{ArgGroup, Parser};
use generate::{GenerateConfig, Mode, Request};

/// Draws new doodles with a trained model's decoder: like the members of a cluster of a fitted
/// cluster model (--like-cluster K), variations of one drawing (--like KEY_ID), or samples of
/// the prior of a model trained with the VAE term (--prior). Writes a drawings table with the
/// columns of `ingest`'s (every stage reads it) plus where each drawing came from (gen_mode,
/// gen_cluster, gen_sources, gen_temperature), and on request the same drawings as simplified
/// ndjson. The same seed gives the same drawings; a bad request writes nothing.
#[derive(Parser)]
#[command(name = "generate", version)]
#[command(group(ArgGroup::new("mode").required(true).args(["like_cluster", "like", "prior"])))]
struct Args {
    /// Run folder written by `train` (model.safetensors + model.json).
    #[arg(long)]
    model: PathBuf,
    /// The fitted cluster model written by `cluster` (cluster_model.json); needed by
    /// --like-cluster, and checked to be of the same model whenever given.
    #[arg(long, value_name = "FITTED")]
    clusters: Option<PathBuf>,
    /// Output Parquet file of the generated drawings.
    #[arg(short, long)]
    output: PathBuf,
    /// Also write the drawings as Quick, Draw! simplified ndjson to this file.
    #[arg(long, value_name = "FILE")]
    ndjson: Option<PathBuf>,
    /// Drawings like the members of cluster K of --clusters; `K,K,...` or `all` for several,
    /// `count` drawings each, in one table.
    #[arg(long, value_name = "K[,K...]|all")]
    like_cluster: Option<String>,
    /// Variations of the drawing with this key_id (from --drawings, or the drawings table of
    /// --embeddings or of the clusters' embeddings).
    #[arg(long, value_name = "KEY_ID")]
    like: Option<String>,
    /// Samples of the prior (only for a model trained with the VAE term).
    #[arg(long)]
    prior: bool,
    /// The embeddings table whose drawings are placed in the clusters [default: the one the
    /// clusters were fitted on]; a file, a folder of *.parquet or a quoted glob, read as one.
    #[arg(long)]
    embeddings: Option<PathBuf>,
    /// The drawings table the drawings to start from are encoded from [default: the input the
    /// embeddings table records]; a file, a folder of *.parquet or a quoted glob, read as one.
    #[arg(long)]
    drawings: Option<PathBuf>,
    /// Config file (default: pipeline.toml in the current folder, when present).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> Result<()> {
    stage::init();
    let (args, cfg): (Args, GenerateConfig) = stage::settings::parse("generate")?;
    let modes: Vec<Mode> = match (&args.like_cluster, &args.like) {
        (Some(spec), _) => generate::clusters_asked(spec, args.clusters.as_deref())?
            .into_iter()
            .map(Mode::LikeCluster)
            .collect(),
        (_, Some(key)) => vec![Mode::Like(key.clone())],
        _ => vec![Mode::Prior],
    };
    let request = |mode: &Mode| Request {
        model: args.model.clone(),
        clusters: args.clusters.clone(),
        embeddings: args.embeddings.clone(),
        drawings: args.drawings.clone(),
        mode: mode.clone(),
    };
    // one writer at a time for each output (a second run refuses, naming the first's pid)
    let _lock = stage::OutputLock::file(&args.output)?;
    let _ndjson_lock = args
        .ndjson
        .as_deref()
        .map(stage::OutputLock::file)
        .transpose()?;
    let t = Instant::now();
    let total = cfg.count * modes.len();
    let bar = stage::progress(total as u64, "drawings");
    bar.set_prefix("generate");
    let requests: Vec<_> = modes.iter().map(request).collect();
    let progress = |done: usize, _: usize| bar.set_position(done as u64);
    let g = generate::generate_all(&requests, &cfg, &progress);
    bar.finish_and_clear();
    let g = g?;
    generate::write(&args.output, args.ndjson.as_deref(), &g)?;
    let clusters: Vec<String> = modes
        .iter()
        .filter_map(|m| match m {
            Mode::LikeCluster(k) => Some(k.to_string()),
            _ => None,
        })
        .collect();
    let what = match &modes[0] {
        Mode::LikeCluster(_) => format!(
            "like cluster{} {} (from {} of their strongest members, spread {}, mix {})",
            if clusters.len() > 1 { "s" } else { "" },
            clusters.join(", "),
            g.sources,
            cfg.spread,
            cfg.mix
        ),
        Mode::Like(key) => format!("like drawing `{key}` (spread {})", cfg.spread),
        Mode::Prior => "from the prior".to_string(),
    };
    let checked = g.landing.map_or(String::new(), |l| {
        format!(
            "; in the cluster asked for: {} at the first draw, {} drawn again, {} still \
             elsewhere after {} tries ({} draws)",
            l.first, l.redrawn, l.missed, cfg.tries, l.draws
        )
    });
    println!(
        "[generate] {} drawings {what}, temperature {}, seed {}{}{checked} in {:.1}s -> {}{}",
        g.rows.len(),
        cfg.temperature,
        cfg.seed,
        if g.empty > 0 {
            format!(" ({} empty decodings left out)", g.empty)
        } else {
            String::new()
        },
        t.elapsed().as_secs_f64(),
        args.output.display(),
        args.ndjson
            .as_ref()
            .map(|p| format!(" and {}", p.display()))
            .unwrap_or_default()
    );
    Ok(())
}
