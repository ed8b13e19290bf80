//! Streaming readers for the four public file formats of Google's Quick, Draw! data set.
//!
//! Every reader yields one [`Record`] (or one [`RecordError`]) per drawing, in file order, and
//! never holds a whole file in memory:
//!
//! | file name | format | module |
//! | --- | --- | --- |
//! | `*.ndjson`, `*.ndjson.gz` | one JSON object a line; *simplified* (`[[x…],[y…]]` per stroke, 0–255) or *raw* (`[[x…],[y…],[t…]]`, canvas pixels, ms) told apart by content | [`ndjson`] |
//! | `*.bin` | Google's binary layout (`binary_file_parser.py`) | [`binary`] |
//! | `*.npz` | sketch-rnn stroke-3 arrays (`train`/`valid`/`test`, or a single `sketches`) | [`npz`] |
//!
//! [`open`] picks the reader from the file name and checks the content against it. Drawings
//! come out as [`drawing::Stroke3`]; raw files also give per-point times.
//!
//! Errors name the file and the line (ndjson), record index and byte offset (bin) or array
//! member and index (npz). A reader continues after a bad record where the format allows it
//! (ndjson: the next line; bin: the next record unless the file is truncated; npz: the next
//! drawing unless the pickle itself is broken); [`RecordError::is_fatal`] says when it cannot.
//!
//! For speed on large ndjson files, [`ndjson::read_lines_batched`] yields batches of raw lines
//! that [`ndjson::LineBatch::parse_par`] parses on all cores, keeping file order; or, without
//! an allocation per drawing, [`ndjson::LineBatch::par_runs`] with a [`ndjson::LineParser`]
//! per run, which gives [`RecordRef`]s.

pub mod binary;
mod error;
mod fastline;
mod fields;
// (also in this crate's unit tests, which build their `.npy` files with it)
#[cfg(any(test, feature = "fuzz"))]
#[doc(hidden)]
pub mod fuzz;
pub mod ndjson;
pub mod npz;
mod pickle;
mod timestamp;

pub use error::{ErrorKind, RecordError};
pub use timestamp::parse_timestamp;

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

pub use drawing::Stroke3;

/// Largest absolute raw coordinate accepted: raw canvases are a few thousand pixels wide, so
/// anything beyond this is a corrupt value rather than a big drawing.
pub const RAW_COORD_LIMIT: f32 = 1e5;

/// One drawing, whatever file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The data set's key (a decimal u64 in Google's files); for npz files, which have none,
    /// `"<file stem>:<member>:<index>"`, e.g. `"face_sketchrnn_test:sketches:17"`.
    pub key_id: String,
    /// The category, e.g. `"face"` (absent in npz and bin files).
    pub word: Option<String>,
    /// Two-letter country code of the player.
    pub countrycode: Option<String>,
    /// Whether the game recognised the drawing.
    pub recognized: Option<bool>,
    /// When it was drawn, in microseconds since the Unix epoch (UTC). Bin files store whole
    /// seconds only.
    pub timestamp: Option<i64>,
    /// The sketch-rnn split (npz `train`/`valid`/`test` members); `None` elsewhere and for a
    /// single `sketches` array.
    pub split: Option<Split>,
    /// Which format (and so which coordinate units) the drawing came from.
    pub source: Source,
    pub drawing: Stroke3,
    /// Raw files only: milliseconds since the drawing's first point, one per stroke-3 row.
    pub times: Option<Vec<f64>>,
    /// Extra `"labels": {"factor": "level"}` of synthetic drawings, in file order.
    pub labels: Vec<(String, String)>,
    /// Where in the file the record was.
    pub location: Location,
}

/// A record borrowed from the buffers of the parser that read it ([`ndjson::LineParser`]) or
/// from a [`Record`]: the same fields, without an allocation per drawing. The ingest stage
/// takes records this way, straight into its column builders.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRef<'a> {
    pub key_id: Cow<'a, str>,
    pub word: Option<Cow<'a, str>>,
    pub countrycode: Option<Cow<'a, str>>,
    pub recognized: Option<bool>,
    pub timestamp: Option<i64>,
    pub split: Option<Split>,
    pub source: Source,
    pub drawing: &'a Stroke3,
    pub times: Option<&'a [f64]>,
    pub labels: &'a [(String, String)],
    pub location: Location,
}

impl Record {
    /// The record as borrowed fields.
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            key_id: Cow::Borrowed(&self.key_id),
            word: self.word.as_deref().map(Cow::Borrowed),
            countrycode: self.countrycode.as_deref().map(Cow::Borrowed),
            recognized: self.recognized,
            timestamp: self.timestamp,
            split: self.split,
            source: self.source,
            drawing: &self.drawing,
            times: self.times.as_deref(),
            labels: &self.labels,
            location: self.location.clone(),
        }
    }
}

impl RecordRef<'_> {
    /// An owned copy.
    pub fn to_record(&self) -> Record {
        Record {
            key_id: self.key_id.clone().into_owned(),
            word: self.word.clone().map(Cow::into_owned),
            countrycode: self.countrycode.clone().map(Cow::into_owned),
            recognized: self.recognized,
            timestamp: self.timestamp,
            split: self.split,
            source: self.source,
            drawing: self.drawing.clone(),
            times: self.times.map(<[f64]>::to_vec),
            labels: self.labels.to_vec(),
            location: self.location.clone(),
        }
    }
}

/// The format a record was read from; it fixes the coordinate units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Simplified ndjson: integers 0–255.
    Simplified,
    /// Raw ndjson: canvas pixels, possibly fractional, with times.
    Raw,
    /// Google's binary format: simplified coordinates 0–255.
    Binary,
    /// sketch-rnn npz: int16 offsets in sketch-rnn's own scale.
    SketchRnn,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Simplified => "simplified",
            Source::Raw => "raw",
            Source::Binary => "binary",
            Source::SketchRnn => "sketchrnn",
        }
    }
}

/// A sketch-rnn data split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

/// Where a record (or an error) sits in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// 1-based line number (ndjson).
    Line(u64),
    /// 0-based record index and the byte offset where the record starts (bin).
    Record { index: u64, offset: u64 },
    /// npz member (e.g. `"train"`) and 0-based index of the drawing in it.
    Array { member: &'static str, index: u64 },
    /// A byte offset in the file (or, for npz, in the named member's decompressed data).
    Offset {
        member: Option<&'static str>,
        offset: u64,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Record { index, offset } => write!(f, "record {index} (byte {offset})"),
            Location::Array { member, index } => write!(f, "{member}[{index}]"),
            Location::Offset {
                member: Some(m),
                offset,
            } => write!(f, "{m}.npy byte {offset}"),
            Location::Offset {
                member: None,
                offset,
            } => write!(f, "byte {offset}"),
        }
    }
}

/// A file format, told by the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    NdjsonGz,
    Bin,
    Npz,
}

impl Format {
    /// The format a file name promises (`.ndjson`, `.ndjson.gz`, `.bin`, `.npz`, any case).
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".ndjson.gz") {
            Some(Format::NdjsonGz)
        } else if name.ends_with(".ndjson") {
            Some(Format::Ndjson)
        } else if name.ends_with(".bin") {
            Some(Format::Bin)
        } else if name.ends_with(".npz") {
            Some(Format::Npz)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::NdjsonGz => "gzip-compressed ndjson",
            Format::Bin => "Quick, Draw! binary",
            Format::Npz => "npz",
        }
    }
}

/// A reader of any of the formats: an iterator of records in file order.
pub enum Reader {
    Ndjson(ndjson::NdjsonReader),
    Bin(binary::BinReader),
    Npz(Box<npz::NpzReader>),
}

impl Reader {
    pub fn format(&self) -> Format {
        match self {
            Reader::Ndjson(r) => r.format(),
            Reader::Bin(_) => Format::Bin,
            Reader::Npz(_) => Format::Npz,
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Record, RecordError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Reader::Ndjson(r) => r.next(),
            Reader::Bin(r) => r.next(),
            Reader::Npz(r) => r.next(),
        }
    }
}

/// Opens `path` with the reader its name calls for. Fails when the name has no known
/// extension, the file cannot be opened, or its first bytes contradict the name.
pub fn open(path: impl AsRef<Path>) -> Result<Reader, RecordError> {
    let path = path.as_ref();
    match Format::from_path(path) {
        Some(Format::Ndjson) | Some(Format::NdjsonGz) => {
            ndjson::NdjsonReader::open(path).map(Reader::Ndjson)
        }
        Some(Format::Bin) => binary::BinReader::open(path).map(Reader::Bin),
        Some(Format::Npz) => npz::NpzReader::open(path).map(|r| Reader::Npz(Box::new(r))),
        None => Err(RecordError::new(path, None, ErrorKind::UnknownFormat)),
    }
}

/// Opens a file, mapping failure (a missing file, most often) to an error that names it.
pub(crate) fn open_file(path: &Path) -> Result<std::fs::File, RecordError> {
    std::fs::File::open(path).map_err(|e| RecordError::new(path, None, ErrorKind::Open(e)))
}

/// What a file's first bytes look like, for "this is not the format its name says" errors.
pub(crate) fn sniff(head: &[u8]) -> Option<&'static str> {
    let trimmed = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&head[..0], |i| &head[i..]);
    if head.starts_with(&[0x1f, 0x8b]) {
        Some("gzip data")
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some("a zip archive")
    } else if head.starts_with(b"\x93NUMPY") {
        Some("a numpy .npy array")
    } else if trimmed.starts_with(b"{\"") || trimmed.starts_with(b"[") {
        Some("JSON text")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn readers_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<super::Reader>();
        send::<super::ndjson::LineBatches>();
        send::<super::ndjson::LineBatch>();
        send::<super::Record>();
        send::<super::RecordError>();
    }

    #[test]
    fn format_from_name() {
        use super::Format;
        use std::path::Path;
        let f = |n: &str| Format::from_path(Path::new(n));
        assert_eq!(f("a/face.ndjson"), Some(Format::Ndjson));
        assert_eq!(f("face.NDJSON.GZ"), Some(Format::NdjsonGz));
        assert_eq!(f("full_binary_face.bin"), Some(Format::Bin));
        assert_eq!(f("face.npz"), Some(Format::Npz));
        assert_eq!(f("face.json"), None);
        let e = super::open("face.csv").err().unwrap();
        assert!(matches!(e.kind, super::ErrorKind::UnknownFormat));
        assert!(e.to_string().starts_with("face.csv: unknown format"), "{e}");
    }
}
