//! Do generated drawings belong where they were asked for? For every cluster K of a work
//! folder's fitted clusters, generates drawings like K, embeds them again (as `embed` does, with
//! the config's [embed] settings), places them with the fitted cluster model, and prints the
//! share that lands in K; then, with a kNN classifier of each label factor fitted on the real
//! drawings' vectors, the share of the drawings generated like K that get K's most common value.
//!
//! cargo run --release -p generate --example measure -- WORK [COUNT] [CONFIG]
//!
//! WORK needs drawings.parquet, run/, embeddings.parquet (with `embed.model_id`, so made by an
//! `embed` of this version) and cluster_model.json (`cluster` of this version).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clustering::{FittedModel, Matrix};
use generate::{GenerateConfig, Mode, Request};
use tables::embeddings::EmbeddingTable;

/// Neighbours that vote in the kNN classifier.
const KNN_K: usize = 10;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let work = PathBuf::from(args.first().map_or("work", String::as_str));
    let count: usize = args.get(1).map_or(Ok(24), |s| s.parse())?;
    let config = stage::PipelineConfig::load(args.get(2).map(Path::new))?;
    let mut gcfg: GenerateConfig = config.section("generate")?;
    gcfg.count = count;
    let mut ecfg: embed::EmbedConfig = config.section("embed")?;
    ecfg.reconstructions = 0;
    ecfg.interpolations = 0;

    let fitted_path = work.join("cluster_model.json");
    let fitted = FittedModel::load(&fitted_path)?;
    let column = fitted.info.vectors.clone();
    let real = tables::embeddings::read(&work.join("embeddings.parquet"))?;
    let t = std::time::Instant::now();

    // every cluster's drawings, in one table
    let mut parts = Vec::new();
    let mut checks = Vec::new();
    for k in 0..fitted.info.n_clusters as i32 {
        let req = Request {
            model: work.join("run"),
            clusters: Some(fitted_path.clone()),
            embeddings: None,
            drawings: None,
            mode: Mode::LikeCluster(k),
        };
        let g = generate::generate(&req, &gcfg, &|_, _| {})
            .with_context(|| format!("generating like cluster {k}"))?;
        checks.extend(g.landing.map(|l| (k, l)));
        parts.push(g);
    }
    let gen_s = t.elapsed().as_secs_f64();
    let tmp = tempfile::tempdir()?;
    let gen_path = tmp.path().join("generated.parquet");
    let g = generate::Generated::merge(parts).context("no clusters")?;
    generate::write(&gen_path, None, &g)?;
    let emb_path = tmp.path().join("embeddings.parquet");
    embed::embed(
        &work.join("run"),
        &gen_path,
        &embed::Outputs::beside(&emb_path),
        &ecfg,
        &|_, _| {},
    )?;
    let gen = tables::embeddings::read(&emb_path)?;
    let (_, prov) = tables::generated::read(&gen_path)?;
    let asked: BTreeMap<&str, i32> = g
        .rows
        .iter()
        .zip(&prov)
        .map(|(r, p)| (r.row.key_id.as_str(), p.cluster.expect("like-cluster")))
        .collect();

    // where they land
    let placed = place(&fitted, &gen, &column)?;
    let n_clusters = fitted.info.n_clusters;
    let mut landed = vec![(0usize, 0usize); n_clusters];
    for (i, key) in gen.key_ids.iter().enumerate() {
        let k = asked[key.as_str()] as usize;
        landed[k].1 += 1;
        if placed[i] == k as i32 {
            landed[k].0 += 1;
        }
    }
    println!(
        "generated {} drawings ({} per cluster asked, {} came back empty) in {gen_s:.1}s; \
         re-embedded and placed with {}",
        gen.len(),
        count,
        count * n_clusters - gen.len(),
        fitted_path.display()
    );
    if !checks.is_empty() {
        // generate's own check: the decoder's share at the first draw, before any redraw
        let asked = (count * checks.len()) as f64;
        let first: usize = checks.iter().map(|(_, l)| l.first).sum();
        let redrawn: usize = checks.iter().map(|(_, l)| l.redrawn).sum();
        let draws: usize = checks.iter().map(|(_, l)| l.draws).sum();
        let lowest = checks
            .iter()
            .map(|(_, l)| l.first as f64 / count as f64)
            .fold(1.0, f64::min);
        println!(
            "\ngenerate's check (tries {}): {:.1}% landed at the first draw (lowest cluster \
             {:.1}%), {:.1}% after redrawing; {:.2} draws per drawing kept",
            gcfg.tries,
            100.0 * first as f64 / asked,
            100.0 * lowest,
            100.0 * (first + redrawn) as f64 / asked,
            draws as f64 / asked
        );
        let line: Vec<String> = checks
            .iter()
            .map(|(k, l)| format!("{k}:{}/{count}", l.first))
            .collect();
        println!("  first draws in K per cluster: {}", line.join(" "));
    }
    println!("\nshare landing in the cluster asked for ({column} vectors, embedded again here):");
    let shares: Vec<f64> = landed
        .iter()
        .map(|&(a, _)| a as f64 / count as f64)
        .collect();
    for (k, (&(a, _), s)) in landed.iter().zip(&shares).enumerate() {
        println!("  cluster {k:2}: {a:3} of {count} = {:5.1}%", 100.0 * s);
    }
    let mean = shares.iter().sum::<f64>() / n_clusters as f64;
    let min = shares.iter().copied().fold(1.0, f64::min);
    println!("  mean {:.1}%, lowest {:.1}%", 100.0 * mean, 100.0 * min);

    // the clusters' most common factor values, and the kNN's verdict on the generated drawings
    let real_placed = place(&fitted, &real, &column)?;
    for vectors in [column.as_str(), "embedding"] {
        println!("\nkNN (k {KNN_K}) on the real drawings' `{vectors}` vectors:");
        for label in real.labels.iter().filter(|l| l.name.starts_with("label_")) {
            let (rows, values) = real
                .column_vectors(vectors)
                .with_context(|| format!("no `{vectors}` vectors"))?;
            let train_x = Matrix::new(values, real.dim)?;
            let train_y: Vec<Option<&str>> =
                rows.iter().map(|&i| label.values[i].as_deref()).collect();
            let (grows, gvalues) = gen
                .column_vectors(vectors)
                .with_context(|| format!("no generated `{vectors}` vectors"))?;
            let predicted = knn_predict(&train_x, &train_y, &Matrix::new(gvalues, gen.dim)?);
            let mut per = vec![(0usize, 0usize); n_clusters];
            let mut top = Vec::new();
            for k in 0..n_clusters as i32 {
                let common = most_common(
                    (0..real.len())
                        .filter(|&i| real_placed[i] == k)
                        .filter_map(|i| label.values[i].as_deref()),
                );
                top.push(common);
            }
            for (r, &i) in grows.iter().enumerate() {
                let k = asked[gen.key_ids[i].as_str()] as usize;
                per[k].1 += 1;
                if predicted[r].is_some() && predicted[r] == top[k].as_deref() {
                    per[k].0 += 1;
                }
            }
            // a generated drawing without the vector (nothing inside) counts as a miss
            let hits: usize = per.iter().map(|p| p.0).sum();
            // for reference: the share of the real drawings placed in a cluster that have its
            // most common value (their true labels): what the clusters themselves hold
            let real_hits = (0..real.len())
                .filter(|&i| real_placed[i] >= 0)
                .filter(|&i| {
                    label.values[i].is_some()
                        && label.values[i].as_deref() == top[real_placed[i] as usize].as_deref()
                })
                .count();
            let real_n = real_placed.iter().filter(|&&c| c >= 0).count().max(1);
            let line: Vec<String> = per
                .iter()
                .zip(&top)
                .enumerate()
                .map(|(k, (&(a, _), t))| format!("{k}:{}={a}/{count}", t.as_deref().unwrap_or("-")))
                .collect();
            println!(
                "  {}: {:.1}% of all generated drawings get their cluster's most common value \
                 (real members: {:.1}%) ({})",
                label.name,
                100.0 * hits as f64 / (count * n_clusters) as f64,
                100.0 * real_hits as f64 / real_n as f64,
                line.join(" ")
            );
        }
    }
    println!("\ntotal {:.1}s", t.elapsed().as_secs_f64());
    Ok(())
}

/// Per row of `table`, its cluster in `fitted` (−1: noise or no vector).
fn place(fitted: &FittedModel, table: &EmbeddingTable, column: &str) -> Result<Vec<i32>> {
    let (rows, values) = table
        .column_vectors(column)
        .with_context(|| format!("no `{column}` vectors"))?;
    let mut out = vec![-1; table.len()];
    if rows.is_empty() {
        return Ok(out);
    }
    let a = fitted.assign(&Matrix::new(values, table.dim)?)?;
    for (r, &i) in rows.iter().enumerate() {
        out[i] = a.labels[r];
    }
    Ok(out)
}

fn most_common<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(_, c)| c)
        .map(|(k, _)| k.to_string())
}

/// The majority label of the `KNN_K` nearest labelled training rows (Euclidean) of each query.
fn knn_predict<'a>(x: &Matrix, y: &[Option<&'a str>], q: &Matrix) -> Vec<Option<&'a str>> {
    q.rows()
        .map(|r| {
            let mut d: Vec<(f32, usize)> = x
                .rows()
                .enumerate()
                .filter(|(i, _)| y[*i].is_some())
                .map(|(i, t)| (t.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).sum(), i))
                .collect();
            let k = KNN_K.min(d.len());
            if k == 0 {
                return None;
            }
            d.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
            let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
            for &(_, i) in &d[..k] {
                *votes.entry(y[i].expect("labelled")).or_default() += 1;
            }
            votes.into_iter().max_by_key(|&(_, c)| c).map(|(v, _)| v)
        })
        .collect()
}
