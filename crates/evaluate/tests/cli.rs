//! The `evaluate` binary end to end: inputs told apart by their columns, config and flags,
//! the JSON written, and no output at all when an input is bad.

use std::path::{Path, PathBuf};
use std::process::Command;

use tables::clusters::ClusterRow;
use tables::drawings::DrawingRow;
use tables::embeddings::EmbeddingTable;
use tables::sequences::Reconstruction;

#[path = "common/faces.rs"]
mod faces;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    drawings: PathBuf,
    embeddings: PathBuf,
    clusters: PathBuf,
    reconstructions: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let drawings = root.join("d.parquet");
    let rows = faces::write_faces(&drawings, 21, 200);
    // 4-d one-hot of the mouth
    let mouth = |r: &DrawingRow| {
        let l = r.labels[2].as_deref().unwrap();
        synth::LEVELS[2].iter().position(|x| *x == l).unwrap()
    };
    let embeddings = root.join("e.parquet");
    tables::embeddings::write(
        &embeddings,
        &EmbeddingTable {
            key_ids: rows.iter().map(|r| r.key_id.clone()).collect(),
            splits: rows.iter().map(|r| r.split).collect(),
            dim: 4,
            values: rows
                .iter()
                .flat_map(|r| {
                    let mut v = vec![0.0; 4];
                    v[mouth(r)] = 1.0;
                    v
                })
                .collect(),
            labels: vec![],
            parts: Vec::new(),
            metadata: vec![],
        },
    )
    .unwrap();
    let clusters = root.join("c.parquet");
    let crow: Vec<ClusterRow> = rows
        .iter()
        .map(|r| ClusterRow {
            key_id: r.key_id.clone(),
            cluster: mouth(r) as i32,
            strength: None,
            outlier_score: None,
            xy: Some((0.0, 0.0)),
        })
        .collect();
    tables::clusters::write(&clusters, &crow, &vec![]).unwrap();
    let reconstructions = root.join("r.parquet");
    let recs: Vec<Reconstruction> = rows[..8]
        .iter()
        .map(|r| Reconstruction {
            key_id: r.key_id.clone(),
            drawing: r.drawing.clone(),
        })
        .collect();
    tables::sequences::write_reconstructions(&reconstructions, &recs, &vec![]).unwrap();
    Fixture {
        _dir: dir,
        root,
        drawings,
        embeddings,
        clusters,
        reconstructions,
    }
}

fn run(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn evaluates_and_writes_json() {
    let f = fixture();
    let config = f.root.join("p.toml");
    std::fs::write(
        &config,
        "[evaluate]\nknn_k = 3\nfolds = 4\n[cluster]\nmin_cluster_size = 10\nsilhouette_sample = 100\n",
    )
    .unwrap();
    let out = f.root.join("out/evaluation.json");
    // in any order, with a flag overriding the config
    let o = run(
        &[
            "--config",
            s(&config),
            "--folds",
            "3",
            "-o",
            s(&out),
            s(&f.reconstructions),
            s(&f.clusters),
            s(&f.embeddings),
            s(&f.drawings),
        ],
        &f.root,
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("label_mouth") && stdout.contains("[evaluate] 200 drawings"));
    let e = evaluate::read(&out).unwrap();
    assert_eq!(e.settings.evaluate.knn_k, 3);
    assert_eq!(e.settings.evaluate.folds, 3);
    assert_eq!(e.settings.cluster.min_cluster_size, 10);
    assert_eq!(e.inputs.drawings, vec![f.drawings.clone()]);
    let mouth = e.labels.iter().find(|l| l.name == "label_mouth").unwrap();
    assert_eq!(mouth.knn_accuracy, Some(1.0));
    assert!((mouth.clusters.unwrap().nmi - 1.0).abs() < 1e-9);
    assert!(mouth.baseline_knn_accuracy.is_some());
    assert_eq!(e.chamfer.as_ref().unwrap().n, 8);
    assert_eq!(e.chamfer.as_ref().unwrap().mean, 0.0);
}

#[test]
fn bad_inputs_leave_no_output() {
    let f = fixture();
    let out = f.root.join("evaluation.json");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                s(&f.embeddings).into(),
                s(&f.root.join("gone.parquet")).into(),
            ],
            "gone.parquet",
        ),
        (
            // a config key that does not exist
            vec![
                "--config".into(),
                s(&f.root.join("bad.toml")).into(),
                s(&f.embeddings).into(),
                s(&f.drawings).into(),
            ],
            "knn",
        ),
        (
            // the clusters without their embeddings
            vec![s(&f.clusters).into(), s(&f.drawings).into()],
            "clusters table needs the embeddings",
        ),
        (
            vec![
                "--embeddings".into(),
                s(&f.embeddings).into(),
                s(&f.root.join("e2.parquet")).into(),
            ],
            "two embeddings tables",
        ),
    ];
    std::fs::write(f.root.join("bad.toml"), "[evaluate]\nknn = 3\n").unwrap();
    std::fs::copy(&f.embeddings, f.root.join("e2.parquet")).unwrap();
    for (args, expect) in cases {
        let mut all = vec!["-o".to_string(), s(&out).to_string()];
        all.extend(args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let o = run(&refs, &f.root);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{all:?} succeeded");
        assert!(stderr.contains(expect), "{all:?}: {stderr}");
        assert!(!out.exists(), "{all:?} left an output");
    }
    let o = run(&["--help"], &f.root);
    assert!(String::from_utf8_lossy(&o.stdout).contains("--max-points"));
}
