//! The expression head: one of the three ported emotion networks, with its preprocessing,
//! and its outputs mapped to facs's emotion order ([`crate::frame::EMOTIONS`]); and the
//! ensemble of two of them, whose probabilities are averaged ([`average`]).

use std::path::Path;
use std::str::FromStr;

use candle_core::Device;

use super::faceapi::{self, FaceApiNet};
use super::facex::{self, FacexNet};
use super::fer::{self, FerNet};
use super::temperature::softmax_t;
use super::{read_verified, BundledModel, FACEAPI_EXPRESSION, FACEX_EMOTION, FER_EMOTION};
use crate::align::rgb_to_grey;
use crate::error::{Error, Result};

/// Which expression network to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EmotionModel {
    /// face-api's expression net (112x112 RGB).
    #[default]
    FaceApi,
    /// fer's mini-Xception (64x64 grey, FER2013).
    Fer,
    /// facex's MobileNetV2 (200x200 grey).
    FaceX,
    /// face-api's and facex's probabilities averaged, each network on its own thread.
    Ensemble,
}

impl FromStr for EmotionModel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "faceapi" | "face-api" => Ok(EmotionModel::FaceApi),
            "fer" => Ok(EmotionModel::Fer),
            "facex" => Ok(EmotionModel::FaceX),
            "ensemble" => Ok(EmotionModel::Ensemble),
            _ => Err(Error::config(
                "emotion model",
                s,
                "faceapi, fer, facex, ensemble or none",
            )),
        }
    }
}

impl EmotionModel {
    /// The single networks behind this choice: itself, or the ensemble's two members.
    pub fn members(&self) -> &'static [EmotionModel] {
        match self {
            EmotionModel::FaceApi => &[EmotionModel::FaceApi],
            EmotionModel::Fer => &[EmotionModel::Fer],
            EmotionModel::FaceX => &[EmotionModel::FaceX],
            EmotionModel::Ensemble => &[EmotionModel::FaceApi, EmotionModel::FaceX],
        }
    }

    /// The weight file behind a single network (the ensemble's first member for the
    /// ensemble: see [`EmotionModel::members`]).
    pub fn bundled(&self) -> &'static BundledModel {
        match self {
            EmotionModel::FaceApi | EmotionModel::Ensemble => &FACEAPI_EXPRESSION,
            EmotionModel::Fer => &FER_EMOTION,
            EmotionModel::FaceX => &FACEX_EMOTION,
        }
    }

    /// Crop margin (fraction of the detector box added on each side) that gave the best
    /// results on the bundled clips and photos; see the model cards for the measurement.
    pub fn crop_margin(&self) -> f32 {
        match self {
            EmotionModel::FaceApi | EmotionModel::Ensemble => 0.0,
            EmotionModel::Fer => 0.1,
            EmotionModel::FaceX => 0.0,
        }
    }

    /// Position in the network's output of each facs emotion.
    fn to_facs(&self) -> [usize; 7] {
        match self {
            // fer's order already is facs's order.
            EmotionModel::Fer => [0, 1, 2, 3, 4, 5, 6],
            EmotionModel::FaceApi | EmotionModel::Ensemble => FACEAPI_TO_FACS,
            EmotionModel::FaceX => FACEX_TO_FACS,
        }
    }

    /// Side of the square crop the network takes.
    pub fn input_size(&self) -> u32 {
        match self {
            EmotionModel::FaceApi | EmotionModel::Ensemble => faceapi::INPUT,
            EmotionModel::Fer => fer::INPUT,
            EmotionModel::FaceX => facex::INPUT,
        }
    }
}

enum Net {
    Fer(FerNet),
    FaceApi(FaceApiNet),
    FaceX(FacexNet),
}

/// A loaded expression network.
pub struct EmotionHead {
    kind: EmotionModel,
    net: Net,
}

/// Position of each facs emotion (anger, disgust, fear, happiness, sadness, surprise,
/// neutral) in face-api's output (neutral, happy, sad, angry, fearful, disgusted, surprised).
const FACEAPI_TO_FACS: [usize; 7] = [3, 5, 4, 1, 2, 6, 0];
/// The same for facex's output (anger, disgust, fear, happy, neutral, sadness, surprised).
const FACEX_TO_FACS: [usize; 7] = [0, 1, 2, 3, 5, 6, 4];

/// The mean of several heads' probabilities for the same faces (each in facs order): the
/// ensemble's output. Rows are faces; every head must have scored every face. The heads'
/// own probabilities, not temperature-scaled ones: per-head temperatures fitted on labelled
/// real frames made the ensemble worse on a held-out clip (see [`super::temperature`]).
///
/// # Errors
/// [`Error::Model`] if the heads scored different numbers of faces.
pub fn average(heads: &[Vec<[f32; 7]>]) -> Result<Vec<[f32; 7]>> {
    let Some(first) = heads.first() else {
        return Ok(Vec::new());
    };
    if let Some(h) = heads.iter().find(|h| h.len() != first.len()) {
        return Err(Error::Model {
            path: "ensemble".into(),
            reason: format!("heads scored {} and {} faces", first.len(), h.len()),
        });
    }
    let k = heads.len() as f32;
    Ok((0..first.len())
        .map(|i| std::array::from_fn(|c| heads.iter().map(|h| h[i][c]).sum::<f32>() / k))
        .collect())
}

/// Softmax, stable for large logits.
pub fn softmax(logits: &[f32; 7]) -> [f32; 7] {
    softmax_t(logits, 1.0)
}

/// face-api expression logits (its own order) as probabilities in facs order.
pub fn faceapi_probs(logits: &[f32; 7]) -> [f32; 7] {
    let p = softmax(logits);
    FACEAPI_TO_FACS.map(|i| p[i])
}

impl EmotionHead {
    /// Loads the chosen network from `models_dir`, checking its sha256.
    ///
    /// # Errors
    /// Missing or altered file; a tensor missing or of the wrong shape (named).
    pub fn load(models_dir: &Path, kind: EmotionModel, device: &Device) -> Result<Self> {
        if kind == EmotionModel::Ensemble {
            return Err(ensemble_is_not_one_network());
        }
        let spec = kind.bundled();
        let bytes = read_verified(models_dir, spec)?;
        Self::from_bytes(bytes, kind, device).map_err(|e| match e {
            Error::Model { reason, .. } => Error::Model {
                path: models_dir.join(spec.file),
                reason,
            },
            other => other,
        })
    }

    /// Builds the network from weight bytes (no checksum: for tests and converted files).
    ///
    /// # Errors
    /// [`Error::Model`] naming the tensor that is missing or of the wrong shape.
    pub fn from_bytes(bytes: Vec<u8>, kind: EmotionModel, device: &Device) -> Result<Self> {
        let wrap = |e: Error| Error::Model {
            path: kind.bundled().file.into(),
            reason: e.to_string(),
        };
        let net = match kind {
            EmotionModel::Fer => Net::Fer(FerNet::from_bytes(bytes, device).map_err(wrap)?),
            EmotionModel::FaceX => Net::FaceX(FacexNet::from_bytes(bytes, device).map_err(wrap)?),
            EmotionModel::Ensemble => return Err(ensemble_is_not_one_network()),
            EmotionModel::FaceApi => {
                Net::FaceApi(FaceApiNet::from_bytes(bytes, 7, device).map_err(wrap)?)
            }
        };
        Ok(EmotionHead { kind, net })
    }

    pub fn kind(&self) -> EmotionModel {
        self.kind
    }

    /// Raw logits in the network's own class order, for golden tests.
    ///
    /// # Errors
    /// A tensor operation failed.
    pub fn native_logits(&self, crops_rgb: &[u8], n: usize) -> Result<Vec<[f32; 7]>> {
        Ok(match &self.net {
            Net::Fer(net) => net.logits(&rgb_to_grey(crops_rgb), n)?,
            Net::FaceX(net) => net.logits(&rgb_to_grey(crops_rgb), n)?,
            Net::FaceApi(net) => net
                .forward(crops_rgb, n)?
                .into_iter()
                .map(|r| {
                    let mut a = [0f32; 7];
                    a.copy_from_slice(&r[..7]);
                    a
                })
                .collect(),
        })
    }

    /// Logits in facs order for `n` RGB crops of `input_size()` pixels: what a temperature
    /// ([`super::temperature`]) is fitted on.
    ///
    /// # Errors
    /// A tensor operation failed.
    pub fn logits(&self, crops_rgb: &[u8], n: usize) -> Result<Vec<[f32; 7]>> {
        let order = self.kind.to_facs();
        Ok(self
            .native_logits(crops_rgb, n)?
            .iter()
            .map(|l| order.map(|i| l[i]))
            .collect())
    }

    /// Emotion probabilities in facs order for `n` RGB crops of `input_size()` pixels.
    ///
    /// # Errors
    /// A tensor operation failed.
    pub fn predict(&self, crops_rgb: &[u8], n: usize) -> Result<Vec<[f32; 7]>> {
        Ok(self.logits(crops_rgb, n)?.iter().map(softmax).collect())
    }
}

/// The ensemble runs its members as separate heads ([`EmotionModel::members`]).
fn ensemble_is_not_one_network() -> Error {
    Error::config(
        "emotion model",
        "ensemble",
        "a single network here (load each of EmotionModel::members)",
    )
}

/// Probabilities in facs order straight from grey crops of the network's input size, for
/// heads that take grey input (fer, facex): crop studies compare grey conversions this way.
impl EmotionHead {
    /// # Errors
    /// [`Error::Model`] for a head that takes RGB; a tensor operation failed.
    pub fn predict_grey(&self, grey: &[u8], n: usize) -> Result<Vec<[f32; 7]>> {
        let map = self.kind.to_facs();
        let logits = match &self.net {
            Net::Fer(net) => net.logits(grey, n)?,
            Net::FaceX(net) => net.logits(grey, n)?,
            Net::FaceApi(_) => {
                return Err(Error::Model {
                    path: self.kind.bundled().file.into(),
                    reason: "face-api's expression net takes RGB crops".into(),
                })
            }
        };
        Ok(logits
            .iter()
            .map(|l| {
                let p = softmax(l);
                map.map(|i| p[i])
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_stable_and_sums_to_one() {
        let p = softmax(&[1000.0, 0.0, -1000.0, 999.0, 0.0, 0.0, 0.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // e^1 / (e^1 + 1) for the two large logits.
        assert!((p[0] - 0.731_058_6).abs() < 1e-6);
        assert!(p.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn faceapi_labels_map_to_facs_order() {
        use crate::frame::EMOTIONS;
        let facs_name = |s: &str| {
            match s {
                "angry" => "anger",
                "disgusted" => "disgust",
                "fearful" => "fear",
                "happy" => "happiness",
                "sad" => "sadness",
                "surprised" => "surprise",
                other => other,
            }
            .to_string()
        };
        for (i, &j) in FACEAPI_TO_FACS.iter().enumerate() {
            assert_eq!(facs_name(faceapi::EXPRESSION_LABELS[j]), EMOTIONS[i]);
        }
    }

    #[test]
    fn facex_labels_map_to_facs_order() {
        use crate::frame::EMOTIONS;
        let facs_name = |s: &str| {
            match s {
                "happy" => "happiness",
                "surprised" => "surprise",
                other => other,
            }
            .to_string()
        };
        for (i, &j) in FACEX_TO_FACS.iter().enumerate() {
            assert_eq!(facs_name(facex::LABELS[j]), EMOTIONS[i]);
        }
    }

    #[test]
    fn ensemble_averages_per_face_and_checks_counts() {
        let a = vec![[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0; 7]];
        let b = vec![[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], [0.5; 7]];
        let m = average(&[a.clone(), b]).unwrap();
        assert_eq!(m[0], [0.5, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0]);
        assert_eq!(m[1], [0.25; 7]);
        assert!(average(&[a.clone(), vec![]]).is_err());
        assert_eq!(average(&[a.clone()]).unwrap(), a);
        assert!("ensemble".parse::<EmotionModel>().unwrap().members().len() == 2);
        let err = "bogus".parse::<EmotionModel>().unwrap_err().to_string();
        assert!(err.contains("facex, ensemble"), "{err}");
    }
}
