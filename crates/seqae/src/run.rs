//! The run folder: `model.safetensors` + `model.json` (what `embed` loads) and
//! `checkpoint.safetensors` (weights, Adam moments and the training state as JSON metadata,
//! one file so it is replaced atomically, with a checksum of its tensors; the one before it is
//! kept as `checkpoint.previous.safetensors` and used when the latest is found torn). Every file
//! is written beside its target under a temporary name, fsynced and renamed (`durable`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::config::{ModelConfig, TrainConfig};
use crate::error::{Error, Result};
use crate::lstm::LstmImpl;
use crate::model::SeqAe;
use crate::optim::Adam;

/// Version of the run folder's layout: 2 since the settings were grouped (`[train.model]`,
/// `[train.optimiser]`, ...) and the options that lost their experiments were removed.
pub const FORMAT: u32 = 2;
pub const MODEL_WEIGHTS: &str = "model.safetensors";
pub const MODEL_JSON: &str = "model.json";
pub const CHECKPOINT: &str = "checkpoint.safetensors";
pub const PREVIOUS_CHECKPOINT: &str = "checkpoint.previous.safetensors";
/// Metadata key of a checkpoint's checksum.
const CRC_KEY: &str = "crc32";

/// One row of the training log (one per step; `valid_loss` on the last step of an epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    pub step: u64,
    pub epoch: u32,
    pub train_loss: f32,
    pub valid_loss: Option<f32>,
    pub learning_rate: f64,
    pub elapsed_s: f64,
}

/// Why training stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    Epochs,
    MaxSteps,
    MaxMinutes,
    Interrupted,
}

/// Which data a model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub path: String,
    pub rows: usize,
    pub train_rows: usize,
    pub valid_rows: usize,
    pub dropped_too_long: usize,
}

/// The losses a model reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossInfo {
    pub steps: u64,
    pub epochs_completed: u32,
    /// mean of the last 50 steps
    pub train_loss: Option<f32>,
    /// after the last completed epoch
    pub valid_loss: Option<f32>,
    pub stop: StopReason,
    pub elapsed_s: f64,
}

/// `model.json`: enough to rebuild the model and to know where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub format: u32,
    pub model: ModelConfig,
    /// offsets are divided by this before the network sees them
    pub scale: f32,
    pub train: TrainConfig,
    pub data: DataInfo,
    pub losses: LossInfo,
    pub parameters: usize,
}

/// The training state kept in a checkpoint's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    pub format: u32,
    /// steps done
    pub step: u64,
    /// current epoch (0-based) and the next batch in it
    pub epoch: u32,
    pub batch_in_epoch: usize,
    pub elapsed_s: f64,
    pub scale: f32,
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub data: DataInfo,
    pub log: Vec<LogRow>,
}

pub fn checkpoint_path(run_dir: &Path) -> PathBuf {
    run_dir.join(CHECKPOINT)
}

/// Where the checkpoint before the latest is kept: a checkpoint found torn or corrupt (a power
/// loss before the data reached the disk) is set aside for this one.
pub fn previous_checkpoint_path(run_dir: &Path) -> PathBuf {
    run_dir.join(PREVIOUS_CHECKPOINT)
}

/// Writes through `write` to a temporary file beside `target`, fsyncs it, renames it into
/// place and fsyncs the folder (the `durable` crate's writer).
fn atomic_write(target: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let out = durable::AtomicFile::create(target).map_err(|e| Error::io(target, e))?;
    write(out.temp_path())?;
    out.commit().map_err(|e| Error::io(target, e))
}

/// CRC-32 of the tensors' bytes, in the order of their names: kept in a checkpoint's metadata
/// and checked when it is loaded, so a file whose data did not all reach the disk is refused.
fn tensors_crc(st: &safetensors::SafeTensors) -> u32 {
    let mut names: Vec<&str> = st.names();
    names.sort_unstable();
    let mut h = crc32fast::Hasher::new();
    for n in names {
        if let Ok(t) = st.tensor(n) {
            h.update(n.as_bytes());
            h.update(t.data());
        }
    }
    h.finalize()
}

fn save_tensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    meta: Option<HashMap<String, String>>,
) -> Result<()> {
    atomic_write(path, |tmp| {
        let items: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        safetensors::serialize_to_file(items, meta, tmp).map_err(|e| Error::bad_file(tmp, e))
    })
}

pub(crate) fn save_checkpoint(
    path: &Path,
    model: &SeqAe,
    adam: &Adam,
    st: &Checkpoint,
) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    for (k, (name, var)) in adam.vars.iter().enumerate() {
        tensors.push((name.clone(), var.as_tensor().clone()));
        tensors.push((format!("adam.m.{name}"), adam.m[k].clone()));
        tensors.push((format!("adam.v.{name}"), adam.v[k].clone()));
    }
    debug_assert_eq!(adam.vars.len(), model.named_vars().len());
    let state = serde_json::to_string(st).map_err(|e| Error::bad_file(path, e))?;
    let mut meta = HashMap::from([
        ("seqae_state".to_string(), state),
        ("adam_step".to_string(), adam.t.to_string()),
    ]);
    // the checksum is of the bytes safetensors writes, so the file is serialised once in memory
    let items: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let unsummed = safetensors::serialize(items.clone(), Some(meta.clone()))
        .map_err(|e| Error::bad_file(path, e))?;
    let crc = tensors_crc(
        &safetensors::SafeTensors::deserialize(&unsummed).map_err(|e| Error::bad_file(path, e))?,
    );
    meta.insert(CRC_KEY.to_string(), format!("{crc:08x}"));
    let bytes = safetensors::serialize(items, Some(meta)).map_err(|e| Error::bad_file(path, e))?;
    // the checkpoint being replaced becomes the previous one (a hard link, so that at every
    // moment both names hold a complete file)
    if path.exists() {
        let prev = path.with_file_name(PREVIOUS_CHECKPOINT);
        let _ = std::fs::remove_file(&prev);
        std::fs::hard_link(path, &prev)
            .or_else(|_| std::fs::copy(path, &prev).map(|_| ()))
            .map_err(|e| Error::io(&prev, e))?;
    }
    atomic_write(path, |tmp| {
        std::fs::write(tmp, &bytes).map_err(|e| Error::io(tmp, e))
    })
}

/// Loads the run folder's checkpoint; when it is torn or corrupt (its checksum does not match,
/// it does not parse), the one before it, with a warning. `None` when there is neither.
pub(crate) fn load_latest_checkpoint(
    run_dir: &Path,
    imp: LstmImpl,
    device: &Device,
) -> Result<Option<(SeqAe, Adam, Checkpoint)>> {
    let path = checkpoint_path(run_dir);
    let prev = previous_checkpoint_path(run_dir);
    if !path.exists() {
        if prev.exists() {
            return load_checkpoint(&prev, imp, device).map(Some);
        }
        return Ok(None);
    }
    match load_checkpoint(&path, imp, device) {
        Ok(c) => Ok(Some(c)),
        Err(e @ Error::BadFile { .. }) if prev.exists() => {
            eprintln!(
                "warning: {e}; resuming from the checkpoint before it, {}",
                prev.display()
            );
            load_checkpoint(&prev, imp, device).map(Some)
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn load_checkpoint(
    path: &Path,
    imp: LstmImpl,
    device: &Device,
) -> Result<(SeqAe, Adam, Checkpoint)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::bad_file(path, format!("torn or corrupt checkpoint: {e}")))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    match meta.get(CRC_KEY) {
        Some(want) => {
            let st = safetensors::SafeTensors::deserialize(&bytes)
                .map_err(|e| Error::bad_file(path, format!("torn or corrupt checkpoint: {e}")))?;
            let got = format!("{:08x}", tensors_crc(&st));
            if &got != want {
                return Err(Error::bad_file(
                    path,
                    format!("torn or corrupt checkpoint: checksum {got}, recorded {want}"),
                ));
            }
        }
        None => {
            return Err(Error::bad_file(
                path,
                "checkpoint without a checksum (torn, or written by an older build)",
            ))
        }
    }
    let state = meta
        .get("seqae_state")
        .ok_or_else(|| Error::bad_file(path, "not a seqae checkpoint (no training state)"))?;
    let st: Checkpoint = serde_json::from_str(state).map_err(|e| Error::bad_file(path, e))?;
    if st.format != FORMAT {
        return Err(Error::bad_file(
            path,
            format!(
                "checkpoint format {} (this build reads {FORMAT})",
                st.format
            ),
        ));
    }
    let adam_t: u64 = meta
        .get("adam_step")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::bad_file(path, "no optimiser step"))?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| Error::bad_file(path, e))?;
    let model = SeqAe::new(&st.model, st.scale, 0, imp, device)?;
    let mut adam = Adam::new(&model, st.train.optimiser.weight_decay)?;
    for (k, (name, var)) in adam.vars.iter().enumerate() {
        let get = |n: &str| -> Result<&Tensor> {
            let t = tensors
                .get(n)
                .ok_or_else(|| Error::bad_file(path, format!("missing tensor {n}")))?;
            if t.dims() != var.dims() {
                return Err(Error::bad_file(
                    path,
                    format!(
                        "tensor {n} has shape {:?}, expected {:?}",
                        t.dims(),
                        var.dims()
                    ),
                ));
            }
            Ok(t)
        };
        var.set(get(name)?)?;
        adam.m[k] = get(&format!("adam.m.{name}"))?.clone();
        adam.v[k] = get(&format!("adam.v.{name}"))?.clone();
    }
    adam.t = adam_t;
    Ok((model, adam, st))
}

/// Writes `model.safetensors` then `model.json` (each atomically).
pub fn save_model(run_dir: &Path, model: &SeqAe, info: &ModelInfo) -> Result<()> {
    let tensors: Vec<(String, Tensor)> = model
        .named_vars()
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect();
    save_tensors(&run_dir.join(MODEL_WEIGHTS), &tensors, None)?;
    let json_path = run_dir.join(MODEL_JSON);
    let json = serde_json::to_string_pretty(info).map_err(|e| Error::bad_file(&json_path, e))?;
    atomic_write(&json_path, |tmp| {
        std::fs::write(tmp, json + "\n").map_err(|e| Error::io(tmp, e))
    })
}

/// A fingerprint of a run folder's weights (CRC-32 of `model.safetensors`, hex): `embed` puts
/// it in its tables' footers (`embed.model_id`), `cluster` carries it on, so that tables made
/// from different models are told apart.
pub fn weights_id(run_dir: &Path) -> Result<String> {
    let path = run_dir.join(MODEL_WEIGHTS);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    Ok(format!("{:08x}", crc32fast::hash(&bytes)))
}

/// Reads `model.json`.
pub fn load_info(run_dir: &Path) -> Result<ModelInfo> {
    let path = run_dir.join(MODEL_JSON);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    // the version first, so that a folder of another layout is named as such rather than
    // reported as a missing or mistyped key further in
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::bad_file(&path, e))?;
    match value.get("format").map(|f| f.as_u64()) {
        None => {
            return Err(Error::bad_file(
                &path,
                format!(
                    "no `format` key: not a run folder of this pipeline's format {FORMAT} \
                     (train again with this build)"
                ),
            ))
        }
        Some(Some(f)) if f == FORMAT as u64 => {}
        Some(f) => {
            return Err(Error::bad_file(
                &path,
                format!(
                    "run folder format {} (this build reads format {FORMAT}, whose settings \
                     are grouped in [train.model], [train.optimiser], [train.contrastive] and \
                     [train.vae], with the options that lost their experiments removed; train \
                     again with this build)",
                    f.map_or_else(|| value["format"].to_string(), |f| f.to_string())
                ),
            ))
        }
    }
    let info: ModelInfo = serde_json::from_value(value).map_err(|e| Error::bad_file(&path, e))?;
    Ok(info)
}

/// Loads a trained model from a run folder.
pub fn load(run_dir: &Path, device: &Device) -> Result<(SeqAe, ModelInfo)> {
    load_with(run_dir, device, LstmImpl::Auto)
}

/// [`load`] with the LSTM run by `imp` (e.g. [`LstmImpl::FusedBf16`] for bf16 products).
pub fn load_with(run_dir: &Path, device: &Device, imp: LstmImpl) -> Result<(SeqAe, ModelInfo)> {
    let info = load_info(run_dir)?;
    let model = SeqAe::from_weights(
        &info.model,
        info.scale,
        &run_dir.join(MODEL_WEIGHTS),
        imp,
        device,
    )?;
    Ok((model, info))
}
