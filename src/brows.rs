//! Brow shape read from the image: how steeply each brow's medial half rises from its inner
//! end toward its arch. The inner brow raiser (AU1) lifts the inner end and flattens or
//! tilts that half (the oblique, grieving brow); the brow lowerer (AU4) pulls the inner end
//! down and steepens it. The 68 landmarks keep the brows near an average outline on the
//! bundled crying footage (their inner ends sit where a laugh puts them, BENCHMARKS.md), so
//! the brow is traced in the image: at columns across the medial half, the dark band of the
//! brow is found in a vertical grey profile near the landmarks' brow line, and a line is
//! fitted through the band's centres. Pure functions.
//!
//! The slope also moves with head pitch (the inner end is nearer the camera than the arch):
//! [`crate::geometry`] corrects for it against the person's neutral face.

use crate::face_frame::{FaceFrame, GreyPatch};
use crate::frame::{Frame, Landmarks};

/// Columns traced from the inner end of a brow to the middle of its span.
const COLUMNS: usize = 11;
/// Vertical step of a profile, in IOD units (under a pixel on a face 64 px across the eyes).
const STEP: f32 = 1.0 / 64.0;
/// Steps searched either side of the landmarks' brow line (0.2 IOD: a raised or lowered
/// brow stays within it, the eye's lashes and the hairline of most faces stay out of it).
const REACH: i32 = 13;
/// Half-width of the strip averaged across each column (IOD units), and its samples.
const STRIP: f32 = 0.04;
const STRIP_SAMPLES: i32 = 5;

/// The landmarks' brow line at face-frame x = `u`, by straight lines between the brow points
/// `from..=to` (given in either order).
fn brow_line(p: &Landmarks, from: usize, to: usize, u: f32) -> f32 {
    let (a, b) = (from.min(to), from.max(to));
    for k in a..b {
        let (p0, p1) = (p[k], p[k + 1]);
        if (u - p0.0) * (u - p1.0) <= 0.0 && (p1.0 - p0.0).abs() > 1e-6 {
            return p0.1 + (u - p0.0) / (p1.0 - p0.0) * (p1.1 - p0.1);
        }
    }
    p[from].1
}

/// The brow's centre (face-frame y, IOD units) in the column at `u`, searched around the
/// landmarks' line at `v0`: the centroid of the profile's darker half (below the midpoint of
/// its darkest and brightest levels), so that a thick brow's middle is found, not one dark
/// pixel. None when the profile is flat (no brow to see) or black.
fn band_centre(face: &FaceFrame, grey: &GreyPatch, u: f32, v0: f32) -> Option<f32> {
    // One step beyond the reach each side, for the smoothing.
    let mut profile = [0f32; (2 * REACH + 3) as usize];
    for (j, g) in profile.iter_mut().enumerate() {
        let v = v0 + (j as i32 - REACH - 1) as f32 * STEP;
        let sum: f32 = (-(STRIP_SAMPLES / 2)..=STRIP_SAMPLES / 2)
            .map(|a| {
                let (x, y) = face.to_image(u + a as f32 * STRIP / (STRIP_SAMPLES / 2) as f32, v);
                grey.at(x, y)
            })
            .sum();
        *g = sum / STRIP_SAMPLES as f32;
    }
    let mut smooth = [0f32; (2 * REACH + 1) as usize];
    for (j, g) in smooth.iter_mut().enumerate() {
        *g = (profile[j] + profile[j + 1] + profile[j + 2]) / 3.0;
    }
    let (dark, bright) = smooth
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &g| (lo.min(g), hi.max(g)));
    // A brow darker than the skin by under 2% reads as no brow.
    if !(bright > 1.0) || bright - dark < 0.02 * bright {
        return None;
    }
    let half = dark + 0.5 * (bright - dark);
    let (mut w_sum, mut v_sum) = (0.0, 0.0);
    for (j, &g) in smooth.iter().enumerate() {
        let w = (half - g).max(0.0);
        w_sum += w;
        v_sum += w * (v0 + (j as i32 - REACH) as f32 * STEP);
    }
    (w_sum > 0.0).then(|| v_sum / w_sum)
}

/// Least-squares slope of y against x.
fn slope(points: &[(f32, f32)]) -> Option<f32> {
    let n = points.len() as f32;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
    let sxy: f32 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f32 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    (sxx > 1e-9).then(|| sxy / sxx)
}

/// How steeply the brows' medial halves rise from their inner ends, in IOD of height per
/// IOD outward, the mean over both brows (one brow when the other cannot be traced): about
/// 0.13-0.20 on the bundled clips' resting and laughing brows (10th to 90th percentile),
/// 0.05-0.11 on the crying ones (BENCHMARKS.md). None when the eyes coincide or neither
/// brow can be traced.
pub fn medial_brow_slope(frame: &Frame, pts: &Landmarks) -> Option<f32> {
    let face = FaceFrame::from_landmarks(pts)?;
    let p = crate::geometry::normalise(pts)?;
    // (inner end, outer end) of the image-left and image-right brows, and the columns
    // traced on each: face-frame x and the landmarks' brow line there.
    let brows = [(21usize, 17usize), (22, 26)].map(|(inner, outer)| {
        let (u0, u1) = (p[inner].0, p[outer].0);
        std::array::from_fn::<_, COLUMNS, _>(|t| {
            let u = u0 + (u1 - u0) * t as f32 / (2 * (COLUMNS - 1)) as f32;
            (u, brow_line(&p, inner, outer, u))
        })
    });
    // Every pixel the profiles can touch, turned grey once.
    let reach = (REACH + 1) as f32 * STEP;
    let (mut min, mut max) = ((f32::MAX, f32::MAX), (f32::MIN, f32::MIN));
    for &(u, v0) in brows.iter().flatten() {
        for (du, dv) in [
            (-STRIP, -reach),
            (STRIP, -reach),
            (-STRIP, reach),
            (STRIP, reach),
        ] {
            let (x, y) = face.to_image(u + du, v0 + dv);
            min = (min.0.min(x), min.1.min(y));
            max = (max.0.max(x), max.1.max(y));
        }
    }
    if !(min.0.is_finite() && min.1.is_finite() && max.0.is_finite() && max.1.is_finite()) {
        return None;
    }
    let grey = GreyPatch::cover(frame, min, max);
    let mut slopes = Vec::with_capacity(2);
    for columns in &brows {
        let u0 = columns[0].0;
        let mut centres = Vec::with_capacity(COLUMNS);
        for &(u, v0) in columns {
            if let Some(v) = band_centre(&face, &grey, u, v0) {
                // Distance outward from the inner end against height (up is positive).
                centres.push(((u - u0).abs(), -v));
            }
        }
        // Most of the half traced, or this brow does not count.
        if centres.len() * 3 >= COLUMNS * 2 {
            slopes.extend(slope(&centres));
        }
    }
    (!slopes.is_empty()).then(|| slopes.iter().sum::<f32>() / slopes.len() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A face drawn in its own face frame: eyes at (-0.5, 0) and (0.5, 0), brows dark bands
    /// 0.08 IOD thick from |u| = 0.12 (inner ends) to 0.9 (outer ends), whose centre rises
    /// `slope` IOD per IOD outward from 0.35 above the eye line at the inner ends over the
    /// medial half and falls again past it; `hidden` leaves the image-right brow out. The
    /// frame is `iod` px across the eyes, turned by `roll` radians, with uniform noise of
    /// +-`noise` grey levels. The brow landmarks stay on an average brow whatever the slope,
    /// as the landmark network leaves them.
    fn face(slope: f32, iod: f32, roll: f32, noise: f32, hidden: bool) -> (Frame, Landmarks) {
        let (w, h) = ((4.0 * iod) as u32, (3.0 * iod) as u32);
        let origin = (w as f32 / 2.0, h as f32 * 0.6);
        let (c, s) = (roll.cos(), roll.sin());
        let to_image = |u: f32, v: f32| {
            (
                origin.0 + iod * (u * c - v * s),
                origin.1 + iod * (u * s + v * c),
            )
        };
        let brow_height = |d: f32| 0.35 + slope * d.min(0.39) - 0.3 * (d - 0.39).max(0.0);
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        let mut state = 12345u32;
        for y in 0..h {
            for x in 0..w {
                // Face-frame coordinates of the pixel centre.
                let (dx, dy) = (x as f32 + 0.5 - origin.0, y as f32 + 0.5 - origin.1);
                let (u, v) = ((dx * c + dy * s) / iod, (-dx * s + dy * c) / iod);
                let mut g = 170.0;
                let d = u.abs() - 0.12;
                if (0.0..=0.78).contains(&d) && !(hidden && u > 0.0) {
                    if (-v - brow_height(d)).abs() <= 0.04 {
                        g = 70.0;
                    }
                }
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                g += noise * ((state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0);
                let g = g.clamp(0.0, 255.0) as u8;
                rgb.extend([g, g, g]);
            }
        }
        let frame = Frame::new(0, 0.0, w, h, rgb).unwrap();
        let mut pts = [(0f32, 0f32); 68];
        for i in 36..42 {
            pts[i] = to_image(-0.5, 0.0);
        }
        for i in 42..48 {
            pts[i] = to_image(0.5, 0.0);
        }
        // Brow landmarks on an average brow's upper edge: outer 17 / 26 to inner 21 / 22.
        let average = [
            (0.9, 0.30),
            (0.7, 0.42),
            (0.5, 0.44),
            (0.3, 0.42),
            (0.12, 0.38),
        ];
        for (k, &(u, height)) in average.iter().enumerate() {
            pts[17 + k] = to_image(-u, -height);
            pts[26 - k] = to_image(u, -height);
        }
        (frame, pts)
    }

    fn measured(slope: f32) -> f32 {
        let (frame, pts) = face(slope, 100.0, 0.0, 0.0, false);
        medial_brow_slope(&frame, &pts).unwrap()
    }

    #[test]
    fn the_traced_slope_is_the_drawn_one_wherever_the_landmarks_sit() {
        for slope in [0.15f32, 0.05, -0.05] {
            let m = measured(slope);
            assert!((m - slope).abs() < 0.02, "drawn {slope}, traced {m}");
        }
        // Flattening reads as a drop in the same order.
        assert!(measured(0.15) - measured(0.0) > 0.12);
    }

    #[test]
    fn size_roll_and_sensor_noise_change_the_slope_little() {
        let base = measured(0.15);
        let (big, pts) = face(0.15, 260.0, 0.0, 0.0, false);
        let v = medial_brow_slope(&big, &pts).unwrap();
        assert!((v - base).abs() < 0.015, "{base} vs {v} at 2.6x the size");
        let (turned, pts) = face(0.15, 100.0, 0.4, 0.0, false);
        let v = medial_brow_slope(&turned, &pts).unwrap();
        assert!((v - base).abs() < 0.015, "{base} vs {v} turned 0.4 rad");
        // Uniform noise of +-12 grey levels (sd 6.9) on every pixel, on a smaller face.
        let (noisy, pts) = face(0.15, 60.0, 0.0, 12.0, false);
        let v = medial_brow_slope(&noisy, &pts).unwrap();
        assert!((v - base).abs() < 0.03, "{base} vs {v} with noise");
    }

    #[test]
    fn one_brow_is_enough_and_no_brow_or_no_light_gives_none() {
        let (one, pts) = face(0.05, 100.0, 0.0, 0.0, true);
        let v = medial_brow_slope(&one, &pts).unwrap();
        assert!((v - 0.05).abs() < 0.02, "{v}");
        // A flat face: nothing darker than the skin to trace.
        let (drawn, pts) = face(0.05, 100.0, 0.0, 0.0, false);
        let (w, h) = (drawn.width, drawn.height);
        let flat = Frame::new(0, 0.0, w, h, vec![170; (w * h * 3) as usize]).unwrap();
        assert!(medial_brow_slope(&flat, &pts).is_none());
        let black = Frame::new(0, 0.0, w, h, vec![0; (w * h * 3) as usize]).unwrap();
        assert!(medial_brow_slope(&black, &pts).is_none());
        let mut same = pts;
        same[36..48].fill((10.0, 10.0));
        assert!(medial_brow_slope(&drawn, &same).is_none());
    }
}
