//! Faces for training and evaluation, prepared exactly as the live pipeline prepares them:
//! the pipeline's detector finds the largest face, the landmark network places it, and the
//! crop is aligned to the 5-point template (a box crop when landmarks fail). Crops are
//! cached as PNG so later epochs and runs skip detection.

use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::Serialize;

use super::dataset::Sample;
use crate::align::{aligned_crop, crop_rgb, square_crop};
use crate::config::DetectConfig;
use crate::detect::Detector;
use crate::error::{Error, Result};
use crate::frame::{Frame, NUM_AUS};
use crate::model::landmarks::LandmarkNet;
use crate::source::load_rgb;

/// How much of the surroundings an aligned training crop shows (see [`aligned_crop`]).
pub const ALIGN_ZOOM: f32 = 1.15;

/// Crops and labels ready for the network.
#[derive(Debug, Default)]
pub struct Prepared {
    pub side: u32,
    /// `side * side * 3` bytes per sample, RGB.
    pub crops: Vec<u8>,
    pub labels: Vec<[Option<bool>; NUM_AUS]>,
    pub emotions: Vec<Option<usize>>,
    pub paths: Vec<PathBuf>,
    /// What could not be used, for the report.
    pub skipped: PrepareReport,
}

/// Images that produced no training sample, and why.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PrepareReport {
    pub no_face: Vec<PathBuf>,
    pub unreadable: Vec<(PathBuf, String)>,
    pub from_cache: usize,
}

impl Prepared {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The crop of sample `i`.
    pub fn crop(&self, i: usize) -> &[u8] {
        let n = (self.side * self.side * 3) as usize;
        &self.crops[i * n..(i + 1) * n]
    }
}

/// The face crop of one image, as the pipeline would make it.
pub struct FacePreparer {
    detector: Detector,
    landmarks: LandmarkNet,
    side: u32,
    scratch: Vec<u8>,
}

impl FacePreparer {
    /// # Errors
    /// The detector or landmark weights cannot be loaded.
    pub fn new(models_dir: &Path, side: u32) -> Result<Self> {
        Ok(FacePreparer {
            detector: Detector::new(models_dir, &DetectConfig::default())?,
            landmarks: LandmarkNet::load(models_dir, &Device::Cpu)?,
            side,
            scratch: Vec::new(),
        })
    }

    /// The aligned crop of the largest face in `frame`, or None without a face.
    ///
    /// # Errors
    /// The landmark network failed.
    pub fn crop_frame(&mut self, frame: &Frame) -> Result<Option<Vec<u8>>> {
        let Some(face) = self.detector.detect(frame).first().copied() else {
            return Ok(None);
        };
        let marks = self.landmarks.detect(frame, &[face], &mut self.scratch)?;
        let aligned = marks[0].and_then(|pts| aligned_crop(frame, &pts, self.side, ALIGN_ZOOM));
        Ok(Some(aligned.unwrap_or_else(|| {
            crop_rgb(
                frame,
                square_crop(&face, 0.1, frame.width, frame.height),
                self.side,
            )
        })))
    }
}

/// A stable cache file name for an image path and crop size (FNV-1a of the path).
fn cache_name(path: &Path, side: u32) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.to_string_lossy().bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}_{side}")
}

/// Prepares every sample: cached crop, or detection + landmarks + alignment (then cached).
/// Images that cannot be read or show no face are listed, not fatal.
///
/// # Errors
/// Models cannot be loaded, or the cache folder cannot be written.
pub fn prepare(
    samples: &[Sample],
    models_dir: &Path,
    side: u32,
    cache: Option<&Path>,
) -> Result<Prepared> {
    let mut out = Prepared {
        side,
        ..Default::default()
    };
    if let Some(dir) = cache {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut preparer: Option<FacePreparer> = None;
    for s in samples {
        let cached = cache.map(|d| d.join(cache_name(&s.path, side)));
        let crop = match cached
            .as_ref()
            .filter(|p| p.with_extension("png").is_file())
        {
            Some(p) => {
                out.skipped.from_cache += 1;
                load_rgb(&p.with_extension("png"))
                    .ok()
                    .map(|(_, _, rgb)| rgb)
            }
            None if cached
                .as_ref()
                .is_some_and(|p| p.with_extension("noface").is_file()) =>
            {
                None
            }
            None => {
                let (w, h, rgb) = match load_rgb(&s.path) {
                    Ok(v) => v,
                    Err(e) => {
                        out.skipped.unreadable.push((s.path.clone(), e.to_string()));
                        continue;
                    }
                };
                let Some(frame) = Frame::new(0, 0.0, w, h, rgb) else {
                    out.skipped
                        .unreadable
                        .push((s.path.clone(), "empty image".into()));
                    continue;
                };
                let p = match preparer.as_mut() {
                    Some(p) => p,
                    None => preparer.insert(FacePreparer::new(models_dir, side)?),
                };
                let crop = p.crop_frame(&frame)?;
                if let Some(c) = &cached {
                    match &crop {
                        Some(rgb) => image::save_buffer(
                            c.with_extension("png"),
                            rgb,
                            side,
                            side,
                            image::ColorType::Rgb8,
                        )
                        .map_err(|e| Error::Image {
                            path: c.with_extension("png"),
                            reason: e.to_string(),
                        })?,
                        None => std::fs::write(c.with_extension("noface"), b"")
                            .map_err(|e| Error::io(c, e))?,
                    }
                }
                crop
            }
        };
        match crop.filter(|c| c.len() == (side * side * 3) as usize) {
            Some(c) => {
                out.crops.extend_from_slice(&c);
                out.labels.push(s.aus);
                out.emotions.push(s.emotion);
                out.paths.push(s.path.clone());
            }
            None => out.skipped.no_face.push(s.path.clone()),
        }
    }
    Ok(out)
}
