//! `generated.parquet`: drawings the model drew (`generate`), written by `generate`.
//!
//! The columns of `drawings.parquet` (see [`drawings`](crate::drawings)), so that every stage
//! reads it back as a drawings table (`embed`, `plot`, `ingest`'s reader), then where each
//! drawing came from:
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `gen_mode` | string | `like-cluster`, `like` or `prior` |
//! | `gen_cluster` | int32, null | the cluster asked for (`like-cluster`) |
//! | `gen_sources` | list<string> | key_ids of the drawings whose latents it was made from |
//! | `gen_temperature` | float32 | the decoder's sampling temperature (0: greedy) |
//!
//! The footer's `tables.table` is `generated`, so a generated table is never taken for the
//! data set's own drawings.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float32Array, Int32Array, ListBuilder, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema};

use crate::columns::{self, TableWriter};
use crate::drawings::{self, DrawingColumns, DrawingRow, DrawingTable};
use crate::{Metadata, Result, TableError};

/// Where a generated drawing came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// `like-cluster`, `like` or `prior`.
    pub mode: String,
    pub cluster: Option<i32>,
    pub sources: Vec<String>,
    pub temperature: f32,
}

/// A generated drawing: its drawings-table row and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedRow {
    pub row: DrawingRow,
    pub provenance: Provenance,
}

fn provenance_fields() -> Vec<Field> {
    vec![
        Field::new("gen_mode", DataType::Utf8, false),
        Field::new("gen_cluster", DataType::Int32, true),
        Field::new(
            "gen_sources",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        Field::new("gen_temperature", DataType::Float32, false),
    ]
}

/// Writes the rows (with `label_names`' columns, as [`drawings`] does) atomically.
pub fn write(
    path: &Path,
    label_names: &[String],
    rows: &[GeneratedRow],
    metadata: &Metadata,
) -> Result<()> {
    let mut cols = DrawingColumns::new(label_names);
    for r in rows {
        cols.push_row(&r.row);
    }
    let batch = cols.finish();
    let mut fields: Vec<Field> = drawings::schema(label_names)
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(provenance_fields());
    let schema = Arc::new(Schema::new(fields));
    let mut sources = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for s in &r.provenance.sources {
            sources.values().append_value(s);
        }
        sources.append(true);
    }
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(columns::string_array(
        rows.iter().map(|r| Some(r.provenance.mode.as_str())),
    ));
    columns.push(Arc::new(Int32Array::from(
        rows.iter()
            .map(|r| r.provenance.cluster)
            .collect::<Vec<_>>(),
    )));
    columns.push(Arc::new(sources.finish()));
    columns.push(Arc::new(Float32Array::from(
        rows.iter()
            .map(|r| r.provenance.temperature)
            .collect::<Vec<_>>(),
    )));
    let mut w = TableWriter::create(path, "generated", schema, metadata)?;
    w.write(columns)?;
    w.finish()
}

/// Reads a generated table: the drawings (checked as [`drawings::read`] checks them) and, row
/// for row, where each came from.
pub fn read(path: &Path) -> Result<(DrawingTable, Vec<Provenance>)> {
    let table = drawings::read(path)?;
    let loaded = columns::load(path)?;
    let t = "generated";
    let s = &loaded.schema;
    columns::require(path, s, t, "gen_mode", &columns::is_string, "string")?;
    columns::require(
        path,
        s,
        t,
        "gen_cluster",
        &|d| d == &DataType::Int32,
        "int32",
    )?;
    columns::require(
        path,
        s,
        t,
        "gen_sources",
        &|d| columns::is_list_of(d, &DataType::Utf8),
        "list<string>",
    )?;
    columns::require(
        path,
        s,
        t,
        "gen_temperature",
        &|d| d == &DataType::Float32,
        "float32",
    )?;
    let mut out = Vec::with_capacity(table.rows.len());
    for batch in &loaded.batches {
        let mode = columns::strings(batch, "gen_mode");
        let cluster = batch
            .column_by_name("gen_cluster")
            .expect("checked")
            .as_primitive::<arrow::datatypes::Int32Type>()
            .clone();
        let sources = batch
            .column_by_name("gen_sources")
            .expect("checked")
            .as_list::<i32>()
            .clone();
        let temperature = batch
            .column_by_name("gen_temperature")
            .expect("checked")
            .as_primitive::<arrow::datatypes::Float32Type>()
            .clone();
        for i in 0..batch.num_rows() {
            let row = out.len();
            let mode = mode[i]
                .clone()
                .ok_or_else(|| TableError::bad_row(path, row, "gen_mode is null"))?;
            let v = sources.value(i);
            let v = v.as_string::<i32>();
            out.push(Provenance {
                mode,
                cluster: cluster.is_valid(i).then(|| cluster.value(i)),
                sources: (0..v.len())
                    .filter(|&j| v.is_valid(j))
                    .map(|j| v.value(j).to_string())
                    .collect(),
                temperature: temperature.value(i),
            });
        }
    }
    Ok((table, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Split;
    use drawing::Stroke3;

    fn row(key: &str, mode: &str, cluster: Option<i32>, sources: &[&str]) -> GeneratedRow {
        GeneratedRow {
            row: DrawingRow {
                key_id: key.into(),
                word: Some("face".into()),
                countrycode: None,
                recognized: None,
                timestamp: None,
                split: Split::Test,
                source: "generate".into(),
                drawing: Stroke3 {
                    dx: vec![0.0, 3.0, -1.5],
                    dy: vec![0.0, 1.0, 2.0],
                    pen: vec![0, 1, 1],
                },
                t: None,
                labels: vec![],
            },
            provenance: Provenance {
                mode: mode.into(),
                cluster,
                sources: sources.iter().map(|s| s.to_string()).collect(),
                temperature: 0.2,
            },
        }
    }

    #[test]
    fn round_trips_and_reads_as_a_drawings_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("generated.parquet");
        let rows = vec![
            row("g0", "like-cluster", Some(3), &["a", "b"]),
            row("g1", "prior", None, &[]),
        ];
        let meta = vec![("generate.model".to_string(), "run".to_string())];
        write(&path, &[], &rows, &meta).unwrap();
        assert_eq!(
            crate::table_kind(&path).unwrap().as_deref(),
            Some("generated")
        );
        let plain = drawings::read(&path).unwrap();
        assert_eq!(plain.rows.len(), 2);
        assert_eq!(plain.rows[0], rows[0].row);
        let (table, prov) = read(&path).unwrap();
        assert_eq!(table.rows[1], rows[1].row);
        assert_eq!(
            prov,
            vec![rows[0].provenance.clone(), rows[1].provenance.clone()]
        );
        assert!(table
            .metadata
            .iter()
            .any(|(k, v)| k == "generate.model" && v == "run"));
    }

    #[test]
    fn a_drawings_table_is_not_a_generated_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drawings.parquet");
        let mut w = drawings::DrawingWriter::create(&path, &[], &vec![]).unwrap();
        w.push(row("d0", "x", None, &[]).row).unwrap();
        w.finish().unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("gen_mode"), "{e}");
    }
}
