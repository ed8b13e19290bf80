//! k-nearest-neighbour classification scored by k-fold cross-validation: how well a vector
//! space "knows" a label. Every point is classified by a majority vote of its `k` nearest
//! neighbours (Euclidean) among the points of the *other* folds.
//!
//! Brute force: at the sizes evaluated (at most `max_points`, 10,000 by default) and in 16–100
//! dimensions, trees barely prune; one pass costs `n × n × (folds−1)/folds × dim` multiply-adds,
//! under a second in release on two cores for 10k × 50-d. The neighbour lists do not depend on
//! the label, so one pass serves every label column with the same rows.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Queries per parallel task.
const QUERY_BLOCK: usize = 64;

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
        if self.k == 0 {
            0
        } else {
            self.idx.len() / self.k
        }
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

    let mut idx = vec![0u32; n * k];
    // Work in sorted positions; translate to original indices at the end.
    idx.par_chunks_mut(QUERY_BLOCK * k)
        .enumerate()
        .for_each(|(block, out)| {
            let mut best_d = vec![f32::INFINITY; k];
            let mut best_i = vec![usize::MAX; k];
            for (qi, out_row) in out.chunks_mut(k).enumerate() {
                let p = block * QUERY_BLOCK + qi;
                let f = folds[order[p]] as usize;
                let q = row(p);
                best_d.fill(f32::INFINITY);
                best_i.fill(usize::MAX);
                for r in (0..start[f]).chain(start[f + 1]..n) {
                    let d = sq_dist(q, row(r));
                    if d < best_d[k - 1] {
                        // insertion; r grows, so equal distances keep the earlier index first
                        let mut j = k - 1;
                        while j > 0 && best_d[j - 1] > d {
                            best_d[j] = best_d[j - 1];
                            best_i[j] = best_i[j - 1];
                            j -= 1;
                        }
                        best_d[j] = d;
                        best_i[j] = r;
                    }
                }
                for (o, &r) in out_row.iter_mut().zip(&best_i) {
                    *o = order[r] as u32;
                }
            }
        });
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
        let dim = 11;
        let n = 300;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        use rand::RngExt;
        let x: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>()).collect();
        let folds = assign_folds(n, 4, 1);
        let nb = fold_neighbours(&x, dim, &folds, 5);
        assert_eq!(nb.k, 5);
        for i in 0..n {
            assert_eq!(nb.of(i), brute(&x, dim, &folds, 5, i).as_slice(), "row {i}");
            assert!(nb.of(i).iter().all(|&j| folds[j as usize] != folds[i]));
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
