//! Brow furrows read from the image: the vertical lines that a brow lowerer (AU4) draws
//! between the brows. The 68 landmarks trace the brows' outline; a knitted, grieving brow
//! can leave that outline where a laugh puts it (BENCHMARKS.md), while the skin between the
//! brows folds into furrows that the landmarks cannot see. Wrinkle and furrow measures in
//! landmark-placed regions are a long-standing AU cue (Tian, Kanade and Cohn, "Recognizing
//! Action Units for Facial Expression Analysis", IEEE TPAMI 23(2), 2001, used edge density
//! in the nasal root for AU4's furrows).
//!
//! The measure: a patch of the glabella, placed and sized in the face frame of
//! [`crate::geometry`] (origin between the eye centres, x along the eye line, unit =
//! inter-ocular distance), is sampled on a fixed grid per IOD, so a face's size and roll do
//! not change it. Each grid cell averages the pixels under it (no aliasing on large faces),
//! and each column is smoothed along the furrow's direction before the horizontal second
//! difference picks out dark vertical lines (valleys). The mean valley depth, over the
//! patch's mean brightness, is the score: lighting's level cancels, and a linear shading
//! ramp (light from one side) gives no second difference. Pure functions.

use crate::face_frame::{grey_at, FaceFrame};
use crate::frame::{Frame, Landmarks};

/// Grid cells per inter-ocular distance (about one pixel per cell on a 640x360 face 50 px
/// across the eyes; larger faces average several pixels per cell).
const CELLS_PER_IOD: f32 = 48.0;
/// The glabella patch in the face frame (IOD units, y down): centred between the inner
/// brow ends, above the nasal root and below the forehead. Narrow enough to keep out the
/// brows' own edges and the bridge of a pair of glasses (the bundled group photo's
/// sunglasses stay at a neutral face's level, BENCHMARKS.md).
const PATCH_X: (f32, f32) = (-0.12, 0.12);
const PATCH_Y: (f32, f32) = (-0.42, -0.20);
/// Cells averaged along each column (vertically) before the second difference: a furrow
/// runs over many of them, sensor noise does not.
const VERTICAL_RUN: usize = 5;

/// How deeply the glabella is furrowed: mean valley depth across the patch per 100 grey
/// levels of its brightness (0.1-0.8 on the smooth brows of the bundled footage, up to 3.2
/// on its knitted, crying ones; BENCHMARKS.md). None when the eyes coincide or the patch
/// is black.
pub fn glabella_furrows(frame: &Frame, pts: &Landmarks) -> Option<f32> {
    let face = FaceFrame::from_landmarks(pts)?;
    let (c, s) = face.axis;
    let iod = face.iod;
    let w = ((PATCH_X.1 - PATCH_X.0) * CELLS_PER_IOD).round() as usize;
    let h = ((PATCH_Y.1 - PATCH_Y.0) * CELLS_PER_IOD).round() as usize;
    // Sub-samples per cell side: enough that they are about a pixel apart.
    let sub = (iod / CELLS_PER_IOD).ceil().clamp(1.0, 16.0) as usize;
    let cell = iod / CELLS_PER_IOD;
    let mut grid = vec![0f32; w * h];
    for (j, row) in grid.chunks_exact_mut(w).enumerate() {
        for (i, g) in row.iter_mut().enumerate() {
            // Cell centre in the face frame, then each sub-sample's offset inside it.
            let u = PATCH_X.0 + (i as f32 + 0.5) / CELLS_PER_IOD;
            let v = PATCH_Y.0 + (j as f32 + 0.5) / CELLS_PER_IOD;
            let (cx, cy) = face.to_image(u, v);
            let mut acc = 0.0;
            for a in 0..sub {
                for b in 0..sub {
                    let da = ((a as f32 + 0.5) / sub as f32 - 0.5) * cell;
                    let db = ((b as f32 + 0.5) / sub as f32 - 0.5) * cell;
                    acc += grey_at(frame, cx + da * c - db * s, cy + da * s + db * c);
                }
            }
            *g = acc / (sub * sub) as f32;
        }
    }
    let mean = grid.iter().sum::<f32>() / grid.len() as f32;
    if !(mean > 1.0) {
        return None;
    }
    // Smooth each column over VERTICAL_RUN cells, then take the positive part of the
    // horizontal second difference (a dark line between lighter skin).
    let rows = h.saturating_sub(VERTICAL_RUN - 1);
    let mut depth = 0.0;
    let mut count = 0usize;
    let column = |i: usize, j: usize| -> f32 {
        (j..j + VERTICAL_RUN).map(|k| grid[k * w + i]).sum::<f32>() / VERTICAL_RUN as f32
    };
    for j in 0..rows {
        for i in 1..w - 1 {
            let valley = column(i - 1, j) + column(i + 1, j) - 2.0 * column(i, j);
            depth += valley.max(0.0);
            count += 1;
        }
    }
    (count > 0).then(|| 100.0 * depth / count as f32 / mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grey frame with eyes 100 px apart at y = 200 and, optionally, dark vertical lines
    /// between the brows; landmarks only need the eye rings.
    fn face(furrows: bool, noise: f32, light_ramp: f32) -> (Frame, Landmarks) {
        let (w, h) = (400u32, 300u32);
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        let mut state = 12345u32;
        for y in 0..h {
            for x in 0..w {
                let mut v = 140.0 + light_ramp * (x as f32 - 200.0);
                // Two furrows 8 px either side of x = 200, between y = 160 and 185 (brows
                // at about y = 160, eyes at 200: the patch spans y 158-180).
                if furrows
                    && (160..=185).contains(&y)
                    && (x.abs_diff(192) <= 1 || x.abs_diff(208) <= 1)
                {
                    v -= 30.0;
                }
                // Uniform noise in [-noise, noise], from a small LCG.
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                v += noise * ((state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0);
                let g = v.clamp(0.0, 255.0) as u8;
                rgb.extend([g, g, g]);
            }
        }
        let frame = Frame::new(0, 0.0, w, h, rgb).unwrap();
        let mut pts = [(0f32, 0f32); 68];
        for i in 36..42 {
            pts[i] = (150.0, 200.0);
        }
        for i in 42..48 {
            pts[i] = (250.0, 200.0);
        }
        (frame, pts)
    }

    #[test]
    fn furrows_score_high_and_smooth_skin_near_zero() {
        let (smooth, pts) = face(false, 0.0, 0.0);
        let (furrowed, _) = face(true, 0.0, 0.0);
        let a = glabella_furrows(&smooth, &pts).unwrap();
        let b = glabella_furrows(&furrowed, &pts).unwrap();
        assert!(a < 1e-3, "smooth {a}");
        assert!(b > 2.0, "furrowed {b}");
    }

    #[test]
    fn a_shading_ramp_draws_no_furrows() {
        // Light from one side: 0.5 grey levels per pixel, 50 across the face.
        let (lit, pts) = face(false, 0.0, 0.5);
        let v = glabella_furrows(&lit, &pts).unwrap();
        assert!(v < 0.05, "{v}");
    }

    #[test]
    fn sensor_noise_stays_well_below_furrows() {
        // Uniform noise of +-8 grey levels (sd 4.6) on every pixel.
        let (noisy, pts) = face(false, 8.0, 0.0);
        let (furrowed, _) = face(true, 8.0, 0.0);
        let n = glabella_furrows(&noisy, &pts).unwrap();
        let f = glabella_furrows(&furrowed, &pts).unwrap();
        assert!(n < 0.8, "noise alone {n}");
        assert!(f > 3.0 * n, "furrows {f} against noise {n}");
    }

    #[test]
    fn the_score_ignores_face_size_and_roll() {
        // The same furrowed face at twice the size, and turned by 90 degrees (eyes one
        // above the other): the patch follows the eyes.
        let (small, pts) = face(true, 0.0, 0.0);
        let v = glabella_furrows(&small, &pts).unwrap();
        let (w, h) = (small.width, small.height);
        let big_rgb: Vec<u8> = (0..h * 2)
            .flat_map(|y| (0..w * 2).map(move |x| (x / 2, y / 2)))
            .flat_map(|(x, y)| small.pixel(x, y))
            .collect();
        let big = Frame::new(0, 0.0, w * 2, h * 2, big_rgb).unwrap();
        let big_pts = pts.map(|(x, y)| (x * 2.0 + 0.5, y * 2.0 + 0.5));
        let vb = glabella_furrows(&big, &big_pts).unwrap();
        assert!((vb - v).abs() < 0.25 * v, "{v} vs {vb} at twice the size");
        // Turned: x' = h - 1 - y, y' = x (a quarter turn clockwise).
        let turned_rgb: Vec<u8> = (0..w)
            .flat_map(|y2| (0..h).map(move |x2| (y2, h - 1 - x2)))
            .flat_map(|(x, y)| small.pixel(x, y))
            .collect();
        let turned = Frame::new(0, 0.0, h, w, turned_rgb).unwrap();
        let turned_pts = pts.map(|(x, y)| (h as f32 - 1.0 - y, x));
        let vt = glabella_furrows(&turned, &turned_pts).unwrap();
        assert!((vt - v).abs() < 0.1 * v, "{v} vs {vt} turned");
    }

    #[test]
    fn degenerate_eyes_and_a_black_patch_give_none() {
        let (frame, mut pts) = face(true, 0.0, 0.0);
        for p in pts.iter_mut() {
            *p = (200.0, 200.0);
        }
        assert!(glabella_furrows(&frame, &pts).is_none());
        let black = Frame::new(0, 0.0, 400, 300, vec![0; 400 * 300 * 3]).unwrap();
        let (_, pts) = face(false, 0.0, 0.0);
        assert!(glabella_furrows(&black, &pts).is_none());
    }
}
