//! Still faces: whether the pixels of a tracked face have changed, other than by a shift,
//! since its networks last ran.
//!
//! A face's patch is its box cut into [`GRID`] x [`GRID`] cells, each the mean grey level of
//! the frame pixels it covers. When its networks run, the patch is kept with their outputs.
//! On a later frame the kept box is tried at every shift of up to [`MAX_SHIFT`] of the
//! face's size; if at the best shift the cells differ from the kept ones by at most
//! [`StillConfig::max_change`] of the patch's own contrast, nothing but the place changed,
//! and the face's outputs are those kept, moved by the shift. The kept patch is always the
//! one the networks saw, so slow changes add up until they count.

use std::collections::HashMap;

use crate::align::luma_row;
use crate::config::StillConfig;
use crate::frame::{FaceBox, Frame, Landmarks, TrackedFace};

/// Cells a side of a face's patch.
pub const GRID: usize = 24;
/// The largest shift tried, as a share of the face's box width.
pub const MAX_SHIFT: f32 = 0.05;
/// Smallest box side (pixels) a patch is made for: one pixel a cell at least.
const MIN_SIDE: i32 = GRID as i32;

/// What the networks gave a face, kept to be reused while it stays still.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    pub landmarks: Option<Landmarks>,
    pub emotions: Option<[f32; 7]>,
}

impl Outputs {
    /// The outputs moved by `(dx, dy)` frame pixels.
    fn shifted(&self, (dx, dy): (f32, f32)) -> Outputs {
        Outputs {
            landmarks: self.landmarks.map(|pts| pts.map(|(x, y)| (x + dx, y + dy))),
            emotions: self.emotions,
        }
    }
}

/// A box cut into cells on integer pixel edges.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
}

impl Rect {
    /// The box on whole pixels; None when it is too small for a patch.
    fn of(b: &FaceBox) -> Option<Rect> {
        let (x, y) = (b.x.round() as i32, b.y.round() as i32);
        let (w, h) = (b.w.round() as i32, b.h.round() as i32);
        (w >= MIN_SIDE && h >= MIN_SIDE).then_some(Rect { x, y, w, h })
    }

    /// Cell `i`'s first pixel along a side of `len` pixels.
    fn edge(len: i32, i: usize) -> i32 {
        (len as i64 * i as i64 / GRID as i64) as i32
    }
}

/// Grey levels' running sums over a region of a frame: the sum of any rectangle in it in
/// four reads. Its buffers are kept from face to face and frame to frame.
#[derive(Default)]
struct Integral {
    x0: i32,
    y0: i32,
    w: i32,
    h: i32,
    /// (w + 1) x (h + 1) sums, a zero row and column first.
    sums: Vec<u32>,
    /// One row of the region's grey values.
    grey: Vec<u8>,
}

/// A box placed in an [`Integral`]'s region: where its cells' edges fall.
struct Placed<'a> {
    sums: &'a [u32],
    stride: usize,
    /// The cells' column edges and row edges, in the region's sums.
    xs: [usize; GRID + 1],
    ys: [usize; GRID + 1],
}

impl Placed<'_> {
    /// The means of row `j`'s cells, left to right.
    fn row(&self, j: usize) -> impl Iterator<Item = f32> + '_ {
        let (top, bottom) = (self.ys[j], self.ys[j + 1]);
        let (t, b) = (
            &self.sums[top * self.stride..],
            &self.sums[bottom * self.stride..],
        );
        let height = (bottom - top) as f32;
        self.xs.windows(2).map(move |e| {
            let (l, r) = (e[0], e[1]);
            (b[r] + t[l] - b[l] - t[r]) as f32 / (height * (r - l) as f32)
        })
    }
}

impl Integral {
    /// Sums over `r` grown by `margin` on each side, cut to the frame.
    fn fill(&mut self, frame: &Frame, r: Rect, margin: i32) {
        let (fw, fh) = (frame.width as i32, frame.height as i32);
        self.x0 = (r.x - margin).clamp(0, fw);
        self.y0 = (r.y - margin).clamp(0, fh);
        self.w = (r.x + r.w + margin).clamp(self.x0, fw) - self.x0;
        self.h = (r.y + r.h + margin).clamp(self.y0, fh) - self.y0;
        let (w, stride) = (self.w as usize, self.w as usize + 1);
        self.sums.clear();
        self.sums.resize(stride * (self.h as usize + 1), 0);
        self.grey.resize(w, 0);
        for row in 0..self.h as usize {
            let start = ((self.y0 as usize + row) * frame.width as usize + self.x0 as usize) * 3;
            luma_row(&frame.rgb[start..start + w * 3], &mut self.grey);
            let (above, this) = self.sums.split_at_mut((row + 1) * stride);
            let above = &above[row * stride..];
            let mut run = 0u32;
            for ((s, &a), &g) in this[1..stride].iter_mut().zip(&above[1..]).zip(&self.grey) {
                run += u32::from(g);
                *s = a + run;
            }
        }
    }

    /// `r` moved by `(dx, dy)`; None where it leaves the region.
    fn place(&self, r: Rect, (dx, dy): (i32, i32)) -> Option<Placed<'_>> {
        let (lx, ly) = (r.x + dx - self.x0, r.y + dy - self.y0);
        if lx < 0 || ly < 0 || lx + r.w > self.w || ly + r.h > self.h {
            return None;
        }
        Some(Placed {
            sums: &self.sums,
            stride: self.w as usize + 1,
            xs: std::array::from_fn(|i| (lx + Rect::edge(r.w, i)) as usize),
            ys: std::array::from_fn(|j| (ly + Rect::edge(r.h, j)) as usize),
        })
    }

    /// The cells' means of `r` moved by `shift`, into `out`; false where the moved box
    /// leaves the region.
    fn cells(&self, r: Rect, shift: (i32, i32), out: &mut [f32]) -> bool {
        let Some(placed) = self.place(r, shift) else {
            return false;
        };
        for (j, row) in out.chunks_exact_mut(GRID).enumerate() {
            for (cell, mean) in row.iter_mut().zip(placed.row(j)) {
                *cell = mean;
            }
        }
        true
    }

    /// The sum of the absolute differences between the cells of `r` moved by `shift` and
    /// `kept`, added cell by cell in row order; None where the moved box leaves the region,
    /// or as soon as the sum passes `bound` (the search needs no worse candidate's sum).
    fn difference(&self, r: Rect, shift: (i32, i32), kept: &[f32], bound: f32) -> Option<f32> {
        let placed = self.place(r, shift)?;
        let mut sum = 0f32;
        for (j, row) in kept.chunks_exact(GRID).enumerate() {
            for (mean, &k) in placed.row(j).zip(row) {
                sum += (mean - k).abs();
            }
            if sum > bound {
                return None;
            }
        }
        Some(sum)
    }
}

/// A patch's mean absolute deviation from its mean: its contrast, in grey levels.
fn contrast(cells: &[f32]) -> f32 {
    let n = cells.len() as f32;
    let mean = cells.iter().sum::<f32>() / n;
    cells.iter().map(|c| (c - mean).abs()).sum::<f32>() / n
}

/// How far a face's patch in `frame` is from `kept` (taken at `r`, of contrast `scale`):
/// the best shift of at most `reach` pixels and the change there, relative to `scale`.
/// None when no shift keeps the box inside the frame. `integral` is a buffer.
fn best_shift(
    integral: &mut Integral,
    frame: &Frame,
    r: Rect,
    (kept, scale): (&[f32], f32),
    reach: i32,
) -> Option<((i32, i32), f32)> {
    integral.fill(frame, r, reach);
    let integral = &*integral;
    let n = kept.len() as f32;
    // A candidate's change, or None once it is sure to be no better than `best` (the bound
    // has a little slack, so that rounding never drops a candidate that would have won).
    let score = |shift: (i32, i32), best: Option<f32>| {
        let bound = best.map_or(f32::INFINITY, |b| b * scale * n * 1.001);
        integral
            .difference(r, shift, kept, bound)
            .map(|sum| sum / n / scale)
    };
    // The place it was first, as faces that have not moved are found there and bound the
    // rest early; then a coarse search over the whole reach, then every pixel around its
    // best.
    let mut best = score((0, 0), None).map(|s| ((0, 0), s));
    let step = (reach / 4).max(1);
    let search = |centre: (i32, i32), radius: i32, step: i32, best: &mut Option<_>| {
        for dy in (-radius..=radius).step_by(step as usize) {
            for dx in (-radius..=radius).step_by(step as usize) {
                let shift = (centre.0 + dx, centre.1 + dy);
                if shift.0.abs() > reach || shift.1.abs() > reach || shift == (0, 0) {
                    continue;
                }
                if let Some(s) = score(shift, best.map(|(_, b): ((i32, i32), f32)| b)) {
                    if best.is_none_or(|(_, b)| s < b) {
                        *best = Some((shift, s));
                    }
                }
            }
        }
    };
    search((0, 0), reach - reach % step, step, &mut best);
    if step > 1 {
        if let Some((centre, _)) = best {
            search(centre, step - 1, 1, &mut best);
        }
    }
    best
}

struct Kept {
    rect: Rect,
    cells: Vec<f32>,
    /// The cells' [`contrast`], at least 1 grey level: what a change is measured against.
    contrast: f32,
    outputs: Outputs,
    /// Frames in a row it has been reused.
    reused: u32,
}

/// Each tracked face's last analysed patch and outputs; decides, frame by frame, which
/// faces' networks must run.
pub struct StillFaces {
    opts: StillConfig,
    kept: HashMap<u32, Kept>,
    /// Faces whose networks ran, faces whose outputs were reused (since the start).
    counts: (u64, u64),
    integral: Integral,
}

impl StillFaces {
    pub fn new(opts: StillConfig) -> Self {
        StillFaces {
            opts,
            kept: HashMap::new(),
            counts: (0, 0),
            integral: Integral::default(),
        }
    }

    /// For each face, in order: its kept outputs moved with it when it is still, None when
    /// its networks must run. Faces no longer tracked are forgotten.
    pub fn look(&mut self, frame: &Frame, faces: &[TrackedFace]) -> Vec<Option<Outputs>> {
        if frame.independent {
            self.kept.clear();
        }
        self.kept.retain(|id, _| faces.iter().any(|f| f.id == *id));
        let opts = self.opts;
        let looks: Vec<Option<Outputs>> = faces
            .iter()
            .map(|f| {
                let kept = self.kept.get_mut(&f.id)?;
                if kept.reused >= opts.max_reuse {
                    return None;
                }
                let reach = (kept.rect.w as f32 * MAX_SHIFT).ceil() as i32;
                let patch = (kept.cells.as_slice(), kept.contrast);
                let (shift, change) =
                    best_shift(&mut self.integral, frame, kept.rect, patch, reach)?;
                (change <= opts.max_change).then(|| {
                    kept.reused += 1;
                    kept.outputs.shifted((shift.0 as f32, shift.1 as f32))
                })
            })
            .collect();
        let reused = looks.iter().filter(|l| l.is_some()).count() as u64;
        self.counts.0 += looks.len() as u64 - reused;
        self.counts.1 += reused;
        looks
    }

    /// Keeps what the networks gave `face` on `frame`, with its patch.
    pub fn keep(&mut self, frame: &Frame, face: &TrackedFace, outputs: Outputs) {
        if self.opts.max_reuse == 0 {
            return;
        }
        let Some(rect) = Rect::of(&face.bbox) else {
            self.kept.remove(&face.id);
            return;
        };
        let mut cells = vec![0f32; GRID * GRID];
        self.integral.fill(frame, rect, 0);
        if !self.integral.cells(rect, (0, 0), &mut cells) {
            // Partly outside the frame: nothing to compare with later.
            self.kept.remove(&face.id);
            return;
        }
        self.kept.insert(
            face.id,
            Kept {
                rect,
                contrast: contrast(&cells).max(1.0),
                cells,
                outputs,
                reused: 0,
            },
        );
    }

    /// Faces whose networks ran and faces whose outputs were reused, since the start.
    pub fn counts(&self) -> (u64, u64) {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::luma;

    /// A 200 x 160 frame: a textured background and, at `(x, y)`, a 60 x 60 "face" of
    /// 5-pixel blocks of contrasting grey; `mouth` brightens a band in its lower third.
    fn scene((x, y): (u32, u32), mouth: u8) -> Frame {
        let (w, h) = (200u32, 160u32);
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        for py in 0..h {
            for px in 0..w {
                let mut v = (60 + (px * 7 + py * 3) % 23) as u8;
                if (x..x + 60).contains(&px) && (y..y + 60).contains(&py) {
                    let (fx, fy) = (px - x, py - y);
                    v = 120 + (((fx / 5) * 13) ^ ((fy / 5) * 29)) as u8 % 90;
                    if (40..48).contains(&fy) && (15..45).contains(&fx) {
                        v = v.saturating_add(mouth);
                    }
                }
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
        Frame::new(0, 0.0, w, h, rgb).unwrap()
    }

    fn face(x: f32, y: f32) -> TrackedFace {
        TrackedFace {
            id: 3,
            bbox: FaceBox {
                x,
                y,
                w: 60.0,
                h: 60.0,
                confidence: 1.0,
            },
        }
    }

    fn outputs() -> Outputs {
        Outputs {
            landmarks: Some(std::array::from_fn(|i| (i as f32, 2.0 * i as f32))),
            emotions: Some([0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1]),
        }
    }

    const OPTS: StillConfig = StillConfig {
        max_reuse: 3,
        max_change: 0.05,
    };

    #[test]
    fn a_shifted_face_reuses_its_outputs_moved_by_the_shift() {
        let mut still = StillFaces::new(OPTS);
        let (a, b) = (scene((50, 40), 0), scene((52, 39), 0));
        assert_eq!(still.look(&a, &[face(50.0, 40.0)]), vec![None]);
        still.keep(&a, &face(50.0, 40.0), outputs());
        // The box given with the frame does not matter; the pixels do.
        let got = still.look(&b, &[face(50.0, 40.0)]);
        let want = outputs().shifted((2.0, -1.0));
        assert_eq!(got, vec![Some(want)]);
        assert_eq!(still.counts(), (1, 1));
    }

    #[test]
    fn a_changed_face_runs_again_and_slow_changes_add_up() {
        let mut still = StillFaces::new(OPTS);
        let f = face(50.0, 40.0);
        still.keep(&scene((50, 40), 0), &f, outputs());
        // A mouth brightened by 60 grey levels is a change...
        assert_eq!(still.look(&scene((50, 40), 60), &[f]), vec![None]);
        // ...and by 10 is not; but 10 more on the next frame, no more than that from the
        // frame before, is 20 from the kept patch: a change.
        assert!(still.look(&scene((50, 40), 10), &[f])[0].is_some());
        assert_eq!(still.look(&scene((50, 40), 20), &[f]), vec![None]);
    }

    #[test]
    fn reuse_stops_after_max_reuse_and_when_asked_never() {
        let (frame, f) = (scene((50, 40), 0), face(50.0, 40.0));
        let mut still = StillFaces::new(OPTS);
        still.keep(&frame, &f, outputs());
        let reused: Vec<bool> = (0..5)
            .map(|_| still.look(&frame, &[f])[0].is_some())
            .collect();
        assert_eq!(reused, [true, true, true, false, false]);
        // Kept again after running: reused again.
        still.keep(&frame, &f, outputs());
        assert!(still.look(&frame, &[f])[0].is_some());

        let mut off = StillFaces::new(StillConfig::OFF);
        off.keep(&frame, &f, outputs());
        assert_eq!(off.look(&frame, &[f]), vec![None]);
    }

    #[test]
    fn gone_faces_photos_of_a_set_and_boxes_at_the_edge_are_not_reused() {
        let (frame, f) = (scene((50, 40), 0), face(50.0, 40.0));
        let mut still = StillFaces::new(OPTS);
        still.keep(&frame, &f, outputs());
        // Face 3 missing from a frame: forgotten.
        assert_eq!(still.look(&frame, &[]), vec![]);
        assert_eq!(still.look(&frame, &[f]), vec![None]);
        // A photo of a set is analysed on its own.
        still.keep(&frame, &f, outputs());
        let mut photo = frame.clone();
        photo.independent = true;
        assert_eq!(still.look(&photo, &[f]), vec![None]);
        // A box partly outside the frame is never kept.
        let edge = face(170.0, 40.0);
        still.keep(&frame, &edge, outputs());
        assert_eq!(still.look(&frame, &[edge]), vec![None]);
    }

    #[test]
    fn a_face_moved_further_than_the_reach_runs_again() {
        let mut still = StillFaces::new(OPTS);
        still.keep(&scene((50, 40), 0), &face(50.0, 40.0), outputs());
        // The reach is 5% of 60 px: 3 px. A 6 px move is new to the patch.
        assert_eq!(
            still.look(&scene((56, 40), 0), &[face(50.0, 40.0)]),
            vec![None]
        );
    }

    #[test]
    fn cell_means_are_the_pixels_means() {
        let frame = scene((50, 40), 0);
        let r = Rect {
            x: 45,
            y: 33,
            w: 50,
            h: 70,
        };
        let mut integral = Integral::default();
        integral.fill(&frame, r, 4);
        let mut cells = vec![0f32; GRID * GRID];
        assert!(integral.cells(r, (-3, 2), &mut cells));
        let grey = |x: i32, y: i32| {
            let i = ((y as u32 * frame.width + x as u32) * 3) as usize;
            f32::from(luma(frame.rgb[i], frame.rgb[i + 1], frame.rgb[i + 2]))
        };
        for (j, i) in [(0, 0), (5, 17), (23, 23), (11, 2)] {
            let (x0, x1) = (42 + Rect::edge(50, i), 42 + Rect::edge(50, i + 1));
            let (y0, y1) = (35 + Rect::edge(70, j), 35 + Rect::edge(70, j + 1));
            let mut sum = 0.0;
            for y in y0..y1 {
                for x in x0..x1 {
                    sum += grey(x, y);
                }
            }
            let mean = sum / ((x1 - x0) * (y1 - y0)) as f32;
            assert!((cells[j * GRID + i] - mean).abs() < 1e-3, "cell {j},{i}");
        }
        // Beyond the region: refused.
        assert!(!integral.cells(r, (-5, 0), &mut cells));
    }
}
