//! What `plot` makes for exploring beyond the figures: `explorer.html` (the map with every
//! drawing on hover), the report's table of scores, and an export for TensorBoard's Embedding
//! Projector.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use drawing::Stroke3;
use figures::{CategoryOrder, Colouring, Explorer, ExplorerStats, Rgb, ScoreTable};
use tables::clusters::ClusterRow;
use tables::drawings::DrawingTable;

/// Writes `explorer.html` into `out`: a point per drawing placed on the map, coloured by
/// cluster first, then by `word` and each label column where the drawings carry them.
#[allow(clippy::too_many_arguments)]
pub fn write_explorer(
    out: &Path,
    title: &str,
    subtitle: &str,
    rows: &[ClusterRow],
    drawings: Option<&DrawingTable>,
    reconstructions: &[tables::sequences::Reconstruction],
    colours: (Rgb, Rgb, Rgb),
) -> Result<(PathBuf, ExplorerStats)> {
    let placed: Vec<&ClusterRow> = rows.iter().filter(|r| r.xy.is_some()).collect();
    let by_key: HashMap<&str, usize> = drawings.map(DrawingTable::index_by_key).unwrap_or_default();
    let row_of: Vec<Option<usize>> = placed
        .iter()
        .map(|r| by_key.get(r.key_id.as_str()).copied())
        .collect();
    let mut colourings = vec![Colouring::from_values(
        "cluster",
        &placed
            .iter()
            .map(|r| {
                Some(if r.cluster >= 0 {
                    r.cluster.to_string()
                } else {
                    "noise".to_string()
                })
            })
            .collect::<Vec<_>>(),
        CategoryOrder::Numeric,
    )];
    if let Some(t) = drawings {
        for col in t.label_columns() {
            let values: Vec<Option<&str>> = row_of
                .iter()
                .map(|i| i.and_then(|i| col.values[i].as_deref()))
                .collect();
            if values.iter().any(Option::is_some) {
                colourings.push(Colouring::from_values(
                    col.name.clone(),
                    &values,
                    CategoryOrder::ByCount,
                ));
            }
        }
    }
    let index_of: HashMap<&str, usize> = placed
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key_id.as_str(), i))
        .collect();
    let recon: Vec<(usize, &Stroke3)> = reconstructions
        .iter()
        .filter_map(|r| index_of.get(r.key_id.as_str()).map(|&i| (i, &r.drawing)))
        .collect();
    let e = Explorer {
        title: title.to_string(),
        subtitle: subtitle.to_string(),
        keys: placed.iter().map(|r| r.key_id.as_str()).collect(),
        xy: placed.iter().map(|r| r.xy.expect("placed")).collect(),
        drawings: row_of
            .iter()
            .map(|i| i.map(|i| &drawings.expect("a row implies a table").rows[i].drawing))
            .collect(),
        colourings,
        reconstructions: recon,
        background: colours.0,
        ink: colours.1,
        model_ink: colours.2,
    };
    let path = out.join("explorer.html");
    let stats = figures::write_explorer(&path, &e)?;
    Ok((path, stats))
}

/// The evaluation's scores by label, from `evaluation.json`: kNN accuracy of the whole
/// drawing's vector and of the best part's, the raster baseline's, the majority rate, and the
/// clusters' agreement. `None` when the file scores no label.
pub fn score_table(eval: &serde_json::Value) -> Option<ScoreTable> {
    let labels = eval.get("labels")?.as_array()?;
    if labels.is_empty() {
        return None;
    }
    let f = |v: Option<&serde_json::Value>| -> String {
        v.and_then(serde_json::Value::as_f64)
            .map(|x| format!("{x:.3}"))
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    for l in labels {
        let name = l.get("name").and_then(|v| v.as_str()).unwrap_or("?");
        let best_part = l
            .get("part_knn_accuracy")
            .and_then(|p| p.as_object())
            .and_then(|p| {
                p.iter()
                    .filter_map(|(k, v)| v.as_f64().map(|v| (k, v)))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
            })
            .map(|(k, v)| format!("{v:.3} ({k})"))
            .unwrap_or_default();
        rows.push((
            name.to_string(),
            vec![
                f(l.get("knn_accuracy")),
                best_part,
                f(l.get("baseline_knn_accuracy")),
                f(l.get("majority_rate")),
                f(l.get("clusters").and_then(|c| c.get("nmi"))),
                f(l.get("clusters").and_then(|c| c.get("ari"))),
            ],
        ));
    }
    let mut note = String::from(
        "kNN: accuracy of a k-nearest-neighbour classifier of the label from the vectors \
         (cross-validated); best part: the same from a part's vector; raster: from a PCA of \
         the drawings' pixels; majority: the most common value's share; NMI and ARI: agreement \
         of the clusters with the label.",
    );
    if let Some(c) = eval.get("chamfer") {
        if let Some(m) = c.get("mean").and_then(|v| v.as_f64()) {
            let _ = write!(
                note,
                " Reconstructions: mean Chamfer distance {m:.3} of the unit box over {}.",
                c.get("n").and_then(|v| v.as_u64()).unwrap_or(0)
            );
        }
    }
    Some(ScoreTable {
        columns: [
            "kNN",
            "kNN, best part",
            "raster kNN",
            "majority",
            "clusters NMI",
            "clusters ARI",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        note: Some(note),
    })
}

/// What [`write_projector`] wrote.
#[derive(Debug, Clone)]
pub struct ProjectorExport {
    pub dir: PathBuf,
    pub points: usize,
    pub dim: usize,
}

/// Thumbnail side in the sprite; TensorBoard's sprite may be at most 8192 pixels a side.
const SPRITE_CELL: u32 = 32;
const SPRITE_MAX_SIDE: u32 = 8192;

/// Writes `projector/` in `out` for TensorBoard's Embedding Projector: `tensors.tsv` (the
/// vectors clustered), `metadata.tsv` (key_id, cluster and every label), `sprite.png` (a
/// thumbnail of each drawing, in the rows' order) and `projector_config.pbtxt` (TensorBoard's
/// log-folder config) with `projector_config.json` (the standalone projector's). At most
/// `max_points` drawings, a sample spread evenly over the key order when there are more.
pub fn write_projector(
    out: &Path,
    embeddings: &tables::embeddings::EmbeddingTable,
    vectors: &str,
    rows: &[ClusterRow],
    drawings: &DrawingTable,
    max_points: usize,
    ink: Rgb,
) -> Result<ProjectorExport> {
    let max_cells = (SPRITE_MAX_SIDE / SPRITE_CELL).pow(2) as usize;
    if max_points == 0 || max_points > max_cells {
        bail!(
            "[plot] projector_max is {max_points}: it must be 1 to {max_cells} (a sprite of \
             {SPRITE_CELL}-pixel thumbnails fits {max_cells} in TensorBoard's 8192-pixel limit)"
        );
    }
    let (values, present): (&[f32], Option<&[bool]>) = match vectors {
        "embedding" => (&embeddings.values, None),
        name => {
            let part = drawing::Part::from_name(name)
                .with_context(|| format!("projector: unknown vectors column {name:?}"))?;
            let p = embeddings.part(part).with_context(|| {
                format!("projector: the embeddings have no `{name}` vectors, which were clustered")
            })?;
            (&p.values, Some(&p.present))
        }
    };
    let dim = embeddings.dim;
    let cluster_of: HashMap<&str, i32> = rows
        .iter()
        .map(|r| (r.key_id.as_str(), r.cluster))
        .collect();
    let drawing_of: HashMap<&str, usize> = drawings
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key_id.as_str(), i))
        .collect();
    // the drawings that have the vectors and a drawing to show
    let candidates: Vec<usize> = (0..embeddings.len())
        .filter(|&i| present.is_none_or(|p| p[i]))
        .filter(|&i| drawing_of.contains_key(embeddings.key_ids[i].as_str()))
        .collect();
    if candidates.is_empty() {
        bail!("projector: no drawing has both `{vectors}` vectors and its strokes in drawings.parquet");
    }
    let chosen: Vec<usize> = if candidates.len() <= max_points {
        candidates
    } else {
        (0..max_points)
            .map(|j| candidates[j * candidates.len() / max_points])
            .collect()
    };
    let dir = out.join("projector");
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;

    let mut tensors = String::with_capacity(chosen.len() * dim * 10);
    let labels = drawings.label_columns();
    let mut meta = String::from("key_id\tcluster");
    for l in &labels {
        let _ = write!(meta, "\t{}", l.name);
    }
    meta.push('\n');
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut sprite_drawings: Vec<&Stroke3> = Vec::with_capacity(chosen.len());
    for &i in &chosen {
        let row = &values[i * dim..(i + 1) * dim];
        let line: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
        tensors.push_str(&line.join("\t"));
        tensors.push('\n');
        let key = embeddings.key_ids[i].as_str();
        let d = drawing_of[key];
        let _ = write!(
            meta,
            "{}\t{}",
            clean(key),
            cluster_of
                .get(key)
                .map_or("none".to_string(), |&c| if c >= 0 {
                    c.to_string()
                } else {
                    "noise".into()
                })
        );
        for l in &labels {
            let _ = write!(meta, "\t{}", clean(l.values[d].as_deref().unwrap_or("")));
        }
        meta.push('\n');
        sprite_drawings.push(&drawings.rows[d].drawing);
    }
    let sprite = figures::sprite_png(&sprite_drawings, SPRITE_CELL, ink)?;
    let n = chosen.len();
    let pbtxt = format!(
        "embeddings {{\n  tensor_name: \"{vectors}\"\n  tensor_path: \"tensors.tsv\"\n  \
         metadata_path: \"metadata.tsv\"\n  sprite {{\n    image_path: \"sprite.png\"\n    \
         single_image_dim: {SPRITE_CELL}\n    single_image_dim: {SPRITE_CELL}\n  }}\n}}\n"
    );
    let json = serde_json::json!({
        "embeddings": [{
            "tensorName": vectors,
            "tensorShape": [n, dim],
            "tensorPath": "tensors.tsv",
            "metadataPath": "metadata.tsv",
            "sprite": {"imagePath": "sprite.png", "singleImageDim": [SPRITE_CELL, SPRITE_CELL]},
        }]
    });
    for (name, bytes) in [
        ("tensors.tsv", tensors.into_bytes()),
        ("metadata.tsv", meta.into_bytes()),
        ("sprite.png", sprite),
        ("projector_config.pbtxt", pbtxt.into_bytes()),
        (
            "projector_config.json",
            (serde_json::to_string_pretty(&json)? + "\n").into_bytes(),
        ),
    ] {
        tables::atomic::write_bytes(&dir.join(name), &bytes)?;
    }
    Ok(ProjectorExport {
        dir,
        points: n,
        dim,
    })
}
