//! A batch's inputs and targets: augmentation of the crops, AU / emotion / happy targets
//! with masks for unknown labels, and the per-AU positive weights of the loss.

use candle_core::{Device, Tensor};

use crate::frame::{EMOTIONS, NUM_AUS};
use crate::train::faces::Prepared;
use crate::util::rng::SplitMix64;

/// Augmentation of one crop, in place: a random similarity (rotation up to 3 degrees, scale
/// 0.96-1.04, shift up to 1/16 of the side, horizontal flip half the time) sampled
/// bilinearly with edge pixels repeated, a 3x3 blur one time in six, then gain 0.75-1.25
/// and offset +-20 grey levels. The rotation and scale stand in for the alignment errors of
/// real faces; more (8 degrees, 8%) cost 0.1 of test macro-F1 on synthetic faces, where the
/// brow AUs are a matter of a pixel or two. The AUs drawn by `facs synth` are left-right
/// symmetric, as FACS codes them.
pub(super) fn augment(crop: &mut [u8], side: usize, rng: &mut SplitMix64) {
    let flip = rng.chance(0.5);
    let angle = rng.range(-3.0, 3.0).to_radians();
    let scale = rng.range(0.96, 1.04);
    let max_shift = side as f32 / 16.0;
    let (dx, dy) = (
        rng.range(-max_shift, max_shift),
        rng.range(-max_shift, max_shift),
    );
    let blur = rng.chance(1.0 / 6.0);
    let gain = rng.range(0.75, 1.25);
    let bias = rng.range(-20.0, 20.0);
    let src = crop.to_vec();
    let c = (side as f32 - 1.0) / 2.0;
    let (cos, sin) = (angle.cos() / scale, angle.sin() / scale);
    let last = side as f32 - 1.0;
    let mut warped = vec![0f32; crop.len()];
    for y in 0..side {
        for x in 0..side {
            // Output pixel -> source pixel: undo shift, scale and rotation about the centre.
            let ox = if flip { last - x as f32 } else { x as f32 } - c - dx;
            let oy = y as f32 - c - dy;
            let sx = (cos * ox + sin * oy + c).clamp(0.0, last);
            let sy = (-sin * ox + cos * oy + c).clamp(0.0, last);
            let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(side - 1), (y0 + 1).min(side - 1));
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            for ch in 0..3 {
                let at = |xx: usize, yy: usize| src[(yy * side + xx) * 3 + ch] as f32;
                let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
                let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
                warped[(y * side + x) * 3 + ch] = top * (1.0 - fy) + bottom * fy;
            }
        }
    }
    for y in 0..side {
        for x in 0..side {
            for ch in 0..3 {
                let v = if blur {
                    let mut sum = 0.0;
                    for (yy, xx) in (y.saturating_sub(1)..=(y + 1).min(side - 1)).flat_map(|yy| {
                        (x.saturating_sub(1)..=(x + 1).min(side - 1)).map(move |xx| (yy, xx))
                    }) {
                        sum += warped[(yy * side + xx) * 3 + ch];
                    }
                    let n = ((y + 1).min(side - 1) - y.saturating_sub(1) + 1)
                        * ((x + 1).min(side - 1) - x.saturating_sub(1) + 1);
                    sum / n as f32
                } else {
                    warped[(y * side + x) * 3 + ch]
                };
                crop[(y * side + x) * 3 + ch] = (v * gain + bias).clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Targets and masks for a batch.
pub(super) struct Targets {
    pub(super) au: Tensor,
    pub(super) au_mask: Tensor,
    pub(super) emotion: Tensor,
    pub(super) emotion_mask: Tensor,
    pub(super) happy: Tensor,
    pub(super) happy_mask: Tensor,
}

/// Happy = AU6 and AU12 both present; not happy = both known and not both present.
pub fn happy_label(l: &[Option<bool>; NUM_AUS]) -> Option<bool> {
    let (au6, au12) = (l[4], l[6]);
    match (au6, au12) {
        (Some(a), Some(b)) => Some(a && b),
        (Some(false), None) | (None, Some(false)) => Some(false),
        _ => None,
    }
}

pub(super) fn targets(
    data: &Prepared,
    idx: &[usize],
    dev: &Device,
) -> candle_core::Result<Targets> {
    let n = idx.len();
    let mut au = vec![0f32; n * NUM_AUS];
    let mut au_mask = vec![0f32; n * NUM_AUS];
    let mut emotion = vec![0u32; n];
    let mut emotion_mask = vec![0f32; n];
    let mut happy = vec![0f32; n];
    let mut happy_mask = vec![0f32; n];
    for (r, &i) in idx.iter().enumerate() {
        for k in 0..NUM_AUS {
            if let Some(v) = data.labels[i][k] {
                au[r * NUM_AUS + k] = v as u8 as f32;
                au_mask[r * NUM_AUS + k] = 1.0;
            }
        }
        if let Some(e) = data.emotions[i].filter(|&e| e < EMOTIONS.len()) {
            emotion[r] = e as u32;
            emotion_mask[r] = 1.0;
        }
        if let Some(h) = happy_label(&data.labels[i]) {
            happy[r] = h as u8 as f32;
            happy_mask[r] = 1.0;
        }
    }
    Ok(Targets {
        au: Tensor::from_vec(au, (n, NUM_AUS), dev)?,
        au_mask: Tensor::from_vec(au_mask, (n, NUM_AUS), dev)?,
        emotion: Tensor::from_vec(emotion, n, dev)?,
        emotion_mask: Tensor::from_vec(emotion_mask, n, dev)?,
        happy: Tensor::from_vec(happy, (n, 1), dev)?,
        happy_mask: Tensor::from_vec(happy_mask, (n, 1), dev)?,
    })
}

/// Per-AU positive weight: negatives / positives among known labels as the sampler draws
/// them (each sample counted with its sampling weight, so the imbalance the balanced
/// sampler already removed is not corrected twice), clamped to [1, 50].
pub fn pos_weights(labels: &[[Option<bool>; NUM_AUS]], weights: &[f64]) -> [f32; NUM_AUS] {
    let mut w = [1f32; NUM_AUS];
    for (k, wk) in w.iter_mut().enumerate() {
        let sum = |v: bool| -> f32 {
            labels
                .iter()
                .zip(weights)
                .filter(|(l, _)| l[k] == Some(v))
                .map(|(_, w)| *w)
                .sum::<f64>() as f32
        };
        let (pos, neg) = (sum(true), sum(false));
        *wk = if pos > 0.0 {
            (neg / pos).clamp(1.0, 50.0)
        } else {
            1.0
        };
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn augmentation_keeps_the_face_roughly_in_place() {
        // A bright square in the middle of a dark 48 px crop stays near the middle, and the
        // picture changes (the augmentation does something) but stays a valid image.
        let side = 48;
        let mut base = vec![20u8; side * side * 3];
        for y in 18..30 {
            for x in 18..30 {
                base[(y * side + x) * 3..(y * side + x) * 3 + 3].copy_from_slice(&[230, 230, 230]);
            }
        }
        let mut rng = SplitMix64::new(3);
        let mut changed = 0;
        for _ in 0..20 {
            let mut c = base.clone();
            augment(&mut c, side, &mut rng);
            changed += usize::from(c != base);
            let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
            let mean = c.iter().map(|&v| v as f32).sum::<f32>() / c.len() as f32;
            for y in 0..side {
                for x in 0..side {
                    if c[(y * side + x) * 3] as f32 > mean + 40.0 {
                        sx += x as f32;
                        sy += y as f32;
                        n += 1.0;
                    }
                }
            }
            assert!(n > 50.0, "the bright square vanished");
            let (cx, cy) = (sx / n, sy / n);
            assert!(
                (cx - 23.5).abs() < 5.0 && (cy - 23.5).abs() < 5.0,
                "{cx} {cy}"
            );
        }
        assert!(changed >= 19);
    }
    #[test]
    fn happy_labels_and_pos_weights() {
        let mut l = [Some(false); NUM_AUS];
        assert_eq!(happy_label(&l), Some(false));
        l[4] = Some(true);
        l[6] = Some(true);
        assert_eq!(happy_label(&l), Some(true));
        l[6] = None;
        assert_eq!(happy_label(&l), None);
        // AU1: 1 positive, 3 negatives, 1 unknown -> weight 3.
        let mut rows = vec![[Some(false); NUM_AUS]; 4];
        rows[0][0] = Some(true);
        rows.push([None; NUM_AUS]);
        let even = vec![1.0; 5];
        assert_eq!(pos_weights(&rows, &even)[0], 3.0);
        // No positives: weight 1.
        assert_eq!(pos_weights(&rows, &even)[1], 1.0);
        // Sampled three times as often, the positive already balances the negatives.
        let skewed = [3.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(pos_weights(&rows, &skewed)[0], 1.0);
        let slight = [1.5, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(pos_weights(&rows, &slight)[0], 2.0);
    }
}
