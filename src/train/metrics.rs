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

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::frame::{AU_NUMBERS, EMOTIONS, NUM_AUS};

/// Number of emotion classes, in [`EMOTIONS`] order.
pub const NUM_EMOTIONS: usize = EMOTIONS.len();
/// Threshold used for an AU when none was chosen on validation data.
pub const DEFAULT_THRESHOLD: f32 = 0.5;
/// [`DEFAULT_THRESHOLD`] for every AU.
pub const DEFAULT_THRESHOLDS: [f32; NUM_AUS] = [DEFAULT_THRESHOLD; NUM_AUS];

/// One evaluated image: its labels and the network's outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalSample {
    /// Per AU in [`AU_NUMBERS`] order: `Some(true)` present, `Some(false)` absent, `None`
    /// unknown.
    pub au_labels: [Option<bool>; NUM_AUS],
    /// Predicted probability per AU, in [`AU_NUMBERS`] order.
    pub au_probs: [f32; NUM_AUS],
    /// Index into [`EMOTIONS`], or `None` when the image has no emotion label. An index
    /// `>= NUM_EMOTIONS` is treated as unknown.
    pub emotion_label: Option<usize>,
    /// Predicted emotion probabilities in [`EMOTIONS`] order; the prediction is the argmax.
    pub emotion_probs: [f32; NUM_EMOTIONS],
}

/// `(label, score)` for every sample, for AU `au_index` (a position in [`AU_NUMBERS`]).
/// This is the input of the per-AU functions ([`roc_auc`], [`pr_curve`], ...).
pub fn au_pairs(samples: &[EvalSample], au_index: usize) -> Vec<(Option<bool>, f32)> {
    samples
        .iter()
        .filter_map(|s| Some((*s.au_labels.get(au_index)?, *s.au_probs.get(au_index)?)))
        .collect()
}

/// `"AU01"`-style name of AU number `au`.
pub fn au_name(au: u8) -> String {
    format!("AU{au:02}")
}

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
fn sweep(pairs: &[(Option<bool>, f32)]) -> Vec<(f32, BinaryCounts)> {
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
/// positive keeps [`DEFAULT_THRESHOLD`].
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
fn macro_f1(classes: &[ClassMetrics]) -> (Option<f64>, usize) {
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

/// The results of one AU at its threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuMetrics {
    /// AU number, e.g. 12.
    pub au: u8,
    pub threshold: f32,
    /// The 2x2 confusion matrix over samples with a known label.
    pub counts: BinaryCounts,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub specificity: f64,
    /// Known positives.
    pub support: u64,
    /// Samples with a known label.
    pub known: u64,
    pub roc_auc: Option<f64>,
    pub average_precision: Option<f64>,
}

/// The metrics of one AU from its `(label, score)` pairs, at `threshold`.
pub fn au_metrics(au: u8, pairs: &[(Option<bool>, f32)], threshold: f32) -> AuMetrics {
    let counts = BinaryCounts::at_threshold(pairs, threshold);
    AuMetrics {
        au,
        threshold,
        counts,
        precision: counts.precision(),
        recall: counts.recall(),
        f1: counts.f1(),
        specificity: counts.specificity(),
        support: counts.support(),
        known: counts.total(),
        roc_auc: roc_auc(pairs),
        average_precision: average_precision(pairs),
    }
}

/// Everything measured on one evaluation set; serialisable to JSON and printable as
/// Markdown with [`EvalReport::to_markdown`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Samples evaluated (including those with unknown labels).
    pub samples: u64,
    /// One entry per AU, in [`AU_NUMBERS`] order.
    pub aus: Vec<AuMetrics>,
    /// Mean F1 over the AUs with at least one known positive (an AU without positives has
    /// F1 0 by convention and would only drag the mean down); `None` if no AU has one.
    pub macro_f1: Option<f64>,
    /// Number of AUs averaged in `macro_f1`.
    pub macro_f1_aus: usize,
    /// Counts pooled over all AUs and all known labels.
    pub micro: BinaryCounts,
    pub micro_precision: f64,
    pub micro_recall: f64,
    pub micro_f1: f64,
    /// `None` when no sample has an emotion label.
    pub emotion: Option<EmotionReport>,
    pub co_occurrence: CoOccurrence,
}

/// Evaluates `samples` with one threshold per AU ([`DEFAULT_THRESHOLDS`], or ones from
/// [`select_thresholds`] on validation data).
pub fn evaluate(samples: &[EvalSample], thresholds: &[f32; NUM_AUS]) -> EvalReport {
    let aus: Vec<AuMetrics> = AU_NUMBERS
        .iter()
        .enumerate()
        .map(|(i, &au)| au_metrics(au, &au_pairs(samples, i), thresholds[i]))
        .collect();
    let classes: Vec<ClassMetrics> = aus
        .iter()
        .map(|a| ClassMetrics::new(&au_name(a.au), a.counts))
        .collect();
    let (macro_f1, macro_f1_aus) = macro_f1(&classes);
    let mut micro = BinaryCounts::default();
    for a in &aus {
        micro.merge(&a.counts);
    }
    EvalReport {
        samples: samples.len() as u64,
        aus,
        macro_f1,
        macro_f1_aus,
        micro,
        micro_precision: micro.precision(),
        micro_recall: micro.recall(),
        micro_f1: micro.f1(),
        emotion: emotion_report(samples),
        co_occurrence: co_occurrence(samples, thresholds),
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

/// A Markdown table of counts with row and column names.
fn count_table(out: &mut String, corner: &str, rows: &[String], cols: &[String], m: &[Vec<u64>]) {
    let _ = write!(out, "| {corner} |");
    for c in cols {
        let _ = write!(out, " {c} |");
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(cols.len()));
    out.push('\n');
    for (name, row) in rows.iter().zip(m) {
        let _ = write!(out, "| {name} |");
        for v in row {
            let _ = write!(out, " {v} |");
        }
        out.push('\n');
    }
}

impl EvalReport {
    /// The report as Markdown: per-AU table (threshold, P/R/F1, specificity, ROC-AUC, AP,
    /// support), macro and micro F1, per-AU 2x2 confusion counts, the emotion confusion
    /// matrix and metrics, and the AU co-occurrence matrices.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Evaluation ({} samples)\n", self.samples);
        out.push_str("## Action Units\n\n");
        out.push_str(
            "| AU | threshold | precision | recall | F1 | specificity | ROC-AUC | AP | support | known |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for a in &self.aus {
            let _ = writeln!(
                out,
                "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} |",
                au_name(a.au),
                a.threshold,
                a.precision,
                a.recall,
                a.f1,
                a.specificity,
                fmt_opt(a.roc_auc),
                fmt_opt(a.average_precision),
                a.support,
                a.known
            );
        }
        let _ = writeln!(
            out,
            "\nMacro-F1 {} (mean over the {} AUs with at least one known positive). \
             Micro (counts pooled over all AUs): precision {:.3}, recall {:.3}, F1 {:.3}.\n",
            fmt_opt(self.macro_f1),
            self.macro_f1_aus,
            self.micro_precision,
            self.micro_recall,
            self.micro_f1
        );

        out.push_str("### Confusion per AU\n\n");
        out.push_str(
            "Each AU's 2x2 matrix, row by row: [[TN, FP], [FN, TP]] (rows = true absent / \
             present, columns = predicted absent / present).\n\n",
        );
        out.push_str("| AU | TN | FP | FN | TP |\n|---|---:|---:|---:|---:|\n");
        for a in &self.aus {
            let c = a.counts;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                au_name(a.au),
                c.tn,
                c.fp,
                c.fn_,
                c.tp
            );
        }

        if let Some(e) = &self.emotion {
            let _ = writeln!(
                out,
                "\n## Emotions ({} labelled samples)\n\nRows = true emotion, columns = \
                 predicted (argmax).\n",
                e.labelled
            );
            count_table(
                &mut out,
                "true \\ predicted",
                &e.confusion.labels,
                &e.confusion.labels,
                &e.confusion.counts,
            );
            out.push_str(
                "\n| emotion | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|\n",
            );
            for c in &e.per_class {
                let _ = writeln!(
                    out,
                    "| {} | {:.3} | {:.3} | {:.3} | {} |",
                    c.name, c.precision, c.recall, c.f1, c.support
                );
            }
            let _ = writeln!(
                out,
                "\nMacro-F1 {} (mean over the {} emotions with at least one labelled sample).",
                fmt_opt(e.macro_f1),
                e.macro_f1_classes
            );
        }

        let names: Vec<String> = self.co_occurrence.aus.iter().map(|&a| au_name(a)).collect();
        for (title, m) in [
            ("labels", &self.co_occurrence.labels),
            ("predictions", &self.co_occurrence.predictions),
        ] {
            let _ = writeln!(
                out,
                "\n## AU co-occurrence ({title})\n\nSamples where both AUs are present, among \
                 samples where both labels are known; the diagonal is each AU's count.\n"
            );
            count_table(&mut out, "", &names, &names, m);
        }
        out
    }

    /// Writes the report as pretty JSON (atomically: a temporary file, then a rename).
    ///
    /// # Errors
    /// The report cannot be serialised (a NaN threshold) or the file cannot be written.
    pub fn save_json(&self, path: &Path) -> Result<()> {
        let value = serde_json::to_value(self).map_err(|e| Error::Json {
            path: path.into(),
            source: e,
        })?;
        crate::log::write_json_atomic(path, &value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-9;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < EPS
    }

    /// AU "A" of the worked example: 4 known positives, 3 known negatives, one unknown with
    /// the highest score (0.95), and a tie at 0.4 between a positive and a negative.
    fn pairs_a() -> Vec<(Option<bool>, f32)> {
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
    fn pairs_b() -> Vec<(Option<bool>, f32)> {
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
    fn pairs_c() -> Vec<(Option<bool>, f32)> {
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
    const EMOTION_CASES: [(Option<usize>, usize); 8] = [
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
    fn example() -> Vec<EvalSample> {
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
    fn example_thresholds() -> [f32; NUM_AUS] {
        let mut t = DEFAULT_THRESHOLDS;
        t[1] = 0.4;
        t
    }

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

    #[test]
    fn evaluate_worked_example() {
        let r = evaluate(&example(), &example_thresholds());
        assert_eq!(r.samples, 8);
        assert_eq!(r.aus.len(), NUM_AUS);

        let a = &r.aus[0];
        assert_eq!(a.au, 1);
        assert_eq!((a.support, a.known), (4, 7));
        assert!(close(a.f1, 6.0 / 9.0));
        assert!(close(a.roc_auc.unwrap(), 8.5 / 12.0));

        // B at 0.4: predicted positive 0.7T 0.6F 0.45T 0.8T -> tp 3, fp 1; 0.2F, 0.1F ->
        // tn 2, fn 0. P 3/4, R 1, F1 6/7.
        let b = &r.aus[1];
        assert_eq!(
            b.counts,
            BinaryCounts {
                tp: 3,
                fp: 1,
                tn: 2,
                fn_: 0
            }
        );
        assert!(close(b.precision, 0.75));
        assert!(close(b.recall, 1.0));
        assert!(close(b.f1, 6.0 / 7.0));
        assert_eq!(b.threshold, 0.4);

        // C at 0.5: 0.6F -> fp 1, the other 6 known -> tn 6; F1 0, AUC and AP undefined.
        let c = &r.aus[2];
        assert_eq!(
            c.counts,
            BinaryCounts {
                tp: 0,
                fp: 1,
                tn: 6,
                fn_: 0
            }
        );
        assert_eq!((c.roc_auc, c.average_precision), (None, None));
        assert!(close(c.specificity, 6.0 / 7.0));

        // AUs with no known label at all: all counts 0.
        assert!(r.aus[3..].iter().all(|a| a.known == 0));

        // Macro-F1 over A and B only (C and the rest have no positive):
        // (6/9 + 6/7) / 2 = (2/3 + 6/7) / 2 = 16/21.
        assert_eq!(r.macro_f1_aus, 2);
        assert!(close(r.macro_f1.unwrap(), 16.0 / 21.0));
        // Micro: A (3,2,1,1) + B (3,1,2,0) + C (0,1,6,0) = tp 6, fp 4, tn 9, fn 1.
        // P 6/10, R 6/7, F1 12/(12 + 4 + 1) = 12/17.
        assert_eq!(
            r.micro,
            BinaryCounts {
                tp: 6,
                fp: 4,
                tn: 9,
                fn_: 1
            }
        );
        assert!(close(r.micro_precision, 0.6));
        assert!(close(r.micro_recall, 6.0 / 7.0));
        assert!(close(r.micro_f1, 12.0 / 17.0));
    }

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

    #[test]
    fn report_json_round_trip_and_markdown() {
        let r = evaluate(&example(), &example_thresholds());
        let json = serde_json::to_string(&r).unwrap();
        let back: EvalReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back.aus.len(), NUM_AUS);
        assert_eq!(back.micro, r.micro);
        assert_eq!(back.co_occurrence, r.co_occurrence);
        assert_eq!(
            back.emotion.as_ref().map(|e| &e.confusion),
            r.emotion.as_ref().map(|e| &e.confusion)
        );
        assert!(close(back.macro_f1.unwrap(), r.macro_f1.unwrap()));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        r.save_json(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"fn\""));

        let md = r.to_markdown();
        // AU01 row: threshold 0.5, P 3/5, R 3/4, F1 2/3, specificity 1/3, AUC 8.5/12,
        // AP 0.830, support 4, known 7.
        assert!(
            md.contains("| AU01 | 0.500 | 0.600 | 0.750 | 0.667 | 0.333 | 0.708 | 0.830 | 4 | 7 |"),
            "{md}"
        );
        // AU04 has no positive: AUC and AP print as "-".
        assert!(md.contains("| AU04 | 0.500 | 0.000 | 0.000 | 0.000 | 0.857 | - | - | 0 | 7 |"));
        assert!(md.contains("Macro-F1 0.762 (mean over the 2 AUs"));
        assert!(md.contains("| AU02 | 2 | 1 | 0 | 3 |")); // TN FP FN TP
        assert!(md.contains("| neutral | 0 | 0 | 0 | 0 | 0 | 0 | 2 |"));
        assert!(md.contains("## AU co-occurrence (predictions)"));
    }
}
