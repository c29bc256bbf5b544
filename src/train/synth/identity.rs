//! Everything random about one face (the person, the pose, the lighting, the camera), drawn
//! from its seed.

use crate::canvas::{mix, Rgb, Similarity};
use crate::frame::NUM_AUS;
use crate::util::rng::SplitMix64;

/// Everything random about one face, drawn in a fixed order from its seed so that the same
/// seed gives the same person whatever AUs are shown.
pub(super) struct Identity {
    /// The head pose: face space to pixels.
    pub(super) pose: Similarity,
    pub(super) skin: Rgb,
    pub(super) hair: Rgb,
    pub(super) hair_style: u8,
    pub(super) hairline: f32,
    pub(super) parting: f32,
    pub(super) iris: Rgb,
    pub(super) clothes: Rgb,
    pub(super) bg: [Rgb; 2],
    pub(super) bg_angle: f32,
    pub(super) bg_seed: u64,
    /// Light direction (normalised) and ambient share.
    pub(super) light: [f32; 3],
    pub(super) ambient: f32,
    /// Image-wide brightness gradient per image side.
    pub(super) gradient: (f32, f32),
    pub(super) noise_sigma: f32,
    pub(super) noise_seed: u64,
    pub(super) face_w: f32,
    pub(super) face_h: f32,
    pub(super) jaw_w: f32,
    pub(super) eye_dx: f32,
    pub(super) eye_y: f32,
    pub(super) eye_w: f32,
    pub(super) eye_hu: f32,
    pub(super) eye_hl: f32,
    pub(super) iris_r: f32,
    pub(super) gaze: (f32, f32),
    pub(super) brow_y: f32,
    pub(super) brow_w: f32,
    pub(super) nose_w: f32,
    pub(super) nose_y: f32,
    pub(super) mouth_y: f32,
    pub(super) mouth_w: f32,
    pub(super) lip_u: f32,
    pub(super) lip_l: f32,
    /// Per AU, in [0.6, 1]: how strongly it is shown when present.
    pub(super) intensity: [f32; NUM_AUS],
}

const SKIN_TONES: [Rgb; 6] = [
    [0.96, 0.80, 0.69],
    [0.91, 0.72, 0.60],
    [0.82, 0.62, 0.48],
    [0.68, 0.48, 0.34],
    [0.52, 0.36, 0.25],
    [0.36, 0.24, 0.17],
];
const HAIR: [Rgb; 6] = [
    [0.07, 0.06, 0.06],
    [0.20, 0.13, 0.09],
    [0.38, 0.25, 0.15],
    [0.50, 0.25, 0.12],
    [0.78, 0.65, 0.42],
    [0.62, 0.60, 0.58],
];
const IRIS: [Rgb; 5] = [
    [0.35, 0.20, 0.10],
    [0.15, 0.10, 0.07],
    [0.30, 0.45, 0.60],
    [0.35, 0.45, 0.30],
    [0.45, 0.35, 0.20],
];

fn jitter(rng: &mut SplitMix64, c: Rgb, amount: f32) -> Rgb {
    c.map(|v| (v + rng.range(-amount, amount)).clamp(0.0, 1.0))
}

impl Identity {
    pub(super) fn new(seed: u64, size: u32) -> Self {
        let mut rng = SplitMix64::new(seed);
        let n = size as f32;
        let angle = rng.range(-8.0, 8.0).to_radians();
        let pose = Similarity {
            cx: n * (0.5 + rng.range(-0.04, 0.04)),
            cy: n * (0.46 + rng.range(-0.04, 0.04)),
            scale: n * 0.24 * rng.range(0.92, 1.08),
            cos: angle.cos(),
            sin: angle.sin(),
        };
        let tone = rng.range(0.0, (SKIN_TONES.len() - 1) as f32);
        let k = (tone as usize).min(SKIN_TONES.len() - 2);
        let skin = mix(SKIN_TONES[k], SKIN_TONES[k + 1], tone - k as f32);
        let skin = jitter(&mut rng, skin, 0.03);
        let hair = HAIR[rng.below(HAIR.len())];
        let hair = jitter(&mut rng, hair, 0.04);
        let hair_style = rng.below(4) as u8;
        let hairline = rng.range(-0.98, -0.82);
        let parting = rng.range(-0.4, 0.4);
        let iris = IRIS[rng.below(IRIS.len())];
        let iris = jitter(&mut rng, iris, 0.04);
        // Backgrounds and clothes are muted toward grey, as in most photos.
        let mut muted = |lo: f32, hi: f32, grey: f32| {
            let c = [rng.range(lo, hi), rng.range(lo, hi), rng.range(lo, hi)];
            let g = (c[0] + c[1] + c[2]) / 3.0;
            mix(c, [g; 3], grey)
        };
        let clothes = muted(0.08, 0.8, 0.3);
        let bg = [muted(0.15, 0.92, 0.45), muted(0.15, 0.92, 0.45)];
        let bg_angle = rng.range(0.0, std::f32::consts::TAU);
        let bg_seed = rng.next_u64();
        let (lx, ly) = (rng.range(-0.6, 0.6), rng.range(-0.6, 0.1));
        let norm = (lx * lx + ly * ly + 1.0).sqrt();
        let light = [lx / norm, ly / norm, 1.0 / norm];
        let ambient = rng.range(0.35, 0.55);
        let gradient = (rng.range(-0.3, 0.3), rng.range(-0.3, 0.3));
        let noise_sigma = rng.range(0.003, 0.018);
        let noise_seed = rng.next_u64();
        let face_w = rng.range(0.94, 1.06);
        Identity {
            pose,
            skin,
            hair,
            hair_style,
            hairline,
            parting,
            iris,
            clothes,
            bg,
            bg_angle,
            bg_seed,
            light,
            ambient,
            gradient,
            noise_sigma,
            noise_seed,
            face_w,
            face_h: rng.range(0.94, 1.06),
            jaw_w: rng.range(0.68, 0.82),
            eye_dx: rng.range(0.36, 0.41) * face_w,
            eye_y: rng.range(-0.13, -0.07),
            eye_w: rng.range(0.16, 0.19),
            eye_hu: rng.range(0.065, 0.08),
            eye_hl: rng.range(0.045, 0.055),
            iris_r: rng.range(0.075, 0.085),
            gaze: (rng.range(-0.25, 0.25), rng.range(-0.1, 0.1)),
            brow_y: rng.range(-0.4, -0.34),
            brow_w: rng.range(0.055, 0.075),
            nose_w: rng.range(0.9, 1.1),
            nose_y: rng.range(-0.02, 0.03),
            mouth_y: rng.range(0.58, 0.64),
            mouth_w: rng.range(0.27, 0.32),
            lip_u: rng.range(0.045, 0.065),
            lip_l: rng.range(0.06, 0.085),
            intensity: std::array::from_fn(|_| rng.range(0.6, 1.0)),
        }
    }

    /// Brightness of the face at (x, y), from the normal of an ellipsoid head.
    pub(super) fn shade(&self, x: f32, y: f32) -> f32 {
        let nx = x / (1.1 * self.face_w);
        let ny = (y + 0.1) / 1.7;
        let nz = (1.0 - nx * nx - ny * ny).max(0.0).sqrt();
        let len = (nx * nx + ny * ny + nz * nz).sqrt().max(1e-3);
        let lambert =
            ((nx * self.light[0] + ny * self.light[1] + nz * self.light[2]) / len).max(0.0);
        self.ambient + (1.05 - self.ambient) * lambert
    }
}
