//! What `facs eval`, `facs lr-find` and `facs cam` leave on disk: the evaluation report
//! (Markdown, JSON, PR curves, emotion confusion matrix, training curves: training and
//! validation loss on one axis, validation macro-F1 on another), the learning-rate range
//! test's plot and figures, and the table of where the class activation maps peak.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::cam::{peak_summary, PeakSummary, AU_REGION, NEAR, REGIONS};
use super::faces::Prepared;
use super::metrics::{au_pr_curves, evaluate, EvalReport, EvalSample};
use super::plot::{confusion_matrix, line_plot, pr_curves, save_png, stack, with_caption};
use super::trainer::LrFind;
use crate::error::{Error, Result};
use crate::frame::{au_description, au_name, AU_NUMBERS, NUM_AUS};
use crate::model::au_net::AuNet;
use crate::model::au_net_file::ModelInfo;
use crate::util::json::write_serialized;

/// Scores `samples` at `thresholds` and writes `report.md`, `report.json`, `pr_curves.png`,
/// `emotion_confusion.png` (when the data has emotion labels) and `training.png` (the
/// model's training history: training and validation loss, validation macro-F1) into `dir`.
///
/// # Errors
/// A file cannot be written.
pub fn write_eval_report(
    dir: &Path,
    info: &ModelInfo,
    samples: &[EvalSample],
    thresholds: &[f32; NUM_AUS],
    caption: &str,
) -> Result<EvalReport> {
    let preamble = format!("{caption}\n\n");
    let report = write_scores_report(dir, &preamble, caption, samples, thresholds)?;
    let loss: Vec<(f32, f32)> = info
        .history
        .iter()
        .map(|h| (h.epoch as f32, h.train_loss as f32))
        .collect();
    let val_loss: Vec<(f32, f32)> = info
        .history
        .iter()
        .filter_map(|h| h.val_loss.map(|l| (h.epoch as f32, l as f32)))
        .collect();
    let mut losses = vec![("TRAINING LOSS", 0x1f77b4u32, loss)];
    if !val_loss.is_empty() {
        losses.push(("VALIDATION LOSS", 0xd62728, val_loss));
    }
    let f1: Vec<(f32, f32)> = info
        .history
        .iter()
        .filter_map(|h| h.val_macro_f1.map(|f| (h.epoch as f32, f as f32)))
        .collect();
    // Loss and F1 have their own axes: on one axis a loss of 3-4 flattens an F1 of 0.2.
    let loss_plot = line_plot(
        "TRAINING AND VALIDATION LOSS",
        "EPOCH",
        "LOSS",
        &losses,
        false,
    )?;
    let img = if f1.is_empty() {
        loss_plot
    } else {
        let f1_plot = line_plot(
            "VALIDATION MACRO-F1",
            "EPOCH",
            "MACRO-F1",
            &[("VAL MACRO-F1", 0xff7f0e, f1)],
            false,
        )?;
        stack(&loss_plot, &f1_plot)
    };
    save_png(&with_caption(&img, caption)?, &dir.join("training.png"))?;
    Ok(report)
}

/// Scores `samples` at `thresholds` and writes `report.md` (`preamble`, Markdown, first),
/// `report.json`, `pr_curves.png` and `emotion_confusion.png` (when the data has emotion
/// labels) into `dir`: the part of a report that needs no trained model. `caption` (what
/// was scored on what, and when) goes under each figure.
///
/// # Errors
/// A file cannot be written.
pub fn write_scores_report(
    dir: &Path,
    preamble: &str,
    caption: &str,
    samples: &[EvalSample],
    thresholds: &[f32; NUM_AUS],
) -> Result<EvalReport> {
    let report = evaluate(samples, thresholds);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let md = dir.join("report.md");
    std::fs::write(&md, format!("{preamble}{}", report.to_markdown()))
        .map_err(|e| Error::io(&md, e))?;
    report.save_json(&dir.join("report.json"))?;
    let pr = pr_curves("PR CURVES", &au_pr_curves(samples))?;
    save_png(&with_caption(&pr, caption)?, &dir.join("pr_curves.png"))?;
    if let Some(e) = &report.emotion {
        let img = confusion_matrix("EMOTIONS", &e.confusion.labels, &e.confusion.counts)?;
        save_png(
            &with_caption(&img, caption)?,
            &dir.join("emotion_confusion.png"),
        )?;
    }
    Ok(report)
}

/// Writes the range test's `lr_find.png` and `lr_find.json` into `dir`; returns the plot's
/// path.
///
/// # Errors
/// A file cannot be written.
pub fn write_lr_find(dir: &Path, r: &LrFind, caption: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let pts: Vec<(f32, f32)> = r
        .points
        .iter()
        .map(|&(l, v)| (l as f32, v as f32))
        .collect();
    let mut series = vec![("LOSS".to_string(), 0x1f77b4u32, pts)];
    // The suggested rate as a vertical line from the lowest to the highest loss shown.
    if let Some(lr) = r.suggested {
        let (lo, hi) = r
            .points
            .iter()
            .map(|p| p.1)
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        if lo <= hi {
            series.push((
                format!("SUGGESTED {lr:.1e}"),
                0xd62728,
                vec![(lr as f32, lo as f32), (lr as f32, hi as f32)],
            ));
        }
    }
    let img = line_plot(
        "LR RANGE TEST",
        "LEARNING RATE",
        "SMOOTHED LOSS",
        &series,
        true,
    )?;
    let png = dir.join("lr_find.png");
    save_png(&with_caption(&img, caption)?, &png)?;
    write_serialized(&dir.join("lr_find.json"), r)?;
    Ok(png)
}

/// Where each AU's class activation map peaks over the faces labelled with it, as one text
/// table for the terminal ([`peak_table_text`]).
///
/// # Errors
/// A tensor operation failed.
pub fn peak_table(net: &AuNet, data: &Prepared) -> Result<String> {
    let mut rows = Vec::with_capacity(NUM_AUS);
    for k in 0..NUM_AUS {
        rows.push(peak_summary(net, data, k, NEAR)?);
    }
    Ok(peak_table_text(&rows))
}

/// The peak table of [`peak_table`] from each AU's [`PeakSummary`] (in [`AU_NUMBERS`]
/// order): a header saying what each column counts, then a row per AU with labelled faces.
/// "nearest" columns add up to 100% per row; "on it" is a stricter test of the one feature
/// where FACS places the AU, so a map can peak nearest the brows and still not on them.
pub fn peak_table_text(rows: &[PeakSummary]) -> String {
    let mut out = String::new();
    let name_w = AU_NUMBERS
        .iter()
        .map(|&a| au_description(a).len())
        .max()
        .unwrap_or(0);
    // Writing to a String cannot fail.
    for l in [
        "Where each AU's class activation map peaks, over the faces labelled with the AU."
            .to_string(),
        "  nearest <feature>: % of faces whose peak is closest to a landmark of that feature \
         (rows add to 100%)"
            .to_string(),
        format!(
            "  on it: % whose peak is within {NEAR} eye distances of the feature where FACS places \
             the AU"
        ),
        "         (acts at); a stricter test, so it can be below that feature's nearest share"
            .to_string(),
    ] {
        let _ = writeln!(out, "{l}");
    }
    let nearest = REGIONS.map(|r| format!("{r:>7}")).join(" ");
    let _ = writeln!(
        out,
        "AU    {:<name_w$}  faces  nearest: {nearest}  acts at  on it",
        "name"
    );
    for (k, s) in rows.iter().enumerate().take(NUM_AUS) {
        if s.faces == 0 {
            continue;
        }
        let shares = s
            .nearest
            .map(|c| format!("{:>6.0}%", 100.0 * c as f64 / s.faces as f64))
            .join(" ");
        let on = s
            .on_feature
            .map_or("     -".to_string(), |v| format!("{:>5.0}%", 100.0 * v));
        let _ = writeln!(
            out,
            "{}  {:<name_w$}  {:>5}           {shares}  {:<7}  {on}",
            au_name(AU_NUMBERS[k]),
            au_description(AU_NUMBERS[k]),
            s.faces,
            REGIONS[AU_REGION[k]],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_table_says_what_its_columns_count_and_has_one_row_per_au() {
        let mut rows = vec![PeakSummary::default(); NUM_AUS];
        // AU01: 7 faces, 6 nearest the brows, 1 on the brows (the 86% vs 14% of one model).
        rows[0] = PeakSummary {
            faces: 7,
            nearest: [6, 1, 0, 0, 0],
            on_feature: Some(1.0 / 7.0),
        };
        rows[6] = PeakSummary {
            faces: 4,
            nearest: [0, 0, 1, 3, 0],
            on_feature: Some(0.75),
        };
        let t = peak_table_text(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[1].contains("nearest <feature>") && lines[1].contains("100%"),
            "{t}"
        );
        assert!(lines[2].contains("within 0.3 eye distances") && lines[3].contains("stricter"));
        assert!(lines[4].starts_with("AU    name") && lines[4].contains("acts at  on it"));
        // Rows only for AUs with labelled faces, each with its name, shares and site.
        assert_eq!(lines.len(), 7, "{t}");
        assert!(lines[5].starts_with("AU01  inner brow raiser"), "{t}");
        assert!(
            lines[5].contains("86%") && lines[5].contains("brows") && lines[5].ends_with("14%")
        );
        assert!(lines[6].starts_with("AU12  lip corner puller") && lines[6].contains("75%"));
        // The header's columns line up with the rows': "faces" ends where the count does.
        let end = |l: &str, w: &str| l.find(w).map(|i| i + w.len());
        assert_eq!(end(lines[4], "faces"), end(lines[5], "    7"));
    }
}
