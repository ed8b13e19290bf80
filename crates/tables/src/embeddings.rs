//! `embeddings.parquet`: one vector per drawing, written by `embed`.
//!
//! | column | type |
//! | --- | --- |
//! | `key_id` | string |
//! | `split` | string |
//! | `embedding` | fixed_size_list<float32>[dim] |
//! | `inside`, `outline`, `outside` (each optional) | fixed_size_list<float32>[dim], null: the vectors of the drawing's parts (see [`drawing::Part`]): what is drawn inside its largest stroke, that stroke alone, and the rest; null where the part is empty |
//! | `word`, `label_<factor>` | string, null: labels carried from the drawings |
//!
//! The footer metadata names the model and the input (`model`, `input`). `embed` writes each
//! vector at unit length unless told not to (`embed.unit_length` in the footer says which), and
//! `embed.parts` names the part columns written and `embed.part_box` whether their vectors were
//! measured in the whole drawing's box or in their own (`whole`, `own`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, Float32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Float32Type, Schema, SchemaRef};

use drawing::Part;

use crate::columns::{self, TableWriter};
use crate::dataset::PartitionedWriter;
use crate::{LabelColumn, Metadata, Result, Split, TableError};

/// Embeddings as one row-major matrix.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmbeddingTable {
    pub key_ids: Vec<String>,
    pub splits: Vec<Split>,
    pub dim: usize,
    /// `key_ids.len() × dim`, row-major.
    pub values: Vec<f32>,
    /// The optional part columns (`inside`, `outline`, `outside`), in column order: more
    /// vectors per drawing, each of one part of it.
    pub parts: Vec<PartVectors>,
    pub labels: Vec<LabelColumn>,
    pub metadata: Metadata,
}

/// A part column: `values` is row-major like [`EmbeddingTable::values`], with zeros where
/// `present` is false (a drawing without that part, such as a face with nothing inside its
/// outline; null in the file).
#[derive(Debug, Clone, PartialEq)]
pub struct PartVectors {
    pub part: Part,
    pub values: Vec<f32>,
    pub present: Vec<bool>,
}

impl EmbeddingTable {
    pub fn len(&self) -> usize {
        self.key_ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.key_ids.is_empty()
    }
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }
    /// The vectors of one part, when the table has them.
    pub fn part(&self, part: Part) -> Option<&PartVectors> {
        self.parts.iter().find(|p| p.part == part)
    }

    /// The vectors of a column by name: `embedding` (every row) or a part's (the rows that
    /// have the part): the rows, and their vectors one after another. `None` when the table
    /// has no such column.
    pub fn column_vectors(&self, column: &str) -> Option<(Vec<usize>, Vec<f32>)> {
        let n = self.len();
        let (values, rows): (&[f32], Vec<usize>) = if column == "embedding" {
            (&self.values, (0..n).collect())
        } else {
            let v = self.part(Part::from_name(column)?)?;
            (&v.values, (0..n).filter(|&i| v.present[i]).collect())
        };
        let chosen = rows
            .iter()
            .flat_map(|&i| &values[i * self.dim..(i + 1) * self.dim])
            .copied()
            .collect();
        Some((rows, chosen))
    }

    /// Like [`Self::column_vectors`], with `whole_when_missing` every row: those without the
    /// column's vector take their whole drawing's (`embedding`) instead. Also returns how many
    /// rows did.
    pub fn vectors_or_whole(
        &self,
        column: &str,
        whole_when_missing: bool,
    ) -> Option<(Vec<usize>, Vec<f32>, usize)> {
        let (rows, values) = self.column_vectors(column)?;
        if !whole_when_missing || rows.len() == self.len() {
            return Some((rows, values, 0));
        }
        let d = self.dim;
        let mut all = Vec::with_capacity(self.len() * d);
        let mut own = rows.iter().enumerate().peekable();
        for i in 0..self.len() {
            match own.next_if(|(_, &r)| r == i) {
                Some((k, _)) => all.extend_from_slice(&values[k * d..(k + 1) * d]),
                None => all.extend_from_slice(&self.values[i * d..(i + 1) * d]),
            }
        }
        Some(((0..self.len()).collect(), all, self.len() - rows.len()))
    }

    /// Keeps the rows whose key_id `keep` accepts, in their order (a shard's rows: see
    /// [`crate::dataset::Shard`]).
    pub fn retain_keys(&mut self, keep: impl Fn(&str) -> bool) {
        let rows: Vec<usize> = (0..self.len())
            .filter(|&i| keep(&self.key_ids[i]))
            .collect();
        self.keep_rows(&rows);
    }

    /// Keeps rows `rows` (ascending), in their order.
    fn keep_rows(&mut self, rows: &[usize]) {
        let d = self.dim;
        let pick = |v: &[f32]| -> Vec<f32> {
            rows.iter()
                .flat_map(|&i| &v[i * d..(i + 1) * d])
                .copied()
                .collect()
        };
        self.values = pick(&self.values);
        for p in &mut self.parts {
            p.values = pick(&p.values);
            p.present = rows.iter().map(|&i| p.present[i]).collect();
        }
        for l in &mut self.labels {
            l.values = rows.iter().map(|&i| l.values[i].clone()).collect();
        }
        self.key_ids = rows.iter().map(|&i| self.key_ids[i].clone()).collect();
        self.splits = rows.iter().map(|&i| self.splits[i]).collect();
    }

    /// Appends the rows of `more` (a later batch of the same table: the same width, parts and
    /// labels).
    pub fn append(&mut self, more: EmbeddingTable) {
        self.key_ids.extend(more.key_ids);
        self.splits.extend(more.splits);
        self.values.extend(more.values);
        for (p, q) in self.parts.iter_mut().zip(more.parts) {
            p.values.extend(q.values);
            p.present.extend(q.present);
        }
        for (l, m) in self.labels.iter_mut().zip(more.labels) {
            l.values.extend(m.values);
        }
    }

    /// Keeps the rows `limit` admits, then thins them to its sample (see
    /// [`crate::dataset::SampleLimit`]).
    fn keep_below(&mut self, limit: &mut crate::dataset::SampleLimit, seed: u64) {
        let hashes: Vec<u64> = self
            .key_ids
            .iter()
            .map(|k| crate::dataset::sample_hash(k, seed))
            .collect();
        let bound = limit.thin(&hashes);
        let rows: Vec<usize> = (0..self.len())
            .filter(|&i| bound.is_some_and(|b| hashes[i] <= b))
            .collect();
        if rows.len() < self.len() {
            self.keep_rows(&rows);
        }
    }

    /// The id of the embedding model that made the vectors (`embed.model_id` in the footer).
    pub fn model_id(&self) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == "embed.model_id")
            .map(|(_, v)| v.as_str())
    }
}

pub fn schema(dim: usize, parts: &[Part], labels: &[LabelColumn]) -> SchemaRef {
    let vector = |name: &str, nullable: bool| {
        Field::new(
            name,
            DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float32, false)),
                dim as i32,
            ),
            nullable,
        )
    };
    let mut fields = vec![
        Field::new("key_id", DataType::Utf8, false),
        Field::new("split", DataType::Utf8, false),
        vector("embedding", false),
    ];
    fields.extend(parts.iter().map(|p| vector(p.name(), true)));
    fields.extend(
        labels
            .iter()
            .map(|l| Field::new(&l.name, DataType::Utf8, true)),
    );
    Arc::new(Schema::new(fields))
}

pub fn write(path: &Path, table: &EmbeddingTable) -> Result<()> {
    let mut w = Writer::create(path, table, None)?;
    w.write(table)?;
    w.finish().map(|_| ())
}

/// Writes the table as a Hive-partitioned folder: `dir/<column>=<value>/<file_name>`, one file
/// per value of `column` (`word`, `split` or a label; see [`PartitionedWriter`]), all renamed
/// into place at the end. Returns the files written.
pub fn write_partitioned(
    dir: &Path,
    table: &EmbeddingTable,
    column: &str,
    file_name: &str,
) -> Result<Vec<PathBuf>> {
    let mut w = Writer::create(dir, table, Some((column, file_name)))?;
    w.write(table)?;
    w.finish()
}

/// An embeddings table written a batch of rows at a time, to one file or (with a partition
/// column) a Hive-partitioned folder, renamed into place by [`Writer::finish`]; dropped
/// unfinished, it leaves nothing.
pub struct Writer {
    path: PathBuf,
    schema: SchemaRef,
    dim: usize,
    parts: Vec<Part>,
    labels: Vec<String>,
    out: Out,
    rows: usize,
}

enum Out {
    // boxed: 416 bytes against the partitioned writer's 160
    File(Box<TableWriter>),
    Partitioned(PartitionedWriter),
}

impl Writer {
    /// A writer of tables shaped like `like` (its width, part columns, label columns and
    /// footer metadata; its rows are not written). `partition`: the column to partition by, and
    /// the name of each partition's file.
    pub fn create(
        path: &Path,
        like: &EmbeddingTable,
        partition: Option<(&str, &str)>,
    ) -> Result<Writer> {
        let schema = table_schema(like);
        let out = match partition {
            None => Out::File(Box::new(TableWriter::create(
                path,
                "embeddings",
                schema.clone(),
                &like.metadata,
            )?)),
            Some((column, file_name)) => {
                let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
                Out::Partitioned(PartitionedWriter::create(
                    path,
                    "embeddings",
                    &schema,
                    &like.metadata,
                    column,
                    file_name,
                    parallel,
                )?)
            }
        };
        Ok(Writer {
            path: path.to_path_buf(),
            schema,
            dim: like.dim,
            parts: like.parts.iter().map(|p| p.part).collect(),
            labels: like.labels.iter().map(|l| l.name.clone()).collect(),
            out,
            rows: 0,
        })
    }

    /// Writes the rows of `table`, which must be shaped as the writer's.
    pub fn write(&mut self, table: &EmbeddingTable) -> Result<()> {
        let path = &self.path;
        check_shape(path, table)?;
        let same = table.dim == self.dim
            && table
                .parts
                .iter()
                .map(|p| p.part)
                .eq(self.parts.iter().copied())
            && table.labels.iter().map(|l| &l.name).eq(self.labels.iter());
        if !same {
            return Err(TableError::invalid(
                path,
                "a batch of embeddings shaped unlike the table being written",
            ));
        }
        if table.is_empty() {
            return Ok(());
        }
        self.rows += table.len();
        let schema = self.schema.clone();
        match &mut self.out {
            Out::File(w) => each_batch(path, table, &mut |cols| w.write(cols)),
            Out::Partitioned(w) => each_batch(path, table, &mut |cols| {
                let batch = RecordBatch::try_new(schema.clone(), cols)
                    .map_err(|e| TableError::arrow(path, e))?;
                w.write(&batch)
            }),
        }
    }

    /// The rows written so far.
    pub fn written(&self) -> usize {
        self.rows
    }

    /// Finishes the file (or every partition's file) and renames it into place: the files
    /// written.
    pub fn finish(self) -> Result<Vec<PathBuf>> {
        match self.out {
            Out::File(w) => w.finish().map(|_| vec![self.path]),
            Out::Partitioned(w) => w.finish(),
        }
    }
}

fn table_schema(table: &EmbeddingTable) -> SchemaRef {
    schema(
        table.dim,
        &table.parts.iter().map(|p| p.part).collect::<Vec<_>>(),
        &table.labels,
    )
}

fn check_shape(path: &Path, table: &EmbeddingTable) -> Result<()> {
    let n = table.len();
    let parts_fit = table
        .parts
        .iter()
        .all(|p| p.values.len() == n * table.dim && p.present.len() == n);
    if table.values.len() != n * table.dim || table.splits.len() != n || !parts_fit {
        return Err(TableError::invalid(
            path,
            format!(
                "{} keys, {} splits and {} values do not make a {n}×{} matrix",
                n,
                table.splits.len(),
                table.values.len(),
                table.dim
            ),
        ));
    }
    Ok(())
}

/// The table's columns a few MB at a time, each handed to `sink`.
fn each_batch(
    path: &Path,
    table: &EmbeddingTable,
    sink: &mut dyn FnMut(Vec<ArrayRef>) -> Result<()>,
) -> Result<()> {
    let n = table.len();
    let chunk = columns_per_batch(table.dim);
    for start in (0..n.max(1)).step_by(chunk) {
        let end = (start + chunk).min(n);
        let vectors = |values: &[f32], present: Option<&[bool]>| {
            let item = Arc::new(Field::new("item", DataType::Float32, false));
            let values = Float32Array::from(values[start * table.dim..end * table.dim].to_vec());
            let nulls = present.map(|p| p[start..end].iter().copied().collect());
            FixedSizeListArray::try_new(item, table.dim as i32, Arc::new(values), nulls)
                .map_err(|e| TableError::arrow(path, e))
        };
        let emb = vectors(&table.values, None)?;
        let mut cols: Vec<ArrayRef> = vec![
            columns::string_array(table.key_ids[start..end].iter().cloned().map(Some)),
            columns::string_array(
                table.splits[start..end]
                    .iter()
                    .map(|s| Some(s.as_str().to_string())),
            ),
            Arc::new(emb),
        ];
        for p in &table.parts {
            cols.push(Arc::new(vectors(&p.values, Some(&p.present))?));
        }
        for l in &table.labels {
            cols.push(columns::string_array(l.values[start..end].iter().cloned()));
        }
        sink(cols)?;
    }
    Ok(())
}

fn columns_per_batch(dim: usize) -> usize {
    (4 << 20) / (dim.max(1) * 4)
}

/// Reads an embeddings table (a file, a folder or a glob: see [`crate::dataset`]) and checks its
/// shape: a fixed-size float32 list, no null or NaN.
pub fn read(path: &Path) -> Result<EmbeddingTable> {
    let mut reader = Reader::open(path)?;
    let mut out = reader.empty();
    while let Some(more) = reader.next_rows()? {
        out.append(more);
    }
    if out.is_empty() {
        return Err(TableError::invalid(
            path,
            "the embeddings table has no rows",
        ));
    }
    Ok(out)
}

/// A uniform sample of at most about `max` rows of the embeddings table at `path` (0: every row;
/// the rows whose [`crate::dataset::sample_hash`] of their key_id with `seed` are the `max`
/// smallest), kept as the table streams past, so that memory grows
/// with `max`, not with the table. Also returns the rows read.
pub fn read_sample(path: &Path, max: usize, seed: u64) -> Result<(EmbeddingTable, usize)> {
    if max == 0 {
        let t = read(path)?;
        let n = t.len();
        return Ok((t, n));
    }
    let mut reader = Reader::open(path)?;
    let mut kept = reader.empty();
    let mut limit = crate::dataset::SampleLimit::new(max);
    let mut read = 0;
    loop {
        let mut seen = 0;
        let more = reader.next_rows_where(&mut |k| {
            seen += 1;
            limit.admits(crate::dataset::sample_hash(k, seed))
        })?;
        let Some(more) = more else { break };
        read += seen;
        // rows above the sample's bound are out for good (never decoded); at most one and a
        // half times the sample (and a batch) in memory
        kept.append(more);
        if limit.full(kept.len()) {
            kept.keep_below(&mut limit, seed);
        }
    }
    kept.keep_below(&mut limit, seed);
    if kept.is_empty() {
        return Err(TableError::invalid(
            path,
            "the embeddings table has no rows",
        ));
    }
    Ok((kept, read))
}

/// An embeddings table read a batch of rows at a time (one row group of a file in memory at a
/// time), each batch an [`EmbeddingTable`] of its own, checked as [`read`] checks it.
pub struct Reader {
    /// An empty table with the table's width, part columns, label columns and footer.
    shape: EmbeddingTable,
    /// The rows the files' footers declare, all files together (for a progress bar).
    pub rows: usize,
    has_split: bool,
    batches: crate::dataset::Batches,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader> {
        let batches = crate::dataset::Batches::open(path, "embeddings")?;
        let s = &batches.schema;
        let t = "embeddings";
        columns::require(path, s, t, "key_id", &columns::is_string, "string")?;
        columns::require(
            path,
            s,
            t,
            "embedding",
            &|d| matches!(d, DataType::FixedSizeList(f, _) if f.data_type() == &DataType::Float32),
            "fixed_size_list<float32>",
        )?;
        let dim = match s.field_with_name("embedding").unwrap().data_type() {
            DataType::FixedSizeList(_, d) => *d as usize,
            _ => unreachable!(),
        };
        if dim == 0 {
            return Err(TableError::invalid(path, "embeddings have width 0"));
        }
        // the part columns present, in the file's column order
        let mut parts = Vec::new();
        for f in s.fields() {
            let Some(part) = Part::from_name(f.name()) else {
                continue;
            };
            match f.data_type() {
                DataType::FixedSizeList(item, d)
                    if item.data_type() == &DataType::Float32 && *d as usize == dim =>
                {
                    parts.push(PartVectors {
                        part,
                        values: Vec::new(),
                        present: Vec::new(),
                    })
                }
                other => {
                    return Err(TableError::invalid(
                        path,
                        format!(
                            "column `{}` is {other}, expected fixed_size_list<float32>[{dim}] \
                             like `embedding`",
                            f.name()
                        ),
                    ))
                }
            }
        }
        let shape = EmbeddingTable {
            dim,
            labels: columns::label_names(s)
                .iter()
                .map(|n| LabelColumn {
                    name: n.clone(),
                    values: Vec::new(),
                })
                .collect(),
            metadata: batches.metadata.clone(),
            parts,
            ..Default::default()
        };
        Ok(Reader {
            shape,
            rows: batches.rows,
            has_split: s.field_with_name("split").is_ok(),
            batches,
        })
    }

    /// An empty table shaped as this one (width, parts, labels, footer).
    pub fn empty(&self) -> EmbeddingTable {
        self.shape.clone()
    }

    /// The next batch of rows (a few thousand), or `None` after the last.
    pub fn next_rows(&mut self) -> Result<Option<EmbeddingTable>> {
        self.next_rows_where(&mut |_| true)
    }

    /// The rows of the next batch whose key_id `keep` accepts (perhaps none), or `None` after
    /// the last batch. The rows left out are neither decoded nor checked: what a sample reads.
    pub fn next_rows_where(
        &mut self,
        keep: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Option<EmbeddingTable>> {
        let Some(b) = self.batches.next() else {
            return Ok(None);
        };
        let b = b?;
        let first = b.first_row;
        let (kept, rows) = match columns::keep_rows(&b.batch, keep) {
            Some((kept, rows)) => (Some(kept), Some(rows)),
            None => (None, None),
        };
        let row_no = |i: usize| first + rows.as_ref().map_or(i, |r| r[i]);
        let (path, b) = (&b.file, kept.as_ref().unwrap_or(&b.batch));
        let mut out = self.empty();
        let dim = out.dim;
        let keys = columns::strings(b, "key_id");
        let splits = if self.has_split {
            columns::strings(b, "split")
        } else {
            vec![Some("train".into()); b.num_rows()]
        };
        let emb = b.column_by_name("embedding").unwrap().as_fixed_size_list();
        for i in 0..b.num_rows() {
            let row = row_no(i);
            let key = keys[i]
                .clone()
                .ok_or_else(|| TableError::bad_row(path, row, "key_id is null"))?;
            if emb.is_null(i) {
                return Err(TableError::bad_row(
                    path,
                    row,
                    format!("`{key}`: null embedding"),
                ));
            }
            // row i of a vector column, refused unless every value is finite
            let finite = |col: &FixedSizeListArray, what: &str| {
                let v = col.value(i);
                let v = v.as_primitive::<Float32Type>();
                if v.null_count() > 0 || v.values().iter().any(|x| !x.is_finite()) {
                    return Err(TableError::bad_row(
                        path,
                        row,
                        format!("`{key}`: the {what} holds a NaN, infinite or null value"),
                    ));
                }
                Ok(v.values().to_vec())
            };
            out.values.extend(finite(emb, "embedding")?);
            for p in out.parts.iter_mut() {
                let name = p.part.name();
                let col = b.column_by_name(name).unwrap().as_fixed_size_list();
                if col.is_null(i) {
                    p.values.extend(std::iter::repeat_n(0.0, dim));
                    p.present.push(false);
                } else {
                    p.values.extend(finite(col, &format!("{name} vector"))?);
                    p.present.push(true);
                }
            }
            let split = splits[i].as_deref().and_then(Split::parse).ok_or_else(|| {
                TableError::bad_row(path, row, format!("`{key}`: unknown split {:?}", splits[i]))
            })?;
            out.splits.push(split);
            out.key_ids.push(key);
        }
        for l in out.labels.iter_mut() {
            l.values.extend(columns::strings(b, &l.name));
        }
        Ok(Some(out))
    }
}

impl Iterator for Reader {
    type Item = Result<EmbeddingTable>;

    fn next(&mut self) -> Option<Result<EmbeddingTable>> {
        self.next_rows().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize, dim: usize) -> EmbeddingTable {
        EmbeddingTable {
            key_ids: (0..n).map(|i| format!("k{i}")).collect(),
            splits: (0..n).map(|i| Split::ALL[i % 3]).collect(),
            dim,
            values: (0..n * dim).map(|v| v as f32 * 0.5).collect(),
            labels: vec![LabelColumn {
                name: "label_eyes".into(),
                values: (0..n)
                    .map(|i| (i % 5 != 0).then(|| format!("e{}", i % 2)))
                    .collect(),
            }],
            metadata: vec![("model".into(), "run".into())],
            parts: Vec::new(),
        }
    }

    #[test]
    fn the_part_columns_round_trip_with_their_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        let mut t = table(3000, 5);
        // two parts, in an order of their own, each with its own missing rows
        for (part, gap) in [(Part::Outside, 5), (Part::Inside, 7)] {
            let present: Vec<bool> = (0..3000).map(|i| i % gap != 3).collect();
            let values = (0..3000 * 5)
                .map(|v| if present[v / 5] { v as f32 * 0.25 } else { 0.0 })
                .collect();
            t.parts.push(PartVectors {
                part,
                values,
                present,
            });
        }
        write(&p, &t).unwrap();
        let back = read(&p).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.part(Part::Inside).unwrap().part, Part::Inside);
        assert!(back.part(Part::Outline).is_none());
        // the nulls are nulls to other readers, not zero vectors
        let loaded = columns::load(&p, "embeddings").unwrap();
        let nulls = |name: &str| -> usize {
            loaded
                .batches
                .iter()
                .map(|b| b.column_by_name(name).unwrap().null_count())
                .sum()
        };
        assert_eq!(nulls("inside"), (0..3000).filter(|i| i % 7 == 3).count());
        assert_eq!(nulls("outside"), (0..3000).filter(|i| i % 5 == 3).count());
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        let t = table(3000, 7);
        write(&p, &t).unwrap();
        assert_eq!(read(&p).unwrap(), t);
    }

    /// Rows left out by a filter are not read; those kept are checked, and a bad one is named by
    /// its row in the file.
    #[test]
    fn filtered_rows_keep_their_row_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        let mut t = table(3000, 3);
        t.values[2500 * 3] = f32::NAN; // left out by the filter
        t.values[2511 * 3 + 1] = f32::NAN;
        write(&p, &t).unwrap();
        let mut r = Reader::open(&p).unwrap();
        let mut kept = Vec::new();
        let e = loop {
            match r.next_rows_where(&mut |k| k.ends_with('1')) {
                Ok(Some(b)) => kept.extend(b.key_ids),
                Ok(None) => panic!("the NaN in row 2511 was not found"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(e.contains("row 2511") && e.contains("`k2511`"), "{e}");
        // the first batch (2,048 rows) was read whole: its 205 keys ending in 1
        assert!(
            kept.iter().all(|k| k.ends_with('1')) && kept.len() == 205,
            "{}",
            kept.len()
        );
    }

    #[test]
    fn nan_and_wrong_shape_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        let mut t = table(4, 3);
        t.values[5] = f32::NAN;
        write(&p, &t).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("row 1") && e.contains("NaN"), "{e}");
        t.values.pop();
        let e = write(&p, &t).unwrap_err().to_string();
        assert!(e.contains("4×3"), "{e}");
    }
}
