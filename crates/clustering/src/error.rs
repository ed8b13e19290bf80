//! The one error type of the crate.

/// Why a clustering call refused its input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ClusterError {
    #[error("matrix has no rows")]
    Empty,
    #[error("matrix dimension must be at least 1")]
    ZeroDim,
    #[error("matrix of {len} values is not a whole number of rows of dimension {dim}")]
    Shape { len: usize, dim: usize },
    #[error("row {row} has {got} values, expected {expected}")]
    RaggedRow {
        row: usize,
        got: usize,
        expected: usize,
    },
    #[error("row {row}, column {col}: value {value} is not finite")]
    NonFinite { row: usize, col: usize, value: f32 },
    #[error("{what}: {n} values, but the matrix has {rows} rows")]
    LengthMismatch {
        what: &'static str,
        n: usize,
        rows: usize,
    },
    #[error("invalid parameter {name}: {reason}")]
    Param { name: &'static str, reason: String },
    #[error("hdbscan crate failed: {0}")]
    Hdbscan(String),
    #[error("{}: {reason}", path.display())]
    File {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("{0}")]
    ModelMismatch(String),
}

pub type Result<T> = std::result::Result<T, ClusterError>;
