//! `train` against wrong inputs, a second run in the same folder, SIGKILL then `--resume`, and
//! a torn checkpoint (issue 26).

use std::path::Path;
use std::process::{Command, Output};

use trust::fixture::{Pipeline, TINY_FLAGS};

fn fixture() -> &'static Pipeline {
    Pipeline::shared(Path::new(env!("CARGO_TARGET_TMPDIR")).join("train-fixture"))
}

fn train(input: &Path, run: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_train"));
    c.args(TINY_FLAGS).args(["--checkpoint-every", "2"]);
    if !extra.contains(&"--max-steps") {
        c.args(["--max-steps", "12"]);
    }
    c.arg("-o").arg(run).arg(input).args(extra);
    c
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn wrong_drawings_tables_are_refused_naming_the_file() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    for b in trust::bad_inputs(
        &p.drawings,
        &p.embeddings,
        "dx",
        &["dx", "dy"],
        &dir.path().join("bad"),
    ) {
        let r = train(&b.path, &run, &[]).output().unwrap();
        trust::refuses(&r, &b.what, &b.path, &[&run]);
    }
}

#[test]
fn the_edge_drawings_are_trained_on_or_counted_out() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let log = ok(train(&p.drawings, &run, &[]).output().unwrap());
    // the drawing of 10,000 points is longer than max_seq_len (250): counted, not trained on
    assert!(log.contains("longer than 250 left out"), "{log}");
    assert!(!log.contains("(0 longer than"), "{log}");
}

#[test]
fn a_second_run_in_the_folder_is_refused_with_the_first_ones_pid() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let held = stage::OutputLock::folder(&run).unwrap();
    let r = train(&p.drawings, &run, &[]).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        err.contains(&format!("pid {}", std::process::id())) && err.contains("run"),
        "{err}"
    );
    assert!(!run.join("model.safetensors").exists());
    drop(held);
    ok(train(&p.drawings, &run, &[]).output().unwrap());
}

#[test]
fn killed_then_resumed_it_ends_with_the_weights_of_an_uninterrupted_run() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let t = std::time::Instant::now();
    ok(train(&p.drawings, &whole, &[]).output().unwrap());
    let took = t.elapsed();
    let want = std::fs::read(whole.join("model.safetensors")).unwrap();

    let run = dir.path().join("killed");
    let mut rng = trust::Rng::new(11);
    let (mut killed, mut finished) = (0, 0);
    for k in 0..24 {
        let mut child = train(&p.drawings, &run, &["--resume"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let delay = took.mul_f64(1.1 * rng.next_f64());
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_some() {
            finished += 1;
        } else {
            child.kill().unwrap();
            child.wait().unwrap();
            killed += 1;
        }
        // the model is written once, at the end: whole or absent
        let model = run.join("model.safetensors");
        if model.exists() {
            assert_eq!(
                std::fs::read(&model).unwrap(),
                want,
                "kill {k} at {delay:?}: a model that is not the final one"
            );
        }
    }
    let log = ok(train(&p.drawings, &run, &["--resume"]).output().unwrap());
    eprintln!("{killed} kills, {finished} runs finished before their kill");
    assert_eq!(
        std::fs::read(run.join("model.safetensors")).unwrap(),
        want,
        "resumed after {killed} kills ({finished} runs finished first): other weights\n{log}"
    );
    assert!(killed > 0);
}

#[test]
fn a_torn_checkpoint_is_detected_and_the_one_before_it_used() {
    let p = fixture();
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    ok(train(&p.drawings, &whole, &[]).output().unwrap());
    let want = std::fs::read(whole.join("model.safetensors")).unwrap();

    type Tear = fn(&mut Vec<u8>);
    let tears: [(&str, Tear); 2] = [
        ("truncated", |b| b.truncate(b.len() * 3 / 4)),
        ("a byte flipped in its tensors", |b| {
            let i = b.len() - 10;
            b[i] ^= 0x40;
        }),
    ];
    for (what, tear) in tears {
        let run = dir.path().join(what.replace(' ', "_"));
        // stopped at step 7: checkpoints at steps 6 (kept as the previous one) and 7
        ok(train(&p.drawings, &run, &["--max-steps", "7"])
            .output()
            .unwrap());
        let ckpt = run.join("checkpoint.safetensors");
        let prev = run.join("checkpoint.previous.safetensors");
        assert!(prev.is_file(), "{what}: no previous checkpoint kept");
        let mut bytes = std::fs::read(&ckpt).unwrap();
        tear(&mut bytes);
        std::fs::write(&ckpt, bytes).unwrap();
        let log = ok(train(&p.drawings, &run, &["--resume"]).output().unwrap());
        assert!(
            log.contains("torn or corrupt checkpoint")
                && log.contains("resuming from the checkpoint before it"),
            "{what}: {log}"
        );
        assert!(log.contains("resuming at step 6"), "{what}: {log}");
        assert_eq!(
            std::fs::read(run.join("model.safetensors")).unwrap(),
            want,
            "{what}: resumed from the previous checkpoint, other weights"
        );
    }
}
