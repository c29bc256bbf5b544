//! Stable face ids across frames: greedy IoU association between the previous boxes of live
//! tracks and this frame's detections.

use crate::config::TrackConfig;
use crate::frame::{FaceBox, TrackedFace};

#[derive(Clone, Debug)]
struct Track {
    id: u32,
    bbox: FaceBox,
    missed: u32,
}

/// Assigns ids to detections; ids start at 0 and are never reused within a run.
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

    /// The last box of each track seen in the previous frame.
    pub fn recent_boxes(&self) -> Vec<FaceBox> {
        self.tracks
            .iter()
            .filter(|t| t.missed == 0)
            .map(|t| t.bbox)
            .collect()
    }

    /// Number of live tracks (seen within `max_missed` frames).
    pub fn live_tracks(&self) -> usize {
        self.tracks.len()
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
