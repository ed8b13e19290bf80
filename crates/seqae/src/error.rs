//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in this crate. Drawing indices are positions in the slice
/// the caller passed in.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("drawing {index}: no points")]
    EmptyDrawing { index: usize },
    #[error("drawing {index}, point {point}: {column} is not finite ({value})")]
    NonFinite {
        index: usize,
        point: usize,
        column: &'static str,
        value: f32,
    },
    #[error("drawing {index}: columns differ in length (dx {dx}, dy {dy}, pen {pen})")]
    Ragged {
        index: usize,
        dx: usize,
        dy: usize,
        pen: usize,
    },
    #[error("latent input has {got} values, not a multiple of the model's latent width {width}")]
    LatentWidth { got: usize, width: usize },
    #[error("latent vector {index}: value {position} is not finite")]
    LatentNonFinite { index: usize, position: usize },
    #[error("{split} split: {source}")]
    InSplit {
        split: &'static str,
        source: Box<Error>,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(
        "no training drawings (after dropping {dropped} longer than max_seq_len {max_seq_len})"
    )]
    NoTrainingData { dropped: usize, max_seq_len: usize },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {msg}")]
    BadFile { path: PathBuf, msg: String },
    #[error("{path}: the checkpoint was written with a different configuration ({what}); start a new run folder or use the same settings")]
    ResumeMismatch { path: PathBuf, what: String },
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn bad_file(path: impl Into<PathBuf>, msg: impl std::fmt::Display) -> Self {
        Error::BadFile {
            path: path.into(),
            msg: msg.to_string(),
        }
    }
}
