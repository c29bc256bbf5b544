//! Face detection with rustface (the only file that imports it): frame -> face boxes.

use std::io::Cursor;
use std::path::Path;

use crate::align::{grey_scaled_region, CropBox};
use crate::config::{DetectConfig, DETECTOR_WINDOW_PX};
use crate::error::{Error, Result};
use crate::frame::{FaceBox, Frame};
use crate::weights::{read_verified, SEETA_DETECTOR};

/// rustface's detector with facs's settings. Not `Send`: build it on the thread that uses it.
pub struct Detector {
    inner: Box<dyn rustface::Detector>,
    scale: f32,
    grey: Vec<u8>,
}

/// How far (a fraction of the box's size, on each side) the flat patch over a known face
/// reaches past its box in [`Detector::detect_large`]: far enough that the windows that
/// overlap the face's edge find nothing.
pub const KNOWN_FACE_MASK_MARGIN: f32 = 0.1;

/// The grey level known faces are painted with.
const MASK_GREY: u8 = 128;

/// Size (pixels, after scaling) a tracked face is given in a search around it: a little above
/// the detector's 40 px window, so that it is still found as it grows or turns.
const TRACKED_FACE_PX: f32 = 56.0;

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
        self.detect_region(
            frame,
            CropBox {
                x: 0,
                y: 0,
                side: 0,
            },
            true,
            self.scale,
            &[],
        )
    }

    /// Finds the faces of at least `min_face_px` pixels in the whole frame, on the frame
    /// scaled down so that such a face fills the detector's window: a cheap search for
    /// large faces (120 px faces on a frame a third of its size). Never searches a larger image
    /// than [`Detector::detect`] does.
    ///
    /// The areas of `known` faces (each box grown by [`KNOWN_FACE_MASK_MARGIN`] on every
    /// side) are painted flat grey first, so that the search finds only the faces that are
    /// not known yet: most of a search's time goes to the candidate windows on a face (on the
    /// bundled clips 7.9 and 10.3 ms with the face there, 2.3 and 1.9 ms with it painted out).
    pub fn detect_large(
        &mut self,
        frame: &Frame,
        min_face_px: u32,
        known: &[FaceBox],
    ) -> Vec<FaceBox> {
        let scale = DETECTOR_WINDOW_PX as f32 / min_face_px.max(1) as f32;
        self.detect_region(
            frame,
            CropBox {
                x: 0,
                y: 0,
                side: 0,
            },
            true,
            scale.min(self.scale),
            known,
        )
    }

    /// Finds a face of about `face_px` pixels inside the square `region` of the frame: a
    /// cheap search around a face tracked in an earlier frame. The region is scaled so that
    /// such a face is just above the detector's 40 px window, which leaves few pyramid levels.
    pub fn detect_in(&mut self, frame: &Frame, region: CropBox, face_px: f32) -> Vec<FaceBox> {
        let scale = (TRACKED_FACE_PX / face_px.max(1.0)).min(self.scale.max(1.0));
        self.detect_region(frame, region, false, scale, &[])
    }

    fn detect_region(
        &mut self,
        frame: &Frame,
        region: CropBox,
        whole: bool,
        scale: f32,
        masks: &[FaceBox],
    ) -> Vec<FaceBox> {
        let (rx, ry, rw, rh) = if whole {
            (0, 0, frame.width, frame.height)
        } else {
            (
                region.x,
                region.y,
                region.side.min(frame.width - region.x),
                region.side.min(frame.height - region.y),
            )
        };
        let (w, h) = grey_scaled_region(frame, (rx, ry, rw, rh), scale, &mut self.grey);
        if w < 20 || h < 20 {
            // Smaller than the detector's window: no face can be found (and rustface
            // would reject the image).
            return Vec::new();
        }
        let sx = rw as f32 / w as f32;
        let sy = rh as f32 / h as f32;
        for m in masks {
            let (gx, gy) = (m.w * KNOWN_FACE_MASK_MARGIN, m.h * KNOWN_FACE_MASK_MARGIN);
            // Frame pixels to the searched image's, clamped to it.
            let to_x = |x: f32| (((x - rx as f32) / sx).round().max(0.0) as usize).min(w as usize);
            let to_y = |y: f32| (((y - ry as f32) / sy).round().max(0.0) as usize).min(h as usize);
            let (x0, x1) = (to_x(m.x - gx), to_x(m.x + m.w + gx));
            for y in to_y(m.y - gy)..to_y(m.y + m.h + gy) {
                let row = y * w as usize;
                if let Some(run) = self.grey.get_mut(row + x0..row + x1) {
                    run.fill(MASK_GREY);
                }
            }
        }
        let image = rustface::ImageData::new(&self.grey, w, h);
        let mut faces: Vec<FaceBox> = self
            .inner
            .detect(&image)
            .iter()
            .map(|f| {
                let b = f.bbox();
                FaceBox {
                    x: rx as f32 + b.x() as f32 * sx,
                    y: ry as f32 + b.y() as f32 * sy,
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
