//! `generate` against wrong inputs, a second writer and SIGKILL (issue 26).

use std::path::{Path, PathBuf};
use std::process::Command;

use trust::fixture::Pipeline;

fn fixture() -> &'static Pipeline {
    Pipeline::shared(Path::new(env!("CARGO_TARGET_TMPDIR")).join("generate-fixture"))
}

/// Variations of the fixture's first drawing (the mode that needs no fitted clusters), from
/// the drawings table `drawings`, written as a table and as ndjson.
fn generate(drawings: &Path, run: &Path, out: &Path) -> Command {
    static FIRST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let first = FIRST.get_or_init(|| {
        let table = tables::drawings::read(&fixture().drawings).unwrap();
        table.rows[0].key_id.clone()
    });
    let mut c = Command::new(env!("CARGO_BIN_EXE_generate"));
    c.arg("--model")
        .arg(run)
        .arg("--drawings")
        .arg(drawings)
        .args(["--like", first, "--count", "60", "--max-len", "60"])
        .arg("-o")
        .arg(out)
        .arg("--ndjson")
        .arg(out.with_extension("ndjson"));
    c
}

fn outputs(out: &Path) -> Vec<PathBuf> {
    vec![out.to_path_buf(), out.with_extension("ndjson")]
}

#[test]
fn wrong_drawings_tables_are_refused_naming_the_file() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/generated.parquet");
    let outs = outputs(&out);
    for b in trust::bad_inputs(
        &p.drawings,
        &p.embeddings,
        "dx",
        &["dx", "dy"],
        &dir.path().join("bad"),
    ) {
        let r = generate(&b.path, &p.run, &out).output().unwrap();
        trust::refuses(&r, &b.what, &b.path, &[&outs[0], &outs[1]]);
    }
}

/// Variations of a drawing of one point, of one stroke and of 10,000 points: each is encoded and
/// gives drawings every reader accepts (empty decodings left out and counted in the summary
/// line), or, when every decoding is empty, a clear refusal.
#[test]
fn the_edge_drawings_go_through() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    for k in [
        trust::fixture::ONE_POINT,
        trust::fixture::ONE_STROKE,
        trust::fixture::LONG,
    ] {
        let out = dir.path().join(format!("{k}.parquet"));
        let r = Command::new(env!("CARGO_BIN_EXE_generate"))
            .arg("--model")
            .arg(&p.run)
            .arg("--drawings")
            .arg(&p.drawings)
            .args(["--like", k, "--count", "8", "--max-len", "60"])
            .args(["--temperature", "1", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&r.stdout);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(!stderr.contains("panicked"), "{k}: {stderr}");
        if r.status.success() {
            assert!(stdout.contains(&format!("like drawing `{k}`")), "{stdout}");
            let t = tables::drawings::read(&out).unwrap();
            assert!(t.rows.iter().all(|r| r.drawing.is_finite()));
        } else {
            // the fixture's model of three steps may decode nothing but empty drawings: a
            // clear refusal, with nothing written
            assert!(
                stderr.contains("decoded to an empty drawing") && !out.exists(),
                "{k}: {stderr}"
            );
        }
    }
}

#[test]
fn a_second_writer_is_refused_with_the_first_ones_pid() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("generated.parquet");
    for held_output in outputs(&out) {
        let held = stage::OutputLock::file(&held_output).unwrap();
        let r = generate(&p.drawings, &p.run, &out).output().unwrap();
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success());
        let name = held_output.file_name().unwrap().to_string_lossy();
        assert!(
            err.contains(&format!("pid {}", std::process::id())) && err.contains(&*name),
            "{err}"
        );
        for o in outputs(&out) {
            assert!(!o.exists());
        }
        drop(held);
    }
    assert!(generate(&p.drawings, &p.run, &out)
        .status()
        .unwrap()
        .success());
}

#[test]
fn killed_at_random_moments_it_leaves_the_previous_output_or_none() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("generated.parquet");
    let report = trust::kill_at_random(
        &|| generate(&p.drawings, &p.run, &out),
        &outputs(&out),
        40,
        11,
        &trust::same_bytes,
    );
    eprintln!("{report:?}");
    assert!(report.killed > 0, "{report:?}");
}
