//! The training loop: Adam(W) with per-step learning-rate decay and global-norm gradient
//! clipping, length-bucketed batches, validation after each epoch, checkpoints that resume
//! exactly, and a run folder written atomically. No file formats other than the run folder's
//! own: the caller hands in drawings.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use drawing::{Part, Stroke3};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{self, Augment};
use crate::error::{Error, Result};
use crate::lstm::LstmImpl;
use crate::model::{Contrastive, ModelConfig, SeqAe};
use crate::run::{self, Checkpoint, DataInfo, LossInfo, ModelInfo};

/// Optimisation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub batch_size: usize,
    pub learning_rate: f64,
    /// lr at step s: (learning_rate − min_lr) · lr_decay^s + min_lr
    pub lr_decay: f64,
    pub min_lr: f64,
    /// global gradient-norm clip (0: none)
    pub grad_clip: f64,
    /// decoupled (AdamW) weight decay; 0 gives Adam
    pub weight_decay: f64,
    pub epochs: u32,
    pub max_steps: Option<u64>,
    pub max_minutes: Option<f64>,
    /// random per-drawing scaling of x and y by up to this fraction (sketch-rnn: 0.15)
    pub augment: f32,
    /// The augmentation scales the whole drawing, so the encoder's positions and the
    /// contrastive view follow it ([`data::Augment::whole`]); otherwise only the offsets, and
    /// the contrastive term then teaches the latent to ignore proportions (a round head
    /// stretched 15% is an oval one).
    pub augment_whole: bool,
    /// How far the reconstruction loss weighs each stroke alike instead of each point alike
    /// (0: each point counts 1; 1: each stroke counts alike, a nose of two points as much as
    /// an outline of forty; between, the mix of the two). A small stroke barely moves a
    /// per-point loss, so the decoder (and with it the latent) can skip it; the valid loss
    /// stays per point ([`data::Augment::stroke_balance`]).
    pub recon_stroke_balance: f32,
    /// Share of the decoder's teacher-forced inputs (the previous point) blanked at random, so
    /// that the decoder cannot lean on them and must read the drawing from z (Bowman et al.'s
    /// word dropout; without it, an autoregressive decoder learns to ignore the latent).
    pub decoder_input_dropout: f32,
    /// Weight of the contrastive term (0: none). Each drawing is also encoded as a second,
    /// distorted view ([`data::contrastive_view`]: tilted, stretched, jittered); the term is
    /// the cross-entropy of telling each drawing's two latents apart from the rest of the
    /// batch's (InfoNCE, CLIP's symmetric form). The latent then has to keep what tells one
    /// face from another, the interior included, and to drop what a tilt or a stretch changes.
    /// The logged train loss includes the weighted term; the valid loss leaves it out.
    pub contrastive_weight: f64,
    /// Temperature of the contrastive term's cosine similarities.
    pub contrastive_temperature: f64,
    /// Chance that a stroke is left out of a contrastive view.
    pub contrastive_stroke_drop: f32,
    /// Each stroke's chance of being left out follows its share of the ink: long strokes are
    /// left out often, short ones (a nose) rarely ([`data::ViewDistortion::drop_by_ink`]).
    pub contrastive_drop_by_ink: bool,
    /// Largest stretch of each axis (and shear) of a contrastive view, as a share. Kept small:
    /// the aspect ratio can be what tells two kinds of drawing apart (a round face from an
    /// oval one), and the latent learns to ignore what the views change.
    pub contrastive_stretch: f32,
    /// Standard deviation of the random move of each point of a contrastive view, as a share
    /// of the drawing's size. A small part (a nose a tenth of the face wide) is changed by it
    /// far more than the whole, and the latent learns to overlook what the views change.
    pub contrastive_jitter: f32,
    /// Standard deviation of the random move of each whole stroke of a contrastive view, as a
    /// share of the drawing's size ([`data::ViewDistortion::stroke_shift`]): the latent then
    /// keeps what the parts are (a dot or a triangle for a nose) before exactly where they sit.
    pub contrastive_stroke_shift: f32,
    /// Largest change of the size of each stroke of a contrastive view about its own centre,
    /// as a share ([`data::ViewDistortion::stroke_scale`]).
    pub contrastive_stroke_scale: f32,
    /// Largest tolerance, as a share of each stroke's size, with which a contrastive view's
    /// strokes are simplified again ([`data::ViewDistortion::resimplify`]): the latent keeps a
    /// stroke's shape, not how many points drew it.
    pub contrastive_resimplify: f32,
    /// Chance that a contrastive view with strokes left out is measured in its own box, zoomed
    /// in on what is left, instead of in the whole drawing's: the parts inside a face then fill
    /// the encoder's grid, as they do in `embed`'s inside vectors with `inside_frame = "own"`.
    pub contrastive_zoom: f32,
    /// Each contrastive view also gets a hard negative: the view without one more stroke,
    /// chosen alike among its strokes ([`data::ViewDistortion::hard_negative`]), which the
    /// drawing's latent must rank below its view. Costs a third encoder pass per step.
    pub contrastive_hard_negatives: bool,
    /// Chance that a training example is one part of its drawing instead of the whole
    /// ([`drawing::Stroke3::parts`]: inside, outline or outside, chosen alike among those it
    /// has), in the part's own box, as `embed` encodes the part vectors. The encoder then
    /// learns those vectors as drawings of their own, and the contrastive term tells each
    /// face's inside from the other faces' insides, where only the eyes, the nose and the
    /// mouth can tell them apart, not the outline or the hair.
    pub part_examples: f32,
    /// Chance that a contrastive view's picture is blanked for the encoder's raster branch
    /// (`encoder_raster`), so that the LSTMs learn to tell drawings apart by themselves as well
    /// (see [`data::Augment::raster_dropout`]).
    pub raster_dropout: f32,
    /// KL weight of the VAE: kl_weight · (1 − (1 − kl_weight_start) · kl_decay^step)
    pub kl_weight: f64,
    pub kl_weight_start: f64,
    pub kl_decay: f64,
    /// KL floor: the KL term is max(KL, kl_min)
    pub kl_min: f64,
    /// steps between checkpoints (0: only at the end)
    pub checkpoint_every: u64,
    /// training drawings with more points are left out (and counted)
    pub max_seq_len: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch_size: 100,
            learning_rate: 1e-3,
            lr_decay: 0.9999,
            min_lr: 1e-5,
            grad_clip: 1.0,
            weight_decay: 0.0,
            epochs: 5,
            max_steps: None,
            max_minutes: None,
            augment: 0.15,
            augment_whole: false,
            recon_stroke_balance: 0.0,
            decoder_input_dropout: 0.0,
            contrastive_weight: 0.0,
            contrastive_temperature: 0.1,
            contrastive_stroke_drop: 0.0,
            contrastive_drop_by_ink: false,
            contrastive_stretch: 0.15,
            contrastive_jitter: 0.01,
            contrastive_stroke_shift: 0.0,
            contrastive_stroke_scale: 0.0,
            contrastive_resimplify: 0.0,
            contrastive_zoom: 0.0,
            contrastive_hard_negatives: false,
            part_examples: 0.0,
            raster_dropout: 0.0,
            kl_weight: 0.5,
            kl_weight_start: 0.01,
            kl_decay: 0.99995,
            kl_min: 0.2,
            checkpoint_every: 500,
            max_seq_len: 250,
            seed: 0,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        for (k, v) in [
            ("learning_rate", self.learning_rate),
            ("min_lr", self.min_lr),
            ("lr_decay", self.lr_decay),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{k} must be a non-negative number, not {v}"));
            }
        }
        for (k, v) in [
            ("grad_clip", self.grad_clip),
            ("weight_decay", self.weight_decay),
            ("kl_weight", self.kl_weight),
            ("kl_min", self.kl_min),
            ("contrastive_weight", self.contrastive_weight),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{k} must be a non-negative number, not {v}"));
            }
        }
        if !(self.contrastive_temperature.is_finite() && self.contrastive_temperature > 0.0) {
            return bad(format!(
                "contrastive_temperature must be a positive number, not {}",
                self.contrastive_temperature
            ));
        }
        for (k, v, hi) in [
            ("augment", self.augment, 1.0f32),
            ("contrastive_stretch", self.contrastive_stretch, 0.9),
            ("contrastive_jitter", self.contrastive_jitter, 0.5),
            (
                "contrastive_stroke_shift",
                self.contrastive_stroke_shift,
                0.5,
            ),
            (
                "contrastive_stroke_scale",
                self.contrastive_stroke_scale,
                0.9,
            ),
            ("contrastive_resimplify", self.contrastive_resimplify, 0.5),
            ("contrastive_stroke_drop", self.contrastive_stroke_drop, 1.0),
            ("decoder_input_dropout", self.decoder_input_dropout, 1.0),
        ] {
            // f32 prints 1.0 as "1": the messages read "[0, 1)" as before
            if !(0.0..hi).contains(&v) {
                return bad(format!("{k} must be in [0, {hi}), not {v}"));
            }
        }
        for (k, v) in [
            ("contrastive_zoom", self.contrastive_zoom),
            ("recon_stroke_balance", self.recon_stroke_balance),
            ("part_examples", self.part_examples),
            ("raster_dropout", self.raster_dropout),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{k} must be in [0, 1], not {v}"));
            }
        }
        if let Some(m) = self.max_minutes {
            if !(m.is_finite() && m >= 0.0) {
                return bad(format!(
                    "max_minutes must be a non-negative number, not {m}"
                ));
            }
        }
        if self.max_seq_len == 0 {
            return bad("max_seq_len must be at least 1".into());
        }
        Ok(())
    }

    /// Learning rate at a step (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        (self.learning_rate - self.min_lr) * self.lr_decay.powf(step as f64) + self.min_lr
    }

    /// KL weight at a step (sketch-rnn's annealing).
    pub fn kl_weight_at(&self, step: u64) -> f64 {
        self.kl_weight * (1.0 - (1.0 - self.kl_weight_start) * self.kl_decay.powf(step as f64))
    }

    /// The settings that shape the weights; stop criteria and checkpoint spacing may change on
    /// resume.
    fn trajectory(&self) -> TrainConfig {
        TrainConfig {
            epochs: 0,
            max_steps: None,
            max_minutes: None,
            checkpoint_every: 0,
            ..self.clone()
        }
    }
}

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

/// One row of the training log (one per step; `valid_loss` on the last step of an epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    pub step: u64,
    pub epoch: u32,
    pub train_loss: f32,
    pub valid_loss: Option<f32>,
    pub learning_rate: f64,
    pub elapsed_s: f64,
}

/// Why training stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    Epochs,
    MaxSteps,
    MaxMinutes,
    Interrupted,
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

/// Adam with decoupled weight decay, its moments kept in the open so checkpoints hold them.
pub(crate) struct Adam {
    pub vars: Vec<(String, Var)>,
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    pub t: u64,
    weight_decay: f64,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

impl Adam {
    pub fn new(model: &SeqAe, weight_decay: f64) -> Result<Self> {
        let vars = model.named_vars();
        let m = vars
            .iter()
            .map(|(_, v)| v.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        let v = vars
            .iter()
            .map(|(_, v)| v.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Adam {
            vars,
            m,
            v,
            t: 0,
            weight_decay,
        })
    }

    /// One update; returns the gradient norm before clipping.
    pub fn step(&mut self, grads: &GradStore, lr: f64, clip: f64) -> Result<f64> {
        let mut sq = 0f64;
        for (_, var) in &self.vars {
            if let Some(g) = grads.get(var) {
                sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            }
        }
        let norm = sq.sqrt();
        let scale = if clip > 0.0 && norm > clip {
            clip / norm
        } else {
            1.0
        };
        self.t += 1;
        let bc1 = 1.0 - BETA1.powf(self.t as f64);
        let bc2 = 1.0 - BETA2.powf(self.t as f64);
        for (k, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var) else { continue };
            let g = g.affine(scale, 0.0)?;
            self.m[k] = (self.m[k].affine(BETA1, 0.0)? + g.affine(1.0 - BETA1, 0.0)?)?;
            self.v[k] = (self.v[k].affine(BETA2, 0.0)? + g.sqr()?.affine(1.0 - BETA2, 0.0)?)?;
            let denom = self.v[k].affine(1.0 / bc2, 0.0)?.sqrt()?.affine(1.0, EPS)?;
            let update = self.m[k].div(&denom)?.affine(lr / bc1, 0.0)?;
            let decayed = if self.weight_decay > 0.0 {
                var.as_tensor().affine(1.0 - lr * self.weight_decay, 0.0)?
            } else {
                var.as_tensor().clone()
            };
            var.set(&(decayed - update)?)?;
        }
        Ok(norm)
    }
}

/// A prepared drawing's parts that can stand as training examples of their own: each of
/// inside, outline and outside that it has, with at least two points.
fn parts_of(d: &Stroke3) -> Vec<Stroke3> {
    let Some(cut) = d.parts() else {
        return Vec::new();
    };
    [Part::Inside, Part::Outline, Part::Outside]
        .into_iter()
        .filter_map(|p| cut.get(p).cloned())
        .filter(|p| p.len() >= 2 && p.len() < d.len())
        .collect()
}

/// The example a drawing gives this step: with chance `share` one of its parts, chosen alike,
/// else the drawing itself (always, when it has no parts).
fn pick_example<'a>(
    d: &'a Stroke3,
    parts: &'a [Stroke3],
    share: f32,
    rng: &mut dyn rand::Rng,
) -> &'a Stroke3 {
    if parts.is_empty() || !rand::RngExt::random_bool(rng, share as f64) {
        d
    } else {
        &parts[rand::RngExt::random_range(rng, 0..parts.len())]
    }
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

/// Trains a model into `opts.run_dir` (created if needed): `checkpoint.safetensors` every
/// `checkpoint_every` steps and at the end, `model.safetensors` + `model.json` at the end
/// (also after an interruption).
pub fn train(
    model_cfg: &ModelConfig,
    cfg: &TrainConfig,
    data: &TrainData,
    opts: &TrainOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<TrainSummary> {
    model_cfg.validate()?;
    cfg.validate()?;
    let started = Instant::now();
    let run_dir = opts.run_dir;
    std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
    let ckpt_path = run::checkpoint_path(run_dir);

    for (i, d) in data.train.iter().enumerate() {
        data::validate(d, i).map_err(|e| in_split("train", e))?;
    }
    for (i, d) in data.valid.iter().enumerate() {
        data::validate(d, i).map_err(|e| in_split("valid", e))?;
    }
    // the model learns its drawings as it will encode them (copies only when canonical_order)
    fn prepared<'a>(
        set: &'a [Stroke3],
        model_cfg: &ModelConfig,
        max_len: usize,
    ) -> Vec<std::borrow::Cow<'a, Stroke3>> {
        set.iter()
            .filter(|d| d.len() <= max_len)
            .map(|d| model_cfg.prepare(d))
            .collect()
    }
    let train_set = prepared(data.train, model_cfg, cfg.max_seq_len);
    let valid_set = prepared(data.valid, model_cfg, cfg.max_seq_len);
    let train: Vec<&Stroke3> = train_set.iter().map(|d| d.as_ref()).collect();
    let train_parts: Vec<Vec<Stroke3>> = if cfg.part_examples > 0.0 {
        train.iter().map(|d| parts_of(d)).collect()
    } else {
        Vec::new()
    };
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

    // fresh or resumed state
    let resume_from = if ckpt_path.exists() || run::previous_checkpoint_path(run_dir).exists() {
        if !opts.resume {
            return Err(Error::Config(format!(
                "{} already holds a checkpoint: resume it, or train into another folder",
                run_dir.display()
            )));
        }
        run::load_latest_checkpoint(run_dir, opts.lstm, &opts.device)?
    } else {
        None
    };
    let (model, mut adam, mut st) = match resume_from {
        Some((model, adam, st)) => {
            let mismatch = |what: String| Error::ResumeMismatch {
                path: ckpt_path.clone(),
                what,
            };
            if &st.model != model_cfg {
                return Err(mismatch(format!("model {:?} vs {:?}", st.model, model_cfg)));
            }
            if st.train.trajectory() != cfg.trajectory() {
                return Err(mismatch(format!(
                    "training {:?} vs {:?}",
                    st.train.trajectory(),
                    cfg.trajectory()
                )));
            }
            if st.data.train_rows != data_info.train_rows
                || st.data.valid_rows != data_info.valid_rows
            {
                return Err(mismatch(format!(
                    "{} training / {} validation drawings then, {} / {} now",
                    st.data.train_rows,
                    st.data.valid_rows,
                    data_info.train_rows,
                    data_info.valid_rows
                )));
            }
            (model, adam, st)
        }
        None => {
            let scale = data::scale_factor(data.train);
            let model = SeqAe::new(model_cfg, scale, cfg.seed, opts.lstm, &opts.device)?;
            let adam = Adam::new(&model, cfg.weight_decay)?;
            let st = Checkpoint {
                format: run::FORMAT,
                step: 0,
                epoch: 0,
                batch_in_epoch: 0,
                elapsed_s: 0.0,
                scale,
                model: model_cfg.clone(),
                train: cfg.clone(),
                data: data_info.clone(),
                log: Vec::new(),
            };
            (model, adam, st)
        }
    };
    st.train = cfg.clone();
    st.data.path = data_info.path.clone();
    st.data.rows = data_info.rows;
    let prior_elapsed = st.elapsed_s;
    let elapsed = || prior_elapsed + started.elapsed().as_secs_f64();

    let lengths: Vec<usize> = train.iter().map(|d| d.len()).collect();
    let steps_per_epoch = lengths.len().div_ceil(cfg.batch_size);
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
        let batches = epoch_batches(&lengths, cfg.batch_size, cfg.seed, st.epoch);
        while st.batch_in_epoch < batches.len() {
            if opts.stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                stop = StopReason::Interrupted;
                break 'epochs;
            }
            if cfg.max_steps.is_some_and(|m| st.step >= m) {
                stop = StopReason::MaxSteps;
                break 'epochs;
            }
            if cfg.max_minutes.is_some_and(|m| elapsed() >= m * 60.0) {
                stop = StopReason::MaxMinutes;
                break 'epochs;
            }
            let idx = &batches[st.batch_in_epoch];
            let ds: Vec<&Stroke3> = if train_parts.is_empty() {
                idx.iter().map(|&i| train[i]).collect()
            } else {
                // a stream of its own, so the other draws of a step stay as they were
                let mut r = step_rng(cfg.seed ^ 0x9a27_0000_0000, st.step);
                idx.iter()
                    .map(|&i| pick_example(train[i], &train_parts[i], cfg.part_examples, &mut r))
                    .collect()
            };
            let mut rng = step_rng(cfg.seed, st.step);
            let batch = data::make_batch(
                &ds,
                model.scale(),
                model_cfg,
                Some(Augment {
                    amount: cfg.augment,
                    whole: cfg.augment_whole,
                    stroke_balance: cfg.recon_stroke_balance,
                    decoder_input_dropout: cfg.decoder_input_dropout,
                    contrastive_view: (cfg.contrastive_weight > 0.0).then_some(
                        data::ViewDistortion {
                            stroke_drop: cfg.contrastive_stroke_drop,
                            drop_by_ink: cfg.contrastive_drop_by_ink,
                            stretch: cfg.contrastive_stretch,
                            jitter: cfg.contrastive_jitter,
                            stroke_shift: cfg.contrastive_stroke_shift,
                            stroke_scale: cfg.contrastive_stroke_scale,
                            resimplify: cfg.contrastive_resimplify,
                            zoom: cfg.contrastive_zoom,
                            hard_negative: cfg.contrastive_hard_negatives,
                        },
                    ),
                    raster_dropout: cfg.raster_dropout,
                    rng: &mut rng,
                }),
                model.device(),
            )?;
            let noise = if model_cfg.vae {
                let n = ds.len() * model_cfg.latent;
                let v: Vec<f32> = (0..n)
                    .map(|_| rand::RngExt::sample(&mut rng, rand_distr::StandardNormal))
                    .collect();
                Some(Tensor::from_vec(
                    v,
                    (ds.len(), model_cfg.latent),
                    model.device(),
                )?)
            } else {
                None
            };
            let lr = cfg.lr_at(st.step);
            let losses = model.loss(
                &batch,
                noise.as_ref(),
                cfg.kl_weight_at(st.step),
                cfg.kl_min,
                (cfg.contrastive_weight > 0.0).then_some(Contrastive {
                    weight: cfg.contrastive_weight,
                    temperature: cfg.contrastive_temperature,
                }),
            )?;
            let loss = losses.total.to_scalar::<f32>()?;
            if !loss.is_finite() {
                return Err(Error::Config(format!(
                    "training diverged at step {} (loss {loss}); lower learning_rate or grad_clip",
                    st.step
                )));
            }
            let grads = losses.total.backward()?;
            adam.step(&grads, lr, cfg.grad_clip)?;
            st.step += 1;
            st.batch_in_epoch += 1;
            session_seqs += ds.len();
            let row = LogRow {
                step: st.step,
                epoch: st.epoch,
                train_loss: loss,
                valid_loss: None,
                learning_rate: lr,
                elapsed_s: elapsed(),
            };
            st.log.push(row);
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
            cfg.batch_size,
            cfg.kl_weight_at(st.step),
            cfg.kl_min,
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
        model: model_cfg.clone(),
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

#[cfg(test)]
mod part_example_tests {
    use super::*;
    use drawing::Stroke;

    /// A triangle outline, a mouth inside it and a mark outside it.
    fn face() -> Stroke3 {
        Stroke3::from_strokes(&[
            Stroke::new(vec![0.0, 100.0, 50.0, 0.0], vec![0.0, 0.0, 100.0, 0.0]),
            Stroke::new(vec![5.0, 10.0, 8.0], vec![90.0, 95.0, 99.0]),
            Stroke::new(vec![40.0, 50.0, 60.0], vec![30.0, 35.0, 30.0]),
        ])
    }

    #[test]
    fn the_parts_are_those_embed_encodes() {
        let d = face();
        let parts = parts_of(&d);
        let want: Vec<Stroke3> = [Part::Inside, Part::Outline, Part::Outside]
            .into_iter()
            .map(|p| d.part(p).unwrap())
            .collect();
        assert_eq!(parts, want);
        // a drawing of one stroke is its own outline: no part to stand in for it
        let alone = Stroke3::from_strokes(&[Stroke::new(vec![0.0, 9.0], vec![0.0, 9.0])]);
        assert!(parts_of(&alone).is_empty());
    }

    #[test]
    fn parts_stand_in_for_their_drawing_as_often_as_asked() {
        let d = face();
        let parts = parts_of(&d);
        let mut rng = step_rng(3, 0);
        let which = |e: &Stroke3| parts.iter().position(|p| std::ptr::eq(p, e));
        for _ in 0..100 {
            assert!(std::ptr::eq(pick_example(&d, &parts, 0.0, &mut rng), &d));
            assert!(std::ptr::eq(pick_example(&d, &[], 1.0, &mut rng), &d));
        }
        let mut seen = [0usize; 3];
        for _ in 0..600 {
            seen[which(pick_example(&d, &parts, 1.0, &mut rng)).unwrap()] += 1;
        }
        assert!(
            seen.iter().all(|&n| n > 150),
            "each part chosen alike: {seen:?}"
        );
        let replaced = (0..1000)
            .filter(|_| which(pick_example(&d, &parts, 0.3, &mut rng)).is_some())
            .count();
        assert!((240..360).contains(&replaced), "{replaced} of 1000 at 0.3");
    }
}
