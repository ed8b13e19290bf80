//! Exact nearest-neighbour queries over a `Matrix`, through `petal-neighbors`' ball tree.
//!
//! A ball tree rather than a k-d tree (`kiddo`): kiddo fixes the dimension at compile time
//! (`[f32; K]`), while embedding widths here are a run-time setting, and ball trees prune better
//! than k-d trees in tens of dimensions.

use ndarray::{aview1, ArrayView2};
use petal_neighbors::{distance::Euclidean, BallTree};
use rayon::prelude::*;

use crate::error::Result;
use crate::matrix::Matrix;

pub(crate) struct NeighbourIndex<'a> {
    tree: BallTree<'a, f32, Euclidean>,
    n: usize,
}

impl<'a> NeighbourIndex<'a> {
    pub(crate) fn new(m: &'a Matrix) -> Result<Self> {
        m.require_rows()?;
        let view = ArrayView2::from_shape((m.n_rows(), m.dim()), m.as_slice())
            .expect("Matrix invariant: len = rows × dim");
        let tree = BallTree::new(view, Euclidean::default()).expect("non-empty, row-major");
        Ok(NeighbourIndex {
            tree,
            n: m.n_rows(),
        })
    }

    /// Index and distance of the point nearest to `q`.
    pub(crate) fn nearest(&self, q: &[f32]) -> (usize, f32) {
        self.tree.query_nearest(&aview1(q))
    }

    /// Distance from `q` to its `k`-th nearest indexed point, counting a point equal to `q`
    /// (`k` is clamped to the number of points).
    pub(crate) fn kth_distance(&self, q: &[f32], k: usize) -> f32 {
        let k = k.clamp(1, self.n);
        let (_, d) = self.tree.query(&aview1(q), k);
        d.last().copied().unwrap_or(0.0)
    }
}

/// Core distances of every row of `m` within `m` itself: the distance to the `k`-th nearest
/// point counting the point itself, the convention of the `hdbscan` crate and scikit-learn.
pub(crate) fn core_distances(m: &Matrix, k: usize) -> Result<Vec<f32>> {
    let index = NeighbourIndex::new(m)?;
    Ok(m.as_slice()
        .par_chunks(m.dim())
        .map(|row| index.kth_distance(row, k))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_distance_counts_the_point_itself() {
        let m = Matrix::from_rows(&[[0.0f32], [1.0], [3.0], [10.0]]).unwrap();
        assert_eq!(core_distances(&m, 1).unwrap(), vec![0.0; 4]);
        assert_eq!(core_distances(&m, 2).unwrap(), vec![1.0, 1.0, 2.0, 7.0]);
        let idx = NeighbourIndex::new(&m).unwrap();
        let (i, d) = idx.nearest(&[2.6]);
        assert_eq!(i, 2);
        assert!((d - 0.4).abs() < 1e-6);
        assert_eq!(idx.kth_distance(&[0.0], 99), 10.0, "k clamps to n");
    }
}
