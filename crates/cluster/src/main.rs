//! `cluster`: groups the drawings' embeddings (HDBSCAN, DBSCAN or k-means) and writes
//! `clusters.parquet` (key_id, cluster, strength, outlier_score, x, y) and
//! `cluster_summary.json` beside it, and the fitted cluster model (`cluster_model.json` and
//! `cluster_model.safetensors`, see [`clustering::fitted`]). With `--model` it places the
//! drawings of embeddings tables in the clusters of a fitted model instead, without refitting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use clustering::umap::{UmapParams, UmapReport};
use clustering::{Agreement, Algorithm, ClusterParams, Matrix, Method, Metric};
use drawing::Part;
use serde::{Deserialize, Serialize};
use stage::{override_from_flags, PipelineConfig};
use tables::clusters::ClusterRow;

mod assign;

/// The `[cluster]` section of pipeline.toml: the clustering parameters plus the metrics' sample.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ClusterConfig {
    vectors: Vectors,
    algorithm: Algorithm,
    min_cluster_size: usize,
    min_samples: usize,
    eps: f32,
    metric: Metric,
    standardise: bool,
    pca_dims: usize,
    exact_max_points: usize,
    sample_size: usize,
    assign_factor: f32,
    k: usize,
    restarts: usize,
    seed: u64,
    silhouette_sample: usize,
    map: MapMethod,
    map_neighbours: usize,
    map_min_dist: f32,
    map_epochs: usize,
    map_sample: usize,
}

/// How the 2-D map of the vectors (the `x`, `y` columns) is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
enum MapMethod {
    /// The first two principal components: fast, keeps the large distances, mixes neighbours.
    Pca,
    /// UMAP: keeps each drawing's neighbours near it on the map (fitted on at most
    /// map_sample drawings, the rest placed on that map).
    Umap,
}

/// Which vectors of `embeddings.parquet` are clustered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
enum Vectors {
    /// The whole drawing's (the `embedding` column).
    Embedding,
    /// What is drawn inside the drawing's largest stroke (the `inside` column): a face's eyes,
    /// nose and mouth without its outline and hair. Drawings with nothing inside are noise.
    Inside,
    /// The largest stroke alone (the `outline` column): a face's head.
    Outline,
    /// The strokes neither inside the largest stroke nor it (the `outside` column): a face's
    /// hair and ears. Drawings with nothing outside are noise.
    Outside,
}

impl Vectors {
    /// The part these vectors are of; `None` for the whole drawing.
    fn part(self) -> Option<Part> {
        match self {
            Vectors::Embedding => None,
            Vectors::Inside => Some(Part::Inside),
            Vectors::Outline => Some(Part::Outline),
            Vectors::Outside => Some(Part::Outside),
        }
    }

    /// The column these vectors are read from.
    fn column(self) -> &'static str {
        self.part().map_or("embedding", Part::name)
    }
}

impl Default for ClusterConfig {
    fn default() -> Self {
        let p = ClusterParams::default();
        let u = UmapParams::default();
        ClusterConfig {
            vectors: Vectors::Embedding,
            algorithm: p.algorithm,
            min_cluster_size: p.min_cluster_size,
            min_samples: p.min_samples,
            eps: p.eps,
            metric: p.metric,
            standardise: p.standardise,
            pca_dims: p.pca_dims,
            exact_max_points: p.exact_max_points,
            sample_size: p.sample_size,
            assign_factor: p.assign_factor,
            k: p.k,
            restarts: p.restarts,
            seed: p.seed,
            silhouette_sample: 2000,
            map: MapMethod::Umap,
            map_neighbours: u.neighbours,
            map_min_dist: u.min_dist,
            map_epochs: u.epochs,
            map_sample: u.sample,
        }
    }
}

impl ClusterConfig {
    fn params(&self) -> ClusterParams {
        ClusterParams {
            algorithm: self.algorithm,
            min_cluster_size: self.min_cluster_size,
            min_samples: self.min_samples,
            eps: self.eps,
            metric: self.metric,
            standardise: self.standardise,
            pca_dims: self.pca_dims,
            exact_max_points: self.exact_max_points,
            sample_size: self.sample_size,
            assign_factor: self.assign_factor,
            k: self.k,
            restarts: self.restarts,
            seed: self.seed,
        }
    }

    fn umap(&self) -> UmapParams {
        UmapParams {
            neighbours: self.map_neighbours,
            min_dist: self.map_min_dist,
            epochs: self.map_epochs,
            sample: self.map_sample,
            seed: self.seed,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum AlgorithmArg {
    /// Hierarchical density clustering; finds its own number of clusters.
    Hdbscan,
    /// Fixed-radius density clustering (needs --eps).
    Dbscan,
    /// Every drawing in one of --k groups of near vectors (no noise).
    Kmeans,
}

impl From<AlgorithmArg> for Algorithm {
    fn from(a: AlgorithmArg) -> Self {
        match a {
            AlgorithmArg::Hdbscan => Algorithm::Hdbscan,
            AlgorithmArg::Dbscan => Algorithm::Dbscan,
            AlgorithmArg::Kmeans => Algorithm::Kmeans,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum MetricArg {
    Euclidean,
    /// Cosine distance (rows are L2-normalised first).
    Cosine,
}

impl From<MetricArg> for Metric {
    fn from(m: MetricArg) -> Self {
        match m {
            MetricArg::Euclidean => Metric::Euclidean,
            MetricArg::Cosine => Metric::Cosine,
        }
    }
}

/// Groups embeddings into clusters: HDBSCAN (exact up to --exact-max-points, else a sample
/// clustered exactly and the rest assigned to their nearest clustered sample point), DBSCAN or
/// k-means, on the whole drawings' vectors or on the vectors of one of their parts (what is
/// inside their outlines, the outlines, what is outside).
/// Writes one row per drawing to the output Parquet file and the summary (cluster sizes, noise
/// share, silhouette, ARI/NMI against every label column) to cluster_summary.json beside it, and
/// what it fitted to cluster_model.json (+ .safetensors), with which --model places new drawings
/// without refitting.
#[derive(Parser)]
#[command(name = "cluster", version)]
struct Cli {
    /// Input embeddings.parquet (written by `embed`).
    input: PathBuf,
    /// More embeddings tables to place in the fitted clusters (with --model only).
    more_inputs: Vec<PathBuf>,
    /// Place the drawings of the input embeddings in the clusters of this fitted model (a
    /// cluster_model.json written by `cluster`) instead of clustering them: each gets its
    /// cluster, strength and outlier score (noise where the model says so); the clustering
    /// settings are the model's and the clustering flags are not used.
    #[arg(long, value_name = "FITTED")]
    model: Option<PathBuf>,
    /// Where the fitted cluster model goes [default: cluster_model.json beside the output, its
    /// numbers in cluster_model.safetensors beside that].
    #[arg(long, value_name = "JSON")]
    fitted_output: Option<PathBuf>,
    /// Output clusters.parquet.
    #[arg(short, long)]
    output: PathBuf,
    /// Summary JSON [default: cluster_summary.json beside the output].
    #[arg(long)]
    summary: Option<PathBuf>,
    /// Config file (default: pipeline.toml in the current folder, when present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Which vectors to cluster: the whole drawing's, or one of its parts' (what is inside its
    /// largest stroke, that stroke, the rest) [config: vectors; default embedding].
    #[arg(long, value_enum)]
    vectors: Option<Vectors>,
    /// Clustering algorithm [config: algorithm; default hdbscan].
    #[arg(long, value_enum)]
    algorithm: Option<AlgorithmArg>,
    /// HDBSCAN: smallest group reported as a cluster [config: min_cluster_size; default 25].
    #[arg(long)]
    min_cluster_size: Option<usize>,
    /// Neighbours (counting the point) that make a point dense; 0 = min_cluster_size
    /// [config: min_samples; default 0].
    #[arg(long)]
    min_samples: Option<usize>,
    /// DBSCAN radius, in the distance after the reductions [config: eps; default 0.5].
    #[arg(long)]
    eps: Option<f32>,
    /// Distance between embeddings [config: metric; default euclidean].
    #[arg(long, value_enum)]
    metric: Option<MetricArg>,
    /// Scale every dimension to zero mean and unit variance first [config: standardise; default false].
    #[arg(long)]
    standardise: Option<bool>,
    /// Reduce to this many principal components first; 0 keeps all [config: pca_dims; default 0].
    #[arg(long)]
    pca_dims: Option<usize>,
    /// HDBSCAN runs exactly up to this many points, by sample-and-assign above
    /// [config: exact_max_points; default 20000].
    #[arg(long)]
    exact_max_points: Option<usize>,
    /// Points clustered exactly on the sample-and-assign path [config: sample_size; default 20000].
    #[arg(long)]
    sample_size: Option<usize>,
    /// Sample-and-assign: join the nearest clustered sample point when within this multiple of
    /// its core distance [config: assign_factor; default 2.0].
    #[arg(long)]
    assign_factor: Option<f32>,
    /// k-means: the number of clusters [config: k; default 16].
    #[arg(long)]
    k: Option<usize>,
    /// k-means: seeded starts, the best kept [config: restarts; default 4].
    #[arg(long)]
    restarts: Option<usize>,
    /// Seed of the sample, of k-means' starts and of the silhouette's sample [config: seed; default 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Points in the silhouette's sample [config: silhouette_sample; default 2000].
    #[arg(long)]
    silhouette_sample: Option<usize>,
    /// The 2-D map written as the x, y columns [config: map; default umap].
    #[arg(long, value_enum)]
    map: Option<MapMethod>,
    /// UMAP: neighbours per drawing in its graph [config: map_neighbours; default 15].
    #[arg(long)]
    map_neighbours: Option<usize>,
    /// UMAP: how tightly drawings may pack on the map, in [0, 1) [config: map_min_dist; default 0.1].
    #[arg(long)]
    map_min_dist: Option<f32>,
    /// UMAP: optimisation epochs [config: map_epochs; default 200].
    #[arg(long)]
    map_epochs: Option<usize>,
    /// UMAP: drawings fitted at most; the others are placed on the fitted map
    /// [config: map_sample; default 20000].
    #[arg(long)]
    map_sample: Option<usize>,
}

/// The 2-D map and how well it keeps neighbours.
#[derive(Serialize)]
struct MapSummary {
    method: MapMethod,
    /// Share of each drawing's 10 nearest neighbours (in the vectors clustered) that are among
    /// its 10 nearest on the map, over a sample of 2,000 drawings; for this map and for PCA.
    neighbours_kept_10: BTreeMap<&'static str, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    umap: Option<UmapReport>,
    seconds: f64,
}

/// Drawings whose neighbours are compared in [`MapSummary::neighbours_kept_10`].
const MAP_CHECK_SAMPLE: usize = 2000;

/// The map of the prepared vectors as `cfg` asks, with its neighbour scores.
fn draw_map(x: &Matrix, cfg: &ClusterConfig) -> Result<(Matrix, MapSummary)> {
    let t = Instant::now();
    let pca = clustering::project_2d(x)?;
    let mut kept = BTreeMap::new();
    let score =
        |xy: &Matrix| clustering::umap::neighbours_kept(x, xy, 10, MAP_CHECK_SAMPLE, cfg.seed);
    kept.insert("pca", score(&pca)?);
    let (xy, umap) = match cfg.map {
        MapMethod::Pca => (pca, None),
        MapMethod::Umap => {
            let (xy, report) = clustering::umap::umap_2d(x, &cfg.umap())?;
            kept.insert("umap", score(&xy)?);
            (xy, Some(report))
        }
    };
    let summary = MapSummary {
        method: cfg.map,
        neighbours_kept_10: kept,
        umap,
        seconds: t.elapsed().as_secs_f64(),
    };
    Ok((xy, summary))
}

#[derive(Serialize)]
struct Summary<'a> {
    input: String,
    output: String,
    vectors: Vectors,
    n_points: usize,
    /// Points left out (drawings without the part, when clustering a part's vectors): noise.
    n_left_out: usize,
    dim: usize,
    params: &'a ClusterParams,
    method: &'a Method,
    pca_kept_variance: Option<f64>,
    n_clusters: usize,
    /// Size of cluster `i` at index `i` (clusters are numbered by decreasing size).
    sizes: Vec<usize>,
    noise: usize,
    noise_share: f64,
    /// Mean silhouette over a sample of clustered points, in the space clustering saw.
    silhouette: Option<f64>,
    silhouette_sample: usize,
    map: MapSummary,
    /// ARI and NMI of the clusters against every label column (`word`, `label_*`).
    agreement: BTreeMap<String, Agreement>,
    seconds: f64,
}

/// E.g. "umap, 10 nearest kept 0.61 (PCA 0.12)".
fn map_line(m: &MapSummary) -> String {
    let kept = |k: &str| m.neighbours_kept_10.get(k).copied().unwrap_or(f64::NAN);
    match m.method {
        MapMethod::Pca => format!("pca, 10 nearest kept {:.2}", kept("pca")),
        MapMethod::Umap => format!(
            "umap, 10 nearest kept {:.2} (PCA {:.2})",
            kept("umap"),
            kept("pca")
        ),
    }
}

fn summary_path(output: &Path) -> PathBuf {
    output
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join("cluster_summary.json")
}

fn main() -> Result<()> {
    stage::init();
    let args = Cli::parse();
    if let Some(model) = &args.model {
        return assign::run(model, &args.input, &args.more_inputs, &args.output);
    }
    if !args.more_inputs.is_empty() {
        anyhow::bail!(
            "cluster fits one embeddings table at a time ({} given); several tables are for \
             placing drawings in a fitted model's clusters (--model)",
            1 + args.more_inputs.len()
        );
    }
    let config = PipelineConfig::load(args.config.as_deref())?;
    let mut cfg: ClusterConfig = config.section("cluster")?;
    override_from_flags!(cfg, args; vectors, algorithm, min_cluster_size, min_samples, eps,
        metric, standardise, pca_dims, exact_max_points, sample_size, assign_factor, k, restarts,
        seed, silhouette_sample, map, map_neighbours, map_min_dist, map_epochs, map_sample);
    let params = cfg.params();
    params.validate()?;
    cfg.umap().validate()?;
    // one writer at a time; released when this run ends or dies
    let _lock = stage::OutputLock::file(&args.output)?;
    let t = Instant::now();

    let bar = stage::spinner("{spinner} {msg} {elapsed}");
    bar.set_message(format!("reading {}", args.input.display()));
    let table = tables::embeddings::read(&args.input)?;
    let n = table.len();
    if n == 0 {
        anyhow::bail!(
            "{}: an empty embeddings table (no rows): nothing to cluster",
            args.input.display()
        );
    }
    // the rows clustered: every drawing, or those that have the part
    let (values, rows_in): (&[f32], Vec<usize>) = match cfg.vectors.part() {
        None => (&table.values, (0..n).collect()),
        Some(part) => {
            let name = part.name();
            let vectors = table.part(part).with_context(|| {
                format!(
                    "{} has no `{name}` column: embed with `{name}` among its parts (--parts), \
                     or cluster with --vectors embedding",
                    args.input.display()
                )
            })?;
            (
                &vectors.values,
                (0..n).filter(|&i| vectors.present[i]).collect(),
            )
        }
    };
    if rows_in.is_empty() {
        anyhow::bail!(
            "{}: no drawing has a part `{}` to cluster; cluster the whole drawings with \
             --vectors embedding",
            args.input.display(),
            cfg.vectors.column()
        );
    }
    let chosen: Vec<f32> = rows_in
        .iter()
        .flat_map(|&i| &values[i * table.dim..(i + 1) * table.dim])
        .copied()
        .collect();
    let m = Matrix::new(chosen, table.dim)
        .with_context(|| format!("{}: {} vectors", args.input.display(), cfg.vectors.column()))?;

    bar.set_message(format!(
        "clustering {} points of {} dimensions",
        m.n_rows(),
        table.dim
    ));
    let prepared = clustering::prepare(&m, &params)?;
    let (clustered, rule) = clustering::cluster_and_fit(&prepared, &params)?;
    let fitted = assign::fitted_model(
        &params,
        &prepared,
        rule,
        &clustered.labels,
        &table,
        cfg.vectors.column(),
        &args.input,
    );
    bar.set_message("2-D map and metrics");
    let (xy_in, map) = draw_map(&prepared.matrix, &cfg)?;
    let silhouette = clustering::silhouette(
        &prepared.matrix,
        &clustered.labels,
        cfg.silhouette_sample,
        cfg.seed,
    )?;
    // back to every drawing: one left out is noise, with no place on the map
    let c = clustered.spread(&rows_in, n);
    let mut xy = vec![None; n];
    for (r, &i) in rows_in.iter().enumerate() {
        xy[i] = Some((xy_in.row(r)[0], xy_in.row(r)[1]));
    }
    let s = c.summary();
    let mut agreement = BTreeMap::new();
    for l in &table.labels {
        if let Some(a) = clustering::agreement(&c.labels, &l.values)? {
            agreement.insert(l.name.clone(), a);
        }
    }
    bar.finish_and_clear();

    let rows: Vec<ClusterRow> = (0..n)
        .map(|i| ClusterRow {
            key_id: table.key_ids[i].clone(),
            cluster: c.labels[i],
            strength: Some(c.strength[i]),
            outlier_score: Some(c.outlier[i]),
            xy: xy[i],
        })
        .collect();
    let meta = vec![
        ("input".to_string(), args.input.display().to_string()),
        ("vectors".to_string(), cfg.vectors.column().to_string()),
        ("params".to_string(), serde_json::to_string(&params)?),
        ("method".to_string(), serde_json::to_string(&c.method)?),
        (
            "map".to_string(),
            serde_json::to_string(&cfg.map)?
                .trim_matches('"')
                .to_string(),
        ),
    ]
    .into_iter()
    // which model's embeddings these are, for the stages after
    .chain(
        table
            .metadata
            .iter()
            .filter(|(k, _)| k == "embed.model_id" || k == "embed.model")
            .cloned(),
    )
    .collect::<Vec<_>>();
    let summary_file = args
        .summary
        .clone()
        .unwrap_or_else(|| summary_path(&args.output));
    let summary = Summary {
        input: args.input.display().to_string(),
        output: args.output.display().to_string(),
        vectors: cfg.vectors,
        n_points: n,
        n_left_out: n - rows_in.len(),
        dim: table.dim,
        params: &params,
        method: &c.method,
        pca_kept_variance: c.pca_kept_variance,
        n_clusters: s.n_clusters,
        sizes: s.sizes.clone(),
        noise: s.noise,
        noise_share: s.noise_share,
        silhouette,
        silhouette_sample: cfg.silhouette_sample,
        map,
        agreement,
        seconds: t.elapsed().as_secs_f64(),
    };
    // Everything is computed before anything is written; each file is written atomically.
    tables::clusters::write(&args.output, &rows, &meta)?;
    let mut json = serde_json::to_vec_pretty(&summary)?;
    json.push(b'\n');
    tables::atomic::write_bytes(&summary_file, &json)?;
    let fitted_file = args
        .fitted_output
        .clone()
        .unwrap_or_else(|| assign::fitted_path(&args.output));
    fitted
        .save(&fitted_file)
        .context("writing the fitted cluster model")?;

    let largest: Vec<String> = s.sizes.iter().take(5).map(usize::to_string).collect();
    let scores: Vec<String> = summary
        .agreement
        .iter()
        .map(|(k, a)| format!("{k} ARI {:.3} NMI {:.3}", a.ari, a.nmi))
        .collect();
    println!(
        "[cluster] {n} points ({} dims, {}) in {:.1}s: {} clusters (largest {}), noise {:.1}%, \
         silhouette {}{}{}; map {}; wrote {}, {} and {}",
        table.dim,
        match &c.method {
            Method::ExactHdbscan => "exact HDBSCAN".to_string(),
            Method::SampledHdbscan(r) => format!("HDBSCAN on a {}-point sample", r.sample_size),
            Method::Dbscan => "DBSCAN".to_string(),
            Method::Kmeans { .. } => format!("k-means, k {}", params.k),
        },
        summary.seconds,
        s.n_clusters,
        if largest.is_empty() {
            "-".into()
        } else {
            largest.join(", ")
        },
        100.0 * s.noise_share,
        silhouette.map_or("n/a".into(), |v| format!("{v:.3}")),
        if scores.is_empty() { "" } else { "; " },
        scores.join("; "),
        map_line(&summary.map),
        args.output.display(),
        summary_file.display(),
        fitted_file.display()
    );
    Ok(())
}
