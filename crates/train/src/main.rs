//! `train`: reads a drawings table, trains the sequence autoencoder (the `seqae` crate) on its
//! train split (validating on its valid split) and writes a run folder: model.safetensors,
//! model.json, checkpoint.safetensors and train_log.parquet.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Parser;
use seqae::{Event, LstmImpl, TrainConfig, TrainData, TrainOptions};
use tables::Split;

/// Trains the LSTM sequence autoencoder on the train split of a drawings table (validating on
/// its valid split after every epoch) and writes a run folder: model.safetensors, model.json,
/// checkpoint.safetensors, train_log.parquet. Ctrl-C writes a checkpoint and stops; --resume
/// continues from it and ends where an uninterrupted run would have.
#[derive(Parser)]
#[command(name = "train", version)]
struct Cli {
    /// Drawings table (from ingest): a file, a folder (every *.parquet under it, a
    /// Hive-partitioned folder included) or a quoted glob, read as one table.
    drawings: PathBuf,
    /// Run folder to write (created if needed).
    #[arg(short, long)]
    output: PathBuf,
    /// Config file (default: pipeline.toml in the current folder, when present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Continue from the run folder's checkpoint (starts afresh when there is none).
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
    /// Start afresh even where the run folder holds an earlier run (its files are replaced).
    #[arg(long)]
    overwrite: bool,
}

fn main() -> Result<()> {
    stage::init();
    let (args, cfg): (Cli, TrainConfig) = stage::settings::parse("train")?;
    let dev = cfg.device.device()?;
    if let Some(note) = cfg.precision.fallback_note(dev.is_cpu()) {
        eprintln!("[train] {note}");
    }

    let (mut table, read) =
        tables::drawings::read_sample(&args.drawings, cfg.max_drawings, cfg.seed)
            .with_context(|| format!("reading {}", args.drawings.display()))?;
    if table.rows.len() < read {
        eprintln!(
            "[train] training on a uniform sample of {} of the {read} drawings (max_drawings)",
            table.rows.len()
        );
    }
    // trained in the order of the key_ids, not of the rows: the same model however the
    // drawings were split into files or shards, and in whatever order the files are read
    table.rows.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    let rows = table.rows.len();
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for r in table.rows {
        match r.split {
            Split::Train => train.push(r.drawing),
            Split::Valid => valid.push(r.drawing),
            Split::Test => {}
        }
    }
    if train.is_empty() {
        bail!(
            "{}: no drawings in the train split ({rows} rows)",
            args.drawings.display()
        );
    }

    // one run at a time in a run folder; released when this run ends or dies
    let _lock = stage::OutputLock::folder(&args.output)?;
    if args.overwrite {
        for ckpt in [
            seqae::run::checkpoint_path(&args.output),
            seqae::run::previous_checkpoint_path(&args.output),
        ] {
            match std::fs::remove_file(&ckpt) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", ckpt.display()));
                }
                _ => {}
            }
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130); // a second Ctrl-C does not wait
            }
            eprintln!("\n[train] stopping: writing a checkpoint (Ctrl-C again to quit at once)");
        })
        .context("installing the Ctrl-C handler")?;
    }

    let data = TrainData {
        train: &train,
        valid: &valid,
        path: args.drawings.display().to_string(),
        rows,
    };
    let opts = TrainOptions {
        run_dir: &args.output,
        device: dev,
        resume: args.resume,
        stop: Some(&stop),
        lstm: LstmImpl::Auto,
    };
    let mut bar: Option<stage::ProgressBar> = None;
    let (mut last_valid, mut first_step) = (None::<f32>, 0u64);
    let summary = seqae::train(&cfg, &data, &opts, &mut |e| match e {
        Event::Started {
            steps_per_epoch,
            first_step: f,
            train,
            valid,
            dropped,
            parameters,
        } => {
            first_step = f;
            let mut total = steps_per_epoch as u64 * cfg.epochs as u64;
            if cfg.max_steps > 0 {
                total = total.min(cfg.max_steps);
            }
            tracing::info!(
                "{train} training and {valid} validation drawings ({dropped} longer than {} left out), \
                 {steps_per_epoch} steps per epoch, {parameters} parameters{}",
                cfg.max_seq_len,
                if f > 0 { format!(", resuming at step {f}") } else { String::new() }
            );
            let b = stage::progress(total, "steps");
            b.set_prefix("train");
            b.set_position(f.min(total));
            bar = Some(b);
        }
        Event::Step {
            row,
            sequences_per_s,
        } => {
            if let Some(b) = &bar {
                b.set_position(row.step);
                let v = last_valid
                    .map(|v| format!(" valid {v:.3}"))
                    .unwrap_or_default();
                b.set_message(format!(
                    "epoch {} loss {:.3}{v} {:.0} seq/s",
                    row.epoch + 1,
                    row.train_loss,
                    sequences_per_s
                ));
            }
        }
        Event::Validated {
            epoch,
            step,
            valid_loss,
        } => {
            last_valid = Some(valid_loss);
            if let Some(b) = &bar {
                b.println(format!(
                    "epoch {} (step {step}): valid loss {valid_loss:.4}",
                    epoch + 1
                ));
            }
        }
        Event::Checkpoint { .. } => {}
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let summary = summary?;

    let log: Vec<tables::train_log::TrainLogRow> = summary
        .log
        .iter()
        .map(|r| tables::train_log::TrainLogRow {
            step: r.step as i64,
            epoch: r.epoch as i32,
            train_loss: r.train_loss as f64,
            valid_loss: r.valid_loss.map(f64::from),
            learning_rate: r.learning_rate,
            elapsed_s: r.elapsed_s,
        })
        .collect();
    let log_path = args.output.join("train_log.parquet");
    tables::train_log::write(&log_path, &log)
        .with_context(|| format!("writing {}", log_path.display()))?;
    let fmt = |v: Option<f32>| v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    println!(
        "[train] {} steps ({} this run, {} epochs done, stopped: {:?}) in {:.1}s at {:.0} sequences/s; \
         train loss {}, valid loss {}; wrote {}",
        summary.steps,
        summary.steps - first_step,
        summary.epochs_completed,
        summary.stop,
        summary.elapsed_s,
        summary.sequences_per_s,
        fmt(summary.train_loss),
        fmt(summary.valid_loss),
        args.output.display()
    );
    if summary.stop == seqae::StopReason::Interrupted {
        std::process::exit(130);
    }
    Ok(())
}
