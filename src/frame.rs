//! What travels between the stages: frames, face boxes, per-face scores.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// EmotioNet's 11 manually annotated Action Units, in log column order.
pub const AU_NUMBERS: [u8; 11] = [1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26];
/// Number of AUs facs reports.
pub const NUM_AUS: usize = AU_NUMBERS.len();

/// The AUs' names as the logs and files write them ("AU01" ... "AU26"), in [`AU_NUMBERS`]
/// order.
pub fn au_names() -> Vec<String> {
    AU_NUMBERS.iter().map(|&a| au_name(a)).collect()
}

/// The FACS name of AU number `au` (Ekman, Friesen and Hager's FACS manual), e.g.
/// "lip corner puller" for 12; empty for an AU facs does not estimate.
pub fn au_description(au: u8) -> &'static str {
    match au {
        1 => "inner brow raiser",
        2 => "outer brow raiser",
        4 => "brow lowerer",
        5 => "upper lid raiser",
        6 => "cheek raiser",
        9 => "nose wrinkler",
        12 => "lip corner puller",
        17 => "chin raiser",
        20 => "lip stretcher",
        25 => "lips part",
        26 => "jaw drop",
        _ => "",
    }
}

/// `"AU01"`-style name of AU number `au`.
pub fn au_name(au: u8) -> String {
    format!("AU{au:02}")
}

/// The 7 emotion columns, in log column order (OpenFace/py-feat naming).
pub const EMOTIONS: [&str; 7] = [
    "anger",
    "disgust",
    "fear",
    "happiness",
    "sadness",
    "surprise",
    "neutral",
];
/// Index of happiness in [`EMOTIONS`].
pub const HAPPINESS: usize = 3;

/// One RGB frame (8 bits per channel, row-major, no padding).
#[derive(Clone, Debug)]
pub struct Frame {
    /// 0-based position in the input (the log's `frame` column is this + 1).
    pub index: u64,
    /// Seconds since the start of the input: from the video's frame rate, `--fps`, or the
    /// capture clock.
    pub timestamp_s: f64,
    pub width: u32,
    pub height: u32,
    /// Shared so that the overlay and the classifier read one copy.
    pub rgb: Arc<Vec<u8>>,
    /// When the frame entered the pipeline, for end-to-end latency.
    pub captured_at: Instant,
    /// The image file the frame was read from, by its name in the input folder (the log's
    /// `file` column); None for video, camera and synthetic frames.
    pub file: Option<Arc<str>>,
    /// One photo of a set of unrelated photos: analysed on its own, with nothing carried
    /// over from the frame before (no tracking: face ids start again at 0).
    pub independent: bool,
}

impl Frame {
    /// Builds a frame, checking that the buffer matches the size.
    pub fn new(
        index: u64,
        timestamp_s: f64,
        width: u32,
        height: u32,
        rgb: Vec<u8>,
    ) -> Option<Self> {
        (rgb.len() == width as usize * height as usize * 3 && width > 0 && height > 0).then(|| {
            Frame {
                index,
                timestamp_s,
                width,
                height,
                rgb: Arc::new(rgb),
                captured_at: Instant::now(),
                file: None,
                independent: false,
            }
        })
    }

    /// The RGB triple at (x, y); callers keep x, y in range.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// An axis-aligned face box in frame pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    /// Detector confidence in [0, 1].
    pub confidence: f32,
}

impl FaceBox {
    /// Intersection over union of two boxes, in [0, 1].
    pub fn iou(&self, other: &FaceBox) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.w).min(other.x + other.w);
        let y1 = (self.y + self.h).min(other.y + other.h);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.w * self.h + other.w * other.h - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// Centre of the box.
    pub fn centre(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }
}

/// A face with a stable id across frames.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackedFace {
    pub id: u32,
    pub bbox: FaceBox,
}

/// 68 (x, y) landmarks in the iBUG numbering (jaw 0-16, brows 17-26, nose 27-35, eyes
/// 36-47, mouth 48-67), in frame pixels unless said otherwise.
pub type Landmarks = [(f32, f32); 68];

/// Number of geometric measures in [`Features`].
pub const NUM_FEATURES: usize = 13;

/// Geometric measures of one face, in inter-ocular distance units (named and computed in
/// [`crate::geometry`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Features {
    pub values: [f32; NUM_FEATURES],
}

/// Head pose in radians: Rx pitch (positive: chin up, face tilted back), Ry yaw (positive:
/// nose turned towards the image's right), Rz roll (positive: clockwise in the image).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeadPose {
    pub rx: f32,
    pub ry: f32,
    pub rz: f32,
}

/// Where a face's baseline came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BaselineSource {
    /// The population default (`geometry::POPULATION_NEUTRAL`): nobody was calibrated.
    Population,
    /// A calibration file; `warnings` are those `facs calibrate` stored in it.
    File {
        path: PathBuf,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// This face's own frames, during the run; `warnings` says what looked wrong with the
    /// neutral face taken from them (`calibrate::rest_warnings`).
    Person {
        frames: usize,
        how: &'static str,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
}

impl BaselineSource {
    /// What looked wrong with the neutral face behind this baseline (lips apart): none for
    /// the population default.
    pub fn warnings(&self) -> &[String] {
        match self {
            BaselineSource::Population => &[],
            BaselineSource::File { warnings, .. } | BaselineSource::Person { warnings, .. } => {
                warnings
            }
        }
    }

    /// Short text for the overlay.
    pub fn label(&self) -> String {
        match self {
            BaselineSource::Population => "CAL: POPULATION DEFAULT".into(),
            BaselineSource::File { path, .. } => format!(
                "CAL: FILE {}",
                path.file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default()
            ),
            BaselineSource::Person { frames, .. } => format!("CAL: OWN NEUTRAL ({frames} FR)"),
        }
    }
}

/// What the models said about one face. `None` means no model produced it, and the log
/// leaves the column empty (never zero).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores {
    /// 68 landmarks in frame pixels.
    pub landmarks: Option<Landmarks>,
    /// Head pose from the landmarks.
    pub pose: Option<HeadPose>,
    /// Geometric measures from the landmarks.
    pub features: Option<Features>,
    /// The neutral baseline the geometric AU scores were measured against.
    pub baseline: Option<BaselineSource>,
    /// Probability per AU, in [`AU_NUMBERS`] order.
    pub au_prob: Option<[f32; NUM_AUS]>,
    /// Presence per AU after calibration thresholds.
    pub au_present: Option<[bool; NUM_AUS]>,
    /// What produced `au_prob` and `au_present` (`classify::AuSource::label`): "geometric"
    /// or a trained network's name and sha256 prefix. Shared, not copied, per face.
    pub au_source: Option<Arc<str>>,
    /// Probability that the face is happy.
    pub happy: Option<f32>,
    /// Emotion probabilities in [`EMOTIONS`] order; they sum to 1.
    pub emotions: Option<[f32; 7]>,
    /// The trained AU network's class activation maps for this face (None without one).
    pub au_cam: Option<Arc<AuCam>>,
}

/// Class activation maps of a trained AU network for one face, from the same forward pass
/// as its AU scores: at each cell of the last feature map, the AU head's weights dotted with
/// the channels there. A map's mean plus the head's bias is the AU's logit.
#[derive(Clone, Debug, PartialEq)]
pub struct AuCam {
    /// Cells per side of each map (7 on a face-api backbone).
    pub side: usize,
    /// [`NUM_AUS`] maps of `side` x `side` cells, row-major, in [`AU_NUMBERS`] order.
    pub maps: Vec<f32>,
    /// Frame pixels to map cells, a similarity stored as `[a, b, tx, ty]`:
    /// `x' = a x - b y + tx`, `y' = b x + a y + ty`; cell (i, j) covers [i, i + 1) x [j, j + 1).
    pub to_cell: [f32; 4],
}

impl AuCam {
    /// The map of the AU at `index` (in [`AU_NUMBERS`] order).
    pub fn map(&self, index: usize) -> Option<&[f32]> {
        let n = self.side * self.side;
        self.maps.get(index * n..(index + 1) * n)
    }

    /// Map-cell coordinates of frame point (`x`, `y`).
    pub fn cell_of(&self, x: f32, y: f32) -> (f32, f32) {
        let [a, b, tx, ty] = self.to_cell;
        (a * x - b * y + tx, b * x + a * y + ty)
    }
}

impl Scores {
    /// The most probable emotion and its probability.
    pub fn top_emotion(&self) -> Option<(&'static str, f32)> {
        let e = self.emotions?;
        let (i, p) = e.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        Some((EMOTIONS[i], *p))
    }
}

/// One face's full result.
#[derive(Clone, Debug)]
pub struct FaceResult {
    pub face: TrackedFace,
    pub scores: Scores,
}

/// Per-stage time spent on one frame, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTimes {
    pub capture_ms: f32,
    pub detect_ms: f32,
    pub classify_ms: f32,
}

/// A frame with its tracked faces, between detection and classification.
#[derive(Clone, Debug)]
pub struct Detected {
    pub frame: Frame,
    pub faces: Vec<TrackedFace>,
    /// Ids whose box was predicted from landmarks rather than found by the detector.
    pub predicted: Vec<u32>,
    pub times: StageTimes,
}

/// A fully analysed frame, ready for the sinks.
#[derive(Clone, Debug)]
pub struct Analysed {
    pub frame: Frame,
    pub faces: Vec<FaceResult>,
    pub times: StageTimes,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32, y: f32, w: f32, h: f32) -> FaceBox {
        FaceBox {
            x,
            y,
            w,
            h,
            confidence: 1.0,
        }
    }

    #[test]
    fn iou_of_identical_disjoint_and_half_overlapping_boxes() {
        assert_eq!(b(0.0, 0.0, 10.0, 10.0).iou(&b(0.0, 0.0, 10.0, 10.0)), 1.0);
        assert_eq!(b(0.0, 0.0, 10.0, 10.0).iou(&b(20.0, 0.0, 10.0, 10.0)), 0.0);
        // Shifted by half a width: intersection 50, union 150.
        let iou = b(0.0, 0.0, 10.0, 10.0).iou(&b(5.0, 0.0, 10.0, 10.0));
        assert!((iou - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn frame_rejects_wrong_buffer_size() {
        assert!(Frame::new(0, 0.0, 2, 2, vec![0; 12]).is_some());
        assert!(Frame::new(0, 0.0, 2, 2, vec![0; 11]).is_none());
        assert!(Frame::new(0, 0.0, 0, 2, vec![]).is_none());
    }

    #[test]
    fn top_emotion_picks_the_largest() {
        let s = Scores {
            emotions: Some([0.1, 0.0, 0.0, 0.6, 0.1, 0.1, 0.1]),
            ..Default::default()
        };
        assert_eq!(s.top_emotion().map(|t| t.0), Some("happiness"));
        assert_eq!(Scores::default().top_emotion(), None);
    }
}
