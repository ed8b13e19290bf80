//! The one error type of the readers: what went wrong, in which file, where.

use crate::Location;
use std::path::{Path, PathBuf};

/// A bad record or an unreadable file, with the file's path and the place in it.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {kind}", path.display(), location.as_ref().map(|l| format!(": {l}")).unwrap_or_default())]
pub struct RecordError {
    pub path: PathBuf,
    /// `None` for errors about the whole file (cannot open, wrong format).
    pub location: Option<Location>,
    pub kind: ErrorKind,
}

impl RecordError {
    pub fn new(path: &Path, location: Option<Location>, kind: ErrorKind) -> Self {
        RecordError {
            path: path.to_path_buf(),
            location,
            kind,
        }
    }

    /// True when the reader stops after this error (the rest of the file cannot be read);
    /// false when it goes on with the next record.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self.kind,
            ErrorKind::Json(_)
                | ErrorKind::EmptyDrawing
                | ErrorKind::LengthMismatch { .. }
                | ErrorKind::StrokeLists { .. }
                | ErrorKind::MixedStrokes { .. }
                | ErrorKind::OutOfRange { .. }
                | ErrorKind::Timestamp(_)
                | ErrorKind::Invalid(_)
        )
    }
}

/// What is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot open: {0}")]
    Open(#[source] std::io::Error),
    #[error("read failed: {0}")]
    Read(#[source] std::io::Error),
    #[error("unknown format: the file name must end in .ndjson, .ndjson.gz, .bin or .npz")]
    UnknownFormat,
    #[error("named as {expected} but holds {found}")]
    FormatMismatch {
        expected: &'static str,
        found: String,
    },
    #[error("malformed line: {0}")]
    Json(#[source] serde_json::Error),
    #[error("empty drawing (no points)")]
    EmptyDrawing,
    #[error("stroke {stroke}: x has {x} values, y has {y}{}", t.map(|t| format!(", t has {t}")).unwrap_or_default())]
    LengthMismatch {
        stroke: usize,
        x: usize,
        y: usize,
        t: Option<usize>,
    },
    #[error("stroke {stroke} has {lists} lists; expected [x, y] or [x, y, t]")]
    StrokeLists { stroke: usize, lists: usize },
    #[error("stroke {stroke} has {lists} lists but stroke 0 has {first}: raw and simplified strokes mixed")]
    MixedStrokes {
        stroke: usize,
        lists: usize,
        first: usize,
    },
    #[error("stroke {stroke}, point {point}: {axis} = {value} is outside {allowed}")]
    OutOfRange {
        stroke: usize,
        point: usize,
        axis: &'static str,
        value: f64,
        allowed: &'static str,
    },
    #[error("bad timestamp {0:?}: expected \"YYYY-MM-DD HH:MM:SS[.ffffff] UTC\"")]
    Timestamp(String),
    #[error("bad record: {0}")]
    Invalid(String),
    #[error("truncated: {0}")]
    Truncated(String),
    #[error("the archive holds none of the arrays train, valid, test or sketches (members: {0})")]
    NpzMissingArrays(String),
    #[error("bad npy array: {0}")]
    Npy(String),
    #[error("bad pickle: {0}")]
    Pickle(String),
}
