//! `cluster`: groups the drawings' embeddings (HDBSCAN, DBSCAN or k-means) and writes
//! `clusters.parquet` (key_id, cluster, strength, outlier_score, x, y) and
//! `cluster_summary.json` beside it, and the fitted cluster model (`cluster_model.json` and
//! `cluster_model.safetensors`, see [`clustering::fitted`]). With `--model` it places the
//! drawings of embeddings tables in the clusters of a fitted model instead, without refitting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use clustering::umap::{MapMethod, UmapReport};
use clustering::{Agreement, ClusterParams, Matrix, Method, Vectors};
use serde::Serialize;
use tables::clusters::ClusterRow;

mod assign;

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
    /// Input embeddings.parquet (written by `embed`): a file, a folder (every *.parquet under
    /// it, a Hive-partitioned folder included) or a quoted glob, read as one table.
    input: PathBuf,
    /// More embeddings tables to place in the fitted clusters (with --model only).
    more_inputs: Vec<PathBuf>,
    /// With --model: place only shard I of N of the drawings, those whose key_id's xxHash64
    /// (seed 0) modulo N is I, the same whatever the order of the input files.
    #[arg(long, value_name = "I/N", requires = "model")]
    shard: Option<tables::dataset::Shard>,
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
    /// With `fit_max_drawings`: write the clusters of the sampled drawings only, leaving the
    /// others to `cluster --model` (as the workflow's shards do). Without it every drawing of the
    /// input gets its cluster: those outside the sample are placed with the fitted model as the
    /// input streams past.
    #[arg(long, conflicts_with = "model")]
    fit_only: bool,
    /// Summary JSON [default: cluster_summary.json beside the output].
    #[arg(long)]
    summary: Option<PathBuf>,
    /// Config file (default: pipeline.toml in the current folder, when present).
    #[arg(long)]
    config: Option<PathBuf>,
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
fn draw_map(x: &Matrix, params: &ClusterParams) -> Result<(Matrix, MapSummary)> {
    let cfg = &params.map;
    let t = Instant::now();
    let pca = clustering::project_2d(x)?;
    let mut kept = BTreeMap::new();
    let score =
        |xy: &Matrix| clustering::umap::neighbours_kept(x, xy, 10, MAP_CHECK_SAMPLE, cfg.seed);
    kept.insert("pca", score(&pca)?);
    let (xy, umap) = match cfg.method {
        MapMethod::Pca => (pca, None),
        MapMethod::Umap => {
            let (xy, report) = clustering::umap::umap_2d(x, cfg)?;
            kept.insert("umap", score(&xy)?);
            (xy, Some(report))
        }
    };
    let summary = MapSummary {
        method: cfg.method,
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
    /// Drawings read: more than `n_points` when the fit took a sample (`fit_max_drawings`).
    n_read: usize,
    /// Drawings outside the sample placed with the fitted model (not clustered, no place on the
    /// map); the summary's figures are the sample's.
    n_placed: usize,
    /// Points left out (drawings without the part, when clustering a part's vectors and
    /// `whole_when_missing` is off): noise.
    n_left_out: usize,
    /// Drawings without the part clustered by their whole drawing's vector.
    n_whole_for_part: usize,
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
    let (args, params): (Cli, ClusterParams) = stage::settings::parse("cluster")?;
    if let Some(model) = &args.model {
        return assign::run(
            model,
            &args.input,
            &args.more_inputs,
            &args.output,
            args.shard,
        );
    }
    if !args.more_inputs.is_empty() {
        anyhow::bail!(
            "cluster fits one embeddings table at a time ({} given); several tables are for \
             placing drawings in a fitted model's clusters (--model)",
            1 + args.more_inputs.len()
        );
    }
    params.validate()?;
    // one writer at a time; released when this run ends or dies
    let _lock = stage::OutputLock::file(&args.output)?;
    let t = Instant::now();

    let bar = stage::spinner("{spinner} {msg} {elapsed}");
    bar.set_message(format!("reading {}", args.input.display()));
    let (table, n_read) =
        tables::embeddings::read_sample(&args.input, params.fit_max_drawings, params.seed)?;
    let n = table.len();
    if n == 0 {
        anyhow::bail!(
            "{}: an empty embeddings table (no rows): nothing to cluster",
            args.input.display()
        );
    }
    // the rows clustered: every drawing, or those that have the part (the others by their
    // whole drawing's vector, or left out)
    let column = params.vectors.column();
    let (rows_in, m, n_whole) =
        assign::vectors_of(&table, column, params.whole_when_missing, &args.input)?;
    // fitted in the order of the key_ids, not of the rows: the same clusters however the
    // drawings were split into files or shards, and in whatever order the files are read
    let mut order: Vec<usize> = (0..rows_in.len()).collect();
    order.sort_by(|&a, &b| table.key_ids[rows_in[a]].cmp(&table.key_ids[rows_in[b]]));
    let rows_in: Vec<usize> = order.iter().map(|&r| rows_in[r]).collect();
    let m = m.select_rows(&order);
    if rows_in.is_empty() {
        anyhow::bail!(
            "{}: no drawing has a part `{column}` to cluster; cluster the whole drawings with \
             --vectors embedding or --whole-when-missing true",
            args.input.display(),
        );
    }

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
        column,
        &args.input,
    );
    bar.set_message("2-D map and metrics");
    let (xy_in, map) = draw_map(&prepared.matrix, &params)?;
    let silhouette = clustering::silhouette(
        &prepared.matrix,
        &clustered.labels,
        params.silhouette_sample,
        params.seed,
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
        ("vectors".to_string(), column.to_string()),
        ("params".to_string(), serde_json::to_string(&params)?),
        ("method".to_string(), serde_json::to_string(&c.method)?),
        (
            "map".to_string(),
            serde_json::to_string(&params.map.method)?
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
        vectors: params.vectors,
        n_points: n,
        n_read,
        n_placed: if args.fit_only { 0 } else { n_read - n },
        n_left_out: n - rows_in.len(),
        n_whole_for_part: n_whole,
        dim: table.dim,
        params: &params,
        method: &c.method,
        pca_kept_variance: c.pca_kept_variance,
        n_clusters: s.n_clusters,
        sizes: s.sizes.clone(),
        noise: s.noise,
        noise_share: s.noise_share,
        silhouette,
        silhouette_sample: params.silhouette_sample,
        map,
        agreement,
        seconds: t.elapsed().as_secs_f64(),
    };
    // Each file is written atomically: a failure while placing the drawings outside the sample
    // leaves the previous output, or none.
    let mut writer = tables::clusters::Writer::create(&args.output, &meta)?;
    writer.write(&rows)?;
    if n < n_read && !args.fit_only {
        // the drawings outside the sample, placed with the fitted model a batch at a time
        let sampled: std::collections::HashSet<&str> =
            table.key_ids.iter().map(String::as_str).collect();
        let mut reader = tables::embeddings::Reader::open(&args.input)?;
        let bar = stage::progress((n_read - n) as u64, "drawings");
        bar.set_prefix("cluster: placing the rest");
        while let Some(rest) = reader.next_rows_where(&mut |k| !sampled.contains(k))? {
            bar.inc(rest.len() as u64);
            if rest.is_empty() {
                continue;
            }
            let placed = assign::place(&fitted, &rest, &args.input)?;
            writer.write(&assign::placed_rows(&rest.key_ids, &placed))?;
        }
        bar.finish_and_clear();
    }
    writer.finish()?;
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
        "[cluster] {n} points{} ({} dims, {}) in {:.1}s: {} clusters (largest {}), noise {:.1}%, \
         silhouette {}{}{}; map {}; wrote {}, {} and {}",
        if n < n_read {
            format!(
                " (a uniform sample of the {n_read} read{})",
                if args.fit_only {
                    ": place the others with --model"
                } else {
                    "; the others placed with the fitted model"
                }
            )
        } else {
            String::new()
        },
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
