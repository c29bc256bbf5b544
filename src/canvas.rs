//! The crate's one drawing surface: a row-major pixel buffer, [`Canvas`], used by the overlay
//! (0RGB `u32` pixels: rectangles, translucent panels and antialiased text in the bundled
//! font, placed in whole pixels) and by the synthetic face
//! renderer (float [`Rgb`] pixels: anti-aliased shapes).
//!
//! Anti-aliased shapes are given in a shape space that [`Canvas::transform`] (a similarity:
//! scale, rotation, offset) maps to pixels; the identity by default. Every shape is a signed
//! distance (negative inside, in shape units) plus a paint function; the coverage of a
//! pixel is clamp(0.5 - distance in pixels), which anti-aliases edges.
//!
//! Imports only std and [`crate::font`].

use crate::font::{blend, draw_text};

/// A colour with float channels, nominally in [0, 1]; above 1 brightens in
/// [`Blend::Multiply`].
pub type Rgb = [f32; 3];

/// How a shape's colour combines with the pixels under it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Blend {
    /// Paint the colour over the pixel.
    Over,
    /// Multiply the pixel by the colour (shadows < 1, highlights > 1).
    Multiply,
}

/// A similarity transform from shape space to pixels: scale, then rotate, then move the
/// shape-space origin to (`cx`, `cy`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Similarity {
    /// Pixel position of the shape-space origin.
    pub cx: f32,
    pub cy: f32,
    /// Pixels per shape unit.
    pub scale: f32,
    /// Cosine and sine of the rotation.
    pub cos: f32,
    pub sin: f32,
}

impl Similarity {
    /// Shape space is pixel space.
    pub const IDENTITY: Similarity = Similarity {
        cx: 0.0,
        cy: 0.0,
        scale: 1.0,
        cos: 1.0,
        sin: 0.0,
    };

    /// The pixel position of shape point (`x`, `y`).
    pub fn to_px(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.cx + self.scale * (self.cos * x - self.sin * y),
            self.cy + self.scale * (self.sin * x + self.cos * y),
        )
    }

    /// The shape point at pixel position (`px`, `py`): the inverse of [`Similarity::to_px`].
    pub fn from_px(&self, px: f32, py: f32) -> (f32, f32) {
        let dx = (px - self.cx) / self.scale;
        let dy = (py - self.cy) / self.scale;
        (
            self.cos * dx + self.sin * dy,
            -self.sin * dx + self.cos * dy,
        )
    }
}

impl Default for Similarity {
    fn default() -> Self {
        Similarity::IDENTITY
    }
}

/// A picture: `width` x `height` pixels of type `P`, row-major.
#[derive(Clone, Debug, Default)]
pub struct Canvas<P = u32> {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<P>,
    /// Maps the anti-aliased shapes' coordinates to pixels; rectangles and text are always
    /// in pixels.
    pub transform: Similarity,
}

impl<P: Copy> Canvas<P> {
    /// A `width` x `height` canvas filled with `background`, with the identity transform.
    pub fn new(width: u32, height: u32, background: P) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![background; width as usize * height as usize],
            transform: Similarity::IDENTITY,
        }
    }

    /// Fills the `w` x `h` pixel rectangle with its top-left at (`x`, `y`), clipped to the
    /// canvas.
    pub fn fill_rect(&mut self, x: i32, y: i32, w: i32, h: i32, colour: P) {
        let x0 = x.clamp(0, self.width as i32);
        let y0 = y.clamp(0, self.height as i32);
        let x1 = (x + w).clamp(x0, self.width as i32);
        let y1 = (y + h).clamp(0, self.height as i32);
        for yy in y0..y1 {
            let row = (yy as u32 * self.width) as usize;
            self.pixels[row + x0 as usize..row + x1 as usize].fill(colour);
        }
    }

    /// The outline of a `w` x `h` rectangle at (`x`, `y`), `thickness` pixels wide inside
    /// its edges, clipped to the canvas.
    pub fn outline(&mut self, x: i32, y: i32, w: i32, h: i32, thickness: i32, colour: P) {
        let t = thickness;
        self.fill_rect(x, y, w, t, colour);
        self.fill_rect(x, y + h - t, w, t, colour);
        self.fill_rect(x, y, t, h, colour);
        self.fill_rect(x + w - t, y, t, h, colour);
    }
}

impl Canvas<u32> {
    /// `text` at size `px` in the bundled font ([`crate::font`]), the top of its line at `y`
    /// and starting at `x`, antialiased and clipped to the canvas. Returns its width.
    pub fn text(&mut self, x: i32, y: i32, text: &str, colour: u32, px: u32) -> u32 {
        draw_text(&mut self.pixels, self.width, x, y, text, colour, px)
    }

    /// Lays `colour` over the `w` x `h` rectangle at (`x`, `y`) with opacity `alpha` of
    /// 255 (a translucent panel), clipped to the canvas.
    pub fn shade_rect(&mut self, x: i32, y: i32, w: i32, h: i32, colour: u32, alpha: u32) {
        let x0 = x.clamp(0, self.width as i32);
        let y0 = y.clamp(0, self.height as i32);
        let x1 = (x + w).clamp(x0, self.width as i32);
        let y1 = (y + h).clamp(y0, self.height as i32);
        for yy in y0..y1 {
            let row = (yy as u32 * self.width) as usize;
            for p in &mut self.pixels[row + x0 as usize..row + x1 as usize] {
                *p = blend(*p, colour, alpha);
            }
        }
    }

    /// The canvas as RGB8 bytes, for PNG output.
    pub fn to_rgb(&self) -> Vec<u8> {
        self.pixels
            .iter()
            .flat_map(|p| [(p >> 16) as u8, (p >> 8) as u8, *p as u8])
            .collect()
    }
}

/// `a` moved toward `b` by `t` (0: `a`, 1: `b`).
pub fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// `c` with each channel times `k`.
pub fn scale(c: Rgb, k: f32) -> Rgb {
    [c[0] * k, c[1] * k, c[2] * k]
}

/// Channel-wise product.
pub fn mul(a: Rgb, b: Rgb) -> Rgb {
    [a[0] * b[0], a[1] * b[1], a[2] * b[2]]
}

/// Signed distance (approximate) to an axis-aligned ellipse.
pub fn ellipse_sdf(x: f32, y: f32, cx: f32, cy: f32, rx: f32, ry: f32) -> f32 {
    let nx = (x - cx) / rx;
    let ny = (y - cy) / ry;
    ((nx * nx + ny * ny).sqrt() - 1.0) * rx.min(ry)
}

/// Smooth union of two signed distances.
pub fn smin(a: f32, b: f32, k: f32) -> f32 {
    let h = (0.5 + 0.5 * (b - a) / k).clamp(0.0, 1.0);
    b + (a - b) * h - k * h * (1.0 - h)
}

/// Distance from p to segment ab, and the position along it in [0, 1].
pub fn segment(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> (f32, f32) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (p.0 - a.0 - t * dx, p.1 - a.1 - t * dy);
    ((ex * ex + ey * ey).sqrt(), t)
}

/// A quadratic Bézier from p0 to p2 pulled toward p1, as `n` + 1 points.
pub fn bezier(p0: (f32, f32), p1: (f32, f32), p2: (f32, f32), n: usize) -> Vec<(f32, f32)> {
    (0..=n)
        .map(|i| {
            let t = i as f32 / n as f32;
            let u = 1.0 - t;
            (
                u * u * p0.0 + 2.0 * u * t * p1.0 + t * t * p2.0,
                u * u * p0.1 + 2.0 * u * t * p1.1 + t * t * p2.1,
            )
        })
        .collect()
}

impl Canvas<Rgb> {
    /// Fills the shape `sdf` < 0 (a signed distance in shape units) inside the shape-space
    /// box `bounds` (x0, y0, x1, y1) with `paint` (colour, alpha) at each covered pixel;
    /// `sdf` and `paint` are called with shape coordinates.
    pub fn fill(
        &mut self,
        bounds: [f32; 4],
        blend: Blend,
        sdf: impl Fn(f32, f32) -> f32,
        paint: impl Fn(f32, f32) -> (Rgb, f32),
    ) {
        let t = self.transform;
        let corners = [
            t.to_px(bounds[0], bounds[1]),
            t.to_px(bounds[2], bounds[1]),
            t.to_px(bounds[0], bounds[3]),
            t.to_px(bounds[2], bounds[3]),
        ];
        let lo_x = corners.iter().map(|c| c.0).fold(f32::INFINITY, f32::min);
        let hi_x = corners
            .iter()
            .map(|c| c.0)
            .fold(f32::NEG_INFINITY, f32::max);
        let lo_y = corners.iter().map(|c| c.1).fold(f32::INFINITY, f32::min);
        let hi_y = corners
            .iter()
            .map(|c| c.1)
            .fold(f32::NEG_INFINITY, f32::max);
        let (w, h) = (self.width as f32, self.height as f32);
        let x0 = (lo_x - 1.0).clamp(0.0, w) as usize;
        let x1 = (hi_x + 2.0).clamp(0.0, w) as usize;
        let y0 = (lo_y - 1.0).clamp(0.0, h) as usize;
        let y1 = (hi_y + 2.0).clamp(0.0, h) as usize;
        let stride = self.width as usize;
        for py in y0..y1 {
            for px in x0..x1 {
                let (x, y) = t.from_px(px as f32 + 0.5, py as f32 + 0.5);
                let d = sdf(x, y) * t.scale;
                let cover = (0.5 - d).clamp(0.0, 1.0);
                if cover <= 0.0 {
                    continue;
                }
                let (colour, alpha) = paint(x, y);
                let a = (alpha * cover).clamp(0.0, 1.0);
                if a <= 0.0 {
                    continue;
                }
                let p = &mut self.pixels[py * stride + px];
                *p = match blend {
                    Blend::Over => mix(*p, colour, a),
                    Blend::Multiply => mul(*p, mix([1.0; 3], colour, a)),
                };
            }
        }
    }

    /// A filled ellipse with centre `c` and radii `r` (shape space) in a flat colour.
    pub fn ellipse(&mut self, c: (f32, f32), r: (f32, f32), colour: Rgb, alpha: f32, blend: Blend) {
        let b = [c.0 - r.0, c.1 - r.1, c.0 + r.0, c.1 + r.1];
        self.fill(
            b,
            blend,
            |x, y| ellipse_sdf(x, y, c.0, c.1, r.0, r.1),
            |_, _| (colour, alpha),
        );
    }

    /// A soft blob: alpha falls smoothly from `alpha` at the centre to 0 at the rim of the
    /// ellipse (`c`, `r`), for shading.
    pub fn soft(&mut self, c: (f32, f32), r: (f32, f32), colour: Rgb, alpha: f32, blend: Blend) {
        let b = [c.0 - r.0, c.1 - r.1, c.0 + r.0, c.1 + r.1];
        self.fill(
            b,
            blend,
            |_, _| -1.0,
            |x, y| {
                let nx = (x - c.0) / r.0;
                let ny = (y - c.1) / r.1;
                let q = (1.0 - (nx * nx + ny * ny)).max(0.0);
                (colour, alpha * q * q)
            },
        );
    }

    /// A thick polyline through `pts` (shape space) whose half-width goes linearly from
    /// `hw.0` at the first point to `hw.1` at the last, with round ends.
    pub fn stroke(
        &mut self,
        pts: &[(f32, f32)],
        hw: (f32, f32),
        colour: Rgb,
        alpha: f32,
        blend: Blend,
    ) {
        if pts.len() < 2 {
            return;
        }
        let pad = hw.0.max(hw.1);
        let b = [
            pts.iter().map(|p| p.0).fold(f32::INFINITY, f32::min) - pad,
            pts.iter().map(|p| p.1).fold(f32::INFINITY, f32::min) - pad,
            pts.iter().map(|p| p.0).fold(f32::NEG_INFINITY, f32::max) + pad,
            pts.iter().map(|p| p.1).fold(f32::NEG_INFINITY, f32::max) + pad,
        ];
        let last = (pts.len() - 1) as f32;
        // Strokes thinner than a pixel are drawn a pixel wide and fainter, so they stay
        // visible without aliasing.
        let min_hw = 0.5 / self.transform.scale;
        let thin = |w: f32| (w / min_hw).min(1.0);
        self.fill(
            b,
            blend,
            |x, y| {
                let mut best = f32::INFINITY;
                for (i, w) in pts.windows(2).enumerate() {
                    let (d, t) = segment((x, y), w[0], w[1]);
                    let along = (i as f32 + t) / last;
                    let half = (hw.0 + (hw.1 - hw.0) * along).max(min_hw);
                    best = best.min(d - half);
                }
                best
            },
            |x, y| {
                let mut best = (f32::INFINITY, 0.0);
                for (i, w) in pts.windows(2).enumerate() {
                    let (d, t) = segment((x, y), w[0], w[1]);
                    if d < best.0 {
                        best = (d, (i as f32 + t) / last);
                    }
                }
                let half = hw.0 + (hw.1 - hw.0) * best.1;
                (colour, alpha * thin(half))
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangles_and_outlines_are_clipped() {
        let mut c = Canvas::new(6, 4, 0u32);
        // Half off the left and bottom edges: columns 0..2 of rows 2..4.
        c.fill_rect(-3, 2, 5, 9, 7);
        let sevens: Vec<usize> = (0..24).filter(|&i| c.pixels[i] == 7).collect();
        assert_eq!(sevens, vec![12, 13, 18, 19]);
        // Negative width or entirely outside: nothing drawn, no panic.
        c.fill_rect(5, 0, -3, 2, 9);
        c.fill_rect(10, 10, 2, 2, 9);
        assert!(!c.pixels.contains(&9));
        // A 4x3 outline one pixel thick at (1, 0): the ring of 10 pixels, not the middle two.
        let mut c = Canvas::new(6, 4, 0u32);
        c.outline(1, 0, 4, 3, 1, 5);
        assert_eq!(c.pixels.iter().filter(|&&p| p == 5).count(), 10);
        assert_eq!((c.pixels[8], c.pixels[9]), (0, 0));
    }

    #[test]
    fn text_shading_and_rgb_bytes() {
        let mut c = Canvas::new(40, 20, 0x00_10_20_30u32);
        let w = c.text(2, 1, "AU", 0xFF_00_00, 14);
        assert!(w >= 14, "{w}");
        // The text is red where it covers most of a pixel; left of x = 2 nothing changed.
        assert!(c
            .pixels
            .iter()
            .any(|&p| (p >> 16) & 0xFF > 0xE0 && p & 0xFF < 0x20));
        assert!((0..20).all(|y| c.pixels[y * 40] == 0x10_20_30));
        // A 50% black shade halves each channel of what is under it.
        let mut c = Canvas::new(4, 2, 0x00_80_40_20u32);
        c.shade_rect(1, 0, 2, 9, 0, 128);
        assert_eq!(c.pixels[1], 0x40_20_10);
        assert_eq!(c.pixels[0], 0x80_40_20);
        assert_eq!(c.pixels[7], 0x80_40_20);
        c.pixels[0] = 0xFF_00_00;
        assert_eq!(&c.to_rgb()[..6], &[0xFF, 0, 0, 0x40, 0x20, 0x10]);
    }

    #[test]
    fn similarity_round_trips() {
        let angle = 0.3f32;
        let t = Similarity {
            cx: 10.0,
            cy: 5.0,
            scale: 4.0,
            cos: angle.cos(),
            sin: angle.sin(),
        };
        let (px, py) = t.to_px(1.5, -2.0);
        let (x, y) = t.from_px(px, py);
        assert!((x - 1.5).abs() < 1e-5 && (y + 2.0).abs() < 1e-5);
        assert_eq!(Similarity::IDENTITY.to_px(3.0, 4.0), (3.0, 4.0));
    }

    #[test]
    fn shapes_cover_and_blend() {
        // A circle of radius 3 px at (5, 5) on a 10x10 canvas, in pixel space.
        let mut c = Canvas::new(10, 10, [0.5f32; 3]);
        c.ellipse((5.0, 5.0), (3.0, 3.0), [1.0, 0.0, 0.0], 1.0, Blend::Over);
        // Pixel (5, 5) (centre 5.5, 5.5) is deep inside: fully painted. Pixel (0, 0) is
        // outside: untouched. Pixel (7, 5) (centre 7.5, 5.5, distance 2.55 from the centre,
        // so 0.45 px inside the rim): coverage 0.5 + 0.45 = 0.95 of the way to red.
        assert_eq!(c.pixels[5 * 10 + 5], [1.0, 0.0, 0.0]);
        assert_eq!(c.pixels[0], [0.5; 3]);
        let edge = c.pixels[5 * 10 + 7];
        let d = ((2.5f32 * 2.5 + 0.5 * 0.5).sqrt() - 3.0).abs();
        let cover = 0.5 + d;
        assert!((edge[0] - (0.5 + 0.5 * cover)).abs() < 1e-5, "{edge:?}");
        // Multiply by 0.5 at full alpha halves the pixel.
        let mut c = Canvas::new(4, 4, [0.8f32; 3]);
        c.ellipse((2.0, 2.0), (10.0, 10.0), [0.5; 3], 1.0, Blend::Multiply);
        assert!(c.pixels.iter().all(|p| (p[0] - 0.4).abs() < 1e-6));
        // A horizontal stroke 1 px either side of row 2's centre line paints that row.
        let mut c = Canvas::new(8, 5, [0.0f32; 3]);
        c.stroke(
            &[(1.0, 2.5), (7.0, 2.5)],
            (1.0, 1.0),
            [1.0; 3],
            1.0,
            Blend::Over,
        );
        assert_eq!(c.pixels[2 * 8 + 4], [1.0; 3]);
        assert_eq!(c.pixels[4], [0.0; 3]);
    }
}
