//! `ingest` against another stage's tables, a second writer and SIGKILL, and the edge
//! drawings (issue 26). Broken ndjson, .bin and .npz files are tested in `samples.rs` and the
//! crate's unit tests.

use std::path::Path;
use std::process::Command;

use trust::fixture::Pipeline;

fn fixture() -> &'static Pipeline {
    Pipeline::shared(Path::new(env!("CARGO_TARGET_TMPDIR")).join("ingest-fixture"))
}

fn ingest(input: &Path, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ingest"));
    c.arg("-o").arg(out).arg(input);
    c
}

#[test]
fn wrong_inputs_are_refused_naming_the_file() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/drawings.parquet");
    let empty = dir.path().join("empty.ndjson");
    std::fs::write(&empty, "").unwrap();
    let truncated = dir.path().join("truncated.ndjson");
    let text = std::fs::read_to_string(&p.ndjson).unwrap();
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    for (what, input) in [
        ("a drawings table", &p.drawings),
        ("an embeddings table", &p.embeddings),
        ("an empty file", &empty),
        ("a file cut in the middle of a line", &truncated),
    ] {
        let r = ingest(input, &out).output().unwrap();
        trust::refuses(&r, what, input, &[&out]);
    }
}

#[test]
fn the_edge_drawings_go_through() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("drawings.parquet");
    // by default a drawing of over 250 points (sketch-rnn's limit) is left out, and counted
    let r = ingest(&p.ndjson, &out).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stdout).contains("skipped 1: 1 over max_points"));
    let t = tables::drawings::read(&out).unwrap();
    assert!(t.rows.iter().all(|r| r.key_id != trust::fixture::LONG));
    // and with no limit it goes through
    let r = ingest(&p.ndjson, &out)
        .args(["--max-points", "0"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let t = tables::drawings::read(&out).unwrap();
    for (k, points) in [
        (trust::fixture::ONE_POINT, 1),
        (trust::fixture::ONE_STROKE, 5),
        (trust::fixture::LONG, 10_000),
    ] {
        let row = t.rows.iter().find(|r| r.key_id == k);
        let row = row.unwrap_or_else(|| panic!("{k} left out"));
        assert_eq!(row.drawing.len(), points, "{k}");
    }
}

#[test]
fn a_second_writer_is_refused_with_the_first_ones_pid() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("drawings.parquet");
    let held = stage::OutputLock::file(&out).unwrap();
    let r = ingest(&p.ndjson, &out).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        err.contains(&format!("pid {}", std::process::id())) && err.contains("drawings.parquet"),
        "{err}"
    );
    assert!(!out.exists());
    drop(held);
    assert!(ingest(&p.ndjson, &out).status().unwrap().success());
}

#[test]
fn killed_at_random_moments_it_leaves_the_previous_output_or_none() {
    let dir = tempfile::tempdir().unwrap();
    // a larger input, so that the kills fall in reading as well as in writing
    let input = dir.path().join("faces.ndjson");
    ingest::write_synthetic(&input, 3000, 3).unwrap();
    let out = dir.path().join("drawings.parquet");
    let report = trust::kill_at_random(
        &|| ingest(&input, &out),
        std::slice::from_ref(&out),
        40,
        7,
        &trust::same_bytes,
    );
    eprintln!("{report:?}");
    assert!(report.killed > 0, "{report:?}");
}
