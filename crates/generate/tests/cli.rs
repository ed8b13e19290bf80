//! `generate` on a tiny trained model: the library (same seed, same drawings) and the binary
//! (valid output that the drawings reader and ingest's ndjson parser accept; bad requests refused
//! with nothing written).

use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::Device;
use clustering::{Algorithm, ClusterParams, FittedModel, Matrix, Source};
use drawing::Stroke3;
use generate::{GenerateConfig, Mode, Request};
use tables::drawings::{DrawingRow, DrawingWriter};
use tables::Split;

fn face(i: usize) -> Stroke3 {
    // a square outline plus a short inner stroke whose place depends on i
    let o = (i % 7) as f32;
    Stroke3::from_strokes(&[
        drawing::Stroke::new(
            vec![0.0, 50.0, 50.0, 0.0, 0.0],
            vec![0.0, 0.0, 50.0, 50.0, 0.0],
        ),
        drawing::Stroke::new(vec![10.0 + o, 20.0 + o], vec![30.0, 30.0 + o]),
    ])
}

/// A run folder of a tiny model trained for a few steps on `drawings`.
fn train(drawings: &Path, run: &Path, vae: bool, seed: u64) {
    let train: Vec<Stroke3> = (0..40).map(face).collect();
    let model_cfg = seqae::ModelConfig {
        enc_hidden: 8,
        dec_hidden: 8,
        latent: 4,
        mixtures: 2,
        vae,
        ..Default::default()
    };
    let cfg = seqae::TrainConfig {
        max_steps: 3,
        checkpoint_every: 0,
        seed,
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
        run_dir: run,
        device: Device::Cpu,
        resume: false,
        stop: None,
        lstm: seqae::LstmImpl::Auto,
    };
    seqae::train(&cfg, &data, &opts, &mut |_| {}).unwrap();
}

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    run: PathBuf,
    clusters: PathBuf,
}

/// Drawings, a model, its embeddings and a k-means fit (k 2) of them, as the stages make them.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
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
    train(&drawings, &run, false, 0);
    let emb = dir.join("embeddings.parquet");
    let cfg = embed::EmbedConfig {
        reconstructions: 0,
        interpolations: 0,
        parts: vec!["none".into()],
        ..Default::default()
    };
    embed::embed(
        &run,
        &drawings,
        &embed::Outputs::beside(&emb),
        &cfg,
        &|_, _| {},
    )
    .unwrap();
    let table = tables::embeddings::read(&emb).unwrap();
    let m = Matrix::new(table.values.clone(), table.dim).unwrap();
    let p = ClusterParams {
        algorithm: Algorithm::Kmeans,
        k: 2,
        ..ClusterParams::default()
    };
    let prepared = clustering::prepare(&m, &p).unwrap();
    let (c, rule) = clustering::cluster_and_fit(&prepared, &p).unwrap();
    let fitted = FittedModel::new(
        &p,
        prepared.preparation(&p),
        rule,
        &c.labels,
        Source {
            vectors: "embedding".into(),
            dim: table.dim,
            embeddings: emb.display().to_string(),
            embedding_model: table.model_id().map(str::to_string),
        },
    );
    let clusters = dir.join("cluster_model.json");
    fitted.save(&clusters).unwrap();
    Fixture {
        _dir: tmp,
        dir,
        run,
        clusters,
    }
}

fn request(f: &Fixture, mode: Mode) -> Request {
    Request {
        model: f.run.clone(),
        clusters: Some(f.clusters.clone()),
        embeddings: None,
        drawings: None,
        mode,
    }
}

fn small() -> GenerateConfig {
    GenerateConfig {
        count: 6,
        max_len: 40,
        temperature: 0.5,
        ..Default::default()
    }
}

#[test]
fn the_same_seed_gives_the_same_drawings_and_another_seed_others() {
    let f = fixture();
    let req = request(&f, Mode::LikeCluster(0));
    let a = generate::generate(&req, &small(), &|_, _| {}).unwrap();
    let b = generate::generate(&req, &small(), &|_, _| {}).unwrap();
    assert_eq!(a.rows, b.rows);
    let other = GenerateConfig { seed: 1, ..small() };
    let c = generate::generate(&req, &other, &|_, _| {}).unwrap();
    let drawings = |g: &generate::Generated| -> Vec<Stroke3> {
        g.rows.iter().map(|r| r.row.drawing.clone()).collect()
    };
    assert_ne!(drawings(&a), drawings(&c));
    // every drawing says where it came from: cluster 0, one or two of its members
    let fitted = FittedModel::load(&f.clusters).unwrap();
    let emb = tables::embeddings::read(&f.dir.join("embeddings.parquet")).unwrap();
    let placed = fitted
        .assign(&Matrix::new(emb.values.clone(), emb.dim).unwrap())
        .unwrap();
    for r in &a.rows {
        assert_eq!(r.provenance.mode, "like-cluster");
        assert_eq!(r.provenance.cluster, Some(0));
        assert!(!r.provenance.sources.is_empty() && r.provenance.sources.len() <= 2);
        for s in &r.provenance.sources {
            let i = emb.key_ids.iter().position(|k| k == s).unwrap();
            assert_eq!(placed.labels[i], 0, "source {s} is in cluster 0");
        }
    }
}

/// With tries, each drawing is placed as `embed` + `cluster --model` would place it: the ones
/// generate counts as landed are those an independent embedding places in the cluster asked
/// for, the first draws are the unchecked run's, and only misses are drawn again.
#[test]
fn the_check_redraws_only_the_drawings_that_land_elsewhere() {
    let f = fixture();
    let fitted = FittedModel::load(&f.clusters).unwrap();
    let in_cluster = |g: &generate::Generated, k: i32| -> Vec<bool> {
        let out = f.dir.join(format!("check-{k}.parquet"));
        generate::write(&out, None, g).unwrap();
        let emb = f.dir.join(format!("check-{k}-emb.parquet"));
        let cfg = embed::EmbedConfig {
            reconstructions: 0,
            interpolations: 0,
            parts: vec!["none".into()],
            ..Default::default()
        };
        embed::embed(
            &f.run,
            &out,
            &embed::Outputs::beside(&emb),
            &cfg,
            &|_, _| {},
        )
        .unwrap();
        let t = tables::embeddings::read(&emb).unwrap();
        let placed = fitted
            .assign(&Matrix::new(t.values.clone(), t.dim).unwrap())
            .unwrap();
        // the embeddings keep the generated table's order
        assert_eq!(t.key_ids.len(), g.rows.len());
        placed.labels.iter().map(|&l| l == k).collect()
    };
    let count = 16;
    let mut missed_first = 0;
    for k in 0..2 {
        let req = request(&f, Mode::LikeCluster(k));
        let unchecked = GenerateConfig {
            count,
            tries: 1,
            ..small()
        };
        let checked = GenerateConfig {
            tries: 6,
            ..unchecked.clone()
        };
        let a = generate::generate(&req, &unchecked, &|_, _| {}).unwrap();
        let b = generate::generate(&req, &checked, &|_, _| {}).unwrap();
        assert!(a.landing.is_none());
        let l = b
            .landing
            .expect("a checked run reports where its drawings landed");
        let a_in = in_cluster(&a, k);
        let b_in = in_cluster(&b, k);
        let a_landed = a_in.iter().filter(|&&x| x).count();
        assert_eq!(
            l.first, a_landed,
            "cluster {k}: the first draws are the unchecked ones"
        );
        assert_eq!(l.first + l.redrawn + l.missed, count, "cluster {k}: {l:?}");
        // every miss is drawn again, at most tries times in all
        assert!(
            l.draws >= count + (count - l.first) && l.draws <= count * 6,
            "{l:?}"
        );
        missed_first += count - l.first;
        assert_eq!(
            b_in.iter().filter(|&&x| x).count(),
            l.first + l.redrawn,
            "cluster {k}: generate's check agrees with embed and the fitted clusters ({l:?})"
        );
        // a first draw that landed is kept as it was
        for (r, &landed) in a.rows.iter().zip(&a_in) {
            if landed {
                let same = b
                    .rows
                    .iter()
                    .find(|s| s.row.key_id == r.row.key_id)
                    .unwrap();
                assert_eq!(same.row.drawing, r.row.drawing, "{}", r.row.key_id);
            }
        }
    }
    assert!(missed_first > 0, "the redraws were exercised");
}

#[test]
fn variations_of_one_drawing_start_from_it() {
    let f = fixture();
    let g =
        generate::generate(&request(&f, Mode::Like("k3".into())), &small(), &|_, _| {}).unwrap();
    assert!(!g.rows.is_empty());
    for r in &g.rows {
        assert_eq!(r.provenance.sources, vec!["k3".to_string()]);
        assert_eq!(r.row.word.as_deref(), Some("face"));
    }
    let e = generate::generate(
        &request(&f, Mode::Like("nope".into())),
        &small(),
        &|_, _| {},
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("no drawing `nope`"), "{e:#}");
}

fn generate_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_generate"))
}

/// `--like-cluster all` (or a list) writes every cluster's drawings in one table: the same
/// drawings as one run per cluster, each row naming its cluster, the landings summed (the
/// inputs read once for all the clusters).
#[test]
fn several_clusters_go_into_one_table() {
    let f = fixture();
    let run = |spec: &str, name: &str| -> PathBuf {
        let out = f.dir.join(name);
        let r = generate_bin()
            .arg("--model")
            .arg(&f.run)
            .arg("--clusters")
            .arg(&f.clusters)
            .args([
                "--like-cluster",
                spec,
                "--count",
                "4",
                "--max-len",
                "40",
                "-o",
            ])
            .arg(&out)
            .current_dir(&f.dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&r.stdout);
        assert!(
            r.status.success(),
            "{spec}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        if spec.contains(',') || spec == "all" {
            let order = if spec == "1,0" { "1, 0" } else { "0, 1" };
            assert!(
                stdout.contains(&format!("like clusters {order}")),
                "{stdout}"
            );
        }
        out
    };
    let all = run("all", "all.parquet");
    let listed = run("0,1", "listed.parquet");
    let one: Vec<PathBuf> = ["0", "1"]
        .iter()
        .map(|k| run(k, &format!("c{k}.parquet")))
        .collect();
    let rows = |p: &Path| tables::drawings::read(p).unwrap().rows;
    let (_, prov) = tables::generated::read(&all).unwrap();
    let mut expected = rows(&one[0]);
    expected.extend(rows(&one[1]));
    assert_eq!(rows(&all), expected);
    assert_eq!(rows(&listed), expected);
    // each cluster's own members, whatever the order asked (read in one pass for both)
    let mut reversed = rows(&one[1]);
    reversed.extend(rows(&one[0]));
    assert_eq!(rows(&run("1,0", "reversed.parquet")), reversed);
    let n0 = rows(&one[0]).len();
    assert!(prov[..n0].iter().all(|p| p.cluster == Some(0)));
    assert!(prov[n0..].iter().all(|p| p.cluster == Some(1)));
    // the footer's landing is the sum of the two runs'
    let landing = |p: &Path| -> Vec<usize> {
        let meta = tables::footer(p).unwrap();
        let v = meta
            .iter()
            .find(|(k, _)| k == generate::LANDING_KEY)
            .map(|(_, v)| v.clone())
            .unwrap();
        v.split(' ')
            .map(|kv| kv.split('=').nth(1).unwrap().parse().unwrap())
            .collect()
    };
    let sum: Vec<usize> = landing(&one[0])
        .iter()
        .zip(landing(&one[1]))
        .map(|(a, b)| a + b)
        .collect();
    assert_eq!(landing(&all), sum);
}

#[test]
fn the_binary_writes_drawings_every_reader_accepts() {
    let f = fixture();
    let out = f.dir.join("gen/generated.parquet");
    let nd = f.dir.join("gen/generated.ndjson");
    let run = generate_bin()
        .arg("--model")
        .arg(&f.run)
        .arg("--clusters")
        .arg(&f.clusters)
        .args(["--like-cluster", "1", "--count", "5", "--max-len", "40"])
        .args(["--temperature", "0.5", "-o"])
        .arg(&out)
        .arg("--ndjson")
        .arg(&nd)
        .current_dir(&f.dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("[generate]") && stdout.contains("like cluster 1"),
        "{stdout}"
    );
    let table = tables::drawings::read(&out).unwrap();
    let (_, prov) = tables::generated::read(&out).unwrap();
    assert!(!table.rows.is_empty() && table.rows.len() <= 5);
    assert_eq!(prov.len(), table.rows.len());
    assert!(prov.iter().all(|p| p.cluster == Some(1)));
    // the ndjson holds the same drawings, one a line, and ingest's parser reads every line
    let text = std::fs::read_to_string(&nd).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), table.rows.len());
    for (i, (line, row)) in lines.iter().zip(&table.rows).enumerate() {
        let rec = quickdraw::ndjson::parse_line(line.as_bytes(), i as u64 + 1, &nd).unwrap();
        assert_eq!(rec.key_id, row.key_id);
        assert_eq!(rec.drawing.n_strokes(), row.drawing.n_strokes());
        assert_eq!(rec.drawing.len(), row.drawing.len());
    }
}

#[test]
fn bad_requests_are_refused_and_write_nothing() {
    let f = fixture();
    // a second model (another seed): the same shape, other weights
    let other = f.dir.join("other_run");
    train(&f.dir.join("drawings.parquet"), &other, false, 7);
    let vae = f.dir.join("vae_run");
    train(&f.dir.join("drawings.parquet"), &vae, true, 0);
    // empty tables (no rows, the schema and footer kept) where drawings are to start from:
    // the tables' readers refuse them
    let empty_drawings = f.dir.join("empty_drawings.parquet");
    DrawingWriter::create(&empty_drawings, &["mouth".to_string()], &vec![])
        .unwrap()
        .finish()
        .unwrap();
    let empty_embeddings = f.dir.join("empty_embeddings.parquet");
    let mut e = tables::embeddings::read(&f.dir.join("embeddings.parquet")).unwrap();
    e.key_ids.clear();
    e.splits.clear();
    e.values.clear();
    e.parts.clear();
    for l in &mut e.labels {
        l.values.clear();
    }
    tables::embeddings::write(&empty_embeddings, &e).unwrap();
    let path = |p: &Path| p.display().to_string();
    let (run, clusters) = (path(&f.run), path(&f.clusters));
    let (other, empty_drawings, empty_embeddings) =
        (path(&other), path(&empty_drawings), path(&empty_embeddings));
    let args = |xs: &[&str]| -> Vec<String> { xs.iter().map(|x| x.to_string()).collect() };
    let like_cluster = |k: &str, more: &[&str]| -> Vec<String> {
        let mut v = args(&[
            "--model",
            &run,
            "--clusters",
            &clusters,
            "--like-cluster",
            k,
        ]);
        v.extend(args(more));
        v
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            args(&[
                "--model",
                &run,
                "--like",
                "k0",
                "--drawings",
                &empty_drawings,
            ]),
            "empty_drawings.parquet: the drawings table has no rows",
        ),
        (
            like_cluster("0", &["--embeddings", &empty_embeddings]),
            "empty_embeddings.parquet: the embeddings table has no rows",
        ),
        (like_cluster("9", &[]), "there is no cluster 9"),
        (like_cluster("0,9", &[]), "there is no cluster 9"),
        (
            like_cluster("zero", &[]),
            "--like-cluster takes K, K,K,... or all, not `zero`",
        ),
        (
            args(&["--model", &run, "--like-cluster", "all"]),
            "--like-cluster needs the fitted clusters",
        ),
        (
            args(&[
                "--model",
                &other,
                "--clusters",
                &clusters,
                "--like-cluster",
                "0",
            ]),
            "fitted on the embeddings of model",
        ),
        (
            args(&["--model", &run, "--prior"]),
            "--prior needs a model trained with the VAE term",
        ),
        (
            args(&["--model", &run, "--like-cluster", "0"]),
            "--like-cluster needs the fitted clusters",
        ),
        (like_cluster("0", &["--temperature=-1"]), "temperature"),
    ];
    for (args, message) in cases {
        let out = f.dir.join("refused.parquet");
        let nd = f.dir.join("refused.ndjson");
        let run = generate_bin()
            .args(&args)
            .arg("-o")
            .arg(&out)
            .arg("--ndjson")
            .arg(&nd)
            .current_dir(&f.dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?} succeeded");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!out.exists() && !nd.exists(), "{args:?} wrote something");
    }
    // the VAE model draws from its prior
    let out = f.dir.join("prior.parquet");
    let run = generate_bin()
        .arg("--model")
        .arg(&vae)
        // an untrained decoder often ends at once: sample, so that some drawings have points
        .args([
            "--prior",
            "--count",
            "20",
            "--max-len",
            "30",
            "--temperature",
            "1",
            "-o",
        ])
        .arg(&out)
        .current_dir(&f.dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (_, prov) = tables::generated::read(&out).unwrap();
    assert!(prov
        .iter()
        .all(|p| p.mode == "prior" && p.sources.is_empty()));
}
