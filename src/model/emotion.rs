//! The expression head: one of the two ported emotion networks, with its preprocessing,
//! and its outputs mapped to facs's emotion order ([`crate::frame::EMOTIONS`]).

use std::path::Path;
use std::str::FromStr;

use candle_core::Device;

use super::faceapi::{self, FaceApiNet};
use super::fer::{self, FerNet};
use super::{read_verified, BundledModel, FACEAPI_EXPRESSION, FER_EMOTION};
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
}

impl FromStr for EmotionModel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "faceapi" | "face-api" => Ok(EmotionModel::FaceApi),
            "fer" => Ok(EmotionModel::Fer),
            _ => Err(Error::config("emotion model", s, "faceapi, fer or none")),
        }
    }
}

impl EmotionModel {
    /// The weight file behind this choice.
    pub fn bundled(&self) -> &'static BundledModel {
        match self {
            EmotionModel::FaceApi => &FACEAPI_EXPRESSION,
            EmotionModel::Fer => &FER_EMOTION,
        }
    }

    /// Crop margin (fraction of the detector box added on each side) that gave the best
    /// results on the bundled clips and photos; see the model cards for the measurement.
    pub fn crop_margin(&self) -> f32 {
        match self {
            EmotionModel::FaceApi => 0.0,
            EmotionModel::Fer => 0.1,
        }
    }

    /// Side of the square crop the network takes.
    pub fn input_size(&self) -> u32 {
        match self {
            EmotionModel::FaceApi => faceapi::INPUT,
            EmotionModel::Fer => fer::INPUT,
        }
    }
}

enum Net {
    Fer(FerNet),
    FaceApi(FaceApiNet),
}

/// A loaded expression network.
pub struct EmotionHead {
    kind: EmotionModel,
    net: Net,
}

/// Position of each facs emotion (anger, disgust, fear, happiness, sadness, surprise,
/// neutral) in face-api's output (neutral, happy, sad, angry, fearful, disgusted, surprised).
const FACEAPI_TO_FACS: [usize; 7] = [3, 5, 4, 1, 2, 6, 0];

/// Softmax in place, stable for large logits.
pub fn softmax(logits: &[f32; 7]) -> [f32; 7] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut out = logits.map(|v| (v - max).exp());
    let sum: f32 = out.iter().sum();
    out.iter_mut().for_each(|v| *v /= sum);
    out
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

    /// Emotion probabilities in facs order for `n` RGB crops of `input_size()` pixels.
    ///
    /// # Errors
    /// A tensor operation failed.
    pub fn predict(&self, crops_rgb: &[u8], n: usize) -> Result<Vec<[f32; 7]>> {
        let logits = self.native_logits(crops_rgb, n)?;
        Ok(logits
            .iter()
            .map(|l| {
                match self.kind {
                    // fer's order already is facs's order.
                    EmotionModel::Fer => softmax(l),
                    EmotionModel::FaceApi => faceapi_probs(l),
                }
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
}
