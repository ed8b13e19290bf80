//! `ingest --shard I/N` and `--partition-by` (issue 22, item 3): the shards of a data set are
//! disjoint and make the whole whatever the order of the input files; a partitioned folder,
//! a folder of shards and a glob read back as the one-file table, by our readers and by
//! DuckDB and pyarrow.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tables::dataset::Shard;
use tables::drawings::DrawingRow;

fn ingest(args: &[&str], inputs: &[&Path], out: &Path) -> Output {
    let r = Command::new(env!("CARGO_BIN_EXE_ingest"))
        .args(args)
        .arg("-o")
        .arg(out)
        .args(inputs)
        .output()
        .unwrap();
    r
}

fn ok(r: Output) -> String {
    assert!(
        r.status.success(),
        "ingest failed:\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
    String::from_utf8_lossy(&r.stdout).into_owned()
}

/// Two ndjson files of synthetic faces (disjoint key_ids), in a fresh folder.
fn inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let a = dir.join("a.ndjson");
    let b = dir.join("b.ndjson");
    for (p, seed, count) in [(&a, "3", "700"), (&b, "4", "500")] {
        let r = Command::new(env!("CARGO_BIN_EXE_ingest"))
            .args(["synth", "--count", count, "--seed", seed, "-o"])
            .arg(p)
            .output()
            .unwrap();
        ok(r);
    }
    (a, b)
}

/// The rows by key_id (the source file's name included, so a row matches only itself).
fn by_key(rows: Vec<DrawingRow>) -> BTreeMap<String, DrawingRow> {
    let n = rows.len();
    let m: BTreeMap<String, DrawingRow> = rows.into_iter().map(|r| (r.key_id.clone(), r)).collect();
    assert_eq!(m.len(), n, "key_ids are unique");
    m
}

#[test]
fn shards_are_disjoint_make_the_whole_and_ignore_the_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = inputs(d);
    let whole_path = d.join("whole.parquet");
    ok(ingest(&[], &[&a, &b], &whole_path));
    let whole = by_key(tables::drawings::read(&whole_path).unwrap().rows);
    assert_eq!(whole.len(), 1200);

    let n = 3;
    let mut union = BTreeMap::new();
    for i in 0..n {
        let shard = format!("{i}/{n}");
        let one = d.join(format!("shards/{i}/drawings.parquet"));
        let line = ok(ingest(&["--shard", &shard], &[&a, &b], &one));
        let rows = by_key(tables::drawings::read(&one).unwrap().rows);
        assert!(
            line.contains(&format!("shard {shard} kept {} of them", rows.len())),
            "{line}"
        );
        // the same rows from the files in the other order
        let swapped = d.join(format!("swapped/{i}.parquet"));
        ok(ingest(&["--shard", &shard], &[&b, &a], &swapped));
        let again = by_key(tables::drawings::read(&swapped).unwrap().rows);
        assert_eq!(
            again.keys().collect::<Vec<_>>(),
            rows.keys().collect::<Vec<_>>(),
            "shard {shard}"
        );
        let s: Shard = shard.parse().unwrap();
        assert!(rows.keys().all(|k| s.contains(k)));
        assert!(
            rows.len() > 1200 / 3 - 100,
            "{} rows in shard {shard}",
            rows.len()
        );
        for (k, r) in rows {
            assert_eq!(Some(&r), whole.get(&k), "a shard's row is the whole's");
            assert!(union.insert(k, r).is_none(), "shards are disjoint");
        }
    }
    assert_eq!(union, whole);

    // a glob of the shards' files, and their folder, read as one table
    for input in [d.join("shards/*/drawings.parquet"), d.join("shards")] {
        let t = tables::drawings::read(&input).unwrap();
        assert_eq!(by_key(t.rows), whole, "{}", input.display());
    }

    // a bad shard is a clear error, and no output
    for bad in ["3/3", "1/0", "one/3", "2"] {
        let out = d.join("bad.parquet");
        let r = ingest(&["--shard", bad], &[&a], &out);
        let e = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{bad}");
        assert!(e.contains(&format!("shard `{bad}`")), "{e}");
        assert!(!out.exists());
    }
}

#[test]
fn a_partitioned_folder_reads_back_as_the_single_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = inputs(d);
    let whole_path = d.join("whole.parquet");
    ok(ingest(&[], &[&a, &b], &whole_path));
    let whole = by_key(tables::drawings::read(&whole_path).unwrap().rows);

    // by split, as 2 shards writing into the same folder
    let out = d.join("by_split");
    for i in 0..2 {
        let line = ok(ingest(
            &["--shard", &format!("{i}/2"), "--partition-by", "split"],
            &[&b, &a],
            &out,
        ));
        assert!(line.contains("partitioned by split"), "{line}");
    }
    let mut names: Vec<String> = tables::dataset::files(&out)
        .unwrap()
        .iter()
        .map(|p| p.strip_prefix(&out).unwrap().display().to_string())
        .collect();
    names.sort();
    let want: Vec<String> = ["test", "train", "valid"]
        .iter()
        .flat_map(|s| (0..2).map(move |i| format!("split={s}/part-0000{i}.parquet")))
        .collect();
    assert_eq!(names, want);
    let back = tables::drawings::read(&out).unwrap();
    assert_eq!(by_key(back.rows), whole);

    // by word, unsharded: one part-00000.parquet
    let by_word = d.join("by_word");
    ok(ingest(&["--partition-by", "word"], &[&a, &b], &by_word));
    assert!(by_word.join("word=face/part-00000.parquet").is_file());
    let back = tables::drawings::read(&by_word).unwrap();
    assert_eq!(by_key(back.rows), whole);

    // a column the table lacks, or one that is not a string, is refused before any work
    for (column, says) in [
        ("colour", "no such column"),
        ("n_points", "a string column"),
    ] {
        let out = d.join(format!("by_{column}"));
        let r = ingest(&["--partition-by", column], &[&a], &out);
        let e = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success() && e.contains(says), "{column}: {e}");
        assert!(
            !out.exists() || tables::dataset::files(&out).is_err(),
            "no file written"
        );
    }

    external_readers_agree(&out, &whole_path);
}

/// DuckDB and pyarrow read the partitioned folder as one table with the single file's rows.
fn external_readers_agree(folder: &Path, single: &Path) {
    let Some(py) = trust::project_python() else {
        return;
    };
    let check = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check_dataset.py");
    let o = Command::new(&py)
        .arg(&check)
        .arg(folder)
        .arg(single)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the external readers' check failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&o.stdout));
}
