//! Stable face ids across frames: greedy IoU association between the previous boxes of live
//! tracks and this frame's detections.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::TrackConfig;
use crate::frame::Landmarks;
use crate::frame::{FaceBox, TrackedFace};
use crate::geometry::eye_centres;

#[derive(Clone, Debug)]
struct Track {
    id: u32,
    bbox: FaceBox,
    missed: u32,
}

/// Assigns ids to detections; ids start at 0 and are never reused within a run, unless
/// [`Tracker::forget`] starts the count again (the next photo of a set).
#[derive(Debug)]
pub struct Tracker {
    cfg: TrackConfig,
    tracks: Vec<Track>,
    next_id: u32,
}

impl Tracker {
    pub fn new(cfg: TrackConfig) -> Self {
        Tracker {
            cfg,
            tracks: Vec::new(),
            next_id: 0,
        }
    }

    /// Matches `detections` to tracks and returns them with ids, in detection order.
    pub fn update(&mut self, detections: &[FaceBox]) -> Vec<TrackedFace> {
        // All (track, detection) pairs above the IoU floor, best first.
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, t) in self.tracks.iter().enumerate() {
            for (di, d) in detections.iter().enumerate() {
                let iou = t.bbox.iou(d);
                if iou >= self.cfg.min_iou {
                    pairs.push((iou, ti, di));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut det_id: Vec<Option<u32>> = vec![None; detections.len()];
        let mut track_used = vec![false; self.tracks.len()];
        for (_, ti, di) in pairs {
            if track_used[ti] || det_id[di].is_some() {
                continue;
            }
            track_used[ti] = true;
            det_id[di] = Some(self.tracks[ti].id);
            self.tracks[ti].bbox = detections[di];
            self.tracks[ti].missed = 0;
        }
        for (t, used) in self.tracks.iter_mut().zip(&track_used) {
            if !used {
                t.missed += 1;
            }
        }
        let max_missed = self.cfg.max_missed;
        self.tracks.retain(|t| t.missed <= max_missed);
        detections
            .iter()
            .zip(det_id)
            .map(|(d, id)| {
                let id = id.unwrap_or_else(|| {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.tracks.push(Track {
                        id,
                        bbox: *d,
                        missed: 0,
                    });
                    id
                });
                TrackedFace { id, bbox: *d }
            })
            .collect()
    }

    /// Drops every track and starts the ids again at 0: the next frame is unrelated to the
    /// ones before (another photo of a set).
    pub fn forget(&mut self) {
        self.tracks.clear();
        self.next_id = 0;
    }

    /// The id and last box of each track seen in the previous frame.
    pub fn recent(&self) -> Vec<(u32, FaceBox)> {
        self.tracks
            .iter()
            .filter(|t| t.missed == 0)
            .map(|t| (t.id, t.bbox))
            .collect()
    }

    /// Number of live tracks (seen within `max_missed` frames).
    pub fn live_tracks(&self) -> usize {
        self.tracks.len()
    }
}

/// Face boxes predicted from landmarks, shared by the classify stage (which writes them)
/// and the live detect stage (which uses them between whole-frame searches instead of
/// running the detector). Each track keeps how its last detector box sat relative to its landmarks
/// (size and offset in units of the face scale of `centroid_and_scale`), and a predicted
/// box is that relation applied to the newest landmarks.
#[derive(Debug, Default)]
pub struct LandmarkHints {
    tracks: Mutex<HashMap<u32, Hint>>,
}

#[derive(Clone, Copy, Debug)]
struct Hint {
    /// Detector box side / IOD.
    ratio: f32,
    /// (box centre - landmark centroid) / IOD.
    offset: (f32, f32),
    /// The box for the newest landmarks.
    predicted: FaceBox,
    frame: u64,
    /// The previous prediction and its frame.
    earlier: Option<(u64, FaceBox)>,
}

/// Hints older than this many frames are dropped.
const HINT_MAX_AGE: u64 = 30;

/// Centroid of the rigid landmarks (nose and eyes, 27..48: they move with the head, not
/// with the expression; an open mouth would drag a centroid of all 68 points down) and a
/// face scale: the root sum of squares of the eye distance (which shrinks when the head
/// turns) and the nose length 27-33 (which shrinks when it pitches).
fn centroid_and_scale(pts: &Landmarks) -> Option<((f32, f32), f32)> {
    let rigid = &pts[27..48];
    let n = rigid.len() as f32;
    let c = rigid
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p.0 / n, a.1 + p.1 / n));
    let (l, r) = eye_centres(pts);
    let iod2 = (r.0 - l.0).powi(2) + (r.1 - l.1).powi(2);
    let nose2 = (pts[33].0 - pts[27].0).powi(2) + (pts[33].1 - pts[27].1).powi(2);
    let scale = (iod2 + nose2).sqrt();
    (scale > 1.0).then_some((c, scale))
}

impl LandmarkHints {
    /// Records a face's landmarks in `frame`; `detector_box` is its box when the detector
    /// found it in that frame (None when the box was itself a prediction).
    pub fn record(&self, id: u32, detector_box: Option<FaceBox>, pts: &Landmarks, frame: u64) {
        let Some((c, iod)) = centroid_and_scale(pts) else {
            return;
        };
        let Ok(mut map) = self.tracks.lock() else {
            return;
        };
        map.retain(|_, h| frame.saturating_sub(h.frame) <= HINT_MAX_AGE);
        let (ratio, offset, confidence) = match (detector_box, map.get(&id)) {
            (Some(b), _) => {
                let (bx, by) = b.centre();
                (
                    b.w.max(b.h) / iod,
                    ((bx - c.0) / iod, (by - c.1) / iod),
                    b.confidence,
                )
            }
            (None, Some(h)) => (h.ratio, h.offset, h.predicted.confidence),
            (None, None) => return,
        };
        let side = ratio * iod;
        let (cx, cy) = (c.0 + offset.0 * iod, c.1 + offset.1 * iod);
        let predicted = FaceBox {
            x: cx - side / 2.0,
            y: cy - side / 2.0,
            w: side,
            h: side,
            confidence,
        };
        let earlier = map.get(&id).map(|h| (h.frame, h.predicted));
        map.insert(
            id,
            Hint {
                earlier,
                ratio,
                offset,
                predicted,
                frame,
            },
        );
    }

    /// The newest predicted box of a track from landmarks of a frame no later than
    /// `max_frame` (the last two predictions are kept).
    pub fn predicted_as_of(&self, id: u32, max_frame: u64) -> Option<FaceBox> {
        let map = self.tracks.lock().ok()?;
        let h = map.get(&id)?;
        if h.frame <= max_frame {
            Some(h.predicted)
        } else {
            h.earlier.filter(|(f, _)| *f <= max_frame).map(|(_, b)| b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32, y: f32) -> FaceBox {
        FaceBox {
            x,
            y,
            w: 100.0,
            h: 100.0,
            confidence: 0.9,
        }
    }

    #[test]
    fn ids_follow_moving_faces_and_survive_order_changes() {
        let mut t = Tracker::new(TrackConfig::default());
        let f1 = t.update(&[b(0.0, 0.0), b(300.0, 0.0)]);
        assert_eq!(f1.iter().map(|f| f.id).collect::<Vec<_>>(), vec![0, 1]);
        // Both moved 10 px and arrive in the other order.
        let f2 = t.update(&[b(310.0, 0.0), b(10.0, 0.0)]);
        assert_eq!(f2.iter().map(|f| f.id).collect::<Vec<_>>(), vec![1, 0]);
    }

    #[test]
    fn forget_starts_the_ids_again() {
        let mut t = Tracker::new(TrackConfig::default());
        t.update(&[b(0.0, 0.0), b(300.0, 0.0)]);
        t.forget();
        assert!(t.recent().is_empty());
        // The same place as face 0 before, but nothing is carried: ids 0, 1 again, in
        // detection order.
        let f = t.update(&[b(300.0, 0.0), b(0.0, 0.0)]);
        assert_eq!(f.iter().map(|f| f.id).collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn hints_follow_the_landmarks_from_the_last_detector_box() {
        // Landmarks: eyes at (40,50) and (60,50) (IOD 20), all other points at (50, 60).
        let mut pts = [(50f32, 60f32); 68];
        for i in 36..42 {
            pts[i] = (40.0, 50.0);
        }
        for i in 42..48 {
            pts[i] = (60.0, 50.0);
        }
        let hints = LandmarkHints::default();
        // No detector box yet: nothing to predict from.
        hints.record(1, None, &pts, 0);
        assert!(hints.predicted_as_of(1, u64::MAX).is_none());
        let det = FaceBox {
            x: 20.0,
            y: 25.0,
            w: 60.0,
            h: 60.0,
            confidence: 0.9,
        };
        hints.record(1, Some(det), &pts, 1);
        let p = hints.predicted_as_of(1, u64::MAX).unwrap();
        assert!((p.x - 20.0).abs() < 1e-3 && (p.w - 60.0).abs() < 1e-3);
        // The face moves 10 px right and grows 1.5x about its centroid: the box follows.
        let c = pts[27..48]
            .iter()
            .fold((0.0, 0.0), |a, q| (a.0 + q.0 / 21.0, a.1 + q.1 / 21.0));
        let moved: Landmarks =
            pts.map(|q| (c.0 + 1.5 * (q.0 - c.0) + 10.0, c.1 + 1.5 * (q.1 - c.1)));
        hints.record(1, None, &moved, 2);
        let p = hints.predicted_as_of(1, u64::MAX).unwrap();
        assert!((p.w - 90.0).abs() < 1e-2, "{p:?}");
        let (pcx, _) = p.centre();
        assert!(
            (pcx - (det.centre().0 + 10.0 + 0.5 * (det.centre().0 - c.0))).abs() < 1e-2,
            "{p:?}"
        );
        assert_eq!(p.confidence, 0.9);
        // The prediction as of frame 1 is the one from frame 1's landmarks.
        let as_of_1 = hints.predicted_as_of(1, 1).unwrap();
        assert!((as_of_1.w - 60.0).abs() < 1e-3);
        assert!(hints.predicted_as_of(1, 0).is_none());
        // Old hints are dropped.
        hints.record(2, Some(det), &pts, 100);
        assert!(hints.predicted_as_of(1, u64::MAX).is_none());
    }

    #[test]
    fn a_new_face_gets_a_new_id_and_lost_tracks_expire() {
        let cfg = TrackConfig {
            min_iou: 0.3,
            max_missed: 2,
        };
        let mut t = Tracker::new(cfg);
        t.update(&[b(0.0, 0.0)]);
        // Face gone for 2 frames: the track survives and takes it back.
        t.update(&[]);
        t.update(&[]);
        assert_eq!(t.update(&[b(5.0, 0.0)])[0].id, 0);
        // Gone for 3 frames: expired, so the same place gets a new id.
        for _ in 0..3 {
            t.update(&[]);
        }
        assert_eq!(t.live_tracks(), 0);
        assert_eq!(t.update(&[b(5.0, 0.0)])[0].id, 1);
        // A far-away face is a different person.
        let f = t.update(&[b(5.0, 0.0), b(400.0, 300.0)]);
        assert_eq!((f[0].id, f[1].id), (1, 2));
    }
}
