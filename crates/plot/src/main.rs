use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use plot::PlotConfig;

/// Draws every figure the pipeline's files allow (embedding map, cluster galleries,
/// reconstructions, interpolations, loss curves) as PNG and SVG, and report.html beside them.
/// Inputs are files named as the pipeline names them (drawings.parquet, train_log.parquet,
/// embeddings.parquet, reconstructions.parquet, interpolations.parquet, clusters.parquet,
/// model.json, cluster_summary.json, evaluation.json) or folders holding them (a run's work
/// folder: its top level first, then its subfolders).
#[derive(Parser)]
#[command(name = "plot", version)]
struct Args {
    /// Input files or folders; a folder of one table's files (a Hive-partitioned folder, a
    /// folder of shards) or a quoted glob of them reads as that table.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder for the figures and report.html (created when missing).
    #[arg(short, long)]
    output: PathBuf,
    /// Config file (default: pipeline.toml in the current folder, when present).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> Result<()> {
    stage::init();
    let (args, cfg): (Args, PlotConfig) = stage::settings::parse("plot")?;

    // one writer at a time (`.<folder>.lock` beside the output folder); released when this
    // run ends or dies
    let _lock = stage::OutputLock::file(&args.output)?;
    let t = Instant::now();
    let inputs = plot::find_inputs(&args.inputs, &args.output)?;
    for note in &inputs.ignored {
        tracing::warn!("{note}");
    }
    // a run refused on its inputs leaves no empty output folder behind
    let created = !args.output.exists();
    let bar = stage::progress(
        5 + u64::from(cfg.explorer) + u64::from(cfg.projector),
        "figures",
    );
    let summary = plot::plot(&inputs, &args.output, &cfg, &|name| {
        bar.set_message(name.to_string());
        bar.inc(1);
    });
    bar.finish_and_clear();
    if summary.is_err() && created {
        let _ = std::fs::remove_dir(&args.output);
    }
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
