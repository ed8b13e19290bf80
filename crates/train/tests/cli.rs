//! Runs the `train` binary on a small drawings table: run folder, log, resume, bad config.

use std::path::Path;
use std::process::Command;

use drawing::{Stroke, Stroke3};
use tables::drawings::{DrawingRow, DrawingWriter};
use tables::Split;

fn table(path: &Path, n: usize) {
    let mut w = DrawingWriter::create(path, &[], &vec![]).unwrap();
    for i in 0..n {
        let k = 4 + i % 5;
        let r = 20.0 + i as f32;
        let s = Stroke::new(
            (0..=k).map(|j| 100.0 + r * (j as f32).cos()).collect(),
            (0..=k).map(|j| 100.0 + r * (j as f32).sin()).collect(),
        );
        w.push(DrawingRow {
            key_id: format!("{i}"),
            word: Some("face".into()),
            countrycode: None,
            recognized: Some(true),
            timestamp: None,
            split: if i % 5 == 0 {
                Split::Valid
            } else {
                Split::Train
            },
            source: "test".into(),
            drawing: Stroke3::from_strokes(&[s]),
            t: None,
            labels: vec![],
        })
        .unwrap();
    }
    w.finish().unwrap();
}

fn train(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_train"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

const TINY: &[&str] = &[
    "--model.enc-hidden",
    "8",
    "--model.dec-hidden",
    "8",
    "--model.latent",
    "4",
    "--model.mixtures",
    "2",
    "--optimiser.batch-size",
    "8",
];

#[test]
fn trains_resumes_and_writes_a_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    table(&d.join("drawings.parquet"), 40);
    let mut args = vec!["drawings.parquet", "-o", "run", "--max-steps", "3"];
    args.extend_from_slice(TINY);
    let out = train(&args, d);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("[train] 3 steps"), "{stdout}");
    for f in [
        "model.safetensors",
        "model.json",
        "checkpoint.safetensors",
        "train_log.parquet",
    ] {
        assert!(d.join("run").join(f).exists(), "{f} missing");
    }
    let log = tables::train_log::read(&d.join("run/train_log.parquet")).unwrap();
    assert_eq!(
        log.iter().map(|r| r.step).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let info = seqae::run::load_info(&d.join("run")).unwrap();
    assert_eq!(
        (info.model.latent, info.data.rows, info.data.train_rows),
        (4, 40, 32)
    );

    // without --resume an existing run is not overwritten; with it, training continues
    assert!(!train(&args, d).status.success());
    let mut more = vec![
        "drawings.parquet",
        "-o",
        "run",
        "--max-steps",
        "5",
        "--resume",
    ];
    more.extend_from_slice(TINY);
    let out = train(&more, d);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        tables::train_log::read(&d.join("run/train_log.parquet"))
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn config_section_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    table(&d.join("drawings.parquet"), 20);
    std::fs::write(
        d.join("pipeline.toml"),
        "[train]\nmax_steps = 1\n[train.model]\nlatent = 3\nenc_hidden = 8\ndec_hidden = 8\nhead = \"mse\"\n",
    )
    .unwrap();
    let out = train(&["drawings.parquet", "-o", "run"], d);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = seqae::run::load_info(&d.join("run")).unwrap();
    assert_eq!((info.model.latent, info.model.head), (3, seqae::Head::Mse));

    std::fs::write(d.join("pipeline.toml"), "[train.model]\nlatnet = 3\n").unwrap();
    let out = train(&["drawings.parquet", "-o", "run2"], d);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("latnet"));
    let out = train(
        &["missing.parquet", "-o", "run3", "--config", "/dev/null"],
        d,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.parquet"));
}

#[test]
fn the_shipped_configs_train() {
    // pipeline.toml and every datasets/*.toml parse, and their settings (grid pool, contrastive
    // views, decoder positions...) run a step, at tiny widths
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut configs = vec![root.join("pipeline.toml")];
    for e in std::fs::read_dir(root.join("datasets")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            configs.push(p);
        }
    }
    assert!(configs.len() >= 2, "{configs:?}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    table(&d.join("drawings.parquet"), 24);
    for (i, cfg) in configs.iter().enumerate() {
        let run = format!("run{i}");
        let mut args = vec![
            "drawings.parquet",
            "-o",
            &run,
            "--config",
            cfg.to_str().unwrap(),
            "--max-steps",
            "2",
        ];
        args.extend_from_slice(TINY);
        let out = train(&args, d);
        assert!(
            out.status.success(),
            "{}: {}",
            cfg.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
