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

/// The clusters table's rows of drawings placed by [`place`] (no place on the map).
pub fn placed_rows(keys: &[String], placed: &[(i32, f32, f32)]) -> Vec<ClusterRow> {
    keys.iter()
        .zip(placed)
        .map(|(k, &(cluster, s, o))| ClusterRow {
            key_id: k.clone(),
            cluster,
            strength: Some(s),
            outlier_score: Some(o),
            xy: None,
        })
        .collect()
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
    // one writer at a time; released when this run ends or dies
    let _lock = stage::OutputLock::file(output)?;
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
    // the tables stream through a batch at a time: memory does not grow with their length
    let mut writer = tables::clusters::Writer::create(output, &meta)?;
    let mut readers = Vec::new();
    for path in &inputs {
        readers.push(tables::embeddings::Reader::open(path)?);
    }
    let total: usize = readers.iter().map(|r| r.rows).sum();
    let bar = stage::progress(total as u64, "drawings");
    bar.set_prefix("cluster --model");
    let k = model.info.n_clusters;
    let mut counts = vec![0usize; k];
    let (mut placed_n, mut noise) = (0usize, 0usize);
    // per label column, the clusters against its values; with the tables that have it
    let mut agreement: BTreeMap<String, (clustering::AgreementCounts, usize)> = BTreeMap::new();
    let mut read = 0;
    for (path, reader) in inputs.iter().zip(readers) {
        let has_labels: Vec<String> = reader.empty().labels.into_iter().map(|l| l.name).collect();
        for chunk in reader {
            let mut table = chunk?;
            read += table.len();
            bar.inc(table.len() as u64);
            if let Some(s) = shard {
                table.retain_keys(|k| s.contains(k));
            }
            if table.is_empty() {
                continue;
            }
            let placed = place(&model, &table, path)?;
            for l in &table.labels {
                let e = agreement.entry(l.name.clone()).or_default();
                for (p, v) in placed.iter().zip(&l.values) {
                    e.0.add(p.0, v.as_deref());
                }
            }
            for &(c, _, _) in &placed {
                match usize::try_from(c) {
                    Ok(c) if c < k => counts[c] += 1,
                    _ => noise += 1,
                }
            }
            placed_n += placed.len();
            writer.write(&placed_rows(&table.key_ids, &placed))?;
        }
        for name in has_labels {
            agreement.entry(name).or_default().1 += 1;
        }
    }
    bar.finish_and_clear();
    if placed_n == 0 {
        match shard {
            Some(s) => bail!("none of the {read} drawings of the input tables is in shard {s}"),
            None => bail!("the input tables hold no drawings to place"),
        }
    }
    let mut scores = Vec::new();
    for (name, (counts, tables_with)) in &agreement {
        // a label column only some of the tables have is not scored
        if *tables_with != inputs.len() {
            continue;
        }
        if let Some(a) = counts.agreement() {
            scores.push(format!("{name} ARI {:.3} NMI {:.3}", a.ari, a.nmi));
        }
    }
    writer.finish()?;
    let noise_share = noise as f64 / placed_n as f64;
    let per: Vec<String> = counts.iter().map(usize::to_string).collect();
    let shard = match shard {
        Some(s) => format!(" (shard {s}: {placed_n} of the {read} read)"),
        None => String::new(),
    };
    println!(
        "[cluster --model] placed {} drawings{shard} of {} table(s) in the {k} clusters of {} ({} vectors) \
         in {:.1}s: per cluster {}, noise {:.1}%{}{}; wrote {}",
        placed_n,
        inputs.len(),
        fitted.display(),
        model.info.vectors,
        t.elapsed().as_secs_f64(),
        per.join(" "),
        100.0 * noise_share,
        if scores.is_empty() { "" } else { "; " },
        scores.join("; "),
        output.display()
    );
    Ok(())
}
