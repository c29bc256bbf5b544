//! Settings for every stage, with presets and a `validate()` that runs before anything is
//! built (rustface panics on some values; we refuse them with a message instead).

use crate::error::{Error, Result};

/// Face detection settings (stored in a log's sidecar as a JSON object).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DetectConfig {
    /// Smallest face, in frame pixels, that must be found. rustface 0.1.7 ignores its own
    /// minimum-face setting (its window is fixed at 40 px), so facs scales the frame by
    /// `40 / min_face_px` before detection: larger values are faster.
    pub min_face_px: u32,
    /// rustface score threshold; lower finds more faces and more false ones.
    pub score_thresh: f64,
    /// Ratio between image pyramid levels, in (0.01, 0.99).
    #[serde(serialize_with = "f32_as_written")]
    pub pyramid_scale: f32,
    /// Sliding window step in pixels (of the scaled image).
    pub window_step: u32,
    /// Search the whole frame every N frames; in between, search only around the faces
    /// tracked so far (and, offline, the whole frame scaled down: `large_face_px`). 1 =
    /// always the whole frame at full size.
    pub full_every: u32,
    /// Offline, between whole-frame searches: the whole frame is also searched scaled down
    /// so that a face of this many pixels fills the detector's window, so that a new face
    /// at least this large is found on the frame it appears (a smaller one at the next
    /// whole-frame search). Used when at least twice `min_face_px` (below that it would
    /// cost about as much as the search it stands in for); 0: never.
    pub large_face_px: u32,
}

/// An `f32` setting as its shortest decimal (0.8, not the 0.800000011920929 that widening
/// it to the f64 of a JSON number would give).
fn f32_as_written<S: serde::Serializer>(v: &f32, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(v.to_string().parse().unwrap_or(f64::from(*v)))
}

/// rustface's fixed detection window: the smallest face it finds in the image it is given.
pub const DETECTOR_WINDOW_PX: u32 = 40;

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            min_face_px: 40,
            score_thresh: 2.0,
            pyramid_scale: 0.8,
            window_step: 4,
            full_every: 10,
            large_face_px: 120,
        }
    }
}

impl DetectConfig {
    /// Settings for live use: faces of 80 px and up (a person at a desk in a 640x480 frame),
    /// detection on a half-size image, the whole frame searched every 10th frame (a third
    /// of a second at 30 fps) on a worker thread, and known faces followed by boxes
    /// predicted from their landmarks in between (no scaled-down search).
    pub fn low_latency() -> Self {
        DetectConfig {
            min_face_px: 80,
            full_every: 10,
            large_face_px: 0,
            ..Default::default()
        }
    }

    /// Every frame searched whole at full size (`--full-every 1`): the slowest setting,
    /// and the reference the default is checked against.
    pub fn exhaustive() -> Self {
        DetectConfig {
            full_every: 1,
            ..Default::default()
        }
    }

    /// The smallest face the scaled-down search between whole-frame searches finds, when
    /// that search runs (see `large_face_px`).
    pub fn large_face_search(&self) -> Option<u32> {
        (self.full_every > 1
            && self.large_face_px > 0
            && self.large_face_px >= 2 * self.min_face_px)
            .then_some(self.large_face_px)
    }

    /// Factor applied to the frame before detection.
    pub fn scale(&self) -> f32 {
        DETECTOR_WINDOW_PX as f32 / self.min_face_px as f32
    }

    /// Checks every value against what rustface accepts.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the setting and the expected range.
    pub fn validate(&self) -> Result<()> {
        if self.min_face_px < 20 {
            return Err(Error::config("min_face_px", self.min_face_px, ">= 20"));
        }
        if self.min_face_px > 4000 {
            return Err(Error::config("min_face_px", self.min_face_px, "<= 4000"));
        }
        if !(self.score_thresh > 0.0 && self.score_thresh.is_finite()) {
            return Err(Error::config("score_thresh", self.score_thresh, "> 0"));
        }
        if !(self.pyramid_scale > 0.01 && self.pyramid_scale < 0.99) {
            return Err(Error::config(
                "pyramid_scale",
                self.pyramid_scale,
                "between 0.01 and 0.99",
            ));
        }
        if self.window_step == 0 || self.window_step > 40 {
            return Err(Error::config("window_step", self.window_step, "1..=40"));
        }
        if self.full_every == 0 {
            return Err(Error::config("full_every", self.full_every, ">= 1"));
        }
        if self.large_face_px != 0 && !(20..=4000).contains(&self.large_face_px) {
            return Err(Error::config(
                "large_face_px",
                self.large_face_px,
                "0 (off) or 20..=4000",
            ));
        }
        Ok(())
    }
}

/// Face tracking settings (stored in a log's sidecar as a JSON object).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TrackConfig {
    /// Minimum IoU between a track's last box and a new detection to be the same face.
    #[serde(serialize_with = "f32_as_written")]
    pub min_iou: f32,
    /// Frames a track survives without a matching detection.
    pub max_missed: u32,
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig {
            min_iou: 0.3,
            max_missed: 10,
        }
    }
}

impl TrackConfig {
    /// # Errors
    /// [`Error::InvalidConfig`] for an IoU outside (0, 1].
    pub fn validate(&self) -> Result<()> {
        if !(self.min_iou > 0.0 && self.min_iou <= 1.0) {
            return Err(Error::config("min_iou", self.min_iou, "in (0, 1]"));
        }
        Ok(())
    }
}

/// When a tracked face whose pixels have not changed, other than by a shift, reuses its
/// networks' outputs (`still.rs`; stored in a log's sidecar as a JSON object).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct StillConfig {
    /// The most frames in a row a face's outputs are reused before its networks run again;
    /// 0: never reused, every face's networks run on every frame.
    pub max_reuse: u32,
    /// The largest change that counts as still: the mean absolute difference of the face
    /// patch's cell means from those its networks last saw, at the best shift, over that
    /// patch's own mean absolute deviation (its contrast).
    #[serde(serialize_with = "f32_as_written")]
    pub max_change: f32,
}

impl StillConfig {
    /// Every face's networks run on every frame (offline: each row of the log is the
    /// networks' own answer for that frame). The threshold is live's, for a run that
    /// turns reuse on (`--still-reuse N`).
    pub const OFF: StillConfig = StillConfig {
        max_reuse: 0,
        ..StillConfig::LIVE
    };

    /// Live: a still face's outputs serve at most 3 frames in a row (100 ms at 30 fps)
    /// when its patch changed by at most 5% of its contrast. On the bundled clips, 41% of
    /// frame pairs up to 6 apart pass, and the reused landmarks are nearer the network's
    /// own than the network's own are to those of the frame before (BENCHMARKS.md).
    pub const LIVE: StillConfig = StillConfig {
        max_reuse: 3,
        max_change: 0.05,
    };

    /// # Errors
    /// [`Error::InvalidConfig`] for a `max_change` outside [0, 1].
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.max_change) {
            return Err(Error::config(
                "still max_change",
                self.max_change,
                "in [0, 1]",
            ));
        }
        Ok(())
    }
}

/// Whether frames may be dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Camera or demo: keep latency low, drop the oldest frame when a stage is behind.
    Live,
    /// Recorded footage: every frame reaches the log; stages wait for each other.
    Offline,
}

/// Settings for a whole pipeline run.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    pub mode: Mode,
    pub detect: DetectConfig,
    pub track: TrackConfig,
    /// When still faces reuse their networks' outputs.
    pub still: StillConfig,
    /// Capacity of each channel between stages.
    pub queue_len: usize,
    /// Stop after this many frames (None: until the source ends).
    pub max_frames: Option<u64>,
}

impl PipelineConfig {
    /// Offline defaults: faces of 40 px and up, nothing dropped; the whole frame searched
    /// at full size every 10th frame, and in between at a third of its size for faces of
    /// 120 px and up, and around known faces.
    pub fn offline() -> Self {
        PipelineConfig {
            mode: Mode::Offline,
            detect: DetectConfig::default(),
            track: TrackConfig::default(),
            still: StillConfig::OFF,
            queue_len: 4,
            max_frames: None,
        }
    }

    /// Live defaults: faster detection, still faces' outputs reused, shallow queues,
    /// drop-oldest.
    pub fn live() -> Self {
        PipelineConfig {
            mode: Mode::Live,
            detect: DetectConfig::low_latency(),
            track: TrackConfig::default(),
            still: StillConfig::LIVE,
            queue_len: 2,
            max_frames: None,
        }
    }

    /// # Errors
    /// The first invalid setting found.
    pub fn validate(&self) -> Result<()> {
        self.detect.validate()?;
        self.track.validate()?;
        self.still.validate()?;
        if self.queue_len == 0 {
            return Err(Error::config("queue_len", 0, ">= 1"));
        }
        if self.max_frames == Some(0) {
            return Err(Error::config("max_frames", 0, ">= 1"));
        }
        Ok(())
    }
}

/// Parses `WIDTHxHEIGHT`, e.g. `640x480`.
///
/// # Errors
/// [`Error::InvalidConfig`] if the text is not two positive integers joined by `x`.
pub fn parse_size(text: &str) -> Result<(u32, u32)> {
    let bad = || Error::config("size", text, "WIDTHxHEIGHT, e.g. 640x480, each 16..=7680");
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(16..=7680).contains(&w) || !(16..=7680).contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_presets_are_valid() {
        PipelineConfig::offline().validate().unwrap();
        PipelineConfig::live().validate().unwrap();
    }

    #[test]
    fn values_that_would_panic_rustface_are_refused() {
        let mut d = DetectConfig::default();
        d.min_face_px = 12;
        let msg = d.validate().unwrap_err().to_string();
        assert_eq!(msg, "invalid min_face_px 12 (expected >= 20)");
        let d = DetectConfig {
            score_thresh: 0.0,
            ..Default::default()
        };
        assert!(d.validate().is_err());
        let d = DetectConfig {
            pyramid_scale: 1.0,
            ..Default::default()
        };
        assert!(d.validate().is_err());
        let d = DetectConfig {
            window_step: 0,
            ..Default::default()
        };
        assert!(d.validate().is_err());
    }

    #[test]
    fn zero_max_frames_is_refused() {
        let mut c = PipelineConfig::offline();
        c.max_frames = Some(0);
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid max_frames 0 (expected >= 1)"
        );
    }

    #[test]
    fn settings_serialise_as_json_objects() {
        let v = serde_json::to_value(DetectConfig::default()).unwrap();
        assert_eq!(v["min_face_px"], 40);
        assert_eq!(v["full_every"], 10);
        assert_eq!(v["large_face_px"], 120);
        assert_eq!(v["pyramid_scale"], 0.8);
        let v = serde_json::to_value(TrackConfig::default()).unwrap();
        assert_eq!(v["max_missed"], 10);
        let v = serde_json::to_value(StillConfig::LIVE).unwrap();
        assert_eq!(v["max_reuse"], 3);
        assert_eq!(v["max_change"], 0.05);
    }

    #[test]
    fn still_faces_are_reused_live_only_and_bad_changes_are_refused() {
        assert_eq!(PipelineConfig::offline().still.max_reuse, 0);
        assert!(PipelineConfig::live().still.max_reuse > 0);
        let mut c = PipelineConfig::live();
        c.still.max_change = 1.5;
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid still max_change 1.5 (expected in [0, 1])"
        );
    }

    #[test]
    fn the_large_face_search_runs_only_where_it_saves_time() {
        assert_eq!(DetectConfig::default().large_face_search(), Some(120));
        // Every frame searched whole anyway; live follows landmarks instead.
        assert_eq!(DetectConfig::exhaustive().large_face_search(), None);
        assert_eq!(DetectConfig::low_latency().large_face_search(), None);
        // 120 px faces on a frame searched for 100 px ones: no cheaper than the real search.
        let d = DetectConfig {
            min_face_px: 61,
            ..Default::default()
        };
        assert_eq!(d.large_face_search(), None);
        let d = DetectConfig {
            large_face_px: 5,
            ..Default::default()
        };
        assert!(d
            .validate()
            .unwrap_err()
            .to_string()
            .contains("large_face_px 5"));
    }

    #[test]
    fn scale_follows_min_face() {
        // The detector window is 40 px, so an 80 px minimum face halves the frame.
        assert_eq!(DetectConfig::low_latency().scale(), 0.5);
        assert_eq!(DetectConfig::default().scale(), 1.0);
    }

    #[test]
    fn sizes_parse_or_explain() {
        assert_eq!(parse_size("640x480").unwrap(), (640, 480));
        assert_eq!(parse_size("1280X720").unwrap(), (1280, 720));
        for bad in ["640", "x480", "640x", "axb", "0x0", "640x480x3", "99999x10"] {
            let err = parse_size(bad).unwrap_err().to_string();
            assert!(err.contains("WIDTHxHEIGHT"), "{bad}: {err}");
        }
    }
}
