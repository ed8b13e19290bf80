//! End-to-end tests of `cluster` on synthetic blobs.

use super::*;
use crate::blobs::{gaussian_blobs, BlobSpec};

/// HDBSCAN as these tests were written for: every point's density from `min_cluster_size`
/// neighbours (the `[cluster]` default is k-means).
pub(crate) fn hdbscan() -> ClusterParams {
    ClusterParams {
        algorithm: Algorithm::Hdbscan,
        min_cluster_size: 25,
        min_samples: 0,
        ..ClusterParams::default()
    }
}

fn blobs(n: usize, dim: usize, k: usize, noise: f64, seed: u64) -> (Matrix, Vec<i32>) {
    gaussian_blobs(&BlobSpec {
        n_points: n,
        dim,
        n_blobs: k,
        noise_share: noise,
        seed,
        ..BlobSpec::default()
    })
}

/// ARI over the blob points only (noise truth excluded), and the share of true noise labelled −1.
fn scores(labels: &[i32], truth: &[i32]) -> (f64, f64) {
    let (l, t): (Vec<i32>, Vec<i32>) = labels
        .iter()
        .zip(truth)
        .filter(|(_, t)| **t >= 0)
        .map(|(a, b)| (*a, *b))
        .unzip();
    let noise: Vec<i32> = labels
        .iter()
        .zip(truth)
        .filter(|(_, t)| **t < 0)
        .map(|(l, _)| *l)
        .collect();
    let noise_found = noise.iter().filter(|l| **l < 0).count() as f64 / noise.len().max(1) as f64;
    (adjusted_rand_index(&l, &t).unwrap(), noise_found)
}

#[test]
fn exact_hdbscan_recovers_blobs_and_marks_noise() {
    // 20-d: in fewer dimensions some uniform points sit close enough to a blob that HDBSCAN
    // rightly absorbs them (their core distance is below the blobs' separation).
    let (m, truth) = blobs(1500, 20, 4, 0.05, 1);
    let p = ClusterParams {
        min_cluster_size: 15,
        ..hdbscan()
    };
    let c = cluster(&m, &p).unwrap();
    assert_eq!(c.method, Method::ExactHdbscan);
    assert_eq!(c.summary().n_clusters, 4);
    let (ari, noise_found) = scores(&c.labels, &truth);
    assert!(ari > 0.99, "ARI {ari}");
    assert!(noise_found > 0.9, "noise found {noise_found}");
    // Sizes descend, strength is 0 on noise, within (0, 1] on members, 1 at the densest.
    let s = c.summary();
    assert!(s.sizes.windows(2).all(|w| w[0] >= w[1]));
    for (l, st) in c.labels.iter().zip(&c.strength) {
        if *l < 0 {
            assert_eq!(*st, 0.0);
        } else {
            assert!(*st > 0.0 && *st <= 1.0);
        }
    }
    assert!(c.strength.contains(&1.0));
    // True noise is more outlying than blob points on average.
    let mean = |keep: &dyn Fn(i32) -> bool| {
        let v: Vec<f32> = c
            .outlier
            .iter()
            .zip(&truth)
            .filter(|(_, t)| keep(**t))
            .map(|(o, _)| *o)
            .collect();
        v.iter().sum::<f32>() / v.len() as f32
    };
    let (noise_o, blob_o) = (mean(&|t| t < 0), mean(&|t| t >= 0));
    assert!(noise_o > blob_o + 0.3, "noise {noise_o} vs blobs {blob_o}");
    assert!(c.outlier.iter().all(|o| (0.0..=1.0).contains(o)));
}

#[test]
fn uniform_noise_is_noise() {
    let (m, truth) = blobs(800, 20, 1, 1.0, 2);
    assert!(truth.iter().all(|t| *t < 0));
    let c = cluster(&m, &hdbscan()).unwrap();
    let share = c.summary().noise_share;
    assert!(share > 0.95, "noise share {share}");
}

#[test]
fn sampled_path_agrees_with_exact() {
    let (m, truth) = blobs(6000, 20, 6, 0.05, 3);
    let exact = cluster(&m, &hdbscan()).unwrap();
    let p = ClusterParams {
        exact_max_points: 1000,
        sample_size: 1500,
        ..hdbscan()
    };
    let sampled = cluster(&m, &p).unwrap();
    match sampled.method {
        Method::SampledHdbscan(run) => {
            assert_eq!(run.sample_size, 1500);
            assert_eq!(run.min_cluster_size, 6, "25 scaled by 1500/6000, rounded");
        }
        ref other => panic!("expected the sampled path, got {other:?}"),
    }
    let agree = adjusted_rand_index(&exact.labels, &sampled.labels).unwrap();
    assert!(agree > 0.95, "exact vs sampled ARI {agree}");
    let (ari, noise_found) = scores(&sampled.labels, &truth);
    assert!(ari > 0.99, "ARI {ari}");
    assert!(noise_found > 0.9, "noise found {noise_found}");
    // Same seed, same answer.
    assert_eq!(cluster(&m, &p).unwrap().labels, sampled.labels);
}

#[test]
fn dbscan_option_recovers_blobs() {
    let (m, truth) = blobs(1000, 5, 3, 0.0, 4);
    let p = ClusterParams {
        algorithm: Algorithm::Dbscan,
        eps: 3.0,
        min_samples: 5,
        ..hdbscan()
    };
    let c = cluster(&m, &p).unwrap();
    assert_eq!(c.method, Method::Dbscan);
    let (ari, _) = scores(&c.labels, &truth);
    assert!(ari > 0.99, "ARI {ari}");
}

#[test]
fn cosine_and_reductions_run() {
    let (m, truth) = blobs(1200, 30, 4, 0.0, 5);
    let p = ClusterParams {
        metric: Metric::Cosine,
        standardise: true,
        pca_dims: 8,
        min_cluster_size: 15,
        ..hdbscan()
    };
    let c = cluster(&m, &p).unwrap();
    let kept = c.pca_kept_variance.unwrap();
    assert!(kept > 0.5 && kept <= 1.0 + 1e-9, "{kept}");
    let (ari, _) = scores(&c.labels, &truth);
    assert!(ari > 0.95, "ARI {ari}");
    let xy = map_2d(&m, &p).unwrap();
    assert_eq!((xy.n_rows(), xy.dim()), (1200, 2));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let empty = Matrix::new(Vec::new(), 3).unwrap();
    assert_eq!(cluster(&empty, &hdbscan()), Err(ClusterError::Empty));
    let m = Matrix::from_rows(&[[0.0f32, 1.0], [1.0, 0.0]]).unwrap();
    let bad = ClusterParams {
        min_cluster_size: 1,
        ..hdbscan()
    };
    assert!(matches!(
        cluster(&m, &bad),
        Err(ClusterError::Param {
            name: "min_cluster_size",
            ..
        })
    ));
    let bad = ClusterParams {
        pca_dims: 5,
        ..hdbscan()
    };
    assert!(matches!(
        cluster(&m, &bad),
        Err(ClusterError::Param {
            name: "pca_dims",
            ..
        })
    ));
    let bad = ClusterParams {
        algorithm: Algorithm::Dbscan,
        eps: -1.0,
        ..hdbscan()
    };
    assert!(cluster(&m, &bad).is_err());
}

#[test]
fn tiny_and_degenerate_inputs() {
    // Fewer points than min_cluster_size: all noise, no panic.
    let m = Matrix::from_rows(&[[0.0f32, 1.0], [1.0, 0.0], [3.0, 3.0]]).unwrap();
    let c = cluster(&m, &hdbscan()).unwrap();
    assert_eq!(c.labels, vec![-1; 3]);
    // One point.
    let one = Matrix::from_rows(&[[1.0f32]]).unwrap();
    assert_eq!(cluster(&one, &hdbscan()).unwrap().labels, vec![-1]);
    // Many identical points next to a separate group.
    let mut rows = vec![[5.0f32, 5.0]; 40];
    rows.extend((0..40).map(|i| [-5.0 + (i % 7) as f32 * 0.01, -5.0 + (i / 7) as f32 * 0.01]));
    let m = Matrix::from_rows(&rows).unwrap();
    let p = ClusterParams {
        min_cluster_size: 10,
        ..hdbscan()
    };
    let c = cluster(&m, &p).unwrap();
    assert!(c
        .strength
        .iter()
        .all(|s| s.is_finite() && (0.0..=1.0).contains(s)));
    let truth: Vec<i32> = (0..80).map(|i| i / 40).collect();
    assert_eq!(adjusted_rand_index(&c.labels, &truth).unwrap(), 1.0);
}

#[test]
fn params_deserialise_from_toml_shape() {
    // The binary reads `[cluster]` through serde; unknown keys must be rejected.
    let p: ClusterParams = serde_json::from_str(r#"{"algorithm":"dbscan","eps":0.3}"#).unwrap();
    assert_eq!(p.algorithm, Algorithm::Dbscan);
    assert_eq!(p.min_cluster_size, 40);
    assert!(serde_json::from_str::<ClusterParams>(r#"{"min_clustr_size":3}"#).is_err());
}

#[test]
fn relabel_orders_by_size() {
    assert_eq!(
        relabel_by_size(&[7, 3, 3, -1, 7, 3, 9]),
        vec![1, 0, 0, -1, 1, 0, 2]
    );
}

#[test]
fn spread_puts_each_row_back_and_the_rest_is_noise() {
    let m = Matrix::new(vec![0.0, 0.1, 5.0, 5.1], 1).unwrap();
    let p = ClusterParams {
        algorithm: Algorithm::Kmeans,
        k: 2,
        ..hdbscan()
    };
    let c = cluster(&m, &p).unwrap();
    // the four clustered rows are rows 1, 2, 4 and 6 of seven
    let all = c.spread(&[1, 2, 4, 6], 7);
    assert_eq!(all.labels.len(), 7);
    for (r, &i) in [1usize, 2, 4, 6].iter().enumerate() {
        assert_eq!(all.labels[i], c.labels[r]);
        assert_eq!(all.strength[i], c.strength[r]);
        assert_eq!(all.outlier[i], c.outlier[r]);
    }
    for i in [0, 3, 5] {
        assert_eq!(
            (all.labels[i], all.strength[i], all.outlier[i]),
            (-1, 0.0, 1.0)
        );
    }
    assert_eq!(all.summary().noise, 3);
    assert_eq!(all.method, c.method);
}
