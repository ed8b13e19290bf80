//! The `generate` stage: new drawings from a trained model's decoder.
//!
//! - **like a cluster** (`--like-cluster K`): the drawings a fitted cluster model places in
//!   cluster `K` (the `members` strongest of them) are encoded to the model's latents; each new
//!   drawing starts from one member's latent, mixed with a share `u ~ U(0, mix)` of a second
//!   member's, then moved by `spread` times the members' standard deviation along every latent
//!   dimension (Gaussian), and is decoded.
//! - **like one drawing** (`--like KEY_ID`): its latent moved by `spread` times the standard
//!   deviation of the latents of `members` drawings of its table.
//! - **from the prior** (`--prior`, a model trained with the VAE term only): latents drawn from
//!   the standard normal the VAE's KL term pulls them towards.
//!
//! The decoder samples each point with `temperature` (0: greedy). Every random draw comes from
//! `seed`, so the same request gives the same drawings. Nothing is written until every drawing
//! is made: a bad request (no such cluster, a model that is not the clusters') writes nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clustering::{FittedModel, Matrix};
use drawing::Stroke3;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;
use tables::drawings::DrawingRow;
use tables::embeddings::EmbeddingTable;
use tables::generated::{GeneratedRow, Provenance};
use tables::Split;

pub mod ndjson;

/// The `[generate]` section of `pipeline.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema, SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct GenerateConfig {
    /// Drawings to generate.
    #[default(24)]
    pub count: usize,
    /// The decoder's sampling temperature (mdn head); 0 decodes greedily.
    #[default(0.1)]
    pub temperature: f32,
    /// Seeds every random draw: the same seed gives the same drawings.
    #[default(0)]
    pub seed: u64,
    /// How far a latent moves from where it starts, in standard deviations of the latents it
    /// is drawn from (the cluster's members, or the table's drawings for `--like`).
    #[default(0.3)]
    pub spread: f32,
    /// The largest share of a second member mixed into a latent (`like-cluster`); 0: none.
    #[default(0.3)]
    pub mix: f32,
    /// Members encoded for `like-cluster` (the strongest ones), and drawings sampled for the
    /// latents' spread of `like`.
    #[default(64)]
    pub members: usize,
    /// Longest generated drawing, in points.
    #[default(250)]
    pub max_len: usize,
    /// How many times a drawing like a cluster may be drawn (`like-cluster`). Each drawing is
    /// embedded again, as `embed` made the clusters' embeddings (their footer says how), and
    /// placed with the fitted clusters, as `cluster --model` would; one that lands in another
    /// cluster, or in none, is drawn again from a new latent. After the last try its last
    /// drawing is kept. 1: keep every first drawing, unchecked.
    #[default(8)]
    pub tries: usize,
    /// Latents decoded at once.
    #[default(256)]
    pub batch_size: usize,
    /// `cpu`, `cuda`, `cuda:N` or `metal`.
    #[default("cpu".to_string())]
    pub device: String,
}

impl GenerateConfig {
    fn validate(&self) -> Result<()> {
        if self.count == 0 {
            bail!("count must be at least 1");
        }
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            bail!(
                "temperature must be 0 (greedy) or positive, not {}",
                self.temperature
            );
        }
        if !(self.spread.is_finite() && self.spread >= 0.0) {
            bail!("spread must be 0 or positive, not {}", self.spread);
        }
        if !(0.0..=1.0).contains(&self.mix) {
            bail!("mix must be between 0 and 1, not {}", self.mix);
        }
        if self.members == 0 || self.batch_size == 0 || self.max_len == 0 || self.tries == 0 {
            bail!("members, tries, batch_size and max_len must be at least 1");
        }
        Ok(())
    }

    /// The sampling of batch `batch` of try `round`.
    fn decode_mode(&self, round: u64, batch: u64) -> seqae::DecodeMode {
        if self.temperature == 0.0 {
            seqae::DecodeMode::Greedy
        } else {
            seqae::DecodeMode::Sample {
                temperature: self.temperature,
                // one stream per batch of latents and try, all from the seed
                seed: self
                    .seed
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    .wrapping_add(batch)
                    .wrapping_add(round << 32),
            }
        }
    }
}

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Drawings like the members of this cluster.
    LikeCluster(i32),
    /// Variations of the drawing with this key_id.
    Like(String),
    /// Samples of the VAE's prior.
    Prior,
}

impl Mode {
    /// The `gen_mode` value.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::LikeCluster(_) => "like-cluster",
            Mode::Like(_) => "like",
            Mode::Prior => "prior",
        }
    }
}

/// The inputs of a request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The run folder of the model (`train`'s output).
    pub model: PathBuf,
    /// The fitted cluster model (`cluster_model.json`).
    pub clusters: Option<PathBuf>,
    /// The embeddings table (default: the one the clusters were fitted on).
    pub embeddings: Option<PathBuf>,
    /// The drawings table (default: the one the embeddings were made of).
    pub drawings: Option<PathBuf>,
    pub mode: Mode,
}

/// The drawings made, and how.
#[derive(Debug, Clone)]
pub struct Generated {
    pub rows: Vec<GeneratedRow>,
    /// Latents whose decoding came back without a point (left out).
    pub empty: usize,
    /// Drawings the latents were drawn from (cluster members encoded, or the one drawing).
    pub sources: usize,
    /// Where the drawings like a cluster landed (`like-cluster` with `tries` above 1).
    pub landing: Option<Landing>,
    pub metadata: tables::Metadata,
}

fn footer<'a>(meta: &'a tables::Metadata, key: &str) -> Option<&'a str> {
    meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

impl Generated {
    /// The drawings of several requests in one table (`--like-cluster 0,3` or `all`): rows in
    /// request order, counts and landings summed, the first request's footer with the summed
    /// landing.
    pub fn merge(parts: Vec<Generated>) -> Option<Generated> {
        let mut parts = parts.into_iter();
        let mut all = parts.next()?;
        for g in parts {
            all.rows.extend(g.rows);
            all.empty += g.empty;
            all.sources += g.sources;
            all.landing = match (all.landing, g.landing) {
                (Some(a), Some(b)) => Some(Landing {
                    first: a.first + b.first,
                    redrawn: a.redrawn + b.redrawn,
                    missed: a.missed + b.missed,
                    draws: a.draws + b.draws,
                }),
                (a, b) => a.or(b),
            };
        }
        all.metadata.retain(|(k, _)| k != LANDING_KEY);
        if let Some(l) = all.landing {
            all.metadata.push((LANDING_KEY.to_string(), l.to_string()));
        }
        Some(all)
    }
}

/// The footer key of where the drawings landed ([`Landing`]).
pub const LANDING_KEY: &str = "generate.landing";

/// The clusters a `--like-cluster` value names: `K`, `K,K,...` or `all` (every cluster of the
/// fitted model at `fitted`).
pub fn clusters_asked(spec: &str, fitted: Option<&Path>) -> Result<Vec<i32>> {
    if spec.trim() == "all" {
        let Some(path) = fitted else {
            bail!("--like-cluster needs the fitted clusters (--clusters cluster_model.json)");
        };
        let n = FittedModel::load(path)
            .context("loading the fitted cluster model")?
            .info
            .n_clusters;
        return Ok((0..n as i32).collect());
    }
    let mut out = Vec::new();
    for part in spec.split(',') {
        let k: i32 = part
            .trim()
            .parse()
            .with_context(|| format!("--like-cluster takes K, K,K,... or all, not `{spec}`"))?;
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

/// Where the drawings like cluster K landed, placed with the fitted clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Landing {
    /// In K at the first draw: the decoder's own share.
    pub first: usize,
    /// In K after being drawn again.
    pub redrawn: usize,
    /// Still elsewhere (or empty) after `tries` draws: kept as last drawn.
    pub missed: usize,
    /// Draws made in all.
    pub draws: usize,
}

impl std::fmt::Display for Landing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "first={} redrawn={} missed={} draws={}",
            self.first, self.redrawn, self.missed, self.draws
        )
    }
}

/// Places generated drawings in the fitted clusters as `embed` and `cluster --model` would.
struct Check<'a> {
    fitted: &'a FittedModel,
    cluster: i32,
    column: String,
    unit_length: bool,
    part_box: embed::PartBox,
}

impl Check<'_> {
    /// Whether each drawing lands in the cluster asked for (an empty one does not).
    fn landed(
        &self,
        model: &seqae::SeqAe,
        drawings: &[Stroke3],
        batch: usize,
    ) -> Result<Vec<bool>> {
        let drawn: Vec<&Stroke3> = drawings.iter().filter(|d| !d.is_empty()).collect();
        let vectors = embed::column_vectors(
            model,
            &drawn,
            &self.column,
            self.unit_length,
            self.part_box,
            batch,
        )
        .context("embedding the generated drawings again")?;
        let with: Vec<&[f32]> = vectors.iter().flatten().map(Vec::as_slice).collect();
        let mut in_k = vec![false; with.len()];
        if !with.is_empty() {
            let m = Matrix::new(with.concat(), with[0].len())?;
            in_k = self
                .fitted
                .assign(&m)?
                .labels
                .iter()
                .map(|&l| l == self.cluster)
                .collect();
        }
        // back to the drawings: a drawing without the vector (nothing inside) lands nowhere
        let mut in_k = in_k.into_iter();
        let mut vectors = vectors.iter();
        Ok(drawings
            .iter()
            .map(|d| {
                !d.is_empty()
                    && vectors.next().expect("one per drawn").is_some()
                    && in_k.next().expect("one per vector")
            })
            .collect())
    }
}

/// A fitted model, checked against the embedding model in `run`.
fn load_clusters(path: &Path, run: &Path, run_id: &str) -> Result<FittedModel> {
    let fitted = FittedModel::load(path).context("loading the fitted cluster model")?;
    match fitted.info.embedding_model.as_deref() {
        Some(id) if id == run_id => Ok(fitted),
        Some(id) => bail!(
            "the clusters in {} were fitted on the embeddings of model {id}, but the model in {} \
             is {run_id}: pass the run folder whose embeddings were clustered, or embed and \
             cluster again with this model",
            path.display(),
            run.display()
        ),
        None => bail!(
            "the clusters in {} do not record which model made their embeddings (embed.model_id): \
             run embed and cluster again",
            path.display()
        ),
    }
}

/// For each cluster of `ks`, the `members` drawings of the embeddings table at `path` that
/// `fitted` places in it most strongly (ties: the earlier row), found in one pass as the table
/// streams past, so that memory grows with `members`, not with the table; and the table's
/// footer. The table must come from model `run_id`.
fn strongest_members(
    path: &Path,
    run_id: &str,
    fitted: &FittedModel,
    ks: &[i32],
    members: usize,
) -> Result<(HashMap<i32, Vec<String>>, tables::Metadata)> {
    let mut reader = tables::embeddings::Reader::open(path)?;
    let shape = reader.empty();
    of_model(&shape, path, run_id)?;
    let column = &fitted.info.vectors;
    if shape.column_vectors(column).is_none() {
        bail!(
            "{} has no `{column}` column, which the clusters were fitted on",
            path.display()
        );
    }
    if reader.rows == 0 {
        bail!("{}: the embeddings table has no rows", path.display());
    }
    // per cluster: (strength, row, key_id), cut back to the strongest `members` whenever it
    // doubles
    type Best = Vec<(f32, usize, String)>;
    let mut best: HashMap<i32, Best> = ks.iter().map(|&k| (k, Vec::new())).collect();
    let keep_strongest = |best: &mut Best| {
        best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        best.truncate(members);
    };
    let (mut row0, mut with_vectors) = (0, 0);
    while let Some(batch) = reader.next_rows()? {
        let (rows, values) = batch.column_vectors(column).expect("checked above");
        if !rows.is_empty() {
            let m = Matrix::new(values, batch.dim)
                .with_context(|| format!("the vectors of {}", path.display()))?;
            let placed = fitted.assign(&m)?;
            for (r, &i) in rows.iter().enumerate() {
                if let Some(b) = best.get_mut(&placed.labels[r]) {
                    b.push((placed.strength[r], row0 + i, batch.key_ids[i].clone()));
                }
            }
            with_vectors += rows.len();
        }
        row0 += batch.len();
        for b in best.values_mut() {
            if b.len() >= 2 * members.max(1024) {
                keep_strongest(b);
            }
        }
    }
    if with_vectors == 0 {
        bail!("{}: no drawing has `{column}` vectors", path.display());
    }
    let mut keys = HashMap::new();
    for &k in ks {
        // a cluster asked for twice is taken the first time
        let Some(mut b) = best.remove(&k) else {
            continue;
        };
        if b.is_empty() {
            bail!("no drawing of {} is placed in cluster {k}", path.display());
        }
        keep_strongest(&mut b);
        keys.insert(k, b.into_iter().map(|(_, _, key)| key).collect());
    }
    Ok((keys, shape.metadata))
}

/// Refuses embeddings (`shape`, read from `path`) that model `run_id` did not make.
fn of_model(shape: &EmbeddingTable, path: &Path, run_id: &str) -> Result<()> {
    match shape.model_id() {
        Some(id) if id == run_id => Ok(()),
        other => bail!(
            "the embeddings in {} come from model {}, not from the model asked for ({run_id})",
            path.display(),
            other.unwrap_or("(not recorded)")
        ),
    }
}

/// The footer of the embeddings table at `path`, checked to come from model `run_id`.
fn embeddings_footer(path: &Path, run_id: &str) -> Result<tables::Metadata> {
    let shape = tables::embeddings::Reader::open(path)?.empty();
    of_model(&shape, path, run_id)?;
    Ok(shape.metadata)
}

/// The drawings with these key_ids, in their order (`None`: not in the table), read as the
/// table at `path` streams past (only those rows are decoded).
fn drawings_with_keys(path: &Path, keys: &[String]) -> Result<Vec<Option<DrawingRow>>> {
    let mut reader = tables::drawings::Reader::open(path)?;
    if reader.rows == 0 {
        bail!("{}: the drawings table has no rows", path.display());
    }
    let wanted: std::collections::HashSet<&str> = keys.iter().map(String::as_str).collect();
    let mut found: HashMap<String, DrawingRow> = HashMap::new();
    while let Some(rows) = reader.next_rows_where(&mut |k| wanted.contains(k))? {
        for r in rows {
            // a repeated key_id: its first row
            found.entry(r.key_id.clone()).or_insert(r);
        }
    }
    Ok(keys.iter().map(|k| found.remove(k)).collect())
}

/// Per-dimension standard deviation of `n` latents of width `w`.
fn spread_of(z: &[f32], w: usize) -> Vec<f32> {
    let n = (z.len() / w).max(1) as f64;
    (0..w)
        .map(|j| {
            let mean = z.iter().skip(j).step_by(w).map(|&v| v as f64).sum::<f64>() / n;
            let var = z
                .iter()
                .skip(j)
                .step_by(w)
                .map(|&v| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / n;
            var.sqrt() as f32
        })
        .collect()
}

/// The most common value among `values` (ties: the first seen).
fn most_common<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Option<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for v in values.flatten() {
        match counts.iter_mut().find(|(k, _)| *k == v) {
            Some(c) => c.1 += 1,
            None => counts.push((v, 1)),
        }
    }
    counts
        .iter()
        .fold(None::<(&str, usize)>, |best, &(k, c)| match best {
            Some((_, bc)) if bc >= c => best,
            _ => Some((k, c)),
        })
        .map(|(k, _)| k.to_string())
}

/// Where the latents come from: the starting latents, the drawings' keys, and the spread.
struct Sources {
    keys: Vec<String>,
    /// `keys.len() × latent`, row-major.
    latents: Vec<f32>,
    spread: Vec<f32>,
    word: Option<String>,
}

/// Makes the drawings of a request (writes nothing).
pub fn generate(
    req: &Request,
    cfg: &GenerateConfig,
    progress: &dyn Fn(usize, usize),
) -> Result<Generated> {
    generate_all(std::slice::from_ref(req), cfg, progress)
}

/// Makes the drawings of several requests on the same model, clusters and tables (writes
/// nothing): each request's as [`generate`] makes them alone, one request after the other in
/// one [`Generated`]. The inputs are read once for all of them: the model, and for
/// `like-cluster` requests every cluster's strongest members in one pass over the embeddings
/// and their drawings in one pass over the drawings table. `progress` is given the drawings
/// made over all the requests, and their total.
pub fn generate_all(
    reqs: &[Request],
    cfg: &GenerateConfig,
    progress: &dyn Fn(usize, usize),
) -> Result<Generated> {
    cfg.validate()?;
    let Some(first) = reqs.first() else {
        bail!("no request to make drawings for");
    };
    let same_inputs = |r: &Request| {
        (&r.model, &r.clusters, &r.embeddings, &r.drawings)
            == (
                &first.model,
                &first.clusters,
                &first.embeddings,
                &first.drawings,
            )
    };
    if !reqs.iter().all(same_inputs) {
        bail!("the requests of one call must share their model, clusters and tables");
    }
    let inputs = Inputs::load(first, cfg)?;
    let ks: Vec<i32> = reqs
        .iter()
        .filter_map(|r| match r.mode {
            Mode::LikeCluster(k) => Some(k),
            _ => None,
        })
        .collect();
    let members = if ks.is_empty() {
        None
    } else {
        Some(inputs.members(&ks, cfg.members)?)
    };
    let total = reqs.len() * cfg.count;
    let mut parts = Vec::with_capacity(reqs.len());
    for (n, req) in reqs.iter().enumerate() {
        let progress = |done: usize, _: usize| progress(n * cfg.count + done, total);
        parts.push(inputs.generate(req, members.as_ref(), cfg, &progress)?);
    }
    Ok(Generated::merge(parts).expect("at least one request"))
}

/// What the requests of one call share, read once.
struct Inputs<'a> {
    req: &'a Request,
    model: seqae::SeqAe,
    info: seqae::ModelInfo,
    run_id: String,
    fitted: Option<FittedModel>,
    /// the embeddings: asked for, or those the clusters were fitted on
    embeddings_path: Option<PathBuf>,
}

/// The strongest members of each cluster asked for, and their drawings.
struct Members {
    keys: HashMap<i32, Vec<String>>,
    rows: HashMap<String, DrawingRow>,
    /// the embeddings table's footer
    footer: tables::Metadata,
}

impl<'a> Inputs<'a> {
    fn load(req: &'a Request, cfg: &GenerateConfig) -> Result<Self> {
        let dev = embed::device(&cfg.device)?;
        let run_id = embed::model_id(&req.model)?;
        let (model, info) = seqae::load(&req.model, &dev)
            .with_context(|| format!("loading the model in {}", req.model.display()))?;
        let fitted = req
            .clusters
            .as_deref()
            .map(|p| load_clusters(p, &req.model, &run_id))
            .transpose()?;
        let embeddings_path = req
            .embeddings
            .clone()
            .or_else(|| fitted.as_ref().map(|f| PathBuf::from(&f.info.embeddings)));
        Ok(Inputs {
            req,
            model,
            info,
            run_id,
            fitted,
            embeddings_path,
        })
    }

    /// The drawings table: asked for, or the one the embeddings (footer `emb_footer`) record.
    fn drawings_path(&self, emb_footer: Option<&tables::Metadata>) -> Result<PathBuf> {
        if let Some(p) = &self.req.drawings {
            return Ok(p.clone());
        }
        emb_footer
            .and_then(|m| footer(m, "embed.input"))
            .map(PathBuf::from)
            .context(
                "the drawings table is needed to encode the drawings to start from: pass \
                 --drawings (or --embeddings of a table that records its input)",
            )
    }

    fn encode(&self, rows: &[DrawingRow], batch: usize) -> Result<Vec<f32>> {
        let ds: Vec<&Stroke3> = rows.iter().map(|r| &r.drawing).collect();
        let z = self
            .model
            .encode(&ds, batch)
            .context("encoding the drawings to start from")?;
        Ok(z.concat())
    }

    /// The strongest `members` of each cluster of `ks`, and their drawings.
    fn members(&self, ks: &[i32], members: usize) -> Result<Members> {
        let Some(fitted) = &self.fitted else {
            bail!("--like-cluster needs the fitted clusters (--clusters cluster_model.json)");
        };
        let n = fitted.info.n_clusters;
        if let Some(k) = ks.iter().find(|&&k| k < 0 || k as usize >= n) {
            bail!(
                "there is no cluster {k}: the clusters in {} are numbered 0 to {}",
                self.req
                    .clusters
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display(),
                n as i64 - 1
            );
        }
        let emb_path = self
            .embeddings_path
            .clone()
            .expect("the fitted model names one");
        let (keys, footer) = strongest_members(&emb_path, &self.run_id, fitted, ks, members)?;
        let dpath = self.drawings_path(Some(&footer))?;
        let all: Vec<String> = keys.values().flatten().cloned().collect();
        let mut rows = HashMap::new();
        for (row, key) in drawings_with_keys(&dpath, &all)?.into_iter().zip(all) {
            let row = row.with_context(|| {
                format!(
                    "drawing `{key}` of {} is not in {}",
                    emb_path.display(),
                    dpath.display()
                )
            })?;
            rows.insert(key, row);
        }
        Ok(Members { keys, rows, footer })
    }

    /// Makes the drawings of `req` (whose inputs are these), with `members` for like-cluster.
    fn generate(
        &self,
        req: &Request,
        members: Option<&Members>,
        cfg: &GenerateConfig,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Generated> {
        let (model, info, fitted) = (&self.model, &self.info, &self.fitted);
        let run_id = self.run_id.clone();
        let width = model.config().latent;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);

        let mut check: Option<Check> = None;
        let sources: Option<Sources> = match &req.mode {
            Mode::Prior => {
                if !info.model.vae {
                    bail!(
                        "--prior needs a model trained with the VAE term (model.vae = true in \
                         {}); this one was trained without it, so its latents follow no prior: \
                         use --like-cluster or --like",
                        req.model.join(seqae::run::MODEL_JSON).display()
                    );
                }
                None
            }
            Mode::LikeCluster(k) => {
                let members = members.expect("made for every like-cluster request");
                let fitted = fitted.as_ref().expect("members need it");
                let keys = members.keys[k].clone();
                let rows: Vec<DrawingRow> =
                    keys.iter().map(|key| members.rows[key].clone()).collect();
                let emb_footer = &members.footer;
                let latents = self.encode(&rows, cfg.batch_size)?;
                if cfg.tries > 1 {
                    let defaults = embed::EmbedConfig::default();
                    check = Some(Check {
                        fitted,
                        cluster: *k,
                        column: fitted.info.vectors.clone(),
                        unit_length: footer(emb_footer, "embed.unit_length")
                            .map_or(defaults.unit_length, |v| v == "true"),
                        part_box: match footer(emb_footer, "embed.part_box") {
                            Some("whole") => embed::PartBox::Whole,
                            Some("own") => embed::PartBox::Own,
                            _ => defaults.part_box,
                        },
                    });
                }
                Some(Sources {
                    spread: spread_of(&latents, width),
                    word: most_common(rows.iter().map(|r| r.word.as_deref())),
                    keys,
                    latents,
                })
            }
            Mode::Like(key) => {
                let emb_footer = match self
                    .embeddings_path
                    .as_deref()
                    .filter(|_| req.drawings.is_none())
                {
                    Some(p) => Some(embeddings_footer(p, &run_id)?),
                    None => None,
                };
                let dpath = self.drawings_path(emb_footer.as_ref())?;
                let Some(one) = drawings_with_keys(&dpath, std::slice::from_ref(key))?
                    .pop()
                    .flatten()
                else {
                    bail!("there is no drawing `{key}` in {}", dpath.display());
                };
                let one = [one];
                // the spread of the table's latents, from a seeded sample of its drawings (read as
                // the table streams past)
                let (sample, _) = tables::drawings::read_sample(&dpath, cfg.members, cfg.seed)?;
                let spread = spread_of(&self.encode(&sample.rows, cfg.batch_size)?, width);
                Some(Sources {
                    keys: vec![key.clone()],
                    latents: self.encode(&one, cfg.batch_size)?,
                    spread,
                    word: one[0].word.clone(),
                })
            }
        };

        // a latent for each drawing, then the drawings; with a check, the drawings that land
        // elsewhere are drawn again from new latents
        let normal = StandardNormal;
        let draw_latent = |rng: &mut ChaCha8Rng| -> (Vec<f32>, Vec<String>) {
            let Some(s) = &sources else {
                return ((0..width).map(|_| normal.sample(rng)).collect(), Vec::new());
            };
            let m = s.keys.len();
            let a = rng.random_range(0..m);
            let mut v = s.latents[a * width..(a + 1) * width].to_vec();
            let mut keys = vec![s.keys[a].clone()];
            if cfg.mix > 0.0 && m > 1 {
                let b = (a + rng.random_range(1..m)) % m;
                let u: f32 = rng.random_range(0.0..=cfg.mix);
                let zb = &s.latents[b * width..(b + 1) * width];
                for (x, y) in v.iter_mut().zip(zb) {
                    *x += u * (y - *x);
                }
                keys.push(s.keys[b].clone());
            }
            for (x, sd) in v.iter_mut().zip(&s.spread) {
                let e: f32 = normal.sample(rng);
                *x += cfg.spread * sd * e;
            }
            (v, keys)
        };
        let mut drawings: Vec<Stroke3> = vec![Stroke3::default(); cfg.count];
        let mut from: Vec<Vec<String>> = vec![Vec::new(); cfg.count];
        let mut pending: Vec<usize> = (0..cfg.count).collect();
        let mut landing = Landing::default();
        let rounds = if check.is_some() { cfg.tries } else { 1 };
        for round in 0..rounds {
            let mut z = Vec::with_capacity(pending.len() * width);
            let mut keys = Vec::with_capacity(pending.len());
            for _ in &pending {
                let (v, k) = draw_latent(&mut rng);
                z.extend(v);
                keys.push(k);
            }
            let mut made = Vec::with_capacity(pending.len());
            for (b, chunk) in z.chunks(cfg.batch_size * width).enumerate() {
                made.extend(
                    model
                        .decode(chunk, cfg.max_len, cfg.decode_mode(round as u64, b as u64))
                        .context("decoding the latents")?,
                );
                if round == 0 {
                    progress(made.len(), cfg.count);
                }
            }
            landing.draws += made.len();
            let landed = match &check {
                Some(c) => c.landed(model, &made, cfg.batch_size)?,
                None => vec![true; made.len()],
            };
            let mut still = Vec::new();
            for (((slot, d), k), ok) in pending.into_iter().zip(made).zip(keys).zip(landed) {
                drawings[slot] = d;
                from[slot] = k;
                match (ok, round) {
                    (true, 0) => landing.first += 1,
                    (true, _) => landing.redrawn += 1,
                    (false, _) => still.push(slot),
                }
            }
            pending = still;
            if check.is_some() {
                progress(cfg.count - pending.len(), cfg.count);
            }
            if pending.is_empty() {
                break;
            }
        }
        landing.missed = pending.len();

        let (tag, cluster) = match &req.mode {
            Mode::LikeCluster(k) => (format!("c{k}"), Some(*k)),
            Mode::Like(key) => (format!("like-{key}"), None),
            Mode::Prior => ("prior".to_string(), None),
        };
        let word = sources.as_ref().and_then(|s| s.word.clone());
        let source = format!("generate:{}", req.model.display());
        let mut rows = Vec::with_capacity(cfg.count);
        let mut empty = 0;
        for (i, (d, keys)) in drawings.into_iter().zip(from).enumerate() {
            if d.is_empty() {
                empty += 1;
                continue;
            }
            rows.push(GeneratedRow {
                row: DrawingRow {
                    key_id: format!("gen-{tag}-s{}-{i:04}", cfg.seed),
                    word: word.clone(),
                    countrycode: None,
                    recognized: None,
                    timestamp: None,
                    split: Split::Test,
                    source: source.clone(),
                    drawing: d,
                    t: None,
                    labels: Vec::new(),
                },
                provenance: Provenance {
                    mode: req.mode.name().to_string(),
                    cluster,
                    sources: keys,
                    temperature: cfg.temperature,
                },
            });
        }
        if rows.is_empty() {
            bail!(
                "every one of the {} latents decoded to an empty drawing; try another seed or a \
             lower temperature",
                cfg.count
            );
        }
        let mut metadata = vec![
            (
                "generate.model".to_string(),
                req.model.display().to_string(),
            ),
            ("generate.model_id".to_string(), run_id),
            (
                "generate.clusters".to_string(),
                req.clusters
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("generate.mode".to_string(), req.mode.name().to_string()),
            (
                "generate.config".to_string(),
                format!(
                "count={} temperature={} seed={} spread={} mix={} members={} max_len={} tries={}",
                cfg.count,
                cfg.temperature,
                cfg.seed,
                cfg.spread,
                cfg.mix,
                cfg.members,
                cfg.max_len,
                cfg.tries
            ),
            ),
        ];
        let landing = check.is_some().then_some(landing);
        if let Some(l) = landing {
            metadata.push((LANDING_KEY.to_string(), l.to_string()));
        }
        Ok(Generated {
            rows,
            empty,
            sources: sources.as_ref().map_or(0, |s| s.keys.len()),
            landing,
            metadata,
        })
    }
}

/// Writes the generated table and, when asked, the same drawings as simplified ndjson; each
/// file atomically.
pub fn write(out: &Path, ndjson_out: Option<&Path>, g: &Generated) -> Result<()> {
    let text = ndjson_out.map(|_| ndjson::lines(&g.rows)).transpose()?;
    tables::generated::write(out, &[], &g.rows, &g.metadata)?;
    if let (Some(path), Some(text)) = (ndjson_out, text) {
        tables::atomic::write_bytes(path, text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
