//! Shared plumbing: opening Parquet files, finding typed columns, writing batches.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use arrow::array::{Array, ArrayRef, AsArray, Float32Array, ListArray, RecordBatch, UInt8Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use crate::atomic::AtomicFile;
use crate::{Metadata, Result, TableError};

/// Footer key naming the table a file holds (`drawings`, `embeddings`, ...).
pub const TABLE_KEY: &str = "tables.table";

/// Rows per record batch when the writers flush (and the readers read). Small enough that the
/// rows in flight between ingest's parser and its encoder stay a few MB.
pub(crate) const BATCH_ROWS: usize = 2048;

/// Rows per Parquet row group, at most. The writer holds a whole row group in memory before it
/// writes it out, and a reader one row group's bytes, so this bounds their memory whatever the
/// table's length (the crate's default, about a million rows, held ~150 MB of drawings).
pub(crate) const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Bytes of fixed-width values per row group, at most: a table of wide rows (embeddings: four
/// vectors of 128 floats, 2 KB a row) gets fewer rows per group, so that a row group stays
/// about 16 MB (64K such rows held 128 MB in the writer and again in every reader).
const ROW_GROUP_FIXED_BYTES: usize = 16 << 20;

/// The rows per row group of a table of `schema`: [`ROW_GROUP_ROWS`], or fewer for wide rows.
pub(crate) fn rows_per_group(schema: &Schema) -> usize {
    let fixed: usize = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::FixedSizeList(item, n) => {
                item.data_type().primitive_width().unwrap_or(8) * (*n).max(0) as usize
            }
            other => other.primitive_width().unwrap_or(0),
        })
        .sum();
    (ROW_GROUP_FIXED_BYTES / fixed.max(1)).clamp(1024, ROW_GROUP_ROWS)
}

/// A table read whole into record batches.
pub(crate) struct Loaded {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// The footer's key-value metadata, without Arrow's schema and the table key.
fn footer_of(meta: &parquet::file::metadata::ParquetMetaData) -> Metadata {
    meta.file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .filter(|kv| kv.key != "ARROW:schema" && kv.key != TABLE_KEY)
                .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// A table's footer metadata alone (what wrote it, from what, with which settings), without
/// reading its rows.
pub fn footer(path: &Path) -> Result<Metadata> {
    crate::dataset::footer(path, footer_of_file)
}

fn footer_of_file(path: &Path) -> Result<Metadata> {
    guarded(path, || {
        crate::parquet_check::check_file(path)?;
        let file = File::open(path).map_err(|e| TableError::io(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| TableError::parquet(path, e))?;
        Ok(footer_of(builder.metadata()))
    })
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `read` on `path` turning a panic into an error naming the file: the arrow and parquet
/// readers panic on some corrupt files (found by the mutation harness, `trust`'s
/// `fuzz_readers` example: a negative column length in the footer, a bitmap shorter than its
/// array, a shift overflow in a corrupt page), and a panic on user input is a bug here. The
/// panic's own message is kept off stderr while a read is guarded on this thread.
pub(crate) fn guarded<T>(path: &Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                previous(info)
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    QUIET.with(|q| q.set(was));
    r.unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(TableError::invalid(
            path,
            format!("not a readable Parquet file: the reader failed on it ({why})"),
        ))
    })
}

/// Reads the table `table` whole (its footer's `tables.table` key, when there is one, must name
/// it: another stage's table is refused before its columns are looked at). `path` is a file, a
/// folder or a glob of files read as one table ([`crate::dataset`]). The readers that need a
/// table a batch at a time use [`crate::dataset::Batches`], which this collects.
pub(crate) fn load(path: &Path, table: &'static str) -> Result<Loaded> {
    let mut stream = crate::dataset::Batches::open(path, table)?;
    let mut batches = Vec::new();
    for b in stream.by_ref() {
        batches.push(b?.batch);
    }
    Ok(Loaded {
        schema: stream.schema.clone(),
        batches,
    })
}

/// One Parquet file opened for reading a row group at a time: its footer read and checked, its
/// table kind checked. Only one row group's bytes are in memory at a time, so a reader's memory
/// does not grow with the file.
pub(crate) struct OpenFile {
    pub path: PathBuf,
    pub meta: ArrowReaderMetadata,
    pub metadata: Metadata,
    file_len: u64,
}

impl OpenFile {
    pub fn open(path: &Path, table: &'static str) -> Result<OpenFile> {
        guarded(path, || {
            crate::parquet_check::check_file(path)?;
            let file = File::open(path).map_err(|e| TableError::io(path, e))?;
            let file_len = file.metadata().map_err(|e| TableError::io(path, e))?.len();
            let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default())
                .map_err(|e| TableError::parquet(path, e))?;
            if let Some(found) = crate::kind_in(meta.metadata()) {
                // a generated table is a drawings table with columns saying where each drawing
                // came from: it reads as drawings (embed, plot), never the other way round
                let reads_as = found == table || (table == "drawings" && found == "generated");
                if !reads_as {
                    return Err(TableError::WrongTable {
                        path: path.to_path_buf(),
                        found,
                        expected: table,
                    });
                }
            }
            Ok(OpenFile {
                path: path.to_path_buf(),
                metadata: footer_of(meta.metadata()),
                meta,
                file_len,
            })
        })
    }

    pub fn schema(&self) -> &SchemaRef {
        self.meta.schema()
    }

    pub fn row_groups(&self) -> usize {
        self.meta.metadata().num_row_groups()
    }

    /// The rows the footer declares.
    pub fn rows(&self) -> usize {
        usize::try_from(self.meta.metadata().file_metadata().num_rows()).unwrap_or(0)
    }

    /// Row group `g`'s batches. Its bytes are read into memory first and their page headers
    /// checked: from a `File`, parquet's page reader reads a corrupt page header a few bytes per
    /// system call (a 9 KB table found by fuzzing took two million reads to be refused), and the
    /// check refuses pages that would make parquet reserve gigabytes.
    pub fn row_group(&self, g: usize) -> Result<ParquetRecordBatchReader> {
        let path = &self.path;
        guarded(path, || {
            let group = self.meta.metadata().row_group(g);
            let (mut lo, mut hi) = (u64::MAX, 0u64);
            for c in group.columns() {
                let (start, len) = c.byte_range();
                lo = lo.min(start);
                hi = hi.max(start.saturating_add(len));
            }
            // a corrupt footer may point anywhere: read what the file has, parquet says the rest
            let hi = hi.min(self.file_len);
            let lo = lo.min(hi);
            let mut bytes = vec![0u8; (hi - lo) as usize];
            let mut file = File::open(path).map_err(|e| TableError::io(path, e))?;
            file.seek(SeekFrom::Start(lo))
                .and_then(|_| file.read_exact(&mut bytes))
                .map_err(|e| TableError::io(path, e))?;
            crate::parquet_check::check_pages(path, &bytes, lo, self.meta.metadata(), g)?;
            let slice = FileSlice {
                offset: lo,
                bytes: bytes::Bytes::from(bytes),
                file_len: self.file_len,
            };
            ParquetRecordBatchReaderBuilder::new_with_metadata(slice, self.meta.clone())
                .with_row_groups(vec![g])
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| TableError::parquet(path, e))
        })
    }
}

/// The bytes of one row group of a file, served to parquet as if they were the file.
struct FileSlice {
    offset: u64,
    bytes: bytes::Bytes,
    file_len: u64,
}

impl FileSlice {
    fn range(&self, start: u64, len: u64) -> parquet::errors::Result<(usize, usize)> {
        let from = start.checked_sub(self.offset);
        match from {
            Some(from) if from.saturating_add(len) <= self.bytes.len() as u64 => {
                Ok((from as usize, (from + len) as usize))
            }
            _ => Err(ParquetError::EOF(format!(
                "{len} bytes at offset {start} lie outside the row group's bytes"
            ))),
        }
    }
}

impl parquet::file::reader::Length for FileSlice {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl parquet::file::reader::ChunkReader for FileSlice {
    type T = bytes::buf::Reader<bytes::Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let rest = (self.offset + self.bytes.len() as u64).saturating_sub(start);
        let (a, b) = self.range(start, rest)?;
        Ok(bytes::Buf::reader(self.bytes.slice(a..b)))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let (a, b) = self.range(start, length as u64)?;
        Ok(self.bytes.slice(a..b))
    }
}

/// Checks that `name` exists with one of the accepted types.
pub(crate) fn require(
    path: &Path,
    schema: &Schema,
    table: &'static str,
    name: &str,
    accept: &dyn Fn(&DataType) -> bool,
    expected: &str,
) -> Result<()> {
    let field = schema
        .field_with_name(name)
        .map_err(|_| TableError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
            table,
        })?;
    if !accept(field.data_type()) {
        return Err(TableError::WrongType {
            path: path.to_path_buf(),
            column: name.to_string(),
            expected: expected.to_string(),
            found: field.data_type().to_string(),
        });
    }
    Ok(())
}

pub(crate) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

pub(crate) fn is_list_of(t: &DataType, inner: &DataType) -> bool {
    matches!(t, DataType::List(f) if f.data_type() == inner)
}

/// Reads a string column of a batch as owned optional strings (any string encoding).
pub(crate) fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = batch.column_by_name(name).expect("checked by require");
    let col = arrow::compute::cast(col, &DataType::Utf8).expect("string types cast to Utf8");
    let s = col.as_string::<i32>();
    (0..s.len())
        .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
        .collect()
}

/// The rows of `batch` whose key_id `keep` accepts (a null key_id is kept, for the reader to
/// refuse), and their row numbers in it; `None` when every row is kept. Only the key column is
/// looked at, so the rows left out are never decoded.
pub(crate) fn keep_rows(
    batch: &RecordBatch,
    keep: &mut dyn FnMut(&str) -> bool,
) -> Option<(RecordBatch, Vec<usize>)> {
    let col = batch.column_by_name("key_id")?;
    let col = arrow::compute::cast(col, &DataType::Utf8).ok()?;
    let keys = col.as_string::<i32>();
    let mask: Vec<bool> = (0..keys.len())
        .map(|i| keys.is_null(i) || keep(keys.value(i)))
        .collect();
    if mask.iter().all(|&m| m) {
        return None;
    }
    let rows = (0..mask.len()).filter(|&i| mask[i]).collect();
    let mask = arrow::array::BooleanArray::from(mask);
    let kept = arrow::compute::filter_record_batch(batch, &mask).ok()?;
    Some((kept, rows))
}

/// The names of label columns (`word` and `label_*`) of a schema.
pub(crate) fn label_names(schema: &Schema) -> Vec<String> {
    schema
        .fields()
        .iter()
        .filter(|f| {
            is_string(f.data_type())
                && (f.name() == "word" || f.name().starts_with(crate::LABEL_PREFIX))
        })
        .map(|f| f.name().clone())
        .collect()
}

/// A string column from owned or borrowed values (borrowing saves a copy per row).
pub(crate) fn string_array<S: AsRef<str>>(values: impl IntoIterator<Item = Option<S>>) -> ArrayRef {
    let mut b = arrow::array::StringBuilder::new();
    for v in values {
        match v {
            Some(s) => b.append_value(s.as_ref()),
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

pub(crate) fn f32_list_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", DataType::Float32, false))),
        false,
    )
}

pub(crate) fn u8_list_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", DataType::UInt8, false))),
        false,
    )
}

/// Builds a non-nullable list column from per-row slices, sized once: one values buffer and
/// one offsets buffer of their final length, so no buffer grows (and is copied) on the way.
fn list_of<'a, T, A>(rows: impl Iterator<Item = &'a [T]>, item: DataType) -> ArrayRef
where
    T: Copy + 'a,
    A: From<Vec<T>> + Array + 'static,
{
    let rows: Vec<&[T]> = rows.collect();
    let total: usize = rows.iter().map(|r| r.len()).sum();
    let mut values = Vec::with_capacity(total);
    for r in &rows {
        values.extend_from_slice(r);
    }
    let offsets = arrow::buffer::OffsetBuffer::from_lengths(rows.iter().map(|r| r.len()));
    Arc::new(ListArray::new(
        Arc::new(Field::new("item", item, false)),
        offsets,
        Arc::new(A::from(values)),
        None,
    ))
}

pub(crate) fn f32_list<'a>(rows: impl Iterator<Item = &'a [f32]>) -> ArrayRef {
    list_of::<f32, Float32Array>(rows, DataType::Float32)
}

pub(crate) fn u8_list<'a>(rows: impl Iterator<Item = &'a [u8]>) -> ArrayRef {
    list_of::<u8, UInt8Array>(rows, DataType::UInt8)
}

/// Row `i` of a `list<float32>` column.
pub(crate) fn f32_row(list: &ListArray, i: usize) -> Vec<f32> {
    let v = list.value(i);
    let v = v.as_any().downcast_ref::<Float32Array>().expect("checked");
    v.values().to_vec()
}

pub(crate) fn u8_row(list: &ListArray, i: usize) -> Vec<u8> {
    let v = list.value(i);
    let v = v.as_any().downcast_ref::<UInt8Array>().expect("checked");
    v.values().to_vec()
}

/// A Parquet writer onto an [`AtomicFile`], zstd-compressed, with footer metadata.
pub(crate) struct TableWriter {
    out: AtomicFile,
    writer: ArrowWriter<File>,
    schema: SchemaRef,
}

impl TableWriter {
    /// `table` goes into the footer as `tables.table`, so readers and people can tell which
    /// table a file is whatever its name.
    pub fn create(
        target: &Path,
        table: &'static str,
        schema: SchemaRef,
        metadata: &Metadata,
    ) -> Result<Self> {
        let out = AtomicFile::create(target)?;
        let kv: Vec<KeyValue> = std::iter::once(KeyValue::new(TABLE_KEY.into(), table.to_string()))
            .chain(
                metadata
                    .iter()
                    .filter(|(k, _)| k != TABLE_KEY)
                    .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
            )
            .collect();
        // Data pages v2: parquet 60 compresses a v1 page through three copies of it (levels and
        // values into one buffer, then into a fresh one reserved at the page's size and grown
        // at once to zstd's bound, which copies the reserved bytes too, then shrunk), a v2
        // page's values straight into its buffer. On 200k faces: 8–16% less CPU (two alternated
        // runs), the stroke columns' repetition levels (uncompressed in v2) 4% more file. The
        // fallback encodings for data without a dictionary become delta ones: the timestamps
        // are 13% smaller for it; the key_ids (random) stay plain.
        let mut props = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .set_column_encoding(ColumnPath::from("key_id"), Encoding::PLAIN)
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3).expect("valid level"),
            ))
            .set_max_row_group_row_count(Some(rows_per_group(&schema)))
            // unique per row (nearly, for the timestamps): a dictionary only costs time, and
            // the timestamps' fell back to plain in every row group anyway (2M faces: 292.6 MB
            // without it, 297.3 with)
            .set_column_dictionary_enabled(ColumnPath::from("key_id"), false)
            .set_column_dictionary_enabled(ColumnPath::from("timestamp"), false);
        // The stroke columns (drawings, reconstructions, interpolations): byte-stream-split
        // values under zstd level 1, and no min/max statistics for their points, which no
        // reader filters on. Measured on 2M faces against a dictionary under zstd 3, for dx and
        // dy: a 6% smaller file (273.7 MB against 292.6) and 15–20% less time encoding (at
        // zstd 3 the split floats were slower than the dictionary).
        let item = |c: &str| ColumnPath::new(vec![c.into(), "list".into(), "item".into()]);
        for c in ["dx", "dy", "pen"] {
            props = props
                .set_column_dictionary_enabled(item(c), false)
                .set_column_encoding(item(c), Encoding::BYTE_STREAM_SPLIT)
                .set_column_compression(
                    item(c),
                    Compression::ZSTD(ZstdLevel::try_new(1).expect("valid level")),
                )
                .set_column_statistics_enabled(item(c), EnabledStatistics::None);
        }
        // pen, 0 or 1: delta bit-packed, two bits a point before zstd (200k faces: 2.0 MB
        // against 2.3 byte-stream-split, in the same time)
        props = props.set_column_encoding(item("pen"), Encoding::DELTA_BINARY_PACKED);
        let props = props
            .set_key_value_metadata((!kv.is_empty()).then_some(kv))
            .build();
        let writer = ArrowWriter::try_new(out.try_clone_file()?, schema.clone(), Some(props))
            .map_err(|e| TableError::parquet(target, e))?;
        Ok(TableWriter {
            out,
            writer,
            schema,
        })
    }

    pub fn write(&mut self, columns: Vec<ArrayRef>) -> Result<()> {
        let path = self.out.target().to_path_buf();
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| TableError::arrow(&path, e))?;
        self.writer
            .write(&batch)
            .map_err(|e| TableError::parquet(&path, e))
    }

    /// The same file, from here on written by [`RowGroupWriter`]: each row group's columns
    /// encoded on `parallel` threads.
    pub fn into_row_groups(self, parallel: usize) -> Result<RowGroupWriter> {
        let path = self.out.target().to_path_buf();
        let (file, factory) = self
            .writer
            .into_serialized_writer()
            .map_err(|e| TableError::parquet(&path, e))?;
        // more threads than columns would have nothing to do
        let parallel = parallel.clamp(1, self.schema.fields().len().max(1));
        let encoders = (0..parallel)
            .map(|_| Encoder::spawn(self.schema.clone()))
            .collect::<std::io::Result<_>>()
            .map_err(|e| TableError::io(&path, e))?;
        Ok(RowGroupWriter {
            out: self.out,
            file,
            factory,
            rows_per_group: rows_per_group(&self.schema),
            schema: self.schema,
            encoders,
            rows: 0,
            next_index: 0,
        })
    }

    pub fn finish(self) -> Result<()> {
        let path = self.out.target().to_path_buf();
        self.writer
            .close()
            .map_err(|e| TableError::parquet(&path, e))?;
        self.out.commit()
    }
}

/// Writes a table a row group at a time, its columns encoded (built into compressed pages) on
/// `parallel` threads at once, each thread taking every `parallel`-th column of every batch as
/// it comes. The zstd and byte-stream-split work of a big table then spreads over the cores
/// instead of holding one thread, with no more batches held than one thread would hold; the
/// file is the one [`ArrowWriter`] would write, row group for row group.
pub(crate) struct RowGroupWriter {
    out: AtomicFile,
    file: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    rows_per_group: usize,
    /// The encoder threads, which live as long as the writer (threads started per row group
    /// left their allocator heaps behind: 70 MB more at 2M drawings).
    encoders: Vec<Encoder>,
    /// Rows in the row group being filled (0: none started).
    rows: usize,
    next_index: usize,
}

struct Encoder {
    jobs: SyncSender<EncoderJob>,
    chunks: mpsc::Receiver<EncodedColumns>,
    thread: JoinHandle<()>,
}

/// Every column of a row group given to one encoder: the field's number and its leaves'
/// writers, each with the leaf's number.
type Assigned = Vec<(usize, Vec<(usize, ArrowColumnWriter)>)>;

enum EncoderJob {
    Start(Assigned),
    Batch(RecordBatch),
    Close,
}

type EncodedColumns = std::result::Result<Vec<(usize, ArrowColumnChunk)>, ParquetError>;

impl Encoder {
    fn spawn(schema: SchemaRef) -> std::io::Result<Encoder> {
        let (jobs, rx) = mpsc::sync_channel::<EncoderJob>(2);
        let (done, chunks) = mpsc::sync_channel::<EncodedColumns>(1);
        let thread = std::thread::Builder::new()
            .name("column-encoder".into())
            .spawn(move || {
                let mut mine: Assigned = Vec::new();
                let mut failed: Option<ParquetError> = None;
                for job in rx {
                    match job {
                        EncoderJob::Start(columns) => mine = columns,
                        EncoderJob::Batch(batch) if failed.is_none() => {
                            let encode = |mine: &mut Assigned| -> parquet::errors::Result<()> {
                                for (i, writers) in mine.iter_mut() {
                                    let leaves =
                                        compute_leaves(schema.field(*i), batch.column(*i))?;
                                    for (leaf, (_, writer)) in leaves.iter().zip(writers) {
                                        writer.write(leaf)?;
                                    }
                                }
                                Ok(())
                            };
                            failed = encode(&mut mine).err();
                        }
                        EncoderJob::Batch(_) => {}
                        EncoderJob::Close => {
                            let closed = std::mem::take(&mut mine)
                                .into_iter()
                                .flat_map(|(_, writers)| writers)
                                .map(|(leaf, w)| w.close().map(|chunk| (leaf, chunk)))
                                .collect();
                            let result = match failed.take() {
                                Some(e) => Err(e),
                                None => closed,
                            };
                            if done.send(result).is_err() {
                                return;
                            }
                        }
                    }
                }
            })?;
        Ok(Encoder {
            jobs,
            chunks,
            thread,
        })
    }
}

impl RowGroupWriter {
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            if self.rows == 0 {
                self.start_row_group()?;
            }
            let n = (batch.num_rows() - offset).min(self.rows_per_group - self.rows);
            self.rows += n;
            let slice = batch.slice(offset, n);
            for e in &self.encoders {
                self.send(e, EncoderJob::Batch(slice.clone()))?;
            }
            offset += n;
            if self.rows == self.rows_per_group {
                self.close_row_group()?;
            }
        }
        Ok(())
    }

    fn send(&self, e: &Encoder, job: EncoderJob) -> Result<()> {
        e.jobs.send(job).map_err(|_| {
            TableError::parquet(
                self.out.target(),
                ParquetError::General("a column encoder stopped".into()),
            )
        })
    }

    fn start_row_group(&mut self) -> Result<()> {
        let writers = self
            .factory
            .create_column_writers(self.next_index)
            .map_err(|e| TableError::parquet(self.out.target(), e))?;
        self.next_index += 1;
        // each field's leaf writers (one for every column here; a struct has several), by the
        // field each leaf belongs to in the file's schema
        let parallel = self.encoders.len();
        let mut fields: Vec<Vec<(usize, ArrowColumnWriter)>> = (0..self.schema.fields().len())
            .map(|_| Vec::new())
            .collect();
        for (leaf, writer) in writers.into_iter().enumerate() {
            fields[self.file.schema_descr().get_column_root_idx(leaf)].push((leaf, writer));
        }
        let mut assigned: Vec<Assigned> = (0..parallel).map(|_| Vec::new()).collect();
        for (i, mine) in fields.into_iter().enumerate() {
            assigned[i % parallel].push((i, mine));
        }
        for (e, columns) in self.encoders.iter().zip(assigned) {
            self.send(e, EncoderJob::Start(columns))?;
        }
        Ok(())
    }

    /// Waits for the encoders to close their columns and appends them, in leaf order.
    fn close_row_group(&mut self) -> Result<()> {
        let path = self.out.target().to_path_buf();
        let err = |e| TableError::parquet(&path, e);
        for e in &self.encoders {
            self.send(e, EncoderJob::Close)?;
        }
        let mut chunks = Vec::new();
        for e in &self.encoders {
            let encoded = e
                .chunks
                .recv()
                .map_err(|_| err(ParquetError::General("a column encoder stopped".into())))?;
            chunks.extend(encoded.map_err(err)?);
        }
        chunks.sort_by_key(|(leaf, _)| *leaf);
        let mut group = self.file.next_row_group().map_err(err)?;
        for (_, chunk) in chunks {
            chunk.append_to_row_group(&mut group).map_err(err)?;
        }
        group.close().map_err(err)?;
        self.out.start_writeback();
        self.rows = 0;
        Ok(())
    }

    /// Appends the last row group and renames the file into place.
    pub fn finish(self) -> Result<()> {
        self.close()?.commit()
    }

    /// Appends the last row group and completes the file under its temporary name, for the
    /// caller to commit (with others: [`crate::dataset::PartitionedWriter`]).
    pub fn close(mut self) -> Result<AtomicFile> {
        if self.rows > 0 {
            self.close_row_group()?;
        }
        for e in std::mem::take(&mut self.encoders) {
            drop(e.jobs);
            e.thread.join().expect("a column encoder does not panic");
        }
        let path = self.out.target().to_path_buf();
        self.file
            .close()
            .map_err(|e| TableError::parquet(&path, e))?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, StringArray};

    fn batch(schema: &SchemaRef, from: usize, n: usize) -> RecordBatch {
        let rows: Vec<Vec<f32>> = (from..from + n)
            .map(|i| (0..i % 5).map(|j| (i * 10 + j) as f32).collect())
            .collect();
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from_iter_values(
                    (from..from + n).map(|i| i as i32),
                )),
                Arc::new(StringArray::from_iter(
                    (from..from + n).map(|i| (i % 3 != 0).then(|| format!("w{}", i % 7))),
                )),
                f32_list(rows.iter().map(Vec::as_slice)),
            ],
        )
        .unwrap()
    }

    /// Row groups encoded column by column on several threads, from batches that straddle
    /// the row groups' ends, give the file the single-threaded writer gives.
    #[test]
    fn row_groups_encoded_in_parallel_equal_the_plain_writer() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int32, false),
            Field::new("s", DataType::Utf8, true),
            f32_list_field("dx"),
        ]));
        let dir = tempfile::tempdir().unwrap();
        let sizes = [1, 999, 1000, 1001, 2500, 7, 3000, 12];
        let write = |path: &Path, parallel: Option<usize>| {
            let w = TableWriter::create(path, "test", schema.clone(), &vec![]).unwrap();
            let mut from = 0;
            match parallel {
                Some(p) => {
                    let mut w = w.into_row_groups(p).unwrap();
                    w.rows_per_group = 1000;
                    for n in sizes {
                        w.write(&batch(&schema, from, n)).unwrap();
                        from += n;
                    }
                    w.finish().unwrap();
                }
                None => {
                    let mut w = w;
                    for n in sizes {
                        // the plain writer cuts row groups at the same rows when flushed there
                        for (start, len) in cut(from, n, 1000) {
                            w.write(batch(&schema, start, len).columns().to_vec())
                                .unwrap();
                            if (start + len) % 1000 == 0 {
                                w.writer.flush().unwrap();
                            }
                        }
                        from += n;
                    }
                    w.finish().unwrap();
                }
            }
        };
        let plain = dir.path().join("plain.parquet");
        write(&plain, None);
        let want = load(&plain, "test").unwrap();
        for parallel in [1, 2, 3, 5] {
            let path = dir.path().join(format!("p{parallel}.parquet"));
            write(&path, Some(parallel));
            let got = load(&path, "test").unwrap();
            let meta = |p: &Path| {
                let f = File::open(p).unwrap();
                let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
                let m = b.metadata().clone();
                (0..m.num_row_groups())
                    .map(|g| m.row_group(g).num_rows())
                    .collect::<Vec<_>>()
            };
            assert_eq!(meta(&path), meta(&plain), "parallel {parallel}");
            assert_eq!(meta(&path).len(), 9, "8,520 rows in groups of 1,000");
            let concat =
                |l: &Loaded| arrow::compute::concat_batches(&l.schema, &l.batches).unwrap();
            assert_eq!(concat(&got), concat(&want), "parallel {parallel}");
            assert_eq!(footer(&path).unwrap(), footer(&plain).unwrap());
        }
    }

    /// `(start, len)` pieces of rows `from..from + n` that do not cross a multiple of `every`.
    fn cut(from: usize, n: usize, every: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let (mut start, end) = (from, from + n);
        while start < end {
            let len = (every - start % every).min(end - start);
            out.push((start, len));
            start += len;
        }
        out
    }
}
