//! `train`: reads a drawings table, trains the sequence autoencoder (the `seqae` crate) on its
//! train split (validating on its valid split) and writes a run folder: model.safetensors,
//! model.json, checkpoint.safetensors and train_log.parquet.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use clap::{Parser, ValueEnum};
use seqae::{Event, Head, LstmImpl, ModelConfig, Pool, TrainConfig, TrainData, TrainOptions};
use serde::Deserialize;
use stage::{override_from_flags, PipelineConfig};
use tables::Split;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
enum DeviceKind {
    Cpu,
    Cuda,
    Metal,
}

/// pipeline.toml's `[train]` section: the model's and the optimiser's settings in one table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TrainSection {
    device: DeviceKind,
    enc_hidden: usize,
    dec_hidden: usize,
    latent: usize,
    bidirectional: bool,
    encoder_pool: Pool,
    encoder_grid: usize,
    encoder_stroke_weights: bool,
    encoder_max: bool,
    encoder_positions: bool,
    encoder_raster: usize,
    encoder_raster_width: usize,
    decoder_positions: bool,
    canonical_order: bool,
    canonical_loop_start: bool,
    head: Head,
    mixtures: usize,
    vae: bool,
    batch_size: usize,
    learning_rate: f64,
    lr_decay: f64,
    min_lr: f64,
    grad_clip: f64,
    weight_decay: f64,
    epochs: u32,
    max_steps: u64,
    max_minutes: f64,
    augment: f32,
    augment_whole: bool,
    recon_stroke_balance: f32,
    decoder_input_dropout: f32,
    contrastive_weight: f64,
    contrastive_temperature: f64,
    contrastive_stroke_drop: f32,
    contrastive_drop_by_ink: bool,
    contrastive_stretch: f32,
    contrastive_jitter: f32,
    contrastive_stroke_shift: f32,
    contrastive_stroke_scale: f32,
    contrastive_resimplify: f32,
    contrastive_zoom: f32,
    contrastive_hard_negatives: bool,
    part_examples: f32,
    raster_dropout: f32,
    kl_weight: f64,
    kl_weight_start: f64,
    kl_decay: f64,
    kl_min: f64,
    checkpoint_every: u64,
    max_seq_len: usize,
    seed: u64,
}

impl Default for TrainSection {
    fn default() -> Self {
        let (m, t) = (ModelConfig::default(), TrainConfig::default());
        TrainSection {
            device: DeviceKind::Cpu,
            enc_hidden: m.enc_hidden,
            dec_hidden: m.dec_hidden,
            latent: m.latent,
            bidirectional: m.bidirectional,
            encoder_pool: m.encoder_pool,
            encoder_grid: m.encoder_grid,
            encoder_stroke_weights: m.encoder_stroke_weights,
            encoder_max: m.encoder_max,
            encoder_positions: m.encoder_positions,
            encoder_raster: m.encoder_raster,
            encoder_raster_width: m.encoder_raster_width,
            decoder_positions: m.decoder_positions,
            canonical_order: m.canonical_order,
            canonical_loop_start: m.canonical_loop_start,
            head: m.head,
            mixtures: m.mixtures,
            vae: m.vae,
            batch_size: t.batch_size,
            learning_rate: t.learning_rate,
            lr_decay: t.lr_decay,
            min_lr: t.min_lr,
            grad_clip: t.grad_clip,
            weight_decay: t.weight_decay,
            epochs: t.epochs,
            max_steps: t.max_steps.unwrap_or(0),
            max_minutes: t.max_minutes.unwrap_or(0.0),
            augment: t.augment,
            augment_whole: t.augment_whole,
            recon_stroke_balance: t.recon_stroke_balance,
            decoder_input_dropout: t.decoder_input_dropout,
            contrastive_weight: t.contrastive_weight,
            contrastive_temperature: t.contrastive_temperature,
            contrastive_stroke_drop: t.contrastive_stroke_drop,
            contrastive_drop_by_ink: t.contrastive_drop_by_ink,
            contrastive_stretch: t.contrastive_stretch,
            contrastive_jitter: t.contrastive_jitter,
            contrastive_stroke_shift: t.contrastive_stroke_shift,
            contrastive_stroke_scale: t.contrastive_stroke_scale,
            contrastive_resimplify: t.contrastive_resimplify,
            contrastive_zoom: t.contrastive_zoom,
            contrastive_hard_negatives: t.contrastive_hard_negatives,
            part_examples: t.part_examples,
            raster_dropout: t.raster_dropout,
            kl_weight: t.kl_weight,
            kl_weight_start: t.kl_weight_start,
            kl_decay: t.kl_decay,
            kl_min: t.kl_min,
            checkpoint_every: t.checkpoint_every,
            max_seq_len: t.max_seq_len,
            seed: t.seed,
        }
    }
}

impl TrainSection {
    fn split(&self) -> (ModelConfig, TrainConfig) {
        (
            ModelConfig {
                enc_hidden: self.enc_hidden,
                dec_hidden: self.dec_hidden,
                latent: self.latent,
                bidirectional: self.bidirectional,
                encoder_pool: self.encoder_pool,
                encoder_grid: self.encoder_grid,
                encoder_stroke_weights: self.encoder_stroke_weights,
                encoder_max: self.encoder_max,
                encoder_positions: self.encoder_positions,
                encoder_raster: self.encoder_raster,
                encoder_raster_width: self.encoder_raster_width,
                decoder_positions: self.decoder_positions,
                canonical_order: self.canonical_order,
                canonical_loop_start: self.canonical_loop_start,
                head: self.head,
                mixtures: self.mixtures,
                vae: self.vae,
            },
            TrainConfig {
                batch_size: self.batch_size,
                learning_rate: self.learning_rate,
                lr_decay: self.lr_decay,
                min_lr: self.min_lr,
                grad_clip: self.grad_clip,
                weight_decay: self.weight_decay,
                epochs: self.epochs,
                max_steps: (self.max_steps > 0).then_some(self.max_steps),
                max_minutes: (self.max_minutes > 0.0).then_some(self.max_minutes),
                augment: self.augment,
                augment_whole: self.augment_whole,
                recon_stroke_balance: self.recon_stroke_balance,
                decoder_input_dropout: self.decoder_input_dropout,
                contrastive_weight: self.contrastive_weight,
                contrastive_temperature: self.contrastive_temperature,
                contrastive_stroke_drop: self.contrastive_stroke_drop,
                contrastive_drop_by_ink: self.contrastive_drop_by_ink,
                contrastive_stretch: self.contrastive_stretch,
                contrastive_jitter: self.contrastive_jitter,
                contrastive_stroke_shift: self.contrastive_stroke_shift,
                contrastive_stroke_scale: self.contrastive_stroke_scale,
                contrastive_resimplify: self.contrastive_resimplify,
                contrastive_zoom: self.contrastive_zoom,
                contrastive_hard_negatives: self.contrastive_hard_negatives,
                part_examples: self.part_examples,
                raster_dropout: self.raster_dropout,
                kl_weight: self.kl_weight,
                kl_weight_start: self.kl_weight_start,
                kl_decay: self.kl_decay,
                kl_min: self.kl_min,
                checkpoint_every: self.checkpoint_every,
                max_seq_len: self.max_seq_len,
                seed: self.seed,
            },
        )
    }
}

/// Trains the LSTM sequence autoencoder on the train split of a drawings table (validating on
/// its valid split after every epoch) and writes a run folder: model.safetensors, model.json,
/// checkpoint.safetensors, train_log.parquet. Ctrl-C writes a checkpoint and stops; --resume
/// continues from it and ends where an uninterrupted run would have.
#[derive(Parser)]
#[command(name = "train", version)]
struct Cli {
    /// Drawings table (from ingest).
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
    /// Where to compute; cuda and metal need a build with that feature [config: device].
    #[arg(long, value_enum)]
    device: Option<DeviceKind>,
    /// Encoder LSTM width, per direction [config: enc_hidden].
    #[arg(long)]
    enc_hidden: Option<usize>,
    /// Decoder LSTM width [config: dec_hidden].
    #[arg(long)]
    dec_hidden: Option<usize>,
    /// Latent vector width [config: latent].
    #[arg(long)]
    latent: Option<usize>,
    /// Also run the encoder over each reversed drawing, as sketch-rnn [config: bidirectional].
    #[arg(long)]
    bidirectional: Option<bool>,
    /// The encoder's summary of a drawing: `last` (its state after the last point, as
    /// sketch-rnn), `mean` (its mean output over the points) or `grid` (one mean per node of a
    /// grid over the drawing's box) [config: encoder_pool].
    #[arg(long)]
    encoder_pool: Option<Pool>,
    /// Nodes per side of the `grid` pool [config: encoder_grid].
    #[arg(long)]
    encoder_grid: Option<usize>,
    /// Each stroke counts alike in the `mean` and `grid` summaries, whatever its number of
    /// points, so that a small part (a nose of three points) is not drowned by a large one
    /// [config: encoder_stroke_weights].
    #[arg(long)]
    encoder_stroke_weights: Option<bool>,
    /// With the `mean` and `grid` pools, each direction also hands the latent the largest value
    /// of each of its outputs over the drawing's points: whether something was drawn, however
    /// few its points, which a mean dilutes [config: encoder_max].
    #[arg(long)]
    encoder_max: Option<bool>,
    /// The encoder also reads the pen's position after each point, in the drawing's box scaled
    /// to a longest side of 1 [config: encoder_positions].
    #[arg(long)]
    encoder_positions: Option<bool>,
    /// Side in pixels of a picture of the drawing that the encoder also reads, through one
    /// dense layer beside the LSTMs (0: none) [config: encoder_raster].
    #[arg(long)]
    encoder_raster: Option<usize>,
    /// Units of the raster branch's dense layer [config: encoder_raster_width].
    #[arg(long)]
    encoder_raster_width: Option<usize>,
    /// The decoder also reads where its pen is (relative to the first point), as input at
    /// every step, in training and when it draws [config: decoder_positions].
    #[arg(long)]
    decoder_positions: Option<bool>,
    /// Put each drawing's strokes in a canonical order and direction (largest first, then top
    /// to bottom, left to right) before training and encoding [config: canonical_order].
    #[arg(long)]
    canonical_order: Option<bool>,
    /// With canonical_order, each closed stroke (a ring, a head) also starts at its top, so
    /// that where it was started does not count [config: canonical_loop_start].
    #[arg(long)]
    canonical_loop_start: Option<bool>,
    /// Output head: mse (the original baseline) or mdn (sketch-rnn's mixture) [config: head].
    #[arg(long)]
    head: Option<Head>,
    /// Gaussian components of the mdn head [config: mixtures].
    #[arg(long)]
    mixtures: Option<usize>,
    /// Variational: sample z in training, KL term; embeddings use mu [config: vae].
    #[arg(long)]
    vae: Option<bool>,
    /// Drawings per batch [config: batch_size].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Initial learning rate [config: learning_rate].
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Per-step decay: lr = (learning_rate - min_lr) * lr_decay^step + min_lr [config: lr_decay].
    #[arg(long)]
    lr_decay: Option<f64>,
    /// Learning-rate floor [config: min_lr].
    #[arg(long)]
    min_lr: Option<f64>,
    /// Clip the gradients' global norm to this; 0 for no clipping [config: grad_clip].
    #[arg(long)]
    grad_clip: Option<f64>,
    /// Decoupled weight decay (AdamW); 0 gives Adam [config: weight_decay].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Passes over the training drawings [config: epochs].
    #[arg(long)]
    epochs: Option<u32>,
    /// Stop after this many steps in all; 0 for no limit [config: max_steps].
    #[arg(long)]
    max_steps: Option<u64>,
    /// Stop after this many minutes in all (resumed runs count earlier time); 0 for no limit [config: max_minutes].
    #[arg(long)]
    max_minutes: Option<f64>,
    /// Random scaling of each drawing's x and y by up to this fraction [config: augment].
    #[arg(long)]
    augment: Option<f32>,
    /// The augmentation scales the whole drawing: the encoder's positions and the contrastive
    /// view follow it, so the contrastive term does not teach the latent to ignore a drawing's
    /// proportions [config: augment_whole].
    #[arg(long)]
    augment_whole: Option<bool>,
    /// How far the reconstruction loss weighs each stroke alike instead of each point (0 to 1;
    /// at 1 a nose of two points counts as much as an outline of forty), so that the decoder
    /// and the latent cannot skip small strokes [config: recon_stroke_balance].
    #[arg(long)]
    recon_stroke_balance: Option<f32>,
    /// Share of the decoder's teacher-forced inputs blanked at random, so that it must read
    /// the drawing from the latent [config: decoder_input_dropout].
    #[arg(long)]
    decoder_input_dropout: Option<f32>,
    /// Weight of the contrastive term: each drawing's latent must pick out the latent of a
    /// tilted, stretched, jittered copy of it among the batch's (0: off)
    /// [config: contrastive_weight].
    #[arg(long)]
    contrastive_weight: Option<f64>,
    /// Temperature of the contrastive term [config: contrastive_temperature].
    #[arg(long)]
    contrastive_temperature: Option<f64>,
    /// Chance that each stroke is left out of the contrastive term's second view, so that no
    /// one part can tell a drawing alone [config: contrastive_stroke_drop].
    #[arg(long)]
    contrastive_stroke_drop: Option<f32>,
    /// Each stroke's chance of being left out follows its share of the ink (at most 0.5): long
    /// strokes are left out often, short ones rarely [config: contrastive_drop_by_ink].
    #[arg(long)]
    contrastive_drop_by_ink: Option<bool>,
    /// Largest stretch of each axis, and shear, of the contrastive view, as a share
    /// [config: contrastive_stretch].
    #[arg(long)]
    contrastive_stretch: Option<f32>,
    /// Standard deviation of each point's random move in the contrastive view, as a share of
    /// the drawing's size [config: contrastive_jitter].
    #[arg(long)]
    contrastive_jitter: Option<f32>,
    /// Standard deviation of each whole stroke's random move in the contrastive view, as a
    /// share of the drawing's size, so the latent keeps what the parts are before where they
    /// sit [config: contrastive_stroke_shift].
    #[arg(long)]
    contrastive_stroke_shift: Option<f32>,
    /// Largest change of each stroke's size about its own centre in the contrastive view, as a
    /// share [config: contrastive_stroke_scale].
    #[arg(long)]
    contrastive_stroke_scale: Option<f32>,
    /// Largest tolerance, as a share of each stroke's own size, with which the contrastive
    /// view's strokes are simplified again (Ramer-Douglas-Peucker), so the latent keeps a
    /// stroke's shape rather than how many points drew it [config: contrastive_resimplify].
    #[arg(long)]
    contrastive_resimplify: Option<f32>,
    /// Chance that a contrastive view with strokes left out is measured in its own box (zoomed
    /// in on what is left) [config: contrastive_zoom].
    #[arg(long)]
    contrastive_zoom: Option<f32>,
    /// Give each contrastive view a hard negative, the view without one more stroke, which the
    /// drawing must rank below its view: every stroke, a dot of a nose too, then tells
    /// [config: contrastive_hard_negatives].
    #[arg(long)]
    contrastive_hard_negatives: Option<bool>,
    /// Chance (0 to 1) that a training example is one part of its drawing (inside, outline or
    /// outside, chosen alike) instead of the whole, in the part's own box as `embed` encodes
    /// the part vectors [config: part_examples].
    #[arg(long)]
    part_examples: Option<f32>,
    /// Chance that a contrastive view's picture is blanked for the encoder's raster branch in
    /// training, so the LSTMs learn to tell drawings apart by themselves too
    /// [config: raster_dropout].
    #[arg(long)]
    raster_dropout: Option<f32>,
    /// VAE: final KL weight [config: kl_weight].
    #[arg(long)]
    kl_weight: Option<f64>,
    /// VAE: KL weight at step 0, as a fraction of kl_weight [config: kl_weight_start].
    #[arg(long)]
    kl_weight_start: Option<f64>,
    /// VAE: KL weight annealing rate per step [config: kl_decay].
    #[arg(long)]
    kl_decay: Option<f64>,
    /// VAE: KL floor; below it the KL term has no gradient [config: kl_min].
    #[arg(long)]
    kl_min: Option<f64>,
    /// Write a checkpoint every this many steps; 0 only at the end [config: checkpoint_every].
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Leave out training drawings with more points [config: max_seq_len].
    #[arg(long)]
    max_seq_len: Option<usize>,
    /// Seed of initialisation, batch order and augmentation [config: seed].
    #[arg(long)]
    seed: Option<u64>,
}

fn device(kind: DeviceKind) -> Result<Device> {
    Ok(match kind {
        DeviceKind::Cpu => Device::Cpu,
        DeviceKind::Cuda => {
            Device::new_cuda(0).context("--device cuda (build with --features cuda)")?
        }
        DeviceKind::Metal => {
            Device::new_metal(0).context("--device metal (build with --features metal)")?
        }
    })
}

fn main() -> Result<()> {
    stage::init();
    let args = Cli::parse();
    let config = PipelineConfig::load(args.config.as_deref())?;
    let mut s: TrainSection = config.section("train")?;
    override_from_flags!(s, args; device, enc_hidden, dec_hidden, latent, bidirectional, encoder_pool, encoder_grid, encoder_stroke_weights, encoder_max, encoder_positions, encoder_raster, encoder_raster_width, decoder_positions, canonical_order, canonical_loop_start, head,
        mixtures, vae, batch_size, learning_rate, lr_decay, min_lr, grad_clip, weight_decay,
        epochs, max_steps, max_minutes, augment, augment_whole, recon_stroke_balance, decoder_input_dropout, contrastive_weight, contrastive_temperature, contrastive_stroke_drop, contrastive_drop_by_ink, contrastive_stretch, contrastive_jitter, contrastive_stroke_shift, contrastive_stroke_scale, contrastive_resimplify, contrastive_zoom, contrastive_hard_negatives, part_examples, raster_dropout, kl_weight, kl_weight_start, kl_decay, kl_min,
        checkpoint_every, max_seq_len, seed);
    let (model_cfg, train_cfg) = s.split();
    let dev = device(s.device)?;

    let table = tables::drawings::read(&args.drawings)
        .with_context(|| format!("reading {}", args.drawings.display()))?;
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
    let summary = seqae::train(&model_cfg, &train_cfg, &data, &opts, &mut |e| match e {
        Event::Started {
            steps_per_epoch,
            first_step: f,
            train,
            valid,
            dropped,
            parameters,
        } => {
            first_step = f;
            let mut total = steps_per_epoch as u64 * train_cfg.epochs as u64;
            if let Some(m) = train_cfg.max_steps {
                total = total.min(m);
            }
            tracing::info!(
                "{train} training and {valid} validation drawings ({dropped} longer than {} left out), \
                 {steps_per_epoch} steps per epoch, {parameters} parameters{}",
                train_cfg.max_seq_len,
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
