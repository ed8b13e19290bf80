//! Every setting of the model and of its training, each written once: the field, its doc
//! comment (the `--help` text and the README's) and its default, which is what `make all` uses.
//! `[train]` in `pipeline.toml` deserialises straight into [`TrainConfig`], its sub-tables
//! into the nested structs, and the `train` binary makes a flag of every key
//! (`stage::settings`). Options that lost their experiments are gone; `docs/experiments.md`
//! keeps what they did and the commit that held them.

use candle_core::Device;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;

use crate::error::{Error, Result};

/// Where to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    #[default]
    Cpu,
    Cuda,
    Metal,
}

/// How the LSTM's matrix products round their operands on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 throughout.
    #[default]
    F32,
    /// The weights' products with bf16 operands and f32 sums, on CPUs with AVX512-BF16 (AMD
    /// Zen 4 and later, Intel Sapphire Rapids and later; f32 on others): about twice the
    /// products' speed. The cells, the state, every sum and the saved weights stay f32.
    Bf16,
}

impl Precision {
    /// Why `self` does not take effect, when it does not: bf16 products run only on a CPU with
    /// AVX512-BF16 (elsewhere, and on a GPU, the LSTM runs in f32). For the stages to say so
    /// rather than run slower than asked without a word.
    pub fn fallback_note(self, on_cpu: bool) -> Option<&'static str> {
        match self {
            Precision::F32 => None,
            Precision::Bf16 if !on_cpu => Some(
                "precision = \"bf16\" applies to the CPU's products: on this device the LSTM \
                 runs in f32",
            ),
            Precision::Bf16 if !crate::bf16::available() => Some(
                "precision = \"bf16\": this CPU has no AVX512-BF16, so the LSTM's products run \
                 in f32 (the same results as \"f32\")",
            ),
            Precision::Bf16 => None,
        }
    }
}

impl DeviceKind {
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceKind::Cpu => Ok(Device::Cpu),
            DeviceKind::Cuda => cuda_device(0),
            DeviceKind::Metal => Device::new_metal(0).map_err(|e| {
                Error::Config(if candle_core::utils::metal_is_available() {
                    format!("device metal: no usable device here: {e}")
                } else {
                    "device metal: this build has no metal (build with --features metal)".into()
                })
            }),
        }
    }
}

/// The CUDA device `ordinal`, or an error that says whether the build lacks CUDA or the
/// machine a usable GPU (the stages' `--device cuda` and `cuda:N`).
pub fn cuda_device(ordinal: usize) -> Result<Device> {
    Device::new_cuda(ordinal).map_err(|e| {
        Error::Config(if candle_core::utils::cuda_is_available() {
            format!("device cuda:{ordinal}: no usable GPU or driver here: {e}")
        } else {
            "device cuda: this build has no CUDA (make cuda, docs/cuda.md)".into()
        })
    })
}

/// The output head and its loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Head {
    /// (dx, dy, pen) regressed with a masked mean squared error (the original experiment)
    Mse,
    /// a mixture of bivariate Gaussians over (dx, dy) and a softmax over draw/lift/end
    /// (sketch-rnn)
    Mdn,
}

/// What the encoder hands to the latent layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Pool {
    /// the state after each drawing's last point (per direction), as sketch-rnn
    Last,
    /// the mean of the LSTM's outputs over each drawing's points (per direction)
    Mean,
    /// one mean per node of a grid laid over the drawing's box, each point shared between its
    /// nearest nodes (see `data::pool_weights`): what is drawn where, so a small part (the
    /// eyes, the mouth) has summaries of its own instead of being averaged into the outline
    Grid,
}

impl Pool {
    /// How many summaries (per direction) the encoder hands to the latent layer.
    pub fn slots(self, grid: usize) -> usize {
        match self {
            Pool::Last | Pool::Mean => 1,
            Pool::Grid => grid * grid,
        }
    }
}

/// `[train.model]`: the network's shape. Saved in `model.json`; `embed` and `generate` rebuild
/// the model from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, SmartDefault)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Encoder LSTM width, per direction.
    #[default(64)]
    pub enc_hidden: usize,
    /// Decoder LSTM width.
    #[default(128)]
    pub dec_hidden: usize,
    /// Latent vector width.
    #[default(128)]
    pub latent: usize,
    /// Also run an encoder LSTM over each reversed drawing, as sketch-rnn.
    #[default(true)]
    pub bidirectional: bool,
    /// The encoder's summary of a drawing.
    #[default(Pool::Grid)]
    pub encoder_pool: Pool,
    /// Nodes per side of the `grid` pool.
    #[default(4)]
    pub encoder_grid: usize,
    /// The encoder also reads the pen's position after each point, in the drawing's box
    /// scaled to a longest side of 1.
    #[default(true)]
    pub encoder_positions: bool,
    /// Side in pixels of a picture of the drawing that the encoder also reads, through one
    /// dense layer beside the LSTMs (0: none).
    #[default(40)]
    pub encoder_raster: usize,
    /// Units of the picture branch's dense layer.
    #[default(256)]
    pub encoder_raster_width: usize,
    /// The decoder also reads where its pen is (relative to the first point) at every step,
    /// so it can tell when a loop has closed and where a part goes.
    #[default(true)]
    pub decoder_positions: bool,
    /// Put each drawing's strokes in a canonical order and direction (largest first, then top
    /// to bottom, left to right) before training and encoding.
    #[default(true)]
    pub canonical_order: bool,
    /// With canonical_order, each closed stroke (a ring, a head) also starts at its top.
    #[default(true)]
    pub canonical_loop_start: bool,
    /// Output head: mse (the original experiment) or mdn (sketch-rnn's mixture).
    #[default(Head::Mdn)]
    pub head: Head,
    /// Gaussian components of the mdn head.
    #[default(20)]
    pub mixtures: usize,
    /// Variational: the encoder gives mu and log-sigma, z is sampled in training with a KL
    /// term ([train.vae]); embeddings use mu.
    #[default(false)]
    pub vae: bool,
}

impl ModelConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.to_string()));
        if self.enc_hidden == 0 || self.dec_hidden == 0 {
            return bad("enc_hidden and dec_hidden must be at least 1");
        }
        if self.latent == 0 {
            return bad("latent must be at least 1");
        }
        if self.encoder_pool == Pool::Grid && !(1..=16).contains(&self.encoder_grid) {
            return bad("encoder_grid must be from 1 to 16");
        }
        if self.encoder_raster != 0 && !(4..=64).contains(&self.encoder_raster) {
            return bad("encoder_raster must be 0 (off) or from 4 to 64 pixels");
        }
        if self.encoder_raster != 0 && self.encoder_raster_width == 0 {
            return bad("encoder_raster_width must be at least 1 with encoder_raster");
        }
        if self.head == Head::Mdn && self.mixtures == 0 {
            return bad("mixtures must be at least 1 for the mdn head");
        }
        Ok(())
    }

    /// A drawing as the network sees it: canonical when `canonical_order`, else as it is.
    pub fn prepare<'a>(&self, d: &'a drawing::Stroke3) -> std::borrow::Cow<'a, drawing::Stroke3> {
        if self.canonical_order {
            std::borrow::Cow::Owned(d.canonical_with(self.canonical_loop_start))
        } else {
            std::borrow::Cow::Borrowed(d)
        }
    }

    /// How many summaries of `enc_hidden` each direction hands to the latent layer.
    pub fn summaries(&self) -> usize {
        self.encoder_pool.slots(self.encoder_grid)
    }

    pub(crate) fn out_dim(&self) -> usize {
        match self.head {
            Head::Mse => 3,
            Head::Mdn => 6 * self.mixtures + 3,
        }
    }
}

/// `[train.optimiser]`: Adam(W) with a decaying learning rate and gradient clipping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, SmartDefault)]
#[serde(deny_unknown_fields, default)]
pub struct Optimiser {
    /// Drawings per batch.
    #[default(100)]
    pub batch_size: usize,
    /// Initial learning rate.
    #[default(0.005)]
    pub learning_rate: f64,
    /// Per-step decay: lr = (learning_rate - min_lr) * lr_decay^step + min_lr.
    #[default(0.9999)]
    pub lr_decay: f64,
    /// Learning-rate floor.
    #[default(0.00001)]
    pub min_lr: f64,
    /// Clip the gradients' global norm to this (0: no clipping).
    #[default(1.0)]
    pub grad_clip: f64,
    /// Decoupled weight decay (AdamW); 0 gives Adam.
    #[default(0.0)]
    pub weight_decay: f64,
}

impl Optimiser {
    /// Learning rate at a step (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        (self.learning_rate - self.min_lr) * self.lr_decay.powf(step as f64) + self.min_lr
    }
}

/// `[train.contrastive]`: the contrastive term. Each drawing is also encoded as a second,
/// distorted view (`data::contrastive_view`), and its latent must pick out its view's among
/// the batch's (CLIP's symmetric InfoNCE), so the latent keeps what tells one drawing from
/// another, the inside of a face included, and drops what a tilt or a stretch changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, SmartDefault)]
#[serde(deny_unknown_fields, default)]
pub struct ContrastiveViews {
    /// Weight of the contrastive term (0: off). The logged train loss includes it; the valid
    /// loss leaves it out.
    #[default(0.3)]
    pub weight: f64,
    /// Temperature of the term's cosine similarities.
    #[default(0.05)]
    pub temperature: f64,
    /// Chance that each stroke is left out of the view (at least one stays), so that no one
    /// part (the outline) can tell a drawing alone.
    #[default(0.2)]
    pub stroke_drop: f32,
    /// Each stroke's chance of being left out follows its share of the ink (at most 0.5):
    /// long strokes are left out often, short ones (a nose) rarely.
    #[default(true)]
    pub drop_by_ink: bool,
    /// Largest stretch of each axis, and shear, of the view, as a share.
    #[default(0.05)]
    pub stretch: f32,
    /// Standard deviation of each point's random move in the view, as a share of the
    /// drawing's size.
    #[default(0.01)]
    pub jitter: f32,
    /// Largest change of each stroke's size about its own centre in the view, as a share.
    #[default(0.2)]
    pub stroke_scale: f32,
    /// Largest tolerance, as a share of each stroke's own size, with which the view's strokes
    /// are simplified again: the latent keeps a stroke's shape rather than how many points
    /// drew it.
    #[default(0.03)]
    pub resimplify: f32,
    /// Chance that a view with strokes left out is measured in its own box (zoomed in on what
    /// is left), as embed's part vectors are.
    #[default(0.5)]
    pub zoom: f32,
    /// Chance that a view's picture is blanked for the encoder's picture branch, so the LSTMs
    /// learn to tell drawings apart by themselves too.
    #[default(0.5)]
    pub raster_dropout: f32,
}

/// `[train.vae]`: the KL term's schedule, used when `[train.model] vae = true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, SmartDefault)]
#[serde(deny_unknown_fields, default)]
pub struct KlSchedule {
    /// Final KL weight: kl_weight * (1 - (1 - kl_weight_start) * kl_decay^step).
    #[default(0.5)]
    pub kl_weight: f64,
    /// KL weight at step 0, as a share of kl_weight.
    #[default(0.01)]
    pub kl_weight_start: f64,
    /// Per-step annealing of the KL weight.
    #[default(0.99995)]
    pub kl_decay: f64,
    /// KL floor: below it the KL term has no gradient.
    #[default(0.2)]
    pub kl_min: f64,
}

impl KlSchedule {
    /// KL weight at a step (sketch-rnn's annealing).
    pub fn weight_at(&self, step: u64) -> f64 {
        self.kl_weight * (1.0 - (1.0 - self.kl_weight_start) * self.kl_decay.powf(step as f64))
    }
}

/// `[train]`: what `train` does, with the model, the optimiser, the contrastive views and the
/// VAE term in sub-tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, SmartDefault)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Where to compute; cuda and metal need a build with that feature.
    pub device: DeviceKind,
    /// Passes over the training drawings.
    #[default(30)]
    pub epochs: u32,
    /// Stop after this many steps in all (0: no limit).
    #[default(0)]
    pub max_steps: u64,
    /// Stop after this many minutes in all, resumed runs counting their earlier time
    /// (0: no limit).
    #[default(3.0)]
    pub max_minutes: f64,
    /// Random scaling of each drawing's x and y offsets by up to this share (sketch-rnn's
    /// augmentation).
    #[default(0.15)]
    pub augment: f32,
    /// Write a checkpoint every this many steps (0: only at the end).
    #[default(500)]
    pub checkpoint_every: u64,
    /// Leave out training drawings with more points.
    #[default(250)]
    pub max_seq_len: usize,
    /// Train on at most this many drawings: a uniform sample of the table (the drawings whose
    /// key_id, hashed with `seed`, is among the smallest: the same sample whatever the order of
    /// the rows or files), read a batch at a time, so that a table of any length (the whole
    /// data set) can be the input. 0 = every drawing.
    #[default(0)]
    pub max_drawings: usize,
    /// Seed of the initialisation, the batch order and the augmentation.
    #[default(0)]
    pub seed: u64,
    /// The LSTM's matrix products on the CPU: f32, or bf16 operands with f32 sums (faster on
    /// CPUs with AVX512-BF16, f32 on others; the saved weights stay f32).
    pub precision: Precision,
    pub model: ModelConfig,
    pub optimiser: Optimiser,
    pub contrastive: ContrastiveViews,
    pub vae: KlSchedule,
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        let bad = |m: String| Err(Error::Config(m));
        let (o, c, k) = (&self.optimiser, &self.contrastive, &self.vae);
        if o.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        for (key, v) in [
            ("learning_rate", o.learning_rate),
            ("min_lr", o.min_lr),
            ("lr_decay", o.lr_decay),
            ("grad_clip", o.grad_clip),
            ("weight_decay", o.weight_decay),
            ("kl_weight", k.kl_weight),
            ("kl_min", k.kl_min),
            ("contrastive.weight", c.weight),
            ("max_minutes", self.max_minutes),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{key} must be a non-negative number, not {v}"));
            }
        }
        if !(c.temperature.is_finite() && c.temperature > 0.0) {
            return bad(format!(
                "contrastive.temperature must be a positive number, not {}",
                c.temperature
            ));
        }
        for (key, v, hi) in [
            ("augment", self.augment, 1.0f32),
            ("contrastive.stretch", c.stretch, 0.9),
            ("contrastive.jitter", c.jitter, 0.5),
            ("contrastive.stroke_scale", c.stroke_scale, 0.9),
            ("contrastive.resimplify", c.resimplify, 0.5),
            ("contrastive.stroke_drop", c.stroke_drop, 1.0),
        ] {
            if !(0.0..hi).contains(&v) {
                return bad(format!("{key} must be in [0, {hi}), not {v}"));
            }
        }
        for (key, v) in [
            ("contrastive.zoom", c.zoom),
            ("contrastive.raster_dropout", c.raster_dropout),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{key} must be in [0, 1], not {v}"));
            }
        }
        if self.max_seq_len == 0 {
            return bad("max_seq_len must be at least 1".into());
        }
        Ok(())
    }

    /// The settings that shape the weights: where it runs, the stop criteria and the
    /// checkpoint spacing may change on resume.
    pub(crate) fn trajectory(&self) -> TrainConfig {
        TrainConfig {
            device: DeviceKind::Cpu,
            epochs: 0,
            max_steps: 0,
            max_minutes: 0.0,
            checkpoint_every: 0,
            ..self.clone()
        }
    }
}
