//! The live class activation map overlay: which AU's map is shown (key m cycles AU01, AU02,
//! ... AU26, off; `--cam AU12` starts on one), and the drawing of that map over each face box,
//! upsampled from the network's map cells to frame pixels through the crop's alignment, in a
//! colour map, alpha-blended, with a label naming the AU. The maps themselves come from the
//! classify stage ([`crate::frame::AuCam`], the same pass as the AU scores); this module only
//! draws. Self-contained beside the overlay: it draws after it, inside the face boxes.

use crate::canvas::Canvas;
use crate::frame::{au_name, Analysed, AuCam, FaceBox, AU_NUMBERS, NUM_AUS};

/// Which AU's map is shown; `None` shows none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CamView {
    selected: Option<usize>,
}

impl CamView {
    /// Starts showing the AU at `index` (in [`AU_NUMBERS`] order), or nothing.
    pub fn new(selected: Option<usize>) -> Self {
        CamView {
            selected: selected.filter(|&i| i < NUM_AUS),
        }
    }

    /// The next state for key m: off -> AU01 -> AU02 -> ... -> AU26 -> off.
    pub fn cycle(&mut self) {
        self.selected = match self.selected {
            None => Some(0),
            Some(i) if i + 1 < NUM_AUS => Some(i + 1),
            Some(_) => None,
        };
    }

    /// The AU shown (its index in [`AU_NUMBERS`] order).
    pub fn selected(&self) -> Option<usize> {
        self.selected
    }
}

/// Parses an AU for `--cam`: `AU12`, `au12` or `12`, one of the AUs facs scores.
///
/// # Errors
/// A message listing the AUs accepted.
pub fn parse_au(text: &str) -> std::result::Result<usize, String> {
    let t = text.trim();
    let digits = t
        .strip_prefix("AU")
        .or_else(|| t.strip_prefix("au"))
        .unwrap_or(t);
    digits
        .parse::<u8>()
        .ok()
        .and_then(|n| AU_NUMBERS.iter().position(|&a| a == n))
        .ok_or_else(|| {
            let all: Vec<String> = AU_NUMBERS.iter().map(|&a| au_name(a)).collect();
            format!("unknown AU `{text}` (expected one of {})", all.join(", "))
        })
}

/// The label drawn with a map: `CAM AU12 lip corner puller`.
pub fn label(index: usize) -> String {
    let n = AU_NUMBERS.get(index).copied().unwrap_or(0);
    let words = crate::frame::au_description(n);
    format!("CAM {} {words}", au_name(n)).trim_end().to_string()
}

/// Opacity of the map at its strongest cell; its weakest cell is transparent.
pub const MAX_ALPHA: f32 = 0.6;
/// Side of the pixel blocks that share one sample of the map.
const BLOCK: usize = 2;
/// Pixels kept clear inside the box, so that its outline stays visible.
const INSET: i32 = 2;
const LABEL_FG: u32 = 0xFF_FF_FF;
const LABEL_BG: u32 = 0x00_00_00;

/// A blue -> cyan -> green -> yellow -> red colour map of `t` in [0, 1], 0RGB.
pub fn colour(t: f32) -> u32 {
    const STOPS: [[f32; 3]; 5] = [
        [0.0, 0.0, 1.0],
        [0.0, 1.0, 1.0],
        [0.0, 1.0, 0.0],
        [1.0, 1.0, 0.0],
        [1.0, 0.0, 0.0],
    ];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f32;
    let c: [f32; 3] = std::array::from_fn(|k| STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f);
    let byte = |v: f32| (v * 255.0).round().clamp(0.0, 255.0) as u32;
    byte(c[0]) << 16 | byte(c[1]) << 8 | byte(c[2])
}

/// `map` (`side` x `side` cells) at cell coordinates (`x`, `y`), bilinear between cell
/// centres, the edge cells extended to the map's border; None outside the map. (Casts
/// rather than `floor`: without SSE4.1 `floor` is a library call, and this runs per pixel.)
#[inline]
fn sample(map: &[f32], side: usize, x: f32, y: f32) -> Option<f32> {
    let s = side as f32;
    if !(x >= 0.0 && x <= s && y >= 0.0 && y <= s) {
        return None;
    }
    let last = s - 1.0;
    let (u, v) = ((x - 0.5).max(0.0).min(last), (y - 0.5).max(0.0).min(last));
    // Non-negative: truncation is the floor.
    let (i, j) = (u as usize, v as usize);
    let (i1, j1) = ((i + 1).min(side - 1), (j + 1).min(side - 1));
    let (fu, fv) = (u - i as f32, v - j as f32);
    let at = |a: usize, b: usize| map.get(b * side + a).copied().unwrap_or(0.0);
    let top = at(i, j) + (at(i1, j) - at(i, j)) * fu;
    let bottom = at(i, j1) + (at(i1, j1) - at(i, j1)) * fu;
    Some(top + (bottom - top) * fv)
}

/// Blends the map of AU `index` over the inside of `face` (frame pixels, clipped to the
/// `frame_w` x `frame_h` frame area of `canvas`): each 2 x 2 pixel block takes the map's
/// value where the crop's alignment puts its centre, scaled to [0, 1] between the map's
/// weakest and strongest cells, coloured by [`colour`] at opacity `MAX_ALPHA * value`. Then
/// the label, at the bottom of the box. Returns false (drawing nothing) when the map is missing.
pub fn draw_face(
    canvas: &mut Canvas<u32>,
    frame_w: u32,
    frame_h: u32,
    face: &FaceBox,
    cam: &AuCam,
    index: usize,
) -> bool {
    let Some(map) = cam.map(index) else {
        return false;
    };
    let lo = map.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = map.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !(lo.is_finite() && hi.is_finite()) {
        return false;
    }
    // The map scaled to [0, 255] once, and each of the 256 levels' colour and opacity
    // (alpha in 1/256ths) once: the per-pixel work is a bilinear sample and an integer blend.
    let scale = 255.0 / (hi - lo).max(1e-12);
    let levels: Vec<f32> = map.iter().map(|v| (v - lo) * scale).collect();
    let lut: Vec<([u32; 3], u32)> = (0..256u32)
        .map(|l| {
            let t = l as f32 / 255.0;
            let c = colour(t);
            let alpha = (MAX_ALPHA * t * 256.0).round() as u32;
            ([(c >> 16) & 0xFF, (c >> 8) & 0xFF, c & 0xFF], alpha)
        })
        .collect();
    let (x0, y0, x1, y1) = inside(canvas, frame_w, frame_h, face);
    // One sample per 2 x 2 pixel block, at its centre: a cell spans tens of pixels on any
    // face the detector finds, so the step does not show, and it quarters the sampling.
    let [a, b, _, _] = cam.to_cell;
    let width = canvas.width as usize;
    for by in (y0..y1).step_by(BLOCK) {
        let c = BLOCK as f32 / 2.0;
        // Cell coordinates move by (a, b) per pixel to the right.
        let (mut cx, mut cy) = cam.cell_of(x0 as f32 + c, by as f32 + c);
        for bx in (x0..x1).step_by(BLOCK) {
            let level = sample(&levels, cam.side, cx, cy);
            cx += a * BLOCK as f32;
            cy += b * BLOCK as f32;
            let Some(level) = level else {
                continue;
            };
            let (over, alpha) = lut[((level + 0.5) as usize).min(255)];
            for y in by..(by + BLOCK as i32).min(y1) {
                let row = y as usize * width;
                let (start, end) = (
                    row + bx as usize,
                    row + (bx + BLOCK as i32).min(x1) as usize,
                );
                if let Some(px) = canvas.pixels.get_mut(start..end) {
                    for p in px {
                        *p = blend_fixed(*p, over, alpha);
                    }
                }
            }
        }
    }
    draw_label(canvas, (x0, y0, x1, y1), &label(index));
    true
}

/// Draws the selected AU's map over every face of `a` that has maps; returns how many.
pub fn draw(a: &Analysed, index: usize, canvas: &mut Canvas<u32>) -> usize {
    let (w, h) = (a.frame.width, a.frame.height);
    a.faces
        .iter()
        .filter(|r| {
            r.scores
                .au_cam
                .as_ref()
                .is_some_and(|cam| draw_face(canvas, w, h, &r.face.bbox, cam, index))
        })
        .count()
}

/// A one-line note at the top left of the frame (e.g. why no map can be shown).
pub fn draw_note(canvas: &mut Canvas<u32>, frame_w: u32, text: &str) {
    let (px, strip) = label_size(canvas.height, canvas.height as i32);
    let shown = crate::font::fit(text, px, frame_w.saturating_sub(10));
    let w = crate::font::text_width(&shown, px) as i32 + 6;
    canvas.fill_rect(2, 2, w, strip + 2, LABEL_BG);
    canvas.text(5, 3, &shown, LABEL_FG, px);
}

/// Text size and label strip height for a canvas `canvas_h` high, in a space `room_h`
/// high: the overlay panel's size (1/27 of the height, 13 to 30 px), smaller in a small
/// face box (at most a sixth of it, at least 10 px).
fn label_size(canvas_h: u32, room_h: i32) -> (u32, i32) {
    let px = (canvas_h / 27)
        .clamp(13, 30)
        .min((room_h.max(0) as u32 / 6).max(10));
    (px, (px + (px / 5).max(2)) as i32 + 2)
}

/// The note `m` shows when the AUs are not from a trained network.
pub const NEEDS_TRAINED: &str = "CAM needs a trained AU network (facs train, --au-model)";

/// The box's inside in canvas pixels, clipped to the frame area: [x0, x1) x [y0, y1).
fn inside(canvas: &Canvas<u32>, frame_w: u32, frame_h: u32, b: &FaceBox) -> (i32, i32, i32, i32) {
    let (fw, fh) = (
        frame_w.min(canvas.width) as i32,
        frame_h.min(canvas.height) as i32,
    );
    let (x, y, w, h) = (b.x as i32, b.y as i32, b.w as i32, b.h as i32);
    (
        (x + INSET).clamp(0, fw),
        (y + INSET).clamp(0, fh),
        (x + w - INSET).clamp(0, fw),
        (y + h - INSET).clamp(0, fh),
    )
}

/// The label on a dark strip at the bottom of the box's inside, cut to its width.
fn draw_label(canvas: &mut Canvas<u32>, (x0, y0, x1, y1): (i32, i32, i32, i32), text: &str) {
    let (px, strip) = label_size(canvas.height, y1 - y0);
    if x1 - x0 < 8 || y1 - y0 < strip {
        return;
    }
    let shown = crate::font::fit(text, px, (x1 - x0 - 4) as u32);
    if shown.is_empty() {
        return;
    }
    let w = (crate::font::text_width(&shown, px) as i32 + 4).min(x1 - x0);
    let y = y1 - strip;
    canvas.fill_rect(x0, y, w, strip, LABEL_BG);
    // The text, clipped to the strip (the canvas only clips at its own edges).
    let mut tmp = Canvas::new(w as u32, strip as u32, LABEL_BG);
    tmp.text(2, 1, &shown, LABEL_FG, px);
    for (r, row) in tmp.pixels.chunks_exact(w as usize).enumerate() {
        let start = ((y + r as i32) as u32 * canvas.width + x0 as u32) as usize;
        if let Some(dst) = canvas.pixels.get_mut(start..start + w as usize) {
            dst.copy_from_slice(row);
        }
    }
}

/// `over` (RGB channels) on `under` (0RGB) at opacity `alpha` / 256.
fn blend_fixed(under: u32, over: [u32; 3], alpha: u32) -> u32 {
    let ch = |s: u32, o: u32| {
        let u = (under >> s) & 0xFF;
        let v = (u * (256 - alpha) + o * alpha + 128) >> 8;
        v.min(255) << s
    };
    ch(16, over[0]) | ch(8, over[1]) | ch(0, over[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_m_cycles_every_au_in_order_then_off() {
        let mut v = CamView::default();
        assert_eq!(v.selected(), None);
        let mut seen = Vec::new();
        for _ in 0..NUM_AUS {
            v.cycle();
            seen.push(AU_NUMBERS[v.selected().unwrap()]);
        }
        assert_eq!(seen, AU_NUMBERS.to_vec());
        v.cycle();
        assert_eq!(v.selected(), None, "after AU26 comes off");
        v.cycle();
        assert_eq!(v.selected(), Some(0), "and then AU01 again");
        // `--cam AU12` starts on AU12; the next is AU17.
        let mut v = CamView::new(Some(parse_au("AU12").unwrap()));
        assert_eq!(label(v.selected().unwrap()), "CAM AU12 lip corner puller");
        v.cycle();
        assert_eq!(v.selected().map(|i| AU_NUMBERS[i]), Some(17));
        assert_eq!(CamView::new(Some(NUM_AUS)).selected(), None);
    }

    #[test]
    fn au_names_parse_and_unknown_ones_are_refused() {
        assert_eq!(parse_au("AU01"), Ok(0));
        assert_eq!(parse_au("au26"), Ok(NUM_AUS - 1));
        assert_eq!(parse_au("12"), Ok(6));
        for bad in ["AU03", "AU", "smile", "AU1200"] {
            let e = parse_au(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("AU12"), "{e}");
        }
    }

    #[test]
    fn the_blended_maps_peak_lands_where_the_cam_peaks() {
        // A 7x7 map peaking at cell (5, 2) (column 5, row 2), laid over a 140 px face box at
        // (30, 20) by a plain scale (20 px per cell), as an unaligned box crop gives.
        let side = 7;
        let mut maps = vec![0f32; NUM_AUS * side * side];
        let au = 6;
        let (pc, pr) = (5usize, 2usize);
        for r in 0..side {
            for c in 0..side {
                let d2 = (c as f32 - pc as f32).powi(2) + (r as f32 - pr as f32).powi(2);
                maps[au * side * side + r * side + c] = (-d2 / 2.0).exp() * 3.0 - 1.0;
            }
        }
        let (bx, by, px_per_cell) = (30.0, 20.0, 20.0);
        let cam = AuCam {
            side,
            maps,
            to_cell: [1.0 / px_per_cell, 0.0, -bx / px_per_cell, -by / px_per_cell],
        };
        let face = FaceBox {
            x: bx,
            y: by,
            w: 140.0,
            h: 140.0,
            confidence: 1.0,
        };
        let grey = 0x80_80_80;
        let mut canvas = Canvas::new(260, 220, grey);
        assert!(draw_face(&mut canvas, 200, 200, &face, &cam, au));
        // The pixel the blend changed most, away from the label strip, is the reddest: it
        // lies within half a cell of the peak cell's centre (100, 70).
        let inner_h = 140 - 2 * INSET;
        let strip_top = ((by + 140.0) as i32 - INSET - label_size(220, inner_h).1) as u32;
        let mut best = (0u32, 0u32, 0i32);
        for y in 0..strip_top {
            for x in 0..200 {
                let p = canvas.pixels[(y * 260 + x) as usize];
                let redness = ((p >> 16) & 0xFF) as i32 - (p & 0xFF) as i32;
                if redness > best.2 {
                    best = (x, y, redness);
                }
            }
        }
        let (cx, cy) = (
            bx + (pc as f32 + 0.5) * px_per_cell,
            by + (pr as f32 + 0.5) * px_per_cell,
        );
        let (dx, dy) = (best.0 as f32 + 0.5 - cx, best.1 as f32 + 0.5 - cy);
        assert!(
            dx.abs() <= px_per_cell / 2.0 && dy.abs() <= px_per_cell / 2.0,
            "peak drawn at {best:?}, map peak at ({cx}, {cy})"
        );
        // Nothing outside the box changed, nor the panel beyond the frame area.
        for y in 0..220u32 {
            for x in 0..260u32 {
                let inside_box = (x as f32) >= bx + INSET as f32
                    && (x as f32) < bx + 140.0 - INSET as f32
                    && (y as f32) >= by + INSET as f32
                    && (y as f32) < by + 140.0 - INSET as f32;
                if !inside_box {
                    assert_eq!(canvas.pixels[(y * 260 + x) as usize], grey, "({x}, {y})");
                }
            }
        }
        // The weakest cell stays as it was (alpha 0): the box's far corner.
        assert_eq!(canvas.pixels[(160 * 260 + 35) as usize], grey);
    }

    #[test]
    fn colour_map_runs_blue_to_red() {
        assert_eq!(colour(0.0), 0x00_00_FF);
        assert_eq!(colour(0.5), 0x00_FF_00);
        assert_eq!(colour(1.0), 0xFF_00_00);
        assert_eq!(colour(7.0), 0xFF_00_00);
        assert_eq!(blend_fixed(0x00_00_00, [255, 255, 255], 128), 0x80_80_80);
        assert_eq!(blend_fixed(0x12_34_56, [255, 0, 0], 0), 0x12_34_56);
        assert_eq!(blend_fixed(0x12_34_56, [255, 0, 0], 256), 0xFF_00_00);
    }
}
