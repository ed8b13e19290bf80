use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use embed::{DecodeKind, EmbedConfig, Outputs};
use stage::{override_from_flags, PipelineConfig};

/// Encodes every drawing of a drawings table with a trained model (`train`'s run folder) into
/// embeddings.parquet, and decodes some drawings back from their vectors alone:
/// reconstructions.parquet and interpolations.parquet, beside the output unless flags say.
#[derive(Parser)]
#[command(name = "embed", version)]
struct Args {
    /// The drawings table written by `ingest`.
    input: PathBuf,
    /// Run folder written by `train` (model.safetensors + model.json).
    #[arg(long)]
    model: PathBuf,
    /// Output embeddings Parquet file.
    #[arg(short, long)]
    output: PathBuf,
    /// Where the reconstructions go (default: reconstructions.parquet beside the output).
    #[arg(long)]
    reconstructions_output: Option<PathBuf>,
    /// Where the interpolations go (default: interpolations.parquet beside the output).
    #[arg(long)]
    interpolations_output: Option<PathBuf>,
    /// Config file (default: pipeline.toml in the current folder, when present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Drawings per encoder batch [config: batch_size].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Drawings of the valid and test splits to reconstruct; 0 for none [config: reconstructions].
    #[arg(long)]
    reconstructions: Option<usize>,
    /// Pairs of drawings to interpolate between; 0 for none [config: interpolations].
    #[arg(long)]
    interpolations: Option<usize>,
    /// Drawings decoded per pair, both ends included [config: interpolation_steps].
    #[arg(long)]
    interpolation_steps: Option<usize>,
    /// Greedy decoding, or sampling with --temperature (mdn head) [config: decode].
    #[arg(long, value_enum)]
    decode: Option<DecodeKind>,
    /// Sampling temperature of the mdn head [config: temperature].
    #[arg(long)]
    temperature: Option<f32>,
    /// Longest generated drawing, in points [config: max_len].
    #[arg(long)]
    max_len: Option<usize>,
    /// Chooses the drawings to decode and the sampling noise [config: seed].
    #[arg(long)]
    seed: Option<u64>,
    /// cpu, cuda, cuda:N or metal (cuda and metal need the cargo feature) [config: device].
    #[arg(long)]
    device: Option<String>,
    /// Write each vector scaled to unit length (decoding still uses the model's own vectors)
    /// [config: unit_length].
    #[arg(long)]
    unit_length: Option<bool>,
    /// Parts of each drawing to encode alone, each into a column of its own, null where a
    /// drawing lacks it: inside (what is inside its largest stroke: a face's eyes, nose and
    /// mouth), outline (that stroke), outside (the rest: hair, ears); comma-separated, or none
    /// [config: parts].
    #[arg(long, value_delimiter = ',')]
    parts: Option<Vec<String>>,
    /// The box of the part vectors' positions: whole (the drawing's) or own (the part's, zoomed
    /// in) [config: part_box].
    #[arg(long, value_enum)]
    part_box: Option<embed::PartBox>,
}

fn main() -> Result<()> {
    stage::init();
    let args = Args::parse();
    let config = PipelineConfig::load(args.config.as_deref())?;
    let mut cfg: EmbedConfig = config.section("embed")?;
    override_from_flags!(cfg, args; batch_size, reconstructions, interpolations,
        interpolation_steps, decode, temperature, max_len, seed, device, unit_length,
        parts, part_box);
    // one writer at a time; released when this run ends or dies
    let _lock = stage::OutputLock::file(&args.output)?;
    let mut out = Outputs::beside(&args.output);
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
    let result = embed::embed(&args.model, &args.input, &out, &cfg, &progress);
    bar.finish_and_clear();
    let r = result?;
    println!(
        "[embed] {} drawings to {}-d vectors{} in {:.1}s ({:.0} drawings/s) -> {}; decoded {} reconstructions and {} interpolation steps in {:.1}s; total {:.1}s",
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
        out.embeddings.display(),
        r.reconstructions,
        r.interpolations,
        r.decode_s,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
