//! What a [`Dataset`] holds: rows read and skipped, labels per AU, emotions; printable as a
//! human-readable report.

use std::fmt;
use std::path::PathBuf;

use super::Dataset;
use crate::frame::{AU_NUMBERS, EMOTIONS, NUM_AUS};

/// Label counts for one AU over the usable samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuCount {
    pub positive: usize,
    pub negative: usize,
    pub unknown: usize,
}

/// Counts over a [`Dataset`]; `Display` renders them as a human-readable report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DatasetSummary {
    /// Data rows read: samples + bad rows + rows with a missing image.
    pub rows: usize,
    pub samples: usize,
    pub bad_rows: usize,
    pub missing_images: usize,
    /// Per AU in [`AU_NUMBERS`] order.
    pub aus: [AuCount; NUM_AUS],
    /// Samples per emotion in [`EMOTIONS`] order.
    pub emotions: [usize; EMOTIONS.len()],
    /// Samples without an emotion label.
    pub emotion_unknown: usize,
    /// The first few bad rows, for the report.
    pub first_bad_rows: Vec<(usize, String)>,
    /// The first few missing images, for the report.
    pub first_missing_images: Vec<(usize, PathBuf)>,
    /// Usable rows whose image an earlier row already names (kept: each counts in training).
    pub duplicates: usize,
    /// The first few as (line, earlier line, image).
    pub first_duplicates: Vec<(usize, usize, PathBuf)>,
}

/// How many bad rows and missing images the summary quotes.
const QUOTED_PROBLEMS: usize = 5;

impl Dataset {
    /// Usable rows whose image an earlier row already names: (line, earlier line, image).
    pub fn duplicates(&self) -> Vec<(usize, usize, PathBuf)> {
        let mut first: std::collections::HashMap<&std::path::Path, usize> =
            std::collections::HashMap::new();
        let mut out = Vec::new();
        for s in &self.samples {
            match first.get(s.path.as_path()) {
                Some(&earlier) => out.push((s.line, earlier, s.path.clone())),
                None => {
                    first.insert(&s.path, s.line);
                }
            }
        }
        out
    }

    /// Counts rows, problems, labels per AU and emotions.
    pub fn summary(&self) -> DatasetSummary {
        let mut s = DatasetSummary {
            rows: self.samples.len() + self.bad_rows.len() + self.missing_images.len(),
            samples: self.samples.len(),
            bad_rows: self.bad_rows.len(),
            missing_images: self.missing_images.len(),
            first_bad_rows: self
                .bad_rows
                .iter()
                .take(QUOTED_PROBLEMS)
                .cloned()
                .collect(),
            first_missing_images: self
                .missing_images
                .iter()
                .take(QUOTED_PROBLEMS)
                .cloned()
                .collect(),
            ..Default::default()
        };
        let duplicates = self.duplicates();
        s.duplicates = duplicates.len();
        s.first_duplicates = duplicates.into_iter().take(QUOTED_PROBLEMS).collect();
        for sample in &self.samples {
            for (count, label) in s.aus.iter_mut().zip(sample.aus) {
                match label {
                    Some(true) => count.positive += 1,
                    Some(false) => count.negative += 1,
                    None => count.unknown += 1,
                }
            }
            match sample.emotion {
                Some(e) if e < EMOTIONS.len() => s.emotions[e] += 1,
                _ => s.emotion_unknown += 1,
            }
        }
        s
    }
}

/// `part` as a percentage of `whole`, 0 for an empty whole.
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

impl fmt::Display for DatasetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} rows: {} usable, {} bad, {} with a missing image, {} duplicates",
            self.rows, self.samples, self.bad_rows, self.missing_images, self.duplicates
        )?;
        for (line, reason) in &self.first_bad_rows {
            writeln!(f, "  bad row, line {line}: {reason}")?;
        }
        if self.bad_rows > self.first_bad_rows.len() {
            writeln!(
                f,
                "  ... and {} more bad rows",
                self.bad_rows - self.first_bad_rows.len()
            )?;
        }
        for (line, path) in &self.first_missing_images {
            writeln!(f, "  missing image, line {line}: {}", path.display())?;
        }
        if self.missing_images > self.first_missing_images.len() {
            writeln!(
                f,
                "  ... and {} more missing images",
                self.missing_images - self.first_missing_images.len()
            )?;
        }
        for (line, earlier, path) in &self.first_duplicates {
            writeln!(
                f,
                "  duplicate, line {line} repeats line {earlier}: {}",
                path.display()
            )?;
        }
        if self.duplicates > self.first_duplicates.len() {
            writeln!(
                f,
                "  ... and {} more duplicate rows",
                self.duplicates - self.first_duplicates.len()
            )?;
        }
        writeln!(f, "AU     positive            negative            unknown")?;
        for (au, c) in AU_NUMBERS.iter().zip(&self.aus) {
            writeln!(
                f,
                "AU{au:02}   {:>7} ({:>5.1}%)   {:>7} ({:>5.1}%)   {:>7} ({:>5.1}%)",
                c.positive,
                percent(c.positive, self.samples),
                c.negative,
                percent(c.negative, self.samples),
                c.unknown,
                percent(c.unknown, self.samples),
            )?;
        }
        write!(f, "emotions:")?;
        for (name, n) in EMOTIONS.iter().zip(&self.emotions) {
            write!(f, " {name} {n},")?;
        }
        writeln!(f, " unlabelled {}", self.emotion_unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::dataset::Sample;

    #[test]
    fn duplicate_images_are_counted_and_named_with_both_lines() {
        let row = |line: usize, name: &str| Sample {
            path: PathBuf::from(name),
            line,
            aus: [Some(false); NUM_AUS],
            emotion: None,
        };
        let ds = Dataset {
            samples: vec![
                row(2, "a.jpg"),
                row(3, "b.jpg"),
                row(4, "a.jpg"),
                row(5, "a.jpg"),
            ],
            ..Default::default()
        };
        let s = ds.summary();
        assert_eq!(s.duplicates, 2);
        assert_eq!(s.first_duplicates[0], (4, 2, PathBuf::from("a.jpg")));
        let text = s.to_string();
        assert!(text.contains("2 duplicates"), "{text}");
        assert!(text.contains("line 5 repeats line 2: a.jpg"), "{text}");
        assert_eq!(Dataset::default().summary().duplicates, 0);
    }
}
