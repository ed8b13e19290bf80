//! `drawings.parquet`: one row per drawing, written by `ingest`, read by every later stage.
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `key_id` | string | the drawing's id (unique in the table) |
//! | `word` | string, null | category |
//! | `countrycode` | string, null | player's country (null where the format lacks it) |
//! | `recognized` | bool, null | whether the game recognised the drawing |
//! | `timestamp` | timestamp[µs, UTC], null | when it was drawn |
//! | `split` | string | `train`, `valid` or `test` |
//! | `source` | string | the input file the row came from |
//! | `n_strokes`, `n_points` | int32 | counts |
//! | `dx`, `dy` | list<float32> | stroke-3 offsets in the source's units |
//! | `pen` | list<uint8> | 1 where the pen lifts after the point |
//! | `t` | list<float64>, null | raw files only: ms since the first point, per point |
//! | `label_<factor>` | string, null | labels (the synthetic faces' factors) |

use std::path::Path;
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBufferBuilder, BooleanBuilder, Float32Array, Float64Array,
    Int32Array, ListArray, RecordBatch, StringBuilder, TimestampMicrosecondBuilder, UInt8Array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use drawing::Stroke3;

use crate::columns::{self, RowGroupWriter, TableWriter, BATCH_ROWS};
use crate::dataset::PartitionedWriter;
use crate::{LabelColumn, Metadata, Result, Split, TableError, LABEL_PREFIX};

/// One drawing and what is known about it.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawingRow {
    pub key_id: String,
    pub word: Option<String>,
    pub countrycode: Option<String>,
    pub recognized: Option<bool>,
    /// Microseconds since the Unix epoch, UTC.
    pub timestamp: Option<i64>,
    pub split: Split,
    pub source: String,
    pub drawing: Stroke3,
    /// Raw files only: milliseconds since the first point, one per point.
    pub t: Option<Vec<f64>>,
    /// Values of the writer's label columns, in the order of its `label_names` (factor names
    /// without the `label_` prefix).
    pub labels: Vec<Option<String>>,
}

/// A drawings table read whole.
#[derive(Debug, Clone, Default)]
pub struct DrawingTable {
    /// Factor names of the `label_*` columns, without the prefix.
    pub label_names: Vec<String>,
    pub rows: Vec<DrawingRow>,
    pub metadata: Metadata,
}

impl DrawingTable {
    /// Each row's index by its key_id (the last row wins for a repeated key).
    pub fn index_by_key(&self) -> std::collections::HashMap<&str, usize> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key_id.as_str(), i))
            .collect()
    }

    /// The label columns to carry into later tables: `word` and `label_<factor>`.
    pub fn label_columns(&self) -> Vec<LabelColumn> {
        label_columns(&self.label_names, &self.rows)
    }
}

/// The label columns of `rows` (`word` and `label_<factor>` for each of `label_names`), to
/// carry into later tables.
pub fn label_columns(label_names: &[String], rows: &[DrawingRow]) -> Vec<LabelColumn> {
    let mut out = vec![LabelColumn {
        name: "word".into(),
        values: rows.iter().map(|r| r.word.clone()).collect(),
    }];
    for (i, name) in label_names.iter().enumerate() {
        out.push(LabelColumn {
            name: format!("{LABEL_PREFIX}{name}"),
            values: rows.iter().map(|r| r.labels[i].clone()).collect(),
        });
    }
    out
}

pub fn schema(label_names: &[String]) -> SchemaRef {
    let mut fields = vec![
        Field::new("key_id", DataType::Utf8, false),
        Field::new("word", DataType::Utf8, true),
        Field::new("countrycode", DataType::Utf8, true),
        Field::new("recognized", DataType::Boolean, true),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("split", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("n_strokes", DataType::Int32, false),
        Field::new("n_points", DataType::Int32, false),
        columns::f32_list_field("dx"),
        columns::f32_list_field("dy"),
        columns::u8_list_field("pen"),
        Field::new(
            "t",
            DataType::List(Arc::new(Field::new("item", DataType::Float64, false))),
            true,
        ),
    ];
    for name in label_names {
        fields.push(Field::new(
            format!("{LABEL_PREFIX}{name}"),
            DataType::Utf8,
            true,
        ));
    }
    Arc::new(Schema::new(fields))
}

/// One drawing's fields, borrowed: what [`DrawingColumns::push`] takes.
#[derive(Debug, Clone, Copy)]
pub struct DrawingRef<'a> {
    pub key_id: &'a str,
    pub word: Option<&'a str>,
    pub countrycode: Option<&'a str>,
    pub recognized: Option<bool>,
    pub timestamp: Option<i64>,
    pub split: Split,
    pub source: &'a str,
    pub drawing: &'a Stroke3,
    pub t: Option<&'a [f64]>,
}

impl DrawingRow {
    pub fn as_ref(&self) -> DrawingRef<'_> {
        DrawingRef {
            key_id: &self.key_id,
            word: self.word.as_deref(),
            countrycode: self.countrycode.as_deref(),
            recognized: self.recognized,
            timestamp: self.timestamp,
            split: self.split,
            source: &self.source,
            drawing: &self.drawing,
            t: self.t.as_deref(),
        }
    }
}

/// A batch of drawings built column by column, straight into Arrow buffers: pushing a row
/// copies its fields and allocates nothing per row. [`finish`](Self::finish) gives the
/// [`RecordBatch`] that [`DrawingWriter::write`] takes. Batches can be built on several
/// threads at once, each with its own builder.
pub struct DrawingColumns {
    schema: SchemaRef,
    key_id: StringBuilder,
    word: StringBuilder,
    countrycode: StringBuilder,
    recognized: BooleanBuilder,
    timestamp: TimestampMicrosecondBuilder,
    split: StringBuilder,
    source: StringBuilder,
    n_strokes: Vec<i32>,
    n_points: Vec<i32>,
    dx: Vec<f32>,
    dy: Vec<f32>,
    pen: Vec<u8>,
    t: Vec<f64>,
    t_lengths: Vec<usize>,
    t_valid: BooleanBufferBuilder,
    labels: Vec<StringBuilder>,
}

impl DrawingColumns {
    /// An empty batch for a table with these label factors (names without `label_`).
    pub fn new(label_names: &[String]) -> Self {
        Self::with_schema(schema(label_names))
    }

    /// An empty builder for the same table.
    pub fn empty(&self) -> Self {
        Self::with_schema(self.schema.clone())
    }

    fn with_schema(schema: SchemaRef) -> Self {
        let n_labels = schema.fields().len() - N_FIXED_COLUMNS;
        DrawingColumns {
            schema,
            key_id: StringBuilder::new(),
            word: StringBuilder::new(),
            countrycode: StringBuilder::new(),
            recognized: BooleanBuilder::new(),
            timestamp: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            split: StringBuilder::new(),
            source: StringBuilder::new(),
            n_strokes: Vec::new(),
            n_points: Vec::new(),
            dx: Vec::new(),
            dy: Vec::new(),
            pen: Vec::new(),
            t: Vec::new(),
            t_lengths: Vec::new(),
            t_valid: BooleanBufferBuilder::new(0),
            labels: (0..n_labels).map(|_| StringBuilder::new()).collect(),
        }
    }

    /// Makes room for `rows` more rows of `points` points in all, sparing the copies of
    /// growing the buffers as they fill.
    pub fn reserve(&mut self, rows: usize, points: usize) {
        self.n_strokes.reserve(rows);
        self.n_points.reserve(rows);
        self.t_lengths.reserve(rows);
        self.dx.reserve(points);
        self.dy.reserve(points);
        self.pen.reserve(points);
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.n_points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a row. `labels` gives one value per label column, in the order of the names the
    /// builder was made with (missing ones are null, extra ones ignored).
    pub fn push<'a>(
        &mut self,
        row: DrawingRef<'_>,
        labels: impl IntoIterator<Item = Option<&'a str>>,
    ) {
        self.key_id.append_value(row.key_id);
        self.word.append_option(row.word);
        self.countrycode.append_option(row.countrycode);
        self.recognized.append_option(row.recognized);
        self.timestamp.append_option(row.timestamp);
        self.split.append_value(row.split.as_str());
        self.source.append_value(row.source);
        let d = row.drawing;
        self.n_strokes.push(d.n_strokes() as i32);
        self.n_points.push(d.len() as i32);
        self.dx.extend_from_slice(&d.dx);
        self.dy.extend_from_slice(&d.dy);
        self.pen.extend_from_slice(&d.pen);
        match row.t {
            Some(t) => {
                self.t.extend_from_slice(t);
                self.t_lengths.push(t.len());
                self.t_valid.append(true);
            }
            None => {
                self.t_lengths.push(0);
                self.t_valid.append(false);
            }
        }
        let mut labels = labels.into_iter();
        for column in &mut self.labels {
            column.append_option(labels.next().flatten());
        }
    }

    /// Appends an owned row.
    pub fn push_row(&mut self, row: &DrawingRow) {
        self.push(row.as_ref(), row.labels.iter().map(Option::as_deref));
    }

    /// The rows as a record batch of the drawings table's schema.
    pub fn finish(mut self) -> RecordBatch {
        let points = |values: ArrayRef| -> ArrayRef {
            let item = Field::new("item", values.data_type().clone(), false);
            let offsets = OffsetBuffer::from_lengths(self.n_points.iter().map(|&n| n as usize));
            Arc::new(ListArray::new(Arc::new(item), offsets, values, None))
        };
        let dx = points(Arc::new(Float32Array::from(std::mem::take(&mut self.dx))));
        let dy = points(Arc::new(Float32Array::from(std::mem::take(&mut self.dy))));
        let pen = points(Arc::new(UInt8Array::from(std::mem::take(&mut self.pen))));
        let t = ListArray::new(
            Arc::new(Field::new("item", DataType::Float64, false)),
            OffsetBuffer::from_lengths(self.t_lengths.iter().copied()),
            Arc::new(Float64Array::from(std::mem::take(&mut self.t))),
            Some(NullBuffer::new(self.t_valid.finish())),
        );
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.key_id.finish()),
            Arc::new(self.word.finish()),
            Arc::new(self.countrycode.finish()),
            Arc::new(self.recognized.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.split.finish()),
            Arc::new(self.source.finish()),
            Arc::new(Int32Array::from(std::mem::take(&mut self.n_strokes))),
            Arc::new(Int32Array::from(std::mem::take(&mut self.n_points))),
            dx,
            dy,
            pen,
            Arc::new(t),
        ];
        debug_assert_eq!(cols.len(), N_FIXED_COLUMNS);
        cols.extend(
            self.labels
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        RecordBatch::try_new(self.schema, cols).expect("columns built to the schema")
    }
}

/// Columns before the `label_*` ones.
const N_FIXED_COLUMNS: usize = 13;

/// Streams rows into `drawings.parquet`, a batch at a time; the file appears on [`finish`].
///
/// Batches go to a thread of their own that encodes them, so that reading and parsing the input
/// go on meanwhile (on two cores that nearly doubles ingest). Rows can come one at a time
/// ([`push`]) or as whole batches built elsewhere ([`columns`] then [`write`]), in any mix:
/// they are written in the order given.
///
/// [`finish`]: DrawingWriter::finish
/// [`push`]: DrawingWriter::push
/// [`columns`]: DrawingWriter::columns
/// [`write`]: DrawingWriter::write
pub struct DrawingWriter {
    label_names: Vec<String>,
    schema: SchemaRef,
    pending: DrawingColumns,
    written: usize,
    batches: Option<SyncSender<RecordBatch>>,
    encoder: Option<JoinHandle<Result<Out>>>,
}

/// Where [`DrawingWriter`]'s batches go: one file, or a Hive-partitioned folder.
enum Out {
    File(RowGroupWriter),
    Partitioned(PartitionedWriter),
}

impl Out {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            Out::File(w) => w.write(batch),
            Out::Partitioned(w) => w.write(batch),
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            Out::File(w) => w.finish(),
            Out::Partitioned(w) => w.finish().map(drop),
        }
    }
}

impl DrawingWriter {
    pub fn create(path: &Path, label_names: &[String], metadata: &Metadata) -> Result<Self> {
        let schema = schema(label_names);
        let inner = TableWriter::create(path, "drawings", schema.clone(), metadata)?
            .into_row_groups(parallel())?;
        Self::start(path, label_names, schema, Out::File(inner))
    }

    /// A writer of a Hive-partitioned folder `dir`: `dir/<column>=<value>/<file_name>`, one
    /// file per value of `column` (see [`PartitionedWriter`]), all renamed into place on
    /// [`finish`](Self::finish).
    pub fn create_partitioned(
        dir: &Path,
        label_names: &[String],
        metadata: &Metadata,
        column: &str,
        file_name: &str,
    ) -> Result<Self> {
        let schema = schema(label_names);
        let inner = PartitionedWriter::create(
            dir,
            "drawings",
            &schema,
            metadata,
            column,
            file_name,
            parallel(),
        )?;
        Self::start(dir, label_names, schema, Out::Partitioned(inner))
    }

    fn start(
        path: &Path,
        label_names: &[String],
        schema: SchemaRef,
        mut inner: Out,
    ) -> Result<Self> {
        // a few batches in flight: enough to keep both sides busy, little memory
        let (tx, rx) = mpsc::sync_channel::<RecordBatch>(4);
        let encoder = std::thread::Builder::new()
            .name("drawings-writer".into())
            .spawn(move || {
                for batch in rx {
                    inner.write(&batch)?;
                }
                Ok(inner)
            })
            .map_err(|e| TableError::io(path, e))?;
        Ok(DrawingWriter {
            label_names: label_names.to_vec(),
            pending: DrawingColumns::with_schema(schema.clone()),
            schema,
            written: 0,
            batches: Some(tx),
            encoder: Some(encoder),
        })
    }

    pub fn label_names(&self) -> &[String] {
        &self.label_names
    }

    /// An empty batch builder for this table, to fill (on any thread) and [`write`](Self::write).
    pub fn columns(&self) -> DrawingColumns {
        DrawingColumns::with_schema(self.schema.clone())
    }

    pub fn push(&mut self, row: DrawingRow) -> Result<()> {
        debug_assert_eq!(row.labels.len(), self.label_names.len());
        self.pending.push_row(&row);
        if self.pending.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes a batch built by [`columns`](Self::columns) (or any batch of this table's
    /// schema), after the rows pushed before it.
    pub fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.flush()?;
        if batch.num_rows() > 0 {
            self.send(batch)?;
        }
        Ok(())
    }

    pub fn written(&self) -> usize {
        self.written + self.pending.len()
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let empty = self.columns();
        let full = std::mem::replace(&mut self.pending, empty);
        self.send(full.finish())
    }

    fn send(&mut self, batch: RecordBatch) -> Result<()> {
        let n = batch.num_rows();
        let tx = self.batches.as_ref().expect("open until finish");
        if tx.send(batch).is_err() {
            // the encoder stops early only on an error, which says why
            return Err(self
                .join_encoder()
                .err()
                .expect("the encoder stopped on an error"));
        }
        self.written += n;
        Ok(())
    }

    fn join_encoder(&mut self) -> Result<Out> {
        self.batches = None;
        let encoder = self.encoder.take().expect("encoder joined once");
        encoder
            .join()
            .expect("the drawings writer thread does not panic")
    }

    /// Writes what is pending and renames the file into place. Returns the number of rows.
    pub fn finish(mut self) -> Result<usize> {
        self.flush()?;
        self.join_encoder()?.finish()?;
        Ok(self.written)
    }
}

impl Drop for DrawingWriter {
    /// Unfinished (an error upstream): stop the encoder; its file is removed unrenamed.
    fn drop(&mut self) {
        if self.encoder.is_some() {
            let _ = self.join_encoder();
        }
    }
}

fn parallel() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Reads a whole drawings table (a file, a folder or a glob: see [`crate::dataset`]), checking
/// every row: equal column lengths, at least one point, finite offsets, a known split.
pub fn read(path: &Path) -> Result<DrawingTable> {
    let mut reader = Reader::open(path)?;
    let mut rows = Vec::new();
    while let Some(batch) = reader.next_rows()? {
        rows.extend(batch);
    }
    if rows.is_empty() {
        return Err(TableError::invalid(path, "the drawings table has no rows"));
    }
    Ok(DrawingTable {
        label_names: reader.label_names,
        rows,
        metadata: reader.metadata,
    })
}

/// A uniform sample of at most about `max` drawings of the table at `path` (0: every drawing):
/// those whose [`crate::dataset::sample_hash`] of their key_id with `seed` are the `max`
/// smallest, the same whatever the order of the rows or files (a key_id repeated, which hashes
/// alike, may keep a few more). The table streams past: memory grows with `max`, not with the
/// table. Also returns the rows read. The sample keeps the table's row order.
pub fn read_sample(path: &Path, max: usize, seed: u64) -> Result<(DrawingTable, usize)> {
    read_sample_keeping(path, max, seed, &Default::default())
}

/// [`read_sample`], with every drawing whose key_id is in `keep` as well (after the sample): the
/// drawings that other tables name (the reconstructions' originals), at most `keep.len()` more.
pub fn read_sample_keeping(
    path: &Path,
    max: usize,
    seed: u64,
    keep: &std::collections::HashSet<String>,
) -> Result<(DrawingTable, usize)> {
    if max == 0 {
        let t = read(path)?;
        let n = t.rows.len();
        return Ok((t, n));
    }
    let mut reader = Reader::open(path)?;
    let mut sample = crate::dataset::Sampler::new(max, seed);
    let mut also = Vec::new();
    let mut read = 0;
    loop {
        let mut seen = 0;
        let rows = reader.next_rows_where(&mut |k| {
            seen += 1;
            keep.contains(k) || sample.admits(k)
        })?;
        let Some(rows) = rows else { break };
        read += seen;
        for r in rows {
            if keep.contains(&r.key_id) {
                also.push(r);
            } else {
                sample.add(&r.key_id.clone(), r);
            }
        }
    }
    let mut kept = sample.finish();
    kept.extend(also);
    if kept.is_empty() {
        return Err(TableError::invalid(path, "the drawings table has no rows"));
    }
    Ok((
        DrawingTable {
            label_names: reader.label_names,
            rows: kept,
            metadata: reader.metadata,
        },
        read,
    ))
}

/// A drawings table read a batch of rows at a time (one row group of a file in memory at a
/// time), each row checked as [`read`] checks it: what a stage reads when the table may not fit
/// in memory.
pub struct Reader {
    /// Factor names of the `label_*` columns, without the prefix.
    pub label_names: Vec<String>,
    /// The files' footers, merged.
    pub metadata: Metadata,
    /// The rows the files' footers declare, all files together (for a progress bar).
    pub rows: usize,
    batches: crate::dataset::Batches,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader> {
        let batches = crate::dataset::Batches::open(path, "drawings")?;
        let schema = batches.schema.clone();
        let t = "drawings";
        columns::require(path, &schema, t, "key_id", &columns::is_string, "string")?;
        columns::require(path, &schema, t, "split", &columns::is_string, "string")?;
        for c in ["dx", "dy"] {
            columns::require(
                path,
                &schema,
                t,
                c,
                &|d| columns::is_list_of(d, &DataType::Float32),
                "list<float32>",
            )?;
        }
        columns::require(
            path,
            &schema,
            t,
            "pen",
            &|d| columns::is_list_of(d, &DataType::UInt8),
            "list<uint8>",
        )?;
        let label_names: Vec<String> = schema
            .fields()
            .iter()
            .filter(|f| f.name().starts_with(LABEL_PREFIX) && columns::is_string(f.data_type()))
            .map(|f| f.name()[LABEL_PREFIX.len()..].to_string())
            .collect();

        Ok(Reader {
            label_names,
            metadata: batches.metadata.clone(),
            rows: batches.rows,
            batches,
        })
    }

    /// The next batch of rows (a few thousand), or `None` after the last.
    pub fn next_rows(&mut self) -> Result<Option<Vec<DrawingRow>>> {
        self.next_rows_where(&mut |_| true)
    }

    /// The rows of the next batch whose key_id `keep` accepts (perhaps none), or `None` after
    /// the last batch. The rows left out are neither decoded nor checked: what a sample reads.
    pub fn next_rows_where(
        &mut self,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Option<Vec<DrawingRow>>> {
        let Some(b) = self.batches.next() else {
            return Ok(None);
        };
        let b = b?;
        let first = b.first_row;
        match columns::keep_rows(&b.batch, keep) {
            None => rows_of(&b.batch, &b.file, &|i| first + i, &self.label_names),
            Some((kept, rows)) => rows_of(&kept, &b.file, &|i| first + rows[i], &self.label_names),
        }
        .map(Some)
    }
}

impl Iterator for Reader {
    type Item = Result<Vec<DrawingRow>>;

    fn next(&mut self) -> Option<Result<Vec<DrawingRow>>> {
        self.next_rows().transpose()
    }
}

/// The rows of one batch of a drawings table, checked; `row_no` gives a row's number in `file`.
fn rows_of(
    batch: &RecordBatch,
    file: &Path,
    row_no: &dyn Fn(usize) -> usize,
    label_names: &[String],
) -> Result<Vec<DrawingRow>> {
    let schema = batch.schema();
    let mut rows = Vec::with_capacity(batch.num_rows());
    let n = batch.num_rows();
    let key = columns::strings(batch, "key_id");
    let split = columns::strings(batch, "split");
    let opt_strings = |name: &str| {
        if schema
            .field_with_name(name)
            .is_ok_and(|f| columns::is_string(f.data_type()))
        {
            columns::strings(batch, name)
        } else {
            vec![None; n]
        }
    };
    let word = opt_strings("word");
    let country = opt_strings("countrycode");
    let source = opt_strings("source");
    let recognized: Vec<Option<bool>> = match batch.column_by_name("recognized") {
        Some(c) if c.data_type() == &DataType::Boolean => {
            let b = c.as_boolean();
            (0..n).map(|i| b.is_valid(i).then(|| b.value(i))).collect()
        }
        _ => vec![None; n],
    };
    let timestamp: Vec<Option<i64>> = match batch.column_by_name("timestamp") {
        Some(c) => match arrow::compute::cast(
            c,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ) {
            Ok(c) => {
                let a = c.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
                (0..n).map(|i| a.is_valid(i).then(|| a.value(i))).collect()
            }
            Err(_) => vec![None; n],
        },
        None => vec![None; n],
    };
    let labels: Vec<Vec<Option<String>>> = label_names
        .iter()
        .map(|l| columns::strings(batch, &format!("{LABEL_PREFIX}{l}")))
        .collect();
    let dx = batch.column_by_name("dx").unwrap().as_list::<i32>();
    let dy = batch.column_by_name("dy").unwrap().as_list::<i32>();
    let pen = batch.column_by_name("pen").unwrap().as_list::<i32>();
    let tcol = batch
        .column_by_name("t")
        .filter(|c| columns::is_list_of(c.data_type(), &DataType::Float64))
        .map(|c| c.as_list::<i32>().clone());
    for i in 0..n {
        let row_no = row_no(i);
        let bad = |m: String| TableError::bad_row(file, row_no, m);
        let key_id = key[i].clone().ok_or_else(|| bad("key_id is null".into()))?;
        if dx.is_null(i) || dy.is_null(i) || pen.is_null(i) {
            return Err(bad(format!("drawing `{key_id}` has a null dx, dy or pen")));
        }
        let d = Stroke3 {
            dx: columns::f32_row(dx, i),
            dy: columns::f32_row(dy, i),
            pen: columns::u8_row(pen, i),
        };
        if d.dx.len() != d.dy.len() || d.dx.len() != d.pen.len() {
            return Err(bad(format!(
                "drawing `{key_id}`: dx, dy and pen have {}, {} and {} points",
                d.dx.len(),
                d.dy.len(),
                d.pen.len()
            )));
        }
        if d.is_empty() {
            return Err(bad(format!("drawing `{key_id}` has no points")));
        }
        if !d.is_finite() {
            return Err(bad(format!(
                "drawing `{key_id}` has a NaN or infinite offset"
            )));
        }
        let split_s = split[i].clone().unwrap_or_default();
        let split = Split::parse(&split_s).ok_or_else(|| {
            bad(format!(
                "drawing `{key_id}`: split `{split_s}` is not train, valid or test"
            ))
        })?;
        let t = tcol.as_ref().and_then(|c| {
            c.is_valid(i).then(|| {
                let v = c.value(i);
                v.as_primitive::<arrow::datatypes::Float64Type>()
                    .values()
                    .to_vec()
            })
        });
        rows.push(DrawingRow {
            key_id,
            word: word[i].clone(),
            countrycode: country[i].clone(),
            recognized: recognized[i],
            timestamp: timestamp[i],
            split,
            source: source[i].clone().unwrap_or_default(),
            drawing: d,
            t,
            labels: labels.iter().map(|l| l[i].clone()).collect(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn row(i: usize, labels: Vec<Option<String>>) -> DrawingRow {
        DrawingRow {
            key_id: format!("k{i}"),
            word: Some("face".into()),
            countrycode: i.is_multiple_of(2).then(|| "DE".into()),
            recognized: Some(!i.is_multiple_of(3)),
            timestamp: Some(1_488_000_000_000_000 + i as i64),
            split: Split::ALL[i % 3],
            source: "x.ndjson".into(),
            drawing: Stroke3 {
                dx: vec![i as f32, 1.0, -2.5],
                dy: vec![0.0, 2.0, 3.0],
                pen: vec![0, 1, 1],
            },
            t: (i % 2 == 1).then(|| vec![0.0, 10.0, 20.5]),
            labels,
        }
    }

    #[test]
    fn write_then_read_gives_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.parquet");
        let names = vec!["mouth".to_string()];
        let mut w =
            DrawingWriter::create(&path, &names, &vec![("source".into(), "test".into())]).unwrap();
        let rows: Vec<_> = (0..20_000)
            .map(|i| row(i, vec![(i % 4 != 0).then(|| format!("m{}", i % 3))]))
            .collect();
        for r in rows.clone() {
            w.push(r).unwrap();
        }
        assert_eq!(w.finish().unwrap(), 20_000);
        let t = read(&path).unwrap();
        assert_eq!(t.label_names, names);
        assert_eq!(t.rows, rows);
        assert!(t.metadata.contains(&("source".into(), "test".into())));
        let labels = t.label_columns();
        assert_eq!(labels[1].name, "label_mouth");
    }

    /// A table streams a batch at a time, over the files of a folder, with the rows of the
    /// whole; a sample is the same whatever the files' split and order, of the size asked.
    #[test]
    fn reader_streams_and_samples_do_not_depend_on_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<_> = (0..9000).map(|i| row(i, vec![])).collect();
        let write = |path: &Path, rows: &[DrawingRow]| {
            let mut w = DrawingWriter::create(path, &[], &vec![]).unwrap();
            for r in rows {
                w.push(r.clone()).unwrap();
            }
            w.finish().unwrap();
        };
        write(&dir.path().join("one.parquet"), &rows);
        // the same rows in three files, in another order
        let mut reversed = rows.clone();
        reversed.reverse();
        for (k, part) in reversed.chunks(3500).enumerate() {
            write(&dir.path().join(format!("parts/p{k}.parquet")), part);
        }
        let mut reader = Reader::open(&dir.path().join("parts")).unwrap();
        assert_eq!(reader.rows, 9000, "the footers' count, before reading");
        let mut got = Vec::new();
        let mut batches = 0;
        while let Some(b) = reader.next_rows().unwrap() {
            assert!(!b.is_empty() && b.len() <= BATCH_ROWS, "{}", b.len());
            got.extend(b);
            batches += 1;
        }
        assert_eq!(batches, 5, "3,500 rows a file, in batches of 2,048");
        assert_eq!(got, reversed);

        let keys = |t: &DrawingTable| {
            let mut k: Vec<String> = t.rows.iter().map(|r| r.key_id.clone()).collect();
            k.sort();
            k
        };
        let (a, read_a) = read_sample(&dir.path().join("one.parquet"), 1000, 7).unwrap();
        let (b, read_b) = read_sample(&dir.path().join("parts"), 1000, 7).unwrap();
        assert_eq!((read_a, read_b), (9000, 9000));
        assert_eq!(a.rows.len(), 1000);
        assert_eq!(keys(&a), keys(&b));
        // another seed, another sample; about a third of it in each third of the rows
        let (c, _) = read_sample(&dir.path().join("one.parquet"), 1000, 8).unwrap();
        assert_ne!(keys(&a), keys(&c));
        let early = c
            .rows
            .iter()
            .filter(|r| r.key_id[1..].parse::<usize>().unwrap() < 3000);
        let early = early.count();
        assert!(
            (250..420).contains(&early),
            "{early} of 1000 in the first third"
        );
        let (all, _) = read_sample(&dir.path().join("one.parquet"), 0, 7).unwrap();
        assert_eq!(all.rows, rows);
    }

    /// Rows pushed one by one and batches built elsewhere (as ingest's parsing threads do) go
    /// into the file in the order given.
    #[test]
    fn pushed_rows_and_built_batches_keep_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.parquet");
        let names = vec!["eyes".to_string(), "mouth".to_string()];
        let mut w = DrawingWriter::create(&path, &names, &vec![]).unwrap();
        let labels = |i: usize| {
            vec![
                Some(format!("e{i}")),
                i.is_multiple_of(3).then(|| "m".into()),
            ]
        };
        let rows: Vec<_> = (0..5_000).map(|i| row(i, labels(i))).collect();
        let mut built = w.columns();
        for (i, r) in rows.iter().enumerate() {
            // every other thousand rows go through a batch built apart, the rest one by one
            if (i / 1000) % 2 == 1 {
                built.push_row(r);
                if i % 1000 == 999 {
                    let batch = std::mem::replace(&mut built, w.columns()).finish();
                    w.write(batch).unwrap();
                }
            } else {
                w.push(r.clone()).unwrap();
            }
        }
        // extra label values are ignored, missing ones are null
        let mut extra = w.columns();
        let last = row(5_000, vec![Some("x".into()), None]);
        extra.push(last.as_ref(), [Some("x"), None, Some("ignored")]);
        let mut missing = w.columns();
        let short = row(5_001, vec![Some("y".into()), None]);
        missing.push(short.as_ref(), [Some("y")]);
        w.write(extra.finish()).unwrap();
        w.write(missing.finish()).unwrap();
        w.write(w.columns().finish()).unwrap();
        assert_eq!(w.finish().unwrap(), 5_002);
        let t = read(&path).unwrap();
        let mut want = rows;
        want.push(last);
        want.push(short);
        assert_eq!(t.rows, want);
    }

    #[test]
    fn nan_and_missing_columns_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.parquet");
        let mut w = DrawingWriter::create(&path, &[], &vec![]).unwrap();
        let mut r = row(0, vec![]);
        r.drawing.dy[1] = f32::NAN;
        w.push(r).unwrap();
        w.finish().unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("row 0") && e.contains("NaN"), "{e}");

        // another stage's table (the train log) is refused by its footer's kind
        let log = dir.path().join("log.parquet");
        crate::train_log::write(&log, &[]).unwrap();
        let e = read(&log).unwrap_err().to_string();
        assert!(
            e.contains("log.parquet: a `train_log` table, not the `drawings` table"),
            "{e}"
        );

        let e = read(&dir.path().join("absent.parquet"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent.parquet"), "{e}");
    }
}
