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
use tables::drawings::DrawingRow;
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
    /// The LSTM's matrix products on the CPU: f32, or bf16 operands with f32 sums (faster on
    /// CPUs with AVX512-BF16, f32 on others; the vectors then differ from f32's by about a
    /// thousandth of their length).
    pub precision: seqae::Precision,
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
        "cuda" => seqae::config::cuda_device(0)?,
        "metal" => Device::new_metal(0)?,
        s if s.starts_with("cuda:") => {
            seqae::config::cuda_device(s[5..].parse().context("cuda:N")?)?
        }
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

/// The vectors of one column of drawings as `embed` writes it: `embedding` (the whole
/// drawing's) or a part's (`inside`, `outline`, `outside`), encoded with the part box and scaled
/// to unit length as the footer keys `embed.part_box` and `embed.unit_length` of an embeddings
/// table say. `None` for a drawing without that part. What `generate` uses to place its own
/// drawings in a fitted model's clusters, as `embed` and `cluster --model` would.
pub fn column_vectors(
    model: &seqae::SeqAe,
    drawings: &[&Stroke3],
    column: &str,
    unit_length: bool,
    part_box: PartBox,
    batch: usize,
) -> Result<Vec<Option<Vec<f32>>>> {
    let mut out: Vec<Option<Vec<f32>>> = if column == "embedding" {
        model
            .encode(drawings, batch)?
            .into_iter()
            .map(Some)
            .collect()
    } else {
        let part = Part::from_name(column).with_context(|| {
            format!("unknown vectors `{column}`: use embedding, inside, outline or outside")
        })?;
        model
            .encode_parts(drawings, &[part], batch, part_box == PartBox::Own)?
            .into_iter()
            .map(|mut v| v.pop().flatten())
            .collect()
    };
    if unit_length {
        out.iter_mut()
            .flatten()
            .for_each(|v| clustering::l2_normalise_row(v));
    }
    Ok(out)
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

/// A drawing's place in the stable pseudo-random order that picks the drawings to decode (a hash
/// of its key and the seed), so the same model and input always pick the same drawings.
fn pick_hash(key: &str, seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in key.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h ^= h >> 29;
    h.wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// The first `keep` drawings of the pick order among those offered, kept as the drawings stream
/// past, in order: ((hash, the drawing's number in the table), key, vector).
struct Picks {
    keep: usize,
    /// How many drawings were offered.
    offered: usize,
    best: Vec<((u64, usize), String, Vec<f32>)>,
}

impl Picks {
    fn new(keep: usize) -> Self {
        Picks {
            keep,
            offered: 0,
            best: Vec::new(),
        }
    }

    fn offer(&mut self, hash: u64, row: usize, key: &str, vector: &[f32]) {
        self.offered += 1;
        let at = self.best.partition_point(|b| b.0 < (hash, row));
        if at < self.keep {
            self.best
                .insert(at, ((hash, row), key.to_string(), vector.to_vec()));
            self.best.truncate(self.keep);
        }
    }

    /// The kept drawings in pick order: (key, vector).
    fn into_order(self) -> Vec<(String, Vec<f32>)> {
        self.best.into_iter().map(|(_, k, v)| (k, v)).collect()
    }
}

/// Drawings encoded at a time: enough for full batches sorted by length, few enough that the
/// memory of the stage does not grow with the table (the rows, their vectors and their parts'
/// vectors of one window).
const WINDOW: usize = 16 * 1024;

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

/// [`embed`] of the drawings of one shard of the input (all of them with `None`). The drawings
/// stream through: a window of them is read, encoded and written at a time, so memory stays
/// flat whatever the table's length.
pub fn embed_shard(
    model_dir: &Path,
    input: &Path,
    out: &Outputs,
    cfg: &EmbedConfig,
    shard: Option<Shard>,
    progress: &dyn Fn(usize, usize),
) -> Result<EmbedReport> {
    embed_in_windows(model_dir, input, out, cfg, shard, progress, WINDOW)
}

/// [`embed_shard`], `window` drawings encoded at a time.
fn embed_in_windows(
    model_dir: &Path,
    input: &Path,
    out: &Outputs,
    cfg: &EmbedConfig,
    shard: Option<Shard>,
    progress: &dyn Fn(usize, usize),
    window_len: usize,
) -> Result<EmbedReport> {
    if cfg.batch_size == 0 {
        bail!("batch_size must be at least 1");
    }
    let parts = cfg.parts()?;
    let dev = device(&cfg.device)?;
    let imp = seqae::LstmImpl::Auto.at(cfg.precision);
    let (model, info) = seqae::load_with(model_dir, &dev, imp)
        .with_context(|| format!("loading the model in {}", model_dir.display()))?;
    let mut reader = tables::drawings::Reader::open(input)?;
    let mut report = EmbedReport {
        dim: model.config().latent,
        parts: parts.iter().map(|&p| (p, 0)).collect(),
        ..Default::default()
    };

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
    let shape = EmbeddingTable {
        dim: report.dim,
        labels: tables::drawings::label_columns(&reader.label_names, &[]),
        parts: parts
            .iter()
            .map(|&part| tables::embeddings::PartVectors {
                part,
                values: Vec::new(),
                present: Vec::new(),
            })
            .collect(),
        metadata: metadata.clone(),
        ..Default::default()
    };
    let mut writer = match &out.partition_by {
        None => tables::embeddings::Writer::create(&out.embeddings, &shape, None)?,
        Some((column, file_name)) => tables::embeddings::Writer::create(
            &out.embeddings,
            &shape,
            Some((column.as_str(), file_name.as_str())),
        )?,
    };

    // decoding takes drawings of the held-out splits (else any), in a stable pseudo-random order
    let keep = cfg.reconstructions + 2 * cfg.interpolations;
    let (mut held_out, mut any) = (Picks::new(keep), Picks::new(keep));
    let t = std::time::Instant::now();
    let total = reader.rows;
    let mut read = 0;
    let mut window: Vec<DrawingRow> = Vec::new();
    loop {
        let more = reader.next_rows()?;
        let last = more.is_none();
        if let Some(rows) = more {
            read += rows.len();
            window.extend(
                rows.into_iter()
                    .filter(|r| shard.is_none_or(|s| s.contains(&r.key_id))),
            );
        }
        if window.len() >= window_len || (last && !window.is_empty()) {
            let rows = std::mem::take(&mut window);
            let (chunk, raw) = embed_window(
                &model,
                &rows,
                &parts,
                cfg,
                TableFrame {
                    label_names: &reader.label_names,
                    metadata: &metadata,
                },
                input,
                &mut report,
            )?;
            // the decoder takes the vectors as the encoder gave them, before unit length
            for (i, r) in rows.iter().enumerate() {
                let h = pick_hash(&r.key_id, cfg.seed);
                let n = report.drawings + i;
                if r.split != Split::Train {
                    held_out.offer(h, n, &r.key_id, &raw[i]);
                }
                any.offer(h, n, &r.key_id, &raw[i]);
            }
            report.drawings += rows.len();
            writer.write(&chunk)?;
        }
        progress(read, total.max(read));
        if last {
            break;
        }
    }
    report.shard = shard.map(|s| (s, read));
    if report.drawings == 0 {
        match shard {
            Some(s) => bail!(
                "{}: none of its {read} drawings is in shard {s}: nothing to embed",
                input.display()
            ),
            None => bail!(
                "{}: an empty drawings table (no rows): nothing to embed",
                input.display()
            ),
        }
    }
    report.encode_s = t.elapsed().as_secs_f64();

    let t = std::time::Instant::now();
    // a table without held-out drawings still gets its pictures
    let picks = if held_out.offered == 0 { any } else { held_out };
    let pool_len = picks.offered;
    let pool = picks.into_order();
    let mode = cfg.decode_mode();
    let recon = &pool[..cfg.reconstructions.min(pool.len())];
    let z: Vec<f32> = recon.iter().flat_map(|(_, v)| v.clone()).collect();
    let decoded = model.decode(&z, cfg.max_len, mode)?;
    let reconstructions: Vec<Reconstruction> = recon
        .iter()
        .zip(decoded)
        .map(|((key, _), d)| Reconstruction {
            key_id: key.clone(),
            drawing: d,
        })
        .collect();
    let skip = cfg
        .reconstructions
        .min(pool_len.saturating_sub(2 * cfg.interpolations));
    let interpolations = interpolate(&model, &pool[skip.min(pool.len())..], cfg, mode)?;
    report.decode_s = t.elapsed().as_secs_f64();
    report.reconstructions = reconstructions.len();
    report.interpolations = interpolations.len();

    writer.finish()?;
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

/// What each window's table carries besides its vectors: the label columns' names and the
/// footer's metadata.
struct TableFrame<'a> {
    label_names: &'a [String],
    metadata: &'a tables::Metadata,
}

/// The embeddings of one window of drawings: their vectors, their parts' vectors (counted in
/// `report`), at unit length when the config says so; and the vectors as the encoder gave them.
fn embed_window(
    model: &seqae::SeqAe,
    rows: &[DrawingRow],
    parts: &[Part],
    cfg: &EmbedConfig,
    frame: TableFrame,
    input: &Path,
    report: &mut EmbedReport,
) -> Result<(EmbeddingTable, Vec<Vec<f32>>)> {
    let dim = report.dim;
    let vectors = encode_all(rows, cfg.batch_size, |ds| model.encode(ds, cfg.batch_size))
        .with_context(|| format!("encoding {}", input.display()))?;
    let mut part_vectors = Vec::new();
    if !parts.is_empty() {
        let own_box = cfg.part_box == PartBox::Own;
        let encoded = encode_all(rows, cfg.batch_size, |ds| {
            model.encode_parts(ds, parts, cfg.batch_size, own_box)
        })
        .with_context(|| format!("encoding the parts of {}", input.display()))?;
        let zeros = vec![0f32; dim];
        for (k, &part) in parts.iter().enumerate() {
            let present: Vec<bool> = encoded.iter().map(|v| v[k].is_some()).collect();
            report.parts[k].1 += present.iter().filter(|&&p| p).count();
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
    let mut values = vectors.concat();
    // a zero row (a drawing without the part) stays zero
    if cfg.unit_length {
        let unit = |values: Vec<f32>| -> Result<Vec<f32>> {
            let m = clustering::Matrix::new(values, dim)
                .with_context(|| format!("the vectors of {}", input.display()))?;
            Ok(clustering::l2_normalise(&m).into_vec())
        };
        values = unit(values)?;
        for p in part_vectors.iter_mut() {
            p.values = unit(std::mem::take(&mut p.values))?;
        }
    }
    let table = EmbeddingTable {
        key_ids: rows.iter().map(|r| r.key_id.clone()).collect(),
        splits: rows.iter().map(|r| r.split).collect(),
        dim,
        values,
        labels: tables::drawings::label_columns(frame.label_names, rows),
        parts: part_vectors,
        metadata: frame.metadata.clone(),
    };
    Ok((table, vectors))
}

/// Encodes every drawing with `encode`, sorted by length so batches hold drawings of similar
/// length.
fn encode_all<T: Clone + Default>(
    rows: &[DrawingRow],
    batch: usize,
    encode: impl Fn(&[&Stroke3]) -> seqae::Result<Vec<T>>,
) -> Result<Vec<T>> {
    let n = rows.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| rows[i].drawing.len());
    let mut out = vec![T::default(); n];
    for chunk in order.chunks(batch) {
        let ds: Vec<&Stroke3> = chunk.iter().map(|&i| &rows[i].drawing).collect();
        let z = encode(&ds).map_err(|e| {
            // the model names the position in the batch; name the drawing
            anyhow::anyhow!("{e}").context(format!(
                "in the batch starting at drawing `{}`",
                rows[chunk[0]].key_id
            ))
        })?;
        for (&i, v) in chunk.iter().zip(z) {
            out[i] = v;
        }
    }
    Ok(out)
}

/// Pairs of drawings (taken in pick order from `ends`: key and vector), each decoded at evenly
/// spaced points of the segment between their two vectors.
fn interpolate(
    model: &seqae::SeqAe,
    ends: &[(String, Vec<f32>)],
    cfg: &EmbedConfig,
    mode: seqae::DecodeMode,
) -> Result<Vec<Interpolation>> {
    if cfg.interpolations == 0 {
        return Ok(Vec::new());
    }
    let steps = cfg.interpolation_steps.max(2);
    let mut z = Vec::new();
    let mut meta = Vec::new();
    for (pair, w) in ends.chunks_exact(2).take(cfg.interpolations).enumerate() {
        let (a, b) = (&w[0].1, &w[1].1);
        for step in 0..steps {
            let alpha = step as f32 / (steps - 1) as f32;
            z.extend(a.iter().zip(b).map(|(x, y)| x + (y - x) * alpha));
            meta.push((pair as i32, step as i32, alpha, &w[0].0, &w[1].0));
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
            key_a: a.clone(),
            key_b: b.clone(),
            drawing: d,
        })
        .collect())
}

#[cfg(test)]
mod tests;
