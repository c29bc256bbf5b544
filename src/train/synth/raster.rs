//! The renderer's rasteriser. Shapes are given in face space: x to the right, y down, 1 unit =
//! half the face width, origin between the eyes' level and the nose. A similarity transform
//! (the head pose) maps face space to pixels. Every primitive is a signed distance (negative
//! inside, in face units) plus a paint function; coverage of a pixel is
//! clamp(0.5 - distance_px), which anti-aliases edges.

pub(super) type Rgb = [f32; 3];

#[derive(Clone, Copy, Debug)]
pub(super) struct Pose {
    pub(super) cx: f32,
    pub(super) cy: f32,
    /// Pixels per face unit.
    pub(super) scale: f32,
    pub(super) cos: f32,
    pub(super) sin: f32,
}

impl Pose {
    pub(super) fn to_px(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.cx + self.scale * (self.cos * x - self.sin * y),
            self.cy + self.scale * (self.sin * x + self.cos * y),
        )
    }

    pub(super) fn to_face(&self, px: f32, py: f32) -> (f32, f32) {
        let dx = (px - self.cx) / self.scale;
        let dy = (py - self.cy) / self.scale;
        (
            self.cos * dx + self.sin * dy,
            -self.sin * dx + self.cos * dy,
        )
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Blend {
    /// Paint the colour over the pixel.
    Over,
    /// Multiply the pixel by the colour (shadows < 1, highlights > 1).
    Multiply,
}

pub(super) struct Canvas {
    pub(super) size: usize,
    pub(super) px: Vec<Rgb>,
    pub(super) pose: Pose,
}

pub(super) fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

pub(super) fn scale(c: Rgb, k: f32) -> Rgb {
    [c[0] * k, c[1] * k, c[2] * k]
}

pub(super) fn mul(a: Rgb, b: Rgb) -> Rgb {
    [a[0] * b[0], a[1] * b[1], a[2] * b[2]]
}

/// Signed distance (approximate) to an axis-aligned ellipse.
pub(super) fn ellipse_sdf(x: f32, y: f32, cx: f32, cy: f32, rx: f32, ry: f32) -> f32 {
    let nx = (x - cx) / rx;
    let ny = (y - cy) / ry;
    ((nx * nx + ny * ny).sqrt() - 1.0) * rx.min(ry)
}

/// Smooth union of two signed distances.
pub(super) fn smin(a: f32, b: f32, k: f32) -> f32 {
    let h = (0.5 + 0.5 * (b - a) / k).clamp(0.0, 1.0);
    b + (a - b) * h - k * h * (1.0 - h)
}

/// Distance from p to segment ab, and the position along it in [0, 1].
pub(super) fn segment(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> (f32, f32) {
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
pub(super) fn bezier(p0: (f32, f32), p1: (f32, f32), p2: (f32, f32), n: usize) -> Vec<(f32, f32)> {
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

pub(super) fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

impl Canvas {
    /// Fills the shape `sdf` < 0 inside the face-space box `bounds` (x0, y0, x1, y1) with
    /// `paint` (colour, alpha) at each covered pixel.
    pub(super) fn fill(
        &mut self,
        bounds: [f32; 4],
        blend: Blend,
        sdf: impl Fn(f32, f32) -> f32,
        paint: impl Fn(f32, f32) -> (Rgb, f32),
    ) {
        let corners = [
            self.pose.to_px(bounds[0], bounds[1]),
            self.pose.to_px(bounds[2], bounds[1]),
            self.pose.to_px(bounds[0], bounds[3]),
            self.pose.to_px(bounds[2], bounds[3]),
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
        let n = self.size as f32;
        let x0 = (lo_x - 1.0).clamp(0.0, n) as usize;
        let x1 = (hi_x + 2.0).clamp(0.0, n) as usize;
        let y0 = (lo_y - 1.0).clamp(0.0, n) as usize;
        let y1 = (hi_y + 2.0).clamp(0.0, n) as usize;
        for py in y0..y1 {
            for px in x0..x1 {
                let (x, y) = self.pose.to_face(px as f32 + 0.5, py as f32 + 0.5);
                let d = sdf(x, y) * self.pose.scale;
                let cover = (0.5 - d).clamp(0.0, 1.0);
                if cover <= 0.0 {
                    continue;
                }
                let (colour, alpha) = paint(x, y);
                let a = (alpha * cover).clamp(0.0, 1.0);
                if a <= 0.0 {
                    continue;
                }
                let p = &mut self.px[py * self.size + px];
                *p = match blend {
                    Blend::Over => mix(*p, colour, a),
                    Blend::Multiply => mul(*p, mix([1.0; 3], colour, a)),
                };
            }
        }
    }

    /// A filled ellipse with a flat colour.
    pub(super) fn ellipse(
        &mut self,
        c: (f32, f32),
        r: (f32, f32),
        colour: Rgb,
        alpha: f32,
        blend: Blend,
    ) {
        let b = [c.0 - r.0, c.1 - r.1, c.0 + r.0, c.1 + r.1];
        self.fill(
            b,
            blend,
            |x, y| ellipse_sdf(x, y, c.0, c.1, r.0, r.1),
            |_, _| (colour, alpha),
        );
    }

    /// A soft blob: alpha falls smoothly from `alpha` at the centre to 0 at the rim. Used for
    /// shading (sockets, cheeks, shadows).
    pub(super) fn soft(
        &mut self,
        c: (f32, f32),
        r: (f32, f32),
        colour: Rgb,
        alpha: f32,
        blend: Blend,
    ) {
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

    /// A thick polyline whose half-width goes linearly from `hw.0` at the first point to
    /// `hw.1` at the last, with round ends.
    pub(super) fn stroke(
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
        let min_hw = 0.5 / self.pose.scale;
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
