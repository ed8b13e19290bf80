//! `train_log.parquet`: one row per logged training step.
//!
//! | column | type |
//! | --- | --- |
//! | `step` | int64 |
//! | `epoch` | int32 |
//! | `train_loss` | float64 |
//! | `valid_loss` | float64, null (set on the step that ends an epoch) |
//! | `learning_rate` | float64 |
//! | `elapsed_s` | float64 |

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array, Int64Array};
use arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Int64Type, Schema, SchemaRef};

use crate::columns::{self, TableWriter};
use crate::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct TrainLogRow {
    pub step: i64,
    pub epoch: i32,
    pub train_loss: f64,
    pub valid_loss: Option<f64>,
    pub learning_rate: f64,
    pub elapsed_s: f64,
}

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("step", DataType::Int64, false),
        Field::new("epoch", DataType::Int32, false),
        Field::new("train_loss", DataType::Float64, false),
        Field::new("valid_loss", DataType::Float64, true),
        Field::new("learning_rate", DataType::Float64, false),
        Field::new("elapsed_s", DataType::Float64, false),
    ]))
}

pub fn write(path: &Path, rows: &[TrainLogRow]) -> Result<()> {
    let mut w = TableWriter::create(path, "train_log", schema(), &vec![])?;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|r| r.step).collect::<Int64Array>()),
        Arc::new(rows.iter().map(|r| r.epoch).collect::<Int32Array>()),
        Arc::new(rows.iter().map(|r| r.train_loss).collect::<Float64Array>()),
        Arc::new(rows.iter().map(|r| r.valid_loss).collect::<Float64Array>()),
        Arc::new(
            rows.iter()
                .map(|r| r.learning_rate)
                .collect::<Float64Array>(),
        ),
        Arc::new(rows.iter().map(|r| r.elapsed_s).collect::<Float64Array>()),
    ];
    w.write(cols)?;
    w.finish()
}

pub fn read(path: &Path) -> Result<Vec<TrainLogRow>> {
    let loaded = columns::load(path, "train_log")?;
    let s = &loaded.schema;
    let t = "train_log";
    let is = |d: DataType| move |x: &DataType| *x == d;
    columns::require(path, s, t, "step", &is(DataType::Int64), "int64")?;
    columns::require(path, s, t, "epoch", &is(DataType::Int32), "int32")?;
    for c in ["train_loss", "valid_loss", "learning_rate", "elapsed_s"] {
        columns::require(path, s, t, c, &is(DataType::Float64), "float64")?;
    }
    let mut out = Vec::new();
    for b in &loaded.batches {
        let step = b
            .column_by_name("step")
            .unwrap()
            .as_primitive::<Int64Type>();
        let epoch = b
            .column_by_name("epoch")
            .unwrap()
            .as_primitive::<Int32Type>();
        let f = |n: &str| {
            b.column_by_name(n)
                .unwrap()
                .as_primitive::<Float64Type>()
                .clone()
        };
        let (tl, vl, lr, el) = (
            f("train_loss"),
            f("valid_loss"),
            f("learning_rate"),
            f("elapsed_s"),
        );
        for i in 0..b.num_rows() {
            out.push(TrainLogRow {
                step: step.value(i),
                epoch: epoch.value(i),
                train_loss: tl.value(i),
                valid_loss: vl.is_valid(i).then(|| vl.value(i)),
                learning_rate: lr.value(i),
                elapsed_s: el.value(i),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.parquet");
        let rows: Vec<_> = (0..5)
            .map(|i| TrainLogRow {
                step: i * 10,
                epoch: (i / 2) as i32,
                train_loss: 1.0 / (i + 1) as f64,
                valid_loss: (i % 2 == 1).then_some(0.5),
                learning_rate: 1e-3,
                elapsed_s: i as f64,
            })
            .collect();
        write(&p, &rows).unwrap();
        assert_eq!(read(&p).unwrap(), rows);
    }
}
