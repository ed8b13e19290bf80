//! The top eigenpairs of a wide covariance matrix by subspace iteration, for [`crate::reduce`]'s
//! PCA of wide rows (the evaluation baseline's rasters: 784 pixels, about a tenth inked), where
//! the full Jacobi eigendecomposition's `O(d³)` sweeps would dominate (see
//! [`crate::reduce::Eigensolver`] for the measurements). A block of `k` plus oversampled random
//! directions is multiplied by the covariance and re-orthonormalised until its Ritz values
//! settle; the small `k' × k'` Rayleigh–Ritz problem goes to
//! [`crate::reduce::symmetric_eigen`]. Beside it, the covariance of sparse rows summed over
//! their non-zero entries only.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::matrix::Matrix;
use crate::reduce::symmetric_eigen;

/// Rows per parallel task when summing the scatter matrix.
const CHUNK_ROWS: usize = 256;
/// Extra directions iterated beside the `k` wanted, at least this many and `k / 2` (faster,
/// surer convergence).
const OVERSAMPLE: usize = 10;
const MAX_ITERATIONS: usize = 300;
/// Stop when no top-`k` Ritz value moves by more than this share of the largest.
const TOLERANCE: f64 = 1e-7;

/// Sample covariance (`n − 1` denominator) of the rows of `m`, as a dense row-major `d × d`
/// matrix, and the column means. Work is proportional to the squared non-zeros per row: the
/// scatter is summed uncentred over each row's non-zero entries and centred at the end, which
/// costs precision when the means are large next to the spread, so it is used for sparse rows
/// (rasters) only.
pub(crate) fn sparse_covariance(m: &Matrix) -> (Vec<f64>, Vec<f64>) {
    let d = m.dim();
    let n = m.n_rows();
    let (scatter, sums) = m
        .as_slice()
        .par_chunks(CHUNK_ROWS * d)
        .map(|chunk| {
            let mut s = vec![0.0f64; d * d];
            let mut sum = vec![0.0f64; d];
            let mut nz: Vec<(usize, f64)> = Vec::with_capacity(d);
            for row in chunk.chunks_exact(d) {
                nz.clear();
                nz.extend(
                    row.iter()
                        .enumerate()
                        .filter(|(_, v)| **v != 0.0)
                        .map(|(i, v)| (i, f64::from(*v))),
                );
                for (a, &(i, vi)) in nz.iter().enumerate() {
                    sum[i] += vi;
                    let srow = &mut s[i * d..(i + 1) * d];
                    for &(j, vj) in &nz[a..] {
                        srow[j] += vi * vj;
                    }
                }
            }
            (s, sum)
        })
        .reduce(
            || (vec![0.0; d * d], vec![0.0; d]),
            |(mut s1, mut m1), (s2, m2)| {
                s1.iter_mut().zip(&s2).for_each(|(a, b)| *a += b);
                m1.iter_mut().zip(&m2).for_each(|(a, b)| *a += b);
                (s1, m1)
            },
        );
    let mean: Vec<f64> = sums.iter().map(|s| s / n.max(1) as f64).collect();
    let denom = n.saturating_sub(1).max(1) as f64;
    let mut cov = vec![0.0f64; d * d];
    for i in 0..d {
        for j in i..d {
            // the upper triangle holds every pair (nz is in ascending pixel order)
            let v = (scatter[i * d + j] - n as f64 * mean[i] * mean[j]) / denom;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    (cov, mean)
}

/// `C · Q` for the `d × d` matrix `c` and the column vectors `q` (each of length `d`).
fn multiply(c: &[f64], d: usize, q: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let w = q.len();
    // Q row-major (d × w), so that the inner loop runs over contiguous columns and vectorises.
    let mut qt = vec![0.0f64; d * w];
    for (b, col) in q.iter().enumerate() {
        for (j, &v) in col.iter().enumerate() {
            qt[j * w + b] = v;
        }
    }
    let mut out = vec![0.0f64; d * w];
    out.par_chunks_mut(w).enumerate().for_each(|(i, row)| {
        for (j, &cij) in c[i * d..(i + 1) * d].iter().enumerate() {
            if cij != 0.0 {
                for (o, &x) in row.iter_mut().zip(&qt[j * w..(j + 1) * w]) {
                    *o += cij * x;
                }
            }
        }
    });
    (0..w)
        .map(|b| (0..d).map(|i| out[i * w + b]).collect())
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Orthonormalises the vectors in place (modified Gram–Schmidt, twice for accuracy); a vector
/// that vanishes (rank-deficient data) is replaced by a fresh random direction.
fn orthonormalise(q: &mut [Vec<f64>], rng: &mut ChaCha8Rng) {
    for i in 0..q.len() {
        for attempt in 0..4 {
            for _pass in 0..2 {
                for j in 0..i {
                    let (done, rest) = q.split_at_mut(i);
                    let p = dot(&rest[0], &done[j]);
                    rest[0]
                        .iter_mut()
                        .zip(&done[j])
                        .for_each(|(x, y)| *x -= p * y);
                }
            }
            let norm = dot(&q[i], &q[i]).sqrt();
            if norm > 1e-10 || attempt == 3 {
                let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
                q[i].iter_mut().for_each(|x| *x *= inv);
                break;
            }
            q[i].iter_mut().for_each(|x| *x = rng.random::<f64>() - 0.5);
        }
    }
}

/// The top `k` eigenpairs of the symmetric PSD `d × d` matrix `c`, by decreasing value;
/// eigenvectors with their largest-magnitude entry positive (as [`symmetric_eigen`] does).
pub(crate) fn top_eigen(c: &[f64], d: usize, k: usize, seed: u64) -> (Vec<f64>, Vec<Vec<f64>>) {
    let k = k.min(d);
    let width = (k + OVERSAMPLE.max(k / 2)).min(d);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut q: Vec<Vec<f64>> = (0..width)
        .map(|_| (0..d).map(|_| rng.random::<f64>() - 0.5).collect())
        .collect();
    orthonormalise(&mut q, &mut rng);
    let ritz = |q: &[Vec<f64>], cq: &[Vec<f64>]| {
        let mut t = vec![0.0f64; width * width];
        for a in 0..width {
            for b in a..width {
                let v = dot(&q[a], &cq[b]);
                t[a * width + b] = v;
                t[b * width + a] = v;
            }
        }
        symmetric_eigen(&t, width)
    };
    let mut last: Vec<f64> = vec![f64::INFINITY; k];
    for it in 0..MAX_ITERATIONS {
        let cq = multiply(c, d, &q);
        if it % 5 == 4 || it + 1 == MAX_ITERATIONS {
            let e = ritz(&q, &cq);
            let scale = e.values[0].abs().max(f64::MIN_POSITIVE);
            let moved = e.values[..k]
                .iter()
                .zip(&last)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            last = e.values[..k].to_vec();
            if moved <= TOLERANCE * scale {
                tracing::debug!(iterations = it + 1, "subspace iteration converged");
                break;
            }
        }
        q = cq;
        orthonormalise(&mut q, &mut rng);
    }
    let cq = multiply(c, d, &q);
    let e = ritz(&q, &cq);
    let vectors = e.vectors[..k]
        .iter()
        .map(|w| {
            let mut v = vec![0.0f64; d];
            for (coef, col) in w.iter().zip(&q) {
                v.iter_mut().zip(col).for_each(|(x, y)| *x += coef * y);
            }
            let norm = dot(&v, &v).sqrt().max(f64::MIN_POSITIVE);
            let big = v
                .iter()
                .copied()
                .max_by(|x, y| x.abs().total_cmp(&y.abs()))
                .unwrap_or(1.0);
            let sign = if big < 0.0 { -1.0 } else { 1.0 };
            v.iter_mut().for_each(|x| *x *= sign / norm);
            v
        })
        .collect();
    let values = e.values[..k].iter().map(|v| v.max(0.0)).collect();
    (values, vectors)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Sparse-ish rows with a few strong directions, like rasters.
    pub(crate) fn data(n: usize, d: usize, seed: u64) -> Matrix {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut v = vec![0.0f32; n * d];
        for r in 0..n {
            let kind = r % 3;
            for c in 0..d {
                let p = if c % 3 == kind { 0.6 } else { 0.08 };
                if rng.random::<f64>() < p {
                    v[r * d + c] = 1.0;
                }
            }
        }
        Matrix::new(v, d).unwrap()
    }

    #[test]
    fn covariance_matches_the_dense_formula() {
        let m = data(50, 7, 1);
        let (cov, mean) = sparse_covariance(&m);
        let n = 50.0;
        for i in 0..7 {
            let mi: f64 = m.rows().map(|r| f64::from(r[i])).sum::<f64>() / n;
            assert!((mean[i] - mi).abs() < 1e-12);
            for j in 0..7 {
                let mj: f64 = m.rows().map(|r| f64::from(r[j])).sum::<f64>() / n;
                let c: f64 = m
                    .rows()
                    .map(|r| (f64::from(r[i]) - mi) * (f64::from(r[j]) - mj))
                    .sum::<f64>()
                    / (n - 1.0);
                assert!((cov[i * 7 + j] - c).abs() < 1e-12, "{i},{j}");
            }
        }
    }
}
