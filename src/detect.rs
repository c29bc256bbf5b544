//! Face detection with rustface (the only file that imports it): frame -> face boxes.

use std::io::Cursor;
use std::path::Path;

use crate::align::grey_scaled;
use crate::config::DetectConfig;
use crate::error::{Error, Result};
use crate::frame::{FaceBox, Frame};
use crate::model::{read_verified, SEETA_DETECTOR};

/// rustface's detector with facs's settings. Not `Send`: build it on the thread that uses it.
pub struct Detector {
    inner: Box<dyn rustface::Detector>,
    scale: f32,
    grey: Vec<u8>,
}

/// Maps rustface's unbounded score (about 2 at the default threshold, 5 to 30 for clear
/// faces) to a confidence in [0, 1): `1 - exp(-score / 5)`.
pub fn score_to_confidence(score: f64) -> f32 {
    (1.0 - (-score.max(0.0) / 5.0).exp()) as f32
}

impl Detector {
    /// Loads the SeetaFace model from `models_dir` (sha256 checked) and applies `cfg`.
    ///
    /// # Errors
    /// Invalid settings (checked before rustface sees them), a missing or altered model.
    pub fn new(models_dir: &Path, cfg: &DetectConfig) -> Result<Self> {
        cfg.validate()?;
        let bytes = read_verified(models_dir, &SEETA_DETECTOR)?;
        let model = rustface::read_model(Cursor::new(bytes)).map_err(|e| Error::Model {
            path: models_dir.join(SEETA_DETECTOR.file),
            reason: format!("not a SeetaFace model: {e}"),
        })?;
        let mut inner = rustface::create_detector_with_model(model);
        // Values validated above: these calls cannot panic.
        inner.set_min_face_size(20);
        inner.set_score_thresh(cfg.score_thresh);
        inner.set_pyramid_scale_factor(cfg.pyramid_scale);
        inner.set_slide_window_step(cfg.window_step, cfg.window_step);
        Ok(Detector {
            inner,
            scale: cfg.scale(),
            grey: Vec::new(),
        })
    }

    /// Finds the faces in a frame, in frame pixels, largest first.
    pub fn detect(&mut self, frame: &Frame) -> Vec<FaceBox> {
        let (w, h) = grey_scaled(frame, self.scale, &mut self.grey);
        if w < 20 || h < 20 {
            // Smaller than the detector's window: no face can be found (and rustface
            // would reject the image).
            return Vec::new();
        }
        let image = rustface::ImageData::new(&self.grey, w, h);
        let sx = frame.width as f32 / w as f32;
        let sy = frame.height as f32 / h as f32;
        let mut faces: Vec<FaceBox> = self
            .inner
            .detect(&image)
            .iter()
            .map(|f| {
                let b = f.bbox();
                FaceBox {
                    x: b.x() as f32 * sx,
                    y: b.y() as f32 * sy,
                    w: b.width() as f32 * sx,
                    h: b.height() as f32 * sy,
                    confidence: score_to_confidence(f.score()),
                }
            })
            .collect();
        faces.sort_by(|a, b| (b.w * b.h).total_cmp(&(a.w * a.h)));
        faces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_is_monotonic_and_bounded() {
        assert_eq!(score_to_confidence(-3.0), 0.0);
        assert!(score_to_confidence(2.0) < score_to_confidence(10.0));
        assert!(score_to_confidence(1e9) <= 1.0);
        // 1 - e^-1
        assert!((score_to_confidence(5.0) - 0.632_120_6).abs() < 1e-6);
    }

    #[test]
    fn bad_settings_are_refused_before_rustface() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
        let cfg = DetectConfig {
            min_face_px: 10,
            ..Default::default()
        };
        let err = Detector::new(&dir, &cfg).err().unwrap();
        assert!(err.to_string().contains("min_face_px 10"));
    }

    #[test]
    fn tiny_frames_have_no_faces_and_do_not_panic() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
        let mut d = Detector::new(&dir, &DetectConfig::default()).unwrap();
        let f = Frame::new(0, 0.0, 10, 10, vec![128; 300]).unwrap();
        assert!(d.detect(&f).is_empty());
    }
}
