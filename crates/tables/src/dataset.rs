//! A table as many files. Every reader of this crate takes a file, a folder (every `*.parquet`
//! under it, recursively, in sorted path order, so that a Hive-partitioned folder such as
//! `out/word=face/part-00003.parquet` reads as one table) or a glob
//! (`'work/shards/*/embeddings.parquet'`) and reads it as one table: [`files`] lists what an
//! input names, and the readers concatenate the files' rows. Each file is checked as a lone
//! file is (its footer's table kind, its columns); the files must have the same columns, and
//! the footer keys that say what the rows mean (the embedding model's id, ...) must agree.
//!
//! A `key=value` folder in a file's path (Hive partitioning) is a column: added to the file's
//! rows when the file lacks it, checked against every row when it has it.
//!
//! Also here: [`Shard`] (`--shard I/N`, the rows whose key_id hashes to shard I of N) and
//! [`PartitionedWriter`], which writes a table as a Hive-partitioned folder.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::atomic::AtomicFile;
use crate::columns::{RowGroupWriter, TableWriter};
use crate::{Metadata, Result, TableError};

/// Hive's folder name for the rows whose partition value is null.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Footer keys that say what a table's values mean: files read as one table must agree on
/// them (vectors of two embedding models, or measured in different boxes, do not mix).
const MUST_AGREE: &[&str] = &[
    "embed.model_id",
    "embed.unit_length",
    "embed.parts",
    "embed.part_box",
];

/// The Parquet files an input names: a file itself; every `*.parquet` under a folder,
/// recursively, in sorted path order; or, for a path that does not exist and holds `*`, `?` or
/// `[`, the files (and folders, expanded the same way) its glob matches, sorted. Names starting
/// with `.` or `_` (temporary files, `_SUCCESS` markers) are left out, as pyarrow and Spark do.
/// A folder or glob that gives no file is an error naming it.
pub fn files(input: &Path) -> Result<Vec<PathBuf>> {
    if input.is_dir() {
        let mut out = Vec::new();
        walk(input, &mut out)?;
        if out.is_empty() {
            return Err(TableError::invalid(
                input,
                "a folder with no .parquet file under it",
            ));
        }
        out.sort();
        return Ok(out);
    }
    let pattern = input.to_string_lossy();
    // a missing plain path is left to the reader, which says it is missing
    if input.exists() || !pattern.contains(['*', '?', '[']) {
        return Ok(vec![input.to_path_buf()]);
    }
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let matches = glob::glob_with(&pattern, options)
        .map_err(|e| TableError::invalid(input, format!("not a valid glob pattern: {e}")))?;
    let mut out = Vec::new();
    for m in matches {
        let p = m.map_err(|e| {
            let path = e.path().to_path_buf();
            TableError::io(&path, e.into())
        })?;
        if p.is_dir() {
            walk(&p, &mut out)?;
        } else {
            out.push(p);
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(TableError::invalid(
            input,
            "the pattern matches no file (a glob: quote it so that the shell leaves it to the stage)",
        ));
    }
    Ok(out)
}

fn hidden(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.') || name.starts_with('_')
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| TableError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TableError::io(dir, e))?;
        if hidden(&entry.file_name()) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}

/// The Hive partition columns in a file's path: each `key=value` folder above it, value
/// `None` for [`NULL_PARTITION`], `%XX` escapes decoded. A key given twice keeps its deepest
/// value.
pub fn partitions(file: &Path) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let Some(parent) = file.parent() else {
        return out;
    };
    for c in parent.components() {
        let Component::Normal(name) = c else { continue };
        let Some((k, v)) = name.to_str().and_then(|s| s.split_once('=')) else {
            continue;
        };
        if k.is_empty() {
            continue;
        }
        let key = unescape(k);
        let value = (v != NULL_PARTITION).then(|| unescape(v));
        out.retain(|(old, _)| *old != key);
        out.push((key, value));
    }
    out
}

/// Hive's escaping of a partition folder's key or value: `%XX` for the characters a path or a
/// glob would read otherwise (and `%` itself).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || "\"#%'*/:=?\\{[]^".contains(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Decodes `%XX` escapes (others are kept as they are).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One batch of a table read by [`Batches`]: its rows, the file they come from and the number
/// of the batch's first row in that file (for errors that name the row).
pub(crate) struct Batch {
    pub batch: RecordBatch,
    pub file: PathBuf,
    pub first_row: usize,
}

/// A table read a batch at a time: every file `input` names, one row group in memory at a time,
/// each batch with the Hive partition columns of its file's path and its columns in the order
/// of the first file's. Every file's footer is read and checked when the table is opened (its
/// table kind, the keys that must agree), so [`Batches::schema`], [`Batches::metadata`] and
/// [`Batches::rows`] are known before the first row is read, and a file whose columns differ
/// from the first's is an error naming it before any row is read.
pub(crate) struct Batches {
    /// The columns of the table (the first file's, with its partition columns).
    pub schema: SchemaRef,
    /// The files' footers, merged.
    pub metadata: Metadata,
    /// The rows the footers declare, all files together.
    pub rows: usize,
    /// The files still to read, each with where the table's columns are in it.
    files: std::collections::VecDeque<(crate::columns::OpenFile, Vec<Option<usize>>)>,
    current: Option<Current>,
}

struct Current {
    file: crate::columns::OpenFile,
    /// Per column of the table, the file's column (None: a partition column the file lacks).
    order: Vec<Option<usize>>,
    partitions: Vec<(String, Option<String>)>,
    next_group: usize,
    reader: Option<parquet::arrow::arrow_reader::ParquetRecordBatchReader>,
    row: usize,
}

impl Batches {
    pub fn open(input: &Path, table: &'static str) -> Result<Batches> {
        let mut footers = Footers::default();
        let mut opened = std::collections::VecDeque::new();
        let mut rows = 0;
        for file in files(input)? {
            let open = crate::columns::OpenFile::open(&file, table)?;
            footers.add(&file, open.metadata.clone())?;
            rows += open.rows();
            opened.push_back(open);
        }
        let first = opened.front().expect("files() gives at least one file");
        let schema = partition_schema(&first.path, first.schema())?;
        let first = first.path.clone();
        let mut files = std::collections::VecDeque::new();
        for file in opened {
            let got = partition_schema(&file.path, file.schema())?;
            let own = file.schema().fields().len();
            let order = same_columns(&first, &schema, &file.path, &got)?
                .into_iter()
                .map(|i| (i < own).then_some(i))
                .collect();
            files.push_back((file, order));
        }
        Ok(Batches {
            schema,
            metadata: footers.merged(),
            rows,
            files,
            current: None,
        })
    }

    fn next_batch(&mut self) -> Result<Option<Batch>> {
        loop {
            let Some(cur) = self.current.as_mut() else {
                let Some((file, order)) = self.files.pop_front() else {
                    return Ok(None);
                };
                let partitions = partitions(&file.path);
                self.current = Some(Current {
                    file,
                    order,
                    partitions,
                    next_group: 0,
                    reader: None,
                    row: 0,
                });
                continue;
            };
            if cur.reader.is_none() {
                if cur.next_group == cur.file.row_groups() {
                    self.current = None;
                    continue;
                }
                cur.reader = Some(cur.file.row_group(cur.next_group)?);
                cur.next_group += 1;
            }
            let path = cur.file.path.clone();
            let reader = cur.reader.as_mut().expect("set above");
            let next = crate::columns::guarded(&path, || {
                reader
                    .next()
                    .transpose()
                    .map_err(|e| TableError::arrow(&path, e))
            })?;
            let Some(batch) = next else {
                cur.reader = None;
                continue;
            };
            let first_row = cur.row;
            cur.row += batch.num_rows();
            check_partitions(&path, &cur.partitions, &batch, first_row)?;
            let columns = cur
                .order
                .iter()
                .zip(self.schema.fields())
                .map(|(i, f)| match i {
                    Some(i) => batch.column(*i).clone(),
                    None => partition_column(&cur.partitions, f.name(), batch.num_rows()),
                })
                .collect();
            let batch = RecordBatch::try_new(self.schema.clone(), columns)
                .map_err(|e| TableError::arrow(&path, e))?;
            return Ok(Some(Batch {
                batch,
                file: path,
                first_row,
            }));
        }
    }
}

impl Iterator for Batches {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        let r = self.next_batch().transpose();
        if matches!(r, Some(Err(_))) {
            // an error ends the table
            self.files.clear();
            self.current = None;
        }
        r
    }
}

/// The footer metadata of the files `input` names, merged as [`load`] merges it.
pub(crate) fn footer(
    input: &Path,
    footer_file: impl Fn(&Path) -> Result<Metadata>,
) -> Result<Metadata> {
    let mut footers = Footers::default();
    for file in files(input)? {
        let m = footer_file(&file)?;
        footers.add(&file, m)?;
    }
    Ok(footers.merged())
}

/// The footers of files read as one table: the keys of [`MUST_AGREE`] must agree; a key whose
/// value differs between the files (the input each was made from) keeps every value, one per
/// line, in the order first seen.
#[derive(Default)]
struct Footers {
    first: Option<(PathBuf, Metadata)>,
    values: Vec<(String, Vec<String>)>,
}

impl Footers {
    fn add(&mut self, file: &Path, metadata: Metadata) -> Result<()> {
        match &self.first {
            None => self.first = Some((file.to_path_buf(), metadata.clone())),
            Some((first, want)) => {
                for key in MUST_AGREE {
                    let get =
                        |m: &Metadata| m.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
                    let (want, got) = (get(want), get(&metadata));
                    if want != got {
                        let show =
                            |v: Option<String>| v.map_or("absent".into(), |v| format!("`{v}`"));
                        return Err(TableError::invalid(
                            file,
                            format!(
                                "its footer's {key} is {}, but {}'s is {}: tables of different \
                                 models or settings do not read as one",
                                show(got),
                                first.display(),
                                show(want)
                            ),
                        ));
                    }
                }
            }
        }
        for (k, v) in metadata {
            match self.values.iter_mut().find(|(key, _)| *key == k) {
                Some((_, seen)) if !seen.contains(&v) => seen.push(v),
                Some(_) => {}
                None => self.values.push((k, vec![v])),
            }
        }
        Ok(())
    }

    fn merged(self) -> Metadata {
        self.values
            .into_iter()
            .map(|(k, v)| (k, v.join("\n")))
            .collect()
    }
}

/// `schema` with the Hive partition columns of `file`'s path that it lacks, added at the end
/// as nullable strings.
fn partition_schema(file: &Path, schema: &SchemaRef) -> Result<SchemaRef> {
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    let before = fields.len();
    for (key, _) in partitions(file) {
        if schema.index_of(&key).is_err() {
            fields.push(Arc::new(Field::new(&key, DataType::Utf8, true)));
        }
    }
    if fields.len() == before {
        return Ok(schema.clone());
    }
    Ok(Arc::new(Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    )))
}

/// The column of a partition value, `rows` long.
fn partition_column(partitions: &[(String, Option<String>)], name: &str, rows: usize) -> ArrayRef {
    let value = partitions
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.as_deref());
    Arc::new(StringArray::from(vec![value; rows]))
}

/// Checks every row of `batch` against the partition values of its file's path, for the
/// partition columns the file has itself.
fn check_partitions(
    file: &Path,
    partitions: &[(String, Option<String>)],
    batch: &RecordBatch,
    first_row: usize,
) -> Result<()> {
    for (key, value) in partitions {
        let Ok(i) = batch.schema().index_of(key) else {
            continue;
        };
        let col = arrow::compute::cast(batch.column(i), &DataType::Utf8).map_err(|_| {
            TableError::invalid(
                file,
                format!(
                    "its path says {key}={}, but its column `{key}` is {}, which cannot be \
                     compared with it",
                    value.as_deref().unwrap_or(NULL_PARTITION),
                    batch.column(i).data_type()
                ),
            )
        })?;
        let s = col.as_string::<i32>();
        for r in 0..s.len() {
            let got = s.is_valid(r).then(|| s.value(r));
            if got != value.as_deref() {
                return Err(TableError::bad_row(
                    file,
                    first_row + r,
                    format!(
                        "column `{key}` is {}, but the file's path says {key}={}",
                        got.map_or("null".into(), |g| format!("`{g}`")),
                        value.as_deref().unwrap_or(NULL_PARTITION)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Where each column of `want` (the first file's) is in `got` (`file`'s, with its partition
/// columns); an error when the two files do not have the same columns of the same types. A
/// partition column that `file` lacks itself is `None`.
fn same_columns(
    first: &Path,
    want: &SchemaRef,
    file: &Path,
    got: &SchemaRef,
) -> Result<Vec<usize>> {
    let mut order = Vec::with_capacity(want.fields().len());
    let mut problems = Vec::new();
    for f in want.fields() {
        match got.index_of(f.name()) {
            Ok(i) if got.field(i).data_type() == f.data_type() => order.push(i),
            Ok(i) => problems.push(format!(
                "column `{}` is {} (there {})",
                f.name(),
                got.field(i).data_type(),
                f.data_type()
            )),
            Err(_) => problems.push(format!("no column `{}`", f.name())),
        }
    }
    for f in got.fields() {
        if want.index_of(f.name()).is_err() {
            problems.push(format!("a column `{}` that one lacks", f.name()));
        }
    }
    if !problems.is_empty() {
        return Err(TableError::invalid(
            file,
            format!(
                "its columns differ from those of {}, read with it as one table: {}",
                first.display(),
                problems.join(", ")
            ),
        ));
    }
    Ok(order)
}

/// One of N shards of a table: the rows whose key_id's xxHash64 (seed 0, over its UTF-8
/// bytes) is `index` modulo `count`. A row's shard depends on its key_id alone, so a shard
/// holds the same rows whatever the order of the files it is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// A `--shard` that is not `I/N` with `I < N`.
#[derive(Debug, thiserror::Error)]
#[error("shard `{given}`: {why}")]
pub struct BadShard {
    given: String,
    why: &'static str,
}

impl Shard {
    pub fn contains(&self, key_id: &str) -> bool {
        key_hash(key_id) % self.count == self.index
    }

    /// The shard's file in each partition of a partitioned output: `part-0000I.parquet`.
    pub fn file_name(&self) -> String {
        part_file_name(Some(*self))
    }
}

/// `part-0000I.parquet` for shard I, `part-00000.parquet` without shards.
pub fn part_file_name(shard: Option<Shard>) -> String {
    format!("part-{:05}.parquet", shard.map_or(0, |s| s.index))
}

/// The hash that assigns shards: xxHash64 of the key's UTF-8 bytes, seed 0 (as
/// `xxhash64(key_id)` elsewhere, e.g. DuckDB's `hash` is another function: use this one).
pub fn key_hash(key_id: &str) -> u64 {
    twox_hash::XxHash64::oneshot(0, key_id.as_bytes())
}

/// The hash that picks a uniform sample of a table, reproducibly and whatever the order of its
/// rows: a row is in the sample of `n` when its key_id's hash is among the `n` smallest.
/// xxHash64 seeded with `seed` (never the shards' seed 0 alone, so that a sample is spread
/// over every shard rather than tied to the shards' own hash).
pub fn sample_hash(key_id: &str, seed: u64) -> u64 {
    twox_hash::XxHash64::oneshot(seed ^ 0x5a4d_504c_4500_0000, key_id.as_bytes())
}

/// The seed of the samples that the reporting stages (`evaluate`, `plot`) read: one seed for
/// every table, so that the samples of a run's drawings, embeddings and clusters hold the same
/// key_ids.
pub const REPORT_SAMPLE_SEED: u64 = 0;

/// A uniform sample of at most about `max` rows kept as a table streams past: the rows whose
/// [`sample_hash`] with `seed` are the `max` smallest (a key_id repeated, which hashes alike,
/// may keep a few more), in the order they came. Holds at most one and a half times `max` rows:
/// once it has thinned itself, a row above the sample's current largest hash is not kept at all.
pub(crate) struct Sampler<T> {
    seed: u64,
    limit: SampleLimit,
    kept: Vec<(u64, T)>,
}

impl<T> Sampler<T> {
    pub fn new(max: usize, seed: u64) -> Self {
        Sampler {
            seed,
            limit: SampleLimit::new(max),
            kept: Vec::new(),
        }
    }

    /// Whether a row of this key_id may be in the sample (false: it is out for good).
    pub fn admits(&self, key_id: &str) -> bool {
        self.limit.admits(sample_hash(key_id, self.seed))
    }

    pub fn add(&mut self, key_id: &str, row: T) {
        let h = sample_hash(key_id, self.seed);
        if !self.limit.admits(h) {
            return;
        }
        self.kept.push((h, row));
        if self.limit.full(self.kept.len()) {
            self.thin();
        }
    }

    fn thin(&mut self) {
        let hashes: Vec<u64> = self.kept.iter().map(|(h, _)| *h).collect();
        let limit = self.limit.thin(&hashes);
        self.kept.retain(|(h, _)| limit.is_some_and(|l| *h <= l));
    }

    pub fn finish(mut self) -> Vec<T> {
        self.thin();
        self.kept.into_iter().map(|(_, r)| r).collect()
    }
}

/// The bound of a sample of the `max` smallest hashes, kept as rows stream past: the largest
/// hash kept at the last thinning (every row above it is out for good, as `max` smaller ones are
/// already in), and when to thin next.
#[derive(Debug, Clone, Copy)]
pub struct SampleLimit {
    max: usize,
    limit: Option<u64>,
}

impl SampleLimit {
    pub fn new(max: usize) -> Self {
        SampleLimit { max, limit: None }
    }

    /// Whether a row of hash `h` may be in the sample.
    pub fn admits(&self, h: u64) -> bool {
        self.limit.is_none_or(|l| h <= l)
    }

    /// Whether `kept` rows call for a thinning (half as many again as the sample).
    pub fn full(&self, kept: usize) -> bool {
        kept > self.max + self.max / 2 + 1
    }

    /// Thins to the `max` smallest of the kept rows' `hashes`: the largest hash to keep, `None`
    /// to keep nothing.
    pub fn thin(&mut self, hashes: &[u64]) -> Option<u64> {
        let l = nth_smallest(hashes, self.max);
        if hashes.len() >= self.max {
            self.limit = l;
        }
        l
    }
}

/// The `n`-th smallest of `values` (1-based: `n` = 1 is the smallest); `None` for `n` = 0 or an
/// empty slice, the largest when `n` exceeds the count.
pub fn nth_smallest(values: &[u64], n: usize) -> Option<u64> {
    if n == 0 || values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    let k = n.min(v.len()) - 1;
    Some(*v.select_nth_unstable(k).1)
}

impl std::str::FromStr for Shard {
    type Err = BadShard;
    fn from_str(s: &str) -> std::result::Result<Self, BadShard> {
        let bad = |why| BadShard {
            given: s.to_string(),
            why,
        };
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| bad("expected I/N, e.g. 0/4 for the first of four shards"))?;
        let parse = |x: &str| x.trim().parse::<u64>().ok();
        let (Some(index), Some(count)) = (parse(i), parse(n)) else {
            return Err(bad(
                "expected I/N with I and N whole numbers, e.g. 0/4 for the first of four shards",
            ));
        };
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad("I must be less than N (shards are numbered from 0)"));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Writes a table as a Hive-partitioned folder: `dir/<column>=<value>/<file_name>`, one file per
/// value of `column` (the rows whose value is null under [`NULL_PARTITION`]), without the
/// column itself, which the path holds (as Spark, pyarrow and DuckDB write it; readers, this
/// crate's included, give it back from the path).
///
/// Every file is written under a temporary name beside its target; [`finish`](Self::finish)
/// flushes them all to disk before it renames any, so a failed run leaves none of its files,
/// and a run that ends leaves all of them. Each partition being written holds a row group in
/// memory (up to 65,536 rows) and an open file.
pub struct PartitionedWriter {
    dir: PathBuf,
    table: &'static str,
    column: String,
    column_index: usize,
    file_name: String,
    file_schema: SchemaRef,
    metadata: Metadata,
    parallel: usize,
    writers: BTreeMap<Option<String>, RowGroupWriter>,
}

impl PartitionedWriter {
    pub(crate) fn create(
        dir: &Path,
        table: &'static str,
        schema: &SchemaRef,
        metadata: &Metadata,
        column: &str,
        file_name: &str,
        parallel: usize,
    ) -> Result<Self> {
        let column_index = schema.index_of(column).map_err(|_| {
            TableError::invalid(
                dir,
                format!(
                    "cannot partition by `{column}`: the {table} table has no such column (it \
                     has {})",
                    schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        if column == "key_id" || !crate::columns::is_string(schema.field(column_index).data_type())
        {
            return Err(TableError::invalid(
                dir,
                format!(
                    "cannot partition by `{column}`: partition by a string column with few \
                     values (word, split, countrycode, a label)"
                ),
            ));
        }
        let fields: Vec<Arc<Field>> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != column_index)
            .map(|(_, f)| f.clone())
            .collect();
        Ok(PartitionedWriter {
            dir: dir.to_path_buf(),
            table,
            column: column.to_string(),
            column_index,
            file_name: file_name.to_string(),
            file_schema: Arc::new(Schema::new(fields)),
            metadata: metadata.clone(),
            parallel,
            writers: BTreeMap::new(),
        })
    }

    fn partition_dir(&self, value: Option<&str>) -> PathBuf {
        self.dir.join(format!(
            "{}={}",
            escape(&self.column),
            value.map_or(NULL_PARTITION.to_string(), escape)
        ))
    }

    /// Writes each row of `batch` to its partition's file, in order.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let keys = arrow::compute::cast(batch.column(self.column_index), &DataType::Utf8)
            .map_err(|e| TableError::arrow(&self.dir, e))?;
        let keys = keys.as_string::<i32>();
        let mut groups: BTreeMap<Option<&str>, Vec<u32>> = BTreeMap::new();
        for r in 0..keys.len() {
            let k = keys.is_valid(r).then(|| keys.value(r));
            groups.entry(k).or_default().push(r as u32);
        }
        for (value, rows) in groups {
            let rows = UInt32Array::from(rows);
            let cols = batch
                .columns()
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != self.column_index)
                .map(|(_, c)| arrow::compute::take(c, &rows, None))
                .collect::<std::result::Result<Vec<ArrayRef>, _>>()
                .map_err(|e| TableError::arrow(&self.dir, e))?;
            let part = RecordBatch::try_new(self.file_schema.clone(), cols)
                .map_err(|e| TableError::arrow(&self.dir, e))?;
            let key = value.map(str::to_string);
            if !self.writers.contains_key(&key) {
                let path = self.partition_dir(value).join(&self.file_name);
                let w = TableWriter::create(
                    &path,
                    self.table,
                    self.file_schema.clone(),
                    &self.metadata,
                )?
                .into_row_groups(self.parallel)?;
                self.writers.insert(key.clone(), w);
            }
            self.writers
                .get_mut(&key)
                .expect("inserted above")
                .write(&part)?;
        }
        Ok(())
    }

    /// Completes every file, flushes them all to disk, then renames them into place; removes
    /// this writer's file name from the other partitions (left by an earlier run whose rows had
    /// values this one's lack). Returns the files written.
    pub(crate) fn finish(self) -> Result<Vec<PathBuf>> {
        let mut closed: Vec<AtomicFile> = Vec::with_capacity(self.writers.len());
        for (_, w) in self.writers {
            closed.push(w.close()?);
        }
        for f in &closed {
            f.file()
                .sync_all()
                .map_err(|e| TableError::io(f.target(), e))?;
        }
        let mut written = HashSet::new();
        for f in closed {
            written.insert(f.target().to_path_buf());
            f.commit()?;
        }
        let prefix = format!("{}=", escape(&self.column));
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                if !name.to_string_lossy().starts_with(&prefix) {
                    continue;
                }
                let old = entry.path().join(&self.file_name);
                if !written.contains(&old) && old.is_file() {
                    std::fs::remove_file(&old).map_err(|e| TableError::io(&old, e))?;
                }
            }
        }
        let mut written: Vec<PathBuf> = written.into_iter().collect();
        written.sort();
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample kept as rows stream past is exactly the rows of the smallest hashes, in the
    /// order they came, whatever the stream's length against the sample's.
    #[test]
    fn the_streamed_sample_is_the_smallest_hashes_in_order() {
        for (n, max) in [(10_000, 100), (150, 100), (100, 100), (7, 100), (5000, 1)] {
            let keys: Vec<String> = (0..n)
                .map(|i| format!("key-{}", i * 7919 % 10007))
                .collect();
            let mut s = Sampler::new(max, 3);
            for (i, k) in keys.iter().enumerate() {
                s.add(k, i);
            }
            let got = s.finish();
            let mut by_hash: Vec<(u64, usize)> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (sample_hash(k, 3), i))
                .collect();
            by_hash.sort();
            let mut want: Vec<usize> = by_hash.iter().take(max).map(|&(_, i)| i).collect();
            want.sort();
            assert_eq!(got, want, "{n} rows, sample of {max}");
        }
    }
    use crate::drawings::{self, DrawingRow, DrawingWriter};
    use crate::embeddings::{self, EmbeddingTable};
    use crate::Split;
    use drawing::Stroke3;

    fn row(i: usize, word: Option<&str>) -> DrawingRow {
        DrawingRow {
            key_id: format!("k{i}"),
            word: word.map(str::to_string),
            countrycode: i.is_multiple_of(2).then(|| "DE".into()),
            recognized: Some(!i.is_multiple_of(3)),
            timestamp: Some(1_488_000_000_000_000 + i as i64),
            split: Split::ALL[i % 3],
            source: "x.ndjson".into(),
            drawing: Stroke3 {
                dx: vec![i as f32, 1.0],
                dy: vec![0.0, 2.0],
                pen: vec![0, 1],
            },
            t: None,
            labels: vec![Some(format!("m{}", i % 4))],
        }
    }

    fn write_drawings(path: &Path, rows: &[DrawingRow]) {
        let mut w = DrawingWriter::create(path, &["mouth".to_string()], &vec![]).unwrap();
        for r in rows {
            w.push(r.clone()).unwrap();
        }
        w.finish().unwrap();
    }

    /// The .parquet files a reader would see under `dir`.
    fn visible(dir: &Path) -> usize {
        let mut v = Vec::new();
        if dir.is_dir() {
            walk(dir, &mut v).unwrap();
        }
        v.len()
    }

    fn by_key(mut rows: Vec<DrawingRow>) -> Vec<DrawingRow> {
        rows.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        rows
    }

    #[test]
    fn a_folder_and_a_glob_read_as_the_concatenation_of_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let rows: Vec<DrawingRow> = (0..300).map(|i| row(i, Some("face"))).collect();
        // sorted path order: a, c, sub/b
        write_drawings(&d.join("t/a.parquet"), &rows[..100]);
        write_drawings(&d.join("t/sub/b.parquet"), &rows[200..]);
        write_drawings(&d.join("t/c.parquet"), &rows[100..200]);
        // neither a hidden (temporary) file nor another kind of file is read
        std::fs::write(d.join("t/.c.parquet.x1.tmp"), b"half").unwrap();
        std::fs::write(d.join("t/.hidden.parquet"), b"half").unwrap();
        std::fs::write(d.join("t/notes.txt"), b"notes").unwrap();
        let all = drawings::read(&d.join("t")).unwrap();
        let want: Vec<DrawingRow> = [&rows[..100], &rows[100..200], &rows[200..]].concat();
        assert_eq!(all.rows, want);
        assert_eq!(all.label_names, vec!["mouth".to_string()]);
        let glob = drawings::read(&d.join("t/*.parquet")).unwrap();
        assert_eq!(glob.rows, rows[..200].to_vec());
        let deep = drawings::read(&d.join("t/**/*.parquet")).unwrap();
        assert_eq!(deep.rows, want);
        // the footer of many files, merged: the kind detector sees the first
        assert_eq!(
            crate::detect_kind(&d.join("t")).unwrap().kind.as_deref(),
            Some("drawings")
        );
        assert_eq!(files(&d.join("t")).unwrap().len(), 3);
    }

    #[test]
    fn an_empty_folder_or_a_glob_matching_nothing_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir_all(empty.join("word=face")).unwrap();
        let e = drawings::read(&empty).unwrap_err().to_string();
        assert!(e.contains("empty") && e.contains("no .parquet file"), "{e}");
        let pattern = dir.path().join("nothing/*/x.parquet");
        let e = drawings::read(&pattern).unwrap_err().to_string();
        assert!(
            e.contains("nothing/*/x.parquet") && e.contains("matches no file"),
            "{e}"
        );
        // a missing plain path is a missing file, as before
        let e = drawings::read(&dir.path().join("absent.parquet"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("absent.parquet") && e.contains("No such file"),
            "{e}"
        );
    }

    #[test]
    fn files_of_another_kind_or_other_columns_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("t");
        write_drawings(&d.join("a.parquet"), &[row(0, Some("face"))]);
        crate::train_log::write(&d.join("b.parquet"), &[]).unwrap();
        let e = drawings::read(&d).unwrap_err().to_string();
        assert!(
            e.contains("b.parquet: a `train_log` table, not the `drawings` table"),
            "{e}"
        );
        std::fs::remove_file(d.join("b.parquet")).unwrap();
        // a drawings table without the label column
        let mut w = DrawingWriter::create(&d.join("b.parquet"), &[], &vec![]).unwrap();
        let mut r = row(1, Some("face"));
        r.labels.clear();
        w.push(r).unwrap();
        w.finish().unwrap();
        let e = drawings::read(&d).unwrap_err().to_string();
        assert!(
            e.contains("b.parquet: its columns differ from those of")
                && e.contains("a.parquet")
                && e.contains("label_mouth"),
            "{e}"
        );
    }

    fn embeddings_with(model: &str, keys: std::ops::Range<usize>) -> EmbeddingTable {
        EmbeddingTable {
            key_ids: keys.clone().map(|i| format!("k{i}")).collect(),
            splits: keys.clone().map(|_| Split::Train).collect(),
            dim: 2,
            values: keys.flat_map(|i| [i as f32, 1.0]).collect(),
            parts: vec![],
            labels: vec![],
            metadata: vec![
                ("embed.model_id".into(), model.into()),
                ("embed.input".into(), format!("in-{model}")),
            ],
        }
    }

    #[test]
    fn embeddings_of_different_models_are_refused_and_inputs_are_merged() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        embeddings::write(
            &d.join("e/s0/embeddings.parquet"),
            &embeddings_with("m1", 0..10),
        )
        .unwrap();
        embeddings::write(
            &d.join("e/s1/embeddings.parquet"),
            &embeddings_with("m1", 10..25),
        )
        .unwrap();
        let t = embeddings::read(&d.join("e/*/embeddings.parquet")).unwrap();
        assert_eq!(t.len(), 25);
        assert_eq!(t.values, embeddings_with("m1", 0..25).values);
        assert_eq!(t.model_id(), Some("m1"));
        // the same input twice is one value; both are kept when they differ
        let input = |m: &Metadata| {
            m.iter()
                .find(|(k, _)| k == "embed.input")
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(input(&t.metadata), "in-m1");
        assert_eq!(input(&crate::footer(&d.join("e")).unwrap()), "in-m1");
        embeddings::write(
            &d.join("e/s2/embeddings.parquet"),
            &embeddings_with("m2", 25..30),
        )
        .unwrap();
        for e in [
            embeddings::read(&d.join("e")).unwrap_err().to_string(),
            crate::footer(&d.join("e")).unwrap_err().to_string(),
        ] {
            assert!(
                e.contains("s2/embeddings.parquet: its footer's embed.model_id is `m2`")
                    && e.contains("s0/embeddings.parquet's is `m1`"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_partitioned_folder_reads_back_as_the_rows_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let words = [Some("face"), Some("cat"), None, Some("hot dog/50%")];
        let rows: Vec<DrawingRow> = (0..5000).map(|i| row(i, words[i % 4])).collect();
        let mut w = DrawingWriter::create_partitioned(
            &out,
            &["mouth".to_string()],
            &vec![("k".into(), "v".into())],
            "word",
            "part-00002.parquet",
        )
        .unwrap();
        for r in &rows {
            w.push(r.clone()).unwrap();
        }
        // nothing is in place before finish
        assert_eq!(visible(&out), 0);
        assert_eq!(w.finish().unwrap(), 5000);
        let mut names: Vec<String> = files(&out)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(&out).unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "word=__HIVE_DEFAULT_PARTITION__/part-00002.parquet",
                "word=cat/part-00002.parquet",
                "word=face/part-00002.parquet",
                "word=hot dog%2F50%25/part-00002.parquet",
            ]
        );
        // the files hold no `word` column: the path does
        let one = crate::detect_kind(&out.join("word=cat/part-00002.parquet")).unwrap();
        assert!(
            !one.columns.contains(&"word".to_string()),
            "{:?}",
            one.columns
        );
        let back = drawings::read(&out).unwrap();
        assert_eq!(by_key(back.rows), by_key(rows.clone()));
        assert!(back.metadata.contains(&("k".into(), "v".into())));
        // one partition's file alone still has its word, from its path
        let cats = drawings::read(&out.join("word=cat/part-00002.parquet")).unwrap();
        assert_eq!(cats.rows.len(), 1250);
        assert!(cats.rows.iter().all(|r| r.word.as_deref() == Some("cat")));

        // written again without cats: the old cat file of this part goes
        let mut w = DrawingWriter::create_partitioned(
            &out,
            &["mouth".to_string()],
            &vec![],
            "word",
            "part-00002.parquet",
        )
        .unwrap();
        w.push(row(1, Some("face"))).unwrap();
        w.finish().unwrap();
        let back = drawings::read(&out).unwrap();
        assert_eq!(back.rows, vec![row(1, Some("face"))]);

        // a writer dropped unfinished leaves nothing
        let other = dir.path().join("other");
        let mut w = DrawingWriter::create_partitioned(
            &other,
            &["mouth".to_string()],
            &vec![],
            "split",
            "part-00000.parquet",
        )
        .unwrap();
        for r in &rows[..3000] {
            w.push(r.clone()).unwrap();
        }
        drop(w);
        assert_eq!(visible(&other), 0, "no file left");
    }

    #[test]
    fn a_partition_column_in_the_file_must_agree_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("t");
        write_drawings(&d.join("word=face/a.parquet"), &[row(0, Some("face"))]);
        write_drawings(
            &d.join("word=cat/b.parquet"),
            &[row(1, Some("cat")), row(2, Some("face"))],
        );
        let e = drawings::read(&d).unwrap_err().to_string();
        assert!(
            e.contains("word=cat/b.parquet: row 1: column `word` is `face`, but the file's path says word=cat"),
            "{e}"
        );
        // a partition column the table lacks is added
        write_drawings(&d.join("word=cat/b.parquet"), &[row(1, Some("cat"))]);
        std::fs::create_dir_all(d.join("word=face/run=7")).unwrap();
        std::fs::rename(
            d.join("word=face/a.parquet"),
            d.join("word=face/run=7/a.parquet"),
        )
        .unwrap();
        let e = drawings::read(&d).unwrap_err().to_string();
        assert!(
            e.contains("no column `run`") || e.contains("column `run`"),
            "{e}"
        );
        let one = crate::columns::load(&d.join("word=face/run=7/a.parquet"), "drawings").unwrap();
        let run = one.batches[0].column_by_name("run").unwrap();
        assert_eq!(run.as_string::<i32>().value(0), "7");
    }

    #[test]
    fn hive_escapes_round_trip() {
        for s in ["face", "hot dog", "a/b=c%d", "", "ünï*?[x]", "\n"] {
            assert_eq!(unescape(&escape(s)), s);
            assert!(!escape(s).contains(['/', '=']));
        }
        assert_eq!(escape("a/b"), "a%2Fb");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%zz%4"), "%zz%4");
    }

    #[test]
    fn shards_parse_and_split_the_keys_once_each() {
        let s: Shard = "2/5".parse().unwrap();
        assert_eq!((s.index, s.count), (2, 5));
        assert_eq!(s.to_string(), "2/5");
        assert_eq!(s.file_name(), "part-00002.parquet");
        for bad in ["5/5", "1/0", "3", "a/4", "-1/4", "1/4/2", ""] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(&format!("shard `{bad}`")), "{e}");
        }
        // xxHash64 with seed 0, the published value for the empty input and for "abc"
        assert_eq!(key_hash(""), 0xEF46_DB37_51D8_E999);
        assert_eq!(key_hash("abc"), 0x44BC_2CF5_AD77_0999);
        let keys: Vec<String> = (0..10_000).map(|i| format!("{i:016}")).collect();
        for n in [1, 3, 8] {
            let shards: Vec<Shard> = (0..n).map(|i| Shard { index: i, count: n }).collect();
            let mut sizes = vec![0usize; n as usize];
            for k in &keys {
                let owners: Vec<u64> = shards
                    .iter()
                    .filter(|s| s.contains(k))
                    .map(|s| s.index)
                    .collect();
                assert_eq!(owners.len(), 1, "{k} in exactly one of {n} shards");
                sizes[owners[0] as usize] += 1;
            }
            // spread evenly: each within 10% of its share
            let share = keys.len() / n as usize;
            assert!(
                sizes.iter().all(|&c| c.abs_diff(share) < share / 10),
                "{sizes:?}"
            );
        }
    }
}
