//! The lower face: nose (AU9), the folds around the mouth (AU6, AU9, AU12, AU20), lips and
//! teeth (AU12, AU17, AU20, AU25, AU26) and chin (AU17, AU26).

use super::face::{Expression, DEEP, LIGHT, SHADOW};
use super::identity::Identity;
use super::{AU12, AU17, AU20, AU6, AU9};
use crate::canvas::{bezier, scale, Blend, Canvas, Rgb};
use crate::util::rng::SplitMix64;

/// Draws the lower face, back to front; `seed` places the chin's dimples.
pub(super) fn draw(cv: &mut Canvas<Rgb>, id: &Identity, ex: &Expression, seed: u64) {
    let (a6, a9, a12) = (ex.level(AU6), ex.level(AU9), ex.level(AU12));
    let (a17, a20) = (ex.level(AU17), ex.level(AU20));
    draw_nose(cv, id, a9);
    let mouth = Mouth::new(id, ex);
    draw_folds(cv, id, &mouth, [a6, a9, a12, a20]);
    draw_mouth(cv, id, &mouth);
    draw_chin(cv, &mouth, ex.jaw_drop, a17, seed);
}

/// Mouth geometry as curves of t in [-1, 1] across the mouth.
struct Mouth {
    y: f32,
    half_w: f32,
    /// How much the corners rise (AU12 > 0).
    lift: f32,
    /// How much the lip line's middle rises above the corners (AU17 > 0).
    arch: f32,
    /// Lips apart at the middle.
    gap: f32,
    lip_u: f32,
    lip_l: f32,
    /// AU9 lifts the upper lip.
    upper_raise: f32,
    /// AU17 pushes the lower lip up.
    lower_push: f32,
}

impl Mouth {
    /// The mouth of `id` moved by the AUs of `ex`: AU12 widens it and lifts the corners,
    /// AU20 stretches it wide and thin, AU17 arches the lip line and pushes the lower lip
    /// up, AU9 lifts the upper lip, AU25 and AU26 part the lips.
    fn new(id: &Identity, ex: &Expression) -> Self {
        let (a9, a12) = (ex.level(AU9), ex.level(AU12));
        let (a17, a20) = (ex.level(AU17), ex.level(AU20));
        let thin = (1.0 - 0.45 * a20) * (1.0 - 0.15 * a12);
        Mouth {
            y: id.mouth_y,
            half_w: id.mouth_w + 0.05 * a12 + 0.16 * a20,
            lift: 0.1 * a12 - 0.035 * a20,
            arch: 0.06 * a17,
            gap: ex.lip_gap,
            lip_u: id.lip_u * thin,
            lip_l: (id.lip_l + 0.02 * a17) * thin,
            upper_raise: 0.03 * a9,
            lower_push: 0.05 * a17,
        }
    }

    fn line(&self, t: f32) -> f32 {
        let bulge = 1.0 - t * t;
        self.y - self.lift * t * t - self.arch * bulge
    }
    fn inner_upper(&self, t: f32) -> f32 {
        let open = (1.0 - t * t).max(0.0).powf(0.7);
        self.line(t) - self.gap * 0.3 * open - self.upper_raise * open
    }
    fn inner_lower(&self, t: f32) -> f32 {
        let open = (1.0 - t * t).max(0.0).powf(0.7);
        self.line(t) + self.gap * 0.7 * open
    }
    fn outer_upper(&self, t: f32) -> f32 {
        let body = (1.0 - t * t).max(0.0).sqrt();
        let bow = 1.0 - 0.3 * (-(t / 0.13).powi(2)).exp();
        self.inner_upper(t) - self.lip_u * body * bow
    }
    fn outer_lower(&self, t: f32) -> f32 {
        let body = (1.0 - t * t).max(0.0).sqrt();
        self.inner_lower(t) + self.lip_l * body - self.lower_push * body
    }
    /// Signed distance to the region between `top` and `bottom` across the mouth.
    fn band(&self, x: f32, y: f32, top: impl Fn(f32) -> f32, bottom: impl Fn(f32) -> f32) -> f32 {
        let t = (x / self.half_w).clamp(-1.0, 1.0);
        (top(t) - y).max(y - bottom(t)).max(x.abs() - self.half_w)
    }
}

/// Nose: AU9 wrinkles the bridge and lifts the nostrils.
fn draw_nose(cv: &mut Canvas<Rgb>, id: &Identity, a9: f32) {
    let skin = id.skin;
    let nw = id.nose_w;
    let ny = id.nose_y;
    for side in [-1.0f32, 1.0] {
        let pts = [(side * 0.1, -0.12), (side * 0.13 * nw, 0.2 + ny)];
        cv.stroke(&pts, (0.03, 0.05), SHADOW, 0.35, Blend::Multiply);
    }
    cv.soft(
        (0.0, 0.22 + ny - 0.04 * a9),
        (0.09, 0.08),
        LIGHT,
        0.3,
        Blend::Multiply,
    );
    cv.soft(
        (0.0, 0.36 + ny - 0.04 * a9),
        (0.17 * nw, 0.06),
        SHADOW,
        0.55,
        Blend::Multiply,
    );
    for side in [-1.0f32, 1.0] {
        let flare = 1.0 + 0.15 * a9;
        let lift = -0.05 * a9;
        let nostril = (side * 0.075 * nw * flare, 0.315 + ny + lift);
        cv.ellipse(
            nostril,
            (0.042 * flare, 0.022),
            scale(skin, 0.3),
            0.9,
            Blend::Over,
        );
        let ala = bezier(
            (side * 0.12 * nw, 0.18 + ny + lift),
            (side * 0.2 * nw * flare, 0.27 + ny + lift),
            (side * 0.1 * nw, 0.34 + ny + lift),
            8,
        );
        cv.stroke(&ala, (0.012, 0.02), DEEP, 0.55 + 0.3 * a9, Blend::Multiply);
    }
    if a9 > 0.0 {
        for k in 0..3 {
            let y = -0.1 + 0.065 * k as f32;
            let pts = bezier((-0.14, y), (0.0, y + 0.035), (0.14, y), 8);
            cv.stroke(&pts, (0.013, 0.013), DEEP, 0.75 * a9, Blend::Multiply);
        }
        for side in [-1.0f32, 1.0] {
            let pts = [(side * 0.16, 0.0), (side * 0.24, 0.12)];
            cv.stroke(&pts, (0.012, 0.012), DEEP, 0.55 * a9, Blend::Multiply);
        }
    }
}

/// The folds around the mouth, given the levels of AU6, AU9, AU12 and AU20.
fn draw_folds(cv: &mut Canvas<Rgb>, id: &Identity, mouth: &Mouth, [a6, a9, a12, a20]: [f32; 4]) {
    let (nw, ny) = (id.nose_w, id.nose_y);
    // AU20 stretches the skin beside the mouth corners: a short crease at each.
    if a20 > 0.0 {
        for side in [-1.0f32, 1.0] {
            let x = side * (mouth.half_w + 0.05);
            let y = mouth.line(1.0);
            let pts = bezier((x, y - 0.06), (x + side * 0.03, y), (x, y + 0.07), 6);
            cv.stroke(&pts, (0.012, 0.016), DEEP, 0.6 * a20, Blend::Multiply);
        }
    }
    // Nasolabial folds from the nose wings toward the mouth corners: deeper with AU6, AU9
    // and AU12.
    for side in [-1.0f32, 1.0] {
        let corner = (side * (mouth.half_w + 0.07), mouth.line(1.0) + 0.06);
        let pts = bezier(
            (side * 0.19 * nw, 0.26 + ny - 0.04 * a9),
            (side * (mouth.half_w + 0.1), 0.38),
            corner,
            10,
        );
        let depth = 0.18 + 0.45 * a12 + 0.2 * a6 + 0.4 * a9;
        cv.stroke(&pts, (0.015, 0.025), DEEP, depth.min(0.9), Blend::Multiply);
    }
    // Philtrum.
    for side in [-1.0f32, 1.0] {
        let pts = [
            (side * 0.035, 0.38 + ny),
            (side * 0.05, mouth.outer_upper(0.0) + 0.01),
        ];
        cv.stroke(&pts, (0.01, 0.012), SHADOW, 0.25, Blend::Multiply);
    }
}

/// Lips, and either the open mouth with its teeth or the line where closed lips meet.
fn draw_mouth(cv: &mut Canvas<Rgb>, id: &Identity, m: &Mouth) {
    let lip = [
        (id.skin[0] * 0.82 + 0.08).min(1.0),
        id.skin[1] * 0.55,
        id.skin[2] * 0.55,
    ];
    let hw = m.half_w;
    let bounds = [-hw - 0.02, m.y - 0.4, hw + 0.02, m.y + 0.5];
    let lit = |x: f32, y: f32| id.shade(x, y);
    // Upper lip (in shadow from above), lower lip (catches the light).
    cv.fill(
        bounds,
        Blend::Over,
        |x, y| m.band(x, y, |t| m.outer_upper(t), |t| m.inner_upper(t) + 0.004),
        |x, y| (scale(lip, 0.8 * lit(x, y)), 1.0),
    );
    cv.fill(
        bounds,
        Blend::Over,
        |x, y| m.band(x, y, |t| m.inner_lower(t) - 0.004, |t| m.outer_lower(t)),
        |x, y| {
            let t = x / hw;
            let mid = (m.inner_lower(t) + m.outer_lower(t)) / 2.0;
            let gloss = 1.0 + 0.15 * (1.0 - ((y - mid) / 0.04).powi(2)).max(0.0);
            (scale(lip, lit(x, y) * gloss), 1.0)
        },
    );
    if m.gap > 0.0 {
        // The dark inside, upper teeth along the top of the opening.
        cv.fill(
            bounds,
            Blend::Over,
            |x, y| m.band(x, y, |t| m.inner_upper(t), |t| m.inner_lower(t)),
            |_, _| ([0.16, 0.06, 0.06], 1.0),
        );
        let teeth_h = (m.gap * 0.45).min(0.05);
        cv.fill(
            bounds,
            Blend::Over,
            |x, y| {
                m.band(x, y, |t| m.inner_upper(t), |t| m.inner_upper(t) + teeth_h)
                    .max(x.abs() - 0.72 * hw)
                    .max(m.inner_upper(x / hw) - y)
                    .max(y - m.inner_lower(x / hw))
            },
            |x, y| (scale([0.92, 0.9, 0.84], 0.85 * lit(x, y)), 1.0),
        );
    } else {
        // Closed lips: a dark line where they meet.
        let pts: Vec<(f32, f32)> = (0..=16)
            .map(|i| {
                let t = -1.0 + i as f32 / 8.0;
                (t * hw, m.line(t))
            })
            .collect();
        cv.stroke(&pts, (0.012, 0.012), [0.25, 0.12, 0.1], 0.85, Blend::Over);
    }
    // Mouth corners.
    for side in [-1.0f32, 1.0] {
        cv.soft(
            (side * hw, m.line(1.0)),
            (0.05, 0.04),
            [0.45, 0.35, 0.33],
            0.6,
            Blend::Multiply,
        );
    }
}

/// Chin: AU17 raises the chin boss (a bulge with a deeper crease above it, dimpled); AU26
/// lowers it with the jaw.
fn draw_chin(cv: &mut Canvas<Rgb>, mouth: &Mouth, jaw_drop: f32, a17: f32, seed: u64) {
    let chin_c = 1.0 + jaw_drop - 0.04 * a17;
    let crease_y = mouth.outer_lower(0.0) + 0.09 - 0.02 * a17;
    let crease = bezier(
        (-0.2, crease_y + 0.03),
        (0.0, crease_y - 0.02),
        (0.2, crease_y + 0.03),
        8,
    );
    cv.stroke(
        &crease,
        (0.02, 0.02),
        SHADOW,
        0.25 + 0.65 * a17,
        Blend::Multiply,
    );
    cv.soft(
        (0.0, chin_c),
        (0.26, 0.14),
        LIGHT,
        0.1 + 0.45 * a17,
        Blend::Multiply,
    );
    if a17 > 0.0 {
        let mut rng = SplitMix64::new(SplitMix64::derive(seed, 17));
        for _ in 0..9 {
            let c = (rng.range(-0.15, 0.15), chin_c + rng.range(-0.06, 0.08));
            cv.soft(c, (0.035, 0.03), DEEP, 0.7 * a17, Blend::Multiply);
        }
    }
}
