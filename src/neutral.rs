//! `facs calibrate`: a person's neutral face measured from footage, by running the pipeline
//! and taking the median of each geometric feature.

use std::collections::HashMap;

use crate::calibrate::{CalibrationFile, CalibrationOptions};
use crate::error::{Error, Result};
use crate::frame::Features;
use crate::pipeline::{Control, Pipeline, PipelineSpec};
use crate::util::progress::{report, Progress, ProgressFn};

/// Measures a neutral baseline from footage of one person: runs the pipeline over `spec`'s
/// source (only the first `seconds` if given) and takes the per-feature median over the
/// frames of the face seen most often.
///
/// # Errors
/// The pipeline cannot run, or no face with landmarks was found.
pub fn measure_neutral(
    mut spec: PipelineSpec,
    seconds: Option<f64>,
    progress: Option<&ProgressFn>,
) -> Result<CalibrationFile> {
    // Landmarks on, no emotions, no calibration of its own.
    spec.classifier.landmarks = true;
    spec.classifier.emotion = None;
    spec.classifier.calibration = CalibrationOptions::default();
    let result = measure(spec, seconds, progress);
    report(progress, Progress::Done { task: "frames" });
    result
}

/// [`measure_neutral`]'s body; the caller clears the progress display.
fn measure(
    spec: PipelineSpec,
    seconds: Option<f64>,
    progress: Option<&ProgressFn>,
) -> Result<CalibrationFile> {
    let source_name = spec.source.describe();
    let control = Control::default();
    let pipeline = Pipeline::start(spec, control.clone())?;
    let mut per_face: HashMap<u32, Vec<Features>> = HashMap::new();
    let mut frames = 0u64;
    while let Some(a) = pipeline.recv() {
        if seconds.is_some_and(|s| a.frame.timestamp_s > s) {
            control.stop();
            continue;
        }
        frames += 1;
        report(
            progress,
            Progress::Step {
                task: "frames",
                done: frames,
                total: None,
                detail: "measuring the neutral face".into(),
            },
        );
        for f in &a.faces {
            if let Some(feat) = f.scores.features {
                per_face.entry(f.face.id).or_default().push(feat);
            }
        }
    }
    pipeline.finish()?;
    let (id, samples) = per_face
        .into_iter()
        .max_by_key(|(id, v)| (v.len(), std::cmp::Reverse(*id)))
        .ok_or_else(|| Error::Calibration {
            path: source_name.clone().into(),
            reason: "no face with landmarks was found in this footage".into(),
        })?;
    let neutral = Features::median(&samples).ok_or_else(|| Error::Calibration {
        path: source_name.clone().into(),
        reason: "no frames".into(),
    })?;
    Ok(CalibrationFile::new(
        &neutral,
        samples.len(),
        format!("{source_name}, face {id}"),
    ))
}
