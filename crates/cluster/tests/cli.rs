//! Runs the `cluster` binary on a small embeddings table of labelled blobs.

use std::path::Path;
use std::process::Command;

use clustering::blobs::{gaussian_blobs, BlobSpec};
use tables::embeddings::EmbeddingTable;
use tables::{LabelColumn, Split};

fn write_blobs(path: &Path, n: usize) -> Vec<i32> {
    let (m, truth) = gaussian_blobs(&BlobSpec {
        n_points: n,
        dim: 16,
        n_blobs: 4,
        noise_share: 0.0,
        seed: 11,
        ..BlobSpec::default()
    });
    let table = EmbeddingTable {
        key_ids: (0..n).map(|i| format!("k{i}")).collect(),
        splits: vec![Split::Train; n],
        dim: 16,
        values: m.into_vec(),
        labels: vec![
            LabelColumn {
                name: "label_blob".into(),
                // Every 10th label missing: those rows are skipped by ARI/NMI.
                values: truth
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (i % 10 != 0).then(|| format!("b{t}")))
                    .collect(),
            },
            LabelColumn {
                name: "word".into(),
                values: vec![Some("face".into()); n],
            },
        ],
        parts: Vec::new(),
        metadata: vec![],
    };
    tables::embeddings::write(path, &table).unwrap();
    truth
}

fn cluster_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cluster"))
}

#[test]
fn clusters_blobs_and_writes_table_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let emb = dir.path().join("embeddings.parquet");
    let out = dir.path().join("out/clusters.parquet");
    let cfg = dir.path().join("pipeline.toml");
    std::fs::write(
        &cfg,
        "[cluster]\nvectors = \"embedding\"\nalgorithm = \"hdbscan\"\nmin_cluster_size = 15\n\
         silhouette_sample = 500\n",
    )
    .unwrap();
    let truth = write_blobs(&emb, 800);
    let run = cluster_bin()
        .arg("--config")
        .arg(&cfg)
        .args(["--pca-dims", "8", "-o"])
        .arg(&out)
        .arg(&emb)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("[cluster] 800 points") && stdout.contains("4 clusters"),
        "{stdout}"
    );

    let rows = tables::clusters::read(&out).unwrap();
    assert_eq!(rows.len(), 800);
    assert_eq!(rows[5].key_id, "k5");
    let labels: Vec<i32> = rows.iter().map(|r| r.cluster).collect();
    assert!(clustering::adjusted_rand_index(&labels, &truth).unwrap() > 0.99);
    assert!(
        rows.iter()
            .all(|r| r.strength.is_some()
                && r.xy.is_some_and(|(x, y)| x.is_finite() && y.is_finite()))
    );

    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("out/cluster_summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["n_clusters"], 4);
    assert_eq!(
        summary["params"]["min_cluster_size"], 15,
        "from the config file"
    );
    assert_eq!(summary["params"]["pca_dims"], 8, "from the flag");
    let blob = &summary["agreement"]["label_blob"];
    assert_eq!(blob["n_compared"], 720);
    assert!(blob["ari"].as_f64().unwrap() > 0.99, "{blob}");
    assert!(summary["silhouette"].as_f64().unwrap() > 0.5);
    // One word for everything: NMI against a constant is 0, not a crash.
    assert!(summary["agreement"]["word"]["nmi"].is_number());
}

#[test]
fn bad_input_fails_cleanly_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clusters.parquet");
    let missing = dir.path().join("nope.parquet");
    let run = cluster_bin()
        .arg("-o")
        .arg(&out)
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("nope.parquet"));
    assert!(!out.exists());

    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[cluster]\nmin_clustr_size = 3\n").unwrap();
    let emb = dir.path().join("e.parquet");
    write_blobs(&emb, 50);
    let run = cluster_bin()
        .arg("--config")
        .arg(&cfg)
        .arg("-o")
        .arg(&out)
        .arg(&emb)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        err.contains("bad.toml") && err.contains("min_clustr_size"),
        "{err}"
    );
    assert!(!out.exists());

    let run = cluster_bin()
        .args(["--min-cluster-size", "1", "-o"])
        .arg(&out)
        .arg(&emb)
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("min_cluster_size"));
}

#[test]
fn kmeans_on_a_parts_vectors_leaves_drawings_without_that_part_as_noise() {
    let dir = tempfile::tempdir().unwrap();
    let emb = dir.path().join("embeddings.parquet");
    let out = dir.path().join("clusters.parquet");
    let n = 400;
    let truth = write_blobs(&emb, n);
    let run_with = |args: &[&str]| {
        cluster_bin()
            .args(["--config", "/dev/null"])
            .args(args)
            .arg("-o")
            .arg(&out)
            .arg(&emb)
            .output()
            .unwrap()
    };
    // no inside column yet: a clear error, no output
    let run = run_with(&["--vectors", "inside", "--algorithm", "kmeans", "--k", "4"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        err.contains("no `inside` column") && err.contains("embeddings.parquet"),
        "{err}"
    );
    assert!(!out.exists());

    // the blobs become the outside vectors, the whole vectors noise; every 7th has no outside
    let mut table = tables::embeddings::read(&emb).unwrap();
    let present: Vec<bool> = (0..n).map(|i| i % 7 != 0).collect();
    let values = table
        .values
        .chunks(16)
        .zip(&present)
        .flat_map(|(r, &p)| if p { r.to_vec() } else { vec![0.0; 16] })
        .collect();
    table.parts = vec![tables::embeddings::PartVectors {
        part: drawing::Part::Outside,
        values,
        present: present.clone(),
    }];
    table.values = (0..n * 16).map(|i| ((i * 7919) % 101) as f32).collect();
    tables::embeddings::write(&emb, &table).unwrap();
    let left_out = [
        "--vectors",
        "outside",
        "--whole-when-missing",
        "false",
        "--algorithm",
        "kmeans",
        "--k",
        "4",
    ];
    let run = run_with(&left_out);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("k-means, k 4") && stdout.contains("4 clusters"),
        "{stdout}"
    );
    let rows = tables::clusters::read(&out).unwrap();
    let labels: Vec<i32> = rows.iter().map(|r| r.cluster).collect();
    for (i, &l) in labels.iter().enumerate() {
        assert_eq!(l < 0, !present[i], "row {i}");
        // a drawing left out has no place on the map
        assert_eq!(rows[i].xy.is_some(), present[i], "row {i}");
    }
    let kept: Vec<usize> = (0..n).filter(|&i| present[i]).collect();
    let ari = clustering::adjusted_rand_index(
        &kept.iter().map(|&i| labels[i]).collect::<Vec<_>>(),
        &kept.iter().map(|&i| truth[i]).collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(ari > 0.99, "ARI {ari}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("cluster_summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["vectors"], "outside");
    assert_eq!(summary["n_left_out"], (0..n).filter(|i| i % 7 == 0).count());

    // by default a drawing without the part is clustered by its whole vector: none is noise
    let run = run_with(&["--vectors", "outside", "--algorithm", "kmeans", "--k", "4"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let rows = tables::clusters::read(&out).unwrap();
    assert!(rows.iter().all(|r| r.cluster >= 0 && r.xy.is_some()));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("cluster_summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["n_left_out"], 0);
    assert_eq!(
        summary["n_whole_for_part"],
        (0..n).filter(|i| i % 7 == 0).count()
    );

    // nothing outside any drawing: said, no output
    std::fs::remove_file(&out).unwrap();
    table.parts[0].values = vec![0.0; n * 16];
    table.parts[0].present = vec![false; n];
    tables::embeddings::write(&emb, &table).unwrap();
    let run = run_with(&left_out);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(err.contains("no drawing has a part `outside`"), "{err}");
    assert!(!out.exists());

    // k beyond the points: named
    let run = run_with(&[
        "--vectors",
        "embedding",
        "--algorithm",
        "kmeans",
        "--k",
        "5000",
    ]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("k: must be between 1 and the number of points (400)"),
        "{err}"
    );
}
