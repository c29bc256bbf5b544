//! Checkpoints: after every epoch, where the run stands (`checkpoint.json`) and its weights
//! and optimiser moments (`checkpoint.safetensors`), so that `--resume` continues a stopped
//! run to the weights it would have reached uninterrupted.

use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{variables, EpochLog, Session, TrainConfig};
use crate::error::{Error, Result};
use crate::train::faces::Prepared;
use crate::util::json::write_serialized;
use crate::util::rng::SplitMix64;

/// Where a run stands after an epoch: written beside the weights as checkpoint.json, with
/// the weights and optimiser moments in checkpoint.safetensors.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Checkpoint {
    pub(super) format: String,
    pub(super) config: TrainConfig,
    pub(super) train_faces: usize,
    pub(super) epoch: usize,
    pub(super) optimizer_steps: usize,
    pub(super) sampler_rng: u64,
    pub(super) augment_rng: u64,
    pub(super) history: Vec<EpochLog>,
    pub(super) best: f64,
    pub(super) best_epoch: usize,
    pub(super) since_best: usize,
}

pub(super) const CHECKPOINT_FORMAT: &str = "facs-train-checkpoint";
pub(super) const CHECKPOINT: &str = "checkpoint.json";
pub(super) const CHECKPOINT_TENSORS: &str = "checkpoint.safetensors";

/// Writes tensors to `path` through a temporary file, so a crash never leaves half a file.
fn save_tensors(tensors: &std::collections::HashMap<String, Tensor>, path: &Path) -> Result<()> {
    let tmp = path.with_extension("safetensors.tmp");
    candle_core::safetensors::save(tensors, &tmp).map_err(|e| Error::Model {
        path: tmp.clone(),
        reason: e.to_string(),
    })?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

impl Session {
    pub(super) fn save_checkpoint(&self, state: &Checkpoint, out_dir: &Path) -> Result<()> {
        let mut tensors = std::collections::HashMap::new();
        for (name, var) in variables(&self.vm)? {
            tensors.insert(format!("var.{name}"), var.as_tensor().clone());
        }
        for (name, t) in self.opt.state() {
            tensors.insert(format!("opt.{name}"), t);
        }
        save_tensors(&tensors, &out_dir.join(CHECKPOINT_TENSORS))?;
        write_serialized(&out_dir.join(CHECKPOINT), state)
    }

    /// Restores weights, optimiser and random streams from `out_dir`'s checkpoint, after
    /// checking it belongs to this configuration and data.
    pub(super) fn resume(
        &mut self,
        cfg: &TrainConfig,
        train: &Prepared,
        out_dir: &Path,
    ) -> Result<Checkpoint> {
        let path = out_dir.join(CHECKPOINT);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let state: Checkpoint =
            serde_json::from_str(&text).map_err(|e| Error::json(path.clone(), e))?;
        let refuse = |reason: String| Error::Model {
            path: path.clone(),
            reason,
        };
        if state.format != CHECKPOINT_FORMAT {
            return Err(refuse(format!(
                "format \"{}\", expected \"{CHECKPOINT_FORMAT}\"",
                state.format
            )));
        }
        if &state.config != cfg {
            let (a, b) = (
                serde_json::to_value(&state.config).unwrap_or_default(),
                serde_json::to_value(cfg).unwrap_or_default(),
            );
            let differ: Vec<String> = match (a.as_object(), b.as_object()) {
                (Some(a), Some(b)) => a
                    .iter()
                    .filter(|(k, v)| b.get(*k) != Some(v))
                    .map(|(k, v)| {
                        format!("{k} {v} (now {})", b.get(k).cloned().unwrap_or_default())
                    })
                    .collect(),
                _ => vec![],
            };
            return Err(refuse(format!(
                "made with other settings: {}; resume with the same ones",
                differ.join(", ")
            )));
        }
        if state.train_faces != train.len() {
            return Err(refuse(format!(
                "made on {} training faces, now {}",
                state.train_faces,
                train.len()
            )));
        }
        let tpath = out_dir.join(CHECKPOINT_TENSORS);
        let tensors =
            candle_core::safetensors::load(&tpath, &Device::Cpu).map_err(|e| Error::Model {
                path: tpath.clone(),
                reason: e.to_string(),
            })?;
        let model_err = |e: candle_core::Error| Error::Model {
            path: tpath.clone(),
            reason: e.to_string(),
        };
        for (name, var) in variables(&self.vm)? {
            let t = tensors
                .get(&format!("var.{name}"))
                .ok_or_else(|| model_err(candle_core::Error::Msg(format!("lacks `var.{name}`"))))?;
            var.set(t).map_err(model_err)?;
        }
        let opt: std::collections::HashMap<String, Tensor> = tensors
            .iter()
            .filter_map(|(k, t)| k.strip_prefix("opt.").map(|k| (k.to_string(), t.clone())))
            .collect();
        self.opt
            .restore(&opt, state.optimizer_steps)
            .map_err(model_err)?;
        self.sampler.set_rng_state(state.sampler_rng);
        self.rng = SplitMix64::new(state.augment_rng);
        Ok(state)
    }
}
