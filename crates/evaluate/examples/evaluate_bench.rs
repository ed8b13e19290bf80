//! Times the evaluate stage on generated inputs: N synthetic faces (default 10,000), 50-d
//! embeddings that know two of the five factors plus noise, clusters, and reconstructions
//! (jittered copies of 1,000 drawings). Prints the step timings and the table.
//!
//! `cargo run --release -p evaluate --example evaluate_bench -- [N] [DIM]`

use std::time::Instant;

use clustering::ClusterParams;
use evaluate::{EvaluateConfig, Inputs};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tables::clusters::ClusterRow;
use tables::embeddings::EmbeddingTable;
use tables::sequences::Reconstruction;

#[path = "../tests/common/faces.rs"]
mod faces;

fn main() {
    stage::init();
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let dim: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir().expect("temp dir");
    let t = Instant::now();
    let dpath = dir.path().join("drawings.parquet");
    let rows = faces::write_faces(&dpath, 77, n);
    let level = |i: usize, f: usize| {
        let l = rows[i].labels[f].as_deref().expect("label");
        synth::LEVELS[f]
            .iter()
            .position(|x| *x == l)
            .expect("level")
    };
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut values = Vec::with_capacity(rows.len() * dim);
    for i in 0..rows.len() {
        let mut v: Vec<f32> = (0..dim).map(|_| rng.random::<f32>()).collect();
        v[level(i, 0)] += 1.0;
        v[4 + level(i, 2)] += 0.5;
        values.extend(v);
    }
    let epath = dir.path().join("embeddings.parquet");
    tables::embeddings::write(
        &epath,
        &EmbeddingTable {
            key_ids: rows.iter().map(|r| r.key_id.clone()).collect(),
            splits: rows.iter().map(|r| r.split).collect(),
            dim,
            values,
            labels: vec![],
            parts: Vec::new(),
            metadata: vec![],
        },
    )
    .expect("embeddings");
    let cpath = dir.path().join("clusters.parquet");
    let crow: Vec<ClusterRow> = (0..rows.len())
        .map(|i| ClusterRow {
            key_id: rows[i].key_id.clone(),
            cluster: if i % 10 == 0 { -1 } else { level(i, 0) as i32 },
            strength: None,
            outlier_score: None,
            xy: Some((0.0, 0.0)),
        })
        .collect();
    tables::clusters::write(&cpath, &crow, &vec![]).expect("clusters");
    let rpath = dir.path().join("reconstructions.parquet");
    let recs: Vec<Reconstruction> = rows
        .iter()
        .take(1000)
        .map(|r| {
            let mut d = r.drawing.clone();
            d.dx.iter_mut()
                .for_each(|v| *v += rng.random::<f32>() * 6.0 - 3.0);
            Reconstruction {
                key_id: r.key_id.clone(),
                drawing: d,
            }
        })
        .collect();
    tables::sequences::write_reconstructions(&rpath, &recs, &vec![]).expect("recs");
    println!(
        "inputs: {n} drawings, {dim}-d, written in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let inputs = Inputs {
        drawings: vec![dpath],
        embeddings: Some(epath),
        clusters: Some(cpath),
        reconstructions: Some(rpath),
    };
    let params = ClusterParams {
        min_cluster_size: 40,
        min_samples: 10,
        pca_dims: 16,
        ..Default::default()
    };
    let t = Instant::now();
    let e = evaluate::evaluate(&inputs, &EvaluateConfig::default(), &params, &|_| {})
        .expect("evaluate");
    print!("{}", e.table());
    println!("{}", e.summary);
    println!(
        "seconds: read {:.2}, baseline rasters+PCA {:.2}, baseline clustering {:.2}, kNN {:.2}, chamfer {:.2}; total {:.2} (wall {:.2})",
        e.seconds.read,
        e.seconds.baseline_features,
        e.seconds.baseline_clustering,
        e.seconds.knn,
        e.seconds.chamfer,
        e.seconds.total,
        t.elapsed().as_secs_f64()
    );
}
