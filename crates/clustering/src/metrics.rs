//! Cluster quality: counts and sizes, silhouette on a deterministic sample, and agreement with a
//! reference labelling (adjusted Rand index, normalised mutual information).

use std::collections::HashMap;
use std::hash::Hash;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{ClusterError, Result};
use crate::matrix::{sq_dist, Matrix};

/// Counts of a labelling (−1 = noise).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub n_points: usize,
    pub n_clusters: usize,
    /// Size of cluster `i` at index `i`.
    pub sizes: Vec<usize>,
    pub noise: usize,
    pub noise_share: f64,
}

/// Counts clusters, their sizes and the noise; labels are expected dense from 0 (as `cluster`
/// returns them), any negative label counts as noise.
pub fn summary(labels: &[i32]) -> Summary {
    let n_clusters = labels
        .iter()
        .copied()
        .max()
        .map_or(0, |m| (m + 1).max(0) as usize);
    let mut sizes = vec![0usize; n_clusters];
    let mut noise = 0;
    for &l in labels {
        if l < 0 {
            noise += 1;
        } else {
            sizes[l as usize] += 1;
        }
    }
    Summary {
        n_points: labels.len(),
        n_clusters,
        sizes,
        noise,
        noise_share: if labels.is_empty() {
            0.0
        } else {
            noise as f64 / labels.len() as f64
        },
    }
}

/// Mean silhouette coefficient (Euclidean) over a deterministic sample of at most `sample_size`
/// clustered points, computed within that sample as scikit-learn's `silhouette_score(...,
/// sample_size=...)` does. Noise points are left out. `None` when fewer than two clusters remain
/// in the sample. A point alone in its cluster scores 0 (scikit-learn's convention).
pub fn silhouette(
    m: &Matrix,
    labels: &[i32],
    sample_size: usize,
    seed: u64,
) -> Result<Option<f64>> {
    if labels.len() != m.n_rows() {
        return Err(ClusterError::LengthMismatch {
            what: "labels",
            n: labels.len(),
            rows: m.n_rows(),
        });
    }
    let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] >= 0).collect();
    let idx: Vec<usize> = if members.len() > sample_size {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut pick = rand::seq::index::sample(&mut rng, members.len(), sample_size).into_vec();
        pick.sort_unstable();
        pick.into_iter().map(|k| members[k]).collect()
    } else {
        members
    };
    // Dense cluster ids within the sample.
    let mut remap: HashMap<i32, usize> = HashMap::new();
    let lab: Vec<usize> = idx
        .iter()
        .map(|&i| {
            let next = remap.len();
            *remap.entry(labels[i]).or_insert(next)
        })
        .collect();
    let k = remap.len();
    if k < 2 {
        return Ok(None);
    }
    let mut counts = vec![0usize; k];
    for &c in &lab {
        counts[c] += 1;
    }
    let scores: Vec<f64> = (0..idx.len())
        .into_par_iter()
        .map(|a| {
            let own = lab[a];
            if counts[own] < 2 {
                return 0.0;
            }
            let mut sums = vec![0.0f64; k];
            let ra = m.row(idx[a]);
            for (b, &ib) in idx.iter().enumerate() {
                if a != b {
                    sums[lab[b]] += f64::from(sq_dist(ra, m.row(ib)).sqrt());
                }
            }
            let intra = sums[own] / (counts[own] - 1) as f64;
            let inter = (0..k)
                .filter(|&c| c != own)
                .map(|c| sums[c] / counts[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let denom = intra.max(inter);
            if denom > 0.0 {
                (inter - intra) / denom
            } else {
                0.0
            }
        })
        .collect();
    Ok(Some(scores.iter().sum::<f64>() / scores.len() as f64))
}

/// Contingency table of two labellings of the same points: counts per (a, b) pair, row sums and
/// column sums.
struct Contingency {
    cells: Vec<u64>,
    rows: Vec<u64>,
    cols: Vec<u64>,
    n: u64,
}

fn dense<T: Hash + Eq + Clone>(labels: &[T]) -> (Vec<usize>, usize) {
    let mut ids: HashMap<T, usize> = HashMap::new();
    let v = labels
        .iter()
        .map(|l| {
            let next = ids.len();
            *ids.entry(l.clone()).or_insert(next)
        })
        .collect();
    (v, ids.len())
}

fn contingency<A, B>(a: &[A], b: &[B]) -> Result<Contingency>
where
    A: Hash + Eq + Clone,
    B: Hash + Eq + Clone,
{
    if a.len() != b.len() {
        return Err(ClusterError::LengthMismatch {
            what: "second labelling",
            n: b.len(),
            rows: a.len(),
        });
    }
    let (da, ka) = dense(a);
    let (db, kb) = dense(b);
    let mut cells: HashMap<(usize, usize), u64> = HashMap::new();
    let mut rows = vec![0u64; ka];
    let mut cols = vec![0u64; kb];
    for (&x, &y) in da.iter().zip(&db) {
        *cells.entry((x, y)).or_default() += 1;
        rows[x] += 1;
        cols[y] += 1;
    }
    Ok(Contingency {
        cells: cells.into_values().collect(),
        rows,
        cols,
        n: a.len() as u64,
    })
}

fn pairs(x: u64) -> f64 {
    let x = x as f64;
    x * (x - 1.0) / 2.0
}

/// Adjusted Rand index of two labellings (1 = identical partitions up to renaming, about 0 for
/// independent ones). Every distinct label is a group, noise (−1) included. Matches
/// scikit-learn's `adjusted_rand_score`, including its value 1 for the degenerate cases where
/// both labellings are one group or all singletons, and for empty input.
pub fn adjusted_rand_index<A, B>(a: &[A], b: &[B]) -> Result<f64>
where
    A: Hash + Eq + Clone,
    B: Hash + Eq + Clone,
{
    let c = contingency(a, b)?;
    let index: f64 = c.cells.iter().map(|&x| pairs(x)).sum();
    let sum_a: f64 = c.rows.iter().map(|&x| pairs(x)).sum();
    let sum_b: f64 = c.cols.iter().map(|&x| pairs(x)).sum();
    let total = pairs(c.n);
    if total == 0.0 {
        return Ok(1.0);
    }
    let expected = sum_a * sum_b / total;
    let max = (sum_a + sum_b) / 2.0;
    if max == expected {
        return Ok(1.0);
    }
    Ok((index - expected) / (max - expected))
}

fn entropy(counts: &[u64], n: f64) -> f64 {
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Normalised mutual information, arithmetic-mean normalisation (scikit-learn's default for
/// `normalized_mutual_info_score`): `I(a; b) / ((H(a) + H(b)) / 2)`. 1 when both labellings
/// are a single group, as in scikit-learn.
pub fn normalised_mutual_information<A, B>(a: &[A], b: &[B]) -> Result<f64>
where
    A: Hash + Eq + Clone,
    B: Hash + Eq + Clone,
{
    let c = contingency(a, b)?;
    if (c.rows.len() <= 1 && c.cols.len() <= 1) || c.n == 0 {
        return Ok(1.0);
    }
    let n = c.n as f64;
    let (da, _) = dense(a);
    let (db, _) = dense(b);
    let mut joint: HashMap<(usize, usize), u64> = HashMap::new();
    for (&x, &y) in da.iter().zip(&db) {
        *joint.entry((x, y)).or_default() += 1;
    }
    let mi: f64 = joint
        .iter()
        .map(|(&(x, y), &nxy)| {
            let pxy = nxy as f64 / n;
            pxy * (nxy as f64 * n / (c.rows[x] as f64 * c.cols[y] as f64)).ln()
        })
        .sum::<f64>()
        .max(0.0);
    let ha = entropy(&c.rows, n);
    let hb = entropy(&c.cols, n);
    let norm = (ha + hb) / 2.0;
    if norm <= 0.0 {
        return Ok(0.0);
    }
    Ok((mi / norm).min(1.0))
}

/// Agreement of clusters with one reference label column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    /// Rows compared (reference label present).
    pub n_compared: usize,
    /// Distinct reference labels among them.
    pub n_labels: usize,
    pub ari: f64,
    pub nmi: f64,
}

/// ARI and NMI of `clusters` against string `labels`, skipping rows whose label is `None`;
/// noise (−1) takes part as one more group, so labelling everything noise scores 0, not 1.
/// `None` when no row has a label.
pub fn agreement<S: AsRef<str>>(
    clusters: &[i32],
    labels: &[Option<S>],
) -> Result<Option<Agreement>> {
    if clusters.len() != labels.len() {
        return Err(ClusterError::LengthMismatch {
            what: "reference labels",
            n: labels.len(),
            rows: clusters.len(),
        });
    }
    let mut counts = AgreementCounts::default();
    for (&c, l) in clusters.iter().zip(labels) {
        counts.add(c, l.as_ref().map(AsRef::as_ref));
    }
    Ok(counts.agreement())
}

/// The counts behind [`agreement`], added a row at a time: how many rows of each cluster have
/// each reference label. What a stage keeps to score clusters against labels when the rows
/// stream past: its size grows with the clusters and labels, not the rows.
#[derive(Debug, Clone, Default)]
pub struct AgreementCounts {
    cells: HashMap<(i32, String), u64>,
}

impl AgreementCounts {
    /// Counts one row; a row without a label is skipped.
    pub fn add(&mut self, cluster: i32, label: Option<&str>) {
        if let Some(l) = label {
            match self.cells.get_mut(&(cluster, l.to_string())) {
                Some(n) => *n += 1,
                None => {
                    self.cells.insert((cluster, l.to_string()), 1);
                }
            }
        }
    }

    /// ARI and NMI of the rows counted, as [`adjusted_rand_index`] and
    /// [`normalised_mutual_information`] give them; `None` when no row had a label.
    pub fn agreement(&self) -> Option<Agreement> {
        if self.cells.is_empty() {
            return None;
        }
        let mut rows: HashMap<i32, u64> = HashMap::new();
        let mut cols: HashMap<&str, u64> = HashMap::new();
        for ((c, l), &k) in &self.cells {
            *rows.entry(*c).or_default() += k;
            *cols.entry(l.as_str()).or_default() += k;
        }
        let n: u64 = self.cells.values().sum();
        let (nf, total) = (n as f64, pairs(n));
        let index: f64 = self.cells.values().map(|&x| pairs(x)).sum();
        let sum_a: f64 = rows.values().map(|&x| pairs(x)).sum();
        let sum_b: f64 = cols.values().map(|&x| pairs(x)).sum();
        let ari = if total == 0.0 {
            1.0
        } else {
            let expected = sum_a * sum_b / total;
            let max = (sum_a + sum_b) / 2.0;
            if max == expected {
                1.0
            } else {
                (index - expected) / (max - expected)
            }
        };
        let nmi = if rows.len() <= 1 && cols.len() <= 1 {
            1.0
        } else {
            let mi: f64 = self
                .cells
                .iter()
                .map(|((c, l), &nxy)| {
                    let pxy = nxy as f64 / nf;
                    pxy * (nxy as f64 * nf / (rows[c] as f64 * cols[l.as_str()] as f64)).ln()
                })
                .sum::<f64>()
                .max(0.0);
            let counts = |m: Vec<u64>| entropy(&m, nf);
            let norm = (counts(rows.values().copied().collect())
                + counts(cols.values().copied().collect()))
                / 2.0;
            if norm <= 0.0 {
                0.0
            } else {
                (mi / norm).min(1.0)
            }
        };
        Some(Agreement {
            n_compared: n as usize,
            n_labels: cols.len(),
            ari,
            nmi,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn ari_matches_scikit_learn() {
        // Values from sklearn.metrics.adjusted_rand_score.
        assert!(close(
            adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]).unwrap(),
            4.0 / 7.0
        ));
        let t = [0, 0, 0, 1, 1, 1];
        let p = [0, 0, 1, 1, 2, 2];
        assert!(close(
            adjusted_rand_index(&t, &p).unwrap(),
            0.24242424242424246
        ));
        assert!(close(
            adjusted_rand_index(&[0, 0, 0, 0], &[0, 1, 2, 3]).unwrap(),
            0.0
        ));
        // Identical and permuted partitions.
        assert_eq!(adjusted_rand_index(&t, &t).unwrap(), 1.0);
        assert!(close(
            adjusted_rand_index(&[0, 0, 1, 1, 2], &["b", "b", "c", "c", "a"]).unwrap(),
            1.0
        ));
        assert!(adjusted_rand_index(&[0, 1], &[0]).is_err());
    }

    #[test]
    fn nmi_matches_scikit_learn() {
        // Values from sklearn.metrics.normalized_mutual_info_score (arithmetic).
        assert!(close(
            normalised_mutual_information(&[0, 0, 1, 1], &[0, 0, 1, 2]).unwrap(),
            0.8
        ));
        let t = [0, 0, 0, 1, 1, 1];
        let p = [0, 0, 1, 1, 2, 2];
        let v = normalised_mutual_information(&t, &p).unwrap();
        assert!((v - 0.5158037429793889).abs() < 1e-9, "{v}");
        assert!(close(
            normalised_mutual_information(&[1, 1, 2, 2], &[7, 7, 3, 3]).unwrap(),
            1.0
        ));
        assert_eq!(
            normalised_mutual_information(&[0, 0, 0], &[0, 1, 2]).unwrap(),
            0.0
        );
    }

    #[test]
    fn agreement_skips_missing_labels() {
        let clusters = [0, 0, 1, 1, -1, 1];
        let labels = [Some("a"), Some("a"), Some("b"), Some("b"), None, None];
        let a = agreement(&clusters, &labels).unwrap().unwrap();
        assert_eq!(a.n_compared, 4);
        assert_eq!(a.n_labels, 2);
        assert_eq!(a.ari, 1.0);
        assert!(close(a.nmi, 1.0));
        assert_eq!(agreement::<&str>(&clusters, &[None; 6]).unwrap(), None);
    }

    #[test]
    fn summary_counts() {
        let s = summary(&[0, 1, 1, -1, 2, 1]);
        assert_eq!(s.n_clusters, 3);
        assert_eq!(s.sizes, vec![1, 3, 1]);
        assert_eq!(s.noise, 1);
        assert!(close(s.noise_share, 1.0 / 6.0));
    }

    #[test]
    fn silhouette_of_separated_groups_is_high_and_of_mixed_is_low() {
        let rows: Vec<[f32; 1]> = vec![[0.0], [0.1], [0.2], [10.0], [10.1], [10.2]];
        let m = Matrix::from_rows(&rows).unwrap();
        let good = silhouette(&m, &[0, 0, 0, 1, 1, 1], 100, 0)
            .unwrap()
            .unwrap();
        assert!(good > 0.95, "{good}");
        let bad = silhouette(&m, &[0, 1, 0, 1, 0, 1], 100, 0)
            .unwrap()
            .unwrap();
        assert!(bad < 0.0, "{bad}");
        // By hand: point 0 has a = 0.15, b = 10.1, s = 0.98515; point 0.1: s = 0.99; point 0.2:
        // s = 0.98485; the mean over both symmetric groups is 0.98667.
        assert!((good - 0.9866656665666568).abs() < 1e-5, "{good}");
        assert_eq!(
            silhouette(&m, &[0, 0, 0, -1, -1, -1], 100, 0).unwrap(),
            None
        );
    }
}
