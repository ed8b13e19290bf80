//! Stage 3, `embed`: loads a run folder written by `train`, encodes every drawing of a drawings
//! table to its latent vector, and each of its parts alone to vectors of their own (what is
//! inside its largest stroke, that stroke, the rest: a face's eyes, nose and mouth, its outline,
//! its hair and ears) into `embeddings.parquet`, and decodes some back from their vectors
//! alone: reconstructions (`reconstructions.parquet`) and interpolations between pairs of
//! drawings (`interpolations.parquet`).

use std::path::{Path, PathBuf};
use tables::dataset::Shard;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use drawing::{Part, Stroke3};
use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;
use tables::drawings::DrawingTable;
use tables::embeddings::EmbeddingTable;
use tables::sequences::{Interpolation, Reconstruction};
use tables::Split;

/// The `[embed]` section of `pipeline.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema, SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedConfig {
    /// Drawings per encoder batch (sorted by length, so little work goes to padding).
    #[default(1000)]
    pub batch_size: usize,
    /// How many drawings of the valid and test splits to reconstruct (0: none).
    #[default(32)]
    pub reconstructions: usize,
    /// How many pairs of drawings to interpolate between (0: none).
    #[default(6)]
    pub interpolations: usize,
    /// Drawings decoded per pair, both ends included.
    #[default(8)]
    pub interpolation_steps: usize,
    /// `greedy` (each step's most likely point) or `sample` (mdn head, with `temperature`).
    #[default(DecodeKind::Greedy)]
    pub decode: DecodeKind,
    /// Sampling temperature of the mdn head (sketch-rnn uses 0.1–1).
    #[default(0.25)]
    pub temperature: f32,
    /// Longest generated drawing, in points.
    #[default(250)]
    pub max_len: usize,
    /// Chooses the drawings to reconstruct and the sampling noise.
    #[default(0)]
    pub seed: u64,
    /// `cpu`, `cuda` or `metal` (the latter two need the cargo feature of that name).
    #[default("cpu".to_string())]
    pub device: String,
    /// Write each vector scaled to unit length. The contrastive term compares directions, so
    /// a latent's length says little about the drawing, and neighbours, the map and the
    /// clusters do better on directions. Decoding always uses the model's own vectors.
    #[default(true)]
    pub unit_length: bool,
    /// Parts of each drawing to encode alone, each into a column of its own (see
    /// [`drawing::Stroke3::parts`]): `inside` (what is inside its largest stroke: a face's
    /// eyes, nose and mouth), `outline` (that stroke alone) and `outside` (the rest: hair,
    /// ears). The model knows such partial drawings from the contrastive views that leave
    /// strokes out.
    #[default(vec!["inside".to_string(), "outline".to_string(), "outside".to_string()])]
    pub parts: Vec<String>,
    /// The box the part vectors' positions are measured in: `whole` (the drawing's, so the
    /// parts keep their place in it) or `own` (the part's, zoomed in so it fills the encoder's
    /// grid; for models trained with `contrastive.zoom`).
    #[default(PartBox::Own)]
    pub part_box: PartBox,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum PartBox {
    Whole,
    Own,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum DecodeKind {
    Greedy,
    Sample,
}

impl EmbedConfig {
    /// The parts named in `parts` (`none` alone: no part), checked.
    pub fn parts(&self) -> Result<Vec<Part>> {
        let mut out = Vec::new();
        for name in &self.parts {
            if name == "none" && self.parts.len() == 1 {
                break;
            }
            let part = Part::from_name(name).with_context(|| {
                format!("unknown part `{name}` in parts: use inside, outline, outside or none")
            })?;
            if out.contains(&part) {
                bail!("part `{name}` is named twice in parts");
            }
            out.push(part);
        }
        Ok(out)
    }

    fn decode_mode(&self) -> seqae::DecodeMode {
        match self.decode {
            DecodeKind::Greedy => seqae::DecodeMode::Greedy,
            DecodeKind::Sample => seqae::DecodeMode::Sample {
                temperature: self.temperature,
                seed: self.seed,
            },
        }
    }
}

/// The candle device named `cpu`, `cuda` (or `cuda:N`) or `metal`.
pub fn device(name: &str) -> Result<Device> {
    let d = match name {
        "cpu" => Device::Cpu,
        "cuda" => Device::new_cuda(0)?,
        "metal" => Device::new_metal(0)?,
        s if s.starts_with("cuda:") => Device::new_cuda(s[5..].parse().context("cuda:N")?)?,
        other => bail!("unknown device `{other}`: use cpu, cuda, cuda:N or metal"),
    };
    Ok(d)
}

/// The footer key of the embedding model's id (see [`model_id`]).
pub const MODEL_ID_KEY: &str = "embed.model_id";

/// The id of the model in a run folder (`seqae::run::weights_id`: a fingerprint of its
/// `model.safetensors`). `embed` writes it into its tables' footers and `cluster` into the
/// fitted cluster model, so that vectors of one model are never placed among another's.
pub fn model_id(run_dir: &Path) -> Result<String> {
    Ok(seqae::run::weights_id(run_dir)?)
}

/// Where the outputs go.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// The embeddings file, or with `partition_by` the folder.
    pub embeddings: PathBuf,
    pub reconstructions: PathBuf,
    pub interpolations: PathBuf,
    /// Write the embeddings as a Hive-partitioned folder: by this column, each partition's file
    /// named by the second (`part-0000I.parquet`).
    pub partition_by: Option<(String, String)>,
}

impl Outputs {
    /// Reconstructions and interpolations beside the embeddings file.
    pub fn beside(embeddings: &Path) -> Self {
        let dir = embeddings.parent().unwrap_or(Path::new("."));
        Outputs {
            embeddings: embeddings.to_path_buf(),
            reconstructions: dir.join("reconstructions.parquet"),
            interpolations: dir.join("interpolations.parquet"),
            partition_by: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct EmbedReport {
    /// With a shard: the shard, and the drawings read (of every shard).
    pub shard: Option<(Shard, usize)>,
    pub drawings: usize,
    /// Each part encoded, with how many drawings have it.
    pub parts: Vec<(Part, usize)>,
    pub dim: usize,
    pub encode_s: f64,
    pub reconstructions: usize,
    pub interpolations: usize,
    pub decode_s: f64,
}

/// A stable pseudo-random order of drawings (by a hash of key and seed), so the same model and
/// input always pick the same drawings.
fn pick(keys: &[(usize, &str)], seed: u64) -> Vec<usize> {
    let mut v: Vec<(u64, usize)> = keys
        .iter()
        .map(|&(i, k)| {
            let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
            for b in k.bytes() {
                h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
            }
            h ^= h >> 29;
            (h.wrapping_mul(0xbf58_476d_1ce4_e5b9), i)
        })
        .collect();
    v.sort_unstable();
    v.into_iter().map(|(_, i)| i).collect()
}

/// Runs the stage: reads the drawings, encodes them, decodes the chosen ones, writes every
/// output (each atomically).
pub fn embed(
    model_dir: &Path,
    input: &Path,
    out: &Outputs,
    cfg: &EmbedConfig,
    progress: &dyn Fn(usize, usize),
) -> Result<EmbedReport> {
    embed_shard(model_dir, input, out, cfg, None, progress)
}

/// [`embed`] of the drawings of one shard of the input (all of them with `None`).
pub fn embed_shard(
    model_dir: &Path,
    input: &Path,
    out: &Outputs,
    cfg: &EmbedConfig,
    shard: Option<Shard>,
    progress: &dyn Fn(usize, usize),
) -> Result<EmbedReport> {
    if cfg.batch_size == 0 {
        bail!("batch_size must be at least 1");
    }
    let parts = cfg.parts()?;
    let dev = device(&cfg.device)?;
    let (model, info) = seqae::load(model_dir, &dev)
        .with_context(|| format!("loading the model in {}", model_dir.display()))?;
    let mut table = tables::drawings::read(input)?;
    let read = table.rows.len();
    if let Some(s) = shard {
        table.rows.retain(|r| s.contains(&r.key_id));
        if table.rows.is_empty() {
            bail!(
                "{}: none of its {read} drawings is in shard {s}: nothing to embed",
                input.display()
            );
        }
    }
    if table.rows.is_empty() {
        bail!(
            "{}: an empty drawings table (no rows): nothing to embed",
            input.display()
        );
    }
    let mut report = EmbedReport {
        shard: shard.map(|s| (s, read)),
        drawings: table.rows.len(),
        dim: model.config().latent,
        ..Default::default()
    };

    let t = std::time::Instant::now();
    // one pass over the drawings, and one over their parts: the bar counts both
    let n = table.rows.len();
    let passes = 1 + usize::from(!parts.is_empty());
    let vectors = encode_all(
        &table,
        cfg.batch_size,
        &|d, _| progress(d, passes * n),
        |ds| model.encode(ds, cfg.batch_size),
    )
    .with_context(|| format!("encoding {}", input.display()))?;
    let mut part_vectors = Vec::new();
    if !parts.is_empty() {
        let second = |d: usize, _| progress(n + d, passes * n);
        let own_box = cfg.part_box == PartBox::Own;
        let encoded = encode_all(&table, cfg.batch_size, &second, |ds| {
            model.encode_parts(ds, &parts, cfg.batch_size, own_box)
        })
        .with_context(|| format!("encoding the parts of {}", input.display()))?;
        let zeros = vec![0f32; report.dim];
        for (k, &part) in parts.iter().enumerate() {
            let present: Vec<bool> = encoded.iter().map(|v| v[k].is_some()).collect();
            report
                .parts
                .push((part, present.iter().filter(|&&p| p).count()));
            let values = encoded
                .iter()
                .flat_map(|v| v[k].as_deref().unwrap_or(&zeros))
                .copied()
                .collect();
            part_vectors.push(tables::embeddings::PartVectors {
                part,
                values,
                present,
            });
        }
    }
    report.encode_s = t.elapsed().as_secs_f64();

    let model_id = model_id(model_dir)?;
    let metadata: tables::Metadata = vec![
        ("embed.model".into(), model_dir.display().to_string()),
        (MODEL_ID_KEY.into(), model_id),
        ("embed.input".into(), input.display().to_string()),
        (
            "embed.model_config".into(),
            serde_json::to_string(&info.model).unwrap_or_default(),
        ),
        ("embed.model_trained_on".into(), info.data.path.clone()),
        ("embed.unit_length".into(), cfg.unit_length.to_string()),
        (
            "embed.parts".into(),
            if parts.is_empty() {
                "none".into()
            } else {
                parts.iter().map(|p| p.name()).collect::<Vec<_>>().join(",")
            },
        ),
        (
            "embed.part_box".into(),
            format!("{:?}", cfg.part_box).to_lowercase(),
        ),
    ];
    let mut values = vectors.concat();
    // a zero row (a drawing without the part) stays zero
    if cfg.unit_length {
        let unit = |values: Vec<f32>| -> Result<Vec<f32>> {
            let m = clustering::Matrix::new(values, report.dim)
                .with_context(|| format!("the vectors of {}", input.display()))?;
            Ok(clustering::l2_normalise(&m).into_vec())
        };
        values = unit(values)?;
        for p in part_vectors.iter_mut() {
            p.values = unit(std::mem::take(&mut p.values))?;
        }
    }
    let emb = EmbeddingTable {
        key_ids: table.rows.iter().map(|r| r.key_id.clone()).collect(),
        splits: table.rows.iter().map(|r| r.split).collect(),
        dim: report.dim,
        values,
        labels: table.label_columns(),
        parts: part_vectors,
        metadata: metadata.clone(),
    };

    // decoding: drawings of the held-out splits, in a stable pseudo-random order
    let t = std::time::Instant::now();
    let held_out: Vec<(usize, &str)> = table
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.split != Split::Train)
        .map(|(i, r)| (i, r.key_id.as_str()))
        .collect();
    let pool = if held_out.is_empty() {
        // a table without held-out drawings still gets its pictures
        let all: Vec<(usize, &str)> = table
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (i, r.key_id.as_str()))
            .collect();
        pick(&all, cfg.seed)
    } else {
        pick(&held_out, cfg.seed)
    };
    let mode = cfg.decode_mode();
    let recon_ids: Vec<usize> = pool.iter().copied().take(cfg.reconstructions).collect();
    let z: Vec<f32> = recon_ids.iter().flat_map(|&i| vectors[i].clone()).collect();
    let decoded = model.decode(&z, cfg.max_len, mode)?;
    let reconstructions: Vec<Reconstruction> = recon_ids
        .iter()
        .zip(decoded)
        .map(|(&i, d)| Reconstruction {
            key_id: table.rows[i].key_id.clone(),
            drawing: d,
        })
        .collect();
    let interpolations = interpolate(&model, &table, &vectors, &pool, cfg, mode)?;
    report.decode_s = t.elapsed().as_secs_f64();
    report.reconstructions = reconstructions.len();
    report.interpolations = interpolations.len();

    match &out.partition_by {
        None => tables::embeddings::write(&out.embeddings, &emb)?,
        Some((column, file_name)) => {
            tables::embeddings::write_partitioned(&out.embeddings, &emb, column, file_name)?;
        }
    }
    if cfg.reconstructions > 0 {
        tables::sequences::write_reconstructions(
            &out.reconstructions,
            &reconstructions,
            &metadata,
        )?;
    }
    if cfg.interpolations > 0 && !interpolations.is_empty() {
        tables::sequences::write_interpolations(&out.interpolations, &interpolations, &metadata)?;
    }
    Ok(report)
}

/// Encodes every drawing with `encode`, sorted by length so batches hold drawings of similar
/// length.
fn encode_all<T: Clone + Default>(
    table: &DrawingTable,
    batch: usize,
    progress: &dyn Fn(usize, usize),
    encode: impl Fn(&[&Stroke3]) -> seqae::Result<Vec<T>>,
) -> Result<Vec<T>> {
    let n = table.rows.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| table.rows[i].drawing.len());
    let mut out = vec![T::default(); n];
    let mut done = 0;
    for chunk in order.chunks(batch) {
        let ds: Vec<&Stroke3> = chunk.iter().map(|&i| &table.rows[i].drawing).collect();
        let z = encode(&ds).map_err(|e| {
            // the model names the position in the batch; name the drawing
            anyhow::anyhow!("{e}").context(format!(
                "in the batch starting at drawing `{}`",
                table.rows[chunk[0]].key_id
            ))
        })?;
        for (&i, v) in chunk.iter().zip(z) {
            out[i] = v;
        }
        done += chunk.len();
        progress(done, n);
    }
    Ok(out)
}

/// Pairs of drawings (taken after the reconstructed ones in the pool), each decoded at evenly
/// spaced points of the segment between their two vectors.
fn interpolate(
    model: &seqae::SeqAe,
    table: &DrawingTable,
    vectors: &[Vec<f32>],
    pool: &[usize],
    cfg: &EmbedConfig,
    mode: seqae::DecodeMode,
) -> Result<Vec<Interpolation>> {
    if cfg.interpolations == 0 {
        return Ok(Vec::new());
    }
    let steps = cfg.interpolation_steps.max(2);
    let skip = cfg
        .reconstructions
        .min(pool.len().saturating_sub(2 * cfg.interpolations));
    let ends: Vec<usize> = pool.iter().copied().skip(skip).collect();
    let mut z = Vec::new();
    let mut meta = Vec::new();
    for (pair, w) in ends.chunks_exact(2).take(cfg.interpolations).enumerate() {
        let (a, b) = (&vectors[w[0]], &vectors[w[1]]);
        for step in 0..steps {
            let alpha = step as f32 / (steps - 1) as f32;
            z.extend(a.iter().zip(b).map(|(x, y)| x + (y - x) * alpha));
            meta.push((pair as i32, step as i32, alpha, w[0], w[1]));
        }
    }
    let decoded = model.decode(&z, cfg.max_len, mode)?;
    Ok(meta
        .into_iter()
        .zip(decoded)
        .map(|((pair, step, alpha, a, b), d)| Interpolation {
            pair,
            step,
            alpha,
            key_a: table.rows[a].key_id.clone(),
            key_b: table.rows[b].key_id.clone(),
            drawing: d,
        })
        .collect())
}

#[cfg(test)]
mod tests;
