//! Per-point membership strength, a GLOSH-like score computed from core distances.
//!
//! HDBSCAN's own membership probability of point `p` in cluster `C` is `λ_p / λ_max(C)`, with
//! `λ = 1 / distance` the density level at which `p` leaves `C` and `λ_max(C)` the densest level
//! reached inside `C`. The `hdbscan` crate exposes no tree, so we approximate `λ_p` by
//! `1 / r(p)`, where `r(p)` is `p`'s core distance (or, for a point assigned by the sampled path,
//! its mutual-reachability distance to the sample point it joined), and `λ_max(C)` by the 5th
//! percentile of `r` over `C` (a percentile rather than the minimum, so one duplicated point
//! does not flatten everyone else's score):
//!
//! `strength(p) = min(1, r_ref(C) / r(p))` for members, `0` for noise. It lies in `[0, 1]`, is
//! `1` in the densest part of the cluster and falls towards `0` at its fringe.
//!
//! The outlier score is GLOSH's `1 − λ_p / λ_max(C)` with the same approximations: for members
//! `1 − strength`; for a noise point, `C` is the cluster of its nearest clustered point `q`
//! (searched among at most [`OUTLIER_ANCHORS`] clustered points, evenly spread) and `r(p)` its
//! mutual-reachability distance to `q`, `max(d(p, q), r(q), r(p))`. So noise points rank by how
//! far they sit from the nearest cluster relative to that cluster's density.

use crate::error::Result;
use crate::knn::knn;
use crate::matrix::Matrix;

/// Clustered points searched for each noise point's nearest cluster.
pub const OUTLIER_ANCHORS: usize = 20_000;

/// Percentile of a cluster's reach distances taken as its density peak.
const PEAK_PERCENTILE: f64 = 0.05;

pub(crate) fn cluster_peaks(labels: &[i32], reach: &[f32]) -> Vec<f32> {
    let n_clusters = labels
        .iter()
        .copied()
        .max()
        .map_or(0, |m| (m + 1).max(0) as usize);
    let mut per_cluster: Vec<Vec<f32>> = vec![Vec::new(); n_clusters];
    for (&l, &r) in labels.iter().zip(reach) {
        if l >= 0 {
            per_cluster[l as usize].push(r);
        }
    }
    per_cluster
        .into_iter()
        .map(|mut rs| {
            if rs.is_empty() {
                return 0.0;
            }
            let k = ((rs.len() - 1) as f64 * PEAK_PERCENTILE).floor() as usize;
            *rs.select_nth_unstable_by(k, f32::total_cmp).1
        })
        .collect()
}

pub(crate) fn ratio(peak: f32, r: f32) -> f32 {
    if r <= peak {
        1.0
    } else {
        peak / r
    }
}

pub(crate) fn membership_strength(labels: &[i32], reach: &[f32]) -> Vec<f32> {
    debug_assert_eq!(labels.len(), reach.len());
    let peak = cluster_peaks(labels, reach);
    labels
        .iter()
        .zip(reach)
        .map(|(&l, &r)| {
            if l < 0 {
                0.0
            } else {
                ratio(peak[l as usize], r)
            }
        })
        .collect()
}

/// GLOSH-like outlier scores in `[0, 1]` for every point of `x` (see the module doc).
pub(crate) fn outlier_scores(x: &Matrix, labels: &[i32], reach: &[f32]) -> Result<Vec<f32>> {
    let strength = membership_strength(labels, reach);
    let mut out: Vec<f32> = strength.iter().map(|s| 1.0 - s).collect();
    let noise: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] < 0).collect();
    let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] >= 0).collect();
    if members.is_empty() || noise.is_empty() {
        // No cluster to be an outlier from: every point is equally (fully) an outlier.
        return Ok(out);
    }
    let step = members.len().div_ceil(OUTLIER_ANCHORS);
    let anchors: Vec<usize> = members.iter().copied().step_by(step).collect();
    let nb = knn(&x.select_rows(&noise), &x.select_rows(&anchors), 1)?;
    let peak = cluster_peaks(labels, reach);
    for (k, &p) in noise.iter().enumerate() {
        let q = anchors[nb.nearest[k]];
        let own = if reach[p].is_finite() { reach[p] } else { 0.0 };
        let mr = nb.nearest_dist[k].max(reach[q]).max(own);
        out[p] = 1.0 - ratio(peak[labels[q] as usize], mr);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_points_score_one_fringe_lower_noise_zero() {
        let labels = [0, 0, 0, 0, -1, 1, 1];
        let reach = [1.0, 1.0, 2.0, 4.0, 9.0, 0.5, 5.0];
        let s = membership_strength(&labels, &reach);
        assert_eq!(s, vec![1.0, 1.0, 0.5, 0.25, 0.0, 1.0, 0.1]);
    }

    #[test]
    fn noise_far_from_a_cluster_is_more_outlying() {
        let x = Matrix::from_rows(&[[0.0f32], [0.1], [0.2], [0.3], [1.0], [5.0]]).unwrap();
        let labels = [0, 0, 0, 0, -1, -1];
        let reach = [0.1, 0.1, 0.1, 0.2, 0.7, 4.7];
        let o = outlier_scores(&x, &labels, &reach).unwrap();
        assert_eq!(&o[..3], &[0.0, 0.0, 0.0]);
        assert!((o[3] - 0.5).abs() < 1e-6);
        // Noise at 1.0: mutual reachability to 0.3 is 0.7, so 1 − 0.1/0.7; at 5.0: 1 − 0.1/4.7.
        assert!((o[4] - (1.0 - 0.1 / 0.7)).abs() < 1e-5, "{}", o[4]);
        assert!((o[5] - (1.0 - 0.1 / 4.7)).abs() < 1e-5, "{}", o[5]);
        assert!(o[5] > o[4] && o[4] > o[3]);
    }

    #[test]
    fn duplicates_at_peak_do_not_zero_the_rest() {
        // One point at reach 0 among 40 members: the 5th percentile is not 0.
        let mut reach = vec![0.0];
        reach.extend((0..39).map(|i| 1.0 + i as f32 * 0.1));
        let labels = vec![0; 40];
        let s = membership_strength(&labels, &reach);
        assert!(s[39] > 0.2, "{}", s[39]);
    }
}
