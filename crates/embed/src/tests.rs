use super::*;
use tables::drawings::{DrawingRow, DrawingWriter};

fn face(i: usize) -> Stroke3 {
    // a square outline plus a short inner stroke whose place depends on i, and on every third
    // face a stroke above the square (hair)
    let o = (i % 7) as f32;
    let mut strokes = vec![
        drawing::Stroke::new(
            vec![0.0, 50.0, 50.0, 0.0, 0.0],
            vec![0.0, 0.0, 50.0, 50.0, 0.0],
        ),
        drawing::Stroke::new(vec![10.0 + o, 20.0 + o], vec![30.0, 30.0 + o]),
    ];
    if i.is_multiple_of(3) {
        strokes.push(drawing::Stroke::new(vec![5.0, 45.0], vec![-10.0, -12.0]));
    }
    Stroke3::from_strokes(&strokes)
}

fn fixture(dir: &Path) -> (PathBuf, PathBuf) {
    let drawings = dir.join("drawings.parquet");
    let mut w = DrawingWriter::create(&drawings, &["mouth".to_string()], &vec![]).unwrap();
    for i in 0..40 {
        w.push(DrawingRow {
            key_id: format!("k{i}"),
            word: Some("face".into()),
            countrycode: None,
            recognized: None,
            timestamp: None,
            split: Split::ALL[i % 3],
            source: "test".into(),
            drawing: face(i),
            t: None,
            labels: vec![Some(format!("m{}", i % 2))],
        })
        .unwrap();
    }
    w.finish().unwrap();
    let run = dir.join("run");
    let train: Vec<Stroke3> = (0..40).map(face).collect();
    let model_cfg = seqae::ModelConfig {
        enc_hidden: 8,
        dec_hidden: 8,
        latent: 4,
        mixtures: 2,
        ..Default::default()
    };
    let cfg = seqae::TrainConfig {
        max_steps: 3,
        checkpoint_every: 0,
        model: model_cfg,
        optimiser: seqae::Optimiser {
            batch_size: 8,
            ..Default::default()
        },
        ..Default::default()
    };
    let data = seqae::TrainData {
        train: &train,
        valid: &train[..8],
        path: drawings.display().to_string(),
        rows: 40,
    };
    let opts = seqae::TrainOptions {
        run_dir: &run,
        device: Device::Cpu,
        resume: false,
        stop: None,
        lstm: seqae::LstmImpl::Auto,
    };
    seqae::train(&cfg, &data, &opts, &mut |_| {}).unwrap();
    (drawings, run)
}

/// The drawings stream through in windows: windows of 7 give the embeddings, and pick the
/// drawings to decode, as one window of everything does.
#[test]
fn windows_of_any_size_give_the_same_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (drawings, run) = fixture(dir.path());
    let cfg = EmbedConfig {
        batch_size: 5,
        reconstructions: 3,
        interpolations: 2,
        interpolation_steps: 3,
        max_len: 20,
        parts: vec!["inside".into()],
        ..Default::default()
    };
    let read = |window: usize| {
        let out = Outputs::beside(&dir.path().join(format!("w{window}/embeddings.parquet")));
        let r = embed_in_windows(&run, &drawings, &out, &cfg, None, &|_, _| {}, window).unwrap();
        let e = tables::embeddings::read(&out.embeddings).unwrap();
        let rec: Vec<(String, Stroke3)> =
            tables::sequences::read_reconstructions(&out.reconstructions)
                .unwrap()
                .into_iter()
                .map(|r| (r.key_id, r.drawing))
                .collect();
        let int: Vec<(String, String)> =
            tables::sequences::read_interpolations(&out.interpolations)
                .unwrap()
                .into_iter()
                .map(|i| (i.key_a, i.key_b))
                .collect();
        (r, e, rec, int)
    };
    let (r1, e1, rec1, int1) = read(1000);
    let (r7, e7, rec7, int7) = read(7);
    assert_eq!((r1.drawings, r7.drawings), (40, 40));
    assert_eq!(r1.parts, r7.parts);
    assert_eq!(e1.key_ids, e7.key_ids, "the input's order is kept");
    assert_eq!(e1.labels, e7.labels);
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
    assert!(close(&e1.values, &e7.values));
    assert_eq!(e1.parts[0].present, e7.parts[0].present);
    assert!(close(&e1.parts[0].values, &e7.parts[0].values));
    assert_eq!(rec1, rec7);
    assert_eq!(rec1.len(), 3);
    assert_eq!(int1, int7);
}

/// A window gives the table's vectors (at unit length) and, for the decoder, the encoder's own.
#[test]
fn a_window_keeps_the_encoders_vectors_for_the_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let (drawings, run) = fixture(dir.path());
    let (model, _) = seqae::load(&run, &Device::Cpu).unwrap();
    let rows = tables::drawings::read(&drawings).unwrap().rows;
    let cfg = EmbedConfig {
        batch_size: 6,
        ..Default::default()
    };
    assert!(cfg.unit_length);
    let mut report = EmbedReport {
        dim: 4,
        ..Default::default()
    };
    let (table, raw) = embed_window(
        &model,
        &rows,
        &[],
        &cfg,
        TableFrame {
            label_names: &[],
            metadata: &vec![],
        },
        &drawings,
        &mut report,
    )
    .unwrap();
    let ds: Vec<&Stroke3> = rows.iter().map(|r| &r.drawing).collect();
    let encoded = model.encode(&ds, 6).unwrap();
    for (i, z) in raw.iter().enumerate() {
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(z, &encoded[i]), "row {i}: the encoder's vector");
        let norm = z.iter().map(|x| x * x).sum::<f32>().sqrt();
        let unit: Vec<f32> = z.iter().map(|x| x / norm).collect();
        assert!(
            close(table.row(i), &unit),
            "row {i}: the table's, at unit length"
        );
        assert!(
            (norm - 1.0).abs() > 1e-3,
            "row {i}: an encoder vector of length {norm}"
        );
    }
}

/// `column_vectors` gives each column as `embed` writes it (what `generate` places its drawings
/// with): the same vectors, and none where a drawing lacks the part.
#[test]
fn column_vectors_are_the_written_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (drawings, run) = fixture(dir.path());
    let out = dir.path().join("embeddings.parquet");
    for part_box in [PartBox::Own, PartBox::Whole] {
        let cfg = EmbedConfig {
            reconstructions: 0,
            interpolations: 0,
            part_box,
            ..Default::default()
        };
        embed(&run, &drawings, &Outputs::beside(&out), &cfg, &|_, _| {}).unwrap();
        let table = tables::embeddings::read(&out).unwrap();
        let rows = tables::drawings::read(&drawings).unwrap().rows;
        let ds: Vec<&Stroke3> = rows.iter().map(|r| &r.drawing).collect();
        let (model, _) = seqae::load(&run, &Device::Cpu).unwrap();
        for column in ["embedding", "inside", "outline", "outside"] {
            let ours = column_vectors(&model, &ds, column, true, part_box, 7).unwrap();
            let (with, values) = table.column_vectors(column).unwrap();
            let written: Vec<Option<&[f32]>> = (0..rows.len())
                .map(|i| {
                    with.iter()
                        .position(|&r| r == i)
                        .map(|r| &values[r * table.dim..(r + 1) * table.dim])
                })
                .collect();
            assert!(written.iter().any(Option::is_none) || column != "outside");
            for (i, (a, b)) in ours.iter().zip(&written).enumerate() {
                match (a, b) {
                    (Some(a), Some(b)) => assert!(
                        a.iter().zip(*b).all(|(x, y)| (x - y).abs() < 1e-5),
                        "{column} of drawing {i} ({part_box:?})"
                    ),
                    (None, None) => {}
                    _ => panic!("{column} of drawing {i}: present in one and not the other"),
                }
            }
        }
    }
    let (model, _) = seqae::load(&run, &Device::Cpu).unwrap();
    assert!(column_vectors(&model, &[&face(0)], "ears", true, PartBox::Own, 7).is_err());
}

#[test]
fn writes_embeddings_reconstructions_and_interpolations() {
    let dir = tempfile::tempdir().unwrap();
    let (drawings, run) = fixture(dir.path());
    let out = Outputs::beside(&dir.path().join("e/embeddings.parquet"));
    let cfg = EmbedConfig {
        batch_size: 7,
        reconstructions: 5,
        interpolations: 2,
        interpolation_steps: 4,
        max_len: 30,
        ..Default::default()
    };
    let r = embed(&run, &drawings, &out, &cfg, &|_, _| {}).unwrap();
    assert_eq!(
        (r.drawings, r.dim, r.reconstructions, r.interpolations),
        (40, 4, 5, 8)
    );

    let e = tables::embeddings::read(&out.embeddings).unwrap();
    assert_eq!(e.len(), 40);
    assert_eq!(e.dim, 4);
    assert_eq!(e.key_ids[3], "k3", "input order is kept");
    let names: Vec<_> = e.labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["word", "label_mouth"]);
    assert!(e
        .metadata
        .iter()
        .any(|(k, v)| k == "embed.model" && v.contains("run")));
    // the model's id: the hash of its weights, the same each time it is computed
    let id = crate::model_id(&run).unwrap();
    assert!(
        id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    assert!(e
        .metadata
        .iter()
        .any(|(k, v)| k == crate::MODEL_ID_KEY && *v == id));

    let rec = tables::sequences::read_reconstructions(&out.reconstructions).unwrap();
    assert_eq!(rec.len(), 5);
    for r in &rec {
        let k: usize = r.key_id[1..].parse().unwrap();
        assert_ne!(
            Split::ALL[k % 3],
            Split::Train,
            "reconstructions come from valid/test"
        );
        // an untrained model may end a drawing at once; what it draws respects the cap
        assert!(r.drawing.len() <= 30, "{} points", r.drawing.len());
        assert!(r.drawing.pen.last().is_none_or(|&p| p == 1));
    }
    let int = tables::sequences::read_interpolations(&out.interpolations).unwrap();
    assert_eq!(int.len(), 8);
    assert_eq!((int[0].alpha, int[3].alpha), (0.0, 1.0));

    // the same model and input give identical embeddings, whatever the batch size
    let out2 = Outputs::beside(&dir.path().join("f/embeddings.parquet"));
    let cfg2 = EmbedConfig {
        batch_size: 40,
        ..cfg.clone()
    };
    embed(&run, &drawings, &out2, &cfg2, &|_, _| {}).unwrap();
    let e2 = tables::embeddings::read(&out2.embeddings).unwrap();
    let max_diff = e
        .values
        .iter()
        .zip(&e2.values)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max_diff < 1e-5, "embeddings differ by {max_diff}");
    let rec2 = tables::sequences::read_reconstructions(&out2.reconstructions).unwrap();
    assert_eq!(rec, rec2);

    // unit length by default; without it the model's own vectors, of which these are the
    // directions, and the reconstructions (decoded from the model's vectors) do not change
    for row in e.values.chunks(e.dim) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
    let out3 = Outputs::beside(&dir.path().join("g/embeddings.parquet"));
    let cfg3 = EmbedConfig {
        unit_length: false,
        ..cfg.clone()
    };
    embed(&run, &drawings, &out3, &cfg3, &|_, _| {}).unwrap();
    let e3 = tables::embeddings::read(&out3.embeddings).unwrap();
    let mut lengths_differ = false;
    for (raw, unit) in e3.values.chunks(e3.dim).zip(e.values.chunks(e.dim)) {
        let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
        lengths_differ |= (norm - 1.0).abs() > 1e-3;
        for (r, u) in raw.iter().zip(unit) {
            assert!((r / norm - u).abs() < 1e-5);
        }
    }
    assert!(
        lengths_differ,
        "the raw vectors are not already unit length"
    );
    let rec3 = tables::sequences::read_reconstructions(&out3.reconstructions).unwrap();
    assert_eq!(rec, rec3);

    // the part vectors, every part by default: every fixture face has a stroke inside its
    // square and every third one a stroke outside; at unit length too, the same whatever the
    // batch, and different from the whole drawing's
    assert_eq!(
        r.parts,
        vec![(Part::Inside, 40), (Part::Outline, 40), (Part::Outside, 14)]
    );
    let names: Vec<Part> = e.parts.iter().map(|p| p.part).collect();
    assert_eq!(names, Part::ALL);
    for (k, part) in e.parts.iter().enumerate() {
        for (i, (row, whole)) in part
            .values
            .chunks(e.dim)
            .zip(e.values.chunks(e.dim))
            .enumerate()
        {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            if part.present[i] {
                assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
                assert_ne!(row, whole);
            } else {
                assert_eq!(norm, 0.0);
            }
        }
        let max_diff = part
            .values
            .iter()
            .zip(&e2.parts[k].values)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            max_diff < 1e-5,
            "{:?} vectors differ by {max_diff}",
            part.part
        );
    }
    let outside = e.part(Part::Outside).unwrap();
    assert!((0..40).all(|i| outside.present[i] == (i % 3 == 0)));
    let footer = |e: &EmbeddingTable, key: &str| {
        e.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        footer(&e, "embed.parts").as_deref(),
        Some("inside,outline,outside")
    );
    assert_eq!(footer(&e, "embed.part_box").as_deref(), Some("own"));
    // no parts, or some in an order of the user's
    for (names, want) in [
        (vec!["none"], vec![]),
        (vec!["outside", "inside"], vec![Part::Outside, Part::Inside]),
    ] {
        let out4 = Outputs::beside(&dir.path().join("h/embeddings.parquet"));
        let some = EmbedConfig {
            parts: names.iter().map(|s| s.to_string()).collect(),
            ..cfg.clone()
        };
        let r4 = embed(&run, &drawings, &out4, &some, &|_, _| {}).unwrap();
        assert_eq!(r4.parts.iter().map(|p| p.0).collect::<Vec<_>>(), want);
        let e4 = tables::embeddings::read(&out4.embeddings).unwrap();
        assert_eq!(e4.parts.iter().map(|p| p.part).collect::<Vec<_>>(), want);
        assert_eq!(e4.values, e.values);
        // the same vectors (up to rounding: the batches hold other parts)
        for p in &e4.parts {
            let q = e.part(p.part).unwrap();
            assert_eq!(p.present, q.present);
            let diff = p
                .values
                .iter()
                .zip(&q.values)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(diff < 1e-5, "{:?} differs by {diff}", p.part);
        }
    }
    // a misspelt or repeated part is refused before any work
    for bad in [
        vec!["insides"],
        vec!["inside", "inside"],
        vec!["none", "inside"],
    ] {
        let cfg5 = EmbedConfig {
            parts: bad.iter().map(|s| s.to_string()).collect(),
            ..cfg.clone()
        };
        let out5 = Outputs::beside(&dir.path().join("i/embeddings.parquet"));
        let err = format!(
            "{:#}",
            embed(&run, &drawings, &out5, &cfg5, &|_, _| {}).unwrap_err()
        );
        assert!(err.contains("part"), "{err}");
        assert!(!out5.embeddings.exists());
    }
}

#[test]
fn bad_inputs_are_named_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (drawings, run) = fixture(dir.path());
    let out = Outputs::beside(&dir.path().join("g/embeddings.parquet"));
    let cfg = EmbedConfig::default();
    let e = format!(
        "{:#}",
        embed(&dir.path().join("norun"), &drawings, &out, &cfg, &|_, _| {}).unwrap_err()
    );
    assert!(e.contains("norun"), "{e}");
    let e = format!(
        "{:#}",
        embed(&run, &run.join("model.json"), &out, &cfg, &|_, _| {}).unwrap_err()
    );
    assert!(e.contains("model.json"), "{e}");
    let bad_dev = EmbedConfig {
        device: "tpu".into(),
        ..cfg
    };
    assert!(embed(&run, &drawings, &out, &bad_dev, &|_, _| {}).is_err());
    assert!(!out.embeddings.exists());
}
