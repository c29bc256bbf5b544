//! AU measures from 68 landmarks, with no AU training: head pose, normalised distances, and
//! per-AU scores in [0, 1] measured against a neutral baseline (the person's own, or a
//! population default). Two measures come from the image rather than the landmarks, the
//! furrows between the brows ([`crate::furrow`]) and the slope of the brows' medial halves
//! ([`crate::brows`]); the caller passes them in ([`ImageCues`]). Pure functions.
//!
//! Every distance is taken in a face frame: origin at the midpoint of the eye centres, x
//! along the eye line (so head roll is removed), y perpendicular to it and pointing down,
//! unit = inter-ocular distance (IOD, between eye centres).

use crate::frame::{BaselineSource, Features, HeadPose, Landmarks, NUM_AUS, NUM_FEATURES};

/// Names of the features, in [`Features::values`] order.
pub const FEATURE_NAMES: [&str; NUM_FEATURES] = [
    "inner_brow_height",
    "outer_brow_height",
    "brow_gap",
    "eye_opening",
    "nose_to_lip",
    "lip_corner_rise",
    "mouth_width",
    "lip_gap",
    "nose_to_chin",
    "lip_to_chin",
    "jaw_ends_below_nose_tip",
    "glabella_furrows",
    "medial_brow_slope",
];

/// The measures read from the image rather than the landmarks, for [`Features::from_landmarks`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageCues {
    /// [`crate::furrow::glabella_furrows`]; 0 (smooth) when it cannot be read.
    pub glabella_furrows: f32,
    /// [`crate::brows::medial_brow_slope`]; None when the brows cannot be traced.
    pub medial_brow_slope: Option<f32>,
}

/// Where the mouth centre sits on the inner lip line, from the lower lip (0) to the upper
/// lip (1). The lower lip follows the jaw and the upper lip rises in a broad laugh (teeth
/// shown), so the midpoint would read a laugh's open mouth as corners pulled down; this
/// weighting keeps the corners of a laugh above the centre and those of an open-mouthed
/// surprise (lips apart, no smile) near it (bundled photos and clips, BENCHMARKS.md).
const MOUTH_CENTRE_UPPER_WEIGHT: f32 = 0.3;

fn mean(pts: &Landmarks, idx: std::ops::Range<usize>) -> (f32, f32) {
    let n = idx.len() as f32;
    let (sx, sy) = idx.fold((0.0, 0.0), |(ax, ay), i| (ax + pts[i].0, ay + pts[i].1));
    (sx / n, sy / n)
}

/// Left and right eye centres (image left/right), in frame pixels.
pub fn eye_centres(pts: &Landmarks) -> ((f32, f32), (f32, f32)) {
    (mean(pts, 36..42), mean(pts, 42..48))
}

/// The landmarks in the face frame (see the module docs); None if the eyes coincide.
pub fn normalise(pts: &Landmarks) -> Option<Landmarks> {
    let (l, r) = eye_centres(pts);
    let (dx, dy) = (r.0 - l.0, r.1 - l.1);
    let iod = (dx * dx + dy * dy).sqrt();
    if !(iod > 1e-3) {
        return None;
    }
    let (c, s) = (dx / iod, dy / iod);
    let (ox, oy) = ((l.0 + r.0) / 2.0, (l.1 + r.1) / 2.0);
    let mut out = [(0f32, 0f32); 68];
    for (o, p) in out.iter_mut().zip(pts) {
        let (x, y) = (p.0 - ox, p.1 - oy);
        // Rotate by -roll, then scale to IOD units.
        *o = ((x * c + y * s) / iod, (-x * s + y * c) / iod);
    }
    Some(out)
}

impl Features {
    /// Measures a face from its landmarks and the image cues read on the same frame; None if
    /// the landmarks are degenerate. A brow slope that could not be traced is stored as NaN:
    /// it scores nothing and [`Features::median`] leaves it out.
    pub fn from_landmarks(pts: &Landmarks, cues: &ImageCues) -> Option<Self> {
        let p = normalise(pts)?;
        let y = |i: usize| p[i].1;
        let x = |i: usize| p[i].0;
        let avg = |a: f32, b: f32| (a + b) / 2.0;
        let w = MOUTH_CENTRE_UPPER_WEIGHT;
        let values = [
            // Brows sit above the eye line (negative y): heights are positive upwards.
            -avg(y(21), y(22)),
            -avg(y(18), y(25)),
            x(22) - x(21),
            avg(
                avg(y(41) - y(37), y(40) - y(38)),
                avg(y(47) - y(43), y(46) - y(44)),
            ),
            y(51) - y(33),
            // Positive when the corners sit above the mouth centre on the inner lip line.
            (1.0 - w) * y(66) + w * y(62) - avg(y(48), y(54)),
            x(54) - x(48),
            (y(66) - y(62)).max(0.0),
            y(8) - y(33),
            y(8) - y(57),
            // The jaw line's top ends (near the ears, far behind the nose tip) drop against
            // the nose tip as the head tilts back: a pitch measure free of the mouth.
            avg(y(0), y(16)) - y(30),
            cues.glabella_furrows,
            cues.medial_brow_slope.unwrap_or(f32::NAN),
        ];
        values[..BROW_SLOPE]
            .iter()
            .all(|v| v.is_finite())
            .then_some(Features { values })
    }

    /// Median of each feature over several frames (a robust neutral baseline), over the
    /// frames where it was measured; a feature measured on none of them takes the population
    /// default's value, so a baseline is always finite.
    pub fn median(samples: &[Features]) -> Option<Features> {
        if samples.is_empty() {
            return None;
        }
        let mut values = [0f32; NUM_FEATURES];
        for (k, v) in values.iter_mut().enumerate() {
            let mut col: Vec<f32> = samples
                .iter()
                .map(|s| s.values[k])
                .filter(|v| v.is_finite())
                .collect();
            col.sort_by(f32::total_cmp);
            *v = col
                .get(col.len() / 2)
                .copied()
                .unwrap_or(POPULATION_NEUTRAL.values[k]);
        }
        Some(Features { values })
    }
}

/// Neutral features of the population default: the median over the neutral frames
/// (0-15) of the bundled single_face clip (one adult man, near-frontal), measured with
/// `cargo run --release --example au_geometry`. One face is a thin population: it is a
/// starting point until a face is calibrated, and the log's sidecar says when it is in use.
pub const POPULATION_NEUTRAL: Features = Features {
    values: [
        0.380, 0.419, 0.627, 0.129, 0.240, -0.012, 0.729, 0.022, 1.044, 0.551, -0.614, 0.51, 0.174,
    ],
};

/// How far each feature moves, in IOD units, for a full-intensity AU (score 1). Set from
/// the bundled clips: a broad smile widens the mouth by ~0.26 IOD and lifts the corners by
/// ~0.14 over the mouth centre; open-mouth laughter parts the lips by ~0.2 and lowers the
/// chin by ~0.15. Head pitch scores no AU of its own; the furrows' scale is
/// [`FULL_FURROWS`].
const FULL: [f32; NUM_FEATURES] = [
    0.10, 0.10, 0.10, 0.06, 0.06, 0.16, 0.20, 0.15, 0.20, 0.08, 1.0, 1.0, 1.0,
];
/// Index of the medial brow slope in [`FEATURE_NAMES`] (the last feature; the ones before it
/// are always measured).
const BROW_SLOPE: usize = 12;
/// Brow slope gained per unit of the jaw ends' drop against the nose tip ([`FEATURE_NAMES`]
/// 10, head tilted back): tilting back lifts the brows' inner ends (nearer the camera) against
/// their arches. Least-squares fit over the 216 laughing frames of the bundled
/// WolfgangLanger clip, where the brows rest while the head pitches by 48 degrees: -0.187
/// per unit (r = -0.82; `examples/brow_study.rs`).
const BROW_SLOPE_PER_PITCH: f32 = 0.187;
/// Outer brow height (landmarks) lost per unit of the jaw ends' drop against the nose tip:
/// -0.071 per unit over the same 216 laughing frames (r = -0.52; `examples/brow_study.rs`).
/// Uncorrected, her bowed, crying head read AU2 against her resting, upturned face.
const OUTER_BROW_PER_PITCH: f32 = 0.071;
/// Drop of the pitch-corrected brow slope below neutral under which AU1 reads none from the
/// brow's shape: resting and laughing brows of the bundled clips stay within 0.02 of their
/// own neutral at the median (98% of the laughing frames within 0.05).
const BROW_SLOPE_DEAD_ZONE: f32 = 0.03;
/// Drop beyond the dead zone for a full AU1 from the brow's shape: AU1 is present (0.5) from
/// 0.06 below neutral. The crying frames, against her own resting brows, drop by 0.08-0.14.
const FULL_BROW_SLOPE_DROP: f32 = 0.06;
/// Eye narrowing (IOD units) for a full AU6.
const FULL_EYE_NARROWING: f32 = 0.05;
/// Brows drawn together (IOD units) for a full "together" half of AU4.
const FULL_BROWS_TOGETHER: f32 = 0.16;
/// Inner brows lowered (IOD units) for a full "down" half of AU4.
const FULL_BROW_LOWERING: f32 = 0.12;
/// Furrow depth over neutral ([`crate::furrow`]'s units) below which AU4 reads none from
/// it. Faces without AU4 in the bundled clips and photos measure 0.09-0.78 (0.94 with
/// added sensor noise; BENCHMARKS.md) against the population default's 0.51: with the
/// dead zone and [`FULL_FURROWS`] they stay under a score of 0.3.
const FURROW_DEAD_ZONE: f32 = 0.2;
/// Furrow depth over the dead zone for a full AU4 from the furrows: AU4 is present (0.5)
/// from 0.6 over neutral. The bundled crying frames labelled AU4 measure 0.80-3.19 (median
/// 2.47), the posed anger photo 1.22.
const FULL_FURROWS: f32 = 0.8;
/// Mouth widening (IOD units) for a full AU20.
const FULL_STRETCH: f32 = 0.15;
/// Corner rise (IOD units) below which AU12 scores 0: landmark jitter on a still face and the
/// small lift of a pressed, crying mouth stay under it.
const CORNER_RISE_DEAD_ZONE: f32 = 0.04;
/// Corner rise credited per unit of head tilt back ([`FEATURE_NAMES`] 10): tilting back
/// lifts the mouth centre (nearer the camera) above the corners in the image, tilting forward
/// lowers it, about 0.2 of the jaw ends' movement against the nose tip.
const PITCH_TO_CORNER_RISE: f32 = 0.2;

fn unit(v: f32) -> f32 {
    v.clamp(0.0, 1.0)
}

/// Per-AU scores in [0, 1], in [`crate::frame::AU_NUMBERS`] order, from the change of each
/// feature against `neutral`, which came from `source`. Each change is divided by the
/// feature's full-intensity change and clamped to [0, 1]; the comments give what each AU
/// measures and which look-alike movement it is kept from reading.
pub fn geometric_au_scores(
    f: &Features,
    neutral: &Features,
    source: &BaselineSource,
) -> [f32; NUM_AUS] {
    let d = |k: usize| (f.values[k] - neutral.values[k]) / FULL[k];
    let change = |k: usize| f.values[k] - neutral.values[k];
    // AU25 lips part: the inner lip gap above 0.03 IOD over neutral (a closed mouth's gap
    // moves by about that with landmark jitter).
    let lips_part = unit((change(7) - 0.03) / 0.10);
    // AU12 lip corner puller: the corners rise toward the eyes against the mouth centre
    // (MOUTH_CENTRE_UPPER_WEIGHT), corrected for head pitch, past a dead zone. Mouth width
    // does not count: a crying mouth is stretched as wide as a smile.
    let corner_rise = change(5) + PITCH_TO_CORNER_RISE * change(10);
    let au12 = unit((corner_rise - CORNER_RISE_DEAD_ZONE) / FULL[5]);
    // AU4 brow lowerer: the vertical furrows the lowered brows fold between them and, against
    // the person's own neutral face, the brows drawn together and down (the mean of the two:
    // either alone is weak, a laugh's raised cheeks lower the brows a little), whichever is
    // stronger. The landmarks can leave a knitted, grieving brow where a laugh puts it; the
    // furrows show it. Brow position against the population default measures anatomy more
    // than action (faces differ in brow gap and height: it read AU4 on three of the five
    // smiling faces of the bundled group photo), so there only the furrows count.
    let furrows = unit((change(11) - FURROW_DEAD_ZONE) / FULL_FURROWS);
    let brows = match source {
        BaselineSource::Population => 0.0,
        BaselineSource::File { .. } | BaselineSource::Person { .. } => {
            let together = unit(-change(2) / FULL_BROWS_TOGETHER);
            let down = unit(-change(0) / FULL_BROW_LOWERING);
            unit((together + down) / 2.0)
        }
    };
    let au4 = brows.max(furrows);
    // AU1 inner brow raiser: the inner brow ends rise against the eye line (landmarks) or,
    // against the person's own neutral face, the brows' medial halves flatten (traced in the
    // image, corrected for head pitch): the grief brow, whose inner ends the landmarks leave
    // in place and which AU4 pulls together at the same time. A resting brow's slope is
    // anatomy (it differs from face to face), so against the population only the landmarks
    // count.
    let brow_shape = match source {
        BaselineSource::Population => 0.0,
        BaselineSource::File { .. } | BaselineSource::Person { .. } => {
            let drop = -(change(BROW_SLOPE) + BROW_SLOPE_PER_PITCH * change(10));
            if drop.is_finite() {
                unit((drop - BROW_SLOPE_DEAD_ZONE) / FULL_BROW_SLOPE_DROP)
            } else {
                0.0
            }
        }
    };
    [
        unit(d(0)).max(brow_shape),
        // AU2 outer brow raiser: outer brow height up against the eye line, corrected for head
        // pitch (bowing the head lifts the outer brows against the eyes in the image).
        unit((change(1) + OUTER_BROW_PER_PITCH * change(10)) / FULL[1]),
        au4,
        // AU5 upper lid raiser: the eyes open wider.
        unit(d(3)),
        // AU6 cheek raiser: the eyes narrow (raised cheeks push the lower lids up; a blink
        // or closed, crying eyes narrow them too).
        unit(-change(3) / FULL_EYE_NARROWING),
        // AU9 nose wrinkler: the upper lip nears the nose, minus mouth widening (a smile
        // lifts the upper lip too).
        unit(-d(4) - unit(d(6))),
        au12,
        // AU17 chin raiser: the chin nears the nose while the lips stay closed (an open jaw
        // moves the chin the other way).
        unit(-change(8) / 0.08) * (1.0 - lips_part),
        // AU20 lip stretcher: the mouth widens without the corners rising; a smile widens
        // it too, so AU12 takes the widening away (none left at AU12 >= 2/3).
        unit(change(6) / FULL_STRETCH) * unit(1.0 - 1.5 * au12),
        lips_part,
        // AU26 jaw drop: the chin moves away from the nose, with the lips apart (a longer
        // face or a turned head moves the chin too, with the lips closed).
        unit(d(8)) * unit(2.0 * lips_part),
    ]
}

/// 3D reference points of an average face (arbitrary units, x right, y up, z towards the
/// viewer): nose tip, chin, left eye outer corner, right eye outer corner, left and right
/// mouth corners: the six-point model common in head-pose tutorials.
const MODEL_3D: [[f32; 3]; 6] = [
    [0.0, 0.0, 0.0],
    [0.0, -330.0, -65.0],
    [-225.0, 170.0, -135.0],
    [225.0, 170.0, -135.0],
    [-150.0, -150.0, -125.0],
    [150.0, -150.0, -125.0],
];
/// The 68-point indices matching [`MODEL_3D`].
const MODEL_IDX: [usize; 6] = [30, 8, 36, 45, 48, 54];

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn norm(a: [f32; 3]) -> Option<[f32; 3]> {
    let n = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
    (n > 1e-9).then(|| [a[0] / n, a[1] / n, a[2] / n])
}

/// Inverse of a 3x3 matrix (None if singular).
fn inv3(m: [[f32; 3]; 3]) -> Option<[[f32; 3]; 3]> {
    let c = |r: usize, k: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (k1, k2) = ((k + 1) % 3, (k + 2) % 3);
        m[r1][k1] * m[r2][k2] - m[r1][k2] * m[r2][k1]
    };
    let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
    if det.abs() < 1e-9 {
        return None;
    }
    let mut out = [[0f32; 3]; 3];
    for (r, row) in out.iter_mut().enumerate() {
        for (k, v) in row.iter_mut().enumerate() {
            *v = c(k, r) / det;
        }
    }
    Some(out)
}

/// Head pose from a scaled-orthographic fit of [`MODEL_3D`] to the landmarks: the 2x3
/// projection is solved by least squares, its rows orthonormalised into a rotation, and the
/// rotation read as pitch, yaw, roll.
pub fn head_pose(pts: &Landmarks) -> Option<HeadPose> {
    // Centre both point sets.
    let n = MODEL_IDX.len() as f32;
    let (mut cx, mut cy) = (0.0, 0.0);
    for &i in &MODEL_IDX {
        cx += pts[i].0 / n;
        cy += pts[i].1 / n;
    }
    let mut c3 = [0f32; 3];
    for m in &MODEL_3D {
        for k in 0..3 {
            c3[k] += m[k] / n;
        }
    }
    // Image y points down; the model's y points up.
    let img: Vec<[f32; 2]> = MODEL_IDX
        .iter()
        .map(|&i| [pts[i].0 - cx, -(pts[i].1 - cy)])
        .collect();
    let obj: Vec<[f32; 3]> = MODEL_3D
        .iter()
        .map(|m| [m[0] - c3[0], m[1] - c3[1], m[2] - c3[2]])
        .collect();
    // M (2x3) = (sum x X^T) (sum X X^T)^-1
    let mut xxt = [[0f32; 3]; 3];
    let mut ux = [[0f32; 3]; 2];
    for (u, o) in img.iter().zip(&obj) {
        for r in 0..3 {
            for k in 0..3 {
                xxt[r][k] += o[r] * o[k];
            }
            for (row, uv) in ux.iter_mut().zip(u) {
                row[r] += uv * o[r];
            }
        }
    }
    let inv = inv3(xxt)?;
    let mut m = [[0f32; 3]; 2];
    for (mr, ur) in m.iter_mut().zip(&ux) {
        for k in 0..3 {
            mr[k] = (0..3).map(|j| ur[j] * inv[j][k]).sum();
        }
    }
    let r1 = norm(m[0])?;
    let r2 = norm(m[1])?;
    let r3 = norm(cross(r1, r2))?;
    // Re-orthogonalise r2.
    let r2 = cross(r3, r1);
    // R = [r1; r2; r3]; Euler angles with R = Rz(roll) Ry(yaw) Rx(pitch).
    let yaw = (-r3[0]).clamp(-1.0, 1.0).asin();
    let pitch = r3[1].atan2(r3[2]);
    let roll = r2[0].atan2(r1[0]);
    // Signs as documented on HeadPose.
    Some(HeadPose {
        rx: -pitch,
        ry: yaw,
        rz: -roll,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A baseline measured on the person (the source's details do not matter to the scores).
    const OWN: BaselineSource = BaselineSource::Person {
        frames: 16,
        how: "test",
        warnings: Vec::new(),
    };

    /// The image cues of a resting brow: the population default's furrow depth and slope.
    fn cues(furrows: f32, slope: f32) -> ImageCues {
        ImageCues {
            glabella_furrows: furrows,
            medial_brow_slope: Some(slope),
        }
    }
    const RESTING: ImageCues = ImageCues {
        glabella_furrows: POPULATION_NEUTRAL.values[11],
        medial_brow_slope: Some(POPULATION_NEUTRAL.values[BROW_SLOPE]),
    };

    /// The face's features with a resting brow's image cues.
    fn features(pts: &Landmarks) -> Features {
        Features::from_landmarks(pts, &RESTING).unwrap()
    }

    /// A synthetic frontal face: the 3D model points projected straight on, plus eyes.
    fn frontal(scale: f32, roll: f32, shift: (f32, f32)) -> Landmarks {
        let mut pts = [(0f32, 0f32); 68];
        let mut put = |i: usize, x: f32, y: f32| {
            let (c, s) = (roll.cos(), roll.sin());
            pts[i] = (
                shift.0 + scale * (x * c - y * s),
                shift.1 + scale * (x * s + y * c),
            );
        };
        for (k, &i) in MODEL_IDX.iter().enumerate() {
            put(i, MODEL_3D[k][0], -MODEL_3D[k][1]);
        }
        // Eye rings around (-150, -170) and (150, -170), radius 75 x 25: 36/45 outer
        // corners, 39/42 inner, upper lids 37, 38 / 43, 44 above the lower 41, 40 / 47, 46.
        for k in 0..6 {
            let a = std::f32::consts::PI * (1.0 - k as f32 / 3.0);
            put(36 + k, -150.0 + 75.0 * a.cos(), -170.0 - 25.0 * a.sin());
            put(42 + k, 150.0 + 75.0 * a.cos(), -170.0 - 25.0 * a.sin());
        }
        for (i, x) in (17..27).zip([
            -230.0, -200.0, -150.0, -100.0, -50.0, 50.0, 100.0, 150.0, 200.0, 230.0,
        ]) {
            put(i, x, -240.0);
        }
        // The jaw line's top ends, beside the eyes' outer corners.
        put(0, -290.0, -130.0);
        put(16, 290.0, -130.0);
        put(27, 0.0, -170.0);
        put(33, 0.0, 30.0);
        put(51, 0.0, 110.0);
        put(57, 0.0, 190.0);
        put(62, 0.0, 150.0);
        put(66, 0.0, 150.0);
        pts
    }

    #[test]
    fn frontal_face_has_zero_pose_and_roll_is_recovered() {
        let p = head_pose(&frontal(0.5, 0.0, (320.0, 240.0))).unwrap();
        // Measured (AMD EPYC, AVX-512): every angle within 1.2e-7 rad of the truth here and
        // 6e-8 on the rolled face below; 1e-3 rad (0.06 degree) is far above float rounding.
        assert!(
            p.rx.abs() < 1e-3 && p.ry.abs() < 1e-3 && p.rz.abs() < 1e-3,
            "{p:?}"
        );
        let p = head_pose(&frontal(0.5, 0.2, (320.0, 240.0))).unwrap();
        assert!((p.rz - 0.2).abs() < 1e-3, "{p:?}");
        assert!(p.rx.abs() < 1e-3 && p.ry.abs() < 1e-3, "{p:?}");
    }

    #[test]
    fn features_ignore_position_scale_and_roll() {
        let a = features(&frontal(0.5, 0.0, (320.0, 240.0)));
        let b = features(&frontal(1.3, 0.3, (100.0, 50.0)));
        // Measured: features differ by at most 1.2e-7 between the two faces, and the two hand
        // values below match exactly (AMD EPYC, AVX-512); 1e-4 is 800x that.
        for (x, y) in a.values.iter().zip(&b.values) {
            assert!((x - y).abs() < 1e-4, "{a:?} {b:?}");
        }
        // Brows 70 units above eyes 300 apart: inner brow height 70/300.
        assert!((a.values[0] - 70.0 / 300.0).abs() < 1e-4);
        // Mouth corners 300 apart = 1 IOD.
        assert!((a.values[6] - 1.0).abs() < 1e-4);
    }

    #[test]
    fn scores_are_zero_at_neutral_and_rise_with_the_right_movement() {
        let neutral_pts = frontal(0.5, 0.0, (320.0, 240.0));
        let neutral = features(&neutral_pts);
        assert!(geometric_au_scores(&neutral, &neutral, &OWN)
            .iter()
            .all(|&s| s == 0.0));
        // Lips apart by 0.1 IOD (30 units at scale 1 = 15 px at scale 0.5): AU25 = (0.1-0.03)/0.1.
        let mut open = neutral_pts;
        open[62].1 -= 7.5;
        open[66].1 += 7.5;
        let s = geometric_au_scores(&features(&open), &neutral, &OWN);
        // Measured 2.4e-7 from 0.7 here and 3e-8 from 0.5 below (AMD EPYC, AVX-512).
        assert!((s[9] - 0.7).abs() < 1e-3, "{s:?}");
        // Inner brows raised by 0.05 IOD: AU1 = 0.5, nothing else.
        let mut raised = neutral_pts;
        raised[21].1 -= 7.5;
        raised[22].1 -= 7.5;
        let s = geometric_au_scores(&features(&raised), &neutral, &OWN);
        assert!((s[0] - 0.5).abs() < 1e-3, "{s:?}");
        assert_eq!(s.iter().filter(|&&v| v > 0.0).count(), 1);
    }

    #[test]
    fn a_smile_a_stretched_mouth_and_a_jaw_drop_read_as_different_aus() {
        // At scale 0.5 the eyes are 150 px apart: 15 px is 0.1 IOD.
        let neutral_pts = frontal(0.5, 0.0, (320.0, 240.0));
        let neutral = features(&neutral_pts);
        let score = |pts: &Landmarks| geometric_au_scores(&features(pts), &neutral, &OWN);
        let (au12, au20, au25, au26) = (6, 8, 9, 10);
        // Corners up 0.2 IOD: AU12 = (0.2 - dead zone 0.04) / 0.16 = 1; the mouth is no
        // wider, so no AU20.
        let mut smile = neutral_pts;
        smile[48].1 -= 30.0;
        smile[54].1 -= 30.0;
        let s = score(&smile);
        assert!((s[au12] - 1.0).abs() < 1e-3, "{s:?}");
        assert_eq!(s[au20], 0.0);
        // Corners out 0.075 IOD each (0.15 wider) at the same height: a full AU20, no AU12.
        let mut stretch = neutral_pts;
        stretch[48].0 -= 11.25;
        stretch[54].0 += 11.25;
        let s = score(&stretch);
        assert!((s[au20] - 1.0).abs() < 1e-3, "{s:?}");
        assert_eq!(s[au12], 0.0);
        // Both: the rise takes the stretch away (AU20 = 1 * (1 - 1.5 * 1) clamped to 0).
        let mut broad = smile;
        broad[48].0 -= 11.25;
        broad[54].0 += 11.25;
        let s = score(&broad);
        assert!((s[au12] - 1.0).abs() < 1e-3 && s[au20] == 0.0, "{s:?}");
        // Jaw drop: lower lip and chin down 0.2 IOD, the corners following 0.4 of the lower
        // lip (0.08): the corners end 0.7 * 0.2 - 0.08 = 0.06 above the mouth centre, AU12
        // (0.06 - 0.04) / 0.16 = 0.125, under the 0.5 presence threshold; lips apart and
        // jaw dropped in full.
        let mut jaw = neutral_pts;
        for i in [8, 57, 66] {
            jaw[i].1 += 30.0;
        }
        jaw[48].1 += 12.0;
        jaw[54].1 += 12.0;
        let s = score(&jaw);
        assert!((s[au12] - 0.125).abs() < 1e-3, "{s:?}");
        assert!(s[au25] == 1.0 && s[au26] == 1.0, "{s:?}");
        // The same chin drop with the lips closed (a longer face than the baseline's) is no
        // jaw drop.
        let mut long = neutral_pts;
        long[8].1 += 30.0;
        let s = score(&long);
        assert_eq!(s[au26], 0.0, "{s:?}");
    }

    #[test]
    fn brows_lowered_and_drawn_together_read_as_au4_either_alone_as_half() {
        let neutral_pts = frontal(0.5, 0.0, (320.0, 240.0));
        let neutral = features(&neutral_pts);
        let score = |pts: &Landmarks| geometric_au_scores(&features(pts), &neutral, &OWN)[2];
        // Inner brows down 0.12 IOD (18 px): the "down" half in full, AU4 = 0.5.
        let mut down = neutral_pts;
        down[21].1 += 18.0;
        down[22].1 += 18.0;
        assert!((score(&down) - 0.5).abs() < 1e-3);
        // And 0.16 IOD closer together (12 px each): AU4 = 1.
        let mut both = down;
        both[21].0 += 12.0;
        both[22].0 -= 12.0;
        assert!((score(&both) - 1.0).abs() < 1e-3);
        // Against the population default, brow position is anatomy: no AU4 without furrows.
        let population =
            geometric_au_scores(&features(&both), &neutral, &BaselineSource::Population);
        assert_eq!(population[2], 0.0);
    }

    #[test]
    fn furrows_between_still_brows_read_as_au4_and_nothing_else() {
        // A grieving brow: the landmarks where the neutral face has them, the glabella
        // furrowed. AU4 rises with the furrows' depth past the dead zone; no other AU moves.
        let pts = frontal(0.5, 0.0, (320.0, 240.0));
        let neutral = features(&pts);
        let base = neutral.values[11];
        let with = |depth: f32| {
            let f = Features::from_landmarks(&pts, &cues(base + depth, 0.176)).unwrap();
            geometric_au_scores(&f, &neutral, &OWN)
        };
        assert_eq!(with(0.0), [0.0; NUM_AUS]);
        assert_eq!(with(FURROW_DEAD_ZONE)[2], 0.0);
        assert!((with(FURROW_DEAD_ZONE + FULL_FURROWS / 2.0)[2] - 0.5).abs() < 1e-4);
        let full = with(FURROW_DEAD_ZONE + FULL_FURROWS);
        assert!((full[2] - 1.0).abs() < 1e-4);
        for (k, v) in full.iter().enumerate() {
            if k != 2 {
                assert_eq!(*v, 0.0, "AU index {k}");
            }
        }
        // A smoother brow than the baseline reads no AU4 either.
        assert_eq!(with(-0.4)[2], 0.0);
        // The furrows count against the population default too.
        let f =
            Features::from_landmarks(&pts, &cues(base + FURROW_DEAD_ZONE + FULL_FURROWS, 0.176))
                .unwrap();
        let population = geometric_au_scores(&f, &neutral, &BaselineSource::Population);
        assert!((population[2] - 1.0).abs() < 1e-4);
    }

    #[test]
    fn median_is_per_feature() {
        let f = |v: f32| Features {
            values: [v; NUM_FEATURES],
        };
        assert_eq!(Features::median(&[f(3.0), f(1.0), f(2.0)]).unwrap(), f(2.0));
        assert!(Features::median(&[]).is_none());
    }

    #[test]
    fn an_untraced_brow_is_left_out_of_the_median_and_scores_nothing() {
        let pts = frontal(0.5, 0.0, (320.0, 240.0));
        let untraced = ImageCues {
            glabella_furrows: 0.5,
            medial_brow_slope: None,
        };
        let blind = Features::from_landmarks(&pts, &untraced).unwrap();
        assert!(blind.values[BROW_SLOPE].is_nan());
        let traced = Features::from_landmarks(&pts, &cues(0.5, 0.1)).unwrap();
        // The median over the frames where it was traced; the population's where none was.
        let m = Features::median(&[blind, traced, blind]).unwrap();
        assert_eq!(m.values[BROW_SLOPE], 0.1);
        let m = Features::median(&[blind, blind]).unwrap();
        assert_eq!(m.values[BROW_SLOPE], POPULATION_NEUTRAL.values[BROW_SLOPE]);
        assert_eq!(m.values[11], 0.5);
        // Against a baseline whose brows were steeper, an untraced brow reads no AU1.
        let neutral = Features::from_landmarks(&pts, &cues(0.5, 0.3)).unwrap();
        assert_eq!(geometric_au_scores(&blind, &neutral, &OWN), [0.0; NUM_AUS]);
        // Degenerate landmarks still give no features.
        assert!(Features::from_landmarks(&[(1.0, 1.0); 68], &untraced).is_none());
    }

    #[test]
    fn flattened_brows_read_as_au1_against_the_own_neutral_only_and_pitch_is_corrected() {
        // The grieving brow: landmarks where the neutral face has them, the medial halves
        // traced flatter than at rest.
        let pts = frontal(0.5, 0.0, (320.0, 240.0));
        let neutral = features(&pts);
        let rest = neutral.values[BROW_SLOPE];
        let with = |drop: f32, source: &BaselineSource| {
            let f = Features::from_landmarks(&pts, &cues(neutral.values[11], rest - drop)).unwrap();
            geometric_au_scores(&f, &neutral, source)
        };
        assert_eq!(with(0.0, &OWN), [0.0; NUM_AUS]);
        assert_eq!(with(BROW_SLOPE_DEAD_ZONE - 1e-3, &OWN)[0], 0.0);
        let half = with(BROW_SLOPE_DEAD_ZONE + FULL_BROW_SLOPE_DROP / 2.0, &OWN);
        assert!((half[0] - 0.5).abs() < 1e-4, "{half:?}");
        let full = with(BROW_SLOPE_DEAD_ZONE + FULL_BROW_SLOPE_DROP, &OWN);
        assert!((full[0] - 1.0).abs() < 1e-4);
        // Nothing else moves, AU4 included: the shape is AU1's alone.
        assert!(full[1..].iter().all(|v| *v == 0.0), "{full:?}");
        // Steeper brows (AU4's pull on the inner ends) read no AU1.
        assert_eq!(with(-0.1, &OWN)[0], 0.0);
        // Against the population default, a flat brow is anatomy: no AU1 from it.
        assert_eq!(with(0.2, &BaselineSource::Population)[0], 0.0);

        // The same flat slope on a head tilted back (jaw ends dropped against the nose tip by
        // 0.5 IOD) is what the pitch alone would do: no AU1.
        let mut tilted = neutral;
        tilted.values[10] += 0.5;
        tilted.values[BROW_SLOPE] -= BROW_SLOPE_PER_PITCH * 0.5;
        assert_eq!(geometric_au_scores(&tilted, &neutral, &OWN)[0], 0.0);
        // Tilted forward with the brows flattened: the pitch hides none of the drop.
        let mut bowed = neutral;
        bowed.values[10] -= 0.5;
        bowed.values[BROW_SLOPE] += BROW_SLOPE_PER_PITCH * 0.5 - 0.12;
        assert!(geometric_au_scores(&bowed, &neutral, &OWN)[0] > 0.99);
    }

    #[test]
    fn outer_brows_lifted_by_a_bowed_head_read_no_au2_and_raised_ones_do() {
        let pts = frontal(0.5, 0.0, (320.0, 240.0));
        let neutral = features(&pts);
        // Bowed by 0.5 (jaw ends against the nose tip): the outer brows rise against the eyes
        // by what the pitch does, and no more.
        let mut bowed = neutral;
        bowed.values[10] -= 0.5;
        bowed.values[1] += OUTER_BROW_PER_PITCH * 0.5;
        assert!(geometric_au_scores(&bowed, &neutral, &OWN)[1].abs() < 1e-5);
        // Raised by a full AU2 on top of it.
        bowed.values[1] += FULL[1];
        assert!((geometric_au_scores(&bowed, &neutral, &OWN)[1] - 1.0).abs() < 1e-5);
    }
}
