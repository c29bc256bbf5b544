//! Losses for multi-label AUs with unknown labels: numerically stable binary cross-entropy
//! on logits (candle's own overflows to inf for large logits of the wrong sign), optional
//! per-AU positive weights and focal modulation, and a masked softmax cross-entropy for the
//! emotion head. Unknown labels have mask 0 and change neither the loss nor its gradient.

use candle_core::{Result, Tensor, D};

/// softplus(z) = log(1 + e^z), computed as max(z, 0) + log(1 + e^-|z|): finite for any z.
pub fn softplus(z: &Tensor) -> Result<Tensor> {
    let pos = z.relu()?;
    let tail = (z.abs()?.neg()?.exp()? + 1.0)?.log()?;
    pos + tail
}

/// Options of [`masked_bce`].
#[derive(Clone, Debug, Default)]
pub struct BceOptions {
    /// Weight of the positive term per class ([k]); None = 1.
    pub pos_weight: Option<Tensor>,
    /// Focal loss gamma; None = plain BCE.
    pub focal_gamma: Option<f64>,
}

/// Mean binary cross-entropy over the known entries of `logits` [n, k] against `targets`
/// [n, k] (0/1), where `mask` [n, k] is 1 for known labels and 0 for unknown ones.
/// Per entry: `pw * y * softplus(-x) + (1 - y) * softplus(x)`, times `(1 - p_t)^gamma` with
/// focal loss. Returns 0 when nothing is known.
pub fn masked_bce(
    logits: &Tensor,
    targets: &Tensor,
    mask: &Tensor,
    opts: &BceOptions,
) -> Result<Tensor> {
    let pos_term = softplus(&logits.neg()?)?.mul(targets)?;
    let pos_term = match &opts.pos_weight {
        Some(pw) => pos_term.broadcast_mul(&pw.unsqueeze(0)?)?,
        None => pos_term,
    };
    let neg_term = softplus(logits)?.mul(&(1.0 - targets)?)?;
    let mut per = (pos_term + neg_term)?;
    if let Some(gamma) = opts.focal_gamma {
        // p_t = sigmoid(x) for positives, 1 - sigmoid(x) for negatives.
        let p = candle_nn::ops::sigmoid(logits)?;
        let p_t = ((&p * targets)? + ((1.0 - &p)? * (1.0 - targets)?)?)?;
        per = per.mul(&(1.0 - p_t)?.powf(gamma)?)?;
    }
    let known = mask.sum_all()?;
    let total = per.mul(mask)?.sum_all()?;
    total.broadcast_div(&known.maximum(1.0)?)
}

/// Mean softmax cross-entropy of `logits` [n, c] against class indices `targets` [n] (u32),
/// over the rows where `mask` [n] is 1.
pub fn masked_cross_entropy(logits: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = logp.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?; // [n]
    let known = mask.sum_all()?;
    let total = picked.neg()?.mul(mask)?.sum_all()?;
    total.broadcast_div(&known.maximum(1.0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(v: &[f32], shape: (usize, usize)) -> Tensor {
        Tensor::from_vec(v.to_vec(), shape, &Device::Cpu).unwrap()
    }

    fn scalar(x: Tensor) -> f32 {
        x.to_scalar::<f32>().unwrap()
    }

    #[test]
    fn bce_matches_hand_values_and_stays_finite() {
        // x = 0, y = 1: log 2. x = 2, y = 0: log(1 + e^2) = 2.126928.
        let l = masked_bce(
            &t(&[0.0, 2.0], (1, 2)),
            &t(&[1.0, 0.0], (1, 2)),
            &t(&[1.0, 1.0], (1, 2)),
            &BceOptions::default(),
        )
        .unwrap();
        assert!((scalar(l) - (std::f32::consts::LN_2 + 2.126_928) / 2.0).abs() < 1e-5);
        // Huge logits of the wrong sign: the loss is |x|, not inf.
        let l = masked_bce(
            &t(&[-1000.0, 1000.0], (1, 2)),
            &t(&[1.0, 0.0], (1, 2)),
            &t(&[1.0, 1.0], (1, 2)),
            &BceOptions::default(),
        )
        .unwrap();
        assert!((scalar(l) - 1000.0).abs() < 1e-2);
    }

    #[test]
    fn unknown_labels_change_nothing() {
        let x = t(&[0.3, -1.2, 2.0, 0.5], (2, 2));
        let y = t(&[1.0, 0.0, 0.0, 1.0], (2, 2));
        // The second row's second label is unknown: its target must not matter.
        let mask = t(&[1.0, 1.0, 1.0, 0.0], (2, 2));
        let y_other = t(&[1.0, 0.0, 0.0, 0.0], (2, 2));
        let opts = BceOptions::default();
        let a = scalar(masked_bce(&x, &y, &mask, &opts).unwrap());
        let b = scalar(masked_bce(&x, &y_other, &mask, &opts).unwrap());
        assert_eq!(a, b);
        // ... and equals the loss over the three known entries only.
        let only = scalar(
            masked_bce(
                &t(&[0.3, -1.2, 2.0], (1, 3)),
                &t(&[1.0, 0.0, 0.0], (1, 3)),
                &t(&[1.0; 3], (1, 3)),
                &opts,
            )
            .unwrap(),
        );
        assert!((a - only).abs() < 1e-6);
        // Nothing known: zero, not NaN.
        let zero = masked_bce(&x, &y, &t(&[0.0; 4], (2, 2)), &opts).unwrap();
        assert_eq!(scalar(zero), 0.0);
    }

    #[test]
    fn pos_weight_and_focal() {
        let x = t(&[0.0], (1, 1));
        let y = t(&[1.0], (1, 1));
        let m = t(&[1.0], (1, 1));
        let pw = Tensor::new(&[3.0f32], &Device::Cpu).unwrap();
        let l = scalar(
            masked_bce(
                &x,
                &y,
                &m,
                &BceOptions {
                    pos_weight: Some(pw),
                    focal_gamma: None,
                },
            )
            .unwrap(),
        );
        assert!((l - 3.0 * std::f32::consts::LN_2).abs() < 1e-5);
        // Focal, gamma 2, p_t = 0.5: log 2 * 0.25.
        let l = scalar(
            masked_bce(
                &x,
                &y,
                &m,
                &BceOptions {
                    pos_weight: None,
                    focal_gamma: Some(2.0),
                },
            )
            .unwrap(),
        );
        assert!((l - 0.25 * std::f32::consts::LN_2).abs() < 1e-5);
    }

    #[test]
    fn cross_entropy_masks_rows() {
        let logits = t(&[0.0, 0.0, 5.0, 0.0], (2, 2));
        let targets = Tensor::new(&[1u32, 1], &Device::Cpu).unwrap();
        let mask = Tensor::new(&[1.0f32, 0.0], &Device::Cpu).unwrap();
        // Only row 0 counts: uniform over 2 classes -> log 2.
        let l = scalar(masked_cross_entropy(&logits, &targets, &mask).unwrap());
        assert!((l - std::f32::consts::LN_2).abs() < 1e-5);
    }
}
