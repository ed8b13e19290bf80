//! The run folder: `model.safetensors` + `model.json` (what `embed` loads) and
//! `checkpoint.safetensors` (weights, Adam moments and the training state as JSON metadata,
//! one file so it is replaced atomically). Every file is written beside its target under a
//! temporary name and renamed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lstm::LstmImpl;
use crate::model::{ModelConfig, SeqAe};
use crate::train::{Adam, LogRow, StopReason, TrainConfig};

/// Version of the run folder's layout.
pub const FORMAT: u32 = 1;
pub const MODEL_WEIGHTS: &str = "model.safetensors";
pub const MODEL_JSON: &str = "model.json";
pub const CHECKPOINT: &str = "checkpoint.safetensors";

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

fn tmp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes through `write` to a temporary file beside `target`, then renames it into place.
fn atomic_write(target: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = tmp_path(target);
    let r =
        write(&tmp).and_then(|_| std::fs::rename(&tmp, target).map_err(|e| Error::io(target, e)));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
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
    let meta = HashMap::from([
        ("seqae_state".to_string(), state),
        ("adam_step".to_string(), adam.t.to_string()),
    ]);
    save_tensors(path, &tensors, Some(meta))
}

pub(crate) fn load_checkpoint(
    path: &Path,
    imp: LstmImpl,
    device: &Device,
) -> Result<(SeqAe, Adam, Checkpoint)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| Error::bad_file(path, e))?;
    let meta = meta.metadata().clone().unwrap_or_default();
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
    let mut adam = Adam::new(&model, st.train.weight_decay)?;
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

/// Reads `model.json`.
pub fn load_info(run_dir: &Path) -> Result<ModelInfo> {
    let path = run_dir.join(MODEL_JSON);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let info: ModelInfo = serde_json::from_str(&text).map_err(|e| Error::bad_file(&path, e))?;
    if info.format != FORMAT {
        return Err(Error::bad_file(
            &path,
            format!("run format {} (this build reads {FORMAT})", info.format),
        ));
    }
    Ok(info)
}

/// Loads a trained model from a run folder.
pub fn load(run_dir: &Path, device: &Device) -> Result<(SeqAe, ModelInfo)> {
    let info = load_info(run_dir)?;
    let model = SeqAe::from_weights(
        &info.model,
        info.scale,
        &run_dir.join(MODEL_WEIGHTS),
        LstmImpl::Auto,
        device,
    )?;
    Ok((model, info))
}
