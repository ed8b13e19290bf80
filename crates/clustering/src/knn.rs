//! Exact k-nearest-neighbour search by blocked brute force on a matrix-multiply kernel.
//!
//! Why brute force: in 50 dimensions tree pruning barely works. Measured here at 10k points,
//! 50-d blobs, `petal-neighbors`' ball tree took 12 s for the core distances, longer than the
//! whole HDBSCAN run; `kiddo` fixes the dimension at compile time and is built for < 10-d.
//! Brute force costs `n_queries × n_refs × d` multiply-adds, which the `gemm` crate (runtime
//! AVX2/AVX-512 dispatch) runs at tens of GFLOP/s per core, via
//! `|q − r|² = |q|² + |r|² − 2 q·r` on blocks of queries × references. Both sets are centred
//! on the references' mean first to limit cancellation, and the kept candidates' distances are
//! recomputed exactly at the end, so the reported distances carry no cancellation error.
//!
//! [`search`] is the public query-vs-reference search (used by [`crate::classify`] and by
//! `evaluate` through it); it keeps a few candidates beyond `k` from the fast distances before
//! the exact re-ranking, so that rounding in them cannot push a true neighbour out and the
//! result is the exact `k` nearest with ties broken by index.

use rayon::prelude::*;

use crate::error::Result;
use crate::matrix::{sq_dist, Matrix};

/// Query rows per parallel task.
const QUERY_BLOCK: usize = 128;
/// Reference rows per matrix-multiply block (QUERY_BLOCK × REF_BLOCK f32 = 512 KiB).
const REF_BLOCK: usize = 1024;
/// Candidates kept beyond `k` from the fast distances by [`search`] before exact re-ranking.
const EXTRA_CANDIDATES: usize = 8;

/// Per query: the nearest reference and the distance to the `k`-th nearest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Neighbours {
    pub nearest: Vec<usize>,
    pub nearest_dist: Vec<f32>,
    pub kth_dist: Vec<f32>,
}

fn centred(m: &Matrix, mean: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let d = m.dim();
    let mut data = m.as_slice().to_vec();
    data.par_chunks_mut(d).for_each(|row| {
        for (v, mu) in row.iter_mut().zip(mean) {
            *v -= mu;
        }
    });
    let norms = data
        .par_chunks(d)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    (data, norms)
}

/// For every row of `queries`, its `k` nearest rows of `refs` (`k` clamped to
/// `1..=refs.n_rows()`), nearest first, with their exact Euclidean distances: row `q` of the
/// result is `indices[q·k..(q+1)·k]`, `dists[..]` alike. Ties go to the lower index. When
/// `queries` is `refs`, each point is its own first neighbour.
pub(crate) fn knn_lists(queries: &Matrix, refs: &Matrix, k: usize) -> Result<NeighbourLists> {
    // No margin: HDBSCAN's core distances, k-means and UMAP keep the results they had.
    lists(queries, refs, k, 0)
}

/// The exact `k` nearest rows of `refs` for every row of `queries` (`k` clamped to
/// `1..=refs.n_rows()`), nearest first, with their Euclidean distances; ties (equal squared
/// distances) go to the lower reference index. Row `q` of the result is
/// [`NeighbourLists::row`]`(q)`. An error when either matrix has no rows.
pub fn search(queries: &Matrix, refs: &Matrix, k: usize) -> Result<NeighbourLists> {
    lists(queries, refs, k, EXTRA_CANDIDATES)
}

/// [`search`] keeping `extra` candidates beyond `k` from the fast distances. With `extra > 0`
/// the result is exact: a query whose last kept candidate is not clearly farther (beyond the
/// fast distances' rounding bound) than its `k`-th exact distance, so that a reference left
/// out might tie with or beat it (duplicate or equidistant rows), is scanned exactly in full.
/// With `extra = 0` the fast stage alone picks the candidates, as the crate's own callers had it.
fn lists(queries: &Matrix, refs: &Matrix, k: usize, extra: usize) -> Result<NeighbourLists> {
    queries.require_rows()?;
    refs.require_rows()?;
    let d = refs.dim();
    assert_eq!(queries.dim(), d, "knn: query and reference widths differ");
    let k = k.clamp(1, refs.n_rows());
    let n_refs = refs.n_rows();
    // candidates kept per query from the fast distances
    let kc = (k + extra).min(n_refs);
    let mean: Vec<f32> = {
        let mut s = vec![0.0f64; d];
        for row in refs.rows() {
            for (a, &v) in s.iter_mut().zip(row) {
                *a += f64::from(v);
            }
        }
        s.iter().map(|v| (v / n_refs as f64) as f32).collect()
    };
    let (q, qn) = centred(queries, &mean);
    let (r, rn) = centred(refs, &mean);

    // Per query: the candidates' indices and the fast squared distance of the last one.
    let cands: Vec<(Vec<usize>, f32)> = q
        .par_chunks(QUERY_BLOCK * d)
        .zip(qn.par_chunks(QUERY_BLOCK))
        .flat_map_iter(|(qb, qnb)| {
            let m = qnb.len();
            let mut best_d = vec![f32::INFINITY; m * kc];
            let mut best_i = vec![usize::MAX; m * kc];
            let mut dots = vec![0.0f32; m * REF_BLOCK];
            for (bi, (rb, rnb)) in r
                .chunks(REF_BLOCK * d)
                .zip(rn.chunks(REF_BLOCK))
                .enumerate()
            {
                crate::nearest::offer_block(
                    qb,
                    qnb,
                    rb,
                    rnb,
                    d,
                    bi * REF_BLOCK,
                    &mut dots,
                    &mut best_d,
                    &mut best_i,
                );
            }
            (0..m)
                .map(|i| {
                    (
                        best_i[i * kc..(i + 1) * kc].to_vec(),
                        best_d[(i + 1) * kc - 1],
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();

    // Bound on |fast − exact| squared distance: f32 rounding of the norms, of the d-term dot
    // product and of the exact sum, each a few ε times the centred squared norms.
    let rn_max = rn.iter().copied().fold(0.0f32, f32::max);
    let slack = (4 * d + 16) as f32 * f32::EPSILON;
    let by_dist_then_index =
        |a: &(f32, usize), b: &(f32, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    // Exact distances for the kept candidates, then re-sort (ties: lower index first).
    let exact: Vec<Vec<(f32, usize)>> = cands
        .par_iter()
        .enumerate()
        .map(|(qi, (c, last_fast))| {
            let qrow = queries.row(qi);
            let mut ds: Vec<(f32, usize)> = c
                .iter()
                .filter(|&&j| j != usize::MAX)
                .map(|&j| (sq_dist(qrow, refs.row(j)), j))
                .collect();
            ds.sort_by(by_dist_then_index);
            if extra > 0 && ds.len() == kc && kc < n_refs {
                // every reference left out has a fast distance ≥ last_fast
                let tol = slack * (qn[qi] + rn_max);
                if *last_fast - tol <= ds[k - 1].0 {
                    ds = (0..n_refs)
                        .map(|j| (sq_dist(qrow, refs.row(j)), j))
                        .collect();
                    ds.select_nth_unstable_by(k - 1, by_dist_then_index);
                    ds.truncate(k);
                    ds.sort_by(by_dist_then_index);
                }
            }
            ds.truncate(k);
            ds
        })
        .collect();
    let mut out = NeighbourLists {
        k,
        indices: Vec::with_capacity(exact.len() * k),
        dists: Vec::with_capacity(exact.len() * k),
    };
    for ds in exact {
        debug_assert_eq!(ds.len(), k);
        for (d2, j) in ds {
            out.indices.push(j);
            out.dists.push(d2.sqrt());
        }
    }
    Ok(out)
}

/// The `k` nearest references of every query, row after row (see [`search`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourLists {
    /// Neighbours per query (after clamping).
    pub k: usize,
    /// `n_queries × k` reference indices, row-major.
    pub indices: Vec<usize>,
    /// `n_queries × k` Euclidean distances, row-major.
    pub dists: Vec<f32>,
}

impl NeighbourLists {
    /// Query `q`'s neighbours (reference indices) and their distances, nearest first.
    pub fn row(&self, q: usize) -> (&[usize], &[f32]) {
        let r = q * self.k..(q + 1) * self.k;
        (&self.indices[r.clone()], &self.dists[r])
    }
}

/// For every row of `queries`, its nearest row of `refs` and the distance to its `k`-th nearest
/// row of `refs` (`k` clamped to `1..=refs.n_rows()`). When `queries` is `refs`, each point is
/// its own first neighbour, the core-distance convention of HDBSCAN implementations.
pub(crate) fn knn(queries: &Matrix, refs: &Matrix, k: usize) -> Result<Neighbours> {
    let lists = knn_lists(queries, refs, k)?;
    let k = lists.k;
    let n = queries.n_rows();
    Ok(Neighbours {
        nearest: (0..n).map(|q| lists.indices[q * k]).collect(),
        nearest_dist: (0..n).map(|q| lists.dists[q * k]).collect(),
        kth_dist: (0..n).map(|q| lists.dists[q * k + k - 1]).collect(),
    })
}

/// Core distances of every row of `m` within `m` itself: the distance to the `k`-th nearest
/// point counting the point itself, the convention of the `hdbscan` crate and scikit-learn.
pub(crate) fn core_distances(m: &Matrix, k: usize) -> Result<Vec<f32>> {
    Ok(knn(m, m, k)?.kth_dist)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blobs::{gaussian_blobs, BlobSpec};

    #[test]
    fn core_distance_counts_the_point_itself() {
        let m = Matrix::from_rows(&[[0.0f32], [1.0], [3.0], [10.0]]).unwrap();
        assert_eq!(core_distances(&m, 1).unwrap(), vec![0.0; 4]);
        assert_eq!(core_distances(&m, 2).unwrap(), vec![1.0, 1.0, 2.0, 7.0]);
        let q = Matrix::from_rows(&[[2.6f32]]).unwrap();
        let nb = knn(&q, &m, 99).unwrap();
        assert_eq!(nb.nearest, vec![2]);
        assert!((nb.nearest_dist[0] - 0.4).abs() < 1e-6);
        assert_eq!(nb.kth_dist, vec![7.4], "k clamps to n");
    }

    #[test]
    fn search_is_exact_with_ties_by_index() {
        // 1200 references, each of 30 points repeated about 40 times (far more than k plus the
        // margin): the nearest are the lowest-indexed copies, as in a naive sort.
        let points: Vec<[f32; 3]> = (0..30)
            .map(|i| [(i % 5) as f32 + 40.0, (i / 5) as f32, 0.5])
            .collect();
        let refs = Matrix::from_rows(&(0..1200).map(|i| points[(i * 7) % 30]).collect::<Vec<_>>())
            .unwrap();
        let queries = Matrix::from_rows(&points).unwrap();
        for k in [1, 5, 50] {
            let nb = search(&queries, &refs, k).unwrap();
            for qi in 0..queries.n_rows() {
                let mut all: Vec<(f32, usize)> = (0..refs.n_rows())
                    .map(|j| (sq_dist(queries.row(qi), refs.row(j)), j))
                    .collect();
                all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let want: Vec<usize> = all[..k].iter().map(|p| p.1).collect();
                assert_eq!(nb.row(qi).0, want.as_slice(), "query {qi}, k {k}");
            }
        }
    }

    #[test]
    fn matches_a_naive_scan_across_blocks() {
        // More references than one block, more queries than one block, odd sizes.
        let (refs, _) = gaussian_blobs(&BlobSpec {
            n_points: 2500,
            dim: 13,
            seed: 9,
            ..BlobSpec::default()
        });
        let (queries, _) = gaussian_blobs(&BlobSpec {
            n_points: 300,
            dim: 13,
            seed: 10,
            ..BlobSpec::default()
        });
        let k = 7;
        let nb = knn(&queries, &refs, k).unwrap();
        for qi in 0..queries.n_rows() {
            let mut all: Vec<(f32, usize)> = (0..refs.n_rows())
                .map(|j| (sq_dist(queries.row(qi), refs.row(j)), j))
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert_eq!(nb.nearest[qi], all[0].1, "query {qi}");
            assert!((nb.nearest_dist[qi] - all[0].0.sqrt()).abs() < 1e-4);
            assert!((nb.kth_dist[qi] - all[k - 1].0.sqrt()).abs() < 1e-4);
        }
    }
}
