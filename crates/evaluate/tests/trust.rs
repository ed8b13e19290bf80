//! `evaluate` against wrong inputs, a second writer and SIGKILL, with the edge drawings among
//! its inputs (issue 26).

use std::path::{Path, PathBuf};
use std::process::Command;

use trust::fixture::Pipeline;

fn fixture() -> &'static Pipeline {
    Pipeline::shared(Path::new(env!("CARGO_TARGET_TMPDIR")).join("evaluate-fixture"))
}

/// `evaluate` on the fixture's tables, with `replace` standing in for one of them.
fn evaluate(p: &Pipeline, replace: Option<(&Path, &Path)>, out: &Path) -> Command {
    let pick = |f: &Path| -> PathBuf {
        match replace {
            Some((from, to)) if from == f => to.to_path_buf(),
            _ => f.to_path_buf(),
        }
    };
    let mut c = Command::new(env!("CARGO_BIN_EXE_evaluate"));
    c.args([
        "--knn-k",
        "3",
        "--folds",
        "3",
        "--repeats",
        "1",
        "--drawings",
    ])
    .arg(pick(&p.drawings))
    .arg("--embeddings")
    .arg(pick(&p.embeddings))
    .arg("--clusters")
    .arg(pick(&p.clusters))
    .arg("--reconstructions")
    .arg(pick(&p.reconstructions))
    .arg("-o")
    .arg(out);
    c
}

#[test]
fn wrong_inputs_are_refused_naming_the_file() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/evaluation.json");
    let bad = dir.path().join("bad");
    let cases = [
        (&p.drawings, &p.embeddings, "dx", &["dx", "dy"][..]),
        (&p.embeddings, &p.clusters, "embedding", &["embedding"][..]),
        (&p.clusters, &p.embeddings, "cluster", &[][..]),
        (&p.reconstructions, &p.drawings, "dx", &["dx"][..]),
    ];
    for (good, other, column, floats) in cases {
        for b in trust::bad_inputs(good, other, column, floats, &bad) {
            let r = evaluate(p, Some((good, &b.path)), &out).output().unwrap();
            trust::refuses(&r, &b.what, &b.path, &[&out]);
        }
    }
}

/// A copy of `table` whose footer says it was made from another model's embeddings.
fn from_another_model(table: &Path, to: &Path) {
    let mut meta = tables::footer(table).unwrap();
    for (k, v) in meta.iter_mut() {
        if k == "embed.model_id" {
            *v = "00000000".into();
        }
    }
    assert!(meta.iter().any(|(k, _)| k == "embed.model_id"), "{meta:?}");
    match tables::table_kind(table).unwrap().as_deref() {
        Some("clusters") => {
            let rows = tables::clusters::read(table).unwrap();
            tables::clusters::write(to, &rows, &meta).unwrap();
        }
        Some("reconstructions") => {
            let rows = tables::sequences::read_reconstructions(table).unwrap();
            tables::sequences::write_reconstructions(to, &rows, &meta).unwrap();
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tables_of_another_model_are_refused_naming_the_file() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("evaluation.json");
    // the fixture's clusters come from its embeddings with their model id, as cluster writes
    let clusters = dir.path().join("clusters.parquet");
    let mut meta = tables::footer(&p.embeddings).unwrap();
    meta.retain(|(k, _)| k == "embed.model_id");
    tables::clusters::write(
        &clusters,
        &tables::clusters::read(&p.clusters).unwrap(),
        &meta,
    )
    .unwrap();
    let r = evaluate(p, Some((&p.clusters, &clusters)), &out)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    std::fs::remove_file(&out).unwrap();
    let other = dir.path().join("other_clusters.parquet");
    from_another_model(&clusters, &other);
    let r = evaluate(p, Some((&p.clusters, &other)), &out)
        .output()
        .unwrap();
    trust::refuses(&r, "clusters of another model", &other, &[&out]);
}

#[test]
fn it_runs_with_the_edge_drawings_among_its_inputs() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("evaluation.json");
    let r = evaluate(p, None, &out).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(out.is_file());
}

#[test]
fn a_second_writer_is_refused_with_the_first_ones_pid() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("evaluation.json");
    let held = stage::OutputLock::file(&out).unwrap();
    let r = evaluate(p, None, &out).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        err.contains(&format!("pid {}", std::process::id())) && err.contains("evaluation.json"),
        "{err}"
    );
    assert!(!out.exists());
    drop(held);
    assert!(evaluate(p, None, &out).status().unwrap().success());
}

#[test]
fn killed_at_random_moments_it_leaves_the_previous_output_or_none() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("evaluation.json");
    let report = trust::kill_at_random(
        &|| evaluate(p, None, &out),
        std::slice::from_ref(&out),
        40,
        9,
        &trust::same_but_timings,
    );
    eprintln!("{report:?}");
    assert!(report.killed > 0, "{report:?}");
}
