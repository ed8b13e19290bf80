//! k-means: Lloyd's iterations from k-means++ seeds, the best of several seeded starts.
//!
//! Density clustering finds groups only where the points are denser than around them. Drawings
//! made of independent parts (any eyes with any mouth) fill their space evenly, with no such
//! regions, and HDBSCAN rightly calls them noise; a partition into `k` groups of near vectors
//! still puts the faces with the same eyes and mouth together. Written here rather than taken
//! from linfa, whose ndarray stack this crate would carry for one small algorithm.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{ClusterError, Result};
use crate::matrix::{sq_dist, Matrix};

/// Iterations of one start, at most (they stop earlier once no point changes cluster).
const MAX_ITERATIONS: usize = 300;

/// Result of [`kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KMeans {
    /// Per point, its cluster in `0..k`.
    pub labels: Vec<i32>,
    /// Per point, its distance to its cluster's centre.
    pub distance: Vec<f32>,
    /// Sum of squared distances to the centres (the objective), of the best start.
    pub inertia: f64,
}

/// Partitions the rows of `x` into `k` clusters; the best (lowest inertia) of `restarts` starts,
/// each seeded from `seed`, so the same input and seed give the same labels.
pub(crate) fn kmeans(x: &Matrix, k: usize, restarts: usize, seed: u64) -> Result<KMeans> {
    x.require_rows()?;
    let n = x.n_rows();
    if k == 0 || k > n {
        return Err(ClusterError::Param {
            name: "k",
            reason: format!("must be between 1 and the number of points ({n}), not {k}"),
        });
    }
    let mut best: Option<KMeans> = None;
    for start in 0..restarts.max(1) as u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ start.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let run = lloyd(x, plus_plus(x, k, &mut rng), &mut rng);
        if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
            best = Some(run);
        }
    }
    Ok(best.expect("at least one start"))
}

/// k-means++ seeding: each next centre is a point drawn with chance proportional to its
/// squared distance to the nearest centre so far.
fn plus_plus(x: &Matrix, k: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let (n, dim) = (x.n_rows(), x.dim());
    let mut centres = Vec::with_capacity(k * dim);
    centres.extend_from_slice(x.row(rng.random_range(0..n)));
    let mut nearest: Vec<f32> = x.rows().map(|r| sq_dist(r, &centres[..dim])).collect();
    for _ in 1..k {
        let total: f64 = nearest.iter().map(|&d| d as f64).sum();
        let pick = if total > 0.0 {
            let mut u = rng.random_range(0.0..total);
            nearest
                .iter()
                .position(|&d| {
                    u -= d as f64;
                    u < 0.0
                })
                .unwrap_or(n - 1)
        } else {
            // every point sits on a centre already: any point will do
            rng.random_range(0..n)
        };
        let c = x.row(pick).to_vec();
        nearest
            .par_iter_mut()
            .zip(x.as_slice().par_chunks_exact(dim))
            .for_each(|(d, r)| *d = d.min(sq_dist(r, &c)));
        centres.extend_from_slice(&c);
    }
    centres
}

/// Lloyd's iterations from the given centres (`k × dim`, row-major).
fn lloyd(x: &Matrix, mut centres: Vec<f32>, rng: &mut ChaCha8Rng) -> KMeans {
    let (n, dim) = (x.n_rows(), x.dim());
    let k = centres.len() / dim;
    let mut labels = vec![usize::MAX; n];
    let mut dist = vec![0f32; n];
    for _ in 0..MAX_ITERATIONS {
        let changed = labels
            .par_iter_mut()
            .zip(dist.par_iter_mut())
            .zip(x.as_slice().par_chunks_exact(dim))
            .map(|((l, d), r)| {
                let (j, dj) = nearest_centre(r, &centres, dim);
                *d = dj;
                let moved = *l != j;
                *l = j;
                usize::from(moved)
            })
            .sum::<usize>();
        if changed == 0 {
            break;
        }
        let mut sums = vec![0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (r, &l) in x.rows().zip(&labels) {
            counts[l] += 1;
            for (s, &v) in sums[l * dim..(l + 1) * dim].iter_mut().zip(r) {
                *s += v as f64;
            }
        }
        for j in 0..k {
            let c = &mut centres[j * dim..(j + 1) * dim];
            if counts[j] == 0 {
                // an empty cluster restarts at the point farthest from its centre (ties: a
                // random one of them), which then moves there on the next assignment
                let far = dist.iter().copied().fold(0f32, f32::max);
                let candidates: Vec<usize> = (0..n).filter(|&i| dist[i] == far).collect();
                let i = candidates[rng.random_range(0..candidates.len())];
                c.copy_from_slice(x.row(i));
                dist[i] = 0.0;
            } else {
                for (c, s) in c.iter_mut().zip(&sums[j * dim..(j + 1) * dim]) {
                    *c = (s / counts[j] as f64) as f32;
                }
            }
        }
    }
    let inertia = dist.iter().map(|&d| d as f64).sum();
    KMeans {
        labels: labels.iter().map(|&l| l as i32).collect(),
        distance: dist.iter().map(|d| d.sqrt()).collect(),
        inertia,
    }
}

/// The nearest centre to `r` and its squared distance (ties: the lower index).
fn nearest_centre(r: &[f32], centres: &[f32], dim: usize) -> (usize, f32) {
    centres
        .chunks_exact(dim)
        .enumerate()
        .map(|(j, c)| (j, sq_dist(r, c)))
        .fold((0, f32::INFINITY), |best, cur| {
            if cur.1 < best.1 {
                cur
            } else {
                best
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::adjusted_rand_index;

    /// `per` points around each of `centres`, spread by `spread`.
    fn blobs(centres: &[[f32; 2]], per: usize, spread: f32, seed: u64) -> (Matrix, Vec<i32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut data = Vec::new();
        let mut truth = Vec::new();
        for (j, c) in centres.iter().enumerate() {
            for _ in 0..per {
                data.push(c[0] + rng.random_range(-spread..spread));
                data.push(c[1] + rng.random_range(-spread..spread));
                truth.push(j as i32);
            }
        }
        (Matrix::new(data, 2).unwrap(), truth)
    }

    #[test]
    fn finds_separated_blobs_exactly() {
        let (x, truth) = blobs(&[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]], 50, 1.0, 1);
        let km = kmeans(&x, 4, 4, 0).unwrap();
        assert_eq!(adjusted_rand_index(&km.labels, &truth).unwrap(), 1.0);
        // each point's distance is to its own centre, within the blob's spread
        assert!(km.distance.iter().all(|&d| d < 1.5));
        let sq: f64 = km.distance.iter().map(|&d| (d as f64).powi(2)).sum();
        assert!((sq - km.inertia).abs() < 1e-3 * km.inertia.max(1.0));
    }

    #[test]
    fn the_same_seed_gives_the_same_labels_and_more_starts_never_do_worse() {
        let (x, _) = blobs(&[[0.0, 0.0], [3.0, 0.0], [1.5, 2.5]], 40, 2.0, 2);
        let a = kmeans(&x, 5, 1, 7).unwrap();
        assert_eq!(a, kmeans(&x, 5, 1, 7).unwrap());
        // the first of the eight starts is the single start's
        let b = kmeans(&x, 5, 8, 7).unwrap();
        assert!(b.inertia <= a.inertia);
    }

    #[test]
    fn k_must_fit_the_points_and_duplicates_do_not_break_seeding() {
        let x = Matrix::new(vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 2).unwrap();
        assert!(matches!(kmeans(&x, 0, 1, 0), Err(ClusterError::Param { name: "k", .. })));
        assert!(matches!(kmeans(&x, 4, 1, 0), Err(ClusterError::Param { name: "k", .. })));
        // three identical points in two clusters: no NaN, every label in range
        let km = kmeans(&x, 2, 2, 0).unwrap();
        assert!(km.labels.iter().all(|&l| (0..2).contains(&l)));
        assert_eq!(km.inertia, 0.0);
    }
}
