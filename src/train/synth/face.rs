//! Drawing one synthetic face: [`render`] paints the background, the body and the head,
//! leaves the cheeks, brows and eyes to `upper.rs` and the nose, mouth and chin to
//! `lower.rs`, puts the front hair on top and finishes with what a camera adds (blur, a
//! lighting gradient, noise).

use image::RgbImage;

use super::identity::Identity;
use super::{lower, upper};
use super::{AU25, AU26, MAX_SIZE, MIN_SIZE};
use crate::canvas::{ellipse_sdf, mix, scale, smin, Blend, Canvas, Rgb};
use crate::frame::NUM_AUS;
use crate::util::rng::SplitMix64;

/// Multiplied in for shadows and soft creases.
pub(super) const SHADOW: Rgb = [0.55, 0.45, 0.42];
/// Multiplied in for deep folds and furrows.
pub(super) const DEEP: Rgb = [0.35, 0.27, 0.25];
/// Multiplied in for highlights.
pub(super) const LIGHT: Rgb = [1.25, 1.2, 1.15];

/// How far each AU acts on this face, and what follows from AU25 and AU26.
pub(super) struct Expression {
    /// Per AU, in [`crate::frame::AU_NUMBERS`] order: its intensity when shown, else 0.
    level: [f32; NUM_AUS],
    /// How far AU26 drops the jaw, in face units.
    pub(super) jaw_drop: f32,
    /// How far apart the lips are at the middle (AU25; wider with AU26), in face units.
    pub(super) lip_gap: f32,
}

impl Expression {
    fn new(aus: &[bool; NUM_AUS], id: &Identity) -> Self {
        let level = |i: usize| if aus[i] { id.intensity[i] } else { 0.0 };
        let jaw_drop = if aus[AU26] {
            0.08 + 0.08 * level(AU26)
        } else {
            0.0
        };
        let lip_gap = if aus[AU26] {
            0.17 + 0.12 * level(AU26)
        } else if aus[AU25] {
            0.035 + 0.04 * level(AU25)
        } else {
            0.0
        };
        Expression {
            level: std::array::from_fn(level),
            jaw_drop,
            lip_gap,
        }
    }

    /// The level of the AU at position `au` in [`crate::frame::AU_NUMBERS`].
    pub(super) fn level(&self, au: usize) -> f32 {
        self.level[au]
    }
}

/// Renders one face of side `size` (clamped to 32..=2048) showing `aus` (in
/// [`crate::frame::AU_NUMBERS`] order; AU26 draws an open jaw whether or not AU25 is set).
/// The identity, intensities and noise depend only on `seed`, so two calls with the same
/// seed and different AUs differ only where those AUs act.
pub fn render(seed: u64, aus: &[bool; NUM_AUS], size: u32) -> RgbImage {
    let size = size.clamp(MIN_SIZE, MAX_SIZE);
    let id = Identity::new(seed, size);
    let mut cv = Canvas::new(size, size, [0.0; 3]);
    cv.transform = id.pose;
    let ex = Expression::new(aus, &id);
    draw_background(&mut cv, &id);
    draw_body(&mut cv, &id);
    draw_head(&mut cv, &id, ex.jaw_drop);
    upper::draw(&mut cv, &id, &ex);
    lower::draw(&mut cv, &id, &ex, seed);
    draw_front_hair(&mut cv, &id);
    finish(&cv, &id)
}

/// Smooth Hermite step from 0 at `e0` to 1 at `e1`.
fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Value noise in [0, 1] on a grid of `cells` per side, smoothly interpolated.
fn value_noise(seed: u64, cells: usize, u: f32, v: f32) -> f32 {
    let hash = |i: usize, j: usize| -> f32 {
        let h = SplitMix64::derive(seed, ((i as u64) << 32) | j as u64);
        (h >> 40) as f32 / (1u64 << 24) as f32
    };
    let x = u.clamp(0.0, 1.0) * cells as f32;
    let y = v.clamp(0.0, 1.0) * cells as f32;
    let (i, j) = (x.floor() as usize, y.floor() as usize);
    let (fx, fy) = (
        smoothstep(0.0, 1.0, x - i as f32),
        smoothstep(0.0, 1.0, y - j as f32),
    );
    let top = hash(i, j) + (hash(i + 1, j) - hash(i, j)) * fx;
    let bottom = hash(i, j + 1) + (hash(i + 1, j + 1) - hash(i, j + 1)) * fx;
    top + (bottom - top) * fy
}

/// A two-colour gradient across the whole image with a coarse and a fine texture.
fn draw_background(cv: &mut Canvas<Rgb>, id: &Identity) {
    let n = cv.width as usize;
    let (dx, dy) = (id.bg_angle.cos(), id.bg_angle.sin());
    for py in 0..n {
        for px in 0..n {
            let u = (px as f32 + 0.5) / n as f32;
            let v = (py as f32 + 0.5) / n as f32;
            let t = (0.5 + (u - 0.5) * dx + (v - 0.5) * dy).clamp(0.0, 1.0);
            let texture =
                0.6 * value_noise(id.bg_seed, 3, u, v) + 0.4 * value_noise(id.bg_seed ^ 1, 9, u, v);
            cv.pixels[py * n + px] = scale(mix(id.bg[0], id.bg[1], t), 0.8 + 0.4 * texture);
        }
    }
}

/// Hair behind the head (long hair only), the neck, the shoulders and the ears.
fn draw_body(cv: &mut Canvas<Rgb>, id: &Identity) {
    let skin = id.skin;
    if id.hair_style == 1 {
        let (fw, hl) = (id.face_w, id.hairline);
        cv.fill(
            [-1.45, -1.6, 1.45, 1.7],
            Blend::Over,
            |x, y| {
                let top = ellipse_sdf(x, y, 0.0, -0.2, 1.2 * fw, 1.38);
                let fall = ellipse_sdf(x, y, 0.0, 0.35, 1.25 * fw, 1.15).max(hl - y);
                smin(top, fall, 0.15)
            },
            |x, y| (hair_shade(id, x, y), 1.0),
        );
    }
    let neck = skin;
    cv.fill(
        [-0.5, 0.3, 0.5, 2.6],
        Blend::Over,
        |x, y| (x.abs() - 0.42 * id.face_w).max(0.4 - y),
        |x, _| (scale(neck, 0.72 + 0.1 * (1.0 - x.abs() / 0.42)), 1.0),
    );
    let clothes = id.clothes;
    cv.fill(
        [-2.3, 1.4, 2.3, 3.2],
        Blend::Over,
        |x, y| {
            let body = ellipse_sdf(x, y, 0.0, 2.45, 1.95, 0.95);
            let collar = ellipse_sdf(x, y, 0.0, 1.5, 0.42, 0.28);
            body.max(-collar)
        },
        |x, y| (scale(clothes, 0.8 + 0.2 * id.shade(x * 0.5, y - 2.0)), 1.0),
    );
    for side in [-1.0f32, 1.0] {
        let ex = side * 0.97 * id.face_w;
        cv.ellipse(
            (ex, -0.02),
            (0.12, 0.22),
            scale(skin, 0.8),
            1.0,
            Blend::Over,
        );
        cv.soft((ex, -0.02), (0.06, 0.14), SHADOW, 0.5, Blend::Multiply);
    }
}

/// The face: an upper ellipse and a jaw ellipse (lowered by `jaw_drop`) joined smoothly,
/// shaded as a rounded head, with a shadow under the jaw and darker temples.
fn draw_head(cv: &mut Canvas<Rgb>, id: &Identity, jaw_drop: f32) {
    let skin = id.skin;
    let (fw, fh, jw) = (id.face_w, id.face_h, id.jaw_w);
    let face_sdf = move |x: f32, y: f32| {
        let upper = ellipse_sdf(x, y, 0.0, -0.12, fw, 1.2 * fh);
        let jaw = ellipse_sdf(x, y, 0.0, 0.42 + jaw_drop, jw * fw, 0.77 * fh);
        smin(upper, jaw, 0.2)
    };
    cv.fill([-1.2, -1.5, 1.2, 1.5], Blend::Over, face_sdf, |x, y| {
        (scale(skin, id.shade(x, y)), 1.0)
    });
    // Shadow under the jaw on the neck.
    let chin_y = 0.42 + jaw_drop + 0.77 * fh;
    cv.fill(
        [-0.6, chin_y - 0.2, 0.6, chin_y + 0.35],
        Blend::Multiply,
        |x, y| -face_sdf(x, y),
        |x, y| {
            let d = ((y - chin_y) / 0.3).clamp(0.0, 1.0);
            let fade = (1.0 - (x / 0.5).powi(2)).max(0.0);
            (SHADOW, 0.7 * (1.0 - d) * fade)
        },
    );

    // Temples and the sides of the face fall off into shadow.
    for side in [-1.0f32, 1.0] {
        cv.soft(
            (side * 0.85 * fw, 0.1),
            (0.25, 0.7),
            SHADOW,
            0.35,
            Blend::Multiply,
        );
    }
}

/// Hair colour with strands running from the crown, a sheen band and lighting.
fn hair_shade(id: &Identity, x: f32, y: f32) -> Rgb {
    let (dx, dy) = (x - 0.3 * id.parting, y + 1.25);
    let angle = dy.atan2(dx);
    let r = (dx * dx + dy * dy).sqrt();
    let wave = (7.0 * r + id.parting * 10.0).sin();
    // Strands fade out near the crown, where their angular frequency would alias.
    let fade = smoothstep(0.15, 0.45, r);
    let strands = 0.88
        + fade * 0.08 * (70.0 * angle + 2.0 * wave).sin()
        + fade * 0.04 * (173.0 * angle + 3.0 * wave).sin();
    let sheen = 1.0 + 0.25 * (-((r - 0.55) / 0.12).powi(2)).exp();
    let lit = 0.6 + 0.5 * id.shade(x * 0.8, y * 0.6);
    scale(id.hair, strands * sheen * lit)
}

/// Hair over the forehead, by style: the usual line, short receding hair or bangs.
fn draw_front_hair(cv: &mut Canvas<Rgb>, id: &Identity) {
    let fw = id.face_w;
    let (hairline, droop) = match id.hair_style {
        // Short hair: a high, receding line.
        2 => (id.hairline - 0.18, 0.35),
        // Bangs: low and flat over the forehead.
        3 => (-0.68, 0.1),
        _ => (id.hairline, 0.45),
    };
    let part = id.parting;
    cv.fill(
        [-1.3, -1.7, 1.3, 0.2],
        Blend::Over,
        |x, y| {
            let cap = ellipse_sdf(x, y, 0.0, -0.2, 1.08 * fw, 1.3);
            let line = hairline + droop * (x - 0.3 * part).powi(2) - 0.04 * (8.0 * x).sin();
            cap.max(y - line.min(-0.2))
        },
        |x, y| (hair_shade(id, x, y), 1.0),
    );
}

/// Applies the image-wide lighting gradient and pixel noise, blurs lightly (a camera is
/// never perfectly sharp) and converts to 8 bits.
fn finish(cv: &Canvas<Rgb>, id: &Identity) -> RgbImage {
    let n = cv.width as usize;
    let mut rng = SplitMix64::new(id.noise_seed);
    let blurred: Vec<Rgb> = (0..n * n)
        .map(|i| {
            let (x, y) = (i % n, i / n);
            let at = |xx: usize, yy: usize| cv.pixels[yy * n + xx];
            let mut acc = scale(at(x, y), 4.0);
            for (xx, yy) in [
                (x.saturating_sub(1), y),
                ((x + 1).min(n - 1), y),
                (x, y.saturating_sub(1)),
                (x, (y + 1).min(n - 1)),
            ] {
                let p = at(xx, yy);
                acc = [acc[0] + p[0], acc[1] + p[1], acc[2] + p[2]];
            }
            scale(acc, 1.0 / 8.0)
        })
        .collect();
    let mut img = RgbImage::new(n as u32, n as u32);
    for (i, p) in blurred.iter().enumerate() {
        let (x, y) = (i % n, i / n);
        let u = (x as f32 + 0.5) / n as f32 - 0.5;
        let v = (y as f32 + 0.5) / n as f32 - 0.5;
        let gain = 1.0 + id.gradient.0 * u + id.gradient.1 * v;
        let grain = rng.normal() * id.noise_sigma;
        let rgb = p.map(|c| ((c * gain + grain).clamp(0.0, 1.0) * 255.0).round() as u8);
        img.put_pixel(x as u32, y as u32, image::Rgb(rgb));
    }
    img
}

#[cfg(test)]
mod tests;
