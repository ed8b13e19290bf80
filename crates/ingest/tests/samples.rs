//! Ingests every real sample in `../shared/datasets/quickdraw/` and checks the counts against
//! the files' PROVENANCE.md; reads the output back with an independent reader (pyarrow and
//! DuckDB). Skipped, with a message, where the samples or Python are absent.

use std::path::{Path, PathBuf};
use std::process::Command;

use ingest::{ingest, IngestConfig};

fn samples() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/quickdraw");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (the real samples live beside the repository in CI)",
            p.display()
        );
        None
    }
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

#[test]
fn every_sample_is_read_with_the_documented_counts() {
    let Some(s) = samples() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.parquet");
    // every drawing, whatever its length: the counts are those of PROVENANCE.md
    let cfg = IngestConfig {
        max_points: 0,
        ..IngestConfig::default()
    };
    let groups: Vec<(&str, Vec<PathBuf>, usize, usize)> = vec![
        // (what, files, file count, drawings per PROVENANCE.md)
        (
            "simplified first 25",
            files(&s.join("simplified/first25"), ".ndjson"),
            344,
            8600,
        ),
        (
            "simplified eye+mouth",
            files(&s.join("simplified"), ".ndjson"),
            2,
            4888 + 4926,
        ),
        (
            "raw first chunk",
            files(&s.join("raw/first_chunk"), ".ndjson.gz"),
            345,
            9570,
        ),
        ("SPG", files(&s.join("spg"), ".ndjson"), 20, 16000),
        (
            "sketch-rnn",
            files(&s.join("sketchrnn"), ".npz"),
            5,
            4 * 2500 + 8000,
        ),
        ("binary", files(&s.join("binary"), ".bin"), 1, 25),
    ];
    for (what, inputs, n_files, n) in groups {
        assert_eq!(inputs.len(), n_files, "{what}: file count");
        let r = ingest(&inputs, &out, &cfg, &()).unwrap();
        assert_eq!(r.read, n, "{what}: drawings read");
        assert_eq!(r.written + r.skipped_duplicate, n, "{what}: {r:?}");
        let t = tables::drawings::read(&out).unwrap();
        assert_eq!(t.rows.len(), r.written, "{what}: rows read back");
        for row in &t.rows {
            assert_eq!(
                *row.drawing.pen.last().unwrap(),
                1,
                "{what}: {}",
                row.key_id
            );
        }
        if what.starts_with("raw") {
            assert!(t
                .rows
                .iter()
                .all(|r| r.t.as_ref().map(Vec::len) == Some(r.drawing.len())));
        }
        if what == "sketch-rnn" {
            let sheep_splits = t
                .rows
                .iter()
                .filter(|r| r.source.starts_with("aaron"))
                .fold([0; 3], |mut c, r| {
                    c[r.split as usize] += 1;
                    c
                });
            assert_eq!(sheep_splits, [7400, 300, 300], "npz members give the split");
        }
    }
}

#[test]
fn other_tools_open_the_table() {
    let Some(s) = samples() else { return };
    let Some(py) = trust::project_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("drawings.parquet");
    let mut inputs = files(&s.join("simplified/first25"), ".ndjson");
    inputs.extend(
        files(&s.join("raw/first_chunk"), ".ndjson.gz")
            .into_iter()
            .take(3),
    );
    inputs.extend(files(&s.join("sketchrnn"), ".npz").into_iter().take(1));
    let status = Command::new(env!("CARGO_BIN_EXE_ingest"))
        .arg("-o")
        .arg(&out)
        .args(&inputs)
        .status()
        .unwrap();
    assert!(status.success());
    let n = ingest(
        &inputs,
        &dir.path().join("again.parquet"),
        &IngestConfig::default(),
        &(),
    )
    .unwrap()
    .written;
    let check = format!(
        r#"
import duckdb, pyarrow.parquet as pq
t = pq.read_table("{p}")
assert t.num_rows == {n}, t.num_rows
for c in ["key_id", "word", "countrycode", "recognized", "timestamp", "split", "n_strokes", "n_points", "dx", "dy", "pen", "t"]:
    assert c in t.column_names, c
row = t.slice(0, 1).to_pylist()[0]
assert len(row["dx"]) == len(row["dy"]) == len(row["pen"]) == row["n_points"]
assert row["pen"][-1] == 1
bad = duckdb.sql("select count(*) from '{p}' where len(dx) != n_points or pen[-1] != 1").fetchall()[0][0]
assert bad == 0, bad
splits = dict(duckdb.sql("select split, count(*) from '{p}' group by split").fetchall())
assert set(splits) <= {{"train", "valid", "test"}}, splits
print("ok", t.num_rows, splits)
"#,
        p = out.display()
    );
    let o = Command::new(&py).arg("-c").arg(check).output().unwrap();
    assert!(
        o.status.success(),
        "python check failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
