//! The pipeline's Parquet tables: one module per table, each with its schema, a writer and a
//! reader, so that every stage agrees on column names and types and every intermediate result
//! opens in DuckDB, pandas or polars.
//!
//! | table | written by | module |
//! | --- | --- | --- |
//! | `drawings.parquet` | ingest | [`drawings`] |
//! | `train_log.parquet` | train | [`train_log`] |
//! | `embeddings.parquet` | embed | [`embeddings`] |
//! | `reconstructions.parquet`, `interpolations.parquet` | embed | [`sequences`] |
//! | `clusters.parquet` | cluster | [`clusters`] |
//! | `generated.parquet` | generate | [`generated`] |
//!
//! Every writer goes through [`atomic::AtomicFile`]: a temporary file beside the target, renamed
//! over it only when the table is complete, so a failed run never leaves a half-written table.
//!
//! Reading: every reader takes a file, a folder or a glob as one table ([`dataset`]) and reads
//! it one row group at a time (its bytes in memory, its page headers checked first), so the
//! stages that stream (`drawings::Reader`, `embeddings::Reader`, the samples of
//! `drawings::read_sample` and `embeddings::read_sample`) hold a row group and a batch, whatever
//! the table's length; `read` collects a whole table.
//!
//! Label columns: any string column named `label_<factor>` (the synthetic faces' factors) and the
//! `word` column are "labels"; later stages carry them through and score against them.

pub mod atomic;
pub mod clusters;
mod columns;
pub mod dataset;
pub mod drawings;
pub mod embeddings;
mod error;
pub mod generated;
mod parquet_check;
pub mod sequences;
pub mod train_log;

pub use columns::{footer, TABLE_KEY};
pub use error::TableError;

/// Prefix of the label columns.
pub const LABEL_PREFIX: &str = "label_";

/// The split of the data set a drawing belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
    pub fn parse(s: &str) -> Option<Split> {
        match s {
            "train" => Some(Split::Train),
            "valid" => Some(Split::Valid),
            "test" => Some(Split::Test),
            _ => None,
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string-valued column carried through the stages (e.g. `word`, `label_mouth`).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelColumn {
    pub name: String,
    pub values: Vec<Option<String>>,
}

/// The table a Parquet file holds, from its footer's `tables.table` key (every writer here sets
/// it); `None` for files written elsewhere.
pub fn table_kind(path: &std::path::Path) -> Result<Option<String>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    // a folder or glob: its first file tells (the readers check the others)
    let path = &dataset::files(path)?[0];
    columns::guarded(path, || {
        parquet_check::check_file(path)?;
        let file = std::fs::File::open(path).map_err(|e| TableError::io(path, e))?;
        let reader = SerializedFileReader::new(file).map_err(|e| TableError::parquet(path, e))?;
        Ok(kind_in(reader.metadata()))
    })
}

/// Which pipeline table a Parquet file holds: its footer's `tables.table` key (every writer
/// here sets it), else, for files written elsewhere, its columns: `embedding` → embeddings;
/// `cluster` → clusters; `pair` with `key_a` → interpolations; `dx` with `split` → drawings;
/// `dx` with `key_id` and no `split` → reconstructions; `kind` is `None` when neither tells.
/// Only the footer is read (of the first file, for a folder or a glob). The one detector every
/// stage uses.
pub fn detect_kind(path: &std::path::Path) -> Result<Detected> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    // a folder or glob: its first file tells (the readers check the others)
    let path = &dataset::files(path)?[0];
    columns::guarded(path, || {
        parquet_check::check_file(path)?;
        let file = std::fs::File::open(path).map_err(|e| TableError::io(path, e))?;
        let reader = SerializedFileReader::new(file).map_err(|e| TableError::parquet(path, e))?;
        let meta = reader.metadata();
        let schema = meta.file_metadata().schema_descr();
        let columns: Vec<String> = schema
            .root_schema()
            .get_fields()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        if let Some(kind) = kind_in(meta) {
            let kind = Some(kind.trim_end_matches(".parquet").to_string());
            return Ok(Detected { kind, columns });
        }
        let has = |c: &str| columns.iter().any(|n| n == c);
        let kind = if has("embedding") {
            Some("embeddings")
        } else if has("cluster") {
            Some("clusters")
        } else if has("pair") && has("key_a") {
            Some("interpolations")
        } else if has("dx") && has("split") {
            Some("drawings")
        } else if has("dx") && has("key_id") {
            Some("reconstructions")
        } else {
            None
        }
        .map(str::to_string);
        Ok(Detected { kind, columns })
    })
}

/// What [`detect_kind`] found: the table's kind, and its columns for the messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    pub kind: Option<String>,
    pub columns: Vec<String>,
}

/// The footer's `tables.table` value (what every reader checks, in one place).
pub(crate) fn kind_in(meta: &parquet::file::metadata::ParquetMetaData) -> Option<String> {
    meta.file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|kv| kv.key == TABLE_KEY))
        .and_then(|kv| kv.value.clone())
}

/// Key-value metadata stored in a Parquet file's footer (which model, which input, ...).
pub type Metadata = Vec<(String, String)>;

pub(crate) type Result<T> = std::result::Result<T, TableError>;
