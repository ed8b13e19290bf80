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

use rayon::prelude::*;

use crate::error::Result;
use crate::matrix::{sq_dist, Matrix};

/// Query rows per parallel task.
const QUERY_BLOCK: usize = 128;
/// Reference rows per matrix-multiply block (QUERY_BLOCK × REF_BLOCK f32 = 512 KiB).
const REF_BLOCK: usize = 1024;

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
    queries.require_rows()?;
    refs.require_rows()?;
    let d = refs.dim();
    assert_eq!(queries.dim(), d, "knn: query and reference widths differ");
    let k = k.clamp(1, refs.n_rows());
    let n_refs = refs.n_rows();
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

    let cands: Vec<Vec<usize>> = q
        .par_chunks(QUERY_BLOCK * d)
        .zip(qn.par_chunks(QUERY_BLOCK))
        .flat_map_iter(|(qb, qnb)| {
            let m = qnb.len();
            let mut best_d = vec![f32::INFINITY; m * k];
            let mut best_i = vec![usize::MAX; m * k];
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
                .map(|i| best_i[i * k..(i + 1) * k].to_vec())
                .collect::<Vec<_>>()
        })
        .collect();

    // Exact distances for the kept candidates, then re-sort (ties: lower index first).
    let exact: Vec<Vec<(f32, usize)>> = cands
        .par_iter()
        .enumerate()
        .map(|(qi, c)| {
            let qrow = queries.row(qi);
            let mut ds: Vec<(f32, usize)> = c
                .iter()
                .filter(|&&j| j != usize::MAX)
                .map(|&j| (sq_dist(qrow, refs.row(j)), j))
                .collect();
            ds.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
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

/// The `k` nearest references of every query, row after row (see [`knn_lists`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NeighbourLists {
    pub k: usize,
    pub indices: Vec<usize>,
    pub dists: Vec<f32>,
}

impl NeighbourLists {
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
