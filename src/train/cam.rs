//! Class activation map galleries: for each AU, a row of the most uncertain predictions, the
//! most incorrect and the most correct, each face drawn with where the AU's logit comes from
//! (the CAM of [`AuNet::cam`], upsampled and laid over the face).

use std::path::{Path, PathBuf};

use candle_core::Device;
use image::{Rgb, RgbImage};

use super::faces::{Prepared, ALIGN_ZOOM};
use super::metrics::EvalSample;
use crate::align::CANONICAL_5;
use crate::error::Result;
use crate::font::draw_text;
use crate::frame::{AU_NUMBERS, NUM_AUS};
use crate::model::au_net::{to_tensor, AuNet, Head};

/// Which faces a gallery row shows for one AU (indices into the data).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GalleryPicks {
    /// Probability closest to 0.5.
    pub uncertain: Vec<usize>,
    /// Largest |p - label|.
    pub incorrect: Vec<usize>,
    /// Positives with the highest probability.
    pub correct: Vec<usize>,
}

/// Picks up to `n` faces per row for AU `k` among samples whose label for it is known.
pub fn pick(samples: &[EvalSample], k: usize, n: usize) -> GalleryPicks {
    let known: Vec<(usize, f32, bool)> = samples
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.au_labels[k].map(|y| (i, s.au_probs[k], y)))
        .collect();
    let take = |mut v: Vec<(usize, f32)>| -> Vec<usize> {
        v.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        v.into_iter().take(n).map(|(i, _)| i).collect()
    };
    GalleryPicks {
        uncertain: take(
            known
                .iter()
                .map(|&(i, p, _)| (i, (p - 0.5).abs()))
                .collect(),
        ),
        incorrect: take(
            known
                .iter()
                .map(|&(i, p, y)| (i, -(p - y as u8 as f32).abs()))
                .filter(|&(_, d)| d < -0.5)
                .collect(),
        ),
        correct: take(
            known
                .iter()
                .filter(|&&(_, _, y)| y)
                .map(|&(i, p, _)| (i, -p))
                .collect(),
        ),
    }
}

/// A blue-to-red colour for `v` in [0, 1].
fn heat(v: f32) -> [f32; 3] {
    let v = v.clamp(0.0, 1.0);
    [
        (1.5 - (4.0 * v - 3.0).abs()).clamp(0.0, 1.0),
        (1.5 - (4.0 * v - 2.0).abs()).clamp(0.0, 1.0),
        (1.5 - (4.0 * v - 1.0).abs()).clamp(0.0, 1.0),
    ]
}

/// The face with its CAM (`cam`, `side_c` x `side_c`, positive part scaled to its maximum)
/// laid over it, bilinearly upsampled, half transparent.
pub fn overlay(crop: &[u8], side: u32, cam: &[f32], side_c: u32) -> RgbImage {
    let max = cam.iter().copied().fold(0.0f32, f32::max).max(1e-6);
    let mut img = RgbImage::new(side, side);
    let s = side_c as f32 / side as f32;
    for y in 0..side {
        for x in 0..side {
            let cx = ((x as f32 + 0.5) * s - 0.5).clamp(0.0, side_c as f32 - 1.0);
            let cy = ((y as f32 + 0.5) * s - 0.5).clamp(0.0, side_c as f32 - 1.0);
            let (x0, y0) = (cx.floor() as u32, cy.floor() as u32);
            let (x1, y1) = ((x0 + 1).min(side_c - 1), (y0 + 1).min(side_c - 1));
            let (fx, fy) = (cx - x0 as f32, cy - y0 as f32);
            let at = |xx: u32, yy: u32| cam[(yy * side_c + xx) as usize].max(0.0) / max;
            let v = (at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx) * (1.0 - fy)
                + (at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx) * fy;
            let h = heat(v);
            let i = ((y * side + x) * 3) as usize;
            let px = [0, 1, 2].map(|c| (0.5 * crop[i + c] as f32 + 0.5 * 255.0 * h[c]) as u8);
            img.put_pixel(x, y, Rgb(px));
        }
    }
    img
}

/// Writes one PNG per AU (`AU12.png`, ...) into `out_dir`: rows UNCERTAIN, MOST INCORRECT,
/// MOST CORRECT, up to `per_row` faces each, shown at `shown` pixels, captioned with the
/// probability and the label. Returns the files written.
///
/// # Errors
/// A tensor failure or an image that cannot be written.
pub fn write_galleries(
    net: &AuNet,
    data: &Prepared,
    samples: &[EvalSample],
    out_dir: &Path,
    per_row: usize,
) -> Result<Vec<PathBuf>> {
    let side = data.side;
    let shown = 96u32;
    let caption = 12u32;
    let label_w = 110u32;
    let mut written = Vec::new();
    for k in 0..NUM_AUS {
        let picks = pick(samples, k, per_row);
        let rows = [
            ("UNCERTAIN", &picks.uncertain),
            ("MOST INCORRECT", &picks.incorrect),
            ("MOST CORRECT", &picks.correct),
        ];
        let w = label_w + per_row as u32 * (shown + 4);
        let h = 20 + rows.len() as u32 * (shown + caption + 6);
        let mut canvas = vec![0x20_20_28u32; (w * h) as usize];
        draw_text(
            &mut canvas,
            w,
            6,
            6,
            &format!("AU{:02} CLASS ACTIVATION MAPS", AU_NUMBERS[k]),
            0xFF_FF_FF,
            1,
        );
        let mut tiles: Vec<(u32, u32, RgbImage)> = Vec::new();
        for (r, (name, idx)) in rows.iter().enumerate() {
            let y0 = 20 + r as u32 * (shown + caption + 6);
            draw_text(
                &mut canvas,
                w,
                6,
                (y0 + shown / 2) as i32,
                name,
                0xC0_C0_C0,
                1,
            );
            if idx.is_empty() {
                draw_text(
                    &mut canvas,
                    w,
                    label_w as i32,
                    (y0 + shown / 2) as i32,
                    "NONE",
                    0x80_80_80,
                    1,
                );
                continue;
            }
            let mut crops = Vec::new();
            for &i in idx.iter() {
                crops.extend_from_slice(data.crop(i));
            }
            let x = to_tensor(&crops, idx.len(), side as usize, &Device::Cpu)?;
            let cams = net
                .cam(&x, Head::Au(k))?
                .flatten_from(1)?
                .to_vec2::<f32>()?;
            for (j, (&i, cam)) in idx.iter().zip(&cams).enumerate() {
                let face = overlay(data.crop(i), side, cam, net.config.cam_side());
                let face = image::imageops::resize(
                    &face,
                    shown,
                    shown,
                    image::imageops::FilterType::Triangle,
                );
                let x0 = label_w + j as u32 * (shown + 4);
                tiles.push((x0, y0, face));
                let s = &samples[i];
                let label = match s.au_labels[k] {
                    Some(true) => "Y1",
                    Some(false) => "Y0",
                    None => "Y?",
                };
                draw_text(
                    &mut canvas,
                    w,
                    x0 as i32,
                    (y0 + shown + 2) as i32,
                    &format!("P{:.2} {label}", s.au_probs[k]),
                    0xFF_FF_FF,
                    1,
                );
            }
        }
        let mut img = RgbImage::from_fn(w, h, |x, y| {
            let p = canvas[(y * w + x) as usize];
            Rgb([(p >> 16) as u8, (p >> 8) as u8, p as u8])
        });
        for (x0, y0, face) in tiles {
            image::imageops::overlay(&mut img, &face, x0 as i64, y0 as i64);
        }
        let path = out_dir.join(format!("AU{:02}.png", AU_NUMBERS[k]));
        super::plot::save_png(&img, &path)?;
        written.push(path);
    }
    Ok(written)
}

/// Horizontal bands of the aligned face crop, top to bottom.
pub const REGIONS: [&str; 5] = ["brows", "eyes", "nose", "mouth", "chin"];

/// The band ([`REGIONS`] index) at height `y` of an aligned crop (0 = top, 1 = bottom). The
/// bounds come from the 5-point template the crops are aligned to: the eye line, the nose
/// tip and the mouth corners at [`ALIGN_ZOOM`]; brows are above a quarter of the eye-to-nose
/// distance over the eye line, the chin below half the nose-to-mouth distance under the
/// mouth corners.
pub fn region_at(y: f32) -> usize {
    let at = |v: f32| 0.5 + (v - 0.5) / ALIGN_ZOOM;
    let eyes = at((CANONICAL_5[0].1 + CANONICAL_5[1].1) / 2.0);
    let nose = at(CANONICAL_5[2].1);
    let mouth = at((CANONICAL_5[3].1 + CANONICAL_5[4].1) / 2.0);
    let bounds = [
        eyes - 0.25 * (nose - eyes),
        (eyes + nose) / 2.0,
        (nose + mouth) / 2.0,
        mouth + 0.5 * (mouth - nose),
    ];
    bounds.iter().filter(|&&b| y >= b).count()
}

/// Height (0 = top, 1 = bottom) of a map's hot spot: the centroid of the cells at or above
/// half its maximum, weighted by their values (finer than the cell of the maximum alone).
pub fn hot_spot_y(cam: &[f32], side: usize) -> f32 {
    let max = cam.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weight) = (0.0, 0.0);
    for (i, &v) in cam.iter().enumerate() {
        if max > 0.0 && v >= 0.5 * max {
            sum += v * ((i / side) as f32 + 0.5);
            weight += v;
        }
    }
    if weight > 0.0 {
        sum / weight / side as f32
    } else {
        0.5
    }
}

/// For AU `k`: over the faces labelled present, how many have their class activation map's
/// hot spot ([`hot_spot_y`]) in each of [`REGIONS`] (the answer to "does the AU12 map look at the mouth?").
///
/// # Errors
/// A tensor operation failed.
pub fn peak_regions(net: &AuNet, data: &Prepared, k: usize) -> Result<[usize; REGIONS.len()]> {
    let side = data.side as usize;
    let cam_side = net.config.cam_side() as usize;
    let positives: Vec<usize> = (0..data.len())
        .filter(|&i| data.labels[i][k] == Some(true))
        .collect();
    let mut counts = [0usize; REGIONS.len()];
    for chunk in positives.chunks(64) {
        let mut crops = Vec::with_capacity(chunk.len() * side * side * 3);
        for &i in chunk {
            crops.extend_from_slice(data.crop(i));
        }
        let x = to_tensor(&crops, chunk.len(), side, &Device::Cpu)?;
        let cams = net
            .cam(&x, Head::Au(k))?
            .flatten_from(1)?
            .to_vec2::<f32>()?;
        for cam in cams {
            counts[region_at(hot_spot_y(&cam, cam_side))] += 1;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(label: Option<bool>, p: f32) -> EvalSample {
        let mut s = EvalSample {
            au_labels: [None; NUM_AUS],
            au_probs: [0.0; NUM_AUS],
            emotion_label: None,
            emotion_probs: [0.0; 7],
        };
        s.au_labels[0] = label;
        s.au_probs[0] = p;
        s
    }

    #[test]
    fn picks_by_row() {
        let s = vec![
            sample(Some(true), 0.9),  // 0: correct
            sample(Some(false), 0.8), // 1: incorrect by 0.8
            sample(Some(true), 0.45), // 2: uncertain
            sample(None, 0.5),        // 3: unknown, never shown
            sample(Some(true), 0.1),  // 4: incorrect by 0.9
        ];
        let p = pick(&s, 0, 2);
        assert_eq!(p.uncertain, vec![2, 1]);
        assert_eq!(p.incorrect, vec![4, 1]);
        assert_eq!(p.correct, vec![0, 2]);
    }

    #[test]
    fn hot_spot_is_the_weighted_centre_of_the_hot_cells() {
        // 4x4 map: rows 2 and 3 hot (4 and 4), row 0 lukewarm (1, below half the maximum).
        let mut cam = vec![0.0; 16];
        cam[1] = 1.0;
        cam[9] = 4.0;
        cam[13] = 4.0;
        assert!((hot_spot_y(&cam, 4) - 3.0 / 4.0).abs() < 1e-6);
        assert_eq!(hot_spot_y(&[0.0; 16], 4), 0.5);
    }

    #[test]
    fn regions_follow_the_template() {
        // Eye line at 0.465, nose tip 0.622, mouth corners 0.782 of the crop (zoom 1.15).
        assert_eq!(REGIONS[region_at(0.25)], "brows");
        assert_eq!(REGIONS[region_at(0.47)], "eyes");
        assert_eq!(REGIONS[region_at(0.6)], "nose");
        assert_eq!(REGIONS[region_at(0.78)], "mouth");
        assert_eq!(REGIONS[region_at(0.95)], "chin");
    }

    #[test]
    fn overlay_is_hot_where_the_map_is() {
        // A 2x2 map hot in its top-left cell over a grey 8x8 face: the top-left is red-ish,
        // the bottom-right blue-ish.
        let crop = vec![128u8; 8 * 8 * 3];
        let img = overlay(&crop, 8, &[1.0, 0.0, 0.0, 0.0], 2);
        let tl = img.get_pixel(0, 0);
        let br = img.get_pixel(7, 7);
        assert!(tl[0] > tl[2], "{tl:?}");
        assert!(br[2] > br[0], "{br:?}");
    }
}
