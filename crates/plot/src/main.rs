use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use plot::PlotConfig;
use stage::{override_from_flags, PipelineConfig};

/// Draws every figure the pipeline's files allow (embedding map, cluster galleries,
/// reconstructions, interpolations, loss curves) as PNG and SVG, and report.html beside them.
/// Inputs are files named as the pipeline names them (drawings.parquet, train_log.parquet,
/// embeddings.parquet, reconstructions.parquet, interpolations.parquet, clusters.parquet,
/// model.json, cluster_summary.json, evaluation.json) or folders holding them (a run's work
/// folder: its top level first, then its subfolders).
#[derive(Parser)]
#[command(name = "plot", version)]
struct Args {
    /// Input files or folders.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder for the figures and report.html (created when missing).
    #[arg(short, long)]
    output: PathBuf,
    /// Config file (default: pipeline.toml in the current folder, when present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Report title [config: title].
    #[arg(long)]
    title: Option<String>,
    /// Side in pixels of a drawing's cell in galleries, reconstructions, interpolations [config: cell].
    #[arg(long)]
    cell: Option<u32>,
    /// Sample drawings per cluster in the gallery [config: samples].
    #[arg(long)]
    samples: Option<usize>,
    /// Cluster rows per gallery page [config: clusters_per_page].
    #[arg(long)]
    clusters_per_page: Option<usize>,
    /// Clusters shown in the gallery at most, the largest first [config: max_clusters].
    #[arg(long)]
    max_clusters: Option<usize>,
    /// Reconstruction pairs shown at most [config: reconstructions].
    #[arg(long)]
    reconstructions: Option<usize>,
    /// Reconstruction pairs per row [config: pairs_per_row].
    #[arg(long)]
    pairs_per_row: Option<u32>,
    /// Interpolation strips shown at most [config: interpolations].
    #[arg(long)]
    interpolations: Option<usize>,
    /// Embedding map width in pixels [config: map_width].
    #[arg(long)]
    map_width: Option<u32>,
    /// Embedding map height in pixels [config: map_height].
    #[arg(long)]
    map_height: Option<u32>,
    /// Thumbnails on the map at most [config: thumbnails].
    #[arg(long)]
    thumbnails: Option<usize>,
    /// Side of a map thumbnail in pixels [config: thumbnail_size].
    #[arg(long)]
    thumbnail_size: Option<u32>,
    /// Radius of a map point in pixels [config: point_radius].
    #[arg(long)]
    point_radius: Option<u32>,
    /// Loss chart width in pixels [config: loss_width].
    #[arg(long)]
    loss_width: Option<u32>,
    /// Loss chart height in pixels [config: loss_height].
    #[arg(long)]
    loss_height: Option<u32>,
    /// Page background colour, #rrggbb [config: background].
    #[arg(long)]
    background: Option<String>,
    /// Ink of real drawings, #rrggbb [config: ink].
    #[arg(long)]
    ink: Option<String>,
    /// Ink of drawings the model made, #rrggbb [config: model_ink].
    #[arg(long)]
    model_ink: Option<String>,
    /// Write explorer.html, the map with every drawing shown on hover [config: explorer; default true].
    #[arg(long)]
    explorer: Option<bool>,
    /// Write projector/ for TensorBoard's Embedding Projector: tensors.tsv, metadata.tsv,
    /// sprite.png, projector_config.pbtxt [config: projector; default false].
    #[arg(long)]
    projector: Option<bool>,
    /// Drawings in the projector export at most [config: projector_max; default 10000].
    #[arg(long)]
    projector_max: Option<usize>,
}

fn main() -> Result<()> {
    stage::init();
    let args = Args::parse();
    let config = PipelineConfig::load(args.config.as_deref())?;
    let mut cfg: PlotConfig = config.section("plot")?;
    override_from_flags!(cfg, args; title, cell, samples, clusters_per_page, max_clusters,
        reconstructions, pairs_per_row, interpolations, map_width, map_height, thumbnails,
        thumbnail_size, point_radius, loss_width, loss_height, background, ink, model_ink,
        explorer, projector, projector_max);

    let t = Instant::now();
    let inputs = plot::find_inputs(&args.inputs, &args.output)?;
    for note in &inputs.ignored {
        tracing::warn!("{note}");
    }
    let bar = stage::progress(
        5 + u64::from(cfg.explorer) + u64::from(cfg.projector),
        "figures",
    );
    let summary = plot::plot(&inputs, &args.output, &cfg, &|name| {
        bar.set_message(name.to_string());
        bar.inc(1);
    });
    bar.finish_and_clear();
    let summary = summary?;
    for s in &summary.skipped {
        tracing::info!("not drawn: {s}");
    }
    let names: Vec<String> = summary
        .figures
        .iter()
        .map(|(n, w)| {
            if w.len() > 1 {
                format!("{n} ({} pages)", w.len())
            } else {
                n.clone()
            }
        })
        .collect();
    let mut extra = String::new();
    if let Some((path, st)) = &summary.explorer {
        extra.push_str(&format!(
            "; explorer {} ({} drawings, {:.1} MB)",
            path.display(),
            st.points,
            st.page_bytes as f64 / 1e6
        ));
    }
    if let Some(x) = &summary.projector {
        extra.push_str(&format!(
            "; projector export of {} vectors of {} in {}",
            x.points,
            x.dim,
            x.dir.display()
        ));
    }
    println!(
        "[plot] read {} input(s); drew {} in {:.2}s; wrote {} files to {}; open {}{extra}{}",
        inputs.files.len(),
        if names.is_empty() {
            "no figures".to_string()
        } else {
            names.join(", ")
        },
        t.elapsed().as_secs_f64(),
        summary.files(),
        args.output.display(),
        summary.report.display(),
        if summary.skipped.is_empty() {
            String::new()
        } else {
            format!("; not drawn: {}", summary.skipped.len())
        }
    );
    Ok(())
}
