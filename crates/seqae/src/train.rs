//! The training loop: length-bucketed batches, one optimiser step per batch, validation after
//! each epoch, checkpoints that resume exactly, and a run folder written atomically. No file
//! formats other than the run folder's own: the caller hands in drawings.
//!
//! [`train`] reads as its steps: `prepare` the drawings, `start` a fresh model or resume
//! one, then for each batch `step`, after each epoch [`evaluate`], and at the end
//! [`run::save_model`].

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::{Device, Tensor};
use drawing::Stroke3;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::{ModelConfig, TrainConfig};
use crate::data::{self, Augment};
use crate::error::{Error, Result};
use crate::lstm::LstmImpl;
use crate::model::SeqAe;
use crate::optim::Adam;
use crate::run::{self, Checkpoint, DataInfo, LogRow, LossInfo, ModelInfo, StopReason};

/// The drawings to train on and where they came from.
pub struct TrainData<'a> {
    pub train: &'a [Stroke3],
    pub valid: &'a [Stroke3],
    /// the file they were read from (recorded in model.json)
    pub path: String,
    /// rows in that file
    pub rows: usize,
}

/// Where and how to run.
pub struct TrainOptions<'a> {
    pub run_dir: &'a Path,
    pub device: Device,
    /// continue from `run_dir`'s checkpoint when there is one
    pub resume: bool,
    /// polled before every step; when set, a checkpoint is written and training returns
    pub stop: Option<&'a AtomicBool>,
    pub lstm: LstmImpl,
}

/// What the caller is told as training goes.
#[derive(Debug)]
pub enum Event<'a> {
    Started {
        steps_per_epoch: usize,
        first_step: u64,
        train: usize,
        valid: usize,
        dropped: usize,
        parameters: usize,
    },
    Step {
        row: &'a LogRow,
        sequences_per_s: f64,
    },
    Validated {
        epoch: u32,
        step: u64,
        valid_loss: f32,
    },
    Checkpoint {
        step: u64,
        path: &'a Path,
    },
}

/// The outcome.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub steps: u64,
    pub epochs_completed: u32,
    pub stop: StopReason,
    pub train_loss: Option<f32>,
    pub valid_loss: Option<f32>,
    /// every step so far, including those before a resume
    pub log: Vec<LogRow>,
    pub elapsed_s: f64,
    /// over this session's steps
    pub sequences_per_s: f64,
    pub run_dir: PathBuf,
}

/// Per-step randomness (augmentation, VAE noise) comes from its own stream, so it does not
/// depend on what ran before: resuming at a step reproduces it.
fn step_rng(seed: u64, step: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(step.wrapping_add(1));
    r
}

/// The batch order of an epoch, from the seed and the epoch alone.
fn epoch_batches(lengths: &[usize], batch: usize, seed: u64, epoch: u32) -> Vec<Vec<usize>> {
    let mut r = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0000_0000);
    r.set_stream(epoch as u64);
    data::bucket(lengths, batch, 50, Some(&mut r))
}

fn in_split(split: &'static str, e: Error) -> Error {
    Error::InSplit {
        split,
        source: Box::new(e),
    }
}

/// Mean loss over a set of drawings (no augmentation, mu for the VAE).
pub fn evaluate(
    model: &SeqAe,
    drawings: &[&Stroke3],
    batch: usize,
    kl_weight: f64,
    kl_min: f64,
) -> Result<Option<f32>> {
    if drawings.is_empty() {
        return Ok(None);
    }
    let lengths: Vec<usize> = drawings.iter().map(|d| d.len()).collect();
    let (mut total, mut n) = (0f64, 0usize);
    for idx in data::bucket(&lengths, batch, usize::MAX / batch.max(1), None) {
        let ds: Vec<&Stroke3> = idx.iter().map(|&i| drawings[i]).collect();
        let b = data::make_batch(&ds, model.scale(), model.config(), None, model.device())?;
        let l = model.loss(&b, None, kl_weight, kl_min, None)?;
        total += l.total.to_scalar::<f32>()? as f64 * ds.len() as f64;
        n += ds.len();
    }
    Ok(Some((total / n as f64) as f32))
}

/// The drawings as the model learns them: at most `max_len` points, prepared as the model
/// will encode them (copies only when canonical_order).
fn prepare<'a>(set: &'a [Stroke3], model: &ModelConfig, max_len: usize) -> Vec<Cow<'a, Stroke3>> {
    set.iter()
        .filter(|d| d.len() <= max_len)
        .map(|d| model.prepare(d))
        .collect()
}

/// A fresh model, optimiser and state, or those of the run folder's checkpoint when resuming
/// (refused where the checkpoint was made with other settings or other data).
fn start(
    cfg: &TrainConfig,
    data: &TrainData,
    data_info: &DataInfo,
    opts: &TrainOptions,
) -> Result<(SeqAe, Adam, Checkpoint)> {
    let run_dir = opts.run_dir;
    let ckpt_path = run::checkpoint_path(run_dir);
    if !(ckpt_path.exists() || run::previous_checkpoint_path(run_dir).exists()) {
        let scale = data::scale_factor(data.train);
        let model = SeqAe::new(
            &cfg.model,
            scale,
            cfg.seed,
            opts.lstm.at(cfg.precision),
            &opts.device,
        )?;
        let adam = Adam::new(&model, cfg.optimiser.weight_decay)?;
        let st = Checkpoint {
            format: run::FORMAT,
            step: 0,
            epoch: 0,
            batch_in_epoch: 0,
            elapsed_s: 0.0,
            scale,
            model: cfg.model.clone(),
            train: cfg.clone(),
            data: data_info.clone(),
            log: Vec::new(),
        };
        return Ok((model, adam, st));
    }
    if !opts.resume {
        return Err(Error::Config(format!(
            "{} already holds a checkpoint: resume it, or train into another folder",
            run_dir.display()
        )));
    }
    let (model, adam, mut st) =
        run::load_latest_checkpoint(run_dir, opts.lstm.at(cfg.precision), &opts.device)?
            .ok_or_else(|| Error::bad_file(&ckpt_path, "no checkpoint to resume"))?;
    let mismatch = |what: String| Error::ResumeMismatch {
        path: ckpt_path.clone(),
        what,
    };
    if st.train.trajectory() != cfg.trajectory() {
        return Err(mismatch(format!(
            "training {:?} vs {:?}",
            st.train.trajectory(),
            cfg.trajectory()
        )));
    }
    if st.data.train_rows != data_info.train_rows || st.data.valid_rows != data_info.valid_rows {
        return Err(mismatch(format!(
            "{} training / {} validation drawings then, {} / {} now",
            st.data.train_rows, st.data.valid_rows, data_info.train_rows, data_info.valid_rows
        )));
    }
    // the stop criteria and the input's path may differ from the first session's
    st.train = cfg.clone();
    st.data.path = data_info.path.clone();
    st.data.rows = data_info.rows;
    Ok((model, adam, st))
}

/// One optimiser step on a batch of drawings; returns its loss.
fn step(
    model: &SeqAe,
    adam: &mut Adam,
    cfg: &TrainConfig,
    drawings: &[&Stroke3],
    step: u64,
) -> Result<f32> {
    let mut rng = step_rng(cfg.seed, step);
    let contrastive = (cfg.contrastive.weight > 0.0).then_some(&cfg.contrastive);
    let batch = data::make_batch(
        drawings,
        model.scale(),
        &cfg.model,
        Some(Augment {
            amount: cfg.augment,
            contrastive,
            rng: &mut rng,
        }),
        model.device(),
    )?;
    let noise = if cfg.model.vae {
        let shape = (drawings.len(), cfg.model.latent);
        let v: Vec<f32> = (0..shape.0 * shape.1)
            .map(|_| rand::RngExt::sample(&mut rng, rand_distr::StandardNormal))
            .collect();
        Some(Tensor::from_vec(v, shape, model.device())?)
    } else {
        None
    };
    let losses = model.loss(
        &batch,
        noise.as_ref(),
        cfg.vae.weight_at(step),
        cfg.vae.kl_min,
        contrastive,
    )?;
    let loss = losses.total.to_scalar::<f32>()?;
    if !loss.is_finite() {
        return Err(Error::Config(format!(
            "training diverged at step {step} (loss {loss}); lower learning_rate or grad_clip"
        )));
    }
    let grads = losses.total.backward()?;
    adam.step(&grads, cfg.optimiser.lr_at(step), cfg.optimiser.grad_clip)?;
    Ok(loss)
}

/// Trains a model into `opts.run_dir` (created if needed): `checkpoint.safetensors` every
/// `checkpoint_every` steps and at the end, `model.safetensors` + `model.json` at the end
/// (also after an interruption).
pub fn train(
    cfg: &TrainConfig,
    data: &TrainData,
    opts: &TrainOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<TrainSummary> {
    cfg.validate()?;
    let started = Instant::now();
    let run_dir = opts.run_dir;
    std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
    let ckpt_path = run::checkpoint_path(run_dir);
    for (split, set) in [("train", data.train), ("valid", data.valid)] {
        for (i, d) in set.iter().enumerate() {
            data::validate(d, i).map_err(|e| in_split(split, e))?;
        }
    }
    let train_set = prepare(data.train, &cfg.model, cfg.max_seq_len);
    let valid_set = prepare(data.valid, &cfg.model, cfg.max_seq_len);
    let train: Vec<&Stroke3> = train_set.iter().map(|d| d.as_ref()).collect();
    let valid: Vec<&Stroke3> = valid_set.iter().map(|d| d.as_ref()).collect();
    let dropped = data.train.len() - train.len();
    if train.is_empty() {
        return Err(Error::NoTrainingData {
            dropped,
            max_seq_len: cfg.max_seq_len,
        });
    }
    let data_info = DataInfo {
        path: data.path.clone(),
        rows: data.rows,
        train_rows: train.len(),
        valid_rows: valid.len(),
        dropped_too_long: dropped + (data.valid.len() - valid.len()),
    };
    let (model, mut adam, mut st) = start(cfg, data, &data_info, opts)?;
    let prior_elapsed = st.elapsed_s;
    let elapsed = || prior_elapsed + started.elapsed().as_secs_f64();

    let lengths: Vec<usize> = train.iter().map(|d| d.len()).collect();
    let batch_size = cfg.optimiser.batch_size;
    let steps_per_epoch = lengths.len().div_ceil(batch_size);
    on_event(Event::Started {
        steps_per_epoch,
        first_step: st.step,
        train: train.len(),
        valid: valid.len(),
        dropped: data_info.dropped_too_long,
        parameters: model.parameter_count(),
    });

    let session_start = Instant::now();
    let mut session_seqs = 0usize;
    let mut stop = StopReason::Epochs;
    let save_ckpt = |st: &mut Checkpoint,
                     adam: &Adam,
                     el: f64,
                     on_event: &mut dyn FnMut(Event)|
     -> Result<()> {
        st.elapsed_s = el;
        run::save_checkpoint(&ckpt_path, &model, adam, st)?;
        on_event(Event::Checkpoint {
            step: st.step,
            path: &ckpt_path,
        });
        Ok(())
    };
    'epochs: while st.epoch < cfg.epochs {
        let batches = epoch_batches(&lengths, batch_size, cfg.seed, st.epoch);
        while st.batch_in_epoch < batches.len() {
            if opts.stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                stop = StopReason::Interrupted;
                break 'epochs;
            }
            if cfg.max_steps > 0 && st.step >= cfg.max_steps {
                stop = StopReason::MaxSteps;
                break 'epochs;
            }
            if cfg.max_minutes > 0.0 && elapsed() >= cfg.max_minutes * 60.0 {
                stop = StopReason::MaxMinutes;
                break 'epochs;
            }
            let ds: Vec<&Stroke3> = batches[st.batch_in_epoch]
                .iter()
                .map(|&i| train[i])
                .collect();
            let loss = step(&model, &mut adam, cfg, &ds, st.step)?;
            st.log.push(LogRow {
                step: st.step + 1,
                epoch: st.epoch,
                train_loss: loss,
                valid_loss: None,
                learning_rate: cfg.optimiser.lr_at(st.step),
                elapsed_s: elapsed(),
            });
            st.step += 1;
            st.batch_in_epoch += 1;
            session_seqs += ds.len();
            let rate = session_seqs as f64 / session_start.elapsed().as_secs_f64().max(1e-9);
            on_event(Event::Step {
                row: st.log.last().expect("just pushed"),
                sequences_per_s: rate,
            });
            if cfg.checkpoint_every > 0 && st.step % cfg.checkpoint_every == 0 {
                save_ckpt(&mut st, &adam, elapsed(), on_event)?;
            }
        }
        let vl = evaluate(
            &model,
            &valid,
            batch_size,
            cfg.vae.weight_at(st.step),
            cfg.vae.kl_min,
        )?;
        if let Some(vl) = vl {
            if let Some(last) = st.log.last_mut() {
                last.valid_loss = Some(vl);
            }
            on_event(Event::Validated {
                epoch: st.epoch,
                step: st.step,
                valid_loss: vl,
            });
        }
        st.epoch += 1;
        st.batch_in_epoch = 0;
    }
    let el = elapsed();
    save_ckpt(&mut st, &adam, el, on_event)?;
    let losses = LossInfo {
        steps: st.step,
        epochs_completed: st.epoch,
        train_loss: recent_train_loss(&st.log),
        valid_loss: st.log.iter().rev().find_map(|r| r.valid_loss),
        stop,
        elapsed_s: el,
    };
    let info = ModelInfo {
        format: run::FORMAT,
        model: cfg.model.clone(),
        scale: model.scale(),
        train: cfg.clone(),
        data: st.data.clone(),
        losses: losses.clone(),
        parameters: model.parameter_count(),
    };
    run::save_model(run_dir, &model, &info)?;
    Ok(TrainSummary {
        steps: st.step,
        epochs_completed: st.epoch,
        stop,
        train_loss: losses.train_loss,
        valid_loss: losses.valid_loss,
        log: st.log,
        elapsed_s: el,
        sequences_per_s: session_seqs as f64 / session_start.elapsed().as_secs_f64().max(1e-9),
        run_dir: run_dir.to_path_buf(),
    })
}

/// Mean of the last (up to) 50 steps' training loss: one step's loss is noisy.
fn recent_train_loss(log: &[LogRow]) -> Option<f32> {
    let tail = &log[log.len().saturating_sub(50)..];
    (!tail.is_empty()).then(|| tail.iter().map(|r| r.train_loss).sum::<f32>() / tail.len() as f32)
}
