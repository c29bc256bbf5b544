//! Geometry and pixels between detection and the networks: square face crops with a margin,
//! clamped to the frame, resampled to a model's input size; grey conversion for the detector.
//! Pure functions only.

use crate::frame::{FaceBox, Frame, Landmarks};

/// A square region of a frame, in whole pixels, inside the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropBox {
    pub x: u32,
    pub y: u32,
    pub side: u32,
}

/// The square around `face` with `margin` (a fraction of the face's larger side added on
/// each side), moved to lie inside a `width` x `height` frame and shrunk only if the frame
/// is smaller than the square.
pub fn square_crop(face: &FaceBox, margin: f32, width: u32, height: u32) -> CropBox {
    let (cx, cy) = face.centre();
    let side = (face.w.max(face.h) * (1.0 + 2.0 * margin.max(0.0)))
        .round()
        .max(1.0);
    let side = (side as u32).min(width).min(height).max(1);
    let half = side as f32 / 2.0;
    let clamp = |c: f32, limit: u32| -> u32 {
        let start = (c - half).round().max(0.0) as u32;
        start.min(limit - side)
    };
    CropBox {
        x: clamp(cx, width),
        y: clamp(cy, height),
        side,
    }
}

/// Luma from RGB (ITU-R BT.601 weights, the usual for grey face models).
#[inline]
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    let x = 299 * r as u32 + 587 * g as u32 + 114 * b as u32 + 500;
    // x / 1000 (x <= 255_500) in 32-bit arithmetic, so that loops over pixels vectorise:
    // (x / 8) / 125, the second division as a multiply and a shift, exact for x / 8 <= 31_937
    // (every input: tested).
    (((x >> 3) * 33_555) >> 22) as u8
}

/// [`luma`] of each pixel of an RGB row, into `grey` (as long as the row has pixels).
/// Eight pixels at a time, their channels gathered first, so that the arithmetic runs eight
/// lanes wide (the interleaved channels kept the compiler from vectorising a pixel loop);
/// compiled for AVX2 too, chosen at run time.
pub fn luma_row(rgb: &[u8], grey: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above); the function is otherwise safe.
        unsafe { luma_row_avx2(rgb, grey) };
        return;
    }
    luma_row_any(rgb, grey);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn luma_row_avx2(rgb: &[u8], grey: &mut [u8]) {
    luma_row_any(rgb, grey);
}

#[inline(always)]
fn luma_row_any(rgb: &[u8], grey: &mut [u8]) {
    let mut blocks = grey.chunks_exact_mut(8);
    let mut pixels = rgb.chunks_exact(24);
    for (g, p) in (&mut blocks).zip(&mut pixels) {
        let channel = |c: usize| -> [u8; 8] { std::array::from_fn(|i| p[3 * i + c]) };
        let (r, gr, b) = (channel(0), channel(1), channel(2));
        for i in 0..8 {
            g[i] = luma(r[i], gr[i], b[i]);
        }
    }
    let rest = pixels.remainder().chunks_exact(3);
    for (g, p) in blocks.into_remainder().iter_mut().zip(rest) {
        *g = luma(p[0], p[1], p[2]);
    }
}

/// Bilinear sample of channel `c` (of `channels`) at (x, y) in pixel-centre coordinates.
#[inline]
fn sample(src: &[u8], w: u32, h: u32, channels: usize, x: f32, y: f32, c: usize) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    // Truncation is the floor of these non-negative values, without a call to floorf.
    let x0 = x as u32;
    let y0 = y as u32;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let fx = x - x0 as f32;
    let fy = y - y0 as f32;
    let at = |xx: u32, yy: u32| src[(yy as usize * w as usize + xx as usize) * channels + c] as f32;
    let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
    let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// `v.round() as u8` for a sample in 0..=255, bit for bit, without the call to roundf that
/// `round` is on the baseline x86-64 target (halves round up, as `round` does for
/// non-negative values; `v - t` is exact for these magnitudes).
#[inline]
fn round_u8(v: f32) -> u8 {
    let t = v as u32;
    (if v - t as f32 >= 0.5 { t + 1 } else { t }) as u8
}

/// Resizes an RGB image with bilinear interpolation.
pub fn resize_rgb(src: &[u8], w: u32, h: u32, out_w: u32, out_h: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((out_w * out_h * 3) as usize);
    let sx = w as f32 / out_w as f32;
    let sy = h as f32 / out_h as f32;
    for oy in 0..out_h {
        let y = (oy as f32 + 0.5) * sy - 0.5;
        for ox in 0..out_w {
            let x = (ox as f32 + 0.5) * sx - 0.5;
            for c in 0..3 {
                out.push(round_u8(sample(src, w, h, 3, x, y, c)));
            }
        }
    }
    out
}

/// Crops `crop` from the frame and resizes it to `size` x `size` RGB: an area average when
/// shrinking (so detail does not alias), bilinear when enlarging.
pub fn crop_rgb(frame: &Frame, crop: CropBox, size: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((size * size * 3) as usize);
    if crop.side <= size {
        let step = crop.side as f32 / size as f32;
        for oy in 0..size {
            let y = crop.y as f32 + (oy as f32 + 0.5) * step - 0.5;
            for ox in 0..size {
                let x = crop.x as f32 + (ox as f32 + 0.5) * step - 0.5;
                for c in 0..3 {
                    out.push(round_u8(sample(
                        &frame.rgb,
                        frame.width,
                        frame.height,
                        3,
                        x,
                        y,
                        c,
                    )));
                }
            }
        }
        return out;
    }
    // Source pixel bounds of each output row/column: [start(i), start(i + 1)), the
    // columns' computed once.
    let start = |i: u32, origin: u32| origin + (i as u64 * crop.side as u64 / size as u64) as u32;
    let bounds = |i: u32, origin: u32| {
        (
            start(i, origin),
            start(i + 1, origin).max(start(i, origin) + 1),
        )
    };
    let columns: Vec<(u32, u32)> = (0..size).map(|ox| bounds(ox, crop.x)).collect();
    let stride = frame.width as usize * 3;
    for oy in 0..size {
        let (y0, y1) = bounds(oy, crop.y);
        for &(x0, x1) in &columns {
            let mut acc = [0u32; 3];
            for y in y0..y1 {
                let row = &frame.rgb
                    [y as usize * stride + x0 as usize * 3..y as usize * stride + x1 as usize * 3];
                for px in row.chunks_exact(3) {
                    acc[0] += px[0] as u32;
                    acc[1] += px[1] as u32;
                    acc[2] += px[2] as u32;
                }
            }
            let n = (y1 - y0) * (x1 - x0);
            out.extend(acc.map(|a| ((a + n / 2) / n) as u8));
        }
    }
    out
}

/// A similarity transform `p' = s R p + t`, stored as `x' = a x - b y + tx`,
/// `y' = b x + a y + ty` (a = s cos, b = s sin).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// The least-squares similarity taking `from` points onto `to` points (Umeyama's
    /// closed form for 2D); None for fewer than two distinct points.
    pub fn fit(from: &[(f32, f32)], to: &[(f32, f32)]) -> Option<Self> {
        let n = from.len().min(to.len());
        if n < 2 {
            return None;
        }
        let mean = |pts: &[(f32, f32)]| {
            let (sx, sy) = pts[..n]
                .iter()
                .fold((0.0, 0.0), |(ax, ay), p| (ax + p.0, ay + p.1));
            (sx / n as f32, sy / n as f32)
        };
        let (fx, fy) = mean(from);
        let (gx, gy) = mean(to);
        let (mut sxx, mut sxy, mut var) = (0f32, 0f32, 0f32);
        for (p, q) in from[..n].iter().zip(&to[..n]) {
            let (px, py) = (p.0 - fx, p.1 - fy);
            let (qx, qy) = (q.0 - gx, q.1 - gy);
            sxx += px * qx + py * qy;
            sxy += px * qy - py * qx;
            var += px * px + py * py;
        }
        if var < 1e-9 {
            return None;
        }
        let (a, b) = (sxx / var, sxy / var);
        Some(Similarity {
            a,
            b,
            tx: gx - (a * fx - b * fy),
            ty: gy - (b * fx + a * fy),
        })
    }

    pub fn apply(&self, p: (f32, f32)) -> (f32, f32) {
        (
            self.a * p.0 - self.b * p.1 + self.tx,
            self.b * p.0 + self.a * p.1 + self.ty,
        )
    }

    /// The inverse transform; None if degenerate.
    pub fn inverse(&self) -> Option<Self> {
        let d = self.a * self.a + self.b * self.b;
        if d < 1e-12 {
            return None;
        }
        let (a, b) = (self.a / d, -self.b / d);
        Some(Similarity {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        })
    }
}

/// The canonical face for aligned crops, as fractions of the crop side: left eye, right eye,
/// nose tip, left and right mouth corner. These are the widely used 5-point positions of
/// InsightFace's 112x112 template (38.29,51.70), (73.53,51.50), (56.03,71.74),
/// (41.55,92.37), (70.73,92.20), divided by 112.
pub const CANONICAL_5: [(f32, f32); 5] = [
    (0.3419, 0.4616),
    (0.6565, 0.4598),
    (0.5003, 0.6406),
    (0.3710, 0.8247),
    (0.6315, 0.8232),
];

/// The five points of [`CANONICAL_5`] from 68 landmarks: eye centres, nose tip (30),
/// mouth corners (48, 54).
pub fn five_points(pts: &[(f32, f32); 68]) -> [(f32, f32); 5] {
    let centre = |r: std::ops::Range<usize>| {
        let n = r.len() as f32;
        let (sx, sy) = r.fold((0.0, 0.0), |(ax, ay), i| (ax + pts[i].0, ay + pts[i].1));
        (sx / n, sy / n)
    };
    [centre(36..42), centre(42..48), pts[30], pts[48], pts[54]]
}

/// An aligned `size` x `size` RGB crop: the face turned upright and scaled so that its five
/// points land on [`CANONICAL_5`] shrunk by `zoom` about the centre (zoom 1 = the template's
/// tight framing; larger shows more around the face). Pixels outside the frame are black.
pub fn aligned_crop(
    frame: &Frame,
    pts: &[(f32, f32); 68],
    size: u32,
    zoom: f32,
) -> Option<Vec<u8>> {
    aligned_crop_on(frame, pts, size, zoom, 5)
}

/// As [`aligned_crop`], but fitted to the eyes and the nose tip only: the mouth corners move
/// with expressions (AU12 lifts them, AU20 stretches them, AU26 drops them with the jaw), and
/// fitting to them would undo the very movement an AU classifier has to see.
pub fn rigid_aligned_crop(
    frame: &Frame,
    pts: &[(f32, f32); 68],
    size: u32,
    zoom: f32,
) -> Option<Vec<u8>> {
    aligned_crop_on(frame, pts, size, zoom, 3)
}

/// The aligned crop fitted to the first `points` of the five.
fn aligned_crop_on(
    frame: &Frame,
    pts: &[(f32, f32); 68],
    size: u32,
    zoom: f32,
    points: usize,
) -> Option<Vec<u8>> {
    warp(frame, &alignment(pts, size, zoom, points)?, size)
}

/// The frame-to-crop transform of [`rigid_aligned_crop`] (to map landmarks into the crop).
pub fn rigid_alignment(pts: &[(f32, f32); 68], size: u32, zoom: f32) -> Option<Similarity> {
    alignment(pts, size, zoom, 3)
}

/// The similarity taking the first `points` of the face's five points onto the template.
fn alignment(pts: &[(f32, f32); 68], size: u32, zoom: f32, points: usize) -> Option<Similarity> {
    let s = size as f32;
    let target: Vec<(f32, f32)> = CANONICAL_5[..points]
        .iter()
        .map(|&(x, y)| ((0.5 + (x - 0.5) / zoom) * s, (0.5 + (y - 0.5) / zoom) * s))
        .collect();
    Similarity::fit(&five_points(pts)[..points], &target)
}

/// The `size` x `size` RGB crop that `to_crop` maps the frame onto; pixels outside the frame
/// are black. Shrinking is done as a mipmap level would: the part of the frame the crop
/// covers is first reduced by a whole factor (the shrink rounded to the nearest integer)
/// with an area average, and each output pixel is then one bilinear sample of that reduced
/// image. Nine bilinear samples per pixel (supersampling, the first form) gave much the
/// same picture at about ten times the cost.
pub fn warp(frame: &Frame, to_crop: &Similarity, size: u32) -> Option<Vec<u8>> {
    let to_frame = to_crop.inverse()?;
    let step = 1.0 / to_crop.a.hypot(to_crop.b);
    if !step.is_finite() {
        return None;
    }
    let reduced = Reduced::covering(frame, &to_frame, size, step.round().clamp(1.0, 64.0))?;
    let (rw, rh) = (reduced.width, reduced.height);
    let (u_max, v_max) = ((rw - 1) as f32, (rh - 1) as f32);
    // Cell (i, j) of the reduced image is centred on frame point
    // ((origin.0 + i + 0.5) f, (origin.1 + j + 0.5) f); one output pixel to the right moves
    // (a, b) / f cells.
    let inv_f = reduced.factor.recip();
    let (du, dv) = (to_frame.a * inv_f, to_frame.b * inv_f);
    let mut out = vec![0u8; (size * size * 3) as usize];
    for (oy, row) in out.chunks_exact_mut(size as usize * 3).enumerate() {
        let (x, y) = to_frame.apply((0.5, oy as f32 + 0.5));
        let mut u = x * inv_f - reduced.origin.0 - 0.5;
        let mut v = y * inv_f - reduced.origin.1 - 0.5;
        for px in row.chunks_exact_mut(3) {
            let (uc, vc) = (u.clamp(0.0, u_max), v.clamp(0.0, v_max));
            (u, v) = (u + du, v + dv);
            // Truncation is the floor of these non-negative values.
            let (i0, j0) = (uc as usize, vc as usize);
            let (fu, fv) = (uc - i0 as f32, vc - j0 as f32);
            let i1 = (i0 + 1).min(rw - 1);
            let j1 = (j0 + 1).min(rh - 1);
            let cell = |i: usize, j: usize| reduced.cells[j * rw + i];
            let (p00, p10, p01, p11) = (cell(i0, j0), cell(i1, j0), cell(i0, j1), cell(i1, j1));
            let (gu, gv) = (1.0 - fu, 1.0 - fv);
            for (c, p) in px.iter_mut().enumerate() {
                let top = p00[c] * gu + p10[c] * fu;
                let bottom = p01[c] * gu + p11[c] * fu;
                // Rounding half up by truncation (`as` saturates to 0..=255); `round` is a
                // library call on the baseline x86-64 target and took a fifth of the time.
                *p = (top * gv + bottom * fv + 0.5) as u8;
            }
        }
    }
    Some(out)
}

/// The part of a frame a crop covers, reduced by a whole factor: each cell is the mean of a
/// `factor` x `factor` block of frame pixels (those off the frame count as black), on a
/// grid anchored at the frame's origin.
struct Reduced {
    factor: f32,
    /// The first cell's grid position, in cells from the frame's origin (may be negative).
    origin: (f32, f32),
    width: usize,
    height: usize,
    cells: Vec<[f32; 4]>,
}

impl Reduced {
    /// The cells under the crop `to_frame` maps from, with one cell to spare on every side
    /// (so that bilinear samples near the crop's edge have both neighbours).
    fn covering(frame: &Frame, to_frame: &Similarity, size: u32, factor: f32) -> Option<Self> {
        let s = size as f32;
        let corners = [(0.0, 0.0), (s, 0.0), (0.0, s), (s, s)].map(|p| to_frame.apply(p));
        let (mut x_lo, mut x_hi) = (f32::INFINITY, f32::NEG_INFINITY);
        let (mut y_lo, mut y_hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for (x, y) in corners {
            (x_lo, x_hi) = (x_lo.min(x), x_hi.max(x));
            (y_lo, y_hi) = (y_lo.min(y), y_hi.max(y));
        }
        if ![x_lo, x_hi, y_lo, y_hi].iter().all(|v| v.is_finite()) {
            return None;
        }
        let k = factor as i64;
        let cell_range = |lo: f32, hi: f32| {
            let first = (lo / factor).floor() as i64 - 1;
            let last = (hi / factor).floor() as i64 + 1;
            (first, (last - first + 1).max(1) as usize)
        };
        let (cx0, width) = cell_range(x_lo, x_hi);
        let (cy0, height) = cell_range(y_lo, y_hi);
        let (fw, fh) = (i64::from(frame.width), i64::from(frame.height));
        let mut sums = vec![[0u32; 4]; width * height];
        for (j, sum_row) in sums.chunks_exact_mut(width).enumerate() {
            let y_first = (cy0 + j as i64) * k;
            for y in y_first.max(0)..(y_first + k).min(fh) {
                let row_start = (y * fw * 3) as usize;
                let Some(row) = frame.rgb.get(row_start..row_start + (fw * 3) as usize) else {
                    continue;
                };
                // Cells wholly on the frame take whole blocks of the row; the (at most
                // two) cells the frame's edge cuts take what is on it.
                let block = (k * 3) as usize;
                let i_lo = (-cx0).clamp(0, width as i64) as usize;
                let i_hi = ((fw / k) - cx0).clamp(i_lo as i64, width as i64) as usize;
                let first = ((cx0 + i_lo as i64) * k * 3).max(0) as usize;
                let whole = row
                    .get(first..first + (i_hi - i_lo) * block)
                    .unwrap_or_default();
                for (sum, pixels) in sum_row[i_lo..i_hi]
                    .iter_mut()
                    .zip(whole.chunks_exact(block))
                {
                    for p in pixels.chunks_exact(3) {
                        sum[0] += u32::from(p[0]);
                        sum[1] += u32::from(p[1]);
                        sum[2] += u32::from(p[2]);
                    }
                }
                for i in (0..i_lo).chain(i_hi..width) {
                    let x_first = (cx0 + i as i64) * k;
                    let (a, b) = (x_first.max(0), (x_first + k).min(fw));
                    if a >= b {
                        continue;
                    }
                    for p in row[(a * 3) as usize..(b * 3) as usize].chunks_exact(3) {
                        let sum = &mut sum_row[i];
                        sum[0] += u32::from(p[0]);
                        sum[1] += u32::from(p[1]);
                        sum[2] += u32::from(p[2]);
                    }
                }
            }
        }
        let area = (factor * factor).recip();
        let cells = sums
            .into_iter()
            .map(|s| s.map(|v| v as f32 * area))
            .collect();
        Some(Self {
            factor,
            origin: (cx0 as f32, cy0 as f32),
            width,
            height,
            cells,
        })
    }
}

/// RGB to grey, one byte per pixel.
pub fn rgb_to_grey(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| luma(p[0], p[1], p[2]))
        .collect()
}

/// The frame in grey, scaled by `scale` (area average when shrinking, bilinear when
/// enlarging), for the detector. Returns (width, height); the pixels go to `out`.
pub fn grey_scaled(frame: &Frame, scale: f32, out: &mut Vec<u8>) -> (u32, u32) {
    grey_scaled_region(frame, (0, 0, frame.width, frame.height), scale, out)
}

/// The size of a `w` x `h` image scaled by `scale`: rounded, at least 1 x 1.
fn scaled_size(w: u32, h: u32, scale: f32) -> (u32, u32) {
    let side = |v: u32| ((v as f32 * scale).round() as u32).max(1);
    (side(w), side(h))
}

/// Like [`grey_scaled`] for the region (x, y, w, h) of the frame, which must lie inside it.
pub fn grey_scaled_region(
    frame: &Frame,
    region: (u32, u32, u32, u32),
    scale: f32,
    out: &mut Vec<u8>,
) -> (u32, u32) {
    let (rx, ry, w, h) = region;
    let stride = frame.width as usize * 3;
    let (ow, oh) = scaled_size(w, h, scale);
    out.clear();
    out.reserve((ow * oh) as usize);
    let rgb = &frame.rgb;
    // One row of the region, RGB.
    let row_of = |y: u32| {
        let start = (ry + y) as usize * stride + rx as usize * 3;
        &rgb[start..start + w as usize * 3]
    };
    if ow == w && oh == h {
        out.resize((w * h) as usize, 0);
        for (y, grey) in out.chunks_exact_mut(w as usize).enumerate() {
            luma_row(row_of(y as u32), grey);
        }
    } else if scale < 1.0 {
        // Each output pixel is the mean of the grey values of its cell: a row of the region
        // is turned grey once, then summed cell by cell.
        let cells: Vec<(usize, usize)> = (0..ow)
            .map(|ox| {
                let x0 = ox * w / ow;
                (x0 as usize, ((ox + 1) * w / ow).max(x0 + 1) as usize)
            })
            .collect();
        // The grey values of a cell row's rows added column by column; then running sums
        // along the row, so that a cell's sum is the difference of two.
        let mut columns = vec![0u32; w as usize + 1];
        let mut grey = vec![0u8; w as usize];
        for oy in 0..oh {
            let y0 = oy * h / oh;
            let y1 = ((oy + 1) * h / oh).max(y0 + 1);
            columns.fill(0);
            for y in y0..y1 {
                luma_row(row_of(y), &mut grey);
                for (c, &g) in columns[1..].iter_mut().zip(&grey) {
                    *c += u32::from(g);
                }
            }
            let mut run = 0;
            for c in &mut columns[1..] {
                run += *c;
                *c = run;
            }
            out.extend(cells.iter().map(|&(x0, x1)| {
                let sum = columns[x1] - columns[x0];
                (sum / ((y1 - y0) * (x1 - x0) as u32)) as u8
            }));
        }
    } else {
        let at = |x: u32, y: u32| {
            let i = (ry + y) as usize * stride + (rx + x) as usize * 3;
            luma(rgb[i], rgb[i + 1], rgb[i + 2])
        };
        let sx = w as f32 / ow as f32;
        let sy = h as f32 / oh as f32;
        for oy in 0..oh {
            let y = ((oy as f32 + 0.5) * sy - 0.5).clamp(0.0, (h - 1) as f32);
            let (y0, fy) = (y.floor() as u32, y.fract());
            let y1 = (y0 + 1).min(h - 1);
            for ox in 0..ow {
                let x = ((ox as f32 + 0.5) * sx - 0.5).clamp(0.0, (w - 1) as f32);
                let (x0, fx) = (x.floor() as u32, x.fract());
                let x1 = (x0 + 1).min(w - 1);
                let top = at(x0, y0) as f32 * (1.0 - fx) + at(x1, y0) as f32 * fx;
                let bottom = at(x0, y1) as f32 * (1.0 - fx) + at(x1, y1) as f32 * fx;
                out.push((top * (1.0 - fy) + bottom * fy).round() as u8);
            }
        }
    }
    (ow, oh)
}

/// How much of the surroundings an aligned training crop shows (see [`au_net_crop`]).
pub const ALIGN_ZOOM: f32 = 1.15;

/// Margin of the box crop ([`AuCrop::Box`]): that of face-api's expression net, whose crop
/// the box crop is, so that one backbone pass can serve both networks.
pub const BOX_CROP_MARGIN: f32 = 0.0;

/// Margin of the aligned crop's fallback for a face without landmarks.
const FALLBACK_MARGIN: f32 = 0.1;

/// Which crop an AU network is trained on and fed (`facs train --crop`, stored in its
/// model.json; files written before the choice existed are `aligned`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuCrop {
    /// Rotated and scaled on the eyes and nose tip found by the landmark network (a box
    /// crop with a 10% margin when a face has no landmarks): the pass waits for landmarks.
    #[default]
    Aligned,
    /// The detector's box as face-api's expression net crops it ([`box_crop`] with
    /// [`BOX_CROP_MARGIN`]): needs no landmarks, so the pass runs beside the landmark net.
    Box,
}

impl AuCrop {
    pub const NAMES: [&'static str; 2] = ["aligned", "box"];

    pub fn name(self) -> &'static str {
        match self {
            AuCrop::Aligned => "aligned",
            AuCrop::Box => "box",
        }
    }
}

impl std::fmt::Display for AuCrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for AuCrop {
    type Err = crate::error::Error;

    fn from_str(s: &str) -> crate::error::Result<Self> {
        match s {
            "aligned" => Ok(AuCrop::Aligned),
            "box" => Ok(AuCrop::Box),
            _ => Err(crate::error::Error::config("crop", s, "aligned or box")),
        }
    }
}

/// The square box crop of `face` with `margin`, resized to `size`: the expression nets'
/// crop, and the AU network's box crop.
pub fn box_crop(frame: &Frame, face: &FaceBox, margin: f32, size: u32) -> Vec<u8> {
    crop_rgb(
        frame,
        square_crop(face, margin, frame.width, frame.height),
        size,
    )
}

/// The transform from frame pixels to the pixels of [`box_crop`] (continuous coordinates).
pub fn box_crop_transform(frame: &Frame, face: &FaceBox, margin: f32, size: u32) -> Similarity {
    let c = square_crop(face, margin, frame.width, frame.height);
    let s = size as f32 / c.side as f32;
    Similarity {
        a: s,
        b: 0.0,
        tx: -(c.x as f32) * s,
        ty: -(c.y as f32) * s,
    }
}

/// A box move below this fraction of the box's width, in either direction, and a size change
/// below this fraction, is taken for the detector's jitter, not the face's motion: over the
/// bundled single_face clip (a still head) frame-to-frame boxes moved by up to 7% of their
/// width and changed size by up to 14%.
pub const CARRY_JITTER: f32 = 0.2;

/// A face's landmarks found in box `from`, carried to box `to` (the same face in a later
/// frame): unchanged when the box moved and changed size by no more than [`CARRY_JITTER`]
/// (moving them with the detector's jitter misaligns more than leaving them), else each
/// point keeps its place relative to the box. Live mode aligns the AU network's crop with
/// these, so that the pass need not wait for the frame's own landmarks.
pub fn carry_landmarks(pts: &Landmarks, from: &FaceBox, to: &FaceBox) -> Landmarks {
    if from.w <= 0.0 || from.h <= 0.0 {
        return *pts;
    }
    let (sx, sy) = (to.w / from.w, to.h / from.h);
    let dx = (to.x + to.w / 2.0) - (from.x + from.w / 2.0);
    let dy = (to.y + to.h / 2.0) - (from.y + from.h / 2.0);
    let jitter = dx.abs().max(dy.abs()) <= CARRY_JITTER * from.w
        && (sx - 1.0).abs() <= CARRY_JITTER
        && (sy - 1.0).abs() <= CARRY_JITTER;
    if jitter {
        return *pts;
    }
    pts.map(|(x, y)| (to.x + (x - from.x) * sx, to.y + (y - from.y) * sy))
}

/// The crop the AU network sees, in training and in the pipeline alike. [`AuCrop::Aligned`]:
/// aligned on the eyes and nose tip ([`rigid_alignment`], as [`rigid_aligned_crop`]) when
/// the face has landmarks, else a square box crop with a 10% margin. [`AuCrop::Box`]: the
/// expression net's box crop, landmarks or not.
pub fn au_net_crop(
    frame: &Frame,
    face: &FaceBox,
    landmarks: Option<&Landmarks>,
    side: u32,
    crop: AuCrop,
) -> Vec<u8> {
    au_net_crop_and_landmarks(frame, face, landmarks, side, crop).0
}

/// [`au_net_crop`] and, when the face has landmarks, the landmarks in crop pixels.
pub fn au_net_crop_and_landmarks(
    frame: &Frame,
    face: &FaceBox,
    landmarks: Option<&Landmarks>,
    side: u32,
    crop: AuCrop,
) -> (Vec<u8>, Option<Landmarks>) {
    if crop == AuCrop::Box {
        let t = box_crop_transform(frame, face, BOX_CROP_MARGIN, side);
        return (
            box_crop(frame, face, BOX_CROP_MARGIN, side),
            landmarks.map(|pts| pts.map(|p| t.apply(p))),
        );
    }
    let aligned = landmarks.and_then(|pts| {
        let t = rigid_alignment(pts, side, ALIGN_ZOOM)?;
        Some((warp(frame, &t, side)?, pts.map(|p| t.apply(p))))
    });
    match aligned {
        Some((rgb, pts)) => (rgb, Some(pts)),
        None => (box_crop(frame, face, FALLBACK_MARGIN, side), None),
    }
}

/// The transform from frame pixels to the pixels of the crop [`au_net_crop`] takes (both in
/// continuous coordinates, a pixel's centre at +0.5): the rigid alignment when the crop is
/// aligned and the face has landmarks, else the scale and offset of the square box crop.
/// Used to lay a class activation map of the AU network back onto the frame.
pub fn au_net_crop_transform(
    frame: &Frame,
    face: &FaceBox,
    landmarks: Option<&Landmarks>,
    side: u32,
    crop: AuCrop,
) -> Similarity {
    if crop == AuCrop::Box {
        return box_crop_transform(frame, face, BOX_CROP_MARGIN, side);
    }
    let aligned = landmarks
        .and_then(|pts| rigid_alignment(pts, side, ALIGN_ZOOM))
        .filter(|t| t.inverse().is_some());
    aligned.unwrap_or_else(|| box_crop_transform(frame, face, FALLBACK_MARGIN, side))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, w: f32, h: f32) -> FaceBox {
        FaceBox {
            x,
            y,
            w,
            h,
            confidence: 1.0,
        }
    }

    /// The warp as first written (up to 3 x 3 bilinear samples averaged per pixel, one
    /// channel at a time): the reference [`warp`] must stay close to.
    fn warp_reference(frame: &Frame, to_crop: &Similarity, size: u32) -> Option<Vec<u8>> {
        let to_frame = to_crop.inverse()?;
        // Shrinking by more than 2x: average a few samples per output pixel.
        let step = 1.0 / (to_crop.a * to_crop.a + to_crop.b * to_crop.b).sqrt();
        let k = step.ceil().clamp(1.0, 3.0) as u32;
        let mut out = Vec::with_capacity((size * size * 3) as usize);
        for oy in 0..size {
            for ox in 0..size {
                let mut acc = [0f32; 3];
                let mut n = 0f32;
                for j in 0..k {
                    for i in 0..k {
                        let p = (
                            ox as f32 + (i as f32 + 0.5) / k as f32,
                            oy as f32 + (j as f32 + 0.5) / k as f32,
                        );
                        let (x, y) = to_frame.apply(p);
                        let (x, y) = (x - 0.5, y - 0.5);
                        n += 1.0;
                        if x < -0.5
                            || y < -0.5
                            || x > frame.width as f32 - 0.5
                            || y > frame.height as f32 - 0.5
                        {
                            continue;
                        }
                        for (c, a) in acc.iter_mut().enumerate() {
                            *a += sample(&frame.rgb, frame.width, frame.height, 3, x, y, c);
                        }
                    }
                }
                out.extend(acc.map(|a| (a / n).round() as u8));
            }
        }
        Some(out)
    }

    /// Mean and largest absolute difference between two images of the same size.
    fn differences(a: &[u8], b: &[u8]) -> (f64, u8) {
        assert_eq!(a.len(), b.len());
        let d = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y));
        let mean = d.clone().map(f64::from).sum::<f64>() / a.len() as f64;
        (mean, d.max().unwrap_or(0))
    }

    /// A smooth 240 x 200 test picture: gradients and slow waves, no edges sharper than a
    /// face's at the scale the AU network sees it.
    fn smooth_frame() -> Frame {
        let (w, h) = (240u32, 200u32);
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let (xf, yf) = (x as f32, y as f32);
                let wave = (xf / 9.0).sin() * (yf / 13.0).cos();
                rgb.push((128.0 + 90.0 * wave) as u8);
                rgb.push((xf + yf / 2.0) as u8);
                rgb.push((200.0 - 60.0 * (xf / 17.0 + yf / 11.0).sin()) as u8);
            }
        }
        Frame::new(0, 0.0, w, h, rgb).unwrap()
    }

    /// The transform that shrinks by `1 / scale`, turns by `turn` radians and puts the
    /// frame point `centre` in the middle of a `size` crop.
    fn centred(scale: f32, turn: f32, centre: (f32, f32), size: u32) -> Similarity {
        let (a, b) = (scale * turn.cos(), scale * turn.sin());
        let half = size as f32 / 2.0;
        Similarity {
            a,
            b,
            tx: half - (a * centre.0 - b * centre.1),
            ty: half - (b * centre.0 + a * centre.1),
        }
    }

    #[test]
    fn the_warp_matches_nine_samples_a_pixel_where_the_crop_lies_inside_the_frame() {
        let frame = smooth_frame();
        // Enlarging (one bilinear sample either way), shrinking by 1.4, 2, 2.6 (rounded to
        // 3) and 3, turned by up to 30 degrees, all inside the frame.
        for (scale, turn, mean_max, max_max) in [
            (1.6f32, 0.0f32, 0.01, 1),
            (1.0 / 1.4, 0.2, 0.5, 4),
            (0.5, 0.5, 0.5, 4),
            (1.0 / 2.6, -0.3, 0.5, 4),
            (1.0 / 3.0, 0.0, 0.5, 4),
        ] {
            let t = centred(scale, turn, (120.0, 100.0), 56);
            let fast = warp(&frame, &t, 56).unwrap();
            let reference = warp_reference(&frame, &t, 56).unwrap();
            let (mean, max) = differences(&fast, &reference);
            assert!(
                mean <= mean_max && max <= max_max,
                "{t:?}: mean {mean:.2}, max {max}"
            );
        }
        // A real face (the single_face fixture, 640 x 360): a 112 px crop of its middle,
        // shrunk 1.8x and 2.6x, turned as a tilted head would be. The reduction blurs a
        // little more than nine samples did (measured: mean 1.04 and 1.64 levels, at most
        // 26 and 33 at the sharpest edges).
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/single_face/000030.jpg"
        );
        // `image` directly: `source` (and its loader) sits above this module.
        let img = image::open(path).unwrap().into_rgb8();
        let frame = Frame::new(0, 0.0, img.width(), img.height(), img.into_raw()).unwrap();
        for (scale, mean_max, max_max) in [(1.0 / 1.8, 1.5, 40), (1.0 / 2.6, 2.0, 48)] {
            let t = centred(scale, 0.1, (320.0, 170.0), 112);
            let fast = warp(&frame, &t, 112).unwrap();
            let reference = warp_reference(&frame, &t, 112).unwrap();
            let (mean, max) = differences(&fast, &reference);
            assert!(
                mean <= mean_max && max <= max_max,
                "real face, shrunk {}x: mean {mean:.2}, max {max}",
                1.0 / scale
            );
        }
    }

    #[test]
    fn the_warp_averages_away_detail_finer_than_its_pixels() {
        // A one-pixel checkerboard of 0 and 255 shrunk 2x and 3x, turned: every output pixel
        // is close to the mean grey (measured: within 0 and 14 levels of it).
        let (w, h) = (200u32, 200u32);
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let v = if (i % w + i / w) % 2 == 0 { 0 } else { 255 };
                [v, v, v]
            })
            .collect();
        let frame = Frame::new(0, 0.0, w, h, rgb).unwrap();
        for scale in [0.5f32, 1.0 / 3.0] {
            let t = centred(scale, 0.3, (100.0, 100.0), 32);
            let out = warp(&frame, &t, 32).unwrap();
            let worst = out.iter().map(|v| v.abs_diff(128)).max().unwrap();
            assert!(worst <= 24, "scale {scale}: a pixel {worst} from mid-grey");
        }
    }

    #[test]
    fn the_warp_keeps_a_flat_frame_flat_and_blacks_out_what_lies_off_it() {
        let (w, h) = (90u32, 70u32);
        let frame = Frame::new(0, 0.0, w, h, [40u8, 150, 220].repeat((w * h) as usize)).unwrap();
        // Shrinking 2.5x about the frame's middle: every pixel is the frame's colour exactly.
        let t = Similarity {
            a: 0.4,
            b: 0.0,
            tx: -2.0,
            ty: -1.0,
        };
        let out = warp(&frame, &t, 24).unwrap();
        assert!(out.chunks_exact(3).all(|p| p == [40, 150, 220]));
        // Shifted half off the frame's left edge: the left part black, the right the colour.
        let t = Similarity {
            a: 0.5,
            b: 0.0,
            tx: 16.0,
            ty: 0.0,
        };
        let out = warp(&frame, &t, 32).unwrap();
        let at = |x: usize, y: usize| &out[(y * 32 + x) * 3..(y * 32 + x) * 3 + 3];
        assert_eq!(at(2, 10), [0, 0, 0]);
        assert_eq!(at(28, 10), [40, 150, 220]);
        // A transform that collapses the frame to a point has no inverse: no crop.
        let t = Similarity {
            a: 0.0,
            b: 0.0,
            tx: 0.0,
            ty: 0.0,
        };
        assert!(warp(&frame, &t, 8).is_none());
    }

    #[test]
    fn carried_landmarks_stay_through_jitter_and_keep_their_place_in_a_moved_box() {
        let from = face(100.0, 50.0, 80.0, 100.0);
        let pts: Landmarks = std::array::from_fn(|i| (100.0 + i as f32, 50.0 + 1.5 * i as f32));
        // The same box, or one moved and resized by the detector's jitter: the same points.
        assert_eq!(carry_landmarks(&pts, &from, &from), pts);
        let jittered = face(108.0, 44.0, 90.0, 110.0);
        assert_eq!(carry_landmarks(&pts, &from, &jittered), pts);
        // Moved by (+60, +45) and twice as large: the box's corner stays the corner, its
        // centre the centre.
        let to = face(120.0, 45.0, 160.0, 200.0);
        let corners: Landmarks = std::array::from_fn(|i| match i % 3 {
            0 => (100.0, 50.0),
            1 => (140.0, 100.0),
            _ => (180.0, 150.0),
        });
        let got = carry_landmarks(&corners, &from, &to);
        assert_eq!(got[0], (120.0, 45.0));
        assert_eq!(got[1], (200.0, 145.0));
        assert_eq!(got[2], (280.0, 245.0));
        // A move of a quarter of the width alone is motion, not jitter.
        let shifted = face(120.0, 50.0, 80.0, 100.0);
        assert_eq!(carry_landmarks(&corners, &from, &shifted)[0], (120.0, 50.0));
    }

    #[test]
    fn crop_is_square_centred_with_margin() {
        // A 100x100 face at (200,100) with 20% margin: side 100 * 1.4 = 140, centred on
        // (250,150), so the square starts at (180, 80).
        let c = square_crop(&face(200.0, 100.0, 100.0, 100.0), 0.2, 640, 480);
        assert_eq!(
            c,
            CropBox {
                x: 180,
                y: 80,
                side: 140
            }
        );
        // A tall box uses its larger side.
        let c = square_crop(&face(200.0, 100.0, 80.0, 120.0), 0.0, 640, 480);
        assert_eq!(c.side, 120);
        assert_eq!((c.x, c.y), (180, 100));
    }

    #[test]
    fn crop_is_clamped_into_the_frame() {
        // Face at the top-left corner: the square moves right/down rather than leaving the frame.
        let c = square_crop(&face(-10.0, -5.0, 60.0, 60.0), 0.25, 640, 480);
        assert_eq!((c.x, c.y, c.side), (0, 0, 90));
        // Bottom-right corner.
        let c = square_crop(&face(600.0, 450.0, 60.0, 60.0), 0.25, 640, 480);
        assert_eq!((c.x + c.side, c.y + c.side), (640, 480));
        // Larger than the frame: shrunk to the frame's smaller side.
        let c = square_crop(&face(0.0, 0.0, 500.0, 500.0), 0.5, 640, 480);
        // Centre (250, 250): x starts at 250 - 240; y is pushed to 0.
        assert_eq!((c.x, c.y, c.side), (10, 0, 480));
    }

    #[test]
    fn similarity_fit_recovers_a_known_transform() {
        // Scale 2, rotation 90 degrees (a = 0, b = 2), shift (10, 5).
        let t = Similarity {
            a: 0.0,
            b: 2.0,
            tx: 10.0,
            ty: 5.0,
        };
        let from = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (3.0, 2.0)];
        let to: Vec<(f32, f32)> = from.iter().map(|&p| t.apply(p)).collect();
        let fit = Similarity::fit(&from, &to).unwrap();
        assert!((fit.a - t.a).abs() < 1e-5 && (fit.b - t.b).abs() < 1e-5);
        assert!((fit.tx - 10.0).abs() < 1e-4 && (fit.ty - 5.0).abs() < 1e-4);
        // (1, 0) -> (10 + 0, 5 + 2) and back.
        let p = fit.apply((1.0, 0.0));
        assert!((p.0 - 10.0).abs() < 1e-4 && (p.1 - 7.0).abs() < 1e-4);
        let back = fit.inverse().unwrap().apply(p);
        assert!((back.0 - 1.0).abs() < 1e-4 && back.1.abs() < 1e-4);
        assert!(Similarity::fit(&[(1.0, 1.0)], &[(2.0, 2.0)]).is_none());
        assert!(Similarity::fit(&[(1.0, 1.0), (1.0, 1.0)], &[(0.0, 0.0), (1.0, 1.0)]).is_none());
    }

    #[test]
    fn aligned_crop_puts_the_eyes_on_the_template() {
        // A frame whose only bright pixels are the two "eyes" of a tilted face; after
        // alignment the bright spots must sit on the template's eye positions.
        let (w, h) = (200u32, 200u32);
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        let mut pts = [(0f32, 0f32); 68];
        // Eyes at (80, 100) and (120, 110): a tilt of atan(10/40).
        let eyes = [(80.0f32, 100.0f32), (120.0, 110.0)];
        for (k, e) in eyes.iter().enumerate() {
            for i in 0..6 {
                pts[36 + 6 * k + i] = *e;
            }
            for dy in -1i32..=1 {
                for dx in -1i32..=1 {
                    let idx =
                        (((e.1 as i32 + dy) as u32 * w + (e.0 as i32 + dx) as u32) * 3) as usize;
                    rgb[idx..idx + 3].copy_from_slice(&[255, 255, 255]);
                }
            }
        }
        // Nose and mouth placed consistently with the template under the same transform.
        let t = Similarity::fit(&CANONICAL_5[..2], &eyes).unwrap();
        pts[30] = t.apply(CANONICAL_5[2]);
        pts[48] = t.apply(CANONICAL_5[3]);
        pts[54] = t.apply(CANONICAL_5[4]);
        let f = Frame::new(0, 0.0, w, h, rgb).unwrap();
        let out = aligned_crop(&f, &pts, 112, 1.0).unwrap();
        let at = |x: f32, y: f32| out[((y as u32 * 112 + x as u32) * 3) as usize];
        for (x, y) in &CANONICAL_5[..2] {
            assert!(at(x * 112.0, y * 112.0) > 100, "no eye at ({x}, {y})");
        }
        assert_eq!(at(56.0, 20.0), 0);
        // Mouth corners moved (a smile): the 5-point crop shifts the eyes off the template,
        // the rigid one (eyes and nose) does not.
        pts[48].1 -= 12.0;
        pts[54].1 -= 12.0;
        let rigid = rigid_aligned_crop(&f, &pts, 112, 1.0).unwrap();
        for (x, y) in &CANONICAL_5[..2] {
            let i = (((y * 112.0) as u32 * 112 + (x * 112.0) as u32) * 3) as usize;
            assert!(rigid[i] > 100, "rigid: no eye at ({x}, {y})");
        }
        let moved = aligned_crop(&f, &pts, 112, 1.0).unwrap();
        let on_eyes = CANONICAL_5[..2]
            .iter()
            .filter(|(x, y)| {
                moved[(((y * 112.0) as u32 * 112 + (x * 112.0) as u32) * 3) as usize] > 100
            })
            .count();
        assert!(on_eyes < 2, "the 5-point fit should follow the mouth");
    }

    #[test]
    fn luma_is_the_rounded_weighted_sum_for_every_colour() {
        for r in 0..=255u32 {
            for g in 0..=255u32 {
                for b in 0..=255u32 {
                    let want = ((299 * r + 587 * g + 114 * b + 500) / 1000) as u8;
                    assert_eq!(luma(r as u8, g as u8, b as u8), want, "{r} {g} {b}");
                }
            }
        }
    }

    #[test]
    fn a_rows_luma_is_each_pixels() {
        // Rows of 0 to 20 pixels: whole blocks of eight and the rest.
        for n in 0..=20usize {
            let rgb: Vec<u8> = (0..n * 3).map(|i| (i * 97 % 256) as u8).collect();
            let mut grey = vec![0u8; n];
            luma_row(&rgb, &mut grey);
            let want: Vec<u8> = rgb
                .chunks_exact(3)
                .map(|p| luma(p[0], p[1], p[2]))
                .collect();
            assert_eq!(grey, want, "{n} pixels");
        }
    }

    #[test]
    fn luma_weights() {
        assert_eq!(luma(255, 255, 255), 255);
        assert_eq!(luma(0, 0, 0), 0);
        // 0.299 * 255 = 76.2
        assert_eq!(luma(255, 0, 0), 76);
        assert_eq!(luma(0, 255, 0), 150);
        assert_eq!(luma(0, 0, 255), 29);
    }

    #[test]
    fn crop_resamples_the_right_region() {
        // Left half red, right half blue; a crop of the right half comes out all blue.
        let (w, h) = (8u32, 4u32);
        let mut rgb = Vec::new();
        for _ in 0..h {
            for x in 0..w {
                rgb.extend_from_slice(if x < 4 { &[255, 0, 0] } else { &[0, 0, 255] });
            }
        }
        let f = Frame::new(0, 0.0, w, h, rgb).unwrap();
        let out = crop_rgb(
            &f,
            CropBox {
                x: 4,
                y: 0,
                side: 4,
            },
            2,
        );
        assert_eq!(out, vec![0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255]);
        let out = crop_rgb(
            &f,
            CropBox {
                x: 0,
                y: 0,
                side: 4,
            },
            8,
        );
        assert_eq!(&out[..3], &[255, 0, 0]);
    }

    /// The grey scaling as first written (a grey value computed per pixel read, per output
    /// pixel), at full size and shrinking (enlarging is unchanged): the reference
    /// [`grey_scaled_region`] must equal byte for byte.
    fn grey_scaled_region_reference(
        frame: &Frame,
        region: (u32, u32, u32, u32),
        scale: f32,
        out: &mut Vec<u8>,
    ) -> (u32, u32) {
        let (rx, ry, w, h) = region;
        let stride = frame.width as usize * 3;
        let (ow, oh) = scaled_size(w, h, scale);
        out.clear();
        out.reserve((ow * oh) as usize);
        let rgb = &frame.rgb;
        let at = |x: u32, y: u32| {
            let i = (ry + y) as usize * stride + (rx + x) as usize * 3;
            luma(rgb[i], rgb[i + 1], rgb[i + 2])
        };
        if ow == w && oh == h {
            for y in 0..h {
                out.extend((0..w).map(|x| at(x, y)));
            }
        } else if scale < 1.0 {
            for oy in 0..oh {
                let y0 = oy * h / oh;
                let y1 = ((oy + 1) * h / oh).max(y0 + 1);
                for ox in 0..ow {
                    let x0 = ox * w / ow;
                    let x1 = ((ox + 1) * w / ow).max(x0 + 1);
                    let mut sum = 0u32;
                    for y in y0..y1 {
                        for x in x0..x1 {
                            sum += at(x, y) as u32;
                        }
                    }
                    out.push((sum / ((y1 - y0) * (x1 - x0))) as u8);
                }
            }
        }
        (ow, oh)
    }

    #[test]
    fn rounding_without_roundf_is_round_bit_for_bit() {
        // Every multiple of 1/4096 in 0..=255, and the floats next to each half.
        let mut values: Vec<f32> = (0..=255 * 4096).map(|i| i as f32 / 4096.0).collect();
        for k in 0..255 {
            let half = k as f32 + 0.5;
            values.extend([half.next_down(), half, half.next_up()]);
        }
        values.extend([0.499_999_97, 254.999_98, 255.0]);
        for v in values {
            assert_eq!(round_u8(v), v.round() as u8, "{v}");
        }
    }

    #[test]
    fn face_crops_equal_their_first_form_byte_for_byte() {
        // The first form: roundf per sample (the floor in `sample` is now a truncation of a
        // value clamped to >= 0, the same number), the column bounds per pixel.
        fn reference(frame: &Frame, crop: CropBox, size: u32) -> Vec<u8> {
            let mut out = Vec::new();
            if crop.side <= size {
                let step = crop.side as f32 / size as f32;
                for oy in 0..size {
                    let y = crop.y as f32 + (oy as f32 + 0.5) * step - 0.5;
                    for ox in 0..size {
                        let x = crop.x as f32 + (ox as f32 + 0.5) * step - 0.5;
                        let (w, h) = (frame.width, frame.height);
                        for c in 0..3 {
                            out.push(sample(&frame.rgb, w, h, 3, x, y, c).round() as u8);
                        }
                    }
                }
                return out;
            }
            let start = |i: u32, o: u32| o + (i as u64 * crop.side as u64 / size as u64) as u32;
            for oy in 0..size {
                let (y0, y1) = (
                    start(oy, crop.y),
                    start(oy + 1, crop.y).max(start(oy, crop.y) + 1),
                );
                for ox in 0..size {
                    let (x0, x1) = (
                        start(ox, crop.x),
                        start(ox + 1, crop.x).max(start(ox, crop.x) + 1),
                    );
                    let mut acc = [0u32; 3];
                    for y in y0..y1 {
                        for x in x0..x1 {
                            for (c, a) in acc.iter_mut().enumerate() {
                                *a += frame.rgb[(y * frame.width + x) as usize * 3 + c] as u32;
                            }
                        }
                    }
                    let n = (y1 - y0) * (x1 - x0);
                    out.extend(acc.map(|a| ((a + n / 2) / n) as u8));
                }
            }
            out
        }
        let (w, h) = (160u32, 120u32);
        let rgb: Vec<u8> = (0..w * h * 3)
            .map(|i| ((i * 7919 + i / 7) % 256) as u8)
            .collect();
        let frame = Frame::new(0, 0.0, w, h, rgb).unwrap();
        // Enlarged (37 and 64 px to 112), the same size, shrunk (117 and 120 px to 112, 100 to
        // 64, 90 to 48).
        for (x, y, side, size) in [
            (3, 5, 37, 112),
            (90, 50, 64, 112),
            (10, 10, 112, 112),
            (40, 0, 117, 112),
            (0, 0, 120, 112),
            (50, 15, 100, 64),
            (70, 30, 90, 48),
        ] {
            let crop = CropBox { x, y, side };
            assert_eq!(
                crop_rgb(&frame, crop, size),
                reference(&frame, crop, size),
                "{crop:?} to {size}"
            );
        }
    }

    #[test]
    fn grey_scaling_equals_its_first_form_byte_for_byte() {
        let (w, h) = (203u32, 117u32);
        let rgb: Vec<u8> = (0..w * h * 3)
            .map(|i| ((i * 7919 + i / 5) % 256) as u8)
            .collect();
        let f = Frame::new(0, 0.0, w, h, rgb).unwrap();
        // The whole frame and a region of it; unchanged, shrunk by 1.5, 2, 3 and 7.3
        // (uneven cells).
        for region in [(0, 0, w, h), (17, 9, 120, 100)] {
            for scale in [1.0, 1.0 / 1.5, 0.5, 1.0 / 3.0, 1.0 / 7.3] {
                let (mut fast, mut reference) = (Vec::new(), Vec::new());
                let size = grey_scaled_region(&f, region, scale, &mut fast);
                let ref_size = grey_scaled_region_reference(&f, region, scale, &mut reference);
                assert_eq!(size, ref_size, "{region:?} at {scale}");
                assert_eq!(fast, reference, "{region:?} at {scale}");
            }
        }
    }

    #[test]
    fn grey_scaled_halves_by_averaging() {
        // 4x2 frame: columns alternate black and white, so each 2x2 block averages to 127/128.
        let mut rgb = Vec::new();
        for _ in 0..2 {
            for x in 0..4 {
                let v = if x % 2 == 0 { 0 } else { 255 };
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
        let f = Frame::new(0, 0.0, 4, 2, rgb).unwrap();
        let mut out = Vec::new();
        assert_eq!(grey_scaled(&f, 0.5, &mut out), (2, 1));
        assert_eq!(out, vec![127, 127]);
        assert_eq!(grey_scaled(&f, 1.0, &mut out), (4, 2));
        assert_eq!(out[..4], [0, 255, 0, 255]);
        assert_eq!(grey_scaled(&f, 2.0, &mut out), (8, 4));
        assert_eq!(out.len(), 32);
        // A region: columns 1..3 of row 1 at full scale.
        assert_eq!(grey_scaled_region(&f, (1, 1, 2, 1), 1.0, &mut out), (2, 1));
        assert_eq!(out, vec![255, 0]);
    }

    #[test]
    fn resize_keeps_flat_colour() {
        let src = vec![10u8, 20, 30].repeat(6 * 4);
        let out = resize_rgb(&src, 6, 4, 3, 2);
        assert_eq!(out, vec![10, 20, 30].repeat(6));
    }

    #[test]
    fn the_box_crop_is_the_square_box_crop_whatever_the_landmarks() {
        let (w, h) = (200u32, 120u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let frame = Frame::new(0, 0.0, w, h, rgb).unwrap();
        let f = face(60.0, 20.0, 50.0, 60.0);
        let want = crop_rgb(&frame, square_crop(&f, BOX_CROP_MARGIN, w, h), 32);
        // Landmarks that would align the face elsewhere change nothing but their own
        // coordinates, which follow the crop's transform.
        let mut pts = [(0f32, 0f32); 68];
        for (i, p) in pts.iter_mut().enumerate() {
            *p = (70.0 + (i % 10) as f32 * 3.0, 30.0 + (i / 10) as f32 * 5.0);
        }
        let (crop, in_crop) = au_net_crop_and_landmarks(&frame, &f, Some(&pts), 32, AuCrop::Box);
        assert!(crop == want);
        assert!(au_net_crop(&frame, &f, None, 32, AuCrop::Box) == want);
        assert!(au_net_crop(&frame, &f, Some(&pts), 32, AuCrop::Aligned) != want);
        let t = au_net_crop_transform(&frame, &f, Some(&pts), 32, AuCrop::Box);
        assert_eq!(in_crop.unwrap()[5], t.apply(pts[5]));
        // The square around the box (side 60, centred) maps onto the crop's corners.
        let c = square_crop(&f, BOX_CROP_MARGIN, w, h);
        let (x0, y0) = t.apply((c.x as f32, c.y as f32));
        let (x1, y1) = t.apply(((c.x + c.side) as f32, (c.y + c.side) as f32));
        for (got, want) in [(x0, 0.0), (y0, 0.0), (x1, 32.0), (y1, 32.0)] {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
    }

    #[test]
    fn crop_kinds_parse_and_print_by_name() {
        for name in AuCrop::NAMES {
            let c: AuCrop = name.parse().unwrap();
            assert_eq!(c.to_string(), name);
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{name}\""));
        }
        let e = "tight".parse::<AuCrop>().unwrap_err().to_string();
        assert_eq!(e, "invalid crop tight (expected aligned or box)");
        assert_eq!(AuCrop::default(), AuCrop::Aligned);
    }
}
