//! `clusters.parquet`: one row per drawing, written by `cluster`.
//!
//! | column | type |
//! | --- | --- |
//! | `key_id` | string |
//! | `cluster` | int32, -1 for noise |
//! | `strength` | float32, null: membership strength in [0, 1] where the algorithm gives one |
//! | `outlier_score` | float32, null: in [0, 1], higher is more of an outlier |
//! | `x`, `y` | float32, null: the 2-D map of the vectors clustered (UMAP or PCA: the footer key `map` says which); null for a drawing left out (without the part whose vectors were clustered) |

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float32Array, Int32Array};
use arrow::datatypes::{DataType, Field, Float32Type, Int32Type, Schema, SchemaRef};

use crate::columns::{self, TableWriter};
use crate::{Metadata, Result, TableError};

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterRow {
    pub key_id: String,
    pub cluster: i32,
    pub strength: Option<f32>,
    pub outlier_score: Option<f32>,
    /// The drawing's place on the map; `None` when it was left out of the clustering (it has
    /// no vector of the part clustered).
    pub xy: Option<(f32, f32)>,
}

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key_id", DataType::Utf8, false),
        Field::new("cluster", DataType::Int32, false),
        Field::new("strength", DataType::Float32, true),
        Field::new("outlier_score", DataType::Float32, true),
        Field::new("x", DataType::Float32, true),
        Field::new("y", DataType::Float32, true),
    ]))
}

pub fn write(path: &Path, rows: &[ClusterRow], meta: &Metadata) -> Result<()> {
    let mut w = Writer::create(path, meta)?;
    w.write(rows)?;
    w.finish()
}

/// A clusters table written a batch of rows at a time, renamed into place by
/// [`Writer::finish`]; dropped unfinished, it leaves nothing.
pub struct Writer(TableWriter);

impl Writer {
    pub fn create(path: &Path, meta: &Metadata) -> Result<Writer> {
        TableWriter::create(path, "clusters", schema(), meta).map(Writer)
    }

    pub fn write(&mut self, rows: &[ClusterRow]) -> Result<()> {
        let cols: Vec<ArrayRef> = vec![
            columns::string_array(rows.iter().map(|r| Some(r.key_id.as_str()))),
            Arc::new(rows.iter().map(|r| r.cluster).collect::<Int32Array>()),
            Arc::new(rows.iter().map(|r| r.strength).collect::<Float32Array>()),
            Arc::new(
                rows.iter()
                    .map(|r| r.outlier_score)
                    .collect::<Float32Array>(),
            ),
            Arc::new(
                rows.iter()
                    .map(|r| r.xy.map(|p| p.0))
                    .collect::<Float32Array>(),
            ),
            Arc::new(
                rows.iter()
                    .map(|r| r.xy.map(|p| p.1))
                    .collect::<Float32Array>(),
            ),
        ];
        self.0.write(cols)
    }

    pub fn finish(self) -> Result<()> {
        self.0.finish()
    }
}

/// A uniform sample of at most about `max` rows of the clusters table at `path` (0: every row),
/// picked as [`crate::drawings::read_sample`] picks drawings: with the same `max` and `seed`,
/// the same key_ids. Memory grows with `max`, not with the table.
pub fn read_sample(path: &Path, max: usize, seed: u64) -> Result<Vec<ClusterRow>> {
    if max == 0 {
        return read(path);
    }
    let mut sample = crate::dataset::Sampler::new(max, seed);
    read_each(path, &mut |r| sample.add(&r.key_id.clone(), r))?;
    Ok(sample.finish())
}

pub fn read(path: &Path) -> Result<Vec<ClusterRow>> {
    let mut out = Vec::new();
    read_each(path, &mut |r| out.push(r))?;
    Ok(out)
}

/// Reads the table a batch at a time, handing each row to `row`.
fn read_each(path: &Path, row: &mut dyn FnMut(ClusterRow)) -> Result<()> {
    let batches = crate::dataset::Batches::open(path, "clusters")?;
    let s = &batches.schema.clone();
    let t = "clusters";
    columns::require(path, s, t, "key_id", &columns::is_string, "string")?;
    columns::require(path, s, t, "cluster", &|d| *d == DataType::Int32, "int32")?;
    for c in ["x", "y"] {
        columns::require(path, s, t, c, &|d| *d == DataType::Float32, "float32")?;
    }
    for b in batches {
        let b = b?;
        let (file, first_row, b) = (&b.file, b.first_row, &b.batch);
        let keys = columns::strings(b, "key_id");
        let cl = b
            .column_by_name("cluster")
            .unwrap()
            .as_primitive::<Int32Type>();
        let f = |n: &str| {
            b.column_by_name(n)
                .filter(|c| c.data_type() == &DataType::Float32)
                .map(|c| c.as_primitive::<Float32Type>().clone())
        };
        let (x, y) = (f("x"), f("y"));
        let (st, os) = (f("strength"), f("outlier_score"));
        let opt = |c: &Option<arrow::array::PrimitiveArray<Float32Type>>, i: usize| {
            c.as_ref().and_then(|c| c.is_valid(i).then(|| c.value(i)))
        };
        for (i, key) in keys.iter().enumerate().take(b.num_rows()) {
            row(ClusterRow {
                key_id: key
                    .clone()
                    .ok_or_else(|| TableError::bad_row(file, first_row + i, "key_id is null"))?,
                cluster: cl.value(i),
                strength: opt(&st, i),
                outlier_score: opt(&os, i),
                xy: opt(&x, i).zip(opt(&y, i)),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.parquet");
        let rows: Vec<_> = (0..10)
            .map(|i| ClusterRow {
                key_id: format!("k{i}"),
                cluster: i % 3 - 1,
                strength: (i % 2 == 0).then_some(0.5),
                outlier_score: Some(0.25),
                xy: (i % 4 != 3).then_some((i as f32, -(i as f32))),
            })
            .collect();
        write(&p, &rows, &vec![]).unwrap();
        assert_eq!(read(&p).unwrap(), rows);
    }
}
