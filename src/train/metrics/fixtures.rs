//! The worked example the metrics tests share: three AUs with hand-checked scores and
//! labels, and eight samples built from them.

use super::{EvalSample, DEFAULT_THRESHOLDS, NUM_EMOTIONS};
use crate::frame::NUM_AUS;

pub(super) const EPS: f64 = 1e-9;

pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < EPS
}

/// AU "A" of the worked example: 4 known positives, 3 known negatives, one unknown with
/// the highest score (0.95), and a tie at 0.4 between a positive and a negative.
pub(super) fn pairs_a() -> Vec<(Option<bool>, f32)> {
    vec![
        (Some(true), 0.9),
        (Some(true), 0.8),
        (Some(false), 0.7),
        (Some(true), 0.6),
        (Some(false), 0.55),
        (Some(false), 0.4),
        (None, 0.95),
        (Some(true), 0.4),
    ]
}

/// AU "B": 3 positives, 3 negatives, two unknowns (scores 0.1 and 0.9).
pub(super) fn pairs_b() -> Vec<(Option<bool>, f32)> {
    vec![
        (Some(false), 0.2),
        (Some(true), 0.7),
        (None, 0.1),
        (Some(false), 0.6),
        (Some(true), 0.45),
        (Some(false), 0.1),
        (Some(true), 0.8),
        (None, 0.9),
    ]
}

/// AU "C": no known positive, one unknown (index 3).
pub(super) fn pairs_c() -> Vec<(Option<bool>, f32)> {
    vec![
        (Some(false), 0.6),
        (Some(false), 0.2),
        (Some(false), 0.1),
        (None, 0.7),
        (Some(false), 0.3),
        (Some(false), 0.1),
        (Some(false), 0.2),
        (Some(false), 0.4),
    ]
}

/// (true emotion, predicted emotion) per sample: s3 has no emotion label.
pub(super) const EMOTION_CASES: [(Option<usize>, usize); 8] = [
    (Some(3), 3), // happiness -> happiness
    (Some(3), 5), // happiness -> surprise
    (Some(6), 6), // neutral -> neutral
    (None, 0),
    (Some(5), 5), // surprise -> surprise
    (Some(0), 6), // anger -> neutral
    (Some(6), 6), // neutral -> neutral
    (Some(2), 2), // fear -> fear
];

/// The 8-sample example: AUs 1, 2, 4 (indices 0, 1, 2) carry pairs_a/b/c, the other 8
/// AUs are unknown everywhere.
pub(super) fn example() -> Vec<EvalSample> {
    let (a, b, c) = (pairs_a(), pairs_b(), pairs_c());
    (0..8)
        .map(|k| {
            let mut au_labels = [None; NUM_AUS];
            let mut au_probs = [0.3; NUM_AUS];
            for (i, pairs) in [&a, &b, &c].into_iter().enumerate() {
                au_labels[i] = pairs[k].0;
                au_probs[i] = pairs[k].1;
            }
            let (emotion_label, pred) = EMOTION_CASES[k];
            let mut emotion_probs = [0.05; NUM_EMOTIONS];
            emotion_probs[pred] = 0.7;
            EvalSample {
                au_labels,
                au_probs,
                emotion_label,
                emotion_probs,
            }
        })
        .collect()
}

/// Thresholds of the example: 0.4 for AU2 (index 1), 0.5 elsewhere.
pub(super) fn example_thresholds() -> [f32; NUM_AUS] {
    let mut t = DEFAULT_THRESHOLDS;
    t[1] = 0.4;
    t
}
