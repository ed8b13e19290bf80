//! DBSCAN through `petal-clustering` (ball-tree neighbourhoods, parallel).

use ndarray::ArrayView2;
use petal_clustering::{Dbscan, Fit};
use petal_neighbors::distance::Euclidean;

use crate::error::Result;
use crate::matrix::Matrix;

/// Labels (−1 noise) of DBSCAN with radius `eps` and `min_samples` neighbours counting the point
/// itself (scikit-learn's convention). Memory grows with the neighbourhood sizes, so a large
/// `eps` on many points is expensive.
pub(crate) fn dbscan(m: &Matrix, eps: f32, min_samples: usize) -> Result<Vec<i32>> {
    m.require_rows()?;
    let view = ArrayView2::from_shape((m.n_rows(), m.dim()), m.as_slice())
        .expect("Matrix invariant: len = rows × dim");
    let (clusters, _noise) =
        Dbscan::new(eps, min_samples.max(1), Euclidean::default()).fit(&view, None);
    let mut labels = vec![-1i32; m.n_rows()];
    // petal's ids can have gaps (it drops undersized groups); number them densely.
    let mut ids: Vec<usize> = clusters.keys().copied().collect();
    ids.sort_unstable();
    for (new_id, id) in ids.iter().enumerate() {
        for &i in &clusters[id] {
            labels[i] = new_id as i32;
        }
    }
    Ok(labels)
}
