//! Exact HDBSCAN through the `hdbscan` crate (its parallel Prim path).

use hdbscan::{Hdbscan, HdbscanHyperParams};

use crate::error::{ClusterError, Result};
use crate::matrix::Matrix;

/// Labels (−1 noise, clusters numbered from 0) from the `hdbscan` crate's `cluster_par`.
///
/// Cost is O(n²) in time (Prim over all pairs) and the crate's own core-distance search, so
/// callers keep `n` to tens of thousands. Inputs too small to hold one cluster come back as
/// all noise instead of reaching the crate, whose indexing assumes `n ≥ min_samples`.
pub(crate) fn exact_hdbscan(
    m: &Matrix,
    min_cluster_size: usize,
    min_samples: usize,
) -> Result<Vec<i32>> {
    m.require_rows()?;
    let n = m.n_rows();
    if n < min_cluster_size.max(2) {
        return Ok(vec![-1; n]);
    }
    let params = HdbscanHyperParams::builder()
        .min_cluster_size(min_cluster_size)
        .min_samples(min_samples.clamp(1, n))
        .build();
    let data = m.to_nested();
    Hdbscan::new(&data, params)
        .cluster_par()
        .map_err(|e| ClusterError::Hdbscan(e.to_string()))
}
