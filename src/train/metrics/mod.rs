//! Evaluation of the AU classifier and the emotion head on labelled data: per-class
//! precision / recall / F1, ROC-AUC, PR curves and average precision, confusion and
//! co-occurrence matrices, and the choice of per-AU thresholds on validation data.
//!
//! Unknown labels (`None`, 999 or empty in the EmotioNet CSV) are masked out everywhere:
//! a sample whose label is unknown for an AU is never counted as a negative for that AU,
//! and its score is not a candidate threshold.
//!
//! Conventions for empty denominators (0/0): precision, recall, specificity and F1 are all
//! 0.0. So precision is 0 when nothing is predicted positive, recall is 0 for a class with
//! no positives, and F1 = 2tp / (2tp + fp + fn) is 0 when the class has no positives and
//! nothing is predicted positive. Such a class is left out of macro averages instead (see
//! [`EvalReport::macro_f1`]). Ranking metrics (ROC-AUC, average precision) are `None` when
//! they are undefined.
//!
//! A NaN score (a model bug, but it must not panic here) is never predicted positive, ranks
//! below every other score, and is never a candidate threshold.
//!
//! The pieces, in the order a report is built: `counts` (one class's 2x2 confusion counts
//! and the ratios from them), `curves` (ROC-AUC, precision-recall curves, average
//! precision), `thresholds` (per-AU thresholds chosen on validation data), `confusion`
//! (multi-class confusion, the emotion report, AU co-occurrence) and `report` (per-AU
//! metrics and the whole [`EvalReport`], as Markdown or JSON). This module holds the input
//! type and the shared conventions, and re-exports every public item, so each is reached as
//! `facs::train::metrics::Name`.

use serde::{Deserialize, Serialize};

use crate::frame::{EMOTIONS, NUM_AUS};

mod confusion;
mod counts;
mod curves;
#[cfg(test)]
mod fixtures;
mod report;
mod thresholds;

pub use confusion::{
    argmax, co_occurrence, emotion_report, ClassMetrics, CoOccurrence, ConfusionMatrix,
    EmotionReport,
};
pub use counts::BinaryCounts;
pub use curves::{au_pr_curves, average_precision, pr_curve, roc_auc, PrCurve, PrPoint};
pub use report::{au_metrics, evaluate, AuMetrics, EvalReport};
pub use thresholds::{
    best_f1_threshold, select_thresholds, threshold_for_precision, PrecisionChoice,
    ThresholdChoice, ThresholdRule,
};

/// Number of emotion classes, in [`EMOTIONS`] order.
pub const NUM_EMOTIONS: usize = EMOTIONS.len();
pub use crate::calibrate::thresholds::{DEFAULT_THRESHOLD, DEFAULT_THRESHOLDS};

/// One evaluated image: its labels and the network's outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalSample {
    /// Per AU in [`AU_NUMBERS`](crate::frame::AU_NUMBERS) order: `Some(true)` present,
    /// `Some(false)` absent, `None` unknown.
    pub au_labels: [Option<bool>; NUM_AUS],
    /// Predicted probability per AU, in [`AU_NUMBERS`](crate::frame::AU_NUMBERS) order.
    pub au_probs: [f32; NUM_AUS],
    /// Index into [`EMOTIONS`], or `None` when the image has no emotion label. An index
    /// `>= NUM_EMOTIONS` is treated as unknown.
    pub emotion_label: Option<usize>,
    /// Predicted emotion probabilities in [`EMOTIONS`] order; the prediction is the argmax.
    pub emotion_probs: [f32; NUM_EMOTIONS],
}

/// `(label, score)` for every sample, for AU `au_index` (a position in
/// [`AU_NUMBERS`](crate::frame::AU_NUMBERS)). This is the input of the per-AU functions
/// ([`roc_auc`], [`pr_curve`], ...).
pub fn au_pairs(samples: &[EvalSample], au_index: usize) -> Vec<(Option<bool>, f32)> {
    samples
        .iter()
        .filter_map(|s| Some((*s.au_labels.get(au_index)?, *s.au_probs.get(au_index)?)))
        .collect()
}

pub use crate::frame::au_name;

/// `num / den`, or 0.0 when `den` is 0 (the module's 0/0 convention).
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Whether `score` counts as a positive prediction at `threshold` (NaN never does).
fn predicted(score: f32, threshold: f32) -> bool {
    score >= threshold
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn unknown_labels_change_nothing() {
        // A sample with a None label gives the same metrics as the sample removed.
        let mut without = pairs_a();
        without.remove(6); // the unknown, highest-scored sample
        let with = pairs_a();
        assert_eq!(roc_auc(&with), roc_auc(&without));
        assert_eq!(pr_curve("x", &with), pr_curve("x", &without));
        assert_eq!(best_f1_threshold(&with), best_f1_threshold(&without));
        assert_eq!(
            threshold_for_precision(&with, 0.7),
            threshold_for_precision(&without, 0.7)
        );
        // Counting it as a negative instead would change things (0.95 beats every positive).
        let mut as_negative = pairs_a();
        as_negative[6].0 = Some(false);
        assert_ne!(roc_auc(&as_negative), roc_auc(&without));

        // A whole sample with no label at all: the full report is unchanged apart from the
        // sample count.
        let base = evaluate(&example(), &example_thresholds());
        let mut samples = example();
        samples.insert(
            2,
            EvalSample {
                au_labels: [None; NUM_AUS],
                au_probs: [0.99; NUM_AUS],
                emotion_label: None,
                emotion_probs: [0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0],
            },
        );
        let more = evaluate(&samples, &example_thresholds());
        assert_eq!(more.samples, 9);
        assert_eq!(more.aus, base.aus);
        assert_eq!(more.micro, base.micro);
        assert_eq!(more.macro_f1, base.macro_f1);
        assert_eq!(more.emotion, base.emotion);
        assert_eq!(more.co_occurrence, base.co_occurrence);
        assert_eq!(
            select_thresholds(&samples, ThresholdRule::BestF1),
            select_thresholds(&example(), ThresholdRule::BestF1)
        );
    }
    #[test]
    fn nan_scores_do_not_panic() {
        // A NaN-scored positive is never predicted positive and ranks lowest.
        let pairs = [
            (Some(true), f32::NAN),
            (Some(false), 0.2),
            (Some(true), 0.8),
        ];
        let c = BinaryCounts::at_threshold(&pairs, 0.0);
        assert_eq!((c.tp, c.fn_, c.fp), (1, 1, 1));
        // Positives 0.8 (beats 0.2) and NaN (loses): 1/2.
        assert!(close(roc_auc(&pairs).unwrap(), 0.5));
        let curve = pr_curve("x", &pairs);
        assert_eq!(curve.points.len(), 2);
        // Recall never reaches 1: 0.8 -> 1/2, 0.2 -> 1/2. AP = 1/2 * 1.
        assert!(close(curve.average_precision.unwrap(), 0.5));
        assert_eq!(best_f1_threshold(&pairs).unwrap().threshold, 0.8);
        assert_eq!(argmax(&[f32::NAN, 0.1, 0.3, 0.3]), 2);
        assert_eq!(argmax(&[]), 0);
    }
}
