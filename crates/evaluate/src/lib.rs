//! Stage 6, `evaluate`: measures whether the learned embeddings and clusters capture what is
//! inside a face, beside a baseline computed in the same run on the same drawings.
//!
//! - Per label column (`word`, `label_<factor>`) with two or more values: cross-validated
//!   k-nearest-neighbour accuracy of the embeddings (see [`clustering::classify`]) beside the
//!   majority-class rate, and the agreement (adjusted Rand index, normalised mutual information) of the
//!   clusters with the label, noise counting as one more group.
//! - The baseline: every drawing rasterised to `raster_size²` pixels and reduced by PCA to the
//!   embeddings' width, scored the same way and clustered with the `[cluster]` settings.
//! - Reconstructions: the symmetric Chamfer distance to their originals (see [`drawing::chamfer`]).
//!
//! The result is an [`Evaluation`], written as `evaluation.json`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clustering::{classify, ClusterParams, Matrix, Pca};
use drawing::Stroke3;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;
use tables::dataset::REPORT_SAMPLE_SEED as SAMPLE_SEED;
use tables::drawings::DrawingTable;
use tables::embeddings::EmbeddingTable;
use tables::{LabelColumn, TableError};

/// The `[evaluate]` section of `pipeline.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluateConfig {
    /// Neighbours that vote in the kNN classifier.
    #[default(5)]
    pub knn_k: usize,
    /// Folds of the cross-validation (at least 2).
    #[default(5)]
    pub folds: usize,
    /// Fold assignments the kNN accuracy is averaged over (seeds `seed`, `seed + 1`, ...): one
    /// assignment of 2,000 drawings moves a factor's accuracy by about ±0.01.
    #[default(5)]
    pub repeats: usize,
    /// kNN scores at most this many drawings per label (a deterministic sample above it); the
    /// baseline's PCA is fitted on at most this many.
    #[default(10_000)]
    pub max_points: usize,
    /// Seed of the folds and of the samples.
    #[default(0)]
    pub seed: u64,
    /// Reads at most this many drawings of each table: a uniform sample, the same key_ids in the
    /// drawings, embeddings and clusters (a hash of each key_id), read a batch at a time so
    /// that memory stays flat however long the tables; every figure is then over the sample.
    /// 0 = every drawing.
    #[default(100_000)]
    pub max_drawings: usize,
    /// Side of the baseline's rasters, in pixels.
    #[default(28)]
    pub raster_size: usize,
    /// Compute the raster+PCA baseline (needs the drawings table).
    #[default(true)]
    pub baseline: bool,
    /// Chamfer distance: points every this many units of the unit box along the strokes.
    #[default(0.02)]
    pub chamfer_step: f32,
}

impl EvaluateConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, reason: &str| {
            Err(EvalError::Setting {
                name,
                reason: reason.into(),
            })
        };
        if self.knn_k == 0 {
            return bad("knn_k", "must be at least 1");
        }
        if self.folds < 2 {
            return bad("folds", "must be at least 2");
        }
        if self.repeats == 0 {
            return bad("repeats", "must be at least 1");
        }
        if self.max_points < 2 * self.folds {
            return bad("max_points", "must be at least twice folds");
        }
        if self.raster_size < 4 {
            return bad("raster_size", "must be at least 4");
        }
        if !(self.chamfer_step.is_finite() && self.chamfer_step > 0.0) {
            return bad("chamfer_step", "must be a positive number");
        }
        Ok(())
    }
}

/// Why an evaluation could not run; every variant about an input names the file.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error("{0}")]
    Inputs(String),
    #[error("{what}: {source}")]
    Cluster {
        what: &'static str,
        source: clustering::ClusterError,
    },
    #[error("invalid setting {name}: {reason}")]
    Setting { name: &'static str, reason: String },
}

pub type Result<T> = std::result::Result<T, EvalError>;

fn input_err(path: &Path, message: impl Into<String>) -> EvalError {
    EvalError::Input {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Refuses clusters or reconstructions made from another model's embeddings than the
/// embeddings table given (told by the `embed.model_id` footer key `embed` writes and `cluster`
/// carries on; tables without it are not compared).
pub fn same_model(inputs: &Inputs) -> Result<()> {
    let id = |p: &Path| -> Result<Option<String>> {
        Ok(tables::footer(p)?
            .into_iter()
            .find(|(k, _)| k == "embed.model_id")
            .map(|(_, v)| v))
    };
    let Some(emb) = &inputs.embeddings else {
        return Ok(());
    };
    let Some(want) = id(emb)? else {
        return Ok(());
    };
    for other in [&inputs.clusters, &inputs.reconstructions]
        .into_iter()
        .flatten()
    {
        if let Some(got) = id(other)? {
            if got != want {
                return Err(input_err(
                    other,
                    format!(
                        "made from the embeddings of another model (weights {got}) than {} \
                         (weights {want}); pass the tables of one run",
                        emb.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The pipeline tables `evaluate` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    Drawings,
    Embeddings,
    Clusters,
    Reconstructions,
}

/// Which table a Parquet file holds ([`tables::detect_kind`]: its footer, else its columns),
/// and whether `evaluate` reads it.
pub fn detect_kind(path: &Path) -> Result<TableKind> {
    let found = tables::detect_kind(path)
        .map_err(|e| input_err(path, format!("not a readable Parquet file: {e}")))?;
    match found.kind.as_deref() {
        Some("drawings") => Ok(TableKind::Drawings),
        Some("embeddings") => Ok(TableKind::Embeddings),
        Some("clusters") => Ok(TableKind::Clusters),
        Some("reconstructions") => Ok(TableKind::Reconstructions),
        Some(other) => Err(input_err(
            path,
            format!("a `{other}` table is not an input of evaluate"),
        )),
        None => Err(input_err(
            path,
            format!(
                "cannot tell which pipeline table this is (columns: {}); expected drawings, \
                 embeddings, clusters or reconstructions",
                found.columns.join(", ")
            ),
        )),
    }
}

/// The input files, by table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// One or more drawings tables, joined by key_id (e.g. held-out drawings and the drawings
    /// the reconstructions came from).
    pub drawings: Vec<PathBuf>,
    pub embeddings: Option<PathBuf>,
    pub clusters: Option<PathBuf>,
    pub reconstructions: Option<PathBuf>,
}

impl Inputs {
    /// Adds a file as a table of `kind`; a second embeddings, clusters or reconstructions
    /// table is an error.
    pub fn add(&mut self, kind: TableKind, path: PathBuf) -> Result<()> {
        let slot = match kind {
            TableKind::Drawings => {
                if !self.drawings.contains(&path) {
                    self.drawings.push(path);
                }
                return Ok(());
            }
            TableKind::Embeddings => &mut self.embeddings,
            TableKind::Clusters => &mut self.clusters,
            TableKind::Reconstructions => &mut self.reconstructions,
        };
        match slot {
            Some(prev) if *prev != path => Err(EvalError::Inputs(format!(
                "two {} tables given: {} and {}",
                serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                prev.display(),
                path.display()
            ))),
            _ => {
                *slot = Some(path);
                Ok(())
            }
        }
    }

    /// Adds files whose table is told by [`detect_kind`].
    pub fn detect(&mut self, paths: &[PathBuf]) -> Result<()> {
        for p in paths {
            let kind = detect_kind(p)?;
            self.add(kind, p.clone())?;
        }
        Ok(())
    }

    pub fn all(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.drawings.iter().map(PathBuf::as_path).collect();
        v.extend(
            [&self.embeddings, &self.clusters, &self.reconstructions]
                .into_iter()
                .flatten()
                .map(PathBuf::as_path),
        );
        v
    }
}

/// ARI and NMI of a clustering against one label.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClusterAgreement {
    pub ari: f64,
    pub nmi: f64,
}

/// How well the embeddings, their clusters and the baseline know one label column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    /// Column name (`word`, `label_mouth`, ...).
    pub name: String,
    /// Drawings carrying this label (nulls left out).
    pub n: usize,
    /// Distinct values among them.
    pub classes: usize,
    /// Drawings scored by kNN: `n`, or `max_points` when sampled.
    pub n_knn: usize,
    /// Share of the most frequent value among the kNN-scored drawings: what always guessing it
    /// scores.
    pub majority_rate: f64,
    /// Cross-validated kNN accuracy in the embedding space.
    pub knn_accuracy: Option<f64>,
    /// The same with each part's vectors (`inside`, `outline`, `outside`: see
    /// [`drawing::Part`]), over the drawings that have that part; empty without part columns.
    #[serde(default)]
    pub part_knn_accuracy: BTreeMap<String, f64>,
    /// The same in the raster+PCA baseline space.
    pub baseline_knn_accuracy: Option<f64>,
    /// The clusters table against this label.
    pub clusters: Option<ClusterAgreement>,
    /// The baseline's clusters against this label.
    pub baseline_clusters: Option<ClusterAgreement>,
}

/// A label column that was not scored, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedLabel {
    pub name: String,
    pub reason: String,
}

/// Counts of a clustering (−1 = noise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterCounts {
    pub n_points: usize,
    pub n_clusters: usize,
    pub noise: usize,
    pub noise_share: f64,
    /// Sizes of the ten largest clusters.
    pub largest: Vec<usize>,
}

impl ClusterCounts {
    pub fn of(labels: &[i32]) -> Self {
        let s = clustering::summary(labels);
        let mut sizes = s.sizes.clone();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes.truncate(10);
        ClusterCounts {
            n_points: s.n_points,
            n_clusters: s.n_clusters,
            noise: s.noise,
            noise_share: s.noise_share,
            largest: sizes,
        }
    }
}

/// The raster+PCA baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub raster_size: usize,
    /// PCA width (the embeddings' width, at most `raster_size²`).
    pub dim: usize,
    /// Share of the rasters' variance the PCA keeps.
    pub pca_kept_variance: f64,
    /// Drawings the PCA was fitted on.
    pub pca_fitted_on: usize,
    pub clusters: ClusterCounts,
}

/// Chamfer distances of the reconstructions to their originals, in units of the unit box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChamferScore {
    /// Reconstructions measured.
    pub n: usize,
    /// Reconstructions with no points (not measured).
    pub empty: usize,
    pub mean: f64,
    pub median: f64,
    pub p90: f64,
    pub step: f32,
}

/// Everything the run was told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub evaluate: EvaluateConfig,
    /// The clustering settings of the baseline (from `[cluster]`).
    pub cluster: ClusterParams,
}

/// Seconds per step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub read: f64,
    pub baseline_features: f64,
    pub knn: f64,
    pub baseline_clustering: f64,
    pub chamfer: f64,
    pub total: f64,
}

/// `evaluation.json`. Fields in the order a reader wants them (the report shows the first
/// facts first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// One line saying it all (also printed by the stage).
    pub summary: String,
    /// Drawings evaluated (rows of the embeddings table).
    pub n_drawings: usize,
    /// Width of the embeddings.
    pub dim: Option<usize>,
    pub labels: Vec<LabelScore>,
    /// The clusters table over the evaluated drawings.
    pub clusters: Option<ClusterCounts>,
    pub chamfer: Option<ChamferScore>,
    pub baseline: Option<Baseline>,
    pub skipped_labels: Vec<SkippedLabel>,
    /// The model named in the embeddings' footer (`embed.model`), when there.
    pub model: Option<String>,
    /// Its settings as the footer gives them (`embed.model_config`, JSON text).
    pub model_config: Option<String>,
    pub settings: Settings,
    pub inputs: Inputs,
    pub seconds: Timings,
}

impl Evaluation {
    /// Mean over the scored labels of (embedding kNN, baseline kNN, majority rate).
    pub fn mean_knn(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        let mean = |f: &dyn Fn(&LabelScore) -> Option<f64>| {
            let v: Vec<f64> = self.labels.iter().filter_map(f).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        (
            mean(&|l| l.knn_accuracy),
            mean(&|l| l.baseline_knn_accuracy),
            mean(&|l| Some(l.majority_rate)),
        )
    }

    /// The results as a plain-text table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        let mut s = String::new();
        if !self.labels.is_empty() {
            let w = self
                .labels
                .iter()
                .map(|l| l.name.len())
                .max()
                .unwrap_or(5)
                .max(5);
            // one kNN column per part any label was scored with, in the parts' order
            let parts: Vec<&str> = drawing::Part::ALL
                .iter()
                .map(|p| p.name())
                .filter(|p| {
                    self.labels
                        .iter()
                        .any(|l| l.part_knn_accuracy.contains_key(*p))
                })
                .collect();
            let part_cols = |cell: &dyn Fn(&str) -> String| -> String {
                parts.iter().map(|p| format!(" {:>7}", cell(p))).collect()
            };
            let _ = writeln!(
                s,
                "{:<w$} {:>7} {:>7} {:>8} | {:>7}{} {:>7} | {:>7} {:>7} {:>7} {:>7}",
                "label",
                "n",
                "classes",
                "majority",
                "kNN emb",
                part_cols(&|p| p.to_string()),
                "kNN raw",
                "ARI emb",
                "NMI emb",
                "ARI raw",
                "NMI raw"
            );
            for l in &self.labels {
                let _ = writeln!(
                    s,
                    "{:<w$} {:>7} {:>7} {:>8.3} | {:>7}{} {:>7} | {:>7} {:>7} {:>7} {:>7}",
                    l.name,
                    l.n,
                    l.classes,
                    l.majority_rate,
                    f(l.knn_accuracy),
                    part_cols(&|p| f(l.part_knn_accuracy.get(p).copied())),
                    f(l.baseline_knn_accuracy),
                    f(l.clusters.map(|c| c.ari)),
                    f(l.clusters.map(|c| c.nmi)),
                    f(l.baseline_clusters.map(|c| c.ari)),
                    f(l.baseline_clusters.map(|c| c.nmi)),
                );
            }
            let _ = writeln!(
                s,
                "(kNN: {}-NN, {}-fold cross-validation, the mean over {} fold assignments; emb: \
                 the whole drawings' vectors;{} raw: {}x{} raster + PCA to {} dims)",
                self.settings.evaluate.knn_k,
                self.settings.evaluate.folds,
                self.settings.evaluate.repeats,
                if parts.is_empty() {
                    String::new()
                } else {
                    format!(
                        " {}: the vectors of each part alone (inside the largest stroke, that \
                         stroke, the rest), over the drawings that have it;",
                        parts.join(", ")
                    )
                },
                self.settings.evaluate.raster_size,
                self.settings.evaluate.raster_size,
                self.baseline.as_ref().map_or(0, |b| b.dim)
            );
        }
        for sk in &self.skipped_labels {
            let _ = writeln!(s, "skipped {}: {}", sk.name, sk.reason);
        }
        let counts = |c: &ClusterCounts| {
            format!(
                "{} clusters, noise {} ({:.1}%), largest {:?}",
                c.n_clusters,
                c.noise,
                100.0 * c.noise_share,
                c.largest
            )
        };
        if let Some(c) = &self.clusters {
            let _ = writeln!(s, "clusters (embeddings): {}", counts(c));
        }
        if let Some(b) = &self.baseline {
            let _ = writeln!(
                s,
                "clusters (raster baseline, PCA keeps {:.1}% of the variance): {}",
                100.0 * b.pca_kept_variance,
                counts(&b.clusters)
            );
        }
        if let Some(c) = &self.chamfer {
            let _ = writeln!(
                s,
                "chamfer (unit box, step {}): mean {:.4}, median {:.4}, p90 {:.4} over {} reconstructions{}",
                c.step,
                c.mean,
                c.median,
                c.p90,
                c.n,
                if c.empty > 0 {
                    format!(" ({} empty ones left out)", c.empty)
                } else {
                    String::new()
                }
            );
        }
        s
    }

    fn make_summary(&self) -> String {
        let mut parts = vec![format!("{} drawings", self.n_drawings)];
        let (emb, raw, maj) = self.mean_knn();
        if let (Some(e), Some(m)) = (emb, maj) {
            parts.push(format!(
                "kNN over {} labels {:.3} (raster {}, majority {:.3})",
                self.labels.len(),
                e,
                raw.map_or("-".into(), |r| format!("{r:.3}")),
                m
            ));
        }
        if let Some(c) = &self.clusters {
            let nmi: Vec<f64> = self
                .labels
                .iter()
                .filter_map(|l| l.clusters.map(|c| c.nmi))
                .collect();
            let mut p = format!(
                "{} clusters, {:.1}% noise",
                c.n_clusters,
                100.0 * c.noise_share
            );
            if !nmi.is_empty() {
                let _ = std::fmt::Write::write_fmt(
                    &mut p,
                    format_args!(
                        ", mean NMI {:.3}",
                        nmi.iter().sum::<f64>() / nmi.len() as f64
                    ),
                );
            }
            parts.push(p);
        }
        if let Some(c) = &self.chamfer {
            parts.push(format!(
                "chamfer mean {:.4} median {:.4} ({} reconstructions)",
                c.mean, c.median, c.n
            ));
        }
        parts.join("; ")
    }
}

/// Writes `evaluation.json` atomically (pretty-printed).
pub fn write(path: &Path, e: &Evaluation) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(e).expect("the evaluation serialises");
    bytes.push(b'\n');
    tables::atomic::write_bytes(path, &bytes)?;
    Ok(())
}

/// Reads an `evaluation.json` back.
pub fn read(path: &Path) -> Result<Evaluation> {
    let text = std::fs::read(path).map_err(|e| input_err(path, e.to_string()))?;
    serde_json::from_slice(&text).map_err(|e| input_err(path, format!("not an evaluation: {e}")))
}

/// The drawings of several tables by key_id.
struct DrawingIndex<'a> {
    by_key: HashMap<&'a str, (usize, usize)>,
    tables: &'a [DrawingTable],
}

impl<'a> DrawingIndex<'a> {
    fn new(tables: &'a [DrawingTable]) -> Self {
        let mut by_key = HashMap::new();
        for (t, table) in tables.iter().enumerate() {
            for (r, row) in table.rows.iter().enumerate() {
                // the first table holding a key wins
                by_key.entry(row.key_id.as_str()).or_insert((t, r));
            }
        }
        DrawingIndex { by_key, tables }
    }
    fn get(&self, key: &str) -> Option<&'a tables::drawings::DrawingRow> {
        self.by_key.get(key).map(|&(t, r)| &self.tables[t].rows[r])
    }
    /// The value of label column `name` of the drawing `key`.
    fn label(&self, key: &str, name: &str) -> Option<String> {
        let &(t, r) = self.by_key.get(key)?;
        let table = &self.tables[t];
        let row = &table.rows[r];
        if name == "word" {
            return row.word.clone();
        }
        let factor = name.strip_prefix(tables::LABEL_PREFIX)?;
        let i = table.label_names.iter().position(|l| l == factor)?;
        row.labels[i].clone()
    }
}

fn missing_keys_error(what: &str, source: &Path, missing: &[&str], total: usize) -> EvalError {
    let shown: Vec<&str> = missing.iter().take(3).copied().collect();
    EvalError::Inputs(format!(
        "{} of {total} drawings of {} are not in the {what} (first: {}); do the inputs come \
         from the same run?",
        missing.len(),
        source.display(),
        shown.join(", ")
    ))
}

/// A deterministic sample of at most `max` of `rows`, in their original order.
fn sample_rows(rows: &[usize], max: usize, seed: u64) -> Vec<usize> {
    if rows.len() <= max {
        return rows.to_vec();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pick = rand::seq::index::sample(&mut rng, rows.len(), max).into_vec();
    pick.sort_unstable();
    pick.into_iter().map(|i| rows[i]).collect()
}

fn gather(x: &[f32], dim: usize, rows: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows.len() * dim);
    for &r in rows {
        out.extend_from_slice(&x[r * dim..(r + 1) * dim]);
    }
    out
}

/// Class ids (sorted label values) of `rows`.
fn class_ids(values: &[Option<String>], rows: &[usize]) -> (Vec<u32>, usize) {
    let names: BTreeMap<&str, u32> = rows
        .iter()
        .filter_map(|&r| values[r].as_deref())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(i, s)| (s, i as u32))
        .collect();
    let ids = rows
        .iter()
        .map(|&r| names[values[r].as_deref().expect("rows carry the label")])
        .collect();
    (ids, names.len())
}

fn majority_rate(ids: &[u32], classes: usize) -> f64 {
    let mut counts = vec![0usize; classes];
    for &c in ids {
        counts[c as usize] += 1;
    }
    counts.iter().copied().max().unwrap_or(0) as f64 / ids.len().max(1) as f64
}

fn agreement(clusters: &[i32], values: &[Option<String>]) -> Result<Option<ClusterAgreement>> {
    let a = clustering::agreement(clusters, values).map_err(|source| EvalError::Cluster {
        what: "cluster agreement",
        source,
    })?;
    Ok(a.map(|a| ClusterAgreement {
        ari: a.ari,
        nmi: a.nmi,
    }))
}

/// Rasters of `drawings` reduced by PCA to `dim` (fitted on at most `max_points` of them, by
/// [`Pca::fit`], which picks subspace iteration for 784 pixels to a latent's width), computed a
/// chunk at a time so that memory stays at `max_points` rasters.
fn raster_pca(
    drawings: &[&Stroke3],
    size: usize,
    dim: usize,
    cfg: &EvaluateConfig,
) -> Result<(Matrix, Pca, usize)> {
    let px = size * size;
    let raster = |rows: &[usize]| -> Result<Matrix> {
        let data: Vec<f32> = rows
            .par_iter()
            .flat_map_iter(|&r| drawing::rasterise(drawings[r], size))
            .collect();
        Matrix::new(data, px).map_err(|source| EvalError::Cluster {
            what: "raster matrix",
            source,
        })
    };
    let all: Vec<usize> = (0..drawings.len()).collect();
    let fit_rows = sample_rows(&all, cfg.max_points, cfg.seed ^ 0x9ca);
    let fit = raster(&fit_rows)?;
    let k = dim.min(px);
    let pca = Pca::fit(&fit, k, cfg.seed).map_err(|source| EvalError::Cluster {
        what: "baseline PCA",
        source,
    })?;
    let transform = |m: &Matrix| {
        pca.transform(m).map_err(|source| EvalError::Cluster {
            what: "baseline PCA",
            source,
        })
    };
    if fit_rows.len() == all.len() {
        // every drawing was fitted on: project those rasters
        let m = transform(&fit)?;
        return Ok((m, pca, all.len()));
    }
    drop(fit);
    let mut data = Vec::with_capacity(drawings.len() * k);
    for chunk in all.chunks(cfg.max_points) {
        data.extend_from_slice(transform(&raster(chunk)?)?.as_slice());
    }
    let m = Matrix::new(data, k).map_err(|source| EvalError::Cluster {
        what: "baseline features",
        source,
    })?;
    Ok((m, pca, fit_rows.len()))
}

/// The first of `keys` found in the embeddings' footer metadata.
fn footer(emb: &Option<EmbeddingTable>, keys: &[&str]) -> Option<String> {
    let e = emb.as_ref()?;
    keys.iter()
        .find_map(|k| e.metadata.iter().find(|(m, _)| m == k))
        .map(|(_, v)| v.clone())
}

/// Runs the evaluation. `step` is told the name of each step as it starts (for a progress
/// display). Nothing is written here: see [`write`].
pub fn evaluate(
    inputs: &Inputs,
    cfg: &EvaluateConfig,
    cluster: &ClusterParams,
    step: &dyn Fn(&str),
) -> Result<Evaluation> {
    cfg.validate()?;
    cluster.validate().map_err(|source| EvalError::Cluster {
        what: "[cluster] settings",
        source,
    })?;
    let t0 = Instant::now();
    let mut seconds = Timings::default();
    if inputs.clusters.is_some() && inputs.embeddings.is_none() {
        return Err(EvalError::Inputs(
            "a clusters table needs the embeddings table it was clustered from".into(),
        ));
    }
    if inputs.embeddings.is_none() && inputs.reconstructions.is_none() {
        return Err(EvalError::Inputs(
            "nothing to evaluate: give an embeddings table (with its drawings and clusters) \
             and/or a reconstructions table with its drawings"
                .into(),
        ));
    }

    step("read");
    let recs = inputs
        .reconstructions
        .as_deref()
        .map(tables::sequences::read_reconstructions)
        .transpose()?;
    // the sample of drawings, and the originals of the reconstructions
    let originals: std::collections::HashSet<String> =
        recs.iter().flatten().map(|r| r.key_id.clone()).collect();
    let drawing_tables: Vec<DrawingTable> = inputs
        .drawings
        .iter()
        .map(|p| {
            tables::drawings::read_sample_keeping(p, cfg.max_drawings, SAMPLE_SEED, &originals)
                .map(|r| r.0)
        })
        .collect::<std::result::Result<_, _>>()?;
    let index = DrawingIndex::new(&drawing_tables);
    let emb: Option<EmbeddingTable> = inputs
        .embeddings
        .as_deref()
        .map(|p| tables::embeddings::read_sample(p, cfg.max_drawings, SAMPLE_SEED).map(|r| r.0))
        .transpose()?;
    let cluster_rows = inputs
        .clusters
        .as_deref()
        .map(|p| tables::clusters::read_sample(p, cfg.max_drawings, SAMPLE_SEED))
        .transpose()?;
    seconds.read = t0.elapsed().as_secs_f64();

    let mut out = Evaluation {
        summary: String::new(),
        n_drawings: emb.as_ref().map_or(0, EmbeddingTable::len),
        dim: emb.as_ref().map(|e| e.dim),
        model: footer(&emb, &["embed.model", "model"]),
        model_config: footer(&emb, &["embed.model_config"]),
        labels: vec![],
        skipped_labels: vec![],
        clusters: None,
        baseline: None,
        chamfer: None,
        settings: Settings {
            evaluate: cfg.clone(),
            cluster: cluster.clone(),
        },
        inputs: inputs.clone(),
        seconds: Timings::default(),
    };

    if let (Some(emb), Some(emb_path)) = (&emb, inputs.embeddings.as_deref()) {
        score_embeddings(
            emb,
            emb_path,
            &index,
            cluster_rows.as_deref(),
            inputs,
            cfg,
            cluster,
            step,
            &mut out,
            &mut seconds,
        )?;
    }

    if let (Some(recs), Some(rec_path)) = (&recs, inputs.reconstructions.as_deref()) {
        step("chamfer");
        let t = Instant::now();
        if inputs.drawings.is_empty() {
            return Err(EvalError::Inputs(
                "the reconstructions need the drawings table they were made from".into(),
            ));
        }
        if recs.is_empty() {
            return Err(input_err(rec_path, "the reconstructions table has no rows"));
        }
        let missing: Vec<&str> = recs
            .iter()
            .filter(|r| index.get(&r.key_id).is_none())
            .map(|r| r.key_id.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(missing_keys_error(
                "drawings tables",
                rec_path,
                &missing,
                recs.len(),
            ));
        }
        let dists: Vec<Option<f64>> = recs
            .par_iter()
            .map(|r| {
                let original = &index.get(&r.key_id).expect("checked").drawing;
                drawing::chamfer::chamfer(original, &r.drawing, cfg.chamfer_step)
            })
            .collect();
        let mut v: Vec<f64> = dists.iter().flatten().copied().collect();
        v.sort_by(f64::total_cmp);
        let empty = dists.len() - v.len();
        if v.is_empty() {
            return Err(input_err(rec_path, "every reconstruction is empty"));
        }
        let q = |p: f64| {
            let pos = p * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        out.chamfer = Some(ChamferScore {
            n: v.len(),
            empty,
            mean: v.iter().sum::<f64>() / v.len() as f64,
            median: q(0.5),
            p90: q(0.9),
            step: cfg.chamfer_step,
        });
        seconds.chamfer = t.elapsed().as_secs_f64();
    }

    seconds.total = t0.elapsed().as_secs_f64();
    out.seconds = seconds;
    out.summary = out.make_summary();
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn score_embeddings(
    emb: &EmbeddingTable,
    emb_path: &Path,
    index: &DrawingIndex<'_>,
    cluster_rows: Option<&[tables::clusters::ClusterRow]>,
    inputs: &Inputs,
    cfg: &EvaluateConfig,
    cluster: &ClusterParams,
    step: &dyn Fn(&str),
    out: &mut Evaluation,
    seconds: &mut Timings,
) -> Result<()> {
    let n = emb.len();
    // The drawings behind the embeddings (needed by the baseline).
    let drawings: Option<Vec<&Stroke3>> = if inputs.drawings.is_empty() {
        None
    } else {
        let missing: Vec<&str> = emb
            .key_ids
            .iter()
            .filter(|k| index.get(k).is_none())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(missing_keys_error("drawings tables", emb_path, &missing, n));
        }
        Some(
            emb.key_ids
                .iter()
                .map(|k| &index.get(k).expect("checked").drawing)
                .collect(),
        )
    };
    if cfg.baseline && drawings.is_none() {
        return Err(EvalError::Inputs(
            "the raster baseline needs the drawings table the embeddings came from: pass it, \
             or set baseline = false"
                .into(),
        ));
    }

    // Cluster ids in the embeddings' row order.
    let clusters: Option<Vec<i32>> = match (cluster_rows, inputs.clusters.as_deref()) {
        (Some(rows), Some(cpath)) => {
            let by_key: HashMap<&str, i32> = rows
                .iter()
                .map(|r| (r.key_id.as_str(), r.cluster))
                .collect();
            let missing: Vec<&str> = emb
                .key_ids
                .iter()
                .filter(|k| !by_key.contains_key(k.as_str()))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(EvalError::Inputs(format!(
                    "{} of {n} drawings of {} have no row in the clusters table {} (first: {}); \
                     was it clustered from these embeddings?",
                    missing.len(),
                    emb_path.display(),
                    cpath.display(),
                    missing[..missing.len().min(3)].join(", ")
                )));
            }
            Some(emb.key_ids.iter().map(|k| by_key[k.as_str()]).collect())
        }
        _ => None,
    };
    out.clusters = clusters.as_deref().map(ClusterCounts::of);

    // Label columns: those the embeddings carry, then any other the drawings carry.
    let mut labels: Vec<LabelColumn> = emb.labels.clone();
    let mut names: Vec<String> = vec!["word".into()];
    for t in index.tables {
        for l in &t.label_names {
            let name = format!("{}{l}", tables::LABEL_PREFIX);
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if drawings.is_some() {
        for name in names {
            if labels.iter().all(|l| l.name != name) {
                labels.push(LabelColumn {
                    values: emb.key_ids.iter().map(|k| index.label(k, &name)).collect(),
                    name,
                });
            }
        }
    }
    let mut usable: Vec<&LabelColumn> = Vec::new();
    for l in &labels {
        let distinct: std::collections::BTreeSet<&str> =
            l.values.iter().filter_map(|v| v.as_deref()).collect();
        let reason = match distinct.len() {
            0 => Some("every value is null".to_string()),
            1 => Some(format!(
                "one value only (`{}`)",
                distinct.iter().next().expect("one")
            )),
            _ => None,
        };
        match reason {
            Some(reason) => out.skipped_labels.push(SkippedLabel {
                name: l.name.clone(),
                reason,
            }),
            None => usable.push(l),
        }
    }
    if usable.is_empty() && inputs.reconstructions.is_none() {
        let seen: Vec<String> = labels.iter().map(|l| l.name.clone()).collect();
        return Err(input_err(
            emb_path,
            format!(
                "no label column with two or more values to score the embeddings against \
                 (label columns: {})",
                if seen.is_empty() {
                    "none".into()
                } else {
                    seen.join(", ")
                }
            ),
        ));
    }

    // The baseline's features and clusters.
    let mut baseline_x: Option<Matrix> = None;
    let mut baseline_clusters: Option<Vec<i32>> = None;
    if let (true, Some(d)) = (cfg.baseline, &drawings) {
        step("baseline rasters + PCA");
        let t = Instant::now();
        let (x, pca, fitted) = raster_pca(d, cfg.raster_size, emb.dim, cfg)?;
        seconds.baseline_features = t.elapsed().as_secs_f64();
        step("baseline clustering");
        let t = Instant::now();
        let c = clustering::cluster(&x, cluster).map_err(|source| EvalError::Cluster {
            what: "clustering the baseline",
            source,
        })?;
        seconds.baseline_clustering = t.elapsed().as_secs_f64();
        out.baseline = Some(Baseline {
            raster_size: cfg.raster_size,
            dim: x.dim(),
            pca_kept_variance: pca.kept_variance(),
            pca_fitted_on: fitted,
            clusters: ClusterCounts::of(&c.labels),
        });
        baseline_x = Some(x);
        baseline_clusters = Some(c.labels);
    }

    // kNN: one neighbour search per set of labelled rows (labels with the same nulls share it).
    step("kNN cross-validation");
    let t = Instant::now();
    let mut groups: Vec<(Vec<usize>, Vec<&LabelColumn>)> = Vec::new();
    for l in usable {
        let rows: Vec<usize> = (0..n).filter(|&i| l.values[i].is_some()).collect();
        match groups.iter_mut().find(|(r, _)| *r == rows) {
            Some((_, ls)) => ls.push(l),
            None => groups.push((rows, vec![l])),
        }
    }
    let mut scores: Vec<LabelScore> = Vec::new();
    for (rows, ls) in groups {
        let picked = sample_rows(&rows, cfg.max_points, cfg.seed);
        // out-of-fold neighbours of `rows` among themselves, in a row-major space
        // `rows` among themselves in a row-major space: their out-of-fold neighbours under each
        // of the `repeats` fold assignments
        let search = |values: &[f32], dim: usize, rows: &[usize]| {
            let x = gather(values, dim, rows);
            (0..cfg.repeats as u64)
                .map(|r| {
                    let folds = classify::assign_folds(rows.len(), cfg.folds, cfg.seed + r);
                    classify::fold_neighbours(&x, dim, &folds, cfg.knn_k)
                })
                .collect::<Vec<_>>()
        };
        let neigh = search(&emb.values, emb.dim, &picked);
        let base_neigh = baseline_x
            .as_ref()
            .map(|x| search(x.as_slice(), x.dim(), &picked));
        // each part's vectors, over the picked drawings that have the part
        let parts: Vec<(&str, Vec<usize>, _)> = emb
            .parts
            .iter()
            .map(|p| {
                let rows: Vec<usize> = picked.iter().copied().filter(|&r| p.present[r]).collect();
                let neigh = search(&p.values, emb.dim, &rows);
                (p.part.name(), rows, neigh)
            })
            .collect();
        for l in ls {
            let (ids, classes) = class_ids(&l.values, &picked);
            let part_knn_accuracy = parts
                .iter()
                .filter_map(|(name, rows, neigh)| {
                    let (ids, _) = class_ids(&l.values, rows);
                    classify::mean_accuracy(neigh, &ids).map(|a| (name.to_string(), a))
                })
                .collect();
            scores.push(LabelScore {
                name: l.name.clone(),
                n: rows.len(),
                classes,
                n_knn: picked.len(),
                majority_rate: majority_rate(&ids, classes),
                knn_accuracy: classify::mean_accuracy(&neigh, &ids),
                part_knn_accuracy,
                baseline_knn_accuracy: base_neigh
                    .as_ref()
                    .and_then(|b| classify::mean_accuracy(b, &ids)),
                clusters: clusters
                    .as_deref()
                    .map(|c| agreement(c, &l.values))
                    .transpose()?
                    .flatten(),
                baseline_clusters: baseline_clusters
                    .as_deref()
                    .map(|c| agreement(c, &l.values))
                    .transpose()?
                    .flatten(),
            });
        }
    }
    // keep the columns' order
    scores.sort_by_key(|s| labels.iter().position(|l| l.name == s.name));
    out.labels = scores;
    seconds.knn = t.elapsed().as_secs_f64();
    Ok(())
}

#[cfg(test)]
mod tests;
