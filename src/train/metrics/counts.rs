//! One binary class's 2x2 confusion counts over samples with a known label, and the ratios
//! (precision, recall, specificity, F1) computed from them.

use serde::{Deserialize, Serialize};

use super::{predicted, ratio};

/// A 2x2 confusion matrix for one binary class, over samples with a known label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryCounts {
    /// Labelled present, predicted present.
    pub tp: u64,
    /// Labelled absent, predicted present.
    pub fp: u64,
    /// Labelled absent, predicted absent.
    pub tn: u64,
    /// Labelled present, predicted absent (`fn` is a keyword; the JSON key is `fn`).
    #[serde(rename = "fn")]
    pub fn_: u64,
}

impl BinaryCounts {
    /// Counts at `threshold` (positive when `score >= threshold`); unknown labels are skipped.
    pub fn at_threshold(pairs: &[(Option<bool>, f32)], threshold: f32) -> Self {
        let mut c = BinaryCounts::default();
        for &(label, score) in pairs {
            if let Some(label) = label {
                c.add(label, predicted(score, threshold));
            }
        }
        c
    }

    /// Adds one sample with a known label.
    pub fn add(&mut self, label: bool, predicted: bool) {
        match (label, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
            (true, false) => self.fn_ += 1,
        }
    }

    /// Adds another matrix cell by cell (pooling, as for micro averages).
    pub fn merge(&mut self, other: &BinaryCounts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.tn += other.tn;
        self.fn_ += other.fn_;
    }

    /// tp / (tp + fp); 0 when nothing is predicted positive.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// tp / (tp + fn); 0 when there are no positives.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// tn / (tn + fp); 0 when there are no negatives.
    pub fn specificity(&self) -> f64 {
        ratio(self.tn, self.tn + self.fp)
    }

    /// 2tp / (2tp + fp + fn), the harmonic mean of precision and recall; 0 when there are
    /// no positives and nothing is predicted positive.
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }

    /// Number of known positives (tp + fn).
    pub fn support(&self) -> u64 {
        self.tp + self.fn_
    }

    /// Number of positive predictions (tp + fp).
    pub fn predicted_positives(&self) -> u64 {
        self.tp + self.fp
    }

    /// Number of samples with a known label.
    pub fn total(&self) -> u64 {
        self.tp + self.fp + self.tn + self.fn_
    }

    /// `[[tn, fp], [fn, tp]]`: rows are the true label (absent, present), columns the
    /// prediction (absent, present).
    pub fn matrix(&self) -> [[u64; 2]; 2] {
        [[self.tn, self.fp], [self.fn_, self.tp]]
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn binary_counts_and_zero_denominators() {
        // A at 0.5: predicted positive 0.9T 0.8T 0.7F 0.6T 0.55F -> tp 3, fp 2;
        // below: 0.4F -> tn 1, 0.4T -> fn 1; the unknown 0.95 is skipped.
        let c = BinaryCounts::at_threshold(&pairs_a(), 0.5);
        assert_eq!(
            c,
            BinaryCounts {
                tp: 3,
                fp: 2,
                tn: 1,
                fn_: 1
            }
        );
        assert!(close(c.precision(), 0.6)); // 3 / 5
        assert!(close(c.recall(), 0.75)); // 3 / 4
        assert!(close(c.f1(), 6.0 / 9.0)); // 2*3 / (2*3 + 2 + 1)
        assert!(close(c.specificity(), 1.0 / 3.0)); // 1 / (1 + 2)
        assert_eq!(c.support(), 4);
        assert_eq!(c.matrix(), [[1, 2], [1, 3]]);

        // Nothing predicted positive, no positives: every ratio is 0/0 -> 0.
        let empty = BinaryCounts {
            tn: 5,
            ..Default::default()
        };
        assert_eq!(empty.precision(), 0.0);
        assert_eq!(empty.recall(), 0.0);
        assert_eq!(empty.f1(), 0.0);
        assert_eq!(empty.specificity(), 1.0);
        assert_eq!(BinaryCounts::default().specificity(), 0.0);
        // Positives exist but none predicted: precision 0/0 -> 0, recall 0/2 = 0.
        let missed = BinaryCounts {
            fn_: 2,
            ..Default::default()
        };
        assert_eq!(
            (missed.precision(), missed.recall(), missed.f1()),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn serde_renames_fn() {
        let c = BinaryCounts {
            tp: 1,
            fp: 2,
            tn: 3,
            fn_: 4,
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"tp":1,"fp":2,"tn":3,"fn":4}"#);
        assert_eq!(serde_json::from_str::<BinaryCounts>(&json).unwrap(), c);
    }
}
