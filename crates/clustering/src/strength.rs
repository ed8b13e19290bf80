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
//! `strength(p) = min(1, r_ref(C) / r(p))` for members, `0` for noise; `1 − strength` is the
//! outlier score. It lies in `[0, 1]`, is `1` in the densest part of the cluster and falls
//! towards `0` at its fringe.

/// Percentile of a cluster's reach distances taken as its density peak.
const PEAK_PERCENTILE: f64 = 0.05;

pub(crate) fn membership_strength(labels: &[i32], reach: &[f32]) -> Vec<f32> {
    debug_assert_eq!(labels.len(), reach.len());
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
    let peak: Vec<f32> = per_cluster
        .into_iter()
        .map(|mut rs| {
            if rs.is_empty() {
                return 0.0;
            }
            let k = ((rs.len() - 1) as f64 * PEAK_PERCENTILE).floor() as usize;
            *rs.select_nth_unstable_by(k, f32::total_cmp).1
        })
        .collect();
    labels
        .iter()
        .zip(reach)
        .map(|(&l, &r)| {
            if l < 0 {
                0.0
            } else {
                let p = peak[l as usize];
                if r <= p {
                    1.0
                } else {
                    p / r
                }
            }
        })
        .collect()
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
    fn duplicates_at_peak_do_not_zero_the_rest() {
        // One point at reach 0 among 40 members: the 5th percentile is not 0.
        let mut reach = vec![0.0];
        reach.extend((0..39).map(|i| 1.0 + i as f32 * 0.1));
        let labels = vec![0; 40];
        let s = membership_strength(&labels, &reach);
        assert!(s[39] > 0.2, "{}", s[39]);
    }
}
