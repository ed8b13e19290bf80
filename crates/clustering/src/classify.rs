//! k-nearest-neighbour classification scored by k-fold cross-validation: how well a vector
//! space "knows" a label. Every point is classified by a majority vote of its `k` nearest
//! neighbours (Euclidean) among the points of the *other* folds.
//!
//! The neighbours come from this crate's one exact search ([`crate::knn::search`]): per fold,
//! its rows are the queries and the other folds' rows the references. The neighbour lists do
//! not depend on the label, so one pass serves every label column with the same rows.
//!
//! Why here and not in `evaluate`: it is a generic tool over an embedding matrix and labels,
//! built on the search that lives here, beside the clustering metrics (ARI, NMI) that score
//! the same question for clusters; `evaluate` only chooses the rows and reports the numbers.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::matrix::Matrix;

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

/// The `k` nearest out-of-fold neighbours of every row of `x` (`n × dim`, row-major), exact
/// and with ties broken by index. `k` is clamped to the smallest number of out-of-fold points
/// any row has; `k = 0` results when some fold holds every point.
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
    let all = Matrix::from_parts(x.to_vec(), dim);
    let mut idx = vec![0u32; n * k];
    for f in 0..n_folds as u32 {
        // References in ascending original index, so the search's tie rule (lower reference
        // index first) is the tie rule on the original indices.
        let (queries, refs): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| folds[i] == f);
        if queries.is_empty() {
            continue;
        }
        let lists = crate::knn::search(&all.select_rows(&queries), &all.select_rows(&refs), k)
            .expect("fold_neighbours: queries and references are not empty (k > 0)");
        debug_assert_eq!(lists.k, k, "every fold has at least k references");
        for (q, &i) in queries.iter().enumerate() {
            for (slot, &j) in idx[i * k..(i + 1) * k].iter_mut().zip(lists.row(q).0) {
                *slot = refs[j] as u32;
            }
        }
    }
    FoldNeighbours { k, idx }
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

    use crate::matrix::sq_dist;
    use rand::RngExt;

    /// The naive O(n²) reference: every out-of-fold point sorted by exact squared distance,
    /// ties by index.
    fn brute(x: &[f32], dim: usize, folds: &[u32], k: usize, i: usize) -> Vec<u32> {
        let mut c: Vec<(f32, usize)> = (0..folds.len())
            .filter(|&j| folds[j] != folds[i])
            .map(|j| (sq_dist(&x[i * dim..][..dim], &x[j * dim..][..dim]), j))
            .collect();
        c.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        c.iter().take(k).map(|&(_, j)| j as u32).collect()
    }

    #[test]
    fn neighbours_match_the_naive_search_with_duplicate_rows() {
        // Many exact ties: 600 rows drawn from 40 distinct points (each repeated about 15
        // times, more than k + the search's margin of candidates), on a coarse grid so that
        // distinct points also tie in distance, offset from 0 so cancellation would show.
        // Every row and every k must match the naive search exactly, tie order included.
        let (n, dim) = (600, 6);
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let points: Vec<Vec<f32>> = (0..40)
            .map(|_| {
                (0..dim)
                    .map(|_| 50.0 + rng.random_range(0..3) as f32)
                    .collect()
            })
            .collect();
        let x: Vec<f32> = (0..n)
            .flat_map(|_| points[rng.random_range(0..points.len())].clone())
            .collect();
        for (folds, k) in [(5, 5), (3, 20), (2, 1)] {
            let f = assign_folds(n, folds, 4);
            let nb = fold_neighbours(&x, dim, &f, k);
            assert_eq!(nb.k, k);
            for i in 0..n {
                assert_eq!(
                    nb.of(i),
                    brute(&x, dim, &f, k, i).as_slice(),
                    "row {i}, k {k}"
                );
            }
        }
        // ... and continuous random data (rare ties) in a wider space, several blocks
        let (n, dim) = (1500, 40);
        let x: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>() - 0.5).collect();
        let f = assign_folds(n, 5, 2);
        let nb = fold_neighbours(&x, dim, &f, 7);
        for i in (0..n).step_by(3) {
            assert_eq!(nb.of(i), brute(&x, dim, &f, 7, i).as_slice(), "row {i}");
        }
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
            .map(|&c| c as f32 + rng.random_range(-1.0..1.0))
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
