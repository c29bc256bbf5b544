//! Calibration: neutral baselines for the geometric AU estimator (this file) and the per-AU
//! thresholds of a trained AU network ([`thresholds`]).
//!
//! Neutral baselines for the geometric AU estimator, per tracked face: from a calibration
//! file (`facs calibrate`), from the first seconds of each face (`--calibrate-secs`), from a
//! key press in the live window, or else the population default. Files live in
//! calibration/ and record the model they were made for, so a baseline is never applied to
//! measurements it does not describe.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::frame::{BaselineSource, Features, NUM_FEATURES};
use crate::geometry::{FEATURE_NAMES, POPULATION_NEUTRAL};
use crate::util::json::write_serialized;
use crate::weights::FACEAPI_LANDMARKS;

pub mod thresholds;

/// The AU estimator a baseline belongs to. Bump when the features change meaning.
pub const GEOMETRY_MODEL: &str = "facs-geometric-au-v4";
/// File format tag.
const FORMAT: &str = "facs-calibration";

/// A neutral baseline as stored in calibration/NAME.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationFile {
    pub format: String,
    pub facs_version: String,
    /// [`GEOMETRY_MODEL`] at the time of writing.
    pub model: String,
    /// sha256 of the landmark weights the features were measured with.
    pub landmark_sha256: String,
    pub feature_names: Vec<String>,
    pub neutral: Vec<f32>,
    /// Frames the median was taken over.
    pub frames: usize,
    /// Where the neutral face came from (clip path, face id).
    pub source: String,
    /// What looked wrong with the neutral face when it was measured ([`rest_warnings`]);
    /// repeated in the log's sidecar and the summary of every run that uses the file.
    /// Absent from files written before the check.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Lips apart beyond the population default's gap by this much (IOD units) is what AU25
/// scores as present (0.5) against a closed mouth.
const LIPS_APART_AT_REST: f32 = 0.08;

/// What a neutral face should not show, checked when it is measured: the scores of every
/// run that uses it are changes against it, so an open mouth measured as "neutral" turns a
/// laugh's open mouth into a small change (AU25, AU26 and the corner rise of AU12 read too
/// little) and its widening into a stretch (AU20). A person's brows and lip-corner height
/// at rest are anatomy and cannot be checked this way; lips apart can.
pub fn rest_warnings(neutral: &Features) -> Vec<String> {
    let gap = neutral.values[7];
    let closed = POPULATION_NEUTRAL.values[7];
    let mut v = Vec::new();
    if gap > closed + LIPS_APART_AT_REST {
        v.push(format!(
            "the lips are apart in this neutral face (gap {gap:.2} of the eye distance; a closed \
             mouth measures about {closed:.2}): the mouth AUs (AU12, AU20, AU25, AU26) are \
             measured against an open mouth; calibrate on frames with the face at rest and the \
             lips closed"
        ));
    }
    v
}

impl CalibrationFile {
    /// A new file for `neutral`, measured on `frames` frames of `source`.
    pub fn new(neutral: &Features, frames: usize, source: String) -> Self {
        CalibrationFile {
            format: FORMAT.into(),
            facs_version: env!("CARGO_PKG_VERSION").into(),
            model: GEOMETRY_MODEL.into(),
            landmark_sha256: FACEAPI_LANDMARKS.sha256.into(),
            feature_names: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            neutral: neutral.values.to_vec(),
            frames,
            source,
            warnings: rest_warnings(neutral),
        }
    }

    /// Writes the file as pretty JSON.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        write_serialized(path, self)
    }

    /// Reads and checks a file.
    ///
    /// # Errors
    /// [`Error::Calibration`] if the file was made for another model, landmark network or
    /// feature set, or is not a calibration file at all.
    pub fn load(path: &Path) -> Result<(Self, Features)> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let bad = |reason: String| Error::Calibration {
            path: path.into(),
            reason,
        };
        let file: CalibrationFile = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a facs calibration file: {e}")))?;
        if file.format != FORMAT {
            return Err(bad(format!(
                "format is \"{}\", expected \"{FORMAT}\"",
                file.format
            )));
        }
        if file.model != GEOMETRY_MODEL {
            return Err(bad(format!(
                "made for AU model \"{}\" (facs {}), this facs uses \"{GEOMETRY_MODEL}\": recalibrate with `facs calibrate`",
                file.model, file.facs_version
            )));
        }
        if file.landmark_sha256 != FACEAPI_LANDMARKS.sha256 {
            return Err(bad(format!(
                "made with landmark weights {} (facs {}), this facs uses {}: recalibrate with `facs calibrate`",
                file.landmark_sha256, file.facs_version, FACEAPI_LANDMARKS.sha256
            )));
        }
        if file.feature_names != FEATURE_NAMES {
            return Err(bad(
                "its features differ from this facs's: recalibrate with `facs calibrate`".into(),
            ));
        }
        let mut values = [0f32; NUM_FEATURES];
        if file.neutral.len() != values.len() || file.neutral.iter().any(|v| !v.is_finite()) {
            return Err(bad(format!(
                "expected {} finite neutral values",
                values.len()
            )));
        }
        values.copy_from_slice(&file.neutral);
        Ok((file, Features { values }))
    }
}

/// Resolves `--calibration NAME_OR_PATH`: an existing path, else calibration/NAME.json.
pub fn resolve(name_or_path: &str, calibration_dir: &Path) -> PathBuf {
    let p = PathBuf::from(name_or_path);
    if p.exists() || name_or_path.contains('/') || name_or_path.ends_with(".json") {
        p
    } else {
        calibration_dir.join(format!("{name_or_path}.json"))
    }
}

/// How baselines are chosen during a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CalibrationOptions {
    /// A baseline for every face, from a file.
    pub file: Option<PathBuf>,
    /// Take each face's first N seconds as its neutral baseline.
    pub calibrate_secs: Option<f64>,
}

/// Frames kept per face for a key-press calibration.
const RECENT: usize = 15;

#[derive(Debug, Default)]
struct FaceState {
    first_seen_s: Option<f64>,
    collected: Vec<Features>,
    recent: std::collections::VecDeque<Features>,
    baseline: Option<(Features, BaselineSource)>,
}

/// The baselines of every face in a run.
#[derive(Debug)]
pub struct Baselines {
    default: (Features, BaselineSource),
    calibrate_secs: Option<f64>,
    faces: HashMap<u32, FaceState>,
}

impl Baselines {
    /// # Errors
    /// The calibration file is unreadable or made for another model.
    pub fn new(opts: &CalibrationOptions) -> Result<Self> {
        let default = match &opts.file {
            Some(path) => {
                let (file, neutral) = CalibrationFile::load(path)?;
                let source = BaselineSource::File {
                    path: path.clone(),
                    warnings: file.warnings,
                };
                (neutral, source)
            }
            None => (POPULATION_NEUTRAL, BaselineSource::Population),
        };
        if let Some(s) = opts.calibrate_secs {
            if !(s > 0.0 && s.is_finite()) {
                return Err(Error::config("calibrate_secs", s, "> 0"));
            }
        }
        Ok(Baselines {
            default,
            calibrate_secs: opts.calibrate_secs,
            faces: HashMap::new(),
        })
    }

    /// Records a face's features at `timestamp_s` and returns the baseline to score it with.
    pub fn observe(
        &mut self,
        face_id: u32,
        timestamp_s: f64,
        f: &Features,
    ) -> (Features, BaselineSource) {
        let st = self.faces.entry(face_id).or_default();
        st.recent.push_back(*f);
        if st.recent.len() > RECENT {
            st.recent.pop_front();
        }
        if st.baseline.is_none() {
            if let Some(secs) = self.calibrate_secs {
                let start = *st.first_seen_s.get_or_insert(timestamp_s);
                if timestamp_s - start <= secs {
                    st.collected.push(*f);
                } else if let Some(m) = Features::median(&st.collected) {
                    let frames = st.collected.len();
                    st.baseline = Some((
                        m,
                        BaselineSource::Person {
                            frames,
                            how: "first seconds",
                            warnings: rest_warnings(&m),
                        },
                    ));
                }
            }
        }
        st.baseline.clone().unwrap_or_else(|| self.default.clone())
    }

    /// Takes each face's most recent frames as its neutral baseline (the `c` key).
    /// Returns how many faces were calibrated.
    pub fn calibrate_now(&mut self) -> usize {
        let mut n = 0;
        for st in self.faces.values_mut() {
            let recent: Vec<Features> = st.recent.iter().copied().collect();
            if let Some(m) = Features::median(&recent) {
                st.baseline = Some((
                    m,
                    BaselineSource::Person {
                        frames: recent.len(),
                        how: "key press",
                        warnings: rest_warnings(&m),
                    },
                ));
                n += 1;
            }
        }
        n
    }

    /// The baseline behind faces that have none of their own.
    pub fn default_source(&self) -> &BaselineSource {
        &self.default.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feats(v: f32) -> Features {
        Features {
            values: [v; NUM_FEATURES],
        }
    }

    #[test]
    fn file_round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alice.json");
        let f = CalibrationFile::new(&feats(0.5), 30, "clip.mp4 face 0".into());
        f.save(&path).unwrap();
        let (back, neutral) = CalibrationFile::load(&path).unwrap();
        assert_eq!(back, f);
        assert_eq!(neutral, feats(0.5));

        let mut other = f.clone();
        other.model = "facs-geometric-au-v1".into();
        other.facs_version = "0.0.1".into();
        other.save(&path).unwrap();
        let err = CalibrationFile::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("facs-geometric-au-v1")
                && err.contains("0.0.1")
                && err.contains("recalibrate"),
            "{err}"
        );

        let mut other = f.clone();
        other.landmark_sha256 = "00".into();
        other.save(&path).unwrap();
        assert!(CalibrationFile::load(&path)
            .unwrap_err()
            .to_string()
            .contains("landmark weights"));

        std::fs::write(&path, "{\"hello\": 1}").unwrap();
        assert!(CalibrationFile::load(&path)
            .unwrap_err()
            .to_string()
            .contains("not a facs calibration file"));
    }

    #[test]
    fn damaged_calibration_files_never_panic_and_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bob.json");
        CalibrationFile::new(&feats(0.5), 30, "clip.mp4 face 0".into())
            .save(&path)
            .unwrap();
        let good = std::fs::read(&path).unwrap();
        let mut rng = crate::util::rng::SplitMix64::new(5);
        for round in 0..2000 {
            let mut bytes = good.clone();
            if round % 2 == 0 {
                bytes.truncate(rng.below(bytes.len()));
            } else {
                for _ in 0..1 + rng.below(6) {
                    let i = rng.below(bytes.len());
                    bytes[i] = rng.below(256) as u8;
                }
            }
            std::fs::write(&path, &bytes).unwrap();
            match CalibrationFile::load(&path) {
                // A change that still reads as a valid file must give usable values.
                Ok((_, f)) => assert!(f.values.iter().all(|v| v.is_finite())),
                Err(e) => assert!(e.to_string().contains("bob.json"), "{e}"),
            }
        }
        // Loading writes nothing beside the file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn first_seconds_become_the_baseline_per_face() {
        let mut b = Baselines::new(&CalibrationOptions {
            file: None,
            calibrate_secs: Some(1.0),
        })
        .unwrap();
        // Face 7 appears at t=2: its own first second counts, not the run's.
        for (i, v) in [1.0, 3.0, 2.0].iter().enumerate() {
            let (_, src) = b.observe(7, 2.0 + i as f64 * 0.4, &feats(*v));
            assert_eq!(src, BaselineSource::Population);
        }
        let (base, src) = b.observe(7, 3.5, &feats(9.0));
        assert_eq!(base, feats(2.0));
        assert!(matches!(src, BaselineSource::Person { frames: 3, .. }));
        // Another face is still on the default.
        assert_eq!(b.observe(8, 3.5, &feats(1.0)).1, BaselineSource::Population);
    }

    #[test]
    fn key_press_takes_recent_frames() {
        let mut b = Baselines::new(&CalibrationOptions::default()).unwrap();
        for v in 0..20 {
            b.observe(1, v as f64, &feats(v as f32));
        }
        assert_eq!(b.calibrate_now(), 1);
        // Recent 15 frames are 5..=19: median 12.
        let (base, src) = b.observe(1, 21.0, &feats(0.0));
        assert_eq!(base, feats(12.0));
        assert!(matches!(src, BaselineSource::Person { frames: 15, .. }));
    }

    #[test]
    fn names_resolve_into_the_calibration_folder() {
        let dir = Path::new("calibration");
        assert_eq!(
            resolve("alice", dir),
            PathBuf::from("calibration/alice.json")
        );
        assert_eq!(resolve("x/alice.json", dir), PathBuf::from("x/alice.json"));
    }

    #[test]
    fn lips_apart_in_a_neutral_face_are_warned_about_and_a_closed_mouth_is_not() {
        let mut neutral = POPULATION_NEUTRAL;
        assert!(rest_warnings(&neutral).is_empty());
        neutral.values[7] += LIPS_APART_AT_REST - 0.01;
        assert!(rest_warnings(&neutral).is_empty());
        neutral.values[7] += 0.02;
        let w = rest_warnings(&neutral);
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("the lips are apart"), "{w:?}");
        // Written with the file, and read back from it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("open.json");
        CalibrationFile::new(&neutral, 5, "test".into())
            .save(&path)
            .unwrap();
        let (file, _) = CalibrationFile::load(&path).unwrap();
        assert_eq!(file.warnings, w);
        // A run that uses the file carries them on its default baseline.
        let run = Baselines::new(&CalibrationOptions {
            file: Some(path),
            calibrate_secs: None,
        })
        .unwrap();
        assert_eq!(run.default_source().warnings(), w.as_slice());
        // A face's own neutral, from its first seconds or the key, carries it too.
        let own_warnings = |src: BaselineSource| match src {
            BaselineSource::Person { warnings, .. } => warnings,
            other => panic!("{other:?}"),
        };
        let mut b = Baselines::new(&CalibrationOptions {
            file: None,
            calibrate_secs: Some(0.5),
        })
        .unwrap();
        b.observe(1, 0.0, &neutral);
        assert_eq!(own_warnings(b.observe(1, 1.0, &neutral).1), w);
        let mut b = Baselines::new(&CalibrationOptions::default()).unwrap();
        b.observe(2, 0.0, &POPULATION_NEUTRAL);
        assert_eq!(b.calibrate_now(), 1);
        assert!(own_warnings(b.observe(2, 1.0, &POPULATION_NEUTRAL).1).is_empty());
    }
}

/// The calibration folder: `$FACS_CALIBRATION`, else `./calibration`.
pub fn default_calibration_dir() -> PathBuf {
    std::env::var_os("FACS_CALIBRATION")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("calibration"))
}
