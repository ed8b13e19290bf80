//! Groups embedding vectors: by density with HDBSCAN (exact below a size threshold,
//! sample-and-assign above it) or DBSCAN, or into `k` parts with k-means, with optional reductions first (cosine normalisation, standardising,
//! PCA), a per-point membership strength, the 2-D maps (PCA, and UMAP in [`umap`]), and quality metrics
//! (sizes, noise share, silhouette, ARI and NMI against reference labels). The exact kNN search
//! under all of it ([`knn::search`]) also serves the cross-validated kNN classifier
//! ([`classify`]): how well a vector space knows a label, the question ARI and NMI ask of the
//! clusters.
//!
//! Everything works on a validated row-major [`Matrix`] of `f32`; labels are `i32` with −1 for
//! noise and clusters numbered from 0 by decreasing size.

use std::borrow::Cow;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;
use tracing::debug;

pub mod blobs;
pub mod classify;
mod dbscan;
mod error;
mod exact;
pub mod fitted;
mod kmeans;
pub mod knn;
mod matrix;
pub mod metrics;
mod nearest;
pub mod reduce;
mod sampled;
pub mod strength;
mod subspace;
pub mod umap;

pub use error::{ClusterError, Result};
pub use fitted::{Assignment, FittedInfo, FittedModel, Preparation, Rule, Source};
pub use matrix::Matrix;
pub use metrics::{
    adjusted_rand_index, agreement, normalised_mutual_information, silhouette, summary, Agreement,
    AgreementCounts, Summary,
};
pub use reduce::{
    l2_normalise, l2_normalise_row, pca, project_2d, standardise, Eigensolver, Pca, Standardiser,
};
pub use sampled::{SampleSettings, SampledRun};

/// Which clustering algorithm runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    #[default]
    Hdbscan,
    Dbscan,
    /// k-means: every point in one of `k` clusters, no noise.
    Kmeans,
}

/// Distance between embeddings.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    #[default]
    Euclidean,
    /// Cosine distance, realised as Euclidean distance between L2-normalised rows (same
    /// neighbour order, so the same density clusters up to the scale of `eps`).
    Cosine,
}

/// Which vectors of an embeddings table are clustered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Vectors {
    /// the whole drawing's (the `embedding` column)
    Embedding,
    /// what is drawn inside the drawing's largest stroke (the `inside` column)
    Inside,
    /// the largest stroke alone (the `outline` column)
    Outline,
    /// the strokes neither inside the largest stroke nor it (the `outside` column)
    Outside,
}

impl Vectors {
    /// The column these vectors are read from.
    pub fn column(self) -> &'static str {
        match self {
            Vectors::Embedding => "embedding",
            Vectors::Inside => "inside",
            Vectors::Outline => "outline",
            Vectors::Outside => "outside",
        }
    }
}

/// Every setting of a clustering run: the `[cluster]` section of `pipeline.toml` deserialises
/// into it (unknown keys are an error, missing keys take the defaults, which are `make all`'s),
/// its 2-D map's in `[cluster.map]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterParams {
    /// Which vectors of embeddings.parquet are clustered: the whole drawing's (`embedding`) or
    /// one of its parts' (`inside`: what is inside its largest stroke, a face's eyes, nose and
    /// mouth; `outline`: that stroke; `outside`: the rest, a face's hair and ears).
    #[default(Vectors::Inside)]
    pub vectors: Vectors,
    /// A drawing that lacks the part clustered (a cat drawn in one stroke has no inside) is
    /// clustered by its whole drawing's vector instead; false leaves it out as noise.
    #[default(true)]
    pub whole_when_missing: bool,
    /// kmeans puts every drawing in one of `k` groups of near vectors; hdbscan finds its own
    /// number of clusters and leaves noise; dbscan groups at a fixed radius (`eps`).
    #[default(Algorithm::Kmeans)]
    pub algorithm: Algorithm,
    /// HDBSCAN: smallest group reported as a cluster (at least 2).
    #[default(40)]
    pub min_cluster_size: usize,
    /// Neighbours (counting the point) that make a point dense; 0 = `min_cluster_size`.
    #[default(10)]
    pub min_samples: usize,
    /// DBSCAN neighbourhood radius, in the distance after the reductions.
    #[default(0.5)]
    pub eps: f32,
    /// Distance between vectors (cosine: rows scaled to unit length first).
    #[default(Metric::Euclidean)]
    pub metric: Metric,
    /// Scale every column to zero mean, unit variance before clustering.
    #[default(false)]
    pub standardise: bool,
    /// Reduce to this many principal components before clustering; 0 = keep all.
    #[default(0)]
    pub pca_dims: usize,
    /// HDBSCAN runs exactly up to this many points, and by sample-and-assign above.
    #[default(20_000)]
    pub exact_max_points: usize,
    /// Points clustered exactly on the sample-and-assign path.
    #[default(20_000)]
    pub sample_size: usize,
    /// Sample-and-assign: a point joins its nearest clustered sample point `j` when within
    /// this multiple of `j`'s core distance.
    #[default(2.0)]
    pub assign_factor: f32,
    /// k-means: the number of clusters.
    #[default(16)]
    pub k: usize,
    /// k-means: seeded starts, of which the best (lowest sum of squared distances) is kept.
    #[default(4)]
    pub restarts: usize,
    /// Seed of the sample and of k-means' starts.
    #[default(0)]
    pub seed: u64,
    /// Points in the silhouette's sample.
    #[default(2000)]
    pub silhouette_sample: usize,
    /// Fit on at most this many drawings: a uniform sample of the table (the drawings whose
    /// key_id, hashed with `seed`, is among the smallest: the same sample whatever the order of
    /// the rows or files), read a batch at a time so that memory stays flat however long the
    /// table. The output then holds the sample's drawings; `cluster --model` places every
    /// drawing. 0 = fit on every drawing.
    #[default(0)]
    pub fit_max_drawings: usize,
    pub map: umap::MapParams,
}

impl ClusterParams {
    /// `min_samples` with 0 resolved to `min_cluster_size`.
    pub fn effective_min_samples(&self) -> usize {
        if self.min_samples == 0 {
            self.min_cluster_size
        } else {
            self.min_samples
        }
    }

    /// Checks the settings that do not depend on the data.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, reason: &str| {
            Err(ClusterError::Param {
                name,
                reason: reason.to_string(),
            })
        };
        self.map.validate()?;
        if self.min_cluster_size < 2 {
            return bad("min_cluster_size", "must be at least 2");
        }
        if self.algorithm == Algorithm::Dbscan && !(self.eps.is_finite() && self.eps > 0.0) {
            return bad("eps", "must be a positive number");
        }
        if !(self.assign_factor.is_finite() && self.assign_factor > 0.0) {
            return bad("assign_factor", "must be a positive number");
        }
        if self.sample_size < 2 {
            return bad("sample_size", "must be at least 2");
        }
        if self.algorithm == Algorithm::Kmeans && (self.k == 0 || self.restarts == 0) {
            return bad(
                if self.k == 0 { "k" } else { "restarts" },
                "must be at least 1",
            );
        }
        Ok(())
    }
}

/// How the labels were produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "path", rename_all = "snake_case")]
pub enum Method {
    /// The `hdbscan` crate on every point.
    ExactHdbscan,
    /// The `hdbscan` crate on a sample, the rest assigned (see the `sampled` module).
    SampledHdbscan(SampledRun),
    Dbscan,
    /// k-means; `inertia` is the sum of squared distances to the centres.
    Kmeans {
        inertia: f64,
    },
}

/// Result of [`cluster`].
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// Per point: −1 noise, else the cluster, numbered from 0 by decreasing size.
    pub labels: Vec<i32>,
    /// Per point membership strength in `[0, 1]` (0 for noise); `1 − strength` is an outlier
    /// score. See [`strength`](crate::strength) for the definition; for k-means, 1 − d₁/d₂
    /// (distances to its own centre and to the nearest other one).
    pub strength: Vec<f32>,
    /// Per point GLOSH-like outlier score in `[0, 1]`, noise points included (higher = more of
    /// an outlier); see [`strength`](crate::strength). For k-means, 1 − m/d₁ with m the median
    /// distance to the centre in the point's cluster (0 when nearer than that).
    pub outlier: Vec<f32>,
    pub method: Method,
    /// Share of variance the PCA reduction kept, when one ran.
    pub pca_kept_variance: Option<f64>,
}

impl Clustering {
    pub fn summary(&self) -> Summary {
        summary(&self.labels)
    }

    /// This clustering of some rows, spread back over all `n` rows: row `rows[r]` takes row
    /// `r`'s label and scores, and every other row is noise (label −1, strength 0, outlier
    /// score 1). For clustering only the rows that have a vector of some kind.
    pub fn spread(&self, rows: &[usize], n: usize) -> Clustering {
        let mut out = Clustering {
            labels: vec![-1; n],
            strength: vec![0.0; n],
            outlier: vec![1.0; n],
            ..self.clone()
        };
        for (r, &i) in rows.iter().enumerate() {
            out.labels[i] = self.labels[r];
            out.strength[i] = self.strength[r];
            out.outlier[i] = self.outlier[r];
        }
        out
    }
}

/// The data after the configured reductions, as clustering sees it.
pub struct Prepared<'a> {
    pub matrix: Cow<'a, Matrix>,
    pub pca: Option<Pca>,
    /// The fitted standardisation, when `standardise` is on (kept for [`fitted`]).
    pub standardiser: Option<Standardiser>,
}

impl Prepared<'_> {
    /// The reductions as a [`Preparation`] that new points can go through.
    pub fn preparation(&self, p: &ClusterParams) -> Preparation {
        Preparation {
            l2_normalise: p.metric == Metric::Cosine,
            standardiser: self.standardiser.clone(),
            pca: self.pca.clone(),
        }
    }
}

/// Applies, in order, cosine normalisation (metric = cosine), standardising and PCA.
pub fn prepare<'a>(m: &'a Matrix, p: &ClusterParams) -> Result<Prepared<'a>> {
    m.require_rows()?;
    let mut x = Cow::Borrowed(m);
    if p.metric == Metric::Cosine {
        x = Cow::Owned(l2_normalise(&x));
    }
    let mut standardiser = None;
    if p.standardise {
        let s = Standardiser::fit(&x)?;
        x = Cow::Owned(s.transform(&x)?);
        standardiser = Some(s);
    }
    let mut model = None;
    if p.pca_dims > 0 {
        let (projected, fitted) = pca(&x, p.pca_dims)?;
        x = Cow::Owned(projected);
        model = Some(fitted);
    }
    Ok(Prepared {
        matrix: x,
        pca: model,
        standardiser,
    })
}

/// The 2-D map of the embeddings: PCA to two dimensions of the data as clustering sees it.
pub fn map_2d(m: &Matrix, p: &ClusterParams) -> Result<Matrix> {
    let prepared = prepare(m, p)?;
    project_2d(&prepared.matrix)
}

/// Clusters the rows of `m` as `p` says. Errors on empty input or invalid parameters.
pub fn cluster(m: &Matrix, p: &ClusterParams) -> Result<Clustering> {
    p.validate()?;
    let prepared = prepare(m, p)?;
    cluster_prepared(&prepared, p)
}

/// Clusters data already passed through [`prepare`] with the same `p` (for callers that also
/// need the prepared matrix, e.g. for the silhouette or the 2-D map).
pub fn cluster_prepared(prepared: &Prepared<'_>, p: &ClusterParams) -> Result<Clustering> {
    Ok(cluster_and_fit(prepared, p)?.0)
}

/// [`cluster_prepared`], also giving back the [`Rule`] that places new points as the fit
/// placed its own: k-means' centres, or the density clusterings' clustered points with their
/// core distances (see [`fitted`]).
pub fn cluster_and_fit(prepared: &Prepared<'_>, p: &ClusterParams) -> Result<(Clustering, Rule)> {
    p.validate()?;
    let x: &Matrix = &prepared.matrix;
    let ms = p.effective_min_samples();
    // `anchors`: the points new ones are placed by (their reach is their own core distance)
    let (labels, reach, method, anchors) = match p.algorithm {
        Algorithm::Hdbscan if x.n_rows() <= p.exact_max_points => {
            let t = Instant::now();
            let labels = exact::exact_hdbscan(x, p.min_cluster_size, ms)?;
            debug!(secs = t.elapsed().as_secs_f32(), "exact HDBSCAN");
            let t = Instant::now();
            let core = knn::core_distances(x, ms)?;
            debug!(secs = t.elapsed().as_secs_f32(), "core distances");
            (labels, core, Method::ExactHdbscan, None)
        }
        Algorithm::Hdbscan => {
            let settings = SampleSettings {
                sample_size: p.sample_size,
                assign_factor: p.assign_factor,
                seed: p.seed,
            };
            let s = sampled::sampled_hdbscan(x, p.min_cluster_size, ms, &settings)?;
            (
                s.labels,
                s.reach,
                Method::SampledHdbscan(s.run),
                Some(s.sample),
            )
        }
        Algorithm::Dbscan => {
            let labels = dbscan::dbscan(x, p.eps, ms)?;
            (labels, knn::core_distances(x, ms)?, Method::Dbscan, None)
        }
        Algorithm::Kmeans => {
            // strength and outlier scores from the centres, not from neighbours: no
            // neighbour search, which would cost 10× the clustering on 160k points
            let t = Instant::now();
            let km = kmeans::kmeans(x, p.k, p.restarts, p.seed)?;
            debug!(secs = t.elapsed().as_secs_f32(), "k-means");
            let (strength, outlier) = (km.strength(), km.outlier());
            let labels = relabel_by_size(&km.labels);
            let rule = Rule::from_kmeans(&km, &labels, x.dim());
            let c = Clustering {
                labels,
                strength,
                outlier,
                method: Method::Kmeans {
                    inertia: km.inertia,
                },
                pca_kept_variance: prepared.pca.as_ref().map(Pca::kept_variance),
            };
            return Ok((c, rule));
        }
    };
    let labels = relabel_by_size(&labels);
    let strength = strength::membership_strength(&labels, &reach);
    let outlier = strength::outlier_scores(x, &labels, &reach)?;
    let anchors: Vec<usize> = match anchors {
        Some(sample) => sample.into_iter().filter(|&i| labels[i] >= 0).collect(),
        None => (0..labels.len()).filter(|&i| labels[i] >= 0).collect(),
    };
    let rule = Rule::nearest(x, &labels, &reach, &anchors, p.assign_factor);
    let c = Clustering {
        labels,
        strength,
        outlier,
        method,
        pca_kept_variance: prepared.pca.as_ref().map(Pca::kept_variance),
    };
    Ok((c, rule))
}

/// Renumbers clusters 0, 1, … by decreasing size (ties: first appearance), noise stays −1, so
/// ids are dense and comparable in reports whatever the backend numbered.
pub fn relabel_by_size(labels: &[i32]) -> Vec<i32> {
    let mut counts: std::collections::HashMap<i32, (usize, usize)> = Default::default();
    for (i, &l) in labels.iter().enumerate() {
        if l >= 0 {
            counts.entry(l).or_insert((0, i)).0 += 1;
        }
    }
    let mut order: Vec<(i32, usize, usize)> =
        counts.into_iter().map(|(l, (c, f))| (l, c, f)).collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let map: std::collections::HashMap<i32, i32> = order
        .iter()
        .enumerate()
        .map(|(new, &(old, _, _))| (old, new as i32))
        .collect();
    labels
        .iter()
        .map(|l| if *l < 0 { -1 } else { map[l] })
        .collect()
}

#[cfg(test)]
mod tests;
