//! `cluster` against wrong inputs, a second writer and SIGKILL (issue 26).

use std::path::{Path, PathBuf};
use std::process::Command;

use trust::fixture::Pipeline;

fn fixture() -> &'static Pipeline {
    Pipeline::shared(Path::new(env!("CARGO_TARGET_TMPDIR")).join("cluster-fixture"))
}

fn cluster(input: &Path, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cluster"));
    c.args([
        "--algorithm",
        "kmeans",
        "--k",
        "3",
        "--silhouette-sample",
        "50",
        "-o",
    ])
    .arg(out)
    .arg(input);
    c
}

fn outputs(out: &Path) -> Vec<PathBuf> {
    vec![
        out.to_path_buf(),
        out.with_file_name("cluster_summary.json"),
    ]
}

#[test]
fn wrong_inputs_are_refused_naming_the_file() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/clusters.parquet");
    let bad = trust::bad_inputs(
        &p.embeddings,
        &p.clusters,
        "embedding",
        &["embedding"],
        &dir.path().join("bad"),
    );
    assert!(bad.len() >= 9);
    for b in &bad {
        let r = cluster(&b.path, &out).output().unwrap();
        let outs = outputs(&out);
        trust::refuses(&r, &b.what, &b.path, &[&outs[0], &outs[1]]);
    }
}

#[test]
fn the_edge_drawings_go_through() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clusters.parquet");
    let r = cluster(&p.embeddings, &out).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rows = tables::clusters::read(&out).unwrap();
    for k in [
        trust::fixture::ONE_POINT,
        trust::fixture::ONE_STROKE,
        trust::fixture::LONG,
    ] {
        assert!(rows.iter().any(|r| r.key_id == k), "{k} left out");
    }
}

#[test]
fn a_second_writer_is_refused_with_the_first_ones_pid() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clusters.parquet");
    let held = stage::OutputLock::file(&out).unwrap();
    let r = cluster(&p.embeddings, &out).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        err.contains(&format!("pid {}", std::process::id())) && err.contains("clusters.parquet"),
        "{err}"
    );
    assert!(!out.exists());
    drop(held);
    assert!(cluster(&p.embeddings, &out).status().unwrap().success());
}

#[test]
fn killed_at_random_moments_it_leaves_the_previous_output_or_none() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clusters.parquet");
    let outs = outputs(&out);
    let report = trust::kill_at_random(
        &|| cluster(&p.embeddings, &out),
        &outs,
        40,
        3,
        &trust::same_but_timings,
    );
    eprintln!("{report:?}");
    assert!(report.killed > 0, "{report:?}");
}
