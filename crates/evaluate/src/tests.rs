use std::fs::File;
use std::path::Path;

use drawing::{Part, Stroke, Stroke3};
use rand::{RngExt, SeedableRng};
use tables::clusters::ClusterRow;
use tables::drawings::DrawingRow;
use tables::sequences::Reconstruction;

use super::*;

#[path = "../tests/common/faces.rs"]
mod faces;
use faces::write_faces;

fn label_col(rows: &[DrawingRow], i: usize) -> LabelColumn {
    LabelColumn {
        name: format!("label_{}", synth::FACTORS[i]),
        values: rows.iter().map(|r| r.labels[i].clone()).collect(),
    }
}

/// Embeddings: for each row, `f(row index)`.
fn write_embeddings(
    path: &Path,
    rows: &[DrawingRow],
    dim: usize,
    labels: Vec<LabelColumn>,
    f: &dyn Fn(usize) -> Vec<f32>,
) {
    let t = EmbeddingTable {
        key_ids: rows.iter().map(|r| r.key_id.clone()).collect(),
        splits: rows.iter().map(|r| r.split).collect(),
        dim,
        values: (0..rows.len()).flat_map(f).collect(),
        labels,
        parts: Vec::new(),
        metadata: vec![("embed.model".into(), "test-model".into())],
    };
    tables::embeddings::write(path, &t).unwrap();
}

fn level(rows: &[DrawingRow], i: usize, factor: usize) -> usize {
    let l = rows[i].labels[factor].as_deref().unwrap();
    synth::LEVELS[factor].iter().position(|x| *x == l).unwrap()
}

fn quick() -> EvaluateConfig {
    EvaluateConfig {
        baseline: false,
        ..Default::default()
    }
}

fn no_steps(_: &str) {}

#[test]
fn one_hot_embeddings_know_their_labels_and_random_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("drawings.parquet");
    let rows = write_faces(&d, 5, 400);
    // one-hot of mouth and eyes (8-d): kNN knows both perfectly, nothing of the nose
    let e = dir.path().join("embeddings.parquet");
    write_embeddings(&e, &rows, 8, vec![], &|i| {
        let mut v = vec![0.0; 8];
        v[level(&rows, i, 2)] = 1.0;
        v[4 + level(&rows, i, 1)] = 1.0;
        v
    });
    // clusters = the mouth level, noise for one of them
    let c = dir.path().join("clusters.parquet");
    let crow: Vec<ClusterRow> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| ClusterRow {
            key_id: r.key_id.clone(),
            cluster: level(&rows, i, 2) as i32 - 1,
            strength: None,
            outlier_score: None,
            xy: Some((0.0, 0.0)),
        })
        .collect();
    tables::clusters::write(&c, &crow, &vec![]).unwrap();
    let inputs = Inputs {
        drawings: vec![d.clone()],
        embeddings: Some(e.clone()),
        clusters: Some(c.clone()),
        reconstructions: None,
    };
    let ev = evaluate(&inputs, &quick(), &ClusterParams::default(), &no_steps).unwrap();
    assert_eq!(ev.n_drawings, 400);
    assert_eq!(ev.model.as_deref(), Some("test-model"));
    // labels come from the drawings (the embeddings carry none); `word` is one value
    assert_eq!(ev.skipped_labels.len(), 1, "{:?}", ev.skipped_labels);
    assert_eq!(ev.skipped_labels[0].name, "word");
    let by = |n: &str| ev.labels.iter().find(|l| l.name == n).unwrap();
    let mouth = by("label_mouth");
    assert_eq!((mouth.n, mouth.classes, mouth.n_knn), (400, 4, 400));
    assert_eq!(mouth.knn_accuracy, Some(1.0));
    assert_eq!(by("label_eyes").knn_accuracy, Some(1.0));
    let mc = mouth.clusters.unwrap();
    assert!(
        (mc.nmi - 1.0).abs() < 1e-9 && (mc.ari - 1.0).abs() < 1e-9,
        "{mc:?}"
    );
    let nose = by("label_nose");
    assert!(
        nose.knn_accuracy.unwrap() < nose.majority_rate + 0.1,
        "{nose:?}"
    );
    assert!(nose.clusters.unwrap().nmi < 0.05);
    let cc = ev.clusters.as_ref().unwrap();
    assert_eq!(cc.n_clusters, 3);
    assert!((cc.noise_share - cc.noise as f64 / 400.0).abs() < 1e-12 && cc.noise > 50);
    assert!(ev.baseline.is_none());
    assert!(ev.table().contains("label_mouth"));

    // random embeddings, labels carried in the embeddings table: about the majority rate
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let noise: Vec<f32> = (0..400 * 16).map(|_| rng.random::<f32>()).collect();
    write_embeddings(
        &e,
        &rows,
        16,
        (0..5).map(|i| label_col(&rows, i)).collect(),
        &|i| noise[i * 16..(i + 1) * 16].to_vec(),
    );
    let inputs = Inputs {
        drawings: vec![],
        embeddings: Some(e),
        clusters: None,
        reconstructions: None,
    };
    let ev = evaluate(&inputs, &quick(), &ClusterParams::default(), &no_steps).unwrap();
    assert_eq!(ev.labels.len(), 5);
    for l in &ev.labels {
        let acc = l.knn_accuracy.unwrap();
        assert!(
            (acc - l.majority_rate).abs() < 0.12 && l.majority_rate < 0.4,
            "{}: {acc} vs majority {}",
            l.name,
            l.majority_rate
        );
    }
}

#[test]
fn sampling_nulls_and_label_groups() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("drawings.parquet");
    let rows = write_faces(&d, 6, 300);
    let e = dir.path().join("embeddings.parquet");
    let mut mouth = label_col(&rows, 2);
    for v in mouth.values.iter_mut().step_by(3) {
        *v = None;
    }
    let all_null = LabelColumn {
        name: "label_empty".into(),
        values: vec![None; 300],
    };
    write_embeddings(
        &e,
        &rows,
        4,
        vec![mouth, label_col(&rows, 0), all_null],
        &|i| {
            let mut v = vec![0.0; 4];
            v[level(&rows, i, 2)] = 1.0;
            v
        },
    );
    let inputs = Inputs {
        embeddings: Some(e),
        ..Default::default()
    };
    let cfg = EvaluateConfig {
        max_points: 150,
        ..quick()
    };
    let ev = evaluate(&inputs, &cfg, &ClusterParams::default(), &no_steps).unwrap();
    assert_eq!(ev.labels[0].name, "label_mouth");
    assert_eq!((ev.labels[0].n, ev.labels[0].n_knn), (200, 150));
    assert_eq!(ev.labels[0].knn_accuracy, Some(1.0));
    assert_eq!((ev.labels[1].n, ev.labels[1].n_knn), (300, 150));
    assert_eq!(ev.skipped_labels[0].reason, "every value is null");
    // deterministic
    let again = evaluate(&inputs, &cfg, &ClusterParams::default(), &no_steps).unwrap();
    assert_eq!(again.labels, ev.labels);
}

#[test]
fn raster_baseline_knows_the_outline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("drawings.parquet");
    let rows = write_faces(&d, 7, 500);
    let e = dir.path().join("embeddings.parquet");
    write_embeddings(&e, &rows, 12, vec![], &|i| {
        let mut v = vec![0.0; 12];
        v[level(&rows, i, 0)] = 1.0;
        v
    });
    let inputs = Inputs {
        drawings: vec![d],
        embeddings: Some(e),
        ..Default::default()
    };
    let cfg = EvaluateConfig::default();
    let params = ClusterParams {
        min_cluster_size: 10,
        ..Default::default()
    };
    let ev = evaluate(&inputs, &cfg, &params, &no_steps).unwrap();
    let b = ev.baseline.as_ref().unwrap();
    assert_eq!(b.dim, 12);
    assert!(b.pca_kept_variance > 0.1 && b.pca_kept_variance < 1.0);
    let outline = &ev.labels[0];
    assert_eq!(outline.name, "label_outline");
    let raw = outline.baseline_knn_accuracy.unwrap();
    assert!(raw > 0.8, "raster kNN on the outline: {raw}");
    assert!(outline.baseline_clusters.is_some());
    // the eyes are hard for pixels
    let eyes = ev.labels.iter().find(|l| l.name == "label_eyes").unwrap();
    assert!(eyes.baseline_knn_accuracy.unwrap() < 0.8, "{eyes:?}");
}

#[test]
fn chamfer_of_reconstructions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("drawings.parquet");
    let rows = write_faces(&d, 8, 20);
    let r = dir.path().join("reconstructions.parquet");
    // perfect copies, and one empty reconstruction
    let mut recs: Vec<Reconstruction> = rows
        .iter()
        .take(10)
        .map(|r| Reconstruction {
            key_id: r.key_id.clone(),
            drawing: r.drawing.clone(),
        })
        .collect();
    recs.push(Reconstruction {
        key_id: rows[10].key_id.clone(),
        drawing: Stroke3::default(),
    });
    tables::sequences::write_reconstructions(&r, &recs, &vec![]).unwrap();
    let mut inputs = Inputs::default();
    inputs.detect(&[d.clone(), r.clone()]).unwrap();
    assert_eq!(inputs.reconstructions.as_deref(), Some(r.as_path()));
    let ev = evaluate(&inputs, &quick(), &ClusterParams::default(), &no_steps).unwrap();
    let c = ev.chamfer.unwrap();
    assert_eq!((c.n, c.empty, c.mean, c.median), (10, 1, 0.0, 0.0));

    // a line moved: a known distance
    let line = |y: f32| {
        Stroke3::from_strokes(&[
            Stroke::new(
                vec![0.0, 100.0, 100.0, 0.0, 0.0],
                vec![0.0, 0.0, 100.0, 100.0, 0.0],
            ),
            Stroke::new(vec![20.0, 80.0], vec![y, y]),
        ])
    };
    assert_eq!(
        drawing::chamfer::chamfer(&line(50.0), &line(50.0), 0.02),
        Some(0.0)
    );
    let moved = drawing::chamfer::chamfer(&line(50.0), &line(60.0), 0.02).unwrap();
    let bigger = drawing::chamfer::chamfer(&line(50.0), &line(70.0), 0.02).unwrap();
    assert!(moved > 0.005 && bigger > 1.8 * moved, "{moved} {bigger}");
}

/// A Parquet file with string columns `cols` and no footer metadata.
fn plain_parquet(path: &Path, cols: &[&str]) {
    use std::sync::Arc;
    let fields: Vec<arrow::datatypes::Field> = cols
        .iter()
        .map(|c| arrow::datatypes::Field::new(*c, arrow::datatypes::DataType::Utf8, true))
        .collect();
    let schema = Arc::new(arrow::datatypes::Schema::new(fields));
    let arrays: Vec<arrow::array::ArrayRef> = cols
        .iter()
        .map(|_| Arc::new(arrow::array::StringArray::from(vec!["x"])) as arrow::array::ArrayRef)
        .collect();
    let batch = arrow::array::RecordBatch::try_new(schema.clone(), arrays).unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn tables_are_told_by_their_columns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("a.parquet");
    let rows = write_faces(&d, 9, 5);
    let e = dir.path().join("b.parquet");
    write_embeddings(&e, &rows, 2, vec![], &|i| vec![i as f32, 0.0]);
    let c = dir.path().join("c.parquet");
    tables::clusters::write(&c, &[], &vec![]).unwrap();
    let r = dir.path().join("d.parquet");
    tables::sequences::write_reconstructions(&r, &[], &vec![]).unwrap();
    let i = dir.path().join("e.parquet");
    tables::sequences::write_interpolations(&i, &[], &vec![]).unwrap();
    assert_eq!(detect_kind(&d).unwrap(), TableKind::Drawings);
    assert_eq!(detect_kind(&e).unwrap(), TableKind::Embeddings);
    assert_eq!(detect_kind(&c).unwrap(), TableKind::Clusters);
    assert_eq!(detect_kind(&r).unwrap(), TableKind::Reconstructions);
    let err = detect_kind(&i).unwrap_err().to_string();
    assert!(
        err.contains("e.parquet") && err.contains("interpolations"),
        "{err}"
    );
    let log = dir.path().join("log.parquet");
    tables::train_log::write(&log, &[]).unwrap();
    let err = detect_kind(&log).unwrap_err().to_string();
    assert!(
        err.contains("log.parquet") && err.contains("train_log"),
        "{err}"
    );
    // files written elsewhere (no `tables.table` in the footer) are told by their columns
    for (cols, kind) in [
        (&["key_id", "split", "dx"][..], Some(TableKind::Drawings)),
        (&["key_id", "embedding"][..], Some(TableKind::Embeddings)),
        (&["key_id", "cluster"][..], Some(TableKind::Clusters)),
        (&["key_id", "dx"][..], Some(TableKind::Reconstructions)),
        (&["key_id", "foo"][..], None),
    ] {
        let p = dir.path().join("plain.parquet");
        plain_parquet(&p, cols);
        match kind {
            Some(k) => assert_eq!(detect_kind(&p).unwrap(), k, "{cols:?}"),
            None => {
                let err = detect_kind(&p).unwrap_err().to_string();
                assert!(err.contains("cannot tell") && err.contains("foo"), "{err}");
            }
        }
    }
    let txt = dir.path().join("x.parquet");
    std::fs::write(&txt, "not parquet").unwrap();
    let err = detect_kind(&txt).unwrap_err().to_string();
    assert!(
        err.contains("x.parquet") && err.contains("not a readable Parquet"),
        "{err}"
    );
    let err = detect_kind(&dir.path().join("absent.parquet"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.parquet"), "{err}");
    let mut inputs = Inputs::default();
    let err = inputs.detect(&[e.clone(), e.clone(), d.clone()]);
    assert!(err.is_ok(), "the same file twice is one input");
    let e2 = dir.path().join("b2.parquet");
    std::fs::copy(&e, &e2).unwrap();
    let err = inputs.detect(&[e2]).unwrap_err().to_string();
    assert!(err.contains("two embeddings tables"), "{err}");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("drawings.parquet");
    let rows = write_faces(&d, 10, 30);
    let other = dir.path().join("other.parquet");
    let other_rows = write_faces(&other, 11, 30);
    let run = |inputs: &Inputs, cfg: &EvaluateConfig| {
        evaluate(inputs, cfg, &ClusterParams::default(), &no_steps)
            .unwrap_err()
            .to_string()
    };

    // embeddings without labels (and drawings with one value): nothing to score
    let e = dir.path().join("embeddings.parquet");
    write_embeddings(&e, &rows, 3, vec![], &|i| vec![i as f32; 3]);
    let err = run(
        &Inputs {
            embeddings: Some(e.clone()),
            ..Default::default()
        },
        &quick(),
    );
    assert!(
        err.contains("embeddings.parquet") && err.contains("no label column"),
        "{err}"
    );

    // embeddings of other drawings
    let err = run(
        &Inputs {
            drawings: vec![other.clone()],
            embeddings: Some(e.clone()),
            ..Default::default()
        },
        &quick(),
    );
    assert!(
        err.contains("30 of 30") && err.contains("synth-10-"),
        "{err}"
    );

    // clusters of other drawings
    let c = dir.path().join("clusters.parquet");
    let crow: Vec<ClusterRow> = other_rows
        .iter()
        .map(|r| ClusterRow {
            key_id: r.key_id.clone(),
            cluster: 0,
            strength: None,
            outlier_score: None,
            xy: Some((0.0, 0.0)),
        })
        .collect();
    tables::clusters::write(&c, &crow, &vec![]).unwrap();
    let err = run(
        &Inputs {
            drawings: vec![d.clone()],
            embeddings: Some(e.clone()),
            clusters: Some(c),
            ..Default::default()
        },
        &quick(),
    );
    assert!(
        err.contains("clusters.parquet") && err.contains("no row"),
        "{err}"
    );

    // reconstructions of drawings not given
    let r = dir.path().join("reconstructions.parquet");
    let recs = vec![Reconstruction {
        key_id: other_rows[0].key_id.clone(),
        drawing: other_rows[0].drawing.clone(),
    }];
    tables::sequences::write_reconstructions(&r, &recs, &vec![]).unwrap();
    let err = run(
        &Inputs {
            drawings: vec![d.clone()],
            reconstructions: Some(r.clone()),
            ..Default::default()
        },
        &quick(),
    );
    assert!(
        err.contains("reconstructions.parquet") && err.contains("1 of 1"),
        "{err}"
    );
    // ... but with both drawings tables they are found
    let ok = evaluate(
        &Inputs {
            drawings: vec![d.clone(), other.clone()],
            reconstructions: Some(r),
            ..Default::default()
        },
        &quick(),
        &ClusterParams::default(),
        &no_steps,
    )
    .unwrap();
    assert_eq!(ok.chamfer.unwrap().n, 1);

    // the baseline needs drawings; a missing file is named
    let labelled = dir.path().join("labelled.parquet");
    write_embeddings(&labelled, &rows, 3, vec![label_col(&rows, 1)], &|i| {
        vec![i as f32; 3]
    });
    let err = run(
        &Inputs {
            embeddings: Some(labelled),
            ..Default::default()
        },
        &EvaluateConfig::default(),
    );
    assert!(err.contains("baseline"), "{err}");
    let err = run(
        &Inputs {
            drawings: vec![dir.path().join("gone.parquet")],
            embeddings: Some(e),
            ..Default::default()
        },
        &quick(),
    );
    assert!(err.contains("gone.parquet"), "{err}");
    let err = run(&Inputs::default(), &quick());
    assert!(err.contains("nothing to evaluate"), "{err}");
    let err = run(
        &Inputs {
            drawings: vec![d],
            ..Default::default()
        },
        &EvaluateConfig {
            folds: 1,
            ..quick()
        },
    );
    assert!(err.contains("folds"), "{err}");
}

#[test]
fn json_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("drawings.parquet");
    let rows = write_faces(&d, 12, 60);
    let e = dir.path().join("embeddings.parquet");
    write_embeddings(&e, &rows, 4, vec![label_col(&rows, 3)], &|i| {
        let mut v = vec![0.0; 4];
        v[level(&rows, i, 3)] = 1.0;
        v
    });
    let inputs = Inputs {
        embeddings: Some(e),
        ..Default::default()
    };
    let ev = evaluate(&inputs, &quick(), &ClusterParams::default(), &no_steps).unwrap();
    let out = dir.path().join("sub/evaluation.json");
    write(&out, &ev).unwrap();
    assert_eq!(read(&out).unwrap(), ev);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["labels"][0]["name"], "label_nose");
    assert_eq!(v["labels"][0]["knn_accuracy"], 1.0);
    assert!(v["summary"].as_str().unwrap().contains("60 drawings"));
}

#[test]
fn part_vectors_are_scored_over_the_drawings_that_have_the_part() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("drawings.parquet");
    let rows = write_faces(&d, 6, 300);
    let e = dir.path().join("embeddings.parquet");
    // whole vectors: one-hot of the outline; inside vectors: one-hot of the mouth, absent for
    // every 5th drawing; outside vectors: one-hot of the hair, absent for every 3rd (absent
    // rows get a vector that contradicts their label, which must not count)
    let part = |part: Part, factor: usize, gap: usize| {
        let present: Vec<bool> = (0..rows.len()).map(|i| i % gap != 0).collect();
        let values = (0..rows.len())
            .flat_map(|i| {
                let mut v = vec![0.0; 4];
                v[if present[i] {
                    level(&rows, i, factor)
                } else {
                    0
                }] = 1.0;
                v
            })
            .collect();
        tables::embeddings::PartVectors {
            part,
            values,
            present,
        }
    };
    let t = EmbeddingTable {
        key_ids: rows.iter().map(|r| r.key_id.clone()).collect(),
        splits: rows.iter().map(|r| r.split).collect(),
        dim: 4,
        values: (0..rows.len())
            .flat_map(|i| {
                let mut v = vec![0.0; 4];
                v[level(&rows, i, 0)] = 1.0;
                v
            })
            .collect(),
        labels: vec![],
        parts: vec![part(Part::Inside, 2, 5), part(Part::Outside, 4, 3)],
        metadata: vec![],
    };
    tables::embeddings::write(&e, &t).unwrap();
    let inputs = Inputs {
        drawings: vec![d],
        embeddings: Some(e),
        clusters: None,
        reconstructions: None,
    };
    let ev = evaluate(&inputs, &quick(), &ClusterParams::default(), &no_steps).unwrap();
    let by = |n: &str| ev.labels.iter().find(|l| l.name == n).unwrap();
    let knn = |n: &str, part: &str| by(n).part_knn_accuracy[part];
    assert_eq!(by("label_outline").knn_accuracy, Some(1.0));
    assert_eq!(knn("label_mouth", "inside"), 1.0);
    assert_eq!(knn("label_hair_ears", "outside"), 1.0);
    for (label, part) in [("label_outline", "inside"), ("label_mouth", "outside")] {
        let a = knn(label, part);
        assert!(a < 0.45, "the {part} vectors know nothing of {label}: {a}");
    }
    assert!(!by("label_mouth").part_knn_accuracy.contains_key("outline"));
    let mouth = by("label_mouth").knn_accuracy.unwrap();
    assert!(
        mouth < 0.45,
        "the whole vectors know nothing of the mouth: {mouth}"
    );
    let table = ev.table();
    let header = table.lines().next().unwrap();
    assert!(
        header.contains(" inside outside ") && !header.contains("outline"),
        "{table}"
    );
}
