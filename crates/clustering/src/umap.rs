//! A 2-D map that keeps neighbours: UMAP (McInnes, Healy & Melville 2018) fitted on a sample
//! of the rows, the other rows placed on it as umap-learn's `transform` places new points.
//!
//! Why our own: the Rust UMAP crates either optimise Hogwild-parallel (`umap-rs`: the result
//! changes from run to run, and this map must be reproducible by seed), panic on bad input and
//! place no new points, or pull in a deep-learning framework (`fast-umap`, on burn) or BLAS
//! (`annembed`). What UMAP needs is small: exact k-nearest neighbours (this crate's blocked
//! brute force, [`crate::knn`]), the fuzzy graph, and a seeded stochastic gradient descent.
//!
//! Steps, as in umap-learn with its defaults (15 neighbours, `min_dist` 0.1, spread 1):
//! 1. On a uniform sample (seeded) of at most `sample` rows: each row's `neighbours` nearest,
//!    turned into membership weights `exp(−(d − ρ)/σ)` (ρ: distance to the nearest, σ chosen so
//!    the weights sum to log2 k), symmetrised as `a + b − ab`.
//! 2. The sample's 2-D PCA, scaled to a box of side 20, as the starting layout (umap-learn
//!    starts from a spectral layout; PCA is deterministic and as good on these data).
//! 3. `epochs` epochs of SGD: each edge pulls its ends together as often as its weight says,
//!    with 5 random repulsions per pull, learning rate falling linearly to 0.
//! 4. Every other row: its `neighbours` nearest sample rows give its start, their weighted mean
//!    position; a third of the epochs then move it alone against the fixed sample layout. Each
//!    row draws from its own seeded stream, so the result does not depend on thread count.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;

use crate::error::{ClusterError, Result};
use crate::knn::{knn_lists, NeighbourLists};
use crate::matrix::Matrix;
use crate::reduce::project_2d;

/// How the 2-D map is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MapMethod {
    Pca,
    Umap,
}

/// `[cluster.map]`: how the 2-D map of the vectors (clusters.parquet's `x`, `y`) is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct MapParams {
    /// umap keeps each drawing's neighbours near it on the map (fitted on at most `sample`
    /// drawings, the rest placed on that map); pca (the first two principal components) is
    /// fast, keeps the large distances and mixes neighbours.
    #[default(MapMethod::Umap)]
    pub method: MapMethod,
    /// Neighbours per point in the fuzzy graph (umap-learn's `n_neighbors`).
    #[default(15)]
    pub neighbours: usize,
    /// How tightly points may pack on the map (umap-learn's `min_dist`).
    #[default(0.1)]
    pub min_dist: f32,
    /// Optimisation epochs of the fitted sample.
    #[default(200)]
    pub epochs: usize,
    /// Rows fitted at most; the rest are placed on the fitted map.
    #[default(20_000)]
    pub sample: usize,
    /// Seed of the sample, the negative samples and the placement.
    #[default(0)]
    pub seed: u64,
}

impl MapParams {
    pub fn validate(&self) -> Result<()> {
        let bad = |name, reason: &str| {
            Err(ClusterError::Param {
                name,
                reason: reason.into(),
            })
        };
        if self.neighbours < 2 {
            return bad("map_neighbours", "must be at least 2");
        }
        if !(self.min_dist.is_finite() && self.min_dist >= 0.0 && self.min_dist < 1.0) {
            return bad("map_min_dist", "must be in [0, 1)");
        }
        if self.epochs == 0 {
            return bad("map_epochs", "must be at least 1");
        }
        if self.sample < 2 {
            return bad("map_sample", "must be at least 2");
        }
        Ok(())
    }
}

/// What a UMAP run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UmapReport {
    /// Rows fitted (the sample) and placed on the fitted map.
    pub fitted: usize,
    pub placed: usize,
    /// Edges of the fuzzy graph.
    pub edges: usize,
    /// The curve parameters fitted to `min_dist`.
    pub a: f32,
    pub b: f32,
}

/// UMAP of the rows of `m` to two dimensions (row-major `n × 2`).
pub fn umap_2d(m: &Matrix, p: &MapParams) -> Result<(Matrix, UmapReport)> {
    p.validate()?;
    m.require_rows()?;
    let n = m.n_rows();
    let (a, b) = fit_ab(1.0, p.min_dist);
    if n < 3 {
        // too few points for a neighbour graph: the PCA layout says all there is
        let xy = project_2d(m)?;
        let report = UmapReport {
            fitted: n,
            placed: 0,
            edges: 0,
            a,
            b,
        };
        return Ok((xy, report));
    }

    // 1. the sample and its graph
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let sample: Vec<usize> = if n <= p.sample {
        (0..n).collect()
    } else {
        let mut idx = rand::seq::index::sample(&mut rng, n, p.sample).into_vec();
        idx.sort_unstable();
        idx
    };
    let fit_m = m.select_rows(&sample);
    let s = fit_m.n_rows();
    let k = p.neighbours.min(s - 1);
    // k + 1: each point is its own first neighbour
    let lists = knn_lists(&fit_m, &fit_m, k + 1)?;
    let graph = fuzzy_graph(&lists, k);

    // 2. the start: PCA, scaled to a box of side 20
    let mut emb = project_2d(&fit_m)?.into_vec();
    scale_to_box(&mut emb, 10.0);

    // 3. the fit
    optimise(&mut emb, &graph, s, a, b, p.epochs, &mut rng);

    // 4. the other rows
    let mut xy = vec![0.0f32; n * 2];
    for (r, &i) in sample.iter().enumerate() {
        xy[2 * i] = emb[2 * r];
        xy[2 * i + 1] = emb[2 * r + 1];
    }
    let rest: Vec<usize> = {
        let mut in_sample = vec![false; n];
        for &i in &sample {
            in_sample[i] = true;
        }
        (0..n).filter(|&i| !in_sample[i]).collect()
    };
    if !rest.is_empty() {
        let placed = place(m, &rest, &fit_m, &emb, k, a, b, p);
        for (&i, pos) in rest.iter().zip(placed?) {
            xy[2 * i] = pos[0];
            xy[2 * i + 1] = pos[1];
        }
    }
    let report = UmapReport {
        fitted: s,
        placed: rest.len(),
        edges: graph.heads.len(),
        a,
        b,
    };
    Ok((Matrix::from_parts(xy, 2), report))
}

/// The symmetrised fuzzy graph as a list of weighted edges (each undirected edge once).
struct Graph {
    heads: Vec<u32>,
    tails: Vec<u32>,
    weights: Vec<f32>,
}

/// umap-learn's `smooth_knn_dist`: ρ and σ of one point from its neighbour distances (self
/// excluded), so that `Σ exp(−max(0, d − ρ)/σ) = log2(k)`.
fn smooth_knn(dists: &[f32]) -> (f32, f32) {
    let k = dists.len();
    let target = (k as f32).log2();
    let rho = dists.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0);
    let (mut lo, mut hi, mut mid) = (0.0f32, f32::INFINITY, 1.0f32);
    for _ in 0..64 {
        let psum: f32 = dists.iter().map(|&d| weight(d, rho, mid)).sum();
        if (psum - target).abs() < 1e-5 {
            break;
        }
        if psum > target {
            hi = mid;
            mid = (lo + hi) / 2.0;
        } else {
            lo = mid;
            mid = if hi.is_finite() {
                (lo + hi) / 2.0
            } else {
                mid * 2.0
            };
        }
    }
    // umap-learn's floor: σ at least 1e-3 of the mean neighbour distance
    let mean = dists.iter().sum::<f32>() / k.max(1) as f32;
    (rho, mid.max(1e-3 * mean).max(1e-12))
}

/// A neighbour's membership weight at distance `d`: 1 up to the nearest's distance ρ, then
/// falling off with scale σ.
fn weight(d: f32, rho: f32, sigma: f32) -> f32 {
    let x = d - rho;
    if x > 0.0 {
        (-x / sigma).exp()
    } else {
        1.0
    }
}

fn membership(dists: &[f32]) -> Vec<f32> {
    let (rho, sigma) = smooth_knn(dists);
    dists.iter().map(|&d| weight(d, rho, sigma)).collect()
}

fn fuzzy_graph(lists: &NeighbourLists, k: usize) -> Graph {
    let n = lists.indices.len() / lists.k;
    // directed weights, self dropped
    let directed: Vec<Vec<(u32, f32)>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let (idx, d) = lists.row(i);
            let pairs: Vec<(usize, f32)> = idx
                .iter()
                .copied()
                .zip(d.iter().copied())
                .filter(|&(j, _)| j != i)
                .take(k)
                .collect();
            let ds: Vec<f32> = pairs.iter().map(|p| p.1).collect();
            let w = membership(&ds);
            pairs
                .iter()
                .zip(w)
                .map(|(&(j, _), w)| (j as u32, w))
                .collect()
        })
        .collect();
    // a + b − ab over both directions; each undirected edge kept once (i < j)
    let mut edges: std::collections::BTreeMap<(u32, u32), (f32, f32)> = Default::default();
    for (i, row) in directed.iter().enumerate() {
        for &(j, w) in row {
            let (lo, hi) = if (i as u32) < j {
                (i as u32, j)
            } else {
                (j, i as u32)
            };
            let e = edges.entry((lo, hi)).or_insert((0.0, 0.0));
            if (i as u32) < j {
                e.0 = w;
            } else {
                e.1 = w;
            }
        }
    }
    let mut g = Graph {
        heads: Vec::with_capacity(edges.len()),
        tails: Vec::with_capacity(edges.len()),
        weights: Vec::with_capacity(edges.len()),
    };
    for ((i, j), (w1, w2)) in edges {
        let w = w1 + w2 - w1 * w2;
        if w > 0.0 {
            g.heads.push(i);
            g.tails.push(j);
            g.weights.push(w);
        }
    }
    g
}

fn scale_to_box(xy: &mut [f32], half: f32) {
    let max = xy.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max > 0.0 {
        let f = half / max;
        xy.iter_mut().for_each(|v| *v *= f);
    }
}

/// umap-learn's `find_ab_params`: `a, b` of `1 / (1 + a·d^(2b))` fitted by least squares to 1
/// below `min_dist` and `exp(−(d − min_dist)/spread)` above, on 300 points of `[0, 3·spread]`.
pub fn fit_ab(spread: f32, min_dist: f32) -> (f32, f32) {
    let xs: Vec<f64> = (0..300)
        .map(|i| 3.0 * spread as f64 * i as f64 / 299.0)
        .collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| {
            if x < min_dist as f64 {
                1.0
            } else {
                (-(x - min_dist as f64) / spread as f64).exp()
            }
        })
        .collect();
    let loss = |a: f64, b: f64| -> f64 {
        xs.iter()
            .zip(&ys)
            .map(|(&x, &y)| {
                let f = 1.0 / (1.0 + a * x.powf(2.0 * b));
                (f - y) * (f - y)
            })
            .sum()
    };
    // a coarse grid, then shrinking pattern search: smooth, two parameters, no library needed
    let mut best = (1.0f64, 1.0f64, f64::INFINITY);
    for ai in 1..=60 {
        for bi in 1..=40 {
            let (a, b) = (ai as f64 * 0.1, bi as f64 * 0.05);
            let l = loss(a, b);
            if l < best.2 {
                best = (a, b, l);
            }
        }
    }
    let (mut a, mut b, mut l) = best;
    let (mut da, mut db) = (0.05, 0.025);
    while da > 1e-7 {
        let mut moved = false;
        for (sa, sb) in [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)] {
            let (na, nb) = (a + sa * da, b + sb * db);
            if na > 0.0 && nb > 0.0 {
                let nl = loss(na, nb);
                if nl < l {
                    (a, b, l) = (na, nb, nl);
                    moved = true;
                }
            }
        }
        if !moved {
            da /= 2.0;
            db /= 2.0;
        }
    }
    (a as f32, b as f32)
}

const NEGATIVES: f32 = 5.0;
const CLIP: f32 = 4.0;

fn clip(v: f32) -> f32 {
    v.clamp(-CLIP, CLIP)
}

/// The attraction's gradient coefficient at squared distance `d2`.
fn pull(d2: f32, a: f32, b: f32) -> f32 {
    if d2 > 0.0 {
        (-2.0 * a * b * d2.powf(b - 1.0)) / (1.0 + a * d2.powf(b))
    } else {
        0.0
    }
}

/// The repulsion's gradient coefficient at squared distance `d2`.
fn push(d2: f32, a: f32, b: f32) -> f32 {
    if d2 > 0.0 {
        (2.0 * b) / ((0.001 + d2) * (1.0 + a * d2.powf(b)))
    } else {
        0.0
    }
}

/// umap-learn's `optimize_layout_euclidean` (single-threaded: reproducible by seed).
fn optimise(
    emb: &mut [f32],
    g: &Graph,
    n: usize,
    a: f32,
    b: f32,
    epochs: usize,
    rng: &mut ChaCha8Rng,
) {
    let max_w = g.weights.iter().fold(0.0f32, |m, &w| m.max(w));
    // an edge is pulled once every `per_sample` epochs (umap-learn drops edges pulled less
    // than once in the whole run)
    let per_sample: Vec<f32> = g
        .weights
        .iter()
        .map(|&w| {
            let n_samples = epochs as f32 * w / max_w;
            if n_samples >= 1.0 {
                epochs as f32 / n_samples
            } else {
                -1.0
            }
        })
        .collect();
    let per_negative: Vec<f32> = per_sample.iter().map(|&e| e / NEGATIVES).collect();
    let mut next_sample = per_sample.clone();
    let mut next_negative = per_negative.clone();
    for epoch in 0..epochs {
        let alpha = 1.0 - epoch as f32 / epochs as f32;
        let e = epoch as f32;
        for edge in 0..g.heads.len() {
            if per_sample[edge] <= 0.0 || next_sample[edge] > e {
                continue;
            }
            let (i, j) = (g.heads[edge] as usize, g.tails[edge] as usize);
            let (dx, dy) = (emb[2 * i] - emb[2 * j], emb[2 * i + 1] - emb[2 * j + 1]);
            let c = pull(dx * dx + dy * dy, a, b);
            let (gx, gy) = (clip(c * dx) * alpha, clip(c * dy) * alpha);
            emb[2 * i] += gx;
            emb[2 * i + 1] += gy;
            emb[2 * j] -= gx;
            emb[2 * j + 1] -= gy;
            next_sample[edge] += per_sample[edge];

            let negs = ((e - next_negative[edge]) / per_negative[edge]).max(0.0) as usize;
            for _ in 0..negs {
                let k = rng.random_range(0..n);
                if k == i {
                    continue;
                }
                let (dx, dy) = (emb[2 * i] - emb[2 * k], emb[2 * i + 1] - emb[2 * k + 1]);
                let d2 = dx * dx + dy * dy;
                let c = push(d2, a, b);
                let (gx, gy) = if c > 0.0 {
                    (clip(c * dx), clip(c * dy))
                } else {
                    (CLIP, CLIP)
                };
                emb[2 * i] += gx * alpha;
                emb[2 * i + 1] += gy * alpha;
            }
            next_negative[edge] += negs as f32 * per_negative[edge];
        }
    }
}

/// Places each row of `m` named in `rest` on the fitted layout `emb` of `fit_m`.
#[allow(clippy::too_many_arguments)]
fn place(
    m: &Matrix,
    rest: &[usize],
    fit_m: &Matrix,
    emb: &[f32],
    k: usize,
    a: f32,
    b: f32,
    p: &MapParams,
) -> Result<Vec<[f32; 2]>> {
    let s = fit_m.n_rows();
    let epochs = (p.epochs / 3).max(1);
    // in blocks, so the neighbour lists of a million rows are never all in memory
    const BLOCK: usize = 8192;
    let mut out = Vec::with_capacity(rest.len());
    for chunk in rest.chunks(BLOCK) {
        let q = m.select_rows(chunk);
        let lists = knn_lists(&q, fit_m, k)?;
        let placed: Vec<[f32; 2]> = (0..chunk.len())
            .into_par_iter()
            .map(|r| {
                let (idx, d) = lists.row(r);
                let w = membership(d);
                let total: f32 = w.iter().sum::<f32>().max(1e-12);
                let mut pos = [0.0f32; 2];
                for (&j, &wj) in idx.iter().zip(&w) {
                    pos[0] += wj * emb[2 * j] / total;
                    pos[1] += wj * emb[2 * j + 1] / total;
                }
                // its own stream: the same position whatever the thread or block
                let mut rng = ChaCha8Rng::seed_from_u64(
                    p.seed ^ 0x9e37_79b9_7f4a_7c15 ^ (chunk[r] as u64).wrapping_mul(0x2545_f491),
                );
                let max_w = w.iter().fold(0.0f32, |m, &x| m.max(x)).max(1e-12);
                for epoch in 0..epochs {
                    let alpha = 1.0 - epoch as f32 / epochs as f32;
                    for (&j, &wj) in idx.iter().zip(&w) {
                        // each neighbour pulls with probability by its weight
                        if rng.random::<f32>() > wj / max_w {
                            continue;
                        }
                        let (dx, dy) = (pos[0] - emb[2 * j], pos[1] - emb[2 * j + 1]);
                        let c = pull(dx * dx + dy * dy, a, b);
                        pos[0] += clip(c * dx) * alpha;
                        pos[1] += clip(c * dy) * alpha;
                        for _ in 0..NEGATIVES as usize {
                            let kk = rng.random_range(0..s);
                            let (dx, dy) = (pos[0] - emb[2 * kk], pos[1] - emb[2 * kk + 1]);
                            let c = push(dx * dx + dy * dy, a, b);
                            if c > 0.0 {
                                pos[0] += clip(c * dx) * alpha;
                                pos[1] += clip(c * dy) * alpha;
                            }
                        }
                    }
                }
                pos
            })
            .collect();
        out.extend(placed);
    }
    Ok(out)
}

/// The share of each point's `k` nearest neighbours among the rows of `high` that are also
/// among its `k` nearest on the map `low` (both sets exclude the point itself), averaged over
/// at most `queries` points (a seeded sample; all when there are fewer).
pub fn neighbours_kept(
    high: &Matrix,
    low: &Matrix,
    k: usize,
    queries: usize,
    seed: u64,
) -> Result<f64> {
    high.require_rows()?;
    if high.n_rows() != low.n_rows() {
        return Err(ClusterError::LengthMismatch {
            what: "map rows",
            n: low.n_rows(),
            rows: high.n_rows(),
        });
    }
    let n = high.n_rows();
    if n < 2 || k == 0 {
        return Ok(1.0);
    }
    let k = k.min(n - 1);
    let q: Vec<usize> = if n <= queries {
        (0..n).collect()
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rand::seq::index::sample(&mut rng, n, queries).into_vec()
    };
    let hi = knn_lists(&high.select_rows(&q), high, k + 1)?;
    let lo = knn_lists(&low.select_rows(&q), low, k + 1)?;
    let kept: usize = (0..q.len())
        .map(|r| {
            let own = q[r];
            let others = |l: &NeighbourLists| -> std::collections::HashSet<usize> {
                l.row(r)
                    .0
                    .iter()
                    .copied()
                    .filter(|&j| j != own)
                    .take(k)
                    .collect()
            };
            let (a, b) = (others(&hi), others(&lo));
            a.iter().filter(|j| b.contains(j)).count()
        })
        .sum();
    Ok(kept as f64 / (q.len() * k) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blobs::{gaussian_blobs, BlobSpec};
    use rand::RngExt;

    #[test]
    fn ab_matches_umap_learn_for_its_defaults() {
        // umap-learn: find_ab_params(1.0, 0.1) = (1.577, 0.895)
        let (a, b) = fit_ab(1.0, 0.1);
        assert!((a - 1.577).abs() < 0.01, "a = {a}");
        assert!((b - 0.895).abs() < 0.01, "b = {b}");
    }

    #[test]
    fn sigma_makes_the_weights_sum_to_log2_k() {
        let d = [0.5f32, 0.7, 0.9, 1.4, 2.0, 2.5, 3.0, 4.0];
        let w = membership(&d);
        assert_eq!(w[0], 1.0, "the nearest neighbour has weight 1");
        let s: f32 = w.iter().sum();
        assert!((s - 3.0).abs() < 1e-3, "sum {s}");
        assert!(w.windows(2).all(|p| p[0] >= p[1]));
    }

    fn blobs(n: usize, seed: u64) -> (Matrix, Vec<i32>) {
        gaussian_blobs(&BlobSpec {
            n_points: n,
            dim: 20,
            n_blobs: 6,
            noise_share: 0.0,
            seed,
            ..BlobSpec::default()
        })
    }

    /// A sheet: 2-D points (u, v) curled into 20 dimensions by sines of random mixtures,
    /// so that near points stay near and the sheet folds over itself in any linear view.
    fn sheet(n: usize, seed: u64) -> Matrix {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mix: Vec<(f32, f32, f32)> = (0..20)
            .map(|_| {
                (
                    rng.random_range(-8.0..8.0),
                    rng.random_range(-8.0..8.0),
                    rng.random_range(0.0..6.3),
                )
            })
            .collect();
        let mut data = Vec::with_capacity(n * 20);
        for _ in 0..n {
            let (u, v): (f32, f32) = (rng.random(), rng.random());
            data.extend(mix.iter().map(|(a, b, c)| (a * u + b * v + c).sin()));
        }
        Matrix::new(data, 20).unwrap()
    }

    #[test]
    fn keeps_neighbours_better_than_pca_and_is_reproducible() {
        let m = sheet(1500, 4);
        let p = MapParams {
            seed: 7,
            epochs: 200,
            ..MapParams::default()
        };
        let (xy, report) = umap_2d(&m, &p).unwrap();
        assert_eq!((report.fitted, report.placed), (1500, 0));
        assert!(xy.as_slice().iter().all(|v| v.is_finite()));
        let (again, _) = umap_2d(&m, &p).unwrap();
        assert_eq!(xy, again, "same seed, same map");
        let pca = project_2d(&m).unwrap();
        let kept_umap = neighbours_kept(&m, &xy, 10, 1500, 1).unwrap();
        let kept_pca = neighbours_kept(&m, &pca, 10, 1500, 1).unwrap();
        assert!(
            kept_umap > 0.5 && kept_umap > kept_pca + 0.15,
            "umap {kept_umap:.3} vs pca {kept_pca:.3}"
        );
    }

    #[test]
    fn separate_blobs_stay_apart() {
        let (m, labels) = blobs(1500, 4);
        let (xy, _) = umap_2d(&m, &MapParams::default()).unwrap();
        // each point's nearest map neighbour is of its blob
        let nn = knn_lists(&xy, &xy, 2).unwrap();
        let same = (0..1500)
            .filter(|&i| labels[nn.row(i).0[1]] == labels[i])
            .count();
        assert!(same as f64 / 1500.0 > 0.95, "{same} of 1500");
    }

    #[test]
    fn placed_rows_land_among_their_blob() {
        let (m, labels) = blobs(3000, 5);
        let p = MapParams {
            sample: 1000,
            seed: 3,
            epochs: 120,
            ..MapParams::default()
        };
        let (xy, report) = umap_2d(&m, &p).unwrap();
        assert_eq!((report.fitted, report.placed), (1000, 2000));
        let (again, _) = umap_2d(&m, &p).unwrap();
        assert_eq!(xy, again, "placement is reproducible");
        let nn = knn_lists(&xy, &xy, 6).unwrap();
        let same = (0..3000)
            .filter(|&i| {
                let (idx, _) = nn.row(i);
                idx[1..].iter().filter(|&&j| labels[j] == labels[i]).count() >= 4
            })
            .count();
        assert!(same as f64 / 3000.0 > 0.95, "{same} of 3000");
    }

    #[test]
    fn tiny_and_degenerate_inputs() {
        let one = Matrix::from_rows(&[[1.0f32, 2.0]]).unwrap();
        let (xy, _) = umap_2d(&one, &MapParams::default()).unwrap();
        assert_eq!(xy.n_rows(), 1);
        // identical rows: distances all zero, nothing divides by zero
        let same = Matrix::from_rows(&vec![[0.5f32, 0.5, 0.5]; 40]).unwrap();
        let (xy, _) = umap_2d(&same, &MapParams::default()).unwrap();
        assert!(xy.as_slice().iter().all(|v| v.is_finite()));
        let bad = MapParams {
            neighbours: 1,
            ..MapParams::default()
        };
        assert!(matches!(
            umap_2d(&same, &bad),
            Err(ClusterError::Param { .. })
        ));
    }
}
