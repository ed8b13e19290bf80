//! The LSTM sequence autoencoder: turns stroke-3 drawings into fixed-width latent vectors
//! (and back), with its training loop, checkpoints and run folders.
//!
//! - [`train::train`] trains from drawings into a run folder (the `train` binary reads the
//!   Parquet file and calls it).
//! - [`run::load`] gives back a [`SeqAe`]; [`SeqAe::encode`] turns drawings into latent
//!   vectors, [`SeqAe::decode`] turns latent vectors into drawings.
//! - [`lstm`] and [`kernel`] hold the fast CPU LSTM (one custom op per layer and sequence).

pub mod data;
pub mod error;
pub mod kernel;
pub mod lstm;
pub mod model;
pub mod run;
pub mod train;

#[cfg(test)]
mod tests;

pub use error::{Error, Result};
pub use lstm::LstmImpl;
pub use model::{Contrastive, DecodeMode, Head, ModelConfig, Pool, SeqAe};
pub use run::{load, ModelInfo};
pub use train::{
    train, Event, LogRow, StopReason, TrainConfig, TrainData, TrainOptions, TrainSummary,
};
