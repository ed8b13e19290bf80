//! `plot` against wrong inputs, a second writer and SIGKILL, with the edge drawings among its
//! inputs (issue 26).

use std::path::{Path, PathBuf};
use std::process::Command;

use trust::fixture::Pipeline;

fn fixture() -> &'static Pipeline {
    Pipeline::shared(Path::new(env!("CARGO_TARGET_TMPDIR")).join("plot-fixture"))
}

fn plot(work: &Path, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_plot"));
    c.arg("-o").arg(out).arg(work);
    c
}

/// A work folder with the fixture's tables (the run folder's loss log included).
fn work_copy(p: &Pipeline, to: &Path) {
    std::fs::create_dir_all(to.join("run")).unwrap();
    for f in [
        &p.drawings,
        &p.embeddings,
        &p.clusters,
        &p.reconstructions,
        &p.interpolations,
    ] {
        std::fs::copy(f, to.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        p.run.join("train_log.parquet"),
        to.join("run/train_log.parquet"),
    )
    .unwrap();
}

#[test]
fn wrong_inputs_are_refused_naming_the_file() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad");
    let cases = [
        (&p.drawings, &p.embeddings, "dx", &["dx", "dy"][..]),
        (&p.embeddings, &p.clusters, "embedding", &["embedding"][..]),
        (&p.clusters, &p.embeddings, "cluster", &[][..]),
    ];
    let mut k = 0;
    for (good, other, column, floats) in cases {
        for b in trust::bad_inputs(good, other, column, floats, &bad) {
            k += 1;
            let work = dir.path().join(format!("work{k}"));
            work_copy(p, &work);
            let target = work.join(good.file_name().unwrap());
            std::fs::copy(&b.path, &target).unwrap();
            let out: PathBuf = work.join("plots");
            let r = plot(&work, &out).output().unwrap();
            trust::refuses(&r, &b.what, &target, &[&out]);
        }
    }
}

#[test]
fn it_draws_with_the_edge_drawings_among_its_inputs() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    work_copy(p, &work);
    let out = work.join("plots");
    let r = plot(&work, &out).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(out.join("report.html").is_file());
}

#[test]
fn a_second_writer_is_refused_with_the_first_ones_pid() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    work_copy(p, &work);
    let out = work.join("plots");
    let held = stage::OutputLock::file(&out).unwrap();
    let r = plot(&work, &out).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        err.contains(&format!("pid {}", std::process::id())) && err.contains("plots"),
        "{err}"
    );
    assert!(!out.exists());
    drop(held);
    assert!(plot(&work, &out).status().unwrap().success());
}

#[test]
fn killed_at_random_moments_it_leaves_the_previous_output_or_none() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    work_copy(p, &work);
    let out = work.join("plots");
    let report = trust::kill_at_random(
        &|| plot(&work, &out),
        std::slice::from_ref(&out),
        40,
        13,
        &trust::files_so_far,
    );
    eprintln!("{report:?}");
    assert!(report.killed > 0, "{report:?}");
}
