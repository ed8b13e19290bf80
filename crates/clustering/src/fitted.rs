//! The fitted cluster model: what a clustering run learnt, kept so that new points (drawings
//! embedded later, drawings the model generated) are placed in its clusters without refitting.
//!
//! It is two files: `NAME.json` (a [`FittedInfo`]: the vector column, the settings, the cluster
//! sizes, the embedding model's id) and `NAME.safetensors` beside it (the numbers). A new point
//! goes through the same [`Preparation`] as the fitted ones (L2 normalisation for the cosine
//! metric, then the standardisation's means and scales, then the PCA's mean and components) and
//! is then placed by the [`Rule`]:
//!
//! - **k-means** (`centroids`): the nearest centre's cluster; strength `1 − d₁/d₂` (distances
//!   to the nearest and second-nearest centre) and outlier score `1 − m/d₁` (`m` the median
//!   distance to the centre among the cluster's fitted points), as the fit scored its own points.
//!   A fitted point is placed exactly where the fit put it.
//! - **HDBSCAN and DBSCAN** (`nearest`): the clustered points (every clustered point on the
//!   exact paths, the clustered sample points on HDBSCAN's sample-and-assign path) with their
//!   labels and core distances. A new point joins the cluster of its nearest clustered point `j`
//!   when `d(p, j) ≤ assign_factor · core(j)`, else it is noise: the rule the sample-and-assign
//!   path uses for the points outside its sample (see `sampled`), the counterpart of the Python
//!   library's `approximate_predict`. Its strength is `min(1, peak(C) / max(d, core(j)))` with
//!   `peak(C)` the cluster's density peak from the fit (see [`strength`](crate::strength));
//!   noise has strength 0 and the outlier score of the nearest cluster.
//!
//! Tensors of `NAME.safetensors` (little-endian, row-major):
//!
//! | name | dtype, shape | meaning |
//! | --- | --- | --- |
//! | `standardise.mean`, `standardise.scale` | f64 `[d]` | `(v − mean) · scale`, when standardised |
//! | `pca.mean` | f64 `[d]` | subtracted before projecting, when PCA ran |
//! | `pca.components` | f64 `[k, d]` | the principal axes, by decreasing variance |
//! | `pca.explained_variance_ratio` | f64 `[k]` | each axis' share of the variance |
//! | `centroids` | f32 `[clusters, d']` | k-means: centre of cluster `i` in row `i` |
//! | `median_distance` | f32 `[clusters]` | k-means: median distance to the centre |
//! | `points` | f32 `[n, d']` | density: the clustered points, prepared |
//! | `labels` | i32 `[n]` | density: their clusters |
//! | `core_distance` | f32 `[n]` | density: their core distances |
//! | `peak_reach` | f32 `[clusters]` | density: each cluster's density peak (5th percentile of reach) |
//!
//! `d` is the embedding width, `d'` the width after the reductions; clusters are numbered as
//! in `clusters.parquet` (0 the largest).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::error::{ClusterError, Result};
use crate::kmeans::KMeans;
use crate::knn::knn;
use crate::matrix::{sq_dist, Matrix};
use crate::reduce::{l2_normalise, Pca, Standardiser};
use crate::strength::{cluster_peaks, ratio};
use crate::ClusterParams;

/// Version of the fitted model's files.
pub const FORMAT: u32 = 1;

/// The reductions applied before clustering, fitted on the clustered points.
#[derive(Debug, Clone, PartialEq)]
pub struct Preparation {
    /// Rows scaled to unit length first (the cosine metric).
    pub l2_normalise: bool,
    pub standardiser: Option<Standardiser>,
    pub pca: Option<Pca>,
}

impl Preparation {
    /// `m` as clustering saw the fitted points.
    pub fn apply(&self, m: &Matrix) -> Result<Matrix> {
        let mut x = if self.l2_normalise {
            l2_normalise(m)
        } else {
            m.clone()
        };
        if let Some(s) = &self.standardiser {
            x = s.transform(&x)?;
        }
        if let Some(p) = &self.pca {
            x = p.transform(&x)?;
        }
        Ok(x)
    }
}

/// How a prepared point is given its cluster (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// k-means: cluster `i`'s centre is row `i`.
    Centroids {
        centres: Matrix,
        /// Per cluster, the median distance of its fitted points to its centre.
        median: Vec<f32>,
    },
    /// HDBSCAN, DBSCAN: the nearest clustered point within `assign_factor` of its core distance.
    Nearest {
        points: Matrix,
        labels: Vec<i32>,
        core: Vec<f32>,
        /// Per cluster, its density peak (the reach distance that scores strength 1).
        peaks: Vec<f32>,
        assign_factor: f32,
    },
}

/// Where some points were placed: per point its cluster (−1 noise), strength and outlier score,
/// defined as in [`Clustering`](crate::Clustering).
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub labels: Vec<i32>,
    pub strength: Vec<f32>,
    pub outlier: Vec<f32>,
}

impl Rule {
    /// The k-means rule, its centres renumbered as `labels` (the relabelled `km.labels`).
    pub(crate) fn from_kmeans(km: &KMeans, labels: &[i32], dim: usize) -> Rule {
        let k = km.centres.len() / dim;
        // old → new cluster number; a centre no point kept (never, after Lloyd) goes last
        let mut new_of = vec![usize::MAX; k];
        for (&old, &new) in km.labels.iter().zip(labels) {
            new_of[old as usize] = new as usize;
        }
        let first_free = labels.iter().map(|&l| l + 1).max().unwrap_or(0) as usize;
        let unused = new_of.iter_mut().filter(|n| **n == usize::MAX);
        for (next, n) in (first_free..).zip(unused) {
            *n = next;
        }
        let mut centres = vec![0f32; k * dim];
        for (old, &new) in new_of.iter().enumerate() {
            centres[new * dim..(new + 1) * dim]
                .copy_from_slice(&km.centres[old * dim..(old + 1) * dim]);
        }
        let mut per: Vec<Vec<f32>> = vec![Vec::new(); k];
        for (&l, &d) in labels.iter().zip(&km.distance) {
            per[l as usize].push(d);
        }
        let median = per.iter_mut().map(|v| median(v)).collect();
        Rule::Centroids {
            centres: Matrix::from_parts(centres, dim),
            median,
        }
    }

    /// The density rule: the `anchors` rows of `x` (clustered points whose `reach` is their
    /// own core distance), with every cluster's density peak from all points' reach.
    pub(crate) fn nearest(
        x: &Matrix,
        labels: &[i32],
        reach: &[f32],
        anchors: &[usize],
        assign_factor: f32,
    ) -> Rule {
        Rule::Nearest {
            points: x.select_rows(anchors),
            labels: anchors.iter().map(|&i| labels[i]).collect(),
            core: anchors.iter().map(|&i| reach[i]).collect(),
            peaks: cluster_peaks(labels, reach),
            assign_factor,
        }
    }

    /// The number of clusters points can be placed in.
    pub fn n_clusters(&self) -> usize {
        match self {
            Rule::Centroids { median, .. } => median.len(),
            Rule::Nearest { peaks, .. } => peaks.len(),
        }
    }

    /// The width of the prepared points it places.
    pub fn dim(&self) -> usize {
        match self {
            Rule::Centroids { centres, .. } => centres.dim(),
            Rule::Nearest { points, .. } => points.dim(),
        }
    }

    /// Places the rows of `x` (already prepared).
    pub fn place(&self, x: &Matrix) -> Result<Assignment> {
        x.require_rows()?;
        if x.dim() != self.dim() {
            return Err(ClusterError::Param {
                name: "dimension",
                reason: format!(
                    "the fitted clusters are in {} dimensions, the points in {}",
                    self.dim(),
                    x.dim()
                ),
            });
        }
        match self {
            Rule::Centroids { centres, median } => Ok(place_centroids(x, centres, median)),
            Rule::Nearest {
                points,
                labels,
                core,
                peaks,
                assign_factor,
            } => {
                let n = x.n_rows();
                let mut out = Assignment {
                    labels: vec![-1; n],
                    strength: vec![0.0; n],
                    outlier: vec![1.0; n],
                };
                if points.is_empty() {
                    // nothing was clustered: every point is noise
                    return Ok(out);
                }
                let nb = knn(x, points, 1)?;
                for i in 0..n {
                    let j = nb.nearest[i];
                    let (d, c) = (nb.nearest_dist[i], core[j]);
                    let s = ratio(peaks[labels[j] as usize], d.max(c));
                    if d <= assign_factor * c {
                        out.labels[i] = labels[j];
                        out.strength[i] = s;
                    }
                    out.outlier[i] = 1.0 - s;
                }
                Ok(out)
            }
        }
    }
}

fn place_centroids(x: &Matrix, centres: &Matrix, median: &[f32]) -> Assignment {
    let n = x.n_rows();
    let mut out = Assignment {
        labels: Vec::with_capacity(n),
        strength: Vec::with_capacity(n),
        outlier: Vec::with_capacity(n),
    };
    for r in x.rows() {
        // as k-means assigns: the smallest squared distance, ties to the lower number
        let (mut best, mut d1, mut d2) = (0usize, f32::INFINITY, f32::INFINITY);
        for (j, c) in centres.rows().enumerate() {
            let d = sq_dist(r, c);
            if d < d1 {
                (d2, d1, best) = (d1, d, j);
            } else if d < d2 {
                d2 = d;
            }
        }
        let (d1, d2) = (d1.sqrt(), d2.sqrt());
        out.labels.push(best as i32);
        out.strength.push(if d2.is_finite() && d2 > 0.0 {
            (1.0 - d1 / d2).clamp(0.0, 1.0)
        } else {
            1.0
        });
        let m = median[best];
        out.outlier.push(if d1 > m && d1 > 0.0 {
            1.0 - m / d1
        } else {
            0.0
        });
    }
    out
}

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f32::total_cmp).1
}

/// `NAME.json` of a fitted model: what was clustered and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedInfo {
    pub format: u32,
    /// The embeddings' column that was clustered (`embedding`, `inside`, `outline`, `outside`).
    pub vectors: String,
    /// Width of those vectors.
    pub dim: usize,
    /// Id of the embedding model that made the vectors (`embed.model_id` of the embeddings'
    /// footer); vectors of another model are refused.
    pub embedding_model: Option<String>,
    /// The embeddings table that was clustered, as given to `cluster`.
    pub embeddings: String,
    /// `centroids` (k-means) or `nearest` (HDBSCAN, DBSCAN).
    pub rule: String,
    pub n_clusters: usize,
    /// Fitted points per cluster, cluster `i` at index `i`.
    pub sizes: Vec<usize>,
    pub noise: usize,
    /// The reductions, in order: L2 normalisation (cosine), standardising, PCA.
    pub l2_normalise: bool,
    pub standardise: bool,
    pub pca_dims: usize,
    /// Every setting of the fit.
    pub params: ClusterParams,
    /// The tensors' file, beside this one.
    pub tensors: String,
}

/// Where the fitted vectors came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The embeddings' column clustered.
    pub vectors: String,
    /// Width of the vectors.
    pub dim: usize,
    /// The embeddings table.
    pub embeddings: String,
    /// The embedding model's id (`embed.model_id`).
    pub embedding_model: Option<String>,
}

/// A fitted cluster model: [`FittedInfo`], [`Preparation`] and [`Rule`].
#[derive(Debug, Clone, PartialEq)]
pub struct FittedModel {
    pub info: FittedInfo,
    pub preparation: Preparation,
    pub rule: Rule,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> ClusterError {
    ClusterError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The tensors file's path for the info file `json` (same stem, `.safetensors`).
pub fn tensors_path(json: &Path) -> PathBuf {
    json.with_extension("safetensors")
}

/// Writes `bytes` beside `target`, fsyncs and renames it into place (the `durable` crate's
/// writer, which every output of the pipeline goes through).
fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    durable::write_bytes(target, bytes).map_err(|e| io_err(target, e))
}

/// Tensors by name, as raw little-endian bytes with their dtype and shape.
struct Tensors {
    items: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
}

impl Tensors {
    fn f64(&mut self, name: &str, shape: Vec<usize>, v: &[f64]) {
        self.items
            .push((name.into(), Dtype::F64, shape, f64_bytes(v)));
    }
    fn f32(&mut self, name: &str, shape: Vec<usize>, v: &[f32]) {
        self.items
            .push((name.into(), Dtype::F32, shape, f32_bytes(v)));
    }
    fn i32(&mut self, name: &str, shape: Vec<usize>, v: &[i32]) {
        self.items
            .push((name.into(), Dtype::I32, shape, i32_bytes(v)));
    }
}

/// Reads typed tensors out of a safetensors buffer, checking dtype and shape.
struct Reader<'a> {
    st: SafeTensors<'a>,
    path: &'a Path,
}

impl Reader<'_> {
    fn view(&self, name: &str, dtype: Dtype, shape: &[Option<usize>]) -> Result<TensorView<'_>> {
        let t = self
            .st
            .tensor(name)
            .map_err(|_| io_err(self.path, format!("no tensor `{name}`")))?;
        let ok = t.dtype() == dtype
            && t.shape().len() == shape.len()
            && t.shape()
                .iter()
                .zip(shape)
                .all(|(&a, b)| b.is_none_or(|b| a == b));
        if !ok {
            return Err(io_err(
                self.path,
                format!(
                    "tensor `{name}` is {:?} {:?}, expected {dtype:?} of shape {shape:?}",
                    t.dtype(),
                    t.shape()
                ),
            ));
        }
        Ok(t)
    }
    fn f64(&self, name: &str, shape: &[Option<usize>]) -> Result<(Vec<f64>, Vec<usize>)> {
        let t = self.view(name, Dtype::F64, shape)?;
        let v = t
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        Ok((v, t.shape().to_vec()))
    }
    fn f32(&self, name: &str, shape: &[Option<usize>]) -> Result<(Vec<f32>, Vec<usize>)> {
        let t = self.view(name, Dtype::F32, shape)?;
        let v = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        Ok((v, t.shape().to_vec()))
    }
    fn i32(&self, name: &str, shape: &[Option<usize>]) -> Result<Vec<i32>> {
        let t = self.view(name, Dtype::I32, shape)?;
        Ok(t.data()
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect())
    }
    fn has(&self, name: &str) -> bool {
        self.st.tensor(name).is_ok()
    }
}

impl FittedModel {
    /// A model from a fit: its settings, reductions and rule, the sizes and noise of its
    /// `labels`, and where the vectors came from.
    pub fn new(
        params: &ClusterParams,
        preparation: Preparation,
        rule: Rule,
        labels: &[i32],
        source: Source,
    ) -> FittedModel {
        let s = crate::summary(labels);
        let info = FittedInfo {
            format: FORMAT,
            vectors: source.vectors,
            dim: source.dim,
            embedding_model: source.embedding_model,
            embeddings: source.embeddings,
            rule: match rule {
                Rule::Centroids { .. } => "centroids",
                Rule::Nearest { .. } => "nearest",
            }
            .to_string(),
            n_clusters: rule.n_clusters(),
            sizes: s.sizes,
            noise: s.noise,
            l2_normalise: preparation.l2_normalise,
            standardise: preparation.standardiser.is_some(),
            pca_dims: preparation.pca.as_ref().map_or(0, |p| p.components.len()),
            params: params.clone(),
            tensors: String::new(),
        };
        FittedModel {
            info,
            preparation,
            rule,
        }
    }

    /// Writes `json` and the tensors beside it (`.safetensors`), each atomically, the tensors
    /// first, so a complete `json` always has its tensors.
    pub fn save(&self, json: &Path) -> Result<()> {
        let tensors_file = tensors_path(json);
        let mut t = Tensors { items: Vec::new() };
        let p = &self.preparation;
        if let Some(s) = &p.standardiser {
            t.f64("standardise.mean", vec![s.mean.len()], &s.mean);
            t.f64("standardise.scale", vec![s.scale.len()], &s.scale);
        }
        if let Some(pca) = &p.pca {
            let (k, d) = (pca.components.len(), pca.mean.len());
            t.f64("pca.mean", vec![d], &pca.mean);
            t.f64("pca.components", vec![k, d], &pca.components.concat());
            t.f64("pca.explained_variance", vec![k], &pca.explained_variance);
            t.f64(
                "pca.explained_variance_ratio",
                vec![k],
                &pca.explained_variance_ratio,
            );
        }
        match &self.rule {
            Rule::Centroids { centres, median } => {
                t.f32(
                    "centroids",
                    vec![centres.n_rows(), centres.dim()],
                    centres.as_slice(),
                );
                t.f32("median_distance", vec![median.len()], median);
            }
            Rule::Nearest {
                points,
                labels,
                core,
                peaks,
                ..
            } => {
                t.f32(
                    "points",
                    vec![points.n_rows(), points.dim()],
                    points.as_slice(),
                );
                t.i32("labels", vec![labels.len()], labels);
                t.f32("core_distance", vec![core.len()], core);
                t.f32("peak_reach", vec![peaks.len()], peaks);
            }
        }
        let views = t
            .items
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                TensorView::new(*dtype, shape.clone(), bytes)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| io_err(&tensors_file, e))
            })
            .collect::<Result<Vec<_>>>()?;
        let meta = HashMap::from([("format".to_string(), FORMAT.to_string())]);
        let bytes =
            safetensors::serialize(views, Some(meta)).map_err(|e| io_err(&tensors_file, e))?;
        write_atomic(&tensors_file, &bytes)?;
        let mut info = self.info.clone();
        info.tensors = tensors_file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut text = serde_json::to_vec_pretty(&info).map_err(|e| io_err(json, e))?;
        text.push(b'\n');
        write_atomic(json, &text)
    }

    /// Reads a model written by [`save`](Self::save), checking every tensor's shape.
    pub fn load(json: &Path) -> Result<FittedModel> {
        let text = std::fs::read(json).map_err(|e| io_err(json, e))?;
        let info: FittedInfo = serde_json::from_slice(&text)
            .map_err(|e| io_err(json, format!("not a fitted cluster model: {e}")))?;
        if info.format != FORMAT {
            return Err(io_err(
                json,
                format!(
                    "fitted model format {} (this build reads {FORMAT})",
                    info.format
                ),
            ));
        }
        let path = json.with_file_name(&info.tensors);
        let bytes = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| io_err(&path, e))?;
        let r = Reader { st, path: &path };
        let d = info.dim;
        let standardiser = if info.standardise {
            Some(Standardiser {
                mean: r.f64("standardise.mean", &[Some(d)])?.0,
                scale: r.f64("standardise.scale", &[Some(d)])?.0,
            })
        } else {
            None
        };
        let pca = if info.pca_dims > 0 {
            let k = info.pca_dims;
            let comps = r.f64("pca.components", &[Some(k), Some(d)])?.0;
            Some(Pca {
                mean: r.f64("pca.mean", &[Some(d)])?.0,
                components: comps.chunks_exact(d).map(<[f64]>::to_vec).collect(),
                explained_variance: r.f64("pca.explained_variance", &[Some(k)])?.0,
                explained_variance_ratio: r.f64("pca.explained_variance_ratio", &[Some(k)])?.0,
            })
        } else {
            None
        };
        let width = if info.pca_dims > 0 { info.pca_dims } else { d };
        let c = info.n_clusters;
        let matrix = |v: Vec<f32>| {
            Matrix::new(v, width).map_err(|e| io_err(&path, format!("bad points: {e}")))
        };
        let rule = match info.rule.as_str() {
            "centroids" => Rule::Centroids {
                centres: matrix(r.f32("centroids", &[Some(c), Some(width)])?.0)?,
                median: r.f32("median_distance", &[Some(c)])?.0,
            },
            "nearest" => {
                let labels = r.i32("labels", &[None])?;
                let n = labels.len();
                if let Some(l) = labels.iter().find(|&&l| l < 0 || l as usize >= c) {
                    return Err(io_err(
                        &path,
                        format!("label {l} is not one of the {c} clusters"),
                    ));
                }
                let points = if n == 0 || !r.has("points") {
                    Matrix::from_parts(Vec::new(), width)
                } else {
                    matrix(r.f32("points", &[Some(n), Some(width)])?.0)?
                };
                Rule::Nearest {
                    points,
                    labels,
                    core: r.f32("core_distance", &[Some(n)])?.0,
                    peaks: r.f32("peak_reach", &[Some(c)])?.0,
                    assign_factor: info.params.assign_factor,
                }
            }
            other => {
                return Err(io_err(
                    json,
                    format!("unknown rule `{other}` (expected centroids or nearest)"),
                ))
            }
        };
        Ok(FittedModel {
            preparation: Preparation {
                l2_normalise: info.l2_normalise,
                standardiser,
                pca,
            },
            info,
            rule,
        })
    }

    /// Places the rows of `m` (raw vectors of the fitted column, `info.dim` wide).
    pub fn assign(&self, m: &Matrix) -> Result<Assignment> {
        if m.dim() != self.info.dim {
            return Err(ClusterError::Param {
                name: "dimension",
                reason: format!(
                    "the clusters were fitted on {}-d `{}` vectors, these are {}-d",
                    self.info.dim,
                    self.info.vectors,
                    m.dim()
                ),
            });
        }
        let x = self.preparation.apply(m)?;
        self.rule.place(&x)
    }

    /// Refuses vectors of another embedding model than the fitted ones': `model` is the id the
    /// vectors carry (`None` when they carry none), `what` names them in the message.
    pub fn check_model(&self, model: Option<&str>, what: &str) -> Result<()> {
        match (self.info.embedding_model.as_deref(), model) {
            (Some(a), Some(b)) if a == b => Ok(()),
            (Some(a), Some(b)) => Err(ClusterError::ModelMismatch(format!(
                "the clusters were fitted on vectors of embedding model {a}, but {what} come from \
                 model {b}: embed with the model the clusters were fitted on, or fit new clusters"
            ))),
            (None, _) => Err(ClusterError::ModelMismatch(format!(
                "the fitted clusters do not record which embedding model made their vectors \
                 (their embeddings had no embed.model_id): run embed and cluster again before \
                 placing {what}"
            ))),
            (Some(a), None) => Err(ClusterError::ModelMismatch(format!(
                "{what} do not record which embedding model made them (no embed.model_id): \
                 embed them again with model {a}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blobs::{gaussian_blobs, BlobSpec};
    use crate::tests::hdbscan;
    use crate::{adjusted_rand_index, cluster_and_fit, prepare, Algorithm, Metric};

    fn fit(m: &Matrix, p: &ClusterParams) -> (crate::Clustering, FittedModel) {
        let prepared = prepare(m, p).unwrap();
        let (c, rule) = cluster_and_fit(&prepared, p).unwrap();
        let model = FittedModel::new(
            p,
            prepared.preparation(p),
            rule,
            &c.labels,
            Source {
                vectors: "embedding".into(),
                dim: m.dim(),
                embeddings: "blobs".into(),
                embedding_model: Some("test-model".into()),
            },
        );
        (c, model)
    }

    fn save_load(model: &FittedModel) -> FittedModel {
        let dir = tempfile_dir();
        let json = dir.join("cluster_model.json");
        model.save(&json).unwrap();
        let back = FittedModel::load(&json).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        back
    }

    fn tempfile_dir() -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "fitted-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Fits on everything and on the first 80%, places the last 20% with the second fit's
    /// model (saved and loaded back), and gives the ARI of those placements against the
    /// first fit's labels over the held-out points, noise counted as a label of its own.
    fn held_out_agreement(algorithm: Algorithm, standardise: bool, pca_dims: usize) -> f64 {
        let (m, _) = gaussian_blobs(&BlobSpec {
            n_points: 3000,
            dim: 20,
            n_blobs: 5,
            noise_share: 0.03,
            seed: 11,
            ..BlobSpec::default()
        });
        let p = ClusterParams {
            algorithm,
            min_cluster_size: 20,
            min_samples: 10,
            k: 5,
            eps: 5.0,
            standardise,
            pca_dims,
            metric: Metric::Euclidean,
            ..hdbscan()
        };
        let (all, _) = fit(&m, &p);
        let cut = m.n_rows() * 4 / 5;
        let head: Vec<usize> = (0..cut).collect();
        let tail: Vec<usize> = (cut..m.n_rows()).collect();
        let (_, model) = fit(&m.select_rows(&head), &p);
        let model = save_load(&model);
        let placed = model.assign(&m.select_rows(&tail)).unwrap();
        let truth: Vec<i32> = tail.iter().map(|&i| all.labels[i]).collect();
        adjusted_rand_index(&placed.labels, &truth).unwrap()
    }

    #[test]
    fn held_out_points_land_where_a_fit_on_everything_puts_them() {
        for (alg, st, pca) in [
            (Algorithm::Kmeans, false, 0),
            (Algorithm::Kmeans, true, 8),
            (Algorithm::Hdbscan, false, 0),
            (Algorithm::Hdbscan, true, 8),
            (Algorithm::Dbscan, false, 0),
        ] {
            let ari = held_out_agreement(alg, st, pca);
            eprintln!("{alg:?} standardise {st} pca {pca}: held-out ARI {ari:.4}");
            assert!(ari >= 0.95, "{alg:?} standardise {st} pca {pca}: ARI {ari}");
        }
    }

    #[test]
    fn kmeans_places_its_own_points_exactly_as_the_fit_did() {
        let (m, _) = gaussian_blobs(&BlobSpec {
            n_points: 2000,
            dim: 16,
            n_blobs: 6,
            noise_share: 0.05,
            seed: 3,
            ..BlobSpec::default()
        });
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let p = ClusterParams {
                algorithm: Algorithm::Kmeans,
                k: 9,
                metric,
                standardise: true,
                pca_dims: 10,
                ..hdbscan()
            };
            let (c, model) = fit(&m, &p);
            let model = save_load(&model);
            let a = model.assign(&m).unwrap();
            assert_eq!(a.labels, c.labels, "{metric:?}");
            // k-means takes its distances from a matrix product, placing from exact sums of
            // squares: the scores agree to rounding
            for (x, y) in a.strength.iter().zip(&c.strength) {
                assert!((x - y).abs() < 1e-4, "strength {x} against {y}");
            }
            for (x, y) in a.outlier.iter().zip(&c.outlier) {
                assert!((x - y).abs() < 1e-4, "outlier {x} against {y}");
            }
            assert_eq!(model.info.sizes, c.summary().sizes);
        }
    }

    #[test]
    fn hdbscan_gives_its_clustered_points_their_labels_and_far_points_noise() {
        let (m, truth) = gaussian_blobs(&BlobSpec {
            n_points: 1500,
            dim: 20,
            n_blobs: 4,
            noise_share: 0.05,
            seed: 1,
            ..BlobSpec::default()
        });
        let p = ClusterParams {
            min_cluster_size: 15,
            ..hdbscan()
        };
        let (c, model) = fit(&m, &p);
        let model = save_load(&model);
        let a = model.assign(&m).unwrap();
        for i in 0..m.n_rows() {
            if c.labels[i] >= 0 {
                assert_eq!(a.labels[i], c.labels[i]);
                assert!((a.strength[i] - c.strength[i]).abs() < 1e-6);
            }
        }
        // a point far outside every blob is noise, with strength 0
        let far = Matrix::new(vec![500.0; 20], 20).unwrap();
        let f = model.assign(&far).unwrap();
        assert_eq!((f.labels[0], f.strength[0]), (-1, 0.0));
        assert!(f.outlier[0] > 0.9);
        assert!(truth.contains(&-1));
    }

    #[test]
    fn the_sampled_path_places_the_rest_as_the_fit_did() {
        let (m, _) = gaussian_blobs(&BlobSpec {
            n_points: 4000,
            dim: 20,
            n_blobs: 4,
            noise_share: 0.05,
            seed: 5,
            ..BlobSpec::default()
        });
        let p = ClusterParams {
            min_cluster_size: 40,
            min_samples: 10,
            exact_max_points: 1000,
            sample_size: 1000,
            ..hdbscan()
        };
        let (c, model) = fit(&m, &p);
        assert!(matches!(c.method, crate::Method::SampledHdbscan(_)));
        let a = save_load(&model).assign(&m).unwrap();
        // every point: the sample's clustered points are their own nearest anchors, the rest
        // go through the same rule the fit used
        let same = a
            .labels
            .iter()
            .zip(&c.labels)
            .filter(|(x, y)| x == y)
            .count();
        assert!(
            same as f64 >= 0.99 * m.n_rows() as f64,
            "{same} of {} agree",
            m.n_rows()
        );
    }

    #[test]
    fn vectors_of_another_model_or_width_are_refused() {
        let (m, _) = gaussian_blobs(&BlobSpec {
            n_points: 300,
            dim: 8,
            n_blobs: 3,
            seed: 2,
            ..BlobSpec::default()
        });
        let p = ClusterParams {
            algorithm: Algorithm::Kmeans,
            k: 3,
            ..hdbscan()
        };
        let (_, model) = fit(&m, &p);
        assert!(model.check_model(Some("test-model"), "x").is_ok());
        let e = model.check_model(Some("other"), "these").unwrap_err();
        assert!(e.to_string().contains("other"), "{e}");
        assert!(model.check_model(None, "these").is_err());
        let narrow = Matrix::new(vec![0.0; 6], 6).unwrap();
        assert!(model.assign(&narrow).is_err());
    }

    #[test]
    fn a_damaged_tensors_file_is_a_clear_error() {
        let (m, _) = gaussian_blobs(&BlobSpec {
            n_points: 300,
            dim: 8,
            n_blobs: 3,
            seed: 2,
            ..BlobSpec::default()
        });
        let p = ClusterParams {
            algorithm: Algorithm::Kmeans,
            k: 3,
            ..hdbscan()
        };
        let (_, model) = fit(&m, &p);
        let dir = tempfile_dir();
        let json = dir.join("m.json");
        model.save(&json).unwrap();
        std::fs::write(tensors_path(&json), b"not safetensors").unwrap();
        let e = FittedModel::load(&json).unwrap_err();
        assert!(e.to_string().contains("m.safetensors"), "{e}");
        std::fs::write(&json, b"{}").unwrap();
        let e = FittedModel::load(&json).unwrap_err();
        assert!(e.to_string().contains("not a fitted cluster model"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
