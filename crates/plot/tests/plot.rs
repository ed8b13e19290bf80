//! The stage end to end on small tables: every figure whose inputs are given is drawn, the
//! report links them, and missing inputs are reported rather than fatal.

use std::path::{Path, PathBuf};

use drawing::{Stroke, Stroke3};
use plot::{find_inputs, plot, Kind, PlotConfig};
use tables::clusters::ClusterRow;
use tables::drawings::{DrawingRow, DrawingWriter};
use tables::sequences::{Interpolation, Reconstruction};
use tables::train_log::TrainLogRow;
use tables::Split;

fn face(seed: u32, smile: f32) -> Stroke3 {
    let r = 60.0 + (seed % 7) as f32 * 5.0;
    let outline: (Vec<f32>, Vec<f32>) = (0..=20)
        .map(|k| {
            let a = k as f32 / 20.0 * std::f32::consts::TAU;
            (128.0 + r * a.cos(), 128.0 + r * 1.1 * a.sin())
        })
        .unzip();
    let mouth: (Vec<f32>, Vec<f32>) = (0..=6)
        .map(|k| {
            let t = k as f32 / 6.0 * 2.0 - 1.0;
            (128.0 + 30.0 * t, 160.0 + smile * 15.0 * (1.0 - t * t))
        })
        .unzip();
    Stroke3::from_strokes(&[
        Stroke::new(outline.0, outline.1),
        Stroke::new(vec![105.0, 106.0], vec![110.0, 110.0]),
        Stroke::new(vec![150.0, 151.0], vec![110.0, 110.0]),
        Stroke::new(mouth.0, mouth.1),
    ])
}

const N: usize = 60;

fn key(i: usize) -> String {
    format!("{:016}", 4000000000000000u64 + i as u64 * 7919)
}

/// Writes a small work folder: drawings, clusters (3 clusters + noise), reconstructions,
/// interpolations, and under run/ the train log and model.json.
fn work_folder(dir: &Path) {
    let mouths = ["smile", "frown", "flat"];
    let mut w =
        DrawingWriter::create(&dir.join("drawings.parquet"), &["mouth".into()], &vec![]).unwrap();
    for i in 0..N {
        let m = i % 3;
        w.push(DrawingRow {
            key_id: key(i),
            word: Some("face".into()),
            countrycode: None,
            recognized: None,
            timestamp: None,
            split: if i % 10 == 0 {
                Split::Valid
            } else {
                Split::Train
            },
            source: "synthetic".into(),
            drawing: face(i as u32, 1.0 - m as f32),
            t: None,
            labels: vec![Some(mouths[m].into())],
        })
        .unwrap();
    }
    w.finish().unwrap();
    let rows: Vec<ClusterRow> = (0..N)
        .map(|i| {
            let c = if i % 13 == 0 { -1 } else { (i % 3) as i32 };
            ClusterRow {
                key_id: key(i),
                cluster: c,
                strength: (c >= 0).then_some(((i * 37) % 100) as f32 / 100.0),
                outlier_score: Some(0.1),
                xy: Some((
                    (i % 3) as f32 * 5.0 + (i as f32 * 0.7).cos(),
                    (i % 2) as f32 * 3.0 + (i as f32 * 0.7).sin(),
                )),
            }
        })
        .collect();
    tables::clusters::write(&dir.join("clusters.parquet"), &rows, &vec![]).unwrap();
    let recs: Vec<Reconstruction> = (0..20)
        .map(|i| Reconstruction {
            key_id: key(i),
            drawing: face(i as u32 + 3, 0.3),
        })
        .collect();
    tables::sequences::write_reconstructions(&dir.join("reconstructions.parquet"), &recs, &vec![])
        .unwrap();
    let interp: Vec<Interpolation> = (0..3)
        .flat_map(|p| {
            (0..6).map(move |s| Interpolation {
                pair: p,
                step: s,
                alpha: s as f32 / 5.0,
                key_a: key(p as usize),
                key_b: key(p as usize + 10),
                drawing: face(p as u32, s as f32 / 2.5 - 1.0),
            })
        })
        .collect();
    tables::sequences::write_interpolations(&dir.join("interpolations.parquet"), &interp, &vec![])
        .unwrap();
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let log: Vec<TrainLogRow> = (0..200)
        .map(|s| TrainLogRow {
            step: s,
            epoch: (s / 50) as i32,
            train_loss: 2.0 / (1.0 + s as f64 * 0.05),
            valid_loss: (s % 50 == 49).then(|| 2.2 / (1.0 + s as f64 * 0.04)),
            learning_rate: 1e-3,
            elapsed_s: s as f64 * 0.1,
        })
        .collect();
    tables::train_log::write(&run.join("train_log.parquet"), &log).unwrap();
    std::fs::write(
        run.join("model.json"),
        r#"{"format":1,"model":{"enc_hidden":64,"dec_hidden":64,"latent":16,"bidirectional":true,"head":"mdn","mixtures":5,"vae":false},
            "scale":12.5,"parameters":12345,"losses":{"steps":200,"train_loss":0.25,"valid_loss":0.31}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("evaluation.json"),
        r#"{"ari":{"mouth":0.71},"nmi":{"mouth":0.66},"note":"<b>held-out</b>"}"#,
    )
    .unwrap();
    // a held-out set in a subfolder must not displace the top-level tables
    let held = dir.join("heldout");
    std::fs::create_dir_all(&held).unwrap();
    std::fs::write(held.join("clusters.parquet"), b"not parquet").unwrap();
}

fn png_size(p: &Path) -> (u32, u32) {
    let bytes = std::fs::read(p).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        p.display()
    );
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn a_work_folder_gives_every_figure_and_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    work_folder(&work);
    let out = work.join("plots");
    let inputs = find_inputs(std::slice::from_ref(&work), &out).unwrap();
    assert_eq!(
        inputs.get(Kind::Clusters),
        Some(work.join("clusters.parquet").as_path())
    );
    assert_eq!(
        inputs.get(Kind::TrainLog),
        Some(work.join("run/train_log.parquet").as_path())
    );
    assert_eq!(
        inputs.get(Kind::Model),
        Some(work.join("run/model.json").as_path())
    );
    assert!(inputs.get(Kind::Embeddings).is_none());

    let cfg = PlotConfig {
        clusters_per_page: 2,
        ..PlotConfig::default()
    };
    let s = plot(&inputs, &out, &cfg, &|_| {}).unwrap();
    let names: Vec<&str> = s.figures.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "embedding map",
            "gallery",
            "reconstructions",
            "interpolations",
            "loss"
        ]
    );
    let gallery = &s.figures[1].1;
    assert_eq!(
        gallery.len(),
        2,
        "3 clusters at 2 a page, noise on the last"
    );
    for (_, ws) in &s.figures {
        for w in ws {
            assert_eq!(png_size(&w.png), (w.width, w.height));
            assert!(w.svg.is_file());
        }
    }
    let html = std::fs::read_to_string(&s.report).unwrap();
    for f in [
        "embedding_map.png",
        "gallery_01.png",
        "gallery_02.png",
        "reconstructions.png",
        "interpolations.png",
        "loss.png",
    ] {
        assert!(
            html.contains(&format!("src=\"{f}\"")),
            "{f} not in the report"
        );
        assert!(out.join(f).is_file());
    }
    assert!(
        html.contains("mouth: smile"),
        "cluster label summary missing"
    );
    assert!(html.contains("mdn (5 mixture components)"));
    assert!(
        html.contains("&lt;b&gt;held-out&lt;/b&gt;"),
        "evaluation not escaped"
    );
    assert!(html.contains("ari.mouth"));
    // a second run overwrites in place
    plot(&inputs, &out, &cfg, &|_| {}).unwrap();
    // PLOT_TEST_KEEP=<dir> keeps the work folder to look at (and to run the binary on)
    if let Some(keep) = std::env::var_os("PLOT_TEST_KEEP") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).unwrap();
        copy_dir(&work, &keep);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

#[test]
fn missing_inputs_are_skipped_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    work_folder(tmp.path());
    let out = tmp.path().join("out");
    // clusters without drawings: the map without thumbnails, no gallery
    let inputs = find_inputs(&[tmp.path().join("clusters.parquet")], &out).unwrap();
    let s = plot(&inputs, &out, &PlotConfig::default(), &|_| {}).unwrap();
    assert_eq!(s.figures.len(), 1);
    assert!(s
        .skipped
        .iter()
        .any(|m| m.contains("gallery") && m.contains("drawings.parquet")));
    assert!(s.skipped.iter().any(|m| m.starts_with("loss")));
    assert!(s.report.is_file());
}

#[test]
fn bad_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    work_folder(tmp.path());
    let out = tmp.path().join("out");
    let odd = tmp.path().join("stuff.parquet");
    std::fs::write(&odd, b"x").unwrap();
    let e = find_inputs(std::slice::from_ref(&odd), &out)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("stuff.parquet") && e.contains("cannot tell"),
        "{e}"
    );
    // a table of the pipeline's under a name of the user's: its footer says which it is
    let renamed = tmp.path().join("by_hair.parquet");
    std::fs::copy(tmp.path().join("clusters.parquet"), &renamed).unwrap();
    let inputs = find_inputs(std::slice::from_ref(&renamed), &out).unwrap();
    assert_eq!(inputs.get(Kind::Clusters), Some(renamed.as_path()));
    let e = find_inputs(&[tmp.path().join("nope")], &out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no such file"), "{e}");
    let twice = [
        tmp.path().join("clusters.parquet"),
        tmp.path().join("heldout/clusters.parquet"),
    ];
    assert!(find_inputs(&twice, &out)
        .unwrap_err()
        .to_string()
        .contains("two clusters.parquet"));
    // a corrupt table names its file
    let inputs = find_inputs(&[tmp.path().join("heldout/clusters.parquet")], &out).unwrap();
    let e = format!(
        "{:#}",
        plot(&inputs, &out, &PlotConfig::default(), &|_| {}).unwrap_err()
    );
    assert!(e.contains("heldout/clusters.parquet"), "{e}");
    // a bad colour names the key
    let cfg = PlotConfig {
        ink: "blue".into(),
        ..PlotConfig::default()
    };
    let inputs = find_inputs(&[tmp.path().join("clusters.parquet")], &out).unwrap();
    let e = format!("{:#}", plot(&inputs, &out, &cfg, &|_| {}).unwrap_err());
    assert!(e.contains("[plot] ink"), "{e}");
}

#[test]
fn config_section_keys_match_the_defaults() {
    let text = "[plot]\nsamples = 4\ncell = 80\nink = \"#000000\"\n";
    let c = stage::PipelineConfig::from_str(text, Some(Path::new("p.toml"))).unwrap();
    let cfg: PlotConfig = c.section("plot").unwrap();
    assert_eq!((cfg.samples, cfg.cell), (4, 80));
    assert_eq!(cfg.max_clusters, PlotConfig::default().max_clusters);
    let bad = stage::PipelineConfig::from_str("[plot]\nsampels = 4\n", None).unwrap();
    assert!(bad.section::<PlotConfig>("plot").is_err());
}

#[test]
fn explorer_and_projector_export() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    work_folder(&work);
    let dim = 8;
    let table = tables::embeddings::EmbeddingTable {
        key_ids: (0..N).map(key).collect(),
        splits: vec![Split::Train; N],
        dim,
        values: (0..N * dim).map(|v| (v as f32 * 0.37).sin()).collect(),
        parts: vec![],
        labels: vec![],
        metadata: vec![],
    };
    tables::embeddings::write(&work.join("embeddings.parquet"), &table).unwrap();
    let out = work.join("plots");
    let inputs = find_inputs(std::slice::from_ref(&work), &out).unwrap();
    let cfg = PlotConfig {
        projector: true,
        projector_max: 25,
        ..PlotConfig::default()
    };
    let s = plot(&inputs, &out, &cfg, &|_| {}).unwrap();

    let (page, stats) = s.explorer.as_ref().expect("explorer written");
    assert_eq!(page, &out.join("explorer.html"));
    assert_eq!(stats.points, N, "every drawing with a place is a point");
    assert!(
        stats.drawing_points > N * 20,
        "the strokes travel with the points"
    );
    let html = std::fs::read_to_string(page).unwrap();
    assert!(html.contains("\"name\":\"cluster\"") && html.contains("\"name\":\"label_mouth\""));
    let report = std::fs::read_to_string(&s.report).unwrap();
    assert!(
        report.contains("href=\"explorer.html\""),
        "the report links the explorer"
    );

    let x = s.projector.as_ref().expect("projector export written");
    assert_eq!((x.points, x.dim), (25, dim));
    let tensors = std::fs::read_to_string(x.dir.join("tensors.tsv")).unwrap();
    assert_eq!(tensors.lines().count(), 25);
    assert!(tensors
        .lines()
        .all(|l| l.split('\t').count() == dim && l.split('\t').all(|v| v.parse::<f32>().is_ok())));
    let meta = std::fs::read_to_string(x.dir.join("metadata.tsv")).unwrap();
    let lines: Vec<&str> = meta.lines().collect();
    assert_eq!(lines.len(), 26, "a header and a row per vector");
    assert_eq!(lines[0], "key_id\tcluster\tword\tlabel_mouth");
    assert!(lines[1..].iter().all(|l| l.split('\t').count() == 4));
    // the first vector's row names its own drawing
    assert!(lines[1].starts_with(&key(0)));
    assert_eq!(png_size(&x.dir.join("sprite.png")), (5 * 32, 5 * 32));
    let pbtxt = std::fs::read_to_string(x.dir.join("projector_config.pbtxt")).unwrap();
    for want in [
        "tensor_path: \"tensors.tsv\"",
        "metadata_path: \"metadata.tsv\"",
        "image_path: \"sprite.png\"",
        "single_image_dim: 32",
    ] {
        assert!(pbtxt.contains(want), "{want} missing from\n{pbtxt}");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(x.dir.join("projector_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        json["embeddings"][0]["tensorShape"],
        serde_json::json!([25, dim])
    );

    // a projector export that cannot fit TensorBoard's sprite is refused, naming the key
    let cfg = PlotConfig {
        projector: true,
        projector_max: 100_000,
        ..PlotConfig::default()
    };
    let e = format!("{:#}", plot(&inputs, &out, &cfg, &|_| {}).unwrap_err());
    assert!(e.contains("projector_max"), "{e}");
}

/// A Hive-partitioned drawings folder and a glob of clusters files are each one table: found by
/// their footers and drawn as the single files are.
#[test]
fn a_partitioned_folder_and_a_glob_are_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    work_folder(&work);
    let drawings = tables::drawings::read(&work.join("drawings.parquet")).unwrap();
    let folder = tmp.path().join("drawings_by_mouth");
    let mut w = DrawingWriter::create_partitioned(
        &folder,
        &drawings.label_names,
        &vec![],
        "label_mouth",
        "part-00000.parquet",
    )
    .unwrap();
    for r in &drawings.rows {
        w.push(r.clone()).unwrap();
    }
    w.finish().unwrap();
    let clusters = tables::clusters::read(&work.join("clusters.parquet")).unwrap();
    let (a, b) = clusters.split_at(clusters.len() / 2);
    for (name, rows) in [("a", a), ("b", b)] {
        let p = tmp.path().join(format!("shards/{name}/clusters.parquet"));
        tables::clusters::write(&p, rows, &vec![]).unwrap();
    }
    let glob = tmp.path().join("shards/*/clusters.parquet");
    let out = tmp.path().join("plots");
    let inputs = find_inputs(&[folder.clone(), glob.clone()], &out).unwrap();
    assert_eq!(inputs.get(Kind::Drawings), Some(folder.as_path()));
    assert_eq!(inputs.get(Kind::Clusters), Some(glob.as_path()));
    let s = plot(&inputs, &out, &PlotConfig::default(), &|_| {}).unwrap();
    let names: Vec<&str> = s.figures.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"gallery"), "{names:?}");
    // the same figures as from the single files
    let single = find_inputs(
        &[work.join("drawings.parquet"), work.join("clusters.parquet")],
        &out,
    )
    .unwrap();
    let s1 = plot(
        &single,
        &tmp.path().join("plots1"),
        &PlotConfig::default(),
        &|_| {},
    )
    .unwrap();
    let names1: Vec<&str> = s1.figures.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, names1);
    // a glob that matches nothing is an error naming it
    let e = find_inputs(&[tmp.path().join("none/*.parquet")], &out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("none/*.parquet"), "{e}");
}
