//! Multi-class results: the argmax prediction, one-vs-rest metrics from a confusion matrix,
//! the emotion report, and how often two AUs occur together (labels and predictions).

use serde::{Deserialize, Serialize};

use super::{predicted, BinaryCounts, EvalSample, NUM_EMOTIONS};
use crate::frame::{AU_NUMBERS, EMOTIONS, NUM_AUS};

/// Index of the largest value; the first one on ties, NaN ignored, 0 if all are NaN or the
/// slice is empty.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    for (i, &v) in values.iter().enumerate() {
        if v > best_value {
            best = i;
            best_value = v;
        }
    }
    best
}

/// The metrics of one class in a binary or multi-class problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub name: String,
    pub counts: BinaryCounts,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Known positives.
    pub support: u64,
}

impl ClassMetrics {
    /// Metrics of class `name` from its counts.
    pub fn new(name: &str, counts: BinaryCounts) -> Self {
        ClassMetrics {
            name: name.to_string(),
            counts,
            precision: counts.precision(),
            recall: counts.recall(),
            f1: counts.f1(),
            support: counts.support(),
        }
    }
}

/// A multi-class confusion matrix: `counts[true][predicted]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub labels: Vec<String>,
    /// Rows are the true class, columns the predicted class.
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// An all-zero matrix over `labels`.
    pub fn new(labels: &[&str]) -> Self {
        ConfusionMatrix {
            labels: labels.iter().map(|s| s.to_string()).collect(),
            counts: vec![vec![0; labels.len()]; labels.len()],
        }
    }

    /// Counts one sample; indices out of range are ignored.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        if let Some(cell) = self
            .counts
            .get_mut(truth)
            .and_then(|row| row.get_mut(predicted))
        {
            *cell += 1;
        }
    }

    /// Number of samples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Class `c` against the rest (one-vs-rest counts).
    pub fn class_counts(&self, c: usize) -> BinaryCounts {
        let total = self.total();
        let tp = self
            .counts
            .get(c)
            .and_then(|r| r.get(c))
            .copied()
            .unwrap_or(0);
        let row: u64 = self.counts.get(c).map_or(0, |r| r.iter().sum());
        let col: u64 = self.counts.iter().filter_map(|r| r.get(c)).sum();
        BinaryCounts {
            tp,
            fp: col - tp,
            fn_: row - tp,
            tn: total - row - col + tp,
        }
    }

    /// One-vs-rest metrics of every class.
    pub fn per_class(&self) -> Vec<ClassMetrics> {
        self.labels
            .iter()
            .enumerate()
            .map(|(c, name)| ClassMetrics::new(name, self.class_counts(c)))
            .collect()
    }
}

/// Mean F1 over the classes with at least one known positive; `None` if there is none.
pub(super) fn macro_f1(classes: &[ClassMetrics]) -> (Option<f64>, usize) {
    let used: Vec<f64> = classes
        .iter()
        .filter(|c| c.support > 0)
        .map(|c| c.f1)
        .collect();
    let mean = (!used.is_empty()).then(|| used.iter().sum::<f64>() / used.len() as f64);
    (mean, used.len())
}

/// Emotion results over the samples with a known emotion label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmotionReport {
    /// 7x7, rows = true emotion, columns = predicted argmax, in [`EMOTIONS`] order.
    pub confusion: ConfusionMatrix,
    pub per_class: Vec<ClassMetrics>,
    /// Mean F1 over the emotions with at least one labelled sample.
    pub macro_f1: Option<f64>,
    /// Number of emotions averaged in `macro_f1`.
    pub macro_f1_classes: usize,
    /// Samples with a known emotion label.
    pub labelled: u64,
}

/// Emotion confusion matrix and metrics; `None` when no sample has a (valid) emotion label.
pub fn emotion_report(samples: &[EvalSample]) -> Option<EmotionReport> {
    let mut confusion = ConfusionMatrix::new(&EMOTIONS);
    for s in samples {
        if let Some(truth) = s.emotion_label.filter(|&e| e < NUM_EMOTIONS) {
            confusion.add(truth, argmax(&s.emotion_probs));
        }
    }
    let labelled = confusion.total();
    if labelled == 0 {
        return None;
    }
    let per_class = confusion.per_class();
    let (macro_f1, macro_f1_classes) = macro_f1(&per_class);
    Some(EmotionReport {
        confusion,
        per_class,
        macro_f1,
        macro_f1_classes,
        labelled,
    })
}

/// How often two AUs are present in the same image, in [`AU_NUMBERS`] order. Only samples
/// where both AUs' labels are known are counted, for the predictions too, so the two
/// matrices describe the same images. The diagonal holds, for each AU, the positives
/// (labels) or positive predictions (predictions) among samples with a known label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoOccurrence {
    pub aus: Vec<u8>,
    /// `labels[i][j]`: samples labelled with both AU i and AU j present.
    pub labels: Vec<Vec<u64>>,
    /// `predictions[i][j]`: samples predicted (at the report's thresholds) to show both.
    pub predictions: Vec<Vec<u64>>,
    /// `both_known[i][j]`: samples where both labels are known, the denominator of the
    /// two matrices above.
    pub both_known: Vec<Vec<u64>>,
}

/// Label and prediction co-occurrence of the AUs, predictions at `thresholds`.
pub fn co_occurrence(samples: &[EvalSample], thresholds: &[f32; NUM_AUS]) -> CoOccurrence {
    let mut labels = vec![vec![0u64; NUM_AUS]; NUM_AUS];
    let mut predictions = vec![vec![0u64; NUM_AUS]; NUM_AUS];
    let mut both_known = vec![vec![0u64; NUM_AUS]; NUM_AUS];
    for s in samples {
        let pred: Vec<bool> = (0..NUM_AUS)
            .map(|i| predicted(s.au_probs[i], thresholds[i]))
            .collect();
        for i in 0..NUM_AUS {
            let Some(li) = s.au_labels[i] else { continue };
            for j in 0..NUM_AUS {
                let Some(lj) = s.au_labels[j] else { continue };
                both_known[i][j] += 1;
                labels[i][j] += u64::from(li && lj);
                predictions[i][j] += u64::from(pred[i] && pred[j]);
            }
        }
    }
    CoOccurrence {
        aus: AU_NUMBERS.to_vec(),
        labels,
        predictions,
        both_known,
    }
}

#[cfg(test)]
mod tests {
    use super::super::evaluate;
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn emotion_confusion_and_macro_f1() {
        let e = emotion_report(&example()).unwrap();
        // 7 labelled samples (s3 has none).
        assert_eq!(e.labelled, 7);
        let m = &e.confusion.counts;
        assert_eq!(m[3][3], 1); // happiness -> happiness
        assert_eq!(m[3][5], 1); // happiness -> surprise
        assert_eq!(m[6][6], 2); // neutral -> neutral twice
        assert_eq!(m[0][6], 1); // anger -> neutral
        assert_eq!((m[5][5], m[2][2]), (1, 1));
        assert_eq!(e.confusion.total(), 7);

        // One-vs-rest:
        //   anger     tp 0 fp 0 fn 1 -> P 0 (0/0), R 0, F1 0, support 1
        //   disgust   support 0 (left out of the macro)
        //   fear      tp 1 fp 0 fn 0 -> F1 1
        //   happiness tp 1 fp 0 fn 1 -> P 1, R 1/2, F1 2/3
        //   sadness   support 0
        //   surprise  tp 1 fp 1 fn 0 -> P 1/2, R 1, F1 2/3
        //   neutral   tp 2 fp 1 fn 0 -> P 2/3, R 1, F1 4/5
        // Macro over the 5 supported: (0 + 1 + 2/3 + 2/3 + 4/5) / 5 = 47/75.
        let f1: Vec<f64> = e.per_class.iter().map(|c| c.f1).collect();
        let expected = [0.0, 0.0, 1.0, 2.0 / 3.0, 0.0, 2.0 / 3.0, 0.8];
        for (got, want) in f1.iter().zip(expected) {
            assert!(close(*got, want), "{f1:?}");
        }
        assert!(close(e.per_class[5].precision, 0.5));
        assert!(close(e.per_class[3].recall, 0.5));
        assert_eq!(e.per_class[6].counts.tn, 4); // 7 - row 2 - column 3 + tp 2
        assert_eq!(e.macro_f1_classes, 5);
        assert!(close(e.macro_f1.unwrap(), 47.0 / 75.0));

        // No emotion labels (or only invalid ones) -> no emotion report.
        let mut unlabelled = example();
        for s in &mut unlabelled {
            s.emotion_label = s.emotion_label.map(|_| 99);
        }
        assert_eq!(emotion_report(&unlabelled), None);
    }

    #[test]
    fn co_occurrence_counts_only_where_both_known() {
        let r = evaluate(&example(), &example_thresholds());
        let co = &r.co_occurrence;
        // Labels (A, B, C) per sample: s0 T F F, s1 T T F, s2 F ? F, s3 T F ?, s4 F T F,
        // s5 F F F, s6 ? T F, s7 T ? F.
        // A and B both known in s0 s1 s3 s4 s5 (5); both present only in s1.
        assert_eq!(co.both_known[0][1], 5);
        assert_eq!(co.labels[0][1], 1);
        assert_eq!(co.labels[1][0], 1);
        // Diagonal = known positives: A 4, B 3, C 0.
        assert_eq!(
            (co.labels[0][0], co.labels[1][1], co.labels[2][2]),
            (4, 3, 0)
        );
        assert_eq!((co.both_known[0][0], co.both_known[1][1]), (7, 6));
        // A and C both known in s0 s1 s2 s4 s5 s7 (6); B and C in s0 s1 s4 s5 s6 (5).
        assert_eq!((co.both_known[0][2], co.both_known[1][2]), (6, 5));

        // Predictions (A >= 0.5, B >= 0.4, C >= 0.5):
        //   A: s0 s1 s2 s3 s4 s6; B: s1 s3 s4 s6 s7; C: s0 s3.
        // A&B among s0 s1 s3 s4 s5: s1 s3 s4 -> 3. A&C among s0 s1 s2 s4 s5 s7: s0 -> 1.
        // B&C among s0 s1 s4 s5 s6: none.
        assert_eq!(co.predictions[0][1], 3);
        assert_eq!(co.predictions[0][2], 1);
        assert_eq!(co.predictions[1][2], 0);
        // Diagonal = positive predictions among known labels = tp + fp.
        for (i, a) in r.aus.iter().enumerate() {
            assert_eq!(co.predictions[i][i], a.counts.predicted_positives());
            assert_eq!(co.labels[i][i], a.support);
        }
    }
}
