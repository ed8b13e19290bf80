//! `embed --shard I/N` on a Hive-partitioned drawings folder (issue 22, item 3): the shards'
//! vectors are disjoint and together the whole table's, whatever the order of the files.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use tables::dataset::Shard;
use tables::drawings::DrawingWriter;
use trust::fixture::Pipeline;

fn fixture() -> &'static Pipeline {
    Pipeline::shared(Path::new(env!("CARGO_TARGET_TMPDIR")).join("embed-shards-fixture"))
}

/// Runs embed; its summary line and the vectors by key_id.
fn embed(args: &[&str], input: &Path, out: &Path) -> (String, BTreeMap<String, Vec<f32>>) {
    let r = Command::new(env!("CARGO_BIN_EXE_embed"))
        .args([
            "--batch-size",
            "16",
            "--reconstructions",
            "0",
            "--interpolations",
            "0",
        ])
        .arg("--model")
        .arg(&fixture().run)
        .args(args)
        .arg("-o")
        .arg(out)
        .arg(input)
        .output()
        .unwrap();
    assert!(
        r.status.success(),
        "embed failed:\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let t = tables::embeddings::read(out).unwrap();
    let by_key = (0..t.len())
        .map(|i| (t.key_ids[i].clone(), t.row(i).to_vec()))
        .collect();
    (String::from_utf8_lossy(&r.stdout).into_owned(), by_key)
}

#[test]
fn shards_of_a_partitioned_folder_make_the_whole() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // the fixture's drawings as a folder partitioned by split, written as two parts whose rows
    // are in another order than the file's
    let table = tables::drawings::read(&p.drawings).unwrap();
    let folder = d.join("drawings");
    for (part, keep) in [(1, 1), (0, 0)] {
        let mut w = DrawingWriter::create_partitioned(
            &folder,
            &table.label_names,
            &table.metadata,
            "split",
            &format!("part-0000{part}.parquet"),
        )
        .unwrap();
        for r in table
            .rows
            .iter()
            .rev()
            .filter(|r| r.key_id.len() % 2 == keep)
        {
            w.push(r.clone()).unwrap();
        }
        w.finish().unwrap();
    }
    let (_, whole) = embed(&[], &p.drawings, &d.join("whole.parquet"));
    assert_eq!(whole.len(), table.rows.len());
    let mut union = BTreeMap::new();
    for i in 0..3 {
        let shard = format!("{i}/3");
        let out = d.join(format!("shards/{i}/embeddings.parquet"));
        let (line, one) = embed(&["--shard", &shard], &folder, &out);
        assert!(
            line.contains(&format!(
                "(shard {shard}: {} of the {} read)",
                one.len(),
                whole.len()
            )),
            "{line}"
        );
        let s: Shard = shard.parse().unwrap();
        for (k, v) in one {
            assert!(s.contains(&k), "{k} is in shard {shard}");
            let w = &whole[&k];
            // a drawing's vector does not depend on the others in its batch (to rounding)
            let diff = v
                .iter()
                .zip(w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(diff < 1e-5, "{k}: {diff}");
            assert!(union.insert(k, v).is_none(), "shards are disjoint");
        }
    }
    assert_eq!(union.len(), whole.len());
    assert!(union.keys().eq(whole.keys()));
    // the shards' tables read back as one through a glob
    let all = tables::embeddings::read(&d.join("shards/*/embeddings.parquet")).unwrap();
    assert_eq!(all.len(), whole.len());

    // a bad shard is refused with no output
    let out = d.join("bad.parquet");
    let r = Command::new(env!("CARGO_BIN_EXE_embed"))
        .arg("--model")
        .arg(&p.run)
        .args(["--shard", "1/1", "-o"])
        .arg(&out)
        .arg(&folder)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success() && e.contains("shard `1/1`"), "{e}");
    assert!(!out.exists());
}

/// `embed --partition-by split --shard I/N`: the shards write their files into one folder,
/// which reads back as the single file's vectors; each shard's reconstructions are its own.
#[test]
fn shards_write_one_partitioned_folder() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, whole) = embed(&[], &p.drawings, &d.join("whole.parquet"));
    let folder = d.join("embeddings");
    let run = |i: usize| {
        Command::new(env!("CARGO_BIN_EXE_embed"))
            .args([
                "--batch-size",
                "16",
                "--reconstructions",
                "2",
                "--interpolations",
                "0",
            ])
            .arg("--model")
            .arg(&p.run)
            .args([
                "--partition-by",
                "split",
                "--shard",
                &format!("{i}/2"),
                "-o",
            ])
            .arg(&folder)
            .arg(&p.drawings)
            .output()
            .unwrap()
    };
    for i in 0..2 {
        let r = run(i);
        let line = String::from_utf8_lossy(&r.stdout);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        assert!(line.contains("partitioned by split"), "{line}");
        let recs = d.join(format!("reconstructions.part-0000{i}.parquet"));
        let recs = tables::sequences::read_reconstructions(&recs).unwrap();
        let s: Shard = format!("{i}/2").parse().unwrap();
        assert!(!recs.is_empty() && recs.iter().all(|r| s.contains(&r.key_id)));
    }
    let mut names: Vec<String> = tables::dataset::files(&folder)
        .unwrap()
        .iter()
        .map(|f| f.strip_prefix(&folder).unwrap().display().to_string())
        .collect();
    names.sort();
    let want: Vec<String> = ["test", "train", "valid"]
        .iter()
        .flat_map(|s| (0..2).map(move |i| format!("split={s}/part-0000{i}.parquet")))
        .collect();
    assert_eq!(names, want);
    let back = tables::embeddings::read(&folder).unwrap();
    assert_eq!(back.len(), whole.len());
    for i in 0..back.len() {
        let w = &whole[&back.key_ids[i]];
        let diff = back
            .row(i)
            .iter()
            .zip(w)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "{}: {diff}", back.key_ids[i]);
    }
    // the split comes back from the path
    let single = tables::embeddings::read(&d.join("whole.parquet")).unwrap();
    let split_of: BTreeMap<&str, tables::Split> = single
        .key_ids
        .iter()
        .map(String::as_str)
        .zip(single.splits.iter().copied())
        .collect();
    assert!((0..back.len()).all(|i| split_of[back.key_ids[i].as_str()] == back.splits[i]));
}
