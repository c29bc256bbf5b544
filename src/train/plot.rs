//! PNG charts of training runs, drawn with facs's own pixel code and 5x7 font (no plotting
//! crate): line plots (loss curves, the learning-rate range test on a log axis), per-AU
//! precision-recall panels, and confusion-matrix heat maps.
//!
//! Colours are 0RGB `u32`s (`0xRRGGBB`), as in [`crate::font`] and the overlay.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::error::{Error, Result};
use crate::font::{draw_text, CELL_H, CELL_W};
use crate::train::metrics::PrCurve;

/// Eleven colours that tell apart on white, one per AU; series `i` may use
/// `PALETTE[i % PALETTE.len()]`.
pub const PALETTE: [u32; 11] = [
    0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD, 0x8C564B, 0xE377C2, 0x7F7F7F, 0xBCBD22,
    0x17BECF, 0x000080,
];
/// One line of a [`line_plot`]: (name, colour `0xRRGGBB`, (x, y) points in drawing order).
/// The name is anything string-like (`&str`, `String`).
pub type Series<S> = (S, u32, Vec<(f32, f32)>);

/// Width of a [`line_plot`] image.
pub const LINE_PLOT_WIDTH: u32 = 900;
/// Height of a [`line_plot`] image.
pub const LINE_PLOT_HEIGHT: u32 = 540;
/// Width of one panel of [`pr_curves`].
pub const PR_PANEL_WIDTH: u32 = 300;
/// Height of one panel of [`pr_curves`].
pub const PR_PANEL_HEIGHT: u32 = 250;
/// Panels per row in [`pr_curves`].
pub const PR_COLUMNS: usize = 4;

const WHITE: u32 = 0xFFFFFF;
const BLACK: u32 = 0x000000;
const AXIS: u32 = 0x303030;
const GRID: u32 = 0xE4E4E4;
const MUTED: u32 = 0x808080;
/// The dark end of the confusion-matrix ramp (white is the light end).
const HEAT_DARK: u32 = 0x08306B;
/// Space kept around the edges of an image.
const PAD: i32 = 10;
/// Height of the scale-2 title band at the top of every image.
const TITLE_BAND: i32 = 34;
/// Series with at most this many points also get a square marker on each point.
const MARKER_MAX_POINTS: usize = 60;
/// Longest label (characters) drawn in a confusion matrix's row names or a legend.
const MAX_LABEL_CHARS: usize = 24;
/// Height of a text line at `scale`, without the spacing below it.
const fn glyph_h(scale: u32) -> i32 {
    7 * scale as i32
}

/// Pixel width of `text` at `scale` (no trailing spacing).
fn text_width(text: &str, scale: u32) -> i32 {
    let n = text.chars().count() as i32;
    if n == 0 {
        0
    } else {
        n * (CELL_W * scale) as i32 - scale as i32
    }
}

/// At most `max_chars` characters of `text`.
fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// A rectangle in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rect {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
}

impl Rect {
    fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w && y < self.y + self.h
    }

    fn right(&self) -> i32 {
        self.x + self.w
    }

    fn bottom(&self) -> i32 {
        self.y + self.h
    }

    /// Pixel of the point at fractions (fx, fy) of the axes, y up.
    fn at(&self, fx: f64, fy: f64) -> (i32, i32) {
        let px = self.x as f64 + fx * (self.w - 1) as f64;
        let py = self.y as f64 + (1.0 - fy) * (self.h - 1) as f64;
        // Far-off coordinates would only make the line loops long; they are clipped anyway.
        let clamp = |v: f64| v.round().clamp(-20_000.0, 20_000.0) as i32;
        (clamp(px), clamp(py))
    }
}

/// A white 0RGB drawing surface.
struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u32>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![WHITE; (width * height) as usize],
        }
    }

    fn set(&mut self, x: i32, y: i32, colour: u32) {
        if x >= 0 && y >= 0 && (x as u32) < self.width && (y as u32) < self.height {
            self.pixels[(y as u32 * self.width + x as u32) as usize] = colour;
        }
    }

    fn fill_rect(&mut self, x: i32, y: i32, w: i32, h: i32, colour: u32) {
        let x0 = x.clamp(0, self.width as i32);
        let y0 = y.clamp(0, self.height as i32);
        let x1 = (x + w).clamp(0, self.width as i32);
        let y1 = (y + h).clamp(0, self.height as i32);
        for yy in y0..y1 {
            let row = (yy as u32 * self.width) as usize;
            self.pixels[row + x0 as usize..row + x1 as usize].fill(colour);
        }
    }

    fn outline(&mut self, r: Rect, colour: u32) {
        self.fill_rect(r.x, r.y, r.w, 1, colour);
        self.fill_rect(r.x, r.bottom() - 1, r.w, 1, colour);
        self.fill_rect(r.x, r.y, 1, r.h, colour);
        self.fill_rect(r.right() - 1, r.y, 1, r.h, colour);
    }

    /// A `thickness`-pixel line (Bresenham with a square brush), drawn only inside `clip`.
    fn line(&mut self, from: (i32, i32), to: (i32, i32), colour: u32, thickness: i32, clip: Rect) {
        let (mut x, mut y) = from;
        let dx = (to.0 - x).abs();
        let dy = -(to.1 - y).abs();
        let sx = if x < to.0 { 1 } else { -1 };
        let sy = if y < to.1 { 1 } else { -1 };
        let mut err = dx + dy;
        let off = thickness / 2;
        loop {
            for by in 0..thickness {
                for bx in 0..thickness {
                    let (px, py) = (x + bx - off, y + by - off);
                    if clip.contains(px, py) {
                        self.set(px, py, colour);
                    }
                }
            }
            if (x, y) == to {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// A horizontal dashed line across `clip` at row `y`.
    fn dashed_hline(&mut self, x0: i32, x1: i32, y: i32, colour: u32, clip: Rect) {
        for x in x0..x1 {
            if (x - x0) % 8 < 5 && clip.contains(x, y) {
                self.set(x, y, colour);
            }
        }
    }

    fn text(&mut self, x: i32, y: i32, text: &str, colour: u32, scale: u32) {
        draw_text(&mut self.pixels, self.width, x, y, text, colour, scale);
    }

    fn text_centred(&mut self, cx: i32, y: i32, text: &str, colour: u32, scale: u32) {
        self.text(cx - text_width(text, scale) / 2, y, text, colour, scale);
    }

    fn text_right(&mut self, right: i32, y: i32, text: &str, colour: u32, scale: u32) {
        self.text(right - text_width(text, scale), y, text, colour, scale);
    }

    /// Text turned 90° anticlockwise (read bottom to top), centred on (cx, cy).
    fn text_vertical(&mut self, cx: i32, cy: i32, text: &str, colour: u32, scale: u32) {
        let tw = text_width(text, scale).max(1);
        let th = glyph_h(scale);
        let mut tmp = vec![0u32; (tw * th) as usize];
        draw_text(&mut tmp, tw as u32, 0, 0, text, 1, scale);
        let (x0, y0) = (cx - th / 2, cy - tw / 2);
        for ty in 0..th {
            for tx in 0..tw {
                if tmp[(ty * tw + tx) as usize] != 0 {
                    self.set(x0 + ty, y0 + (tw - 1 - tx), colour);
                }
            }
        }
    }

    fn title(&mut self, title: &str) {
        self.text_centred(self.width as i32 / 2, PAD, title, BLACK, 2);
    }

    fn into_image(self) -> RgbImage {
        let (w, h) = (self.width, self.height);
        let mut img = RgbImage::new(w, h);
        for (p, &c) in img.pixels_mut().zip(&self.pixels) {
            *p = Rgb([(c >> 16) as u8, (c >> 8) as u8, c as u8]);
        }
        img
    }
}

/// A 1-2-5 step near `raw`; 1 for a useless `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// `m`·10^`e` as a short label: plain for 0.001 ..= 10000, else like "2E-5".
fn decade_label(m: u32, e: i32) -> String {
    match e {
        0..=4 => format!("{}", m as u64 * 10u64.pow(e as u32)),
        -3..=-1 => format!("{:.*}", (-e) as usize, m as f64 * 10f64.powi(e)),
        _ => format!("{m}E{e}"),
    }
}

/// One axis: its range in data units and how values map onto it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Axis {
    /// Ticks every `step` from `lo` to `hi`.
    Linear { lo: f64, hi: f64, step: f64 },
    /// 10^lo_exp ..= 10^hi_exp.
    Log { lo_exp: i32, hi_exp: i32 },
}

impl Axis {
    /// A linear axis over `lo..=hi`, widened to whole tick steps.
    fn linear(lo: f64, hi: f64) -> Axis {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            // All values equal: centre them in a small range.
            let pad = if lo != 0.0 { lo.abs() * 0.1 } else { 1.0 };
            (lo - pad, lo + pad)
        };
        let step = nice_step((hi - lo) / 5.0);
        Axis::Linear {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
            step,
        }
    }

    /// An axis covering the finite values (the positive ones when `log`); 0..1 (1..10 on
    /// a log axis) when there is none.
    fn fit(values: impl Iterator<Item = f64>, log: bool) -> Axis {
        let (lo, hi) = values
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if lo > hi {
            return if log {
                Axis::Log {
                    lo_exp: 0,
                    hi_exp: 1,
                }
            } else {
                Axis::linear(0.0, 1.0)
            };
        }
        if log {
            // The slack keeps a power of ten given as f32 (1e-6f32 is 9.99999997e-7) on its
            // own decade.
            let lo_exp = (lo.log10() + 1e-6).floor() as i32;
            let hi_exp = ((hi.log10() - 1e-6).ceil() as i32).max(lo_exp + 1);
            Axis::Log { lo_exp, hi_exp }
        } else {
            Axis::linear(lo, hi)
        }
    }

    /// Where `v` falls along the axis (0 at the low end, 1 at the high end); `None` for a
    /// value that cannot be placed (not finite, or not positive on a log axis).
    fn frac(&self, v: f64) -> Option<f64> {
        match *self {
            Axis::Linear { lo, hi, .. } => v.is_finite().then(|| (v - lo) / (hi - lo)),
            Axis::Log { lo_exp, hi_exp } => (v.is_finite() && v > 0.0)
                .then(|| (v.log10() - lo_exp as f64) / (hi_exp - lo_exp) as f64),
        }
    }

    /// Tick positions with their labels (`None`: an unlabelled minor tick).
    fn ticks(&self) -> Vec<(f64, Option<String>)> {
        match *self {
            Axis::Linear { lo, hi, step } => {
                let decimals = (-step.log10().floor()).clamp(0.0, 8.0) as usize;
                let first = (lo / step).round() as i64;
                let last = (hi / step).round() as i64;
                (first..=last)
                    .map(|k| {
                        let v = k as f64 * step;
                        let label = if k == 0 {
                            "0".to_string()
                        } else if step.abs() < 1e-4 || v.abs() >= 1e7 {
                            format!("{v:.1E}")
                        } else {
                            format!("{v:.decimals$}")
                        };
                        (v, Some(label))
                    })
                    .collect()
            }
            Axis::Log { lo_exp, hi_exp } => {
                let decades = hi_exp - lo_exp;
                let every = (decades + 7) / 8;
                let mut ticks = Vec::new();
                for e in lo_exp..=hi_exp {
                    let labelled = (e - lo_exp) % every.max(1) == 0;
                    ticks.push((10f64.powi(e), labelled.then(|| decade_label(1, e))));
                    if e < hi_exp {
                        for m in [2u32, 5] {
                            let label = (decades <= 2).then(|| decade_label(m, e));
                            ticks.push((m as f64 * 10f64.powi(e), label));
                        }
                    }
                }
                ticks
            }
        }
    }

    /// Width of the widest tick label at scale 1.
    fn label_width(&self) -> i32 {
        self.ticks()
            .iter()
            .filter_map(|(_, l)| l.as_deref().map(|l| text_width(l, 1)))
            .max()
            .unwrap_or(0)
    }
}

/// Draws the grid, the frame, ticks with labels and the axis names around `r`.
fn draw_axes(c: &mut Canvas, r: Rect, xa: &Axis, ya: &Axis, x_label: &str, y_label: &str) {
    for (v, label) in xa.ticks() {
        let Some(f) = xa.frac(v).filter(|f| (-1e-9..=1.0 + 1e-9).contains(f)) else {
            continue;
        };
        let (px, _) = r.at(f, 0.0);
        c.fill_rect(px, r.y, 1, r.h, GRID);
        let len = if label.is_some() { 5 } else { 3 };
        c.fill_rect(px, r.bottom(), 1, len, AXIS);
        if let Some(label) = label {
            c.text_centred(px, r.bottom() + 8, &label, AXIS, 1);
        }
    }
    let mut widest = 0;
    for (v, label) in ya.ticks() {
        let Some(f) = ya.frac(v).filter(|f| (-1e-9..=1.0 + 1e-9).contains(f)) else {
            continue;
        };
        let (_, py) = r.at(0.0, f);
        c.fill_rect(r.x, py, r.w, 1, GRID);
        let len = if label.is_some() { 5 } else { 3 };
        c.fill_rect(r.x - len, py, len, 1, AXIS);
        if let Some(label) = label {
            widest = widest.max(text_width(&label, 1));
            c.text_right(r.x - 8, py - 3, &label, AXIS, 1);
        }
    }
    c.outline(r, AXIS);
    c.text_centred(
        r.x + r.w / 2,
        r.bottom() + 8 + CELL_H as i32 + 6,
        x_label,
        BLACK,
        1,
    );
    c.text_vertical(r.x - 8 - widest - 10, r.y + r.h / 2, y_label, BLACK, 1);
}

/// Draws one series inside `r`: lines between consecutive valid points (a NaN, an
/// infinity, or x <= 0 on a log axis breaks the line), plus a marker on each point when
/// there are few.
fn draw_series(c: &mut Canvas, r: Rect, xa: &Axis, ya: &Axis, points: &[(f32, f32)], colour: u32) {
    let markers = points.len() <= MARKER_MAX_POINTS;
    let mut prev: Option<(i32, i32)> = None;
    for &(x, y) in points {
        let placed = xa
            .frac(x as f64)
            .zip(ya.frac(y as f64))
            .map(|(fx, fy)| r.at(fx, fy));
        if let Some(p) = placed {
            match prev {
                Some(q) => c.line(q, p, colour, 2, r),
                None => c.line(p, p, colour, 2, r),
            }
            if markers {
                c.line(p, p, colour, 5, r);
            }
        }
        prev = placed;
    }
}

/// Plot area and axes of a [`line_plot`] with these inputs.
fn line_layout<S: AsRef<str>>(series: &[Series<S>], log_x: bool) -> (Rect, Axis, Axis) {
    let all = || series.iter().flat_map(|s| s.2.iter());
    let xa = Axis::fit(all().map(|p| p.0 as f64), log_x);
    // On a log axis only points with x > 0 are drawn, so only they set the y range.
    let ya = Axis::fit(
        all().filter(|p| !log_x || p.0 > 0.0).map(|p| p.1 as f64),
        false,
    );
    let legend_w = series
        .iter()
        .map(|s| text_width(&truncate(s.0.as_ref(), MAX_LABEL_CHARS), 1))
        .max()
        .map_or(0, |w| w + 40);
    let left = PAD + glyph_h(1) + 10 + ya.label_width() + 8;
    let right = PAD + 10 + legend_w;
    let bottom = PAD + 8 + 2 * CELL_H as i32 + 8;
    let r = Rect {
        x: left,
        y: TITLE_BAND + 10,
        w: LINE_PLOT_WIDTH as i32 - left - right,
        h: LINE_PLOT_HEIGHT as i32 - TITLE_BAND - 10 - bottom,
    };
    (r, xa, ya)
}

/// A line chart of [`LINE_PLOT_WIDTH`] x [`LINE_PLOT_HEIGHT`]: axes with numeric tick
/// labels, one line per series `(name, colour, points)` (markers on the points when a
/// series has at most 60), and a legend on the right. Axis ranges cover all finite points,
/// widened to round tick steps; with `log_x` the x axis is logarithmic (decades), for the
/// learning-rate range test, and points with x <= 0 are left out. NaN or infinite points
/// are skipped and break the line. Used for loss curves (train / val per epoch).
pub fn line_plot<S: AsRef<str>>(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<S>],
    log_x: bool,
) -> RgbImage {
    let mut c = Canvas::new(LINE_PLOT_WIDTH, LINE_PLOT_HEIGHT);
    c.title(title);
    let (r, xa, ya) = line_layout(series, log_x);
    draw_axes(&mut c, r, &xa, &ya, x_label, y_label);
    for (_, colour, points) in series {
        draw_series(&mut c, r, &xa, &ya, points, *colour);
    }
    let lx = r.right() + 15;
    for (i, (name, colour, _)) in series.iter().enumerate() {
        let y = r.y + 6 + i as i32 * 16;
        c.fill_rect(lx, y + 2, 22, 3, *colour);
        c.text(
            lx + 30,
            y,
            &truncate(name.as_ref(), MAX_LABEL_CHARS),
            BLACK,
            1,
        );
    }
    c.into_image()
}

/// Top-left corner of PR panel `i` and the size of the whole [`pr_curves`] image.
fn pr_grid(n: usize) -> (usize, u32, u32) {
    let cols = n.clamp(1, PR_COLUMNS);
    let rows = n.div_ceil(cols).max(1);
    let w = cols as u32 * PR_PANEL_WIDTH + 2 * PAD as u32;
    let h = (TITLE_BAND + 14) as u32 + rows as u32 * PR_PANEL_HEIGHT + PAD as u32;
    (cols, w, h)
}

/// The plot area of PR panel `i` in a grid of `cols` columns.
fn pr_panel_rect(i: usize, cols: usize) -> Rect {
    let px = PAD + (i % cols) as i32 * PR_PANEL_WIDTH as i32;
    let py = TITLE_BAND + 14 + (i / cols) as i32 * PR_PANEL_HEIGHT as i32;
    Rect {
        x: px + 48,
        y: py + 22,
        w: PR_PANEL_WIDTH as i32 - 48 - 16,
        h: PR_PANEL_HEIGHT as i32 - 22 - 42,
    }
}

/// Precision-recall curves, one small panel per class in a grid of [`PR_COLUMNS`] columns
/// ([`PR_PANEL_WIDTH`] x [`PR_PANEL_HEIGHT`] each), colour [`PALETTE`]`[i]`. Each curve is
/// drawn as the step function whose area is its average precision (precision P_k over
/// recall R_{k-1}..R_k); the dashed grey line is the prevalence, the precision of a random
/// classifier. The panel title gives the name, AP and positives / known samples.
pub fn pr_curves(title: &str, curves: &[PrCurve]) -> RgbImage {
    let (cols, w, h) = pr_grid(curves.len());
    let mut c = Canvas::new(w, h);
    c.title(title);
    c.text_centred(
        w as i32 / 2,
        TITLE_BAND,
        "STEP CURVE: AREA = AP.  DASHED: PREVALENCE (RANDOM CLASSIFIER)",
        MUTED,
        1,
    );
    if curves.is_empty() {
        c.text_centred(w as i32 / 2, h as i32 / 2, "NO CURVES", MUTED, 2);
    }
    let unit = Axis::linear(0.0, 1.0);
    for (i, curve) in curves.iter().enumerate() {
        let r = pr_panel_rect(i, cols);
        let colour = PALETTE[i % PALETTE.len()];
        let ap = curve
            .average_precision
            .map_or_else(|| "-".to_string(), |ap| format!("{ap:.3}"));
        let heading = format!(
            "{}  AP {}  N+ {}/{}",
            truncate(&curve.name, 12),
            ap,
            curve.positives,
            curve.positives + curve.negatives
        );
        c.text(r.x - 30, r.y - 16, &heading, BLACK, 1);
        draw_axes(&mut c, r, &unit, &unit, "RECALL", "PRECISION");
        if curve.positives > 0 {
            let (_, py) = r.at(0.0, curve.prevalence());
            c.dashed_hline(r.x, r.right(), py, MUTED, r);
        }
        let mut prev_recall = 0.0;
        let mut prev_pixel: Option<(i32, i32)> = None;
        for p in &curve.points {
            if !(p.precision.is_finite() && p.recall.is_finite()) {
                continue;
            }
            let start = r.at(prev_recall, p.precision);
            let end = r.at(p.recall, p.precision);
            if let Some(q) = prev_pixel {
                c.line(q, start, colour, 2, r);
            }
            c.line(start, end, colour, 2, r);
            prev_pixel = Some(end);
            prev_recall = p.recall;
        }
        if curve.points.is_empty() {
            c.text_centred(r.x + r.w / 2, r.y + r.h / 2, "NO DATA", MUTED, 1);
        } else if curve.positives == 0 {
            c.text_centred(r.x + r.w / 2, r.y + r.h / 2, "NO POSITIVES", MUTED, 1);
        }
    }
    c.into_image()
}

/// Where the cells of a confusion matrix go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MatrixLayout {
    /// Top-left corner of cell (0, 0).
    x0: i32,
    y0: i32,
    /// Side of a cell.
    cell: i32,
    rows: usize,
    cols: usize,
    width: u32,
    height: u32,
}

fn matrix_layout(title: &str, labels: &[String], counts: &[Vec<u64>]) -> MatrixLayout {
    let rows = counts.len();
    let cols = counts.iter().map(Vec::len).max().unwrap_or(0);
    let n = rows.max(cols).max(1) as i32;
    let cell = if n <= 12 { 64 } else { (768 / n).max(20) };
    let label_w = labels
        .iter()
        .take(rows)
        .map(|l| text_width(&truncate(l, MAX_LABEL_CHARS), 1))
        .max()
        .unwrap_or(0);
    let x0 = PAD + glyph_h(1) + 12 + label_w + 8;
    let y0 = TITLE_BAND + 2 * CELL_H as i32 + 16;
    let totals_w = 64;
    let width = (x0 + cols as i32 * cell + 10 + totals_w)
        .max(text_width(title, 2) + 2 * PAD)
        .max(320);
    let height = y0 + rows as i32 * cell + 2 * CELL_H as i32 + PAD;
    MatrixLayout {
        x0,
        y0,
        cell,
        rows,
        cols,
        width: width as u32,
        height: height as u32,
    }
}

/// White (t = 0) to [`HEAT_DARK`] (t = 1).
fn heat(t: f64) -> u32 {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |shift: u32| {
        let dark = ((HEAT_DARK >> shift) & 0xFF) as f64;
        (255.0 + (dark - 255.0) * t).round() as u32
    };
    (mix(16) << 16) | (mix(8) << 8) | mix(0)
}

/// A confusion matrix as a heat map: rows = true class, columns = predicted, `labels`
/// naming both. Each cell shows its count and its share of the row, and is shaded by that
/// share (row-normalised, so rare classes read as well as common ones); the row totals
/// are on the right. Rows of different lengths and missing labels are tolerated (missing
/// cells count 0). Cells are 64 pixels (smaller beyond 12 classes); the image size follows.
pub fn confusion_matrix(title: &str, labels: &[String], counts: &[Vec<u64>]) -> RgbImage {
    let l = matrix_layout(title, labels, counts);
    let mut c = Canvas::new(l.width, l.height);
    c.title(title);
    let grid_w = l.cols as i32 * l.cell;
    let grid_h = l.rows as i32 * l.cell;
    // The axis names sit beside rules spanning the columns / rows they name.
    c.text_centred(l.x0 + grid_w / 2, TITLE_BAND, "PREDICTED", BLACK, 1);
    c.fill_rect(l.x0, TITLE_BAND + CELL_H as i32 + 1, grid_w, 1, AXIS);
    c.text_vertical(PAD + glyph_h(1) / 2, l.y0 + grid_h / 2, "TRUE", BLACK, 1);
    c.fill_rect(PAD + glyph_h(1) + 4, l.y0, 1, grid_h, AXIS);
    let fit_chars = ((l.cell - 4) / CELL_W as i32).max(1) as usize;
    for j in 0..l.cols {
        let name = labels.get(j).map_or("", String::as_str);
        let cx = l.x0 + j as i32 * l.cell + l.cell / 2;
        c.text_centred(
            cx,
            TITLE_BAND + CELL_H as i32 + 6,
            &truncate(name, fit_chars),
            AXIS,
            1,
        );
    }
    c.text(
        l.x0 + grid_w + 10,
        TITLE_BAND + CELL_H as i32 + 6,
        "TOTAL",
        AXIS,
        1,
    );
    for (i, row) in counts.iter().enumerate() {
        let total: u64 = row.iter().sum();
        let y = l.y0 + i as i32 * l.cell;
        let name = labels.get(i).map_or("", String::as_str);
        c.text_right(
            l.x0 - 8,
            y + l.cell / 2 - 3,
            &truncate(name, MAX_LABEL_CHARS),
            AXIS,
            1,
        );
        c.text(
            l.x0 + grid_w + 10,
            y + l.cell / 2 - 3,
            &total.to_string(),
            AXIS,
            1,
        );
        for j in 0..l.cols {
            let count = row.get(j).copied().unwrap_or(0);
            let share = if total > 0 {
                count as f64 / total as f64
            } else {
                0.0
            };
            let x = l.x0 + j as i32 * l.cell;
            c.fill_rect(x, y, l.cell, l.cell, heat(share));
            let ink = if share > 0.5 { WHITE } else { BLACK };
            let text = count.to_string();
            let scale = if text_width(&text, 2) <= l.cell - 6 {
                2
            } else {
                1
            };
            if text_width(&text, scale) <= l.cell - 2 {
                let ty = y + l.cell / 2 - glyph_h(scale) + if l.cell >= 40 { 0 } else { 3 };
                c.text_centred(x + l.cell / 2, ty, &text, ink, scale);
            }
            if l.cell >= 40 {
                let pct = format!("{:.0}%", share * 100.0);
                c.text_centred(x + l.cell / 2, y + l.cell / 2 + 5, &pct, ink, 1);
            }
        }
    }
    // Cell borders, drawn last so that every cell is framed.
    for i in 0..=l.rows as i32 {
        c.fill_rect(l.x0, l.y0 + i * l.cell, grid_w + 1, 1, GRID);
    }
    for j in 0..=l.cols as i32 {
        c.fill_rect(l.x0 + j * l.cell, l.y0, 1, grid_h + 1, GRID);
    }
    c.text(
        PAD,
        l.y0 + grid_h + CELL_H as i32,
        "SHADING: SHARE OF THE ROW",
        MUTED,
        1,
    );
    c.into_image()
}

/// Writes `img` as a PNG at `path`, creating its folder if needed.
///
/// # Errors
/// [`Error::Io`] if the folder cannot be created, [`Error::Image`] if the file cannot be
/// encoded or written.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| Error::Image {
            path: path.into(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{AU_NUMBERS, NUM_AUS};
    use crate::train::metrics::{au_pr_curves, pr_curve, EvalSample, NUM_EMOTIONS};

    fn colour_of(p: &Rgb<u8>) -> u32 {
        (p[0] as u32) << 16 | (p[1] as u32) << 8 | p[2] as u32
    }

    /// Pixels of `colour` inside `r`.
    fn count_in(img: &RgbImage, r: Rect, colour: u32) -> usize {
        img.enumerate_pixels()
            .filter(|(x, y, p)| r.contains(*x as i32, *y as i32) && colour_of(p) == colour)
            .count()
    }

    fn loss_series() -> Vec<Series<String>> {
        let train: Vec<(f32, f32)> = (1..=20).map(|e| (e as f32, 1.0 / e as f32 + 0.1)).collect();
        let val: Vec<(f32, f32)> = (1..=20)
            .map(|e| (e as f32, 1.2 / e as f32 + 0.15 + 0.004 * e as f32))
            .collect();
        vec![
            ("train".to_string(), PALETTE[0], train),
            ("val".to_string(), PALETTE[1], val),
        ]
    }

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        // 0.13 ..= 1.1: raw step 0.194 -> 0.2; range widened to 0.0 ..= 1.2, 7 ticks.
        let a = Axis::fit([0.13, 1.1].into_iter(), false);
        let ticks = a.ticks();
        assert_eq!(ticks.len(), 7);
        assert_eq!(ticks[0].1.as_deref(), Some("0"));
        assert_eq!(ticks[6].1.as_deref(), Some("1.2"));
        // Log axis over 1e-5 ..= 0.3: decades -5 ..= 0, labels 1E-5 .. 1.
        let l = Axis::fit([1e-5, 0.3, -1.0, 0.0].into_iter(), true);
        assert_eq!(
            l,
            Axis::Log {
                lo_exp: -5,
                hi_exp: 0
            }
        );
        let labels: Vec<String> = l.ticks().into_iter().filter_map(|t| t.1).collect();
        assert_eq!(labels, ["1E-5", "1E-4", "0.001", "0.01", "0.1", "1"]);
        assert!((l.frac(1e-3).unwrap() - 0.4).abs() < 1e-12); // 2 decades of 5
        assert_eq!(l.frac(0.0), None);
        // One value: a range around it. None: 0..1.
        let one = Axis::fit([2.0].into_iter(), false);
        assert!(one.frac(2.0).is_some_and(|f| f > 0.0 && f < 1.0));
        assert_eq!(Axis::fit(std::iter::empty(), false), Axis::linear(0.0, 1.0));
        assert_eq!(
            Axis::fit([f64::NAN].into_iter(), false),
            Axis::linear(0.0, 1.0)
        );
    }

    #[test]
    fn line_plot_size_and_points_in_plot_area() {
        let series = loss_series();
        let img = line_plot("Loss", "epoch", "loss", &series, false);
        assert_eq!(img.dimensions(), (LINE_PLOT_WIDTH, LINE_PLOT_HEIGHT));
        let (r, xa, ya) = line_layout(&series, false);
        assert!(count_in(&img, r, PALETTE[0]) > 100);
        assert!(count_in(&img, r, PALETTE[1]) > 100);
        // The first train point (1, 1.1) is under a marker at its mapped pixel.
        let (px, py) = r.at(xa.frac(1.0).unwrap(), ya.frac(1.1f32 as f64).unwrap());
        assert!(r.contains(px, py));
        assert_eq!(colour_of(img.get_pixel(px as u32, py as u32)), PALETTE[0]);
    }

    #[test]
    fn log_x_plot_skips_non_positive_x() {
        // A learning-rate range test: lr 1e-6 .. 1, loss dips then explodes.
        let pts: Vec<(f32, f32)> = (0..=60)
            .map(|i| {
                let lr = 10f32.powf(-6.0 + i as f32 / 10.0);
                (
                    lr,
                    2.0 - 0.2 * (i as f32 / 10.0) + (i as f32 / 12.0).powi(4) * 0.02,
                )
            })
            .chain([(0.0, 100.0), (-1.0, 100.0)])
            .collect();
        let series = [("loss", PALETTE[3], pts)];
        let img = line_plot("LR range test", "learning rate", "loss", &series, true);
        assert_eq!(img.dimensions(), (LINE_PLOT_WIDTH, LINE_PLOT_HEIGHT));
        let (r, _, ya) = line_layout(&series, true);
        assert!(count_in(&img, r, PALETTE[3]) > 100);
        // The x <= 0 points (loss 100) do not stretch the y axis.
        assert!(ya.frac(100.0).unwrap() > 1.0);
    }

    #[test]
    fn line_plot_degenerate_inputs_do_not_panic() {
        let none: [Series<&str>; 0] = [];
        let img = line_plot("", "", "", &none, false);
        assert_eq!(img.dimensions(), (LINE_PLOT_WIDTH, LINE_PLOT_HEIGHT));
        let cases: Vec<Vec<(f32, f32)>> = vec![
            vec![],
            vec![(1.0, 0.5)],
            vec![(1.0, 0.5), (2.0, 0.5), (3.0, 0.5)],
            vec![
                (f32::NAN, 1.0),
                (1.0, f32::NAN),
                (f32::INFINITY, 2.0),
                (2.0, 3.0),
            ],
            vec![(f32::MAX, f32::MIN), (f32::MIN, f32::MAX)],
            vec![(0.0, 0.0), (0.0, 0.0)],
        ];
        for pts in cases {
            for log_x in [false, true] {
                let series = [("s", PALETTE[2], pts.clone())];
                let img = line_plot("t", "x", "y", &series, log_x);
                assert_eq!(img.dimensions(), (LINE_PLOT_WIDTH, LINE_PLOT_HEIGHT));
            }
        }
        // A single point is still visible (its marker).
        let series = [("s", PALETTE[2], vec![(1.0, 0.5)])];
        let (r, ..) = line_layout(&series, false);
        let img = line_plot("t", "x", "y", &series, false);
        assert!(count_in(&img, r, PALETTE[2]) > 0);
    }

    /// Samples for all 11 AUs: AU i positive for every (i + 2)-th sample, scores informative
    /// but noisy.
    fn au_samples() -> Vec<EvalSample> {
        (0..200u32)
            .map(|k| {
                let mut au_labels = [None; NUM_AUS];
                let mut au_probs = [0.0; NUM_AUS];
                for i in 0..NUM_AUS {
                    let positive = k % (i as u32 + 2) == 0;
                    au_labels[i] = Some(positive);
                    let noise = ((k * 37 + i as u32 * 11) % 100) as f32 / 100.0;
                    au_probs[i] = if positive {
                        0.4 + 0.6 * noise
                    } else {
                        0.7 * noise
                    };
                }
                EvalSample {
                    au_labels,
                    au_probs,
                    emotion_label: None,
                    emotion_probs: [0.0; NUM_EMOTIONS],
                }
            })
            .collect()
    }

    #[test]
    fn pr_panels_size_and_curves_in_panels() {
        let curves = au_pr_curves(&au_samples());
        assert_eq!(curves.len(), AU_NUMBERS.len());
        let img = pr_curves("PR curves", &curves);
        // 11 panels: 4 columns x 3 rows.
        assert_eq!(
            img.dimensions(),
            (
                4 * PR_PANEL_WIDTH + 20,
                (TITLE_BAND + 14) as u32 + 3 * PR_PANEL_HEIGHT + 10
            )
        );
        for (i, &colour) in PALETTE.iter().enumerate() {
            let r = pr_panel_rect(i, PR_COLUMNS);
            assert!(count_in(&img, r, colour) > 20, "panel {i}");
        }
    }

    #[test]
    fn pr_panels_degenerate_inputs_do_not_panic() {
        let img = pr_curves("none", &[]);
        let (_, w, h) = pr_grid(0);
        assert_eq!(img.dimensions(), (w, h));
        let empty = pr_curve("AU01", &[]);
        let no_pos = pr_curve("AU02", &[(Some(false), 0.3), (Some(false), 0.3)]);
        let nan = pr_curve("AU04", &[(Some(true), f32::NAN), (Some(false), f32::NAN)]);
        let img = pr_curves("odd", &[empty, no_pos, nan]);
        let (_, w, h) = pr_grid(3);
        assert_eq!(img.dimensions(), (w, h));
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn confusion_matrix_largest_count_is_darkest() {
        // Row shares: (0,0) 50/53 = 0.94 is both the largest count and the largest share;
        // the others are at most 20/25 = 0.8.
        let counts = vec![vec![50, 2, 1], vec![3, 10, 4], vec![0, 5, 20]];
        let labels = names(&["anger", "happiness", "neutral"]);
        let img = confusion_matrix("Emotions", &labels, &counts);
        let l = matrix_layout("Emotions", &labels, &counts);
        assert_eq!(img.dimensions(), (l.width, l.height));
        // A background pixel near each cell's top-left corner (clear of grid and text).
        let shade = |i: usize, j: usize| {
            let p = img.get_pixel(
                (l.x0 + j as i32 * l.cell + 4) as u32,
                (l.y0 + i as i32 * l.cell + 4) as u32,
            );
            p[0] as u32 + p[1] as u32 + p[2] as u32
        };
        let darkest = shade(0, 0);
        for i in 0..3 {
            for j in 0..3 {
                if (i, j) != (0, 0) {
                    assert!(shade(i, j) > darkest, "cell {i},{j}");
                }
            }
        }
        // A zero cell is white.
        assert_eq!(shade(2, 0), 3 * 255);
    }

    #[test]
    fn confusion_matrix_degenerate_inputs_do_not_panic() {
        let img = confusion_matrix("empty", &[], &[]);
        assert!(img.width() > 0 && img.height() > 0);
        // Ragged rows, missing labels, an all-zero row, huge counts.
        let counts = vec![vec![u64::MAX, 1], vec![], vec![0, 0, 7]];
        let img = confusion_matrix("ragged", &names(&["a"]), &counts);
        let l = matrix_layout("ragged", &names(&["a"]), &counts);
        assert_eq!((l.rows, l.cols), (3, 3));
        assert_eq!(img.dimensions(), (l.width, l.height));
        // 20 classes: smaller cells.
        let big = vec![vec![1u64; 20]; 20];
        let l = matrix_layout("big", &[], &big);
        assert!(l.cell < 64);
        let _ = confusion_matrix("big", &[], &big);
    }

    #[test]
    fn save_png_round_trip_and_error() {
        let dir = tempfile::tempdir().unwrap();
        let img = confusion_matrix("t", &names(&["a", "b"]), &[vec![1, 2], vec![3, 4]]);
        let path = dir.path().join("sub/cm.png");
        save_png(&img, &path).unwrap();
        let back = image::open(&path).unwrap().to_rgb8();
        assert_eq!(back, img);
        // A folder where the file should go.
        let err = save_png(&img, dir.path()).unwrap_err();
        assert!(matches!(err, Error::Image { .. }), "{err}");
    }

    /// Renders one of each chart to /tmp/plot_*.png for a look by eye:
    /// `cargo test --release --lib train::plot::tests::render_examples -- --ignored`.
    #[test]
    #[ignore]
    fn render_examples() {
        let img = line_plot("Loss", "epoch", "BCE loss", &loss_series(), false);
        save_png(&img, Path::new("/tmp/plot_loss.png")).unwrap();
        let pts: Vec<(f32, f32)> = (0..=60)
            .map(|i| {
                let lr = 10f32.powf(-6.0 + i as f32 / 10.0);
                (
                    lr,
                    0.7 - 0.05 * (i as f32 / 10.0) + (i as f32 / 14.0).powi(4) * 0.01,
                )
            })
            .collect();
        let series = [("smoothed loss", PALETTE[3], pts)];
        let img = line_plot("LR range test", "learning rate", "loss", &series, true);
        save_png(&img, Path::new("/tmp/plot_lr.png")).unwrap();
        let img = pr_curves("Validation PR curves", &au_pr_curves(&au_samples()));
        save_png(&img, Path::new("/tmp/plot_pr.png")).unwrap();
        let counts = vec![
            vec![30, 5, 3, 0, 6, 1, 10],
            vec![4, 12, 2, 1, 3, 0, 5],
            vec![2, 1, 8, 0, 2, 9, 3],
            vec![0, 1, 0, 240, 1, 6, 12],
            vec![5, 2, 3, 2, 25, 1, 20],
            vec![0, 0, 6, 4, 0, 70, 5],
            vec![8, 3, 2, 15, 18, 4, 300],
        ];
        let labels: Vec<String> = crate::frame::EMOTIONS
            .iter()
            .map(|s| s.to_string())
            .collect();
        let img = confusion_matrix("Emotion confusion (validation)", &labels, &counts);
        save_png(&img, Path::new("/tmp/plot_confusion.png")).unwrap();
    }
}
