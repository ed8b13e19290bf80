//! k-nearest-neighbour classification scored by k-fold cross-validation: how well a vector
//! space "knows" a label. Every point is classified by a majority vote of its `k` nearest
//! neighbours (Euclidean) among the points of the *other* folds.
//!
//! Brute force: at the sizes evaluated (at most `max_points`, 10,000 by default) and in 16–100
//! dimensions, trees barely prune; one pass costs `n × n × (folds−1)/folds × dim` multiply-adds,
//! run as blocked matrix products (`clustering::nearest`, `|q − r|² = |q|² + |r|² − 2 q·r`) with the kept
//! candidates re-ranked on exact distances. The neighbour lists do not depend on the label, so
//! one pass serves every label column with the same rows.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Queries per parallel task.
const QUERY_BLOCK: usize = 128;
/// References per matrix-multiply block (QUERY_BLOCK × REF_BLOCK f32 = 512 KiB).
const REF_BLOCK: usize = 1024;
/// Neighbours kept beyond `k` from the fast distances before exact re-ranking, so rounding in
/// `|q|² + |r|² − 2 q·r` cannot push a true neighbour out.
const EXTRA_CANDIDATES: usize = 8;

/// Deterministic, balanced fold of each of `n` points: a seeded shuffle, then positions
/// dealt round-robin to `folds` folds.
pub fn assign_folds(n: usize, folds: usize, seed: u64) -> Vec<u32> {
    let folds = folds.max(1);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut out = vec![0u32; n];
    for (pos, &i) in order.iter().enumerate() {
        out[i] = (pos % folds) as u32;
    }
    out
}

/// Out-of-fold neighbour lists: row `i` holds the indices of the `k` nearest points whose
/// fold differs from `i`'s, nearest first (ties by index).
#[derive(Debug, Clone, PartialEq)]
pub struct FoldNeighbours {
    pub k: usize,
    /// `n × k`, row-major.
    pub idx: Vec<u32>,
}

impl FoldNeighbours {
    pub fn of(&self, i: usize) -> &[u32] {
        &self.idx[i * self.k..(i + 1) * self.k]
    }
    pub fn len(&self) -> usize {
        self.idx.len().checked_div(self.k).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Squared Euclidean distance; written over fixed chunks so that it vectorises.
#[inline]
fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, ra) = a.split_at(a.len() / 8 * 8);
    let (cb, rb) = b.split_at(ca.len());
    for (x, y) in ca.chunks_exact(8).zip(cb.chunks_exact(8)) {
        for l in 0..8 {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// The `k` nearest out-of-fold neighbours of every row of `x` (`n × dim`, row-major).
/// `k` is clamped to the smallest number of out-of-fold points any row has; `k = 0` results
/// when some fold holds every point.
pub fn fold_neighbours(x: &[f32], dim: usize, folds: &[u32], k: usize) -> FoldNeighbours {
    let n = folds.len();
    assert_eq!(x.len(), n * dim, "fold_neighbours: x is not n × dim");
    let n_folds = folds.iter().map(|&f| f as usize + 1).max().unwrap_or(0);
    let mut sizes = vec![0usize; n_folds];
    for &f in folds {
        sizes[f as usize] += 1;
    }
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let k = k.min(n - largest);
    if k == 0 {
        return FoldNeighbours { k: 0, idx: vec![] };
    }
    // Rows sorted by fold make each query's references two contiguous ranges.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (folds[i], i));
    let mut sorted = Vec::with_capacity(n * dim);
    for &i in &order {
        sorted.extend_from_slice(&x[i * dim..(i + 1) * dim]);
    }
    let mut start = vec![0usize; n_folds + 1];
    for f in 0..n_folds {
        start[f + 1] = start[f] + sizes[f];
    }
    let row = |p: usize| &sorted[p * dim..(p + 1) * dim];
    // Centred copies (less cancellation in |q|² + |r|² − 2 q·r) and their squared norms.
    let mut mean = vec![0.0f64; dim];
    for r in sorted.chunks_exact(dim) {
        mean.iter_mut()
            .zip(r)
            .for_each(|(m, &v)| *m += f64::from(v));
    }
    let mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
    let centred: Vec<f32> = sorted
        .chunks_exact(dim)
        .flat_map(|r| r.iter().zip(&mean).map(|(v, m)| v - m))
        .collect();
    let norms: Vec<f32> = centred
        .chunks_exact(dim)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    // Candidates kept per query from the fast distances, re-ranked on exact ones.
    let kc = (k + EXTRA_CANDIDATES).min(n - largest);

    // Tasks: blocks of queries of one fold (sorted positions).
    let start = &start;
    let tasks: Vec<(usize, usize, usize)> = (0..n_folds)
        .flat_map(|f| {
            (start[f]..start[f + 1])
                .step_by(QUERY_BLOCK)
                .map(move |q0| (f, q0, (q0 + QUERY_BLOCK).min(start[f + 1])))
        })
        .collect();
    let per_task: Vec<Vec<u32>> = tasks
        .par_iter()
        .map(|&(f, q0, q1)| {
            let m = q1 - q0;
            let mut best_d = vec![f32::INFINITY; m * kc];
            let mut best_i = vec![usize::MAX; m * kc];
            let mut dots = vec![0.0f32; m * REF_BLOCK];
            let qb = &centred[q0 * dim..q1 * dim];
            for (r0, r1) in [(0, start[f]), (start[f + 1], n)] {
                for b0 in (r0..r1).step_by(REF_BLOCK) {
                    let b1 = (b0 + REF_BLOCK).min(r1);
                    clustering::nearest::offer_block(
                        qb,
                        &norms[q0..q1],
                        &centred[b0 * dim..b1 * dim],
                        &norms[b0..b1],
                        dim,
                        b0,
                        &mut dots,
                        &mut best_d,
                        &mut best_i,
                    );
                }
            }
            // exact distances of the candidates; ties go to the lower original index
            let mut out = Vec::with_capacity(m * k);
            let mut c: Vec<(f32, usize)> = Vec::with_capacity(kc);
            for i in 0..m {
                let q = row(q0 + i);
                c.clear();
                c.extend(
                    best_i[i * kc..(i + 1) * kc]
                        .iter()
                        .filter(|&&r| r != usize::MAX)
                        .map(|&r| (sq_dist(q, row(r)), order[r])),
                );
                c.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                out.extend(c.iter().take(k).map(|&(_, i)| i as u32));
            }
            out
        })
        .collect();
    let idx: Vec<u32> = per_task.into_iter().flatten().collect();
    // Rows were filled in sorted order: put them back in original order.
    let mut back = vec![0u32; n * k];
    for (p, &i) in order.iter().enumerate() {
        back[i * k..(i + 1) * k].copy_from_slice(&idx[p * k..(p + 1) * k]);
    }
    FoldNeighbours { k, idx: back }
}

/// The majority class among `neighbours` (class ids); a tie goes to the tied class whose
/// first vote is nearest.
pub fn vote(neighbours: &[u32], classes: &[u32], counts: &mut Vec<u32>) -> u32 {
    counts.clear();
    let mut best = (0u32, usize::MAX, u32::MAX); // (votes, first position, class)
    for &j in neighbours {
        let c = classes[j as usize] as usize;
        if counts.len() <= c {
            counts.resize(c + 1, 0);
        }
        counts[c] += 1;
    }
    for (pos, &j) in neighbours.iter().enumerate() {
        let c = classes[j as usize];
        let v = counts[c as usize];
        if v > best.0 || (v == best.0 && pos < best.1) {
            best = (v, pos, c);
        }
    }
    best.2
}

/// Share of points whose vote matches their class.
pub fn accuracy(neigh: &FoldNeighbours, classes: &[u32]) -> Option<f64> {
    if neigh.k == 0 || neigh.len() != classes.len() {
        return None;
    }
    let correct: usize = (0..classes.len())
        .into_par_iter()
        .map_init(Vec::new, |counts, i| {
            usize::from(vote(neigh.of(i), classes, counts) == classes[i])
        })
        .sum();
    Some(correct as f64 / classes.len() as f64)
}

/// [`accuracy`] averaged over several fold assignments' neighbour lists (repeated k-fold
/// cross-validation); `None` when there are none, or when any one is `None`.
pub fn mean_accuracy(neighs: &[FoldNeighbours], classes: &[u32]) -> Option<f64> {
    let each: Option<Vec<f64>> = neighs.iter().map(|n| accuracy(n, classes)).collect();
    each.filter(|a| !a.is_empty())
        .map(|a| a.iter().sum::<f64>() / a.len() as f64)
}

/// Cross-validated kNN accuracy of `classes` in the space `x` (`n × dim`): `None` when there
/// are too few points for the folds.
pub fn knn_accuracy(
    x: &[f32],
    dim: usize,
    classes: &[u32],
    k: usize,
    folds: usize,
    seed: u64,
) -> Option<f64> {
    let f = assign_folds(classes.len(), folds, seed);
    accuracy(&fold_neighbours(x, dim, &f, k), classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(x: &[f32], dim: usize, folds: &[u32], k: usize, i: usize) -> Vec<u32> {
        let mut c: Vec<(f32, usize)> = (0..folds.len())
            .filter(|&j| folds[j] != folds[i])
            .map(|j| (sq_dist(&x[i * dim..][..dim], &x[j * dim..][..dim]), j))
            .collect();
        c.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        c.iter().take(k).map(|&(_, j)| j as u32).collect()
    }

    #[test]
    fn folds_are_balanced_and_deterministic() {
        let f = assign_folds(103, 5, 7);
        assert_eq!(f, assign_folds(103, 5, 7));
        assert_ne!(f, assign_folds(103, 5, 8));
        let mut sizes = [0; 5];
        for &x in &f {
            sizes[x as usize] += 1;
        }
        assert_eq!(sizes, [21, 21, 21, 20, 20]);
    }

    #[test]
    fn neighbours_match_a_plain_sort_and_skip_the_own_fold() {
        use rand::RngExt;
        // one block, then several query and reference blocks with ragged ends; values offset
        // far from 0 so that the fast distances' cancellation would show
        for (n, dim, every) in [(300, 11, 1), (2600, 13, 7)] {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let x: Vec<f32> = (0..n * dim).map(|_| 100.0 + rng.random::<f32>()).collect();
            let folds = assign_folds(n, 4, 1);
            let nb = fold_neighbours(&x, dim, &folds, 5);
            assert_eq!(nb.k, 5);
            for i in (0..n).step_by(every) {
                assert_eq!(nb.of(i), brute(&x, dim, &folds, 5, i).as_slice(), "row {i}");
                assert!(nb.of(i).iter().all(|&j| folds[j as usize] != folds[i]));
            }
        }
    }

    #[test]
    fn k_is_clamped_and_one_fold_gives_nothing() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let nb = fold_neighbours(&x, 1, &[0, 1, 0, 1], 9);
        assert_eq!(nb.k, 2);
        assert_eq!(nb.of(0), &[1, 3]);
        assert_eq!(nb.of(3), &[2, 0]);
        assert_eq!(fold_neighbours(&x, 1, &[0, 0, 0, 0], 3).k, 0);
        assert_eq!(knn_accuracy(&x, 1, &[0, 0, 1, 1], 3, 1, 0), None);
    }

    #[test]
    fn repeated_folds_average_their_accuracies() {
        // two noisy classes on a line: each fold assignment scores differently
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let classes: Vec<u32> = (0..200).map(|i| (i % 2) as u32).collect();
        let x: Vec<f32> = classes
            .iter()
            .map(|&c| c as f32 + rand::RngExt::random_range(&mut rng, -1.0..1.0))
            .collect();
        let neighs: Vec<FoldNeighbours> = (0..4)
            .map(|seed| fold_neighbours(&x, 1, &assign_folds(200, 5, seed), 5))
            .collect();
        let each: Vec<f64> = (0..4)
            .map(|seed| knn_accuracy(&x, 1, &classes, 5, 5, seed).unwrap())
            .collect();
        assert!(each.iter().any(|&a| a != each[0]), "{each:?}");
        let mean = mean_accuracy(&neighs, &classes).unwrap();
        assert!((mean - each.iter().sum::<f64>() / 4.0).abs() < 1e-12);
        assert_eq!(mean_accuracy(&neighs[..1], &classes), Some(each[0]));
        assert_eq!(mean_accuracy(&[], &classes), None);
        // one assignment that cannot score makes the mean unknown
        let none = fold_neighbours(&x, 1, &vec![0; 200], 5);
        assert_eq!(mean_accuracy(&[neighs[0].clone(), none], &classes), None);
    }

    #[test]
    fn vote_majority_then_nearest() {
        let classes = [0, 1, 1, 2, 0];
        let mut c = Vec::new();
        assert_eq!(vote(&[1, 2, 0], &classes, &mut c), 1);
        // 0 and 1 tie with one vote each: the nearest (first) wins
        assert_eq!(vote(&[4, 1], &classes, &mut c), 0);
        // 0 and 1 tie with two votes each; class 0's first vote (index 0) is nearer
        assert_eq!(vote(&[3, 0, 1, 2, 4], &classes, &mut c), 0);
    }
}
