use std::path::PathBuf;

/// Everything that can go wrong reading or writing a table; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable Parquet file: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("{path}: {source}")]
    Arrow {
        path: PathBuf,
        source: arrow::error::ArrowError,
    },
    #[error("{path}: missing column `{column}` (is this a {table} table?)")]
    MissingColumn {
        path: PathBuf,
        column: String,
        table: &'static str,
    },
    #[error("{path}: column `{column}` has type {found}, expected {expected}")]
    WrongType {
        path: PathBuf,
        column: String,
        expected: String,
        found: String,
    },
    #[error("{path}: row {row}: {message}")]
    BadRow {
        path: PathBuf,
        row: usize,
        message: String,
    },
    #[error("{path}: a `{found}` table, not the `{expected}` table expected here")]
    WrongTable {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl TableError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        TableError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn parquet(path: &std::path::Path, source: parquet::errors::ParquetError) -> Self {
        TableError::Parquet {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn arrow(path: &std::path::Path, source: arrow::error::ArrowError) -> Self {
        TableError::Arrow {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn bad_row(path: &std::path::Path, row: usize, message: impl Into<String>) -> Self {
        TableError::BadRow {
            path: path.to_path_buf(),
            row,
            message: message.into(),
        }
    }
    pub(crate) fn invalid(path: &std::path::Path, message: impl Into<String>) -> Self {
        TableError::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}
