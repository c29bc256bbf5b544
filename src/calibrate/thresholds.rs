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
    /// sha256 of the weights file (`model.safetensors`) they were chosen for: thresholds
    /// belong to one set of weights, whatever its folder is called. Files written before
    /// facs recorded it lack it and are refused.
    #[serde(default)]
    pub weights_sha256: Option<String>,
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
    /// Thresholds in [`crate::frame::AU_NUMBERS`] order, chosen by `rule` on `faces` faces
    /// for the weights whose sha256 is `weights_sha256`.
    pub fn new(
        rule: String,
        thresholds: &[f32; NUM_AUS],
        faces: usize,
        weights_sha256: &str,
    ) -> Self {
        Thresholds {
            format: FORMAT.into(),
            rule,
            au_labels: au_names(),
            thresholds: thresholds.to_vec(),
            faces,
            weights_sha256: Some(weights_sha256.to_string()),
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
/// A thresholds file that cannot be read, has the wrong length, or was chosen for weights
/// other than those with sha256 `weights_sha256`.
pub fn load_thresholds(model_dir: &Path, weights_sha256: &str) -> Result<[f32; NUM_AUS]> {
    let path = model_dir.join(THRESHOLDS);
    if !path.is_file() {
        return Ok(DEFAULT_THRESHOLDS);
    }
    read_thresholds(&path, weights_sha256)
}

/// The thresholds the pipeline uses for a model: calibration/<model>.json when present (the
/// user may recalibrate it), else the copy beside the model, else 0.5 for every AU.
///
/// # Errors
/// A thresholds file that cannot be read, has the wrong length, or was chosen for weights
/// other than those with sha256 `weights_sha256` (e.g. another model in a folder of the
/// same name): the message says which weights it was made for.
pub fn load_thresholds_for(
    model_dir: &Path,
    calibration_dir: &Path,
    weights_sha256: &str,
) -> Result<([f32; NUM_AUS], ThresholdSource)> {
    let candidates = [
        calibration_file(model_dir, calibration_dir),
        model_dir.join(THRESHOLDS),
    ];
    for path in candidates {
        if path.is_file() {
            let t = read_thresholds(&path, weights_sha256)?;
            return Ok((t, ThresholdSource::File(path)));
        }
    }
    Ok((DEFAULT_THRESHOLDS, ThresholdSource::Default))
}

fn read_thresholds(path: &Path, weights_sha256: &str) -> Result<[f32; NUM_AUS]> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let t: Thresholds = serde_json::from_str(&text).map_err(|e| Error::json(path, e))?;
    let bad = |reason: String| Error::Calibration {
        path: path.to_path_buf(),
        reason,
    };
    if t.format != FORMAT {
        return Err(bad(format!("format {:?}, expected {FORMAT:?}", t.format)));
    }
    match t.weights_sha256.as_deref() {
        Some(s) if s == weights_sha256 => {}
        Some(s) => {
            return Err(bad(format!(
                "chosen for other weights (sha256 {}), not these ({}): another model, or one \
                 retrained since; remove the file or retrain to choose thresholds again",
                short(s),
                short(weights_sha256)
            )))
        }
        None => {
            return Err(bad(
                "does not say which weights it was chosen for (written by an older facs); \
                 retrain to choose thresholds again"
                    .into(),
            ))
        }
    }
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

/// The first 12 hex digits of a sha256, enough to tell files apart in a message.
fn short(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn thresholds_belong_to_one_set_of_weights() {
        let tmp = tempfile::tempdir().unwrap();
        let (model, cal) = (tmp.path().join("au-net"), tmp.path().join("calibration"));
        std::fs::create_dir_all(&model).unwrap();
        let mut t = DEFAULT_THRESHOLDS;
        t[6] = 0.3;
        let cal_file = calibration_file(&model, &cal);
        assert_eq!(cal_file, cal.join("au-net.json"));
        Thresholds::new("best-f1".into(), &t, 40, A)
            .save(&model, Some(&cal_file))
            .unwrap();
        let (got, from) = load_thresholds_for(&model, &cal, A).unwrap();
        assert_eq!((got, from), (t, ThresholdSource::File(cal_file.clone())));
        assert_eq!(load_thresholds(&model, A).unwrap(), t);
        // Another model in a folder of the same name: refused, naming both weights.
        let err = load_thresholds_for(&model, &cal, B)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("other weights")
                && err.contains("aaaaaaaaaaaa")
                && err.contains("bbbbbbbbbbbb"),
            "{err}"
        );
        assert!(load_thresholds(&model, B).is_err());
        // A file without the weights' sha256 (an older facs) is refused too.
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&cal_file).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("weights_sha256");
        std::fs::write(&cal_file, v.to_string()).unwrap();
        let err = load_thresholds_for(&model, &cal, A)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not say which weights"), "{err}");
        // No file at all: 0.5 for every AU, said so.
        let empty = tmp.path().join("empty");
        assert_eq!(
            load_thresholds_for(&empty, &cal, A).unwrap(),
            (DEFAULT_THRESHOLDS, ThresholdSource::Default)
        );
    }

    #[test]
    fn malformed_threshold_files_are_refused_with_their_path() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(THRESHOLDS);
        let good =
            serde_json::to_value(Thresholds::new("best-f1".into(), &DEFAULT_THRESHOLDS, 1, A))
                .unwrap();
        let cases: [(&str, serde_json::Value); 4] = [
            ("thresholds", serde_json::json!([0.5, 0.5])),
            ("thresholds", serde_json::json!(vec![1.5; 11])),
            ("au_labels", serde_json::json!(["AU01"])),
            ("format", serde_json::json!("something-else")),
        ];
        for (key, value) in cases {
            let mut v = good.clone();
            v[key] = value;
            std::fs::write(&path, v.to_string()).unwrap();
            let err = load_thresholds(tmp.path(), A).unwrap_err().to_string();
            assert!(err.contains("thresholds.json"), "{key}: {err}");
        }
        std::fs::write(&path, "{ not json").unwrap();
        assert!(load_thresholds(tmp.path(), A).is_err());
    }
}
