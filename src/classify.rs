//! The classification stage's work: crop each face, run the networks present in models/ on
//! the batch of crops, and turn outputs into [`Scores`]. A face with no model to score it
//! passes through with empty scores.

use std::path::Path;

use serde::Serialize;

use crate::align::{crop_rgb, square_crop};
use crate::error::{Error, Result};
use crate::frame::{Frame, Scores, TrackedFace, HAPPINESS};
use crate::model::emotion::{EmotionHead, EmotionModel};
use crate::model::{device, BundledModel};

/// Which models to run.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierOptions {
    /// The expression network; None runs none (emotion and happy columns stay empty).
    pub emotion: Option<EmotionModel>,
    /// Crop margin for the expression network; None uses the model's measured best.
    pub emotion_margin: Option<f32>,
}

impl Default for ClassifierOptions {
    fn default() -> Self {
        ClassifierOptions {
            emotion: Some(EmotionModel::default()),
            emotion_margin: None,
        }
    }
}

impl ClassifierOptions {
    /// # Errors
    /// A margin outside [0, 1].
    pub fn validate(&self) -> Result<()> {
        if let Some(m) = self.emotion_margin {
            if !(0.0..=1.0).contains(&m) {
                return Err(Error::config("emotion crop margin", m, "0..=1"));
            }
        }
        Ok(())
    }
}

/// A model taking part in a run, for the log's sidecar.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ModelUse {
    pub name: String,
    pub file: String,
    pub sha256: String,
    pub role: String,
}

impl From<&BundledModel> for ModelUse {
    fn from(m: &BundledModel) -> Self {
        ModelUse {
            name: m.name.into(),
            file: m.file.into(),
            sha256: m.sha256.into(),
            role: m.role.into(),
        }
    }
}

/// Runs the loaded networks on face crops.
pub struct Classifier {
    models: Vec<ModelUse>,
    emotion: Option<(EmotionHead, f32)>,
    crops: Vec<u8>,
}

impl Classifier {
    /// Loads the models `opts` asks for from `models_dir` (each sha256-checked).
    ///
    /// # Errors
    /// A requested model is missing, altered or malformed.
    pub fn load(models_dir: &Path, opts: &ClassifierOptions) -> Result<Self> {
        opts.validate()?;
        let dev = device();
        let mut models = Vec::new();
        let emotion = match opts.emotion {
            Some(kind) => {
                let head = EmotionHead::load(models_dir, kind, &dev)?;
                models.push(ModelUse::from(kind.bundled()));
                Some((head, opts.emotion_margin.unwrap_or(kind.crop_margin())))
            }
            None => None,
        };
        Ok(Classifier {
            models,
            emotion,
            crops: Vec::new(),
        })
    }

    /// The models in use.
    pub fn models(&self) -> &[ModelUse] {
        &self.models
    }

    /// Scores for each face, in order.
    ///
    /// # Errors
    /// A network failed on this batch.
    pub fn classify(&mut self, frame: &Frame, faces: &[TrackedFace]) -> Result<Vec<Scores>> {
        let mut scores = vec![Scores::default(); faces.len()];
        if faces.is_empty() {
            return Ok(scores);
        }
        if let Some((head, margin)) = &self.emotion {
            let size = head.kind().input_size();
            self.crops.clear();
            for f in faces {
                let crop = square_crop(&f.bbox, *margin, frame.width, frame.height);
                self.crops.extend_from_slice(&crop_rgb(frame, crop, size));
            }
            let probs = head.predict(&self.crops, faces.len())?;
            for (s, p) in scores.iter_mut().zip(probs) {
                s.happy = Some(p[HAPPINESS]);
                s.emotions = Some(p);
            }
        }
        Ok(scores)
    }
}
