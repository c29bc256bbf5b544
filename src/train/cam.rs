//! Class activation map galleries: for each AU, a row of the most uncertain predictions, the
//! most incorrect and the most correct, each face drawn with where the AU's logit comes from
//! (the CAM of [`AuNet::cam`], upsampled and laid over the face), captioned in words, with a
//! colour bar; and where the maps peak (which facial feature), for `facs cam`'s table.

use std::path::{Path, PathBuf};

use candle_core::Device;
use image::{Rgb, RgbImage};

use super::faces::Prepared;
use super::metrics::EvalSample;
use crate::align::ALIGN_ZOOM;
use crate::align::CANONICAL_5;
use crate::error::Result;
use crate::font::{draw_text, text_width};
use crate::frame::Landmarks;
use crate::frame::{au_description, au_name, AU_NUMBERS, NUM_AUS};
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

/// The two lines under a face in a gallery: the network's probability and the face's label
/// in words, e.g. `["p = 0.50", "labelled present"]`.
pub fn tile_caption(p: f32, label: Option<bool>) -> [String; 2] {
    let label = match label {
        Some(true) => "labelled present",
        Some(false) => "labelled absent",
        None => "not labelled",
    };
    [format!("p = {p:.2}"), label.to_string()]
}

/// A gallery's rows: what each shows, in two lines.
const ROWS: [[&str; 2]; 3] = [
    ["most uncertain", "(p nearest 0.5)"],
    ["most incorrect", "(p farthest from label)"],
    ["most confident", "correct (labelled present)"],
];

const BG: u32 = 0x20_20_28;
const INK: u32 = 0xF0_F0_F0;
const SOFT: u32 = 0xC0_C4_CC;
/// Text sizes: title, everything else.
const TITLE_PX: u32 = 18;
const TEXT_PX: u32 = 13;
/// Width and height of the colour bar.
const SCALE_W: u32 = 256;
const SCALE_H: u32 = 12;

/// Where things go in a gallery of `per_row` faces a row.
struct GalleryLayout {
    per_row: u32,
    /// Side of a face tile.
    shown: u32,
    line: u32,
    /// Height of the caption under a tile (two lines).
    caption: u32,
    /// Width of the row names' column.
    label_w: u32,
    /// Height of the title and its explanation.
    header: u32,
    /// Height of the colour bar and its labels.
    footer: u32,
}

impl GalleryLayout {
    fn new(per_row: usize) -> Self {
        let line = TEXT_PX + 3;
        GalleryLayout {
            per_row: per_row as u32,
            shown: 112,
            line,
            caption: 2 * line + 6,
            label_w: ROWS
                .iter()
                .flatten()
                .map(|s| text_width(s, TEXT_PX))
                .max()
                .unwrap_or(0)
                + 16,
            header: TITLE_PX + 2 * line + 14,
            footer: SCALE_H + 2 * line + 16,
        }
    }

    fn size(&self) -> (u32, u32) {
        let w = (self.label_w + self.per_row * (self.shown + 6) + 6).max(SCALE_W + 260);
        let h = self.header + ROWS.len() as u32 * (self.shown + self.caption) + self.footer;
        (w, h)
    }
}

/// Width and height of each gallery [`write_galleries`] draws with `per_row` faces a row,
/// its caption band (model, data, date) included.
pub fn gallery_size(per_row: usize) -> (u32, u32) {
    let (w, h) = GalleryLayout::new(per_row).size();
    (w, h + super::plot::CAPTION_BAND)
}

/// Writes one PNG per AU (`AU12.png`, ...) into `out_dir`: a title with the AU's FACS name,
/// rows of the most uncertain predictions, the most incorrect and the most confident correct
/// ones, up to `per_row` faces each, shown at 112 pixels, each captioned in words
/// ([`tile_caption`]), a colour bar giving the maps' scale, and `figure_caption` (model, data, date)
/// in a band at the bottom. Returns the files written.
///
/// # Errors
/// A tensor failure or an image that cannot be written.
pub fn write_galleries(
    net: &AuNet,
    data: &Prepared,
    samples: &[EvalSample],
    out_dir: &Path,
    per_row: usize,
    figure_caption: &str,
) -> Result<Vec<PathBuf>> {
    let side = data.side;
    let g = GalleryLayout::new(per_row);
    let (shown, line, caption, label_w, header) = (g.shown, g.line, g.caption, g.label_w, g.header);
    let (w, h) = g.size();
    let rows_h = ROWS.len() as u32 * (shown + caption);
    let mut written = Vec::new();
    for k in 0..NUM_AUS {
        let au = AU_NUMBERS[k];
        let picks = pick(samples, k, per_row);
        let rows = [&picks.uncertain, &picks.incorrect, &picks.correct];
        let mut canvas = vec![BG; (w * h) as usize];
        let mut text = |x: u32, y: u32, s: &str, colour: u32, px: u32| {
            draw_text(&mut canvas, w, x as i32, y as i32, s, colour, px)
        };
        text(
            8,
            6,
            &format!(
                "{} {}: class activation maps",
                au_name(au),
                au_description(au)
            ),
            INK,
            TITLE_PX,
        );
        text(
            8,
            10 + TITLE_PX,
            "where on each face the network's AU score comes from (warm: most, cool: least);",
            SOFT,
            TEXT_PX,
        );
        text(
            8,
            10 + TITLE_PX + line,
            "p: the network's probability that the AU is present",
            SOFT,
            TEXT_PX,
        );
        let mut tiles: Vec<(u32, u32, RgbImage)> = Vec::new();
        for (r, idx) in rows.iter().enumerate() {
            let y0 = header + r as u32 * (shown + caption);
            for (j, s) in ROWS[r].iter().enumerate() {
                text(8, y0 + shown / 2 - line + j as u32 * line, s, INK, TEXT_PX);
            }
            if idx.is_empty() {
                text(
                    label_w,
                    y0 + shown / 2 - line / 2,
                    "no such face",
                    SOFT,
                    TEXT_PX,
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
                let x0 = label_w + j as u32 * (shown + 6);
                tiles.push((x0, y0, face));
                let s = &samples[i];
                for (l, words) in tile_caption(s.au_probs[k], s.au_labels[k])
                    .iter()
                    .enumerate()
                {
                    text(x0, y0 + shown + 3 + l as u32 * line, words, INK, TEXT_PX);
                }
            }
        }
        // The colour bar: the maps' scale, from nothing to each map's own maximum.
        let y_scale = header + rows_h + 6;
        text(
            8,
            y_scale,
            "colour scale (laid half over the face):",
            SOFT,
            TEXT_PX,
        );
        let bar_x = 8u32;
        let bar_y = y_scale + line + 2;
        for dx in 0..SCALE_W {
            let c = heat(dx as f32 / (SCALE_W - 1) as f32).map(|v| (v * 255.0).round() as u32);
            let px = c[0] << 16 | c[1] << 8 | c[2];
            for dy in 0..SCALE_H {
                canvas[((bar_y + dy) * w + bar_x + dx) as usize] = px;
            }
        }
        let mut text = |x: u32, y: u32, s: &str| {
            draw_text(&mut canvas, w, x as i32, y as i32, s, SOFT, TEXT_PX)
        };
        text(bar_x + SCALE_W + 8, bar_y - 2, "0 to the map's own maximum");
        text(bar_x, bar_y + SCALE_H + 2, "0");
        let end = "max";
        text(
            bar_x + SCALE_W - text_width(end, TEXT_PX),
            bar_y + SCALE_H + 2,
            end,
        );
        let mut img = RgbImage::from_fn(w, h, |x, y| {
            let p = canvas[(y * w + x) as usize];
            Rgb([(p >> 16) as u8, (p >> 8) as u8, p as u8])
        });
        for (x0, y0, face) in tiles {
            image::imageops::overlay(&mut img, &face, x0 as i64, y0 as i64);
        }
        let path = out_dir.join(format!("{}.png", au_name(au)));
        super::plot::save_png(&super::plot::with_caption(&img, figure_caption)?, &path)?;
        written.push(path);
    }
    Ok(written)
}

/// Horizontal bands of the aligned face crop, top to bottom.
pub const REGIONS: [&str; 5] = ["brows", "eyes", "nose", "mouth", "contour"];

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

/// The [`REGIONS`] feature of the landmark nearest to `p` (landmarks and `p` in crop
/// pixels): brows (points 17-26), eyes (36-47), nose (27-35), mouth (48-67), and the face
/// contour (0-16: jaw line, chin, lower cheeks).
pub fn nearest_feature(pts: &Landmarks, p: (f32, f32)) -> usize {
    let d = |q: &(f32, f32)| (q.0 - p.0).powi(2) + (q.1 - p.1).powi(2);
    let nearest = pts
        .iter()
        .enumerate()
        .min_by(|a, b| d(a.1).total_cmp(&d(b.1)))
        .map_or(0, |(i, _)| i);
    (0..REGIONS.len())
        .find(|&r| feature_points(r).contains(&nearest))
        .unwrap_or(4)
}

/// The centre of a map's largest cell, in crop pixels, for a `side` px crop and a
/// `cam_side` x `cam_side` map.
pub fn peak(cam: &[f32], cam_side: usize, side: usize) -> (f32, f32) {
    let i = cam
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i);
    let cell = side as f32 / cam_side.max(1) as f32;
    (
        ((i % cam_side.max(1)) as f32 + 0.5) * cell,
        ((i / cam_side.max(1)) as f32 + 0.5) * cell,
    )
}

/// Where each AU acts ([`REGIONS`] index), in [`AU_NUMBERS`] order: AU1, AU2 and AU4 at the
/// brows, AU5 and AU6 at the eyes (AU6 narrows them from below), AU9 at the nose, the rest
/// at the mouth.
pub const AU_REGION: [usize; NUM_AUS] = [0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 3];

/// How far around a feature a map's peak still counts as on it, in eye distances (about one
/// map cell at 48 px).
pub const NEAR: f32 = 0.3;

/// The landmark points of each of [`REGIONS`].
pub fn feature_points(region: usize) -> std::ops::Range<usize> {
    match region {
        0 => 17..27,
        1 => 36..48,
        2 => 27..36,
        3 => 48..68,
        _ => 0..17,
    }
}

/// For each face labelled with AU `k`: its index, and its map's [`peak`] in crop pixels
/// (maps computed in batches of 64).
fn positive_peaks(net: &AuNet, data: &Prepared, k: usize) -> Result<Vec<(usize, (f32, f32))>> {
    let side = data.side as usize;
    let cam_side = net.config.cam_side() as usize;
    let positives: Vec<usize> = (0..data.len())
        .filter(|&i| data.labels[i][k] == Some(true))
        .collect();
    let mut out = Vec::with_capacity(positives.len());
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
        for (&i, cam) in chunk.iter().zip(&cams) {
            out.push((i, peak(cam, cam_side, side)));
        }
    }
    Ok(out)
}

/// True if `peak` (crop pixels) lies inside the box around feature `region`
/// ([`feature_points`] of the landmarks `pts`) grown by `margin` times the distance between
/// the eye centres on every side.
pub fn peak_on_feature(pts: &Landmarks, peak: (f32, f32), region: usize, margin: f32) -> bool {
    let centre = |r: std::ops::Range<usize>| {
        let n = r.len() as f32;
        r.fold((0.0, 0.0), |(x, y), i| (x + pts[i].0 / n, y + pts[i].1 / n))
    };
    let (l, r) = (centre(36..42), centre(42..48));
    let grow = margin * ((l.0 - r.0).powi(2) + (l.1 - r.1).powi(2)).sqrt();
    let (x0, x1, y0, y1) = feature_points(region).map(|i| pts[i]).fold(
        (f32::MAX, f32::MIN, f32::MAX, f32::MIN),
        |(a, b, c, d), (x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    let (x, y) = peak;
    x >= x0 - grow && x <= x1 + grow && y >= y0 - grow && y <= y1 + grow
}

/// Where one AU's maps peak over the faces labelled with it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeakSummary {
    /// Faces labelled with the AU.
    pub faces: usize,
    /// How many peak nearest each of [`REGIONS`] ([`peak_regions`]).
    pub nearest: [usize; REGIONS.len()],
    /// The share of those with landmarks whose peak is on the AU's own feature
    /// ([`AU_REGION`], [`peak_on_feature`]); None without landmarks.
    pub on_feature: Option<f64>,
}

/// [`PeakSummary`] of AU `k` from one pass over its faces' maps, the own feature grown by
/// `margin` eye distances.
///
/// # Errors
/// A tensor operation failed.
pub fn peak_summary(net: &AuNet, data: &Prepared, k: usize, margin: f32) -> Result<PeakSummary> {
    let side = data.side as f32;
    let mut s = PeakSummary::default();
    let (mut with_landmarks, mut on) = (0usize, 0usize);
    for (i, p) in positive_peaks(net, data, k)? {
        s.faces += 1;
        let pts = data.landmarks.get(i).copied().flatten();
        let region = match &pts {
            Some(pts) => nearest_feature(pts, p),
            None => region_at(p.1 / side),
        };
        s.nearest[region] += 1;
        if let Some(pts) = &pts {
            with_landmarks += 1;
            on += peak_on_feature(pts, p, AU_REGION[k], margin) as usize;
        }
    }
    s.on_feature = (with_landmarks > 0).then(|| on as f64 / with_landmarks as f64);
    Ok(s)
}

/// For AU `k`: the share of the faces labelled present (and with landmarks) whose map's
/// [`peak`] is on feature `region` ([`peak_on_feature`], grown by `margin` eye distances).
/// None without such faces.
///
/// # Errors
/// A tensor operation failed.
pub fn peak_share_near(
    net: &AuNet,
    data: &Prepared,
    k: usize,
    region: usize,
    margin: f32,
) -> Result<Option<f64>> {
    let (mut faces, mut inside) = (0usize, 0usize);
    for (i, p) in positive_peaks(net, data, k)? {
        let Some(pts) = data.landmarks.get(i).copied().flatten() else {
            continue;
        };
        faces += 1;
        inside += peak_on_feature(&pts, p, region, margin) as usize;
    }
    Ok((faces > 0).then(|| inside as f64 / faces as f64))
}

/// For AU `k`: over the faces labelled present, how many have their class activation map's
/// [`peak`] at each of [`REGIONS`]: the feature of the face's nearest landmark when its
/// landmarks are known, else the template's band at that height ([`region_at`]). The answer
/// to "does the AU12 map look at the mouth?".
///
/// # Errors
/// A tensor operation failed.
pub fn peak_regions(net: &AuNet, data: &Prepared, k: usize) -> Result<[usize; REGIONS.len()]> {
    Ok(peak_summary(net, data, k, NEAR)?.nearest)
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
    fn peak_and_nearest_feature() {
        // 4x4 map over a 16 px crop: the largest cell is row 2, column 1 -> centre (6, 10).
        let mut cam = vec![0.0; 16];
        cam[9] = 3.0;
        cam[2] = 1.0;
        assert_eq!(peak(&cam, 4, 16), (6.0, 10.0));
        // Each feature's points on a row of its own, spread across the face.
        let mut pts = [(0.0f32, 0.0f32); 68];
        for (range, y) in [
            (17..27, 10.0),
            (36..48, 16.0),
            (27..36, 24.0),
            (48..68, 32.0),
            (0..17, 44.0),
        ] {
            let n = range.len() as f32;
            for (j, i) in range.enumerate() {
                pts[i] = (8.0 + 32.0 * j as f32 / n, y);
            }
        }
        let name = |x: f32, y: f32| REGIONS[nearest_feature(&pts, (x, y))];
        assert_eq!(name(20.0, 9.0), "brows");
        assert_eq!(name(20.0, 14.0), "eyes");
        assert_eq!(name(20.0, 25.0), "nose");
        assert_eq!(name(20.0, 30.0), "mouth");
        assert_eq!(name(20.0, 47.0), "contour");
    }

    #[test]
    fn regions_follow_the_template() {
        // Eye line at 0.465, nose tip 0.622, mouth corners 0.782 of the crop (zoom 1.15).
        assert_eq!(REGIONS[region_at(0.25)], "brows");
        assert_eq!(REGIONS[region_at(0.47)], "eyes");
        assert_eq!(REGIONS[region_at(0.6)], "nose");
        assert_eq!(REGIONS[region_at(0.78)], "mouth");
        assert_eq!(REGIONS[region_at(0.95)], "contour");
    }

    #[test]
    fn captions_are_words() {
        assert_eq!(
            tile_caption(0.5, Some(true)),
            ["p = 0.50".to_string(), "labelled present".to_string()]
        );
        assert_eq!(tile_caption(0.123, Some(false))[1], "labelled absent");
        assert_eq!(tile_caption(0.9, None), ["p = 0.90", "not labelled"]);
    }

    #[test]
    fn a_peak_is_on_a_feature_within_the_margin() {
        // Eyes 20 px apart (centres at x = 10 and 30, y = 20); brows on y = 10, x 5..35.
        let mut pts = [(20.0f32, 40.0f32); 68];
        for i in 36..42 {
            pts[i] = (10.0, 20.0);
        }
        for i in 42..48 {
            pts[i] = (30.0, 20.0);
        }
        for (j, i) in (17..27).enumerate() {
            pts[i] = (5.0 + 30.0 * j as f32 / 9.0, 10.0);
        }
        // The brows' box grown by 0.3 * 20 = 6 px: y from 4 to 16.
        assert!(peak_on_feature(&pts, (20.0, 15.0), 0, 0.3));
        assert!(!peak_on_feature(&pts, (20.0, 17.0), 0, 0.3));
        assert!(!peak_on_feature(&pts, (20.0, 3.0), 0, 0.3));
        assert!(peak_on_feature(&pts, (20.0, 3.0), 0, 0.5));
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
