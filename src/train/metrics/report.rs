//! The whole evaluation of one data set: per-AU metrics at their thresholds, macro and micro
//! averages, the emotion report and AU co-occurrence, as an [`EvalReport`] that prints as
//! Markdown and saves as JSON.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::confusion::{co_occurrence, emotion_report, macro_f1, ClassMetrics};
use super::curves::{average_precision, roc_auc};
use super::{au_name, au_pairs, BinaryCounts, CoOccurrence, EmotionReport, EvalSample};
use crate::error::{Error, Result};
use crate::frame::{AU_NUMBERS, NUM_AUS};

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

/// Evaluates `samples` with one threshold per AU
/// ([`DEFAULT_THRESHOLDS`](super::DEFAULT_THRESHOLDS), or ones from
/// [`select_thresholds`](super::select_thresholds) on validation data).
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
        let value = serde_json::to_value(self).map_err(|e| Error::json(path, e))?;
        crate::util::json::write_json_atomic(path, &value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

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
