//! `embed` against wrong inputs (drawings tables and run folders), a second writer and SIGKILL
//! (issue 26).

use std::path::{Path, PathBuf};
use std::process::Command;

use trust::fixture::Pipeline;

fn fixture() -> &'static Pipeline {
    Pipeline::shared(Path::new(env!("CARGO_TARGET_TMPDIR")).join("embed-fixture"))
}

fn embed(input: &Path, run: &Path, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_embed"));
    c.args([
        "--batch-size",
        "32",
        "--reconstructions",
        "3",
        "--interpolations",
        "1",
        "--interpolation-steps",
        "3",
        "--model",
    ])
    .arg(run)
    .arg("-o")
    .arg(out)
    .arg(input);
    c
}

fn outputs(out: &Path) -> Vec<PathBuf> {
    vec![
        out.to_path_buf(),
        out.with_file_name("reconstructions.parquet"),
        out.with_file_name("interpolations.parquet"),
    ]
}

fn refuses(r: &std::process::Output, what: &str, file: &Path, out: &Path) {
    let outs = outputs(out);
    trust::refuses(r, what, file, &[&outs[0], &outs[1], &outs[2]]);
}

#[test]
fn wrong_drawings_tables_are_refused_naming_the_file() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/embeddings.parquet");
    for b in trust::bad_inputs(
        &p.drawings,
        &p.embeddings,
        "dx",
        &["dx", "dy"],
        &dir.path().join("bad"),
    ) {
        let r = embed(&b.path, &p.run, &out).output().unwrap();
        refuses(&r, &b.what, &b.path, &out);
    }
}

fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["model.json", "model.safetensors"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

type Edit = Box<dyn Fn(&Path)>;

fn edit_json(json: &str, from: &'static str, to: &'static str) -> Edit {
    let json = json.to_string();
    Box::new(move |r: &Path| {
        let j = json.replacen(from, to, 1);
        assert_ne!(j, json, "{from} not in model.json");
        std::fs::write(r.join("model.json"), j).unwrap();
    })
}

#[test]
fn wrong_run_folders_are_refused_naming_the_file() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/embeddings.parquet");
    let json = std::fs::read_to_string(p.run.join("model.json")).unwrap();
    let weights = std::fs::read(p.run.join("model.safetensors")).unwrap();
    let cases: Vec<(&str, &str, Edit)> = vec![
        (
            "another format version",
            "model.json",
            edit_json(&json, "\"format\": 2", "\"format\": 99"),
        ),
        (
            "no format version",
            "model.json",
            edit_json(&json, "\"format\": 2,", ""),
        ),
        (
            "model.json not JSON",
            "model.json",
            Box::new(|r: &Path| std::fs::write(r.join("model.json"), "{\"format\": 1, ").unwrap()),
        ),
        (
            "no model.json",
            "model.json",
            Box::new(|r: &Path| std::fs::remove_file(r.join("model.json")).unwrap()),
        ),
        (
            "truncated weights",
            "model.safetensors",
            Box::new(move |r: &Path| {
                std::fs::write(r.join("model.safetensors"), &weights[..weights.len() / 2]).unwrap()
            }),
        ),
        (
            // the same weights under a model.json that says the latent is wider
            "weights of another model",
            "model.safetensors",
            edit_json(&json, "\"latent\": 4", "\"latent\": 5"),
        ),
        (
            "no weights",
            "model.safetensors",
            Box::new(|r: &Path| std::fs::remove_file(r.join("model.safetensors")).unwrap()),
        ),
    ];
    for (k, (what, file, edit)) in cases.iter().enumerate() {
        let run = dir.path().join(format!("run{k}"));
        copy_run(&p.run, &run);
        edit(&run);
        let r = embed(&p.drawings, &run, &out).output().unwrap();
        refuses(&r, what, &run.join(file), &out);
    }
}

#[test]
fn the_edge_drawings_go_through() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("embeddings.parquet");
    let r = embed(&p.drawings, &p.run, &out).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let t = tables::embeddings::read(&out).unwrap();
    for k in [
        trust::fixture::ONE_POINT,
        trust::fixture::ONE_STROKE,
        trust::fixture::LONG,
    ] {
        let i = t.key_ids.iter().position(|x| x == k);
        let i = i.unwrap_or_else(|| panic!("{k} left out"));
        assert!(
            t.row(i).iter().all(|v| v.is_finite()),
            "{k}: {:?}",
            t.row(i)
        );
    }
}

#[test]
fn a_second_writer_is_refused_with_the_first_ones_pid() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("embeddings.parquet");
    let held = stage::OutputLock::file(&out).unwrap();
    let r = embed(&p.drawings, &p.run, &out).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        err.contains(&format!("pid {}", std::process::id())) && err.contains("embeddings.parquet"),
        "{err}"
    );
    for o in outputs(&out) {
        assert!(!o.exists());
    }
    drop(held);
    assert!(embed(&p.drawings, &p.run, &out).status().unwrap().success());
}

#[test]
fn killed_at_random_moments_it_leaves_the_previous_output_or_none() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("embeddings.parquet");
    let report = trust::kill_at_random(
        &|| embed(&p.drawings, &p.run, &out),
        &outputs(&out),
        40,
        5,
        &trust::same_bytes,
    );
    eprintln!("{report:?}");
    assert!(report.killed > 0, "{report:?}");
}
