//! The LSTM sequence autoencoder: turns stroke-3 drawings into fixed-width latent vectors
//! (and back), with its training loop, checkpoints and run folders.
//!
//! - [`config`]: every setting, each written once ([`TrainConfig`] is `pipeline.toml`'s
//!   `[train]`, [`ModelConfig`] its `[train.model]`).
//! - [`model::SeqAe`]: the network, put together from [`parts`] (encoder, picture branch,
//!   latent head, decoder); [`SeqAe::encode`] turns drawings into latent vectors,
//!   [`SeqAe::decode`] turns latent vectors into drawings. [`model`] also holds the losses,
//!   [`mdn`] the mixture loss as one CPU op.
//! - [`data`]: drawings to padded, masked batches and encoder inputs; what they carry besides
//!   their rows is made in [`pool`] (the encoder's pooling weights), [`raster`] (pictures for
//!   its raster branch) and [`views`] (the contrastive views), all measured in a [`frame`].
//! - [`optim`]: Adam(W); [`train::train`]: the loop, from drawings into a run folder.
//! - [`run`]: the run folder (`model.json`, weights, checkpoints); [`run::load`] gives back a
//!   model.
//! - [`lstm`] and [`kernel`] hold the fast CPU LSTM (one custom op per layer and sequence),
//!   [`f32x8`] its step products in f32 on AVX2, [`bf16`] those at `precision = "bf16"`;
//!   [`cell`] the fused gate cell of CUDA's step loop.

pub mod bf16;
pub mod cell;
pub mod config;
pub mod data;
pub mod error;
pub mod f32x8;
pub mod frame;
pub mod kernel;
pub mod lstm;
pub mod mdn;
pub mod model;
pub mod optim;
pub mod parts;
pub mod pool;
pub mod raster;
pub mod run;
pub mod train;
pub mod views;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use config::{
    ContrastiveViews, DeviceKind, Head, KlSchedule, ModelConfig, Optimiser, Pool, Precision,
    TrainConfig,
};
pub use error::{Error, Result};
pub use lstm::LstmImpl;
pub use model::{DecodeMode, SeqAe};
pub use run::{load, load_with, LogRow, ModelInfo, StopReason};
pub use train::{train, Event, TrainData, TrainOptions, TrainSummary};
