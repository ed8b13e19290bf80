//! HDBSCAN beyond the exact path's reach: cluster a random sample exactly, then assign the rest.
//!
//! Why: the `hdbscan` crate's minimum spanning tree is Prim over all pairs, O(n²); measured here
//! at 50-d it takes 40–46 s at 50k points and a projected ~400 s at 160k (see
//! `../shared/notes/hdbscan-scale.md`, beside the repository). A random sample of ~20k points keeps the density landscape, so:
//!
//! 1. draw `sample_size` points uniformly (seeded, so runs repeat);
//! 2. run exact HDBSCAN on them with `min_cluster_size` (and `min_samples`, floored at
//!    [`MIN_SAMPLES_FLOOR`]) multiplied by the sampling fraction, since a cluster of `m` points
//!    holds about `m · fraction` sample points;
//! 3. compute each sample point's core distance within the sample (same `min_samples`);
//! 4. give every other point the label of its nearest *clustered* sample point `j` when
//!    `d(p, j) ≤ assign_factor · core(j)`, else noise. At factor 1 a quarter of blob points fell
//!    to noise in the measurements (sample core distances are those of a sparser set, and a
//!    point is on average further than `core(j)` from `j`); at 2 the blobs came out whole while
//!    uniform noise far from every cluster stays noise.
//!
//! The nearest-neighbour step is an exact blocked brute-force search (see `knn`) of the
//! clustered sample points: O(n · s · d), a few seconds at 160k × 20k × 50.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tracing::debug;

use crate::error::Result;
use crate::exact::exact_hdbscan;
use crate::knn::{core_distances, knn};
use crate::matrix::Matrix;

/// Settings of the sample-and-assign path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleSettings {
    pub sample_size: usize,
    pub assign_factor: f32,
    pub seed: u64,
}

/// The parameters the exact run on the sample used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SampledRun {
    pub sample_size: usize,
    pub min_cluster_size: usize,
    pub min_samples: usize,
}

/// Result of the sampled path: labels and, per point, the distance at which it joins its
/// cluster (its own core distance for sample points, the mutual-reachability distance to its
/// sample neighbour for assigned points), from which membership strength is derived.
pub(crate) struct Sampled {
    pub labels: Vec<i32>,
    pub reach: Vec<f32>,
    pub run: SampledRun,
    /// The sample's points (indices into the input, ascending): their `reach` is their core
    /// distance within the sample, and the clustered ones are what the rest was assigned to.
    pub sample: Vec<usize>,
}

/// The scaled `min_samples` never drops below this (or the unscaled value, if smaller): a core
/// distance to the 2nd or 3rd neighbour is too noisy a density estimate, and lets a handful of
/// uniform noise points that happen to be close form clusters. Measured on 160k 50-d blobs with
/// 5% noise, PCA to 16, min_cluster_size 40, min_samples 10: a floor of 2 gave 30 clusters
/// (22 spurious), ARI 0.987; a floor of 5 gave 9 clusters (1 spurious), ARI 0.996.
const MIN_SAMPLES_FLOOR: usize = 5;

/// Scales a size parameter by the sampling fraction, never below `floor`.
fn scale(v: usize, fraction: f64, floor: usize) -> usize {
    ((v as f64 * fraction).round() as usize).max(floor)
}

pub(crate) fn sampled_hdbscan(
    m: &Matrix,
    min_cluster_size: usize,
    min_samples: usize,
    s: &SampleSettings,
) -> Result<Sampled> {
    m.require_rows()?;
    let n = m.n_rows();
    let size = s.sample_size.clamp(1, n);
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
    let mut idx = rand::seq::index::sample(&mut rng, n, size).into_vec();
    idx.sort_unstable();
    let fraction = size as f64 / n as f64;
    let run = SampledRun {
        sample_size: size,
        min_cluster_size: scale(min_cluster_size, fraction, 2),
        min_samples: scale(min_samples, fraction, min_samples.min(MIN_SAMPLES_FLOOR)),
    };
    let sample = m.select_rows(&idx);
    let t = Instant::now();
    let sample_labels = exact_hdbscan(&sample, run.min_cluster_size, run.min_samples)?;
    debug!(
        secs = t.elapsed().as_secs_f32(),
        ?run,
        "exact HDBSCAN on the sample"
    );
    let t = Instant::now();
    let sample_core = core_distances(&sample, run.min_samples)?;
    debug!(secs = t.elapsed().as_secs_f32(), "sample core distances");
    let t = Instant::now();

    let mut labels = vec![-1i32; n];
    let mut reach = vec![f32::INFINITY; n];
    let mut in_sample = vec![false; n];
    for (k, &i) in idx.iter().enumerate() {
        in_sample[i] = true;
        labels[i] = sample_labels[k];
        reach[i] = sample_core[k];
    }
    let clustered: Vec<usize> = (0..size).filter(|&k| sample_labels[k] >= 0).collect();
    if clustered.is_empty() {
        return Ok(Sampled {
            labels,
            reach,
            run,
            sample: idx,
        });
    }
    let anchors = sample.select_rows(&clustered);
    let rest: Vec<usize> = (0..n).filter(|&i| !in_sample[i]).collect();
    if !rest.is_empty() {
        let nb = knn(&m.select_rows(&rest), &anchors, 1)?;
        for (q, &i) in rest.iter().enumerate() {
            let k = clustered[nb.nearest[q]];
            let (d, core) = (nb.nearest_dist[q], sample_core[k]);
            if d <= s.assign_factor * core {
                labels[i] = sample_labels[k];
                reach[i] = d.max(core);
            }
        }
    }
    debug!(secs = t.elapsed().as_secs_f32(), "assigned the rest");
    Ok(Sampled {
        labels,
        reach,
        run,
        sample: idx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_keeps_a_floor() {
        assert_eq!(scale(25, 0.125, 2), 3);
        assert_eq!(scale(10, 0.01, 2), 2);
        assert_eq!(scale(100, 1.0, 2), 100);
    }
}
