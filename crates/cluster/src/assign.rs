//! The fitted cluster model on `cluster`'s side: building it from a fit, and `cluster --model`,
//! which places the drawings of embeddings tables in a fitted model's clusters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clustering::{ClusterParams, FittedModel, Matrix, Prepared, Rule, Source};
use tables::clusters::ClusterRow;
use tables::dataset::Shard;
use tables::embeddings::EmbeddingTable;

/// `cluster_model.json` beside the output.
pub fn fitted_path(output: &Path) -> PathBuf {
    output
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join("cluster_model.json")
}

/// The fitted model of a fit of `table`'s `column` vectors.
pub fn fitted_model(
    params: &ClusterParams,
    prepared: &Prepared<'_>,
    rule: Rule,
    labels: &[i32],
    table: &EmbeddingTable,
    column: &str,
    input: &Path,
) -> FittedModel {
    FittedModel::new(
        params,
        prepared.preparation(params),
        rule,
        labels,
        Source {
            vectors: column.to_string(),
            dim: table.dim,
            embeddings: input.display().to_string(),
            embedding_model: table.model_id().map(str::to_string),
        },
    )
}

/// The rows of `table` that have the `column` vectors, and those vectors; with
/// `whole_when_missing`, every row, those without the column's vector by their whole drawing's
/// (also counted).
pub fn vectors_of(
    table: &EmbeddingTable,
    column: &str,
    whole_when_missing: bool,
    path: &Path,
) -> Result<(Vec<usize>, Matrix, usize)> {
    let (rows, values, whole) = table
        .vectors_or_whole(column, whole_when_missing)
        .with_context(|| {
            format!(
                "{} has no `{column}` column: embed with `{column}` among its parts (--parts), \
                 or cluster with --vectors embedding",
                path.display()
            )
        })?;
    let m = Matrix::new(values, table.dim)
        .with_context(|| format!("{}: {column} vectors", path.display()))?;
    Ok((rows, m, whole))
}

/// Places every drawing of an embeddings table: (cluster, strength, outlier score) per row,
/// noise for the rows without the fitted column's vector (unless the fit took their whole
/// drawing's instead).
pub fn place(
    model: &FittedModel,
    table: &EmbeddingTable,
    path: &Path,
) -> Result<Vec<(i32, f32, f32)>> {
    model
        .check_model(
            table.model_id(),
            &format!("the embeddings in {}", path.display()),
        )
        .map_err(anyhow::Error::from)?;
    let (rows, m, _) = vectors_of(
        table,
        &model.info.vectors,
        model.info.params.whole_when_missing,
        path,
    )?;
    let mut out = vec![(-1, 0.0, 1.0); table.len()];
    if rows.is_empty() {
        return Ok(out);
    }
    let a = model
        .assign(&m)
        .with_context(|| format!("placing the drawings of {}", path.display()))?;
    for (r, &i) in rows.iter().enumerate() {
        out[i] = (a.labels[r], a.strength[r], a.outlier[r]);
    }
    Ok(out)
}

/// `cluster --model FITTED -o OUT EMBEDDINGS...`.
pub fn run(
    fitted: &Path,
    first: &Path,
    more: &[PathBuf],
    output: &Path,
    shard: Option<Shard>,
) -> Result<()> {
    let t = Instant::now();
    let model = FittedModel::load(fitted).context("loading the fitted cluster model")?;
    let inputs: Vec<&Path> = std::iter::once(first)
        .chain(more.iter().map(PathBuf::as_path))
        .collect();
    let bar = stage::progress(inputs.len() as u64, "tables");
    bar.set_prefix("cluster --model");
    let mut rows = Vec::new();
    let mut labels_by_name: BTreeMap<String, (Vec<i32>, Vec<Option<String>>)> = BTreeMap::new();
    let mut read = 0;
    for path in &inputs {
        let mut table = tables::embeddings::read(path)?;
        read += table.len();
        if let Some(s) = shard {
            table.retain_keys(|k| s.contains(k));
        }
        let placed = place(&model, &table, path)?;
        for l in &table.labels {
            let e = labels_by_name.entry(l.name.clone()).or_default();
            e.0.extend(placed.iter().map(|p| p.0));
            e.1.extend(l.values.iter().cloned());
        }
        rows.extend(
            table
                .key_ids
                .iter()
                .zip(&placed)
                .map(|(k, &(cluster, s, o))| ClusterRow {
                    key_id: k.clone(),
                    cluster,
                    strength: Some(s),
                    outlier_score: Some(o),
                    xy: None,
                }),
        );
        bar.inc(1);
    }
    bar.finish_and_clear();
    let labels: Vec<i32> = rows.iter().map(|r| r.cluster).collect();
    let s = clustering::summary(&labels);
    let k = model.info.n_clusters;
    let mut counts = vec![0usize; k];
    for &l in labels.iter().filter(|&&l| l >= 0) {
        counts[l as usize] += 1;
    }
    let mut scores = Vec::new();
    for (name, (l, v)) in &labels_by_name {
        // a label column only some of the tables have is not scored
        if l.len() != labels.len() {
            continue;
        }
        if let Some(a) = clustering::agreement(l, v)? {
            scores.push(format!("{name} ARI {:.3} NMI {:.3}", a.ari, a.nmi));
        }
    }
    if rows.is_empty() {
        match shard {
            Some(s) => bail!("none of the {read} drawings of the input tables is in shard {s}"),
            None => bail!("the input tables hold no drawings to place"),
        }
    }
    let meta = vec![
        ("cluster.model".to_string(), fitted.display().to_string()),
        ("vectors".to_string(), model.info.vectors.clone()),
        (
            "inputs".to_string(),
            inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "params".to_string(),
            serde_json::to_string(&model.info.params)?,
        ),
    ]
    .into_iter()
    .chain(shard.map(|s| ("cluster.shard".to_string(), s.to_string())))
    .collect::<Vec<_>>();
    tables::clusters::write(output, &rows, &meta)?;
    let per: Vec<String> = counts.iter().map(usize::to_string).collect();
    let shard = match shard {
        Some(s) => format!(" (shard {s}: {} of the {read} read)", rows.len()),
        None => String::new(),
    };
    println!(
        "[cluster --model] placed {} drawings{shard} of {} table(s) in the {k} clusters of {} ({} vectors) \
         in {:.1}s: per cluster {}, noise {:.1}%{}{}; wrote {}",
        rows.len(),
        inputs.len(),
        fitted.display(),
        model.info.vectors,
        t.elapsed().as_secs_f64(),
        per.join(" "),
        100.0 * s.noise_share,
        if scores.is_empty() { "" } else { "; " },
        scores.join("; "),
        output.display()
    );
    Ok(())
}
