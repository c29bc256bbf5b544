//! Per-AU decision thresholds chosen on validation data: best F1, or the most recall at a
//! target precision.

use serde::{Deserialize, Serialize};

use super::curves::sweep;
use super::{au_pairs, BinaryCounts, EvalSample, DEFAULT_THRESHOLDS};
use crate::frame::NUM_AUS;

/// A threshold chosen on validation data, with the counts it gives there.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdChoice {
    /// Predict positive when `score >= threshold`.
    pub threshold: f32,
    pub counts: BinaryCounts,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl ThresholdChoice {
    fn new(threshold: f32, counts: BinaryCounts) -> Self {
        ThresholdChoice {
            threshold,
            counts,
            precision: counts.precision(),
            recall: counts.recall(),
            f1: counts.f1(),
        }
    }
}

/// The threshold that maximises F1 among the candidates (the distinct scores of samples
/// with a known label). Ties go to the higher threshold: fewer positive predictions for
/// the same F1.
///
/// `None` when there is no known positive (F1 is 0 everywhere; keep the default) or no
/// candidate.
pub fn best_f1_threshold(pairs: &[(Option<bool>, f32)]) -> Option<ThresholdChoice> {
    let mut best: Option<ThresholdChoice> = None;
    // Candidates come from the highest threshold down, so a strict `>` keeps the higher
    // threshold of a tie.
    for (t, c) in sweep(pairs) {
        if c.support() == 0 {
            return None;
        }
        if best.is_none_or(|b| c.f1() > b.f1) {
            best = Some(ThresholdChoice::new(t, c));
        }
    }
    best
}

/// The outcome of [`threshold_for_precision`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrecisionChoice {
    pub choice: ThresholdChoice,
    /// Whether `choice` reaches the target precision; when false it is the fallback.
    pub reached: bool,
}

/// The lowest candidate threshold (distinct score of a sample with a known label) whose
/// precision is `>= target`: the most recall at that precision.
///
/// Fallback when no threshold reaches `target`: the threshold with the highest precision
/// (ties to the lowest such threshold), with `reached: false`.
///
/// `None` when there is no known positive or no candidate.
pub fn threshold_for_precision(
    pairs: &[(Option<bool>, f32)],
    target: f64,
) -> Option<PrecisionChoice> {
    let mut lowest_reaching: Option<ThresholdChoice> = None;
    let mut most_precise: Option<ThresholdChoice> = None;
    for (t, c) in sweep(pairs) {
        if c.support() == 0 {
            return None;
        }
        let here = ThresholdChoice::new(t, c);
        if here.precision >= target {
            lowest_reaching = Some(here);
        }
        if most_precise.is_none_or(|b| here.precision >= b.precision) {
            most_precise = Some(here);
        }
    }
    match (lowest_reaching, most_precise) {
        (Some(choice), _) => Some(PrecisionChoice {
            choice,
            reached: true,
        }),
        (None, Some(choice)) => Some(PrecisionChoice {
            choice,
            reached: false,
        }),
        (None, None) => None,
    }
}

/// How [`select_thresholds`] picks each AU's threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ThresholdRule {
    /// [`best_f1_threshold`].
    BestF1,
    /// [`threshold_for_precision`] with this target (its fallback when unreachable).
    Precision(f64),
}

/// One threshold per AU chosen on validation `samples` by `rule`. An AU without a known
/// positive keeps [`DEFAULT_THRESHOLD`](super::DEFAULT_THRESHOLD).
pub fn select_thresholds(samples: &[EvalSample], rule: ThresholdRule) -> [f32; NUM_AUS] {
    let mut thresholds = DEFAULT_THRESHOLDS;
    for (i, t) in thresholds.iter_mut().enumerate() {
        let pairs = au_pairs(samples, i);
        let choice = match rule {
            ThresholdRule::BestF1 => best_f1_threshold(&pairs),
            ThresholdRule::Precision(target) => {
                threshold_for_precision(&pairs, target).map(|p| p.choice)
            }
        };
        if let Some(choice) = choice {
            *t = choice.threshold;
        }
    }
    thresholds
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::DEFAULT_THRESHOLD;
    use super::*;

    #[test]
    fn best_f1_threshold_picks_max_and_higher_on_ties() {
        // A's F1 per candidate (2tp / (2tp + fp + fn), 4 positives):
        // 0.9: 2/5, 0.8: 4/6, 0.7: 4/7, 0.6: 6/8 = 0.75, 0.55: 6/9, 0.4: 8/11.
        let best = best_f1_threshold(&pairs_a()).unwrap();
        assert_eq!(best.threshold, 0.6);
        assert!(close(best.f1, 0.75));
        assert!(close(best.precision, 0.75));
        assert!(close(best.recall, 0.75));

        // Tie: T 0.9, F 0.8, F 0.7, T 0.6. F1 at 0.9: 2/(2+0+1) = 2/3; at 0.8: 2/4; at
        // 0.7: 2/5; at 0.6: 4/(4+2+0) = 2/3. The tie goes to the higher threshold 0.9.
        let tie = [
            (Some(true), 0.9),
            (Some(false), 0.8),
            (Some(false), 0.7),
            (Some(true), 0.6),
        ];
        let best = best_f1_threshold(&tie).unwrap();
        assert_eq!(best.threshold, 0.9);
        assert!(close(best.f1, 2.0 / 3.0));

        assert_eq!(best_f1_threshold(&pairs_c()), None);
        assert_eq!(best_f1_threshold(&[]), None);
        assert_eq!(best_f1_threshold(&[(None, 0.5)]), None);
    }

    #[test]
    fn threshold_for_precision_lowest_reaching_and_fallback() {
        // A's precision by threshold (table in pr_curve_and_average_precision):
        // 0.9: 1, 0.8: 1, 0.7: 2/3, 0.6: 3/4, 0.55: 3/5, 0.4: 4/7.
        let pick = |target| threshold_for_precision(&pairs_a(), target).unwrap();
        // >= 0.75: 0.9, 0.8, 0.6 reach it; the lowest is 0.6.
        assert_eq!(pick(0.75).choice.threshold, 0.6);
        assert!(pick(0.75).reached);
        // >= 0.6: 0.55 reaches exactly 3/5.
        assert_eq!(pick(0.6).choice.threshold, 0.55);
        // >= 0.9: only 0.9 and 0.8 (precision 1); the lowest is 0.8.
        assert_eq!(pick(0.9).choice.threshold, 0.8);
        // >= 0.5: every threshold, the lowest is 0.4 (recall 1).
        assert_eq!(pick(0.5).choice.threshold, 0.4);
        // Unreachable: fallback to the highest precision (1, at 0.9 and 0.8) at the lower
        // of those thresholds, 0.8, flagged as not reached.
        let fallback = pick(1.01);
        assert!(!fallback.reached);
        assert_eq!(fallback.choice.threshold, 0.8);
        assert!(close(fallback.choice.precision, 1.0));

        assert_eq!(threshold_for_precision(&pairs_c(), 0.5), None);
    }

    #[test]
    fn select_thresholds_per_au() {
        let samples = example();
        // Best F1: A -> 0.6 (see best_f1_threshold_picks_max_and_higher_on_ties).
        // B: F1 at 0.8: 2/(2+0+2) = 1/2; 0.7: 4/(4+0+1) = 4/5; 0.6: 4/6; 0.45: 6/7;
        // 0.2: 6/8; 0.1: 6/9 -> 0.45. C has no positive; the rest no known label at all:
        // they keep 0.5.
        let t = select_thresholds(&samples, ThresholdRule::BestF1);
        assert_eq!(t[0], 0.6);
        assert_eq!(t[1], 0.45);
        assert!(t[2..].iter().all(|&x| x == DEFAULT_THRESHOLD));
        // Precision >= 0.9: A -> 0.8; B precision 1 at 0.8 and 0.7 -> 0.7.
        let t = select_thresholds(&samples, ThresholdRule::Precision(0.9));
        assert_eq!((t[0], t[1], t[2]), (0.8, 0.7, 0.5));
    }
}
