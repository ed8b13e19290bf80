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
    Array, ArrayRef, AsArray, BooleanArray, Float64Builder, Int32Array, ListBuilder,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use drawing::Stroke3;

use crate::columns::{self, TableWriter, BATCH_ROWS};
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
    /// The label columns to carry into later tables: `word` and `label_<factor>`.
    pub fn label_columns(&self) -> Vec<LabelColumn> {
        let mut out = vec![LabelColumn {
            name: "word".into(),
            values: self.rows.iter().map(|r| r.word.clone()).collect(),
        }];
        for (i, name) in self.label_names.iter().enumerate() {
            out.push(LabelColumn {
                name: format!("{LABEL_PREFIX}{name}"),
                values: self.rows.iter().map(|r| r.labels[i].clone()).collect(),
            });
        }
        out
    }
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

/// Streams rows into `drawings.parquet`, a batch at a time; the file appears on [`finish`].
///
/// Full batches go to a thread of their own that builds the Arrow columns and encodes them, so
/// that reading and parsing the input go on meanwhile (on two cores that nearly doubles ingest).
///
/// [`finish`]: DrawingWriter::finish
pub struct DrawingWriter {
    label_names: Vec<String>,
    pending: Vec<DrawingRow>,
    written: usize,
    batches: Option<SyncSender<Vec<DrawingRow>>>,
    encoder: Option<JoinHandle<Result<TableWriter>>>,
}

impl DrawingWriter {
    pub fn create(path: &Path, label_names: &[String], metadata: &Metadata) -> Result<Self> {
        let mut inner = TableWriter::create(path, "drawings", schema(label_names), metadata)?;
        // two batches in flight: enough to keep both sides busy, little memory
        let (tx, rx) = mpsc::sync_channel::<Vec<DrawingRow>>(2);
        let n_labels = label_names.len();
        let encoder = std::thread::Builder::new()
            .name("drawings-writer".into())
            .spawn(move || {
                for rows in rx {
                    inner.write(columns_of(&rows, n_labels))?;
                }
                Ok(inner)
            })
            .map_err(|e| TableError::io(path, e))?;
        Ok(DrawingWriter {
            label_names: label_names.to_vec(),
            pending: Vec::with_capacity(BATCH_ROWS),
            written: 0,
            batches: Some(tx),
            encoder: Some(encoder),
        })
    }

    pub fn label_names(&self) -> &[String] {
        &self.label_names
    }

    pub fn push(&mut self, row: DrawingRow) -> Result<()> {
        debug_assert_eq!(row.labels.len(), self.label_names.len());
        self.pending.push(row);
        if self.pending.len() >= BATCH_ROWS {
            self.flush()?;
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
        let rows = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH_ROWS));
        let n = rows.len();
        let tx = self.batches.as_ref().expect("open until finish");
        if tx.send(rows).is_err() {
            // the encoder stops early only on an error, which says why
            return Err(self
                .join_encoder()
                .err()
                .expect("the encoder stopped on an error"));
        }
        self.written += n;
        Ok(())
    }

    fn join_encoder(&mut self) -> Result<TableWriter> {
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

fn columns_of(rows: &[DrawingRow], n_labels: usize) -> Vec<ArrayRef> {
    let s = |f: &dyn Fn(&DrawingRow) -> Option<&str>| columns::string_array(rows.iter().map(f));
    let mut t = ListBuilder::new(Float64Builder::new()).with_field(Arc::new(Field::new(
        "item",
        DataType::Float64,
        false,
    )));
    for r in rows {
        match &r.t {
            Some(v) => {
                t.values().append_slice(v);
                t.append(true);
            }
            None => t.append(false),
        }
    }
    let mut cols: Vec<ArrayRef> = vec![
        s(&|r| Some(&r.key_id)),
        s(&|r| r.word.as_deref()),
        s(&|r| r.countrycode.as_deref()),
        Arc::new(rows.iter().map(|r| r.recognized).collect::<BooleanArray>()),
        Arc::new(
            rows.iter()
                .map(|r| r.timestamp)
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        ),
        s(&|r| Some(r.split.as_str())),
        s(&|r| Some(&r.source)),
        Arc::new(
            rows.iter()
                .map(|r| r.drawing.n_strokes() as i32)
                .collect::<Int32Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.drawing.len() as i32)
                .collect::<Int32Array>(),
        ),
        columns::f32_list(rows.iter().map(|r| r.drawing.dx.as_slice())),
        columns::f32_list(rows.iter().map(|r| r.drawing.dy.as_slice())),
        columns::u8_list(rows.iter().map(|r| r.drawing.pen.as_slice())),
        Arc::new(t.finish()),
    ];
    for i in 0..n_labels {
        cols.push(columns::string_array(
            rows.iter().map(|r| r.labels[i].as_deref()),
        ));
    }
    cols
}

/// Reads a whole drawings table, checking every row: equal column lengths, at least one point,
/// finite offsets, a known split.
pub fn read(path: &Path) -> Result<DrawingTable> {
    let loaded = columns::load(path)?;
    let schema = loaded.schema.clone();
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
    let has = |n: &str| schema.field_with_name(n).is_ok();
    let label_names: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| f.name().starts_with(LABEL_PREFIX) && columns::is_string(f.data_type()))
        .map(|f| f.name()[LABEL_PREFIX.len()..].to_string())
        .collect();

    let mut rows = Vec::new();
    for batch in &loaded.batches {
        let n = batch.num_rows();
        let key = columns::strings(batch, "key_id");
        let split = columns::strings(batch, "split");
        let opt_strings = |name: &str| {
            if has(name) && columns::is_string(schema.field_with_name(name).unwrap().data_type()) {
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
            let row_no = rows.len();
            let bad = |m: String| TableError::bad_row(path, row_no, m);
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
    }
    if rows.is_empty() {
        return Err(TableError::invalid(path, "the drawings table has no rows"));
    }
    Ok(DrawingTable {
        label_names,
        rows,
        metadata: loaded.metadata,
    })
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

        // a table without drawing columns (the train log) is refused by name
        let log = dir.path().join("log.parquet");
        crate::train_log::write(&log, &[]).unwrap();
        let e = read(&log).unwrap_err().to_string();
        assert!(e.contains("missing column `key_id`"), "{e}");

        let e = read(&dir.path().join("absent.parquet"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent.parquet"), "{e}");
    }
}
