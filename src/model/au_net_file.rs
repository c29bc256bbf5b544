//! The AU network's file format: a model folder holds `model.safetensors` (the weights) and
//! `model.json` ([`ModelInfo`]: the network's shape, the training settings and history, the
//! label order, whether it saw only synthetic faces). Written by `facs train`, read by the
//! pipeline, `facs eval` and `facs cam`.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::au_net::{AuNet, AuNetConfig, Backbone};
use crate::align::AuCrop;
use crate::error::{first_line, Error, Result};

/// Training settings. With a pretrained backbone, training has two phases: `frozen_epochs`
/// with the backbone frozen (only the heads learn, on features computed once), then
/// `epochs` with everything learning, the backbone at `lr / backbone_lr_div`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub net: AuNetConfig,
    /// Epochs with every layer learning (from scratch: all epochs; on a backbone: phase 2).
    pub epochs: usize,
    /// Phase 1 on a backbone: epochs with the backbone frozen. 0 from scratch.
    #[serde(default)]
    pub frozen_epochs: usize,
    /// Phase 2 on a backbone: the backbone's learning rate is the heads' divided by this.
    #[serde(default = "default_backbone_lr_div")]
    pub backbone_lr_div: f64,
    pub batch: usize,
    /// Peak learning rate of the one-cycle schedule.
    pub lr: f64,
    pub weight_decay: f64,
    /// Focal-loss gamma for the AU head; None = plain BCE.
    pub focal_gamma: Option<f64>,
    /// Stop after this many epochs without a better validation macro-F1.
    pub patience: usize,
    pub augment: bool,
    pub seed: u64,
    /// The face crop the network is trained on and fed (`--crop`); a model.json written
    /// before the choice existed has none: aligned, the only crop then.
    #[serde(default)]
    pub crop: AuCrop,
}

fn default_backbone_lr_div() -> f64 {
    10.0
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            net: AuNetConfig::small(),
            epochs: 20,
            frozen_epochs: 0,
            backbone_lr_div: default_backbone_lr_div(),
            batch: 32,
            lr: 3e-3,
            weight_decay: 1e-4,
            focal_gamma: None,
            patience: 5,
            augment: true,
            seed: 0,
            crop: AuCrop::Aligned,
        }
    }
}

impl TrainConfig {
    /// Refuses settings that cannot produce a model, before any work starts.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the setting (as the `facs train` flag) and the range
    /// expected.
    pub fn validate(&self) -> Result<()> {
        self.net.validate()?;
        if self.net.backbone == Backbone::Scratch {
            if self.frozen_epochs != 0 {
                return Err(Error::config(
                    "frozen epochs",
                    self.frozen_epochs,
                    "0 from scratch (nothing to freeze)",
                ));
            }
            if self.epochs == 0 {
                return Err(Error::config("epochs", self.epochs, ">= 1"));
            }
        } else if self.epochs + self.frozen_epochs == 0 {
            return Err(Error::config(
                "epochs",
                self.epochs,
                ">= 1, or frozen epochs >= 1",
            ));
        }
        if !(self.backbone_lr_div >= 1.0 && self.backbone_lr_div.is_finite()) {
            return Err(Error::config(
                "backbone lr div",
                self.backbone_lr_div,
                "a finite number >= 1",
            ));
        }
        if self.batch == 0 {
            return Err(Error::config("batch", self.batch, ">= 1"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::config("lr", self.lr, "a finite number > 0"));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(Error::config(
                "weight decay",
                self.weight_decay,
                "a finite number >= 0",
            ));
        }
        if let Some(g) = self.focal_gamma {
            if !(g >= 0.0 && g.is_finite()) {
                return Err(Error::config("focal", g, "a finite number >= 0"));
            }
        }
        if self.patience == 0 {
            return Err(Error::config("patience", self.patience, ">= 1"));
        }
        Ok(())
    }
}

/// Checks a target precision for per-AU thresholds (`facs train --target-precision`).
///
/// # Errors
/// [`Error::InvalidConfig`] outside (0, 1].
pub fn validate_target_precision(p: f64) -> Result<()> {
    if p > 0.0 && p <= 1.0 {
        Ok(())
    } else {
        Err(Error::config("target precision", p, "in (0, 1]"))
    }
}

/// One epoch's figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f64,
    /// The same loss on the validation faces (no augmentation, evaluation mode); absent
    /// without validation data and in models trained before it was recorded.
    #[serde(default)]
    pub val_loss: Option<f64>,
    pub val_macro_f1: Option<f64>,
    pub seconds: f64,
}

/// What `facs train` writes beside the weights (`model.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelInfo {
    pub format: String,
    pub facs_version: String,
    pub config: TrainConfig,
    pub au_labels: Vec<String>,
    pub emotion_labels: Vec<String>,
    pub input: String,
    pub best_epoch: usize,
    pub history: Vec<EpochLog>,
    /// Trained only on faces from `facs synth`: proves the machinery, never a model for
    /// real footage (the pipeline says so in its sidecar).
    #[serde(default)]
    pub synthetic_training_data: bool,
    /// The sha256 of the bundled weight file the backbone started from (None from scratch);
    /// the backbone's name is `config.net.backbone`.
    #[serde(default)]
    pub backbone_sha256: Option<String>,
}

/// `format` of a `model.json`.
pub const FORMAT: &str = "facs-au-net";
/// The weights file in a model folder.
pub const WEIGHTS: &str = "model.safetensors";
/// The description file in a model folder ([`ModelInfo`] as JSON).
pub const INFO: &str = "model.json";

/// Loads a model written by `facs train`.
///
/// # Errors
/// Missing files, another format, or weights that do not fit the config (named tensor).
pub fn load(model_dir: &Path) -> Result<(AuNet, ModelInfo)> {
    load_with_sha256(model_dir).map(|(net, info, _)| (net, info))
}

/// [`load`], and the sha256 of the weights file as read (for a run's sidecar).
///
/// # Errors
/// As [`load`].
pub fn load_with_sha256(model_dir: &Path) -> Result<(AuNet, ModelInfo, String)> {
    let info_path: PathBuf = model_dir.join(INFO);
    let text = std::fs::read_to_string(&info_path).map_err(|e| Error::io(&info_path, e))?;
    let info: ModelInfo =
        serde_json::from_str(&text).map_err(|e| Error::json(info_path.clone(), e))?;
    if info.format != FORMAT {
        return Err(Error::Model {
            path: info_path,
            reason: format!("format \"{}\", expected \"{FORMAT}\"", info.format),
        });
    }
    let weights = model_dir.join(WEIGHTS);
    let bytes = std::fs::read(&weights).map_err(|e| Error::io(&weights, e))?;
    let sha256 = crate::model::sha256_hex(&bytes);
    let vb =
        VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu).map_err(|e| {
            Error::Model {
                path: weights.clone(),
                reason: first_line(&e),
            }
        })?;
    let net = AuNet::new(vb, info.config.net.clone()).map_err(|e| Error::Model {
        path: weights,
        reason: first_line(&e),
    })?;
    Ok((net, info, sha256))
}

/// Whether the backbone of a model's weights (`model.safetensors` bytes, tensors under
/// [`Backbone::PREFIX`]) is, tensor for tensor and bit for bit, the network in `bundled`
/// (a bundled backbone weight file's bytes, its output layer left out). True only
/// when the training never changed the backbone (backbone frozen throughout).
///
/// # Errors
/// Either buffer is not a safetensors file.
pub fn backbone_matches(weights: &[u8], bundled: &[u8]) -> Result<bool> {
    let read = |bytes: &[u8], what: &str| {
        candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(|e| Error::Model {
            path: PathBuf::from(what),
            reason: first_line(&e),
        })
    };
    let model = read(weights, WEIGHTS)?;
    let bundled = read(bundled, "bundled backbone")?;
    let prefix = format!("{}.", Backbone::PREFIX);
    let mut count = 0;
    for (name, t) in &model {
        let Some(inner) = name.strip_prefix(&prefix) else {
            continue;
        };
        count += 1;
        let Some(b) = bundled.get(inner) else {
            return Ok(false);
        };
        let same = t.dims() == b.dims()
            && t.dtype() == b.dtype()
            && bits(t).is_some_and(|x| bits(b).is_some_and(|y| x == y));
        if !same {
            return Ok(false);
        }
    }
    // The bundled file's own output layer (face-api's `fc.`, facex's `predictis.`) is no
    // part of a backbone.
    let trunk_tensors = bundled
        .keys()
        .filter(|k| !k.starts_with("fc.") && !k.starts_with("predictis."))
        .count();
    Ok(count > 0 && count == trunk_tensors)
}

/// A float tensor's values as bit patterns (None for another type).
fn bits(t: &candle_core::Tensor) -> Option<Vec<u32>> {
    let v = t.flatten_all().ok()?.to_vec1::<f32>().ok()?;
    Some(v.into_iter().map(f32::to_bits).collect())
}

/// A model folder as `facs train --backbone faceapi-expression --epochs 0` leaves it (the
/// bundled expression extractor unchanged under `backbone.`), with fixed deterministic heads
/// instead of trained ones and the given crop. `fine_tuned` nudges one backbone tensor, as
/// phase 2 of training changes it. For the tests and benchmarks of the pipeline's one-pass
/// and CAM paths, which need a network without training one.
///
/// # Errors
/// The bundled weights are missing or altered; the folder cannot be written.
#[doc(hidden)]
pub fn write_fixed_head_model(
    dir: &Path,
    models_dir: &Path,
    crop: AuCrop,
    fine_tuned: bool,
    synthetic: bool,
) -> Result<()> {
    use crate::frame::NUM_AUS;
    use crate::weights::{read_verified, FACEAPI_EXPRESSION};
    use candle_core::Tensor;
    let bad = |e: candle_core::Error| Error::Weights(format!("fixed-head model: {e}"));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let dev = Device::Cpu;
    let bytes = read_verified(models_dir, &FACEAPI_EXPRESSION)?;
    let mut named: std::collections::HashMap<String, Tensor> =
        candle_core::safetensors::load_buffer(&bytes, &dev)
            .map_err(bad)?
            .into_iter()
            .filter(|(k, _)| !k.starts_with("fc."))
            .map(|(k, v)| (format!("{}.{k}", Backbone::PREFIX), v))
            .collect();
    if fine_tuned {
        let k = format!("{}.dense3.conv3.bias", Backbone::PREFIX);
        if let Some(t) = named.get(&k) {
            let nudged = (t + 1e-3).map_err(bad)?;
            named.insert(k, nudged);
        }
    }
    for (name, rows, seed) in [
        ("au_head", NUM_AUS, 1.0f32),
        ("emotion_head", 7, 2.0),
        ("happy_head", 1, 3.0),
    ] {
        let w: Vec<f32> = (0..rows * 256)
            .map(|i| 0.05 * (i as f32 * 0.37 + seed).sin())
            .collect();
        named.insert(
            format!("{name}.weight"),
            Tensor::from_vec(w, (rows, 256), &dev).map_err(bad)?,
        );
        named.insert(
            format!("{name}.bias"),
            Tensor::zeros(rows, DType::F32, &dev).map_err(bad)?,
        );
    }
    candle_core::safetensors::save(&named, dir.join(WEIGHTS)).map_err(bad)?;
    let info = ModelInfo {
        format: FORMAT.into(),
        facs_version: env!("CARGO_PKG_VERSION").into(),
        config: TrainConfig {
            net: AuNetConfig::faceapi(Backbone::FaceapiExpression),
            epochs: usize::from(fine_tuned),
            frozen_epochs: 1,
            crop,
            ..TrainConfig::default()
        },
        au_labels: crate::frame::au_names(),
        emotion_labels: crate::frame::EMOTIONS
            .iter()
            .map(|e| e.to_string())
            .collect(),
        input: "112x112 RGB".into(),
        best_epoch: 1,
        history: Vec::new(),
        synthetic_training_data: synthetic,
        backbone_sha256: Some(FACEAPI_EXPRESSION.sha256.into()),
    };
    let json = serde_json::to_string_pretty(&info)
        .map_err(|e| Error::Weights(format!("fixed-head model: {e}")))?;
    let path = dir.join(INFO);
    std::fs::write(&path, json).map_err(|e| Error::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_cannot_make_a_model_are_refused() {
        TrainConfig::default().validate().unwrap();
        let with = |f: &dyn Fn(&mut TrainConfig)| {
            let mut c = TrainConfig::default();
            f(&mut c);
            c.validate().map_err(|e| e.to_string())
        };
        assert_eq!(
            with(&|c| c.epochs = 0).unwrap_err(),
            "invalid epochs 0 (expected >= 1)"
        );
        assert_eq!(
            with(&|c| c.lr = -1.0).unwrap_err(),
            "invalid lr -1 (expected a finite number > 0)"
        );
        for lr in [0.0, f64::NAN, f64::INFINITY] {
            assert!(with(&|c| c.lr = lr).unwrap_err().starts_with("invalid lr"));
        }
        assert!(with(&|c| c.batch = 0)
            .unwrap_err()
            .starts_with("invalid batch"));
        assert!(with(&|c| c.patience = 0)
            .unwrap_err()
            .starts_with("invalid patience"));
        assert!(with(&|c| c.net.input = 20)
            .unwrap_err()
            .starts_with("invalid input"));
        assert!(with(&|c| c.net.width = 0)
            .unwrap_err()
            .starts_with("invalid width"));
        assert!(with(&|c| c.focal_gamma = Some(-1.0))
            .unwrap_err()
            .starts_with("invalid focal"));
        assert!(with(&|c| c.weight_decay = f64::NAN).is_err());
        validate_target_precision(1.0).unwrap();
        validate_target_precision(0.5).unwrap();
        for p in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(validate_target_precision(p).is_err(), "{p}");
        }
    }

    /// A model folder with freshly initialised weights and its model.json text.
    fn model_folder(dir: &Path) -> String {
        let vm = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        AuNet::new(vb, AuNetConfig::small()).unwrap();
        vm.save(dir.join(WEIGHTS)).unwrap();
        let info = serde_json::json!({
            "format": FORMAT, "facs_version": "0.1.0", "config": TrainConfig::default(),
            "au_labels": [], "emotion_labels": [], "input": "48x48 RGB",
            "best_epoch": 1, "history": [], "synthetic_training_data": true
        });
        let text = serde_json::to_string_pretty(&info).unwrap();
        std::fs::write(dir.join(INFO), &text).unwrap();
        text
    }

    #[test]
    fn damaged_model_files_are_refused_in_one_line_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let good = model_folder(tmp.path());
        load_with_sha256(tmp.path()).unwrap();
        // Shapes the weights do not fit: one line naming the weights file, no backtrace.
        for (from, to) in [
            ("\"width\": 8", "\"width\": 0"),
            ("\"width\": 8", "\"width\": 9000"),
        ] {
            assert!(good.contains(from), "{good}");
            std::fs::write(tmp.path().join(INFO), good.replace(from, to)).unwrap();
            let err = load_with_sha256(tmp.path()).err().unwrap().to_string();
            assert!(err.contains(WEIGHTS) && !err.contains('\n'), "{err}");
        }
        // Seeded mutations of model.json (cut short, bytes changed, fields dropped): never a
        // panic; an error names model.json or the weights, and nothing is written.
        let mut rng = crate::util::rng::SplitMix64::new(11);
        for round in 0..300 {
            let mut bytes = good.clone().into_bytes();
            match round % 3 {
                0 => bytes.truncate(rng.below(bytes.len())),
                1 => {
                    for _ in 0..1 + rng.below(4) {
                        let i = rng.below(bytes.len());
                        bytes[i] = rng.below(256) as u8;
                    }
                }
                _ => {
                    let text = String::from_utf8_lossy(&bytes).to_string();
                    let lines: Vec<&str> = text.lines().collect();
                    let drop = rng.below(lines.len());
                    let kept: Vec<&str> = lines
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != drop)
                        .map(|(_, l)| *l)
                        .collect();
                    bytes = kept.join("\n").into_bytes();
                }
            }
            std::fs::write(tmp.path().join(INFO), &bytes).unwrap();
            if let Err(e) = load_with_sha256(tmp.path()) {
                let msg = e.to_string();
                assert!(msg.contains(INFO) || msg.contains(WEIGHTS), "{msg}");
            }
            let files = std::fs::read_dir(tmp.path()).unwrap().count();
            assert_eq!(files, 2, "round {round} wrote a file");
        }
    }

    #[test]
    fn the_crop_is_stored_and_a_file_without_it_is_aligned() {
        let tmp = tempfile::tempdir().unwrap();
        let text = model_folder(tmp.path());
        // Written before the crop was a choice: no `crop` field, the aligned crop.
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(v["config"]
            .as_object_mut()
            .unwrap()
            .remove("crop")
            .is_some());
        std::fs::write(tmp.path().join(INFO), v.to_string()).unwrap();
        let (_, info) = load(tmp.path()).unwrap();
        assert_eq!(info.config.crop, AuCrop::Aligned);
        // A box-crop model says so and is read back as one.
        v["config"]["crop"] = serde_json::to_value(AuCrop::Box).unwrap();
        std::fs::write(tmp.path().join(INFO), v.to_string()).unwrap();
        assert!(v.to_string().contains("\"crop\":\"box\""));
        let (_, info) = load(tmp.path()).unwrap();
        assert_eq!(info.config.crop, AuCrop::Box);
        // An unknown crop is refused, naming model.json.
        v["config"]["crop"] = "tight".into();
        std::fs::write(tmp.path().join(INFO), v.to_string()).unwrap();
        let e = load(tmp.path()).err().unwrap().to_string();
        assert!(e.contains(INFO), "{e}");
    }
}
