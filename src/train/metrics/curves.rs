//! Ranking metrics of one class from `(label, score)` pairs: ROC-AUC, the precision-recall
//! curve and average precision; and the threshold sweep they and the threshold choice share.

use serde::{Deserialize, Serialize};

use super::{au_name, au_pairs, ratio, BinaryCounts, EvalSample};
use crate::frame::AU_NUMBERS;

/// Scores with a known label, sorted by decreasing score, NaN left out; plus the number
/// of known positives and negatives (NaN-scored ones included).
fn known_descending(pairs: &[(Option<bool>, f32)]) -> (Vec<(f32, bool)>, u64, u64) {
    let mut known = Vec::with_capacity(pairs.len());
    let (mut pos, mut neg) = (0u64, 0u64);
    for &(label, score) in pairs {
        let Some(label) = label else { continue };
        if label {
            pos += 1;
        } else {
            neg += 1;
        }
        if !score.is_nan() {
            known.push((score, label));
        }
    }
    known.sort_by(|a, b| b.0.total_cmp(&a.0));
    (known, pos, neg)
}

/// The confusion counts at every candidate threshold (each distinct known score), from
/// the highest threshold to the lowest.
pub(super) fn sweep(pairs: &[(Option<bool>, f32)]) -> Vec<(f32, BinaryCounts)> {
    let (known, pos, neg) = known_descending(pairs);
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut i = 0;
    while i < known.len() {
        let t = known[i].0;
        while i < known.len() && known[i].0 == t {
            if known[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let counts = BinaryCounts {
            tp,
            fp,
            tn: neg - fp,
            fn_: pos - tp,
        };
        out.push((t, counts));
    }
    out
}

/// ROC-AUC from the Mann-Whitney rank statistic: the fraction of (positive, negative)
/// pairs in which the positive scores higher, a tie counting 0.5. Exact, no curve
/// interpolation.
///
/// `None` when there is no known positive or no known negative.
pub fn roc_auc(pairs: &[(Option<bool>, f32)]) -> Option<f64> {
    let mut known: Vec<(f32, bool)> = pairs
        .iter()
        .filter_map(|&(label, score)| {
            let score = if score.is_nan() {
                f32::NEG_INFINITY
            } else {
                score
            };
            label.map(|l| (score, l))
        })
        .collect();
    let pos = known.iter().filter(|k| k.1).count() as f64;
    let neg = known.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    known.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Tied scores share the mean of their 1-based ranks i+1 ..= j.
    let mut rank_sum_pos = 0.0f64;
    let mut i = 0;
    while i < known.len() {
        let mut j = i;
        while j < known.len() && known[j].0 == known[i].0 {
            j += 1;
        }
        let mid_rank = (i + 1 + j) as f64 / 2.0;
        let positives = known[i..j].iter().filter(|k| k.1).count() as f64;
        rank_sum_pos += positives * mid_rank;
        i = j;
    }
    Some((rank_sum_pos - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// One point of a precision-recall curve: the scores `>= threshold` predicted positive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrPoint {
    pub precision: f64,
    pub recall: f64,
    pub threshold: f32,
}

/// A precision-recall curve for one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrCurve {
    /// Class name, e.g. `"AU12"`.
    pub name: String,
    /// Known positives.
    pub positives: u64,
    /// Known negatives.
    pub negatives: u64,
    /// One point per distinct known score, from the highest threshold (lowest recall) to
    /// the lowest (recall 1 unless some positive has a NaN score). No artificial
    /// (recall 0, precision 1) start point is added.
    pub points: Vec<PrPoint>,
    /// Σ (R_k − R_{k−1}) · P_k over the points, with R_0 = 0 (the step-wise area used by
    /// scikit-learn, no interpolation); `None` when there is no known positive.
    pub average_precision: Option<f64>,
}

impl PrCurve {
    /// Fraction of known samples that are positive: the precision of a random classifier,
    /// the baseline of the curve. 0 when there is no known sample.
    pub fn prevalence(&self) -> f64 {
        ratio(self.positives, self.positives + self.negatives)
    }
}

/// The precision-recall curve of one class, named `name`.
pub fn pr_curve(name: &str, pairs: &[(Option<bool>, f32)]) -> PrCurve {
    let (positives, negatives) = pairs.iter().fold((0, 0), |(p, n), &(l, _)| match l {
        Some(true) => (p + 1, n),
        Some(false) => (p, n + 1),
        None => (p, n),
    });
    let points: Vec<PrPoint> = sweep(pairs)
        .into_iter()
        .map(|(threshold, c)| PrPoint {
            precision: c.precision(),
            recall: c.recall(),
            threshold,
        })
        .collect();
    let average_precision = (positives > 0).then(|| {
        let mut prev_recall = 0.0;
        let mut ap = 0.0;
        for p in &points {
            ap += (p.recall - prev_recall) * p.precision;
            prev_recall = p.recall;
        }
        ap
    });
    PrCurve {
        name: name.to_string(),
        positives,
        negatives,
        points,
        average_precision,
    }
}

/// The PR curve of every AU, in [`AU_NUMBERS`] order.
pub fn au_pr_curves(samples: &[EvalSample]) -> Vec<PrCurve> {
    AU_NUMBERS
        .iter()
        .enumerate()
        .map(|(i, &au)| pr_curve(&au_name(au), &au_pairs(samples, i)))
        .collect()
}

/// Average precision of one class; `None` when there is no known positive.
pub fn average_precision(pairs: &[(Option<bool>, f32)]) -> Option<f64> {
    pr_curve("", pairs).average_precision
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn roc_auc_counts_ties_as_half() {
        // A: for each positive, the negatives (0.7, 0.55, 0.4) scoring lower:
        // 0.9 -> 3, 0.8 -> 3, 0.6 -> 2 (0.55, 0.4), 0.4 -> tie with 0.4 = 0.5.
        // (3 + 3 + 2 + 0.5) / (4 * 3) = 8.5 / 12.
        assert!(close(roc_auc(&pairs_a()).unwrap(), 8.5 / 12.0));
        // B: positives 0.8 and 0.7 beat all 3 negatives (0.6, 0.2, 0.1), 0.45 beats 2.
        // (3 + 3 + 2) / 9.
        assert!(close(roc_auc(&pairs_b()).unwrap(), 8.0 / 9.0));
        // C has no positive; a class with only positives has no negative.
        assert_eq!(roc_auc(&pairs_c()), None);
        assert_eq!(roc_auc(&[(Some(true), 0.3), (None, 0.1)]), None);
        // All scores equal: every pair is a tie -> 0.5.
        assert!(close(
            roc_auc(&[(Some(true), 0.5), (Some(false), 0.5), (Some(true), 0.5)]).unwrap(),
            0.5
        ));
        // Perfectly inverted ranking -> 0.
        assert!(close(
            roc_auc(&[(Some(true), 0.1), (Some(false), 0.9)]).unwrap(),
            0.0
        ));
    }

    #[test]
    fn pr_curve_and_average_precision() {
        // A, thresholds from the top (the unknown 0.95 is not a candidate):
        //   t     tp fp  precision recall
        //   0.9    1  0  1         1/4
        //   0.8    2  0  1         2/4
        //   0.7    2  1  2/3       2/4
        //   0.6    3  1  3/4       3/4
        //   0.55   3  2  3/5       3/4
        //   0.4    4  3  4/7       1
        // AP = 1/4*1 + 1/4*1 + 0*2/3 + 1/4*3/4 + 0*3/5 + 1/4*4/7 = 0.5 + 0.1875 + 1/7.
        let curve = pr_curve("AU01", &pairs_a());
        let expected = [
            (0.9, 1.0, 0.25),
            (0.8, 1.0, 0.5),
            (0.7, 2.0 / 3.0, 0.5),
            (0.6, 0.75, 0.75),
            (0.55, 0.6, 0.75),
            (0.4, 4.0 / 7.0, 1.0),
        ];
        assert_eq!(curve.points.len(), expected.len());
        for (p, &(t, prec, rec)) in curve.points.iter().zip(&expected) {
            assert_eq!(p.threshold, t);
            assert!(close(p.precision, prec), "{p:?}");
            assert!(close(p.recall, rec), "{p:?}");
        }
        assert!(close(curve.average_precision.unwrap(), 0.6875 + 1.0 / 7.0));
        assert_eq!((curve.positives, curve.negatives), (4, 3));
        assert!(close(curve.prevalence(), 4.0 / 7.0));

        // B: 0.8 (1/3 recall, P 1), 0.7 (2/3, 1), 0.6 (2/3, 2/3), 0.45 (1, 3/4), then
        // recall stays 1. AP = 1/3 + 1/3 + 0 + 1/3 * 3/4 = 2/3 + 1/4.
        assert!(close(
            average_precision(&pairs_b()).unwrap(),
            2.0 / 3.0 + 0.25
        ));
        // C: no positive -> no AP, but the curve still has its 5 distinct thresholds
        // (0.6, 0.4, 0.3, 0.2, 0.1; 0.7 is unknown) with precision 0.
        let c = pr_curve("AU04", &pairs_c());
        assert_eq!(c.average_precision, None);
        assert_eq!(c.points.len(), 5);
        assert!(c.points.iter().all(|p| p.precision == 0.0));
    }
}
