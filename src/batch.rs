//! `facs batch`: a study's recordings in one command. Each video file of a folder, each
//! subfolder of images, and the images lying in the folder itself (as one recording) get
//! their own log and sidecar in the output folder; a recording whose sidecar already says
//! `complete` is skipped, so a stopped batch is finished by running it again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::log::sidecar_path;
use crate::pipeline::{Control, PipelineSpec};
use crate::session::{self, SessionOptions, Summary};
use crate::source::{is_image, SourceSpec, Stills};
use crate::util::progress::ProgressFn;

/// File extensions taken as videos (any case).
const VIDEO_EXTENSIONS: [&str; 11] = [
    "mp4", "mov", "m4v", "avi", "mkv", "webm", "mpg", "mpeg", "wmv", "flv", "mts",
];

/// One recording of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// Its logs are `<name>.csv` (and `.jsonl`) with `<name>.meta.json` in the output folder.
    pub name: String,
    pub source: SourceSpec,
}

fn is_video(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn has_images(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(|e| e.ok())
            .any(|e| e.path().is_file() && is_image(&e.path()))
    })
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The recordings in `dir`, sorted by name: video files, subfolders that hold images (at
/// `fps`), and the images in `dir` itself as one recording named after `dir` (image
/// folders read as a sequence or as photos by `facs run`'s automatic rule). Names are
/// file stems; when two recordings share a stem (`a.mp4`, `a.mov`) they keep their whole
/// file name. Other files are left alone.
///
/// # Errors
/// `dir` cannot be read, or holds no recording.
pub fn find_recordings(dir: &Path, fps: f64) -> Result<Vec<Recording>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut found: Vec<(String, String, SourceSpec)> = Vec::new();
    for p in &paths {
        if p.is_dir() && has_images(p) {
            let name = file_name(p);
            found.push((
                name.clone(),
                name,
                SourceSpec::Images {
                    dir: p.clone(),
                    fps,
                    stills: Stills::Auto,
                },
            ));
        } else if p.is_file() && is_video(p) {
            let stem = p
                .file_stem()
                .map_or_else(|| file_name(p), |s| s.to_string_lossy().into_owned());
            found.push((stem, file_name(p), SourceSpec::Video(p.clone())));
        }
    }
    if paths.iter().any(|p| p.is_file() && is_image(p)) {
        let name = file_name(dir);
        found.push((
            name.clone(),
            name,
            SourceSpec::Images {
                dir: dir.to_path_buf(),
                fps,
                stills: Stills::Auto,
            },
        ));
    }
    if found.is_empty() {
        return Err(Error::Source {
            source_name: dir.display().to_string(),
            reason: format!(
                "no recording: no video file ({}) and no folder of images",
                VIDEO_EXTENSIONS.join(", ")
            ),
        });
    }
    let shared = |stem: &str| found.iter().filter(|f| f.0 == stem).count() > 1;
    let mut recordings: Vec<Recording> = found
        .iter()
        .map(|(stem, whole, source)| Recording {
            name: if shared(stem) {
                whole.clone()
            } else {
                stem.clone()
            },
            source: source.clone(),
        })
        .collect();
    recordings.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(recordings)
}

/// What a batch does with each recording.
#[derive(Clone, Debug)]
pub struct BatchOptions {
    pub out_dir: PathBuf,
    /// Settings and models for every recording; its source is replaced by each recording's.
    pub template: PipelineSpec,
    /// Also write `<name>.jsonl`.
    pub jsonl: bool,
    /// The logs' columns.
    pub log_format: crate::log::LogFormat,
    /// Run recordings again even when their sidecar says complete.
    pub redo: bool,
}

/// How one recording ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Its sidecar already said complete: not run again.
    AlreadyComplete,
    Complete,
    /// Complete, but frames were unreadable or missing (see its sidecar).
    Damaged,
    Failed,
    Interrupted,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::AlreadyComplete => "already complete",
            Status::Complete => "complete",
            Status::Damaged => "complete, input damaged",
            Status::Failed => "FAILED",
            Status::Interrupted => "interrupted",
        }
    }
}

/// One row of the batch's summary.
#[derive(Clone, Debug, Serialize)]
pub struct RecordingResult {
    pub name: String,
    pub log: PathBuf,
    pub status: Status,
    /// Why it failed.
    pub error: Option<String>,
    pub frames_read: Option<u64>,
    pub frames_with_faces: Option<u64>,
    pub fps: Option<f64>,
    pub wall_s: Option<f64>,
}

/// True when `log`'s sidecar records a complete run.
pub fn already_complete(log: &Path) -> bool {
    std::fs::read_to_string(sidecar_path(log))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["status"] == "complete")
}

/// True when `log`'s sidecar records a complete run in `format`'s columns (a sidecar that
/// names no format is from a run in facs's own columns): a rerun in another format redoes it.
fn complete_in(log: &Path, format: crate::log::LogFormat) -> bool {
    already_complete(log)
        && std::fs::read_to_string(sidecar_path(log))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v["format"].as_str().unwrap_or("facs") == format.as_str())
}

fn from_summary(rec: &Recording, log: PathBuf, s: &Summary) -> RecordingResult {
    let status = if s.interrupted {
        Status::Interrupted
    } else if s.input_damaged() {
        Status::Damaged
    } else {
        Status::Complete
    };
    RecordingResult {
        name: rec.name.clone(),
        log,
        status,
        error: None,
        frames_read: Some(s.frames_read),
        frames_with_faces: Some(s.frames_with_faces),
        fps: Some(s.fps),
        wall_s: Some(s.wall_s),
    }
}

/// Runs `recordings` one after the other, calling `done` after each; stops after the
/// recording `interrupt` stopped. A failed recording does not stop the batch.
///
/// # Errors
/// The output folder cannot be created.
pub fn run(
    recordings: &[Recording],
    opts: &BatchOptions,
    interrupt: &Arc<AtomicBool>,
    progress: Option<&ProgressFn>,
    done: &mut dyn FnMut(&RecordingResult),
) -> Result<Vec<RecordingResult>> {
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::io(&opts.out_dir, e))?;
    let mut results = Vec::with_capacity(recordings.len());
    for rec in recordings {
        if interrupt.load(Ordering::SeqCst) {
            break;
        }
        let log = opts.out_dir.join(format!("{}.csv", rec.name));
        let result = if !opts.redo && complete_in(&log, opts.log_format) {
            RecordingResult {
                name: rec.name.clone(),
                log,
                status: Status::AlreadyComplete,
                error: None,
                frames_read: None,
                frames_with_faces: None,
                fps: None,
                wall_s: None,
            }
        } else {
            let session = SessionOptions {
                pipeline: PipelineSpec {
                    source: rec.source.clone(),
                    ..opts.template.clone()
                },
                log_csv: Some(log.clone()),
                log_jsonl: opts
                    .jsonl
                    .then(|| opts.out_dir.join(format!("{}.jsonl", rec.name))),
                log_format: opts.log_format,
                annotate: None,
                annotate_every: 1,
                show_window: false,
                show_landmarks: false,
                cam: None,
                // A log without a complete sidecar is a run that did not finish: redone.
                overwrite: true,
            };
            match session::run(
                session,
                Control::with_interrupt(interrupt.clone()),
                progress,
            ) {
                Ok(summary) => from_summary(rec, log, &summary),
                Err(e) => RecordingResult {
                    name: rec.name.clone(),
                    log,
                    status: if interrupt.load(Ordering::SeqCst) {
                        Status::Interrupted
                    } else {
                        Status::Failed
                    },
                    error: Some(e.to_string()),
                    frames_read: None,
                    frames_with_faces: None,
                    fps: None,
                    wall_s: None,
                },
            }
        };
        done(&result);
        let stop = result.status == Status::Interrupted;
        results.push(result);
        if stop {
            break;
        }
    }
    Ok(results)
}

/// The summary table (Markdown, so it pastes into lab notes).
pub fn render_table(results: &[RecordingResult]) -> String {
    let mut s = String::from(
        "| recording | status | frames | with a face | fps | time (s) | log |\n\
         |---|---|---:|---:|---:|---:|---|\n",
    );
    let num = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let real = |v: Option<f64>, d: usize| v.map_or_else(|| "-".to_string(), |v| format!("{v:.d$}"));
    for r in results {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.status.as_str(),
            num(r.frames_read),
            num(r.frames_with_faces),
            real(r.fps, 1),
            real(r.wall_s, 1),
            r.log.display()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn recordings_are_videos_image_folders_and_loose_images() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("study");
        touch(&d.join("p02.mp4"));
        touch(&d.join("p01.MOV"));
        touch(&d.join("p03/000001.jpg"));
        touch(&d.join("notes.txt"));
        touch(&d.join("empty/readme.md"));
        touch(&d.join("a.mp4"));
        touch(&d.join("a.mkv"));
        touch(&d.join("cover.png"));
        let r = find_recordings(&d, 25.0).unwrap();
        let names: Vec<&str> = r.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a.mkv", "a.mp4", "p01", "p02", "p03", "study"]);
        assert_eq!(r[2].source, SourceSpec::Video(d.join("p01.MOV")));
        assert_eq!(
            r[4].source,
            SourceSpec::Images {
                dir: d.join("p03"),
                fps: 25.0,
                stills: Stills::Auto,
            }
        );
        assert_eq!(
            r[5].source,
            SourceSpec::Images {
                dir: d.clone(),
                fps: 25.0,
                stills: Stills::Auto,
            }
        );
    }

    #[test]
    fn a_folder_without_recordings_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        touch(&tmp.path().join("notes.txt"));
        let e = find_recordings(tmp.path(), 30.0).unwrap_err().to_string();
        assert!(e.contains("no recording"), "{e}");
        assert!(e.contains(&tmp.path().display().to_string()), "{e}");
    }

    #[test]
    fn only_a_complete_sidecar_counts_as_done() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("p01.csv");
        assert!(!already_complete(&log));
        for (status, done) in [
            ("running", false),
            ("interrupted", false),
            ("complete", true),
        ] {
            std::fs::write(sidecar_path(&log), format!("{{\"status\":\"{status}\"}}")).unwrap();
            assert_eq!(already_complete(&log), done, "{status}");
        }
        std::fs::write(sidecar_path(&log), "{not json").unwrap();
        assert!(!already_complete(&log));
    }
}
