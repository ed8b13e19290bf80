//! A tiny pipeline's files, made through the stages' libraries (a test of one stage cannot run
//! another stage's binary): synthetic faces plus the edge drawings (one point, one stroke,
//! 10,000 points) as ndjson, their drawings table, a tiny model's run folder, its embeddings,
//! reconstructions and interpolations, and a clusters table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use candle_core::Device;
use tables::Split;

/// The files of a tiny pipeline run in one folder.
pub struct Pipeline {
    pub dir: PathBuf,
    pub ndjson: PathBuf,
    pub drawings: PathBuf,
    pub run: PathBuf,
    pub embeddings: PathBuf,
    pub reconstructions: PathBuf,
    pub interpolations: PathBuf,
    pub clusters: PathBuf,
}

/// Key ids of the edge drawings appended to the synthetic faces.
pub const ONE_POINT: &str = "edge-one-point";
pub const ONE_STROKE: &str = "edge-one-stroke";
pub const LONG: &str = "edge-10000-points";

/// The model settings of the tiny run (small enough to train in a second in a debug build).
pub fn tiny_model() -> seqae::ModelConfig {
    seqae::ModelConfig {
        enc_hidden: 8,
        dec_hidden: 8,
        latent: 4,
        mixtures: 2,
        encoder_raster: 8,
        encoder_raster_width: 8,
        ..Default::default()
    }
}

/// The `train` flags giving [`tiny_model`] (for the tests that run the binary).
pub const TINY_FLAGS: &[&str] = &[
    "--model.enc-hidden",
    "8",
    "--model.dec-hidden",
    "8",
    "--model.latent",
    "4",
    "--model.mixtures",
    "2",
    "--model.encoder-raster",
    "8",
    "--model.encoder-raster-width",
    "8",
    "--optimiser.batch-size",
    "16",
];

fn edge_line(key: &str, strokes: &[(Vec<u32>, Vec<u32>)]) -> String {
    let mut s = format!(
        "{{\"word\":\"face\",\"countrycode\":\"US\",\"timestamp\":\"2017-03-08 21:12:07.266040 UTC\",\
         \"recognized\":true,\"key_id\":\"{key}\",\"drawing\":["
    );
    for (k, (x, y)) in strokes.iter().enumerate() {
        if k > 0 {
            s.push(',');
        }
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let _ = write!(s, "[[{}],[{}]]", list(x), list(y));
    }
    s.push_str("]}\n");
    s
}

/// The edge drawings as ndjson lines: one point, one stroke of a few points, and one of
/// 10,000 points (a long spiral in 25 strokes).
pub fn edge_lines() -> String {
    let mut long = Vec::new();
    for k in 0..25u32 {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for j in 0..400u32 {
            let a = (k * 400 + j) as f32 * 0.01;
            let r = 20.0 + 0.01 * (k * 400 + j) as f32;
            x.push((128.0 + r * a.cos()).round().clamp(0.0, 255.0) as u32);
            y.push((128.0 + r * a.sin()).round().clamp(0.0, 255.0) as u32);
        }
        long.push((x, y));
    }
    [
        edge_line(ONE_POINT, &[(vec![100], vec![100])]),
        edge_line(
            ONE_STROKE,
            &[(vec![10, 200, 200, 10, 10], vec![10, 10, 200, 200, 10])],
        ),
        edge_line(LONG, &long),
    ]
    .concat()
}

impl Pipeline {
    /// Makes every file in `dir`: `faces` synthetic faces plus the edge drawings.
    pub fn build(dir: &Path, faces: u64) -> Pipeline {
        let p = Pipeline {
            dir: dir.to_path_buf(),
            ndjson: dir.join("faces.ndjson"),
            drawings: dir.join("drawings.parquet"),
            run: dir.join("run"),
            embeddings: dir.join("embeddings.parquet"),
            reconstructions: dir.join("reconstructions.parquet"),
            interpolations: dir.join("interpolations.parquet"),
            clusters: dir.join("clusters.parquet"),
        };
        ingest::write_synthetic(&p.ndjson, faces, 7).unwrap();
        let mut text = std::fs::read_to_string(&p.ndjson).unwrap();
        text.push_str(&edge_lines());
        std::fs::write(&p.ndjson, text).unwrap();
        ingest::ingest(
            std::slice::from_ref(&p.ndjson),
            &p.drawings,
            &ingest::IngestConfig {
                valid_fraction: 0.2,
                test_fraction: 0.1,
                // the edge drawings include one of 10,000 points
                max_points: 0,
                ..Default::default()
            },
            &(),
        )
        .unwrap();

        let table = tables::drawings::read(&p.drawings).unwrap();
        let (mut train, mut valid) = (Vec::new(), Vec::new());
        for r in &table.rows {
            match r.split {
                Split::Train => train.push(r.drawing.clone()),
                Split::Valid => valid.push(r.drawing.clone()),
                Split::Test => {}
            }
        }
        let cfg = seqae::TrainConfig {
            max_steps: 3,
            checkpoint_every: 0,
            model: tiny_model(),
            optimiser: seqae::Optimiser {
                batch_size: 16,
                ..Default::default()
            },
            ..Default::default()
        };
        let data = seqae::TrainData {
            train: &train,
            valid: &valid,
            path: p.drawings.display().to_string(),
            rows: table.rows.len(),
        };
        let opts = seqae::TrainOptions {
            run_dir: &p.run,
            device: Device::Cpu,
            resume: false,
            stop: None,
            lstm: seqae::LstmImpl::Auto,
        };
        let summary = seqae::train(&cfg, &data, &opts, &mut |_| {}).unwrap();
        let log: Vec<tables::train_log::TrainLogRow> = summary
            .log
            .iter()
            .map(|r| tables::train_log::TrainLogRow {
                step: r.step as i64,
                epoch: r.epoch as i32,
                train_loss: r.train_loss as f64,
                valid_loss: r.valid_loss.map(f64::from),
                learning_rate: r.learning_rate,
                elapsed_s: r.elapsed_s,
            })
            .collect();
        tables::train_log::write(&p.run.join("train_log.parquet"), &log).unwrap();

        let ecfg = embed::EmbedConfig {
            batch_size: 64,
            reconstructions: 4,
            interpolations: 2,
            interpolation_steps: 3,
            ..Default::default()
        };
        embed::embed(
            &p.run,
            &p.drawings,
            &embed::Outputs::beside(&p.embeddings),
            &ecfg,
            &|_, _| {},
        )
        .unwrap();

        // a model of three steps decodes empty drawings, which evaluate rightly refuses:
        // the reconstructions table holds copies of some held-out drawings instead
        let recs: Vec<tables::sequences::Reconstruction> = table
            .rows
            .iter()
            .filter(|r| r.split != Split::Train)
            .take(6)
            .map(|r| tables::sequences::Reconstruction {
                key_id: r.key_id.clone(),
                drawing: r.drawing.clone(),
            })
            .collect();
        tables::sequences::write_reconstructions(&p.reconstructions, &recs, &vec![]).unwrap();

        let emb = tables::embeddings::read(&p.embeddings).unwrap();
        let rows: Vec<tables::clusters::ClusterRow> = emb
            .key_ids
            .iter()
            .enumerate()
            .map(|(i, k)| tables::clusters::ClusterRow {
                key_id: k.clone(),
                cluster: (i % 3) as i32,
                strength: Some(1.0),
                outlier_score: Some(0.0),
                xy: Some((emb.row(i)[0], emb.row(i)[1])),
            })
            .collect();
        tables::clusters::write(&p.clusters, &rows, &vec![]).unwrap();
        p
    }
}

static SHARED: std::sync::OnceLock<Pipeline> = std::sync::OnceLock::new();

impl Pipeline {
    /// One [`Pipeline`] per test binary, built on first use in `dir` (emptied first): pass
    /// `Path::new(env!("CARGO_TARGET_TMPDIR")).join("<crate>-fixture")`. Tests write their
    /// outputs elsewhere and only read these files.
    pub fn shared(dir: PathBuf) -> &'static Pipeline {
        SHARED.get_or_init(|| {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Pipeline::build(&dir, 60)
        })
    }
}
