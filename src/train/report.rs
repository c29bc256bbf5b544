//! What `facs eval`, `facs lr-find` and `facs cam` leave on disk: the evaluation report
//! (Markdown, JSON, PR curves, emotion confusion matrix, training curves), the learning-rate
//! range test's plot and figures, and the table of where the class activation maps peak.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::cam::{peak_regions, peak_share_near, AU_REGION, NEAR, REGIONS};
use super::faces::Prepared;
use super::metrics::{au_pr_curves, evaluate, EvalReport, EvalSample};
use super::plot::{confusion_matrix, line_plot, pr_curves, save_png, stack, with_caption};
use super::trainer::LrFind;
use crate::error::{Error, Result};
use crate::frame::{au_name, AU_NUMBERS, NUM_AUS};
use crate::model::au_net::AuNet;
use crate::model::au_net_file::ModelInfo;
use crate::util::json::write_serialized;

/// Scores `samples` at `thresholds` and writes `report.md`, `report.json`, `pr_curves.png`,
/// `emotion_confusion.png` (when the data has emotion labels) and `training.png` (the
/// model's training history) into `dir`.
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
    let f1: Vec<(f32, f32)> = info
        .history
        .iter()
        .filter_map(|h| h.val_macro_f1.map(|f| (h.epoch as f32, f as f32)))
        .collect();
    // Loss and F1 have their own axes: on one axis a loss of 3-4 flattens an F1 of 0.2.
    let loss_plot = line_plot(
        "TRAINING LOSS",
        "EPOCH",
        "LOSS",
        &[("TRAIN LOSS", 0x1f77b4u32, loss)],
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

/// Where each AU's class activation map peaks over the faces labelled with it: the share
/// nearest each facial feature, then the share within [`NEAR`] eye distances of the feature
/// where FACS places the AU. A text table for the terminal.
///
/// # Errors
/// A tensor operation failed.
pub fn peak_table(net: &AuNet, data: &Prepared) -> Result<String> {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "where each AU's map peaks, over the faces labelled with it:"
    );
    let _ = writeln!(
        out,
        "AU    faces  {}",
        REGIONS.map(|r| format!("{r:>6}")).join(" ")
    );
    for (k, au) in AU_NUMBERS.iter().enumerate() {
        let counts = peak_regions(net, data, k)?;
        let n: usize = counts.iter().sum();
        if n == 0 {
            continue;
        }
        let shares = counts.map(|c| format!("{:>5.0}%", 100.0 * c as f64 / n as f64));
        let _ = writeln!(out, "{}  {n:>5}  {}", au_name(*au), shares.join(" "));
    }
    let _ = writeln!(
        out,
        "map peaks on the feature where the AU acts (within {NEAR} eye distances):"
    );
    for (k, au) in AU_NUMBERS.iter().enumerate() {
        let region = AU_REGION[k];
        if let Some(share) = peak_share_near(net, data, k, region, NEAR)? {
            let _ = writeln!(
                out,
                "{}  {:>5.0}% at the {}",
                au_name(*au),
                100.0 * share,
                REGIONS[region]
            );
        }
    }
    Ok(out)
}
