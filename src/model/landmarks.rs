//! The 68-point landmark network (face-api's, ported in [`super::faceapi`]) applied to
//! detected faces: square crop around the box, 112x112 RGB in, 68 points in frame pixels out.
//! Point numbering is the usual iBUG 68 scheme (jaw 0-16, brows 17-26, nose 27-35,
//! eyes 36-47, mouth 48-67).

use std::path::Path;

use candle_core::Device;

use super::faceapi::{FaceApiNet, INPUT};
use super::{read_verified, FACEAPI_LANDMARKS};
use crate::align::{crop_rgb, square_crop};
use crate::error::{Error, Result};
use crate::frame::{FaceBox, Frame, Landmarks};

/// Margin (fraction of the box side added on each side) of the crop given to the network.
/// SeetaFace's boxes are tighter than the detector face-api was trained with; 0.15 puts the
/// whole jaw line inside the crop (checked by eye on the bundled clips, and by
/// `tests/landmarks.rs` on labelled points).
pub const CROP_MARGIN: f32 = 0.15;

/// Faces smaller than this (box side, pixels) get no landmarks: too few pixels for 68 points.
pub const MIN_FACE_PX: f32 = 32.0;

/// The loaded landmark network.
pub struct LandmarkNet {
    net: FaceApiNet,
}

impl LandmarkNet {
    /// Loads models/face_landmark_68.safetensors (sha256 checked).
    ///
    /// # Errors
    /// Missing or altered file; a tensor missing or of the wrong shape (named).
    pub fn load(models_dir: &Path, device: &Device) -> Result<Self> {
        let bytes = read_verified(models_dir, &FACEAPI_LANDMARKS)?;
        let net = FaceApiNet::from_bytes(bytes, 136, device).map_err(|e| Error::Model {
            path: models_dir.join(FACEAPI_LANDMARKS.file),
            reason: e.to_string(),
        })?;
        Ok(LandmarkNet { net })
    }

    /// Landmarks for each face (None for faces below [`MIN_FACE_PX`]), one batch.
    ///
    /// # Errors
    /// A tensor operation failed.
    pub fn detect(
        &self,
        frame: &Frame,
        faces: &[FaceBox],
        crops: &mut Vec<u8>,
    ) -> Result<Vec<Option<Landmarks>>> {
        crops.clear();
        let mut boxes = Vec::new();
        for f in faces {
            if f.w.min(f.h) < MIN_FACE_PX {
                boxes.push(None);
                continue;
            }
            let c = square_crop(f, CROP_MARGIN, frame.width, frame.height);
            crops.extend_from_slice(&crop_rgb(frame, c, INPUT));
            boxes.push(Some(c));
        }
        let n = boxes.iter().flatten().count();
        if n == 0 {
            return Ok(vec![None; faces.len()]);
        }
        let mut outputs = self.net.forward(crops, n)?.into_iter();
        Ok(boxes
            .into_iter()
            .map(|b| {
                let c = b?;
                let raw = outputs.next()?;
                let mut pts = [(0f32, 0f32); 68];
                for (i, p) in pts.iter_mut().enumerate() {
                    *p = (
                        c.x as f32 + raw[2 * i] * c.side as f32,
                        c.y as f32 + raw[2 * i + 1] * c.side as f32,
                    );
                }
                Some(pts)
            })
            .collect())
    }
}
