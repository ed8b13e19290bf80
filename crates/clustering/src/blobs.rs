//! Labelled synthetic data (Gaussian blobs plus uniform noise) for tests and benchmarks.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::matrix::Matrix;

/// Shape of a synthetic data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlobSpec {
    pub n_points: usize,
    pub dim: usize,
    pub n_blobs: usize,
    /// Share of points drawn uniformly over the box instead of from a blob.
    pub noise_share: f64,
    /// Centres are uniform in `[-box_half, box_half]^dim`; noise in 1.5 times that box.
    pub box_half: f32,
    /// Standard deviation of every blob along every axis.
    pub sigma: f32,
    pub seed: u64,
}

impl Default for BlobSpec {
    /// Well-separated blobs: in 50-d, centres ~57 apart against blob diameters of ~10.
    fn default() -> Self {
        BlobSpec {
            n_points: 10_000,
            dim: 50,
            n_blobs: 8,
            noise_share: 0.05,
            box_half: 10.0,
            sigma: 1.0,
            seed: 7,
        }
    }
}

/// Points and their true labels (blob index, −1 for noise), in a shuffled order.
pub fn gaussian_blobs(spec: &BlobSpec) -> (Matrix, Vec<i32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let d = spec.dim.max(1);
    let k = spec.n_blobs.max(1);
    let centres: Vec<Vec<f32>> = (0..k)
        .map(|_| {
            (0..d)
                .map(|_| rng.random_range(-spec.box_half..=spec.box_half))
                .collect()
        })
        .collect();
    let normal = Normal::new(0.0f32, spec.sigma.max(0.0)).expect("finite sigma");
    let noise_half = 1.5 * spec.box_half;
    let mut data = Vec::with_capacity(spec.n_points * d);
    let mut labels = Vec::with_capacity(spec.n_points);
    for _ in 0..spec.n_points {
        if rng.random_bool(spec.noise_share.clamp(0.0, 1.0)) {
            data.extend((0..d).map(|_| rng.random_range(-noise_half..=noise_half)));
            labels.push(-1);
        } else {
            let b = rng.random_range(0..k);
            data.extend(centres[b].iter().map(|c| c + normal.sample(&mut rng)));
            labels.push(b as i32);
        }
    }
    (Matrix::from_parts(data, d), labels)
}
