//! Per-AU decision thresholds of a trained AU network: chosen on validation data by
//! `facs train`, stored beside the model (`thresholds.json`) and in
//! `calibration/<model folder name>.json`, where a user may replace them. The pipeline and
//! `facs eval` read them back through [`load_thresholds_for`] / [`load_thresholds`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::frame::{au_names, NUM_AUS};
use crate::util::json::write_serialized;

/// Per-AU decision thresholds chosen on validation data, as stored in the model folder
/// (`thresholds.json`) and in calibration/<model name>.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub format: String,
    /// `best-f1` or `precision>=P`.
    pub rule: String,
    pub au_labels: Vec<String>,
    pub thresholds: Vec<f32>,
    /// Validation faces they were chosen on.
    pub faces: usize,
}

/// The threshold of an AU nobody has chosen one for.
pub const DEFAULT_THRESHOLD: f32 = 0.5;
/// [`DEFAULT_THRESHOLD`] for every AU.
pub const DEFAULT_THRESHOLDS: [f32; NUM_AUS] = [DEFAULT_THRESHOLD; NUM_AUS];

/// The thresholds file in a model folder.
pub const THRESHOLDS: &str = "thresholds.json";
/// `format` of a thresholds file.
const FORMAT: &str = "facs-au-thresholds";

impl Thresholds {
    /// Thresholds in [`crate::frame::AU_NUMBERS`] order, chosen by `rule` on `faces` faces.
    pub fn new(rule: String, thresholds: &[f32; NUM_AUS], faces: usize) -> Self {
        Thresholds {
            format: FORMAT.into(),
            rule,
            au_labels: au_names(),
            thresholds: thresholds.to_vec(),
            faces,
        }
    }

    /// Writes `model_dir/thresholds.json`, and the same to `calibration_file` when given
    /// (its folder is created).
    ///
    /// # Errors
    /// A file cannot be written.
    pub fn save(&self, model_dir: &Path, calibration_file: Option<&Path>) -> Result<()> {
        write_serialized(&model_dir.join(THRESHOLDS), self)?;
        if let Some(path) = calibration_file {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            write_serialized(path, self)?;
        }
        Ok(())
    }
}

/// Where a model's AU thresholds came from.
#[derive(Clone, Debug, PartialEq)]
pub enum ThresholdSource {
    File(PathBuf),
    /// No thresholds file: 0.5 for every AU.
    Default,
}

/// The one place a model's thresholds go in the calibration folder, for writing
/// (`facs train`) and reading (the pipeline): `<calibration_dir>/<model folder name>.json`.
/// A folder given as `.` or `..` is named by its absolute path's last part.
pub fn calibration_file(model_dir: &Path, calibration_dir: &Path) -> PathBuf {
    let name = model_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .or_else(|| {
            std::fs::canonicalize(model_dir)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
        })
        .unwrap_or_else(|| "model".into());
    calibration_dir.join(format!("{name}.json"))
}

/// The thresholds stored beside a model, or 0.5 for every AU when there are none.
///
/// # Errors
/// A thresholds file that cannot be read or has the wrong length.
pub fn load_thresholds(model_dir: &Path) -> Result<[f32; NUM_AUS]> {
    let path = model_dir.join(THRESHOLDS);
    if !path.is_file() {
        return Ok(DEFAULT_THRESHOLDS);
    }
    read_thresholds(&path)
}

/// The thresholds the pipeline uses for a model: calibration/<model>.json when present (the
/// user may recalibrate it), else the copy beside the model, else 0.5 for every AU.
///
/// # Errors
/// A thresholds file that cannot be read or has the wrong length.
pub fn load_thresholds_for(
    model_dir: &Path,
    calibration_dir: &Path,
) -> Result<([f32; NUM_AUS], ThresholdSource)> {
    let candidates = [
        calibration_file(model_dir, calibration_dir),
        model_dir.join(THRESHOLDS),
    ];
    for path in candidates {
        if path.is_file() {
            return Ok((read_thresholds(&path)?, ThresholdSource::File(path)));
        }
    }
    Ok((DEFAULT_THRESHOLDS, ThresholdSource::Default))
}

fn read_thresholds(path: &Path) -> Result<[f32; NUM_AUS]> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let t: Thresholds = serde_json::from_str(&text).map_err(|e| Error::json(path, e))?;
    let bad = |reason: String| Error::Calibration {
        path: path.to_path_buf(),
        reason,
    };
    let expected = au_names();
    if t.au_labels != expected {
        return Err(bad(format!(
            "AU labels {}, expected {}",
            t.au_labels.join(", "),
            expected.join(", ")
        )));
    }
    if let Some(v) = t.thresholds.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        return Err(bad(format!("threshold {v} outside [0, 1]")));
    }
    t.thresholds
        .try_into()
        .map_err(|v: Vec<f32>| bad(format!("{} thresholds, expected {NUM_AUS}", v.len())))
}
