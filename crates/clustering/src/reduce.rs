//! Reductions applied before clustering or for the 2-D map: standardising, L2 normalising
//! (cosine distance as Euclidean distance on the unit sphere) and PCA.
//!
//! This is the workspace's one PCA ([`Pca::fit`]): the clustering stage's `pca_dims`, the 2-D
//! map, UMAP's start and the evaluation's raster baseline all fit it. Below a few hundred
//! dimensions (embeddings) it eigendecomposes the `d × d` covariance in full with the cyclic
//! Jacobi method: the `O(d³)` per sweep is small next to the `O(n d²)` covariance, and Jacobi is
//! short, robust for symmetric matrices and accurate to machine precision, which spares a
//! linear-algebra dependency. For wide rows reduced to few components (784-pixel rasters to a
//! latent's 128) the top eigenpairs come from subspace iteration instead; [`Eigensolver`] says
//! where the line is and why.

use rayon::prelude::*;

use crate::error::{ClusterError, Result};
use crate::matrix::Matrix;

/// Rows per rayon task when summing over the data.
const CHUNK_ROWS: usize = 4096;

/// Column means in `f64`.
fn column_means(m: &Matrix) -> Vec<f64> {
    let d = m.dim();
    let sums = m
        .as_slice()
        .par_chunks(CHUNK_ROWS * d)
        .map(|chunk| {
            let mut s = vec![0.0f64; d];
            for row in chunk.chunks_exact(d) {
                for (acc, &v) in s.iter_mut().zip(row) {
                    *acc += f64::from(v);
                }
            }
            s
        })
        .reduce(|| vec![0.0; d], add_vecs);
    let n = m.n_rows().max(1) as f64;
    sums.into_iter().map(|s| s / n).collect()
}

fn add_vecs(mut a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
    a
}

/// Centres every column on zero and scales it to unit (population) variance, as scikit-learn's
/// `StandardScaler` does; a constant column is only centred.
pub fn standardise(m: &Matrix) -> Result<Matrix> {
    Standardiser::fit(m)?.transform(m)
}

/// A fitted standardisation: `(v − mean) · scale` per column, kept so that new points can be
/// scaled as the fitted ones were.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardiser {
    pub mean: Vec<f64>,
    /// `1 / standard deviation` (1 for a constant column).
    pub scale: Vec<f64>,
}

impl Standardiser {
    /// Column means and inverse (population) standard deviations of `m`.
    pub fn fit(m: &Matrix) -> Result<Standardiser> {
        m.require_rows()?;
        let d = m.dim();
        let mean = column_means(m);
        let sq = m
            .as_slice()
            .par_chunks(CHUNK_ROWS * d)
            .map(|chunk| {
                let mut s = vec![0.0f64; d];
                for row in chunk.chunks_exact(d) {
                    for ((acc, &v), mu) in s.iter_mut().zip(row).zip(&mean) {
                        let c = f64::from(v) - mu;
                        *acc += c * c;
                    }
                }
                s
            })
            .reduce(|| vec![0.0; d], add_vecs);
        let n = m.n_rows() as f64;
        let scale = sq
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 0.0 {
                    1.0 / sd
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Standardiser { mean, scale })
    }

    /// Scales `m` (same width as the fitted data).
    pub fn transform(&self, m: &Matrix) -> Result<Matrix> {
        let d = self.mean.len();
        if m.dim() != d {
            return Err(ClusterError::Param {
                name: "standardise",
                reason: format!("fitted on dimension {d}, applied to dimension {}", m.dim()),
            });
        }
        let data = m
            .as_slice()
            .par_chunks(d)
            .flat_map_iter(|row| {
                row.iter()
                    .zip(&self.mean)
                    .zip(&self.scale)
                    .map(|((&v, mu), s)| ((f64::from(v) - mu) * s) as f32)
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(Matrix::from_parts(data, d))
    }
}

/// Scales every row to unit Euclidean length, so that Euclidean distance becomes
/// `sqrt(2 · cosine distance)` and ranks neighbours exactly as cosine distance does.
/// An all-zero row has no direction and stays zero.
pub fn l2_normalise(m: &Matrix) -> Matrix {
    let d = m.dim();
    let mut data = m.as_slice().to_vec();
    data.par_chunks_mut(d.max(1)).for_each(l2_normalise_row);
    Matrix::from_parts(data, d)
}

/// Scales one vector to unit length in place (a zero vector stays zero): what
/// [`l2_normalise`] does to each row.
pub fn l2_normalise_row(row: &mut [f32]) {
    let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
    let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
    row.iter_mut().for_each(|v| *v *= inv);
}

/// Eigen-decomposition of a symmetric matrix: eigenvalues in descending order and the matching
/// unit eigenvectors (`vectors[i]` belongs to `values[i]`).
#[derive(Debug, Clone)]
pub struct SymmetricEigen {
    pub values: Vec<f64>,
    pub vectors: Vec<Vec<f64>>,
}

/// Cyclic Jacobi eigenvalue method for the symmetric `d × d` row-major matrix `a`.
///
/// Each rotation zeroes one off-diagonal pair; sweeps repeat until the off-diagonal mass is
/// negligible (quadratic convergence, typically under ten sweeps). Each eigenvector's sign is
/// fixed so that its largest-magnitude entry is positive, making PCA output deterministic.
pub fn symmetric_eigen(a: &[f64], d: usize) -> SymmetricEigen {
    assert_eq!(a.len(), d * d, "symmetric_eigen: matrix is not d × d");
    let mut a = a.to_vec();
    let mut v = vec![0.0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let total: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|p| ((p + 1)..d).map(move |q| (p, q)))
            .map(|(p, q)| a[p * d + q] * a[p * d + q])
            .sum();
        if off <= total * 1e-30 {
            break;
        }
        for p in 0..d {
            for q in (p + 1)..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = if theta >= 0.0 {
                    1.0 / (theta + (theta * theta + 1.0).sqrt())
                } else {
                    -1.0 / (-theta + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J: first the columns p and q, then the rows p and q.
                for k in 0..d {
                    let akp = a[k * d + p];
                    let akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let apk = a[p * d + k];
                    let aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let vkp = v[k * d + p];
                    let vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| a[j * d + j].total_cmp(&a[i * d + i]));
    let values = order.iter().map(|&i| a[i * d + i]).collect();
    let vectors = order
        .iter()
        .map(|&i| {
            let mut col: Vec<f64> = (0..d).map(|k| v[k * d + i]).collect();
            let big = col
                .iter()
                .copied()
                .max_by(|x, y| x.abs().total_cmp(&y.abs()))
                .unwrap_or(1.0);
            if big < 0.0 {
                col.iter_mut().for_each(|x| *x = -*x);
            }
            col
        })
        .collect();
    SymmetricEigen { values, vectors }
}

/// How [`Pca::fit`] finds the top eigenpairs of the covariance.
///
/// Measured with `examples/pca_bench.rs` (10,000 rows, fit time with the covariance, our code
/// at opt-level 3, on 2 cores shared with other work, so ±30%):
///
/// | rows | k | Jacobi | subspace |
/// | --- | --- | --- | --- |
/// | 784-pixel rasters, 9% inked | 128 | 28.9 s | 4.2 s |
/// | 128-d dense embeddings | 2 | 0.23 s | 0.07 s |
/// | 128-d dense embeddings | 32 | 0.17 s | 0.12 s |
///
/// (the two agree to 1 − |cos| ≤ 2e-8 per component). Jacobi's sweeps grow as `d³`: at 784
/// dimensions they are most of half a minute, while subspace iteration pays only for `k` plus
/// its oversampling per iteration and, on sparse rows, a covariance summed over the non-zeros.
/// At embedding widths both take a fraction of a second, so there Jacobi stays: it is exact,
/// needs no seed, and keeps the clustering stage's results (`pca_dims`, the 2-D map, UMAP's
/// start) exactly what they were. Hence: Jacobi up to [`JACOBI_MAX_DIM`] or when more than
/// half the dimensions are kept (subspace iteration's advantage gone); subspace iteration for
/// wider rows reduced to at most half their width (the evaluation's rasters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eigensolver {
    /// Every eigenpair by cyclic Jacobi ([`symmetric_eigen`]).
    Jacobi,
    /// The top `k` by seeded subspace iteration with Rayleigh–Ritz.
    Subspace,
}

/// Widths up to which [`Pca::fit`] always uses [`Eigensolver::Jacobi`].
pub const JACOBI_MAX_DIM: usize = 256;

impl Eigensolver {
    /// The solver [`Pca::fit`] uses for `k` components of `d`-dimensional rows.
    pub fn for_shape(d: usize, k: usize) -> Eigensolver {
        if d > JACOBI_MAX_DIM && 2 * k <= d {
            Eigensolver::Subspace
        } else {
            Eigensolver::Jacobi
        }
    }
}

/// Rows whose share of non-zero entries is below this have their covariance summed over the
/// non-zeros only (rasters: about a tenth inked), on the subspace path.
const SPARSE_SHARE: f64 = 0.5;

/// Sample covariance (`n − 1` denominator) of the rows of `m` about `mean`, dense row-major
/// `d × d`, from centred rows (no cancellation however large the means).
fn dense_covariance(m: &Matrix, mean: &[f64]) -> Vec<f64> {
    let d = m.dim();
    // Upper triangle of the scatter matrix, summed per chunk in parallel.
    let scatter = m
        .as_slice()
        .par_chunks(CHUNK_ROWS * d)
        .map(|chunk| {
            let mut s = vec![0.0f64; d * d];
            let mut c = vec![0.0f64; d];
            for row in chunk.chunks_exact(d) {
                for ((ci, &v), mu) in c.iter_mut().zip(row).zip(mean) {
                    *ci = f64::from(v) - mu;
                }
                for i in 0..d {
                    let ci = c[i];
                    let srow = &mut s[i * d..(i + 1) * d];
                    for j in i..d {
                        srow[j] += ci * c[j];
                    }
                }
            }
            s
        })
        .reduce(|| vec![0.0; d * d], add_vecs);
    let denom = (m.n_rows().saturating_sub(1)).max(1) as f64;
    let mut cov = vec![0.0f64; d * d];
    for i in 0..d {
        for j in i..d {
            let v = scatter[i * d + j] / denom;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    cov
}

/// A fitted principal component analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Column means subtracted before projecting.
    pub mean: Vec<f64>,
    /// `k` unit principal axes, each of length `d`, by decreasing variance.
    pub components: Vec<Vec<f64>>,
    /// Variance along each component (sample covariance, `n - 1` denominator).
    pub explained_variance: Vec<f64>,
    /// Share of the total variance along each component.
    pub explained_variance_ratio: Vec<f64>,
}

impl Pca {
    /// Fits `k` principal components of `m` (`1 ≤ k ≤ dim`) with the solver
    /// [`Eigensolver::for_shape`] picks; `seed` starts the subspace iteration (unused by Jacobi).
    pub fn fit(m: &Matrix, k: usize, seed: u64) -> Result<Pca> {
        Pca::fit_with(m, k, seed, Eigensolver::for_shape(m.dim(), k))
    }

    /// [`Pca::fit`] with the solver chosen by the caller (benchmarks, tests).
    pub fn fit_with(m: &Matrix, k: usize, seed: u64, solver: Eigensolver) -> Result<Pca> {
        m.require_rows()?;
        let d = m.dim();
        if k == 0 || k > d {
            return Err(ClusterError::Param {
                name: "pca_dims",
                reason: format!("must be between 1 and the data dimension {d}, got {k}"),
            });
        }
        match solver {
            Eigensolver::Jacobi => Ok(Pca::fit_jacobi(m, k)),
            Eigensolver::Subspace => Ok(Pca::fit_subspace(m, k, seed)),
        }
    }

    /// The top `k` of the full eigendecomposition of the dense covariance.
    fn fit_jacobi(m: &Matrix, k: usize) -> Pca {
        let d = m.dim();
        let mean = column_means(m);
        let cov = dense_covariance(m, &mean);
        let eig = symmetric_eigen(&cov, d);
        // Rounding can leave tiny negative eigenvalues of a PSD matrix.
        let values: Vec<f64> = eig.values.iter().map(|v| v.max(0.0)).collect();
        let total: f64 = values.iter().sum();
        let explained_variance: Vec<f64> = values[..k].to_vec();
        let explained_variance_ratio = explained_variance
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        Pca {
            mean,
            components: eig.vectors[..k].to_vec(),
            explained_variance,
            explained_variance_ratio,
        }
    }

    /// The top `k` eigenpairs by subspace iteration; the total variance (for the ratios) is the
    /// covariance's trace.
    fn fit_subspace(m: &Matrix, k: usize, seed: u64) -> Pca {
        let d = m.dim();
        let nonzero = m.as_slice().par_iter().filter(|v| **v != 0.0).count();
        let t = std::time::Instant::now();
        let (cov, mean) = if (nonzero as f64) < SPARSE_SHARE * m.as_slice().len() as f64 {
            crate::subspace::sparse_covariance(m)
        } else {
            let mean = column_means(m);
            (dense_covariance(m, &mean), mean)
        };
        tracing::debug!(secs = t.elapsed().as_secs_f64(), "covariance");
        let total: f64 = (0..d).map(|i| cov[i * d + i].max(0.0)).sum();
        let t = std::time::Instant::now();
        let (values, components) = crate::subspace::top_eigen(&cov, d, k, seed);
        tracing::debug!(secs = t.elapsed().as_secs_f64(), "top eigenvectors");
        let explained_variance_ratio = values
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        Pca {
            mean,
            components,
            explained_variance: values,
            explained_variance_ratio,
        }
    }

    /// Projects `m` (same width as the fitted data) onto the components.
    pub fn transform(&self, m: &Matrix) -> Result<Matrix> {
        let d = self.mean.len();
        if m.dim() != d {
            return Err(ClusterError::Param {
                name: "pca",
                reason: format!("fitted on dimension {d}, applied to dimension {}", m.dim()),
            });
        }
        let k = self.components.len();
        let data = m
            .as_slice()
            .par_chunks(d)
            .flat_map_iter(|row| {
                self.components
                    .iter()
                    .map(|comp| {
                        row.iter()
                            .zip(&self.mean)
                            .zip(comp)
                            .map(|((&v, mu), w)| (f64::from(v) - mu) * w)
                            .sum::<f64>() as f32
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(Matrix::from_parts(data, k))
    }

    /// Share of the total variance the kept components explain.
    pub fn kept_variance(&self) -> f64 {
        self.explained_variance_ratio.iter().sum()
    }
}

/// PCA of `m` to `k` dimensions: the projected data and the fitted model (seed 0 where the
/// subspace iteration is used).
pub fn pca(m: &Matrix, k: usize) -> Result<(Matrix, Pca)> {
    let model = Pca::fit(m, k, 0)?;
    let projected = model.transform(m)?;
    Ok((projected, model))
}

/// The 2-D PCA projection used for the embedding map (data of width 1 gets a zero `y`).
pub fn project_2d(m: &Matrix) -> Result<Matrix> {
    m.require_rows()?;
    if m.dim() >= 2 {
        return Ok(pca(m, 2)?.0);
    }
    let (x, _) = pca(m, 1)?;
    let data = x.as_slice().iter().flat_map(|&v| [v, 0.0]).collect();
    Ok(Matrix::from_parts(data, 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn jacobi_matches_known_eigenpairs() {
        let e = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((e.values[0] - 3.0).abs() < 1e-12 && (e.values[1] - 1.0).abs() < 1e-12);
        let r = 0.5f64.sqrt();
        assert!((e.vectors[0][0] - r).abs() < 1e-12 && (e.vectors[0][1] - r).abs() < 1e-12);
    }

    #[test]
    fn jacobi_diagonalises_random_symmetric_matrix() {
        let d = 12;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut a = vec![0.0f64; d * d];
        for i in 0..d {
            for j in i..d {
                let v: f64 = rng.random_range(-1.0..1.0);
                a[i * d + j] = v;
                a[j * d + i] = v;
            }
        }
        let e = symmetric_eigen(&a, d);
        for (lambda, vec) in e.values.iter().zip(&e.vectors) {
            for i in 0..d {
                let av: f64 = (0..d).map(|j| a[i * d + j] * vec[j]).sum();
                assert!((av - lambda * vec[i]).abs() < 1e-9, "A v != λ v");
            }
            let norm: f64 = vec.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-9);
        }
        assert!(e.values.windows(2).all(|w| w[0] >= w[1]));
        let dot: f64 = e.vectors[0]
            .iter()
            .zip(&e.vectors[1])
            .map(|(x, y)| x * y)
            .sum();
        assert!(dot.abs() < 1e-9);
    }

    #[test]
    fn pca_finds_the_long_axis() {
        // Points along the line y = 2x with small noise: the first axis is (1, 2)/√5.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let rows: Vec<[f32; 2]> = (0..500)
            .map(|_| {
                let t: f32 = rng.random_range(-10.0..10.0);
                let e: f32 = rng.random_range(-0.1..0.1);
                [t + 5.0, 2.0 * t - 3.0 + e]
            })
            .collect();
        let m = Matrix::from_rows(&rows).unwrap();
        let (proj, model) = pca(&m, 1).unwrap();
        let c = &model.components[0];
        assert!((c[0] - 1.0 / 5f64.sqrt()).abs() < 1e-3, "{c:?}");
        assert!((c[1] - 2.0 / 5f64.sqrt()).abs() < 1e-3, "{c:?}");
        assert!(model.explained_variance_ratio[0] > 0.999);
        assert_eq!(proj.dim(), 1);
        let mean: f32 = proj.as_slice().iter().sum::<f32>() / 500.0;
        assert!(mean.abs() < 1e-3);
        assert!(Pca::fit(&m, 3, 0).is_err());
        assert_eq!(project_2d(&m).unwrap().dim(), 2);
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn the_solver_follows_the_shape() {
        use Eigensolver::*;
        // every embedding width keeps the full decomposition, whatever k
        for (d, k) in [(2, 1), (50, 2), (128, 2), (128, 32), (256, 2)] {
            assert_eq!(Eigensolver::for_shape(d, k), Jacobi, "{d} {k}");
        }
        assert_eq!(Eigensolver::for_shape(784, 128), Subspace);
        assert_eq!(Eigensolver::for_shape(784, 392), Subspace);
        assert_eq!(Eigensolver::for_shape(784, 600), Jacobi);
        // below the line, fit is exactly the Jacobi fit
        let m = crate::subspace::tests::data(300, 40, 5);
        assert_eq!(
            Pca::fit(&m, 3, 9).unwrap(),
            Pca::fit_with(&m, 3, 0, Jacobi).unwrap()
        );
    }

    #[test]
    fn subspace_agrees_with_jacobi() {
        let m = crate::subspace::tests::data(400, 40, 2);
        let k = 6;
        let fast = Pca::fit_with(&m, k, 0, Eigensolver::Subspace).unwrap();
        let slow = Pca::fit_with(&m, k, 0, Eigensolver::Jacobi).unwrap();
        for i in 0..k {
            let (a, b) = (fast.explained_variance[i], slow.explained_variance[i]);
            assert!(
                (a - b).abs() < 1e-8 * slow.explained_variance[0],
                "value {i}: {a} vs {b}"
            );
            let cos = dot(&fast.components[i], &slow.components[i]);
            assert!(cos > 1.0 - 1e-6, "component {i}: cos {cos}");
        }
        assert!((fast.kept_variance() - slow.kept_variance()).abs() < 1e-8);
        // projections agree too
        let (a, b) = (fast.transform(&m).unwrap(), slow.transform(&m).unwrap());
        let worst = a
            .as_slice()
            .iter()
            .zip(b.as_slice())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "{worst}");
        // dense rows (the centred covariance) agree as well
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let rows: Vec<[f32; 12]> = (0..300)
            .map(|_| {
                let t: f32 = rng.random_range(-3.0..3.0);
                std::array::from_fn(|j| 100.0 + t * (j as f32 + 1.0) + rng.random_range(-0.5..0.5))
            })
            .collect();
        let m = Matrix::from_rows(&rows).unwrap();
        let fast = Pca::fit_with(&m, 3, 1, Eigensolver::Subspace).unwrap();
        let slow = Pca::fit_with(&m, 3, 1, Eigensolver::Jacobi).unwrap();
        for i in 0..3 {
            let (a, b) = (fast.explained_variance[i], slow.explained_variance[i]);
            assert!(
                (a - b).abs() < 1e-6 * slow.explained_variance[0],
                "{i}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn subspace_handles_rank_deficient_data_and_k_equal_to_d() {
        // two distinct rows only: one direction of variance
        let rows: Vec<[f32; 5]> = (0..20)
            .map(|i| {
                if i % 2 == 0 {
                    [1.0, 0.0, 1.0, 0.0, 0.0]
                } else {
                    [0.0; 5]
                }
            })
            .collect();
        let m = Matrix::from_rows(&rows).unwrap();
        let p = Pca::fit_with(&m, 5, 3, Eigensolver::Subspace).unwrap();
        assert_eq!(p.components.len(), 5);
        assert!((p.explained_variance_ratio[0] - 1.0).abs() < 1e-9);
        for (i, a) in p.components.iter().enumerate() {
            assert!((dot(a, a) - 1.0).abs() < 1e-9);
            for b in &p.components[..i] {
                assert!(dot(a, b).abs() < 1e-9);
            }
        }
        let p2 = Pca::fit_with(&m, 5, 3, Eigensolver::Subspace).unwrap();
        assert_eq!(p.components, p2.components, "deterministic");
    }

    #[test]
    fn standardise_gives_zero_mean_unit_variance() {
        let m = Matrix::from_rows(&[[1.0, 7.0], [2.0, 7.0], [3.0, 7.0], [6.0, 7.0]]).unwrap();
        let s = standardise(&m).unwrap();
        let col0: Vec<f32> = s.rows().map(|r| r[0]).collect();
        let mean: f32 = col0.iter().sum::<f32>() / 4.0;
        let var: f32 = col0.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5);
        assert!(
            s.rows().all(|r| r[1] == 0.0),
            "constant column is centred only"
        );
    }

    #[test]
    fn l2_normalise_makes_unit_rows() {
        let m = Matrix::from_rows(&[[3.0, 4.0], [0.0, 0.0]]).unwrap();
        let n = l2_normalise(&m);
        assert_eq!(n.row(0), &[0.6, 0.8]);
        assert_eq!(n.row(1), &[0.0, 0.0]);
    }
}
