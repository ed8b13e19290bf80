//! Shared plumbing: opening Parquet files, finding typed columns, writing batches.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float32Array, ListArray, RecordBatch, UInt8Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::atomic::AtomicFile;
use crate::{Metadata, Result, TableError};

/// Footer key naming the table a file holds (`drawings`, `embeddings`, ...).
pub const TABLE_KEY: &str = "tables.table";

/// Rows per record batch when the writers flush (and the readers read). Small enough that the
/// rows in flight between ingest's parser and its encoder stay a few MB.
pub(crate) const BATCH_ROWS: usize = 2048;

/// Rows per Parquet row group. The writer holds a whole row group in memory before it writes
/// it out, so this bounds a writer's memory whatever the table's length (the crate's default,
/// about a million rows, held ~150 MB of drawings).
pub(crate) const ROW_GROUP_ROWS: usize = 64 * 1024;

/// A Parquet file read whole into record batches, with its footer metadata.
pub(crate) struct Loaded {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub metadata: Metadata,
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
    let file = File::open(path).map_err(|e| TableError::io(path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| TableError::parquet(path, e))?;
    Ok(footer_of(builder.metadata()))
}

pub(crate) fn load(path: &Path) -> Result<Loaded> {
    let file = File::open(path).map_err(|e| TableError::io(path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| TableError::parquet(path, e))?;
    let metadata = footer_of(builder.metadata());
    let schema = builder.schema().clone();
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| TableError::parquet(path, e))?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| TableError::arrow(path, e))?;
    Ok(Loaded {
        schema,
        batches,
        metadata,
    })
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
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3).expect("valid level"),
            ))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            // unique per row (nearly, for the timestamps): a dictionary only costs time, and
            // the timestamps' fell back to plain in every row group anyway (2M faces: 292.6 MB
            // without it, 297.3 with)
            .set_column_dictionary_enabled(ColumnPath::from("key_id"), false)
            .set_column_dictionary_enabled(ColumnPath::from("timestamp"), false);
        // The stroke columns (drawings, reconstructions, interpolations): byte-stream-split
        // values under zstd level 1, and no min/max statistics for their points, which no
        // reader filters on. Measured on 2M faces against a dictionary under zstd 3, for dx and
        // dy: a 6% smaller file (273.7 MB against 292.6) and 15–20% less time encoding (at
        // zstd 3 the split floats were slower than the dictionary). For pen, on 200k: peak
        // memory 99–121 MB against 129–142, no slower, a 2% larger file.
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

    pub fn finish(self) -> Result<()> {
        let path = self.out.target().to_path_buf();
        self.writer
            .close()
            .map_err(|e| TableError::parquet(&path, e))?;
        self.out.commit()
    }
}
