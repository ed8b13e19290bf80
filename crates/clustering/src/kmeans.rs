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
/// Convergence: the centres' summed squared shift in an iteration at most this share of the
/// data's mean per-column variance (scikit-learn's `tol`).
const TOLERANCE: f64 = 1e-4;

/// The mean over the columns of each column's variance.
fn mean_variance(x: &Matrix) -> f64 {
    let (n, dim) = (x.n_rows() as f64, x.dim());
    let mut sum = vec![0f64; dim];
    let mut sq = vec![0f64; dim];
    for r in x.rows() {
        for ((s, q), &v) in sum.iter_mut().zip(&mut sq).zip(r) {
            *s += f64::from(v);
            *q += f64::from(v) * f64::from(v);
        }
    }
    sum.iter()
        .zip(&sq)
        .map(|(s, q)| (q / n - (s / n).powi(2)).max(0.0))
        .sum::<f64>()
        / dim as f64
}

/// Result of [`kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KMeans {
    /// Per point, its cluster in `0..k`.
    pub labels: Vec<i32>,
    /// Per point, its distance to its cluster's centre.
    pub distance: Vec<f32>,
    /// Per point, its distance to the nearest other centre (infinite when k is 1).
    pub second: Vec<f32>,
    /// Sum of squared distances to the centres (the objective), of the best start.
    pub inertia: f64,
    /// The centres, `k × dim` row-major; centre `j` is cluster `j`'s.
    pub centres: Vec<f32>,
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
    let tolerance = TOLERANCE * mean_variance(x);
    let norms: Vec<f32> = x
        .as_slice()
        .par_chunks_exact(dim)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    let assign = |centres: &[f32], labels: &mut [usize], dist: &mut [f32]| {
        let nearest = nearest_centres(x.as_slice(), &norms, centres, dim);
        labels
            .par_iter_mut()
            .zip(dist.par_iter_mut())
            .zip(nearest)
            .map(|((l, d), (j, dj))| {
                *d = dj;
                let moved = *l != j;
                *l = j;
                usize::from(moved)
            })
            .sum::<usize>()
    };
    for iteration in 0..MAX_ITERATIONS {
        tracing::trace!(iteration, "k-means");
        let changed = assign(&centres, &mut labels, &mut dist);
        if changed == 0 {
            break;
        }
        let before = centres.clone();
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
        // scikit-learn's rule: stop once the centres barely move (on 160k faces the last
        // hundreds of iterations each moved a handful of border points); one more assignment
        // so every label is its nearest final centre
        let shift: f64 = centres
            .iter()
            .zip(&before)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum();
        if shift <= tolerance {
            assign(&centres, &mut labels, &mut dist);
            break;
        }
    }
    let inertia = dist.iter().map(|&d| d as f64).sum();
    let second = labels
        .par_iter()
        .zip(x.as_slice().par_chunks_exact(dim))
        .map(|(&l, r)| {
            centres
                .chunks_exact(dim)
                .enumerate()
                .filter(|&(j, _)| j != l)
                .map(|(_, c)| sq_dist(r, c))
                .fold(f32::INFINITY, f32::min)
                .sqrt()
        })
        .collect();
    KMeans {
        labels: labels.iter().map(|&l| l as i32).collect(),
        distance: dist.iter().map(|d| d.sqrt()).collect(),
        second,
        inertia,
        centres,
    }
}

impl KMeans {
    /// Per point, how firmly it belongs to its cluster: 1 − d₁/d₂, with d₁ its distance to its
    /// own centre and d₂ to the nearest other one (1 at the centre, 0 on the border).
    pub fn strength(&self) -> Vec<f32> {
        self.distance
            .iter()
            .zip(&self.second)
            .map(|(&d1, &d2)| {
                if d2.is_finite() && d2 > 0.0 {
                    (1.0 - d1 / d2).clamp(0.0, 1.0)
                } else {
                    1.0
                }
            })
            .collect()
    }

    /// Per point, how much of an outlier it is within its cluster, GLOSH-like: 1 − m/d₁, with
    /// m the median distance to the centre in its cluster, 0 for points nearer than that.
    pub fn outlier(&self) -> Vec<f32> {
        let k = self
            .labels
            .iter()
            .map(|&l| l as usize + 1)
            .max()
            .unwrap_or(0);
        let mut per: Vec<Vec<f32>> = vec![Vec::new(); k];
        for (&l, &d) in self.labels.iter().zip(&self.distance) {
            per[l as usize].push(d);
        }
        let median: Vec<f32> = per
            .iter_mut()
            .map(|v| {
                if v.is_empty() {
                    return 0.0;
                }
                let mid = v.len() / 2;
                *v.select_nth_unstable_by(mid, f32::total_cmp).1
            })
            .collect();
        self.labels
            .iter()
            .zip(&self.distance)
            .map(|(&l, &d)| {
                let m = median[l as usize];
                if d > m && d > 0.0 {
                    1.0 - m / d
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// The nearest centre to `r` and its squared distance (ties: the lower index).
/// Rows per block of [`nearest_centres`]' products.
const ASSIGN_BLOCK: usize = 256;

/// Each row's nearest centre and its squared distance. The candidates come from one matrix
/// product per block of rows (`|r − c|² = |r|² + |c|² − 2 r·c`, many times faster than a
/// distance loop over 128 dimensions); where the two best are closer than the product's
/// rounding, they are compared exactly (ties: the lower index), so rounding cannot pick a
/// farther centre.
fn nearest_centres(x: &[f32], norms: &[f32], centres: &[f32], dim: usize) -> Vec<(usize, f32)> {
    let k = centres.len() / dim;
    if k < 3 {
        return x
            .par_chunks_exact(dim)
            .map(|r| nearest_centre(r, centres, dim))
            .collect();
    }
    let cn: Vec<f32> = centres
        .chunks_exact(dim)
        .map(|c| c.iter().map(|v| v * v).sum())
        .collect();
    x.par_chunks(ASSIGN_BLOCK * dim)
        .zip(norms.par_chunks(ASSIGN_BLOCK))
        .flat_map_iter(|(rows, rn)| {
            let m = rn.len();
            let mut dots = vec![0f32; m * k];
            // the two nearest by the product, ascending
            let (mut best_d, mut best_i) = (vec![f32::INFINITY; m * 2], vec![usize::MAX; m * 2]);
            crate::nearest::offer_block(
                rows,
                rn,
                centres,
                &cn,
                dim,
                0,
                &mut dots,
                &mut best_d,
                &mut best_i,
            );
            (0..m)
                .map(|i| {
                    let b1 = (best_i[2 * i], best_d[2 * i]);
                    let b2 = (best_i[2 * i + 1], best_d[2 * i + 1]);
                    // the product's rounding is about 1e-6 of the norms: only a closer call
                    // than that needs the exact distances
                    if b2.1 - b1.1 > 1e-4 * (rn[i] + cn[b1.0] + cn[b2.0]) {
                        return (b1.0, b1.1.max(0.0));
                    }
                    let r = &rows[i * dim..(i + 1) * dim];
                    let e1 = sq_dist(r, &centres[b1.0 * dim..(b1.0 + 1) * dim]);
                    let e2 = sq_dist(r, &centres[b2.0 * dim..(b2.0 + 1) * dim]);
                    if e2 < e1 || (e2 == e1 && b2.0 < b1.0) {
                        (b2.0, e2)
                    } else {
                        (b1.0, e1)
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn nearest_centre(r: &[f32], centres: &[f32], dim: usize) -> (usize, f32) {
    centres
        .chunks_exact(dim)
        .enumerate()
        .map(|(j, c)| (j, sq_dist(r, c)))
        .fold(
            (0, f32::INFINITY),
            |best, cur| {
                if cur.1 < best.1 {
                    cur
                } else {
                    best
                }
            },
        )
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
        let (x, truth) = blobs(
            &[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]],
            50,
            1.0,
            1,
        );
        let km = kmeans(&x, 4, 4, 0).unwrap();
        assert_eq!(adjusted_rand_index(&km.labels, &truth).unwrap(), 1.0);
        // each point's distance is to its own centre, within the blob's spread
        assert!(km.distance.iter().all(|&d| d < 1.5));
        let sq: f64 = km.distance.iter().map(|&d| (d as f64).powi(2)).sum();
        assert!((sq - km.inertia).abs() < 1e-3 * km.inertia.max(1.0));
    }

    #[test]
    fn stopped_early_every_label_is_still_its_nearest_centre() {
        // overlapping blobs: many iterations move a few border points; the tolerance stops them
        let (x, _) = blobs(&[[0.0, 0.0], [2.0, 0.0], [1.0, 1.5]], 400, 1.2, 5);
        let km = kmeans(&x, 3, 2, 0).unwrap();
        assert!(km.distance.iter().zip(&km.second).all(|(d, s)| d <= s));
        let sq: f64 = km.distance.iter().map(|&d| (d as f64).powi(2)).sum();
        assert!((sq - km.inertia).abs() < 1e-3 * km.inertia.max(1.0));
    }

    #[test]
    fn strength_and_outlier_scores_follow_the_geometry() {
        // two clusters on a line: {-1, 0, 1} around 0, {6, 9, 10, 11, 16} around 10.4
        let x = Matrix::new(vec![-1.0, 0.0, 1.0, 6.0, 9.0, 10.0, 11.0, 16.0], 1).unwrap();
        let km = kmeans(&x, 2, 4, 0).unwrap();
        let s = km.strength();
        let o = km.outlier();
        // the point at 0 sits on its centre (-1, 0, 1 average to 0): full strength
        assert!((s[1] - 1.0).abs() < 1e-6, "{s:?}");
        assert_eq!(km.labels[..3], [km.labels[0]; 3]);
        assert!(km.labels[3..].iter().all(|&l| l != km.labels[0]));
        // 6 is nearly halfway between the centres (1 − 4.4/6): weak
        assert!((s[3] - (1.0 - 4.4 / 6.0)).abs() < 1e-4, "{s:?}");
        // 16 is far from the rest of its cluster: the strongest outlier; points at the median
        // distance or nearer are not outliers
        let worst = (0..8).max_by(|&a, &b| o[a].total_cmp(&o[b])).unwrap();
        assert_eq!(worst, 7, "{o:?}");
        assert_eq!(o[1], 0.0);
        assert!(s.iter().chain(&o).all(|v| (0.0..=1.0).contains(v)));
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
        assert!(matches!(
            kmeans(&x, 0, 1, 0),
            Err(ClusterError::Param { name: "k", .. })
        ));
        assert!(matches!(
            kmeans(&x, 4, 1, 0),
            Err(ClusterError::Param { name: "k", .. })
        ));
        // three identical points in two clusters: no NaN, every label in range
        let km = kmeans(&x, 2, 2, 0).unwrap();
        assert!(km.labels.iter().all(|&l| (0..2).contains(&l)));
        assert_eq!(km.inertia, 0.0);
    }
}
