//! One run from start to summary: checks its outputs, claims its logs, starts the
//! [`Pipeline`], and on this (the main) thread feeds each analysed frame to the sinks (log,
//! drawn frames as PNGs or a video ([`annotate`]), window), keeps the latency figures, handles keys, writes the sidecar and
//! returns the [`Summary`].
//!
//! Everything that can fail at the start fails before an existing log or sidecar is
//! changed: settings and output paths first ([`outputs`]), then the logs are claimed
//! (locked, unchanged), the pipeline, folder and window opened, and only then the sidecar
//! written and the logs emptied. The sidecar's `status` is `running` during the run, then
//! `complete`, `interrupted` (a signal stopped it) or `failed` (with the `error`).

mod annotate;
mod outputs;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::calibrate::default_calibration_dir;
use crate::calibrate::thresholds::{load_thresholds_for, ThresholdSource};
use crate::classify::{AuSource, ClassifierOptions, ModelUse, GEOMETRIC_PRESENT};
use crate::config::Mode;
use crate::error::{Error, Result};
use crate::frame::{Analysed, BaselineSource, NUM_AUS};
use crate::heatmap;
use crate::log::{sidecar_path, LogFiles, LogFormat, LogWriter};
use crate::overlay::{self, Canvas, Hud};
use crate::pipeline::{Control, Pipeline, PipelineSpec, SourceGap};
use crate::source::{ReadAs, SourceInfo};
use crate::telemetry::{FpsMeter, Latency, LatencySummary};
use crate::util::json::write_json_atomic;
use crate::util::png::save_rgb_png;
use crate::util::progress::{report, Progress, ProgressFn};
use crate::util::time::utc_rfc3339;
use crate::window::{Command, Window};

/// What to do with the results of a run.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    pub pipeline: PipelineSpec,
    pub log_csv: Option<PathBuf>,
    pub log_jsonl: Option<PathBuf>,
    /// The logs' columns.
    pub log_format: LogFormat,
    /// Draw the analysed frames here: a video (a name ending in .mp4, .mkv or .mov that is
    /// not a folder), else a folder of PNGs.
    pub annotate: Option<PathBuf>,
    /// Draw every Nth analysed frame only (1: all).
    pub annotate_every: u32,
    pub show_window: bool,
    /// Start with landmarks drawn (toggle with l).
    pub show_landmarks: bool,
    /// Start with this AU's class activation map drawn over the faces (index in
    /// `AU_NUMBERS` order; key m cycles). Needs a trained AU network.
    pub cam: Option<usize>,
    /// Replace logs (and drawn frames) that already exist; without it a run refuses them.
    pub overwrite: bool,
}

/// What happened in a run; printed at the end and stored in the log's sidecar.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub facs_version: &'static str,
    pub mode: &'static str,
    pub source: SourceInfo,
    pub models: Vec<ModelUse>,
    /// What filled the AU columns (None when nothing did).
    pub au_source: Option<AuSource>,
    /// Warnings about what the scores stand on: the models' fitness for this input (an AU
    /// network trained on synthetic faces only) and neutral faces that were not at rest (a
    /// calibration file's, or a face's own); unlike `warnings`, they say nothing about the
    /// input's integrity.
    pub model_warnings: Vec<String>,
    /// Neutral baselines of the geometric AU scores: the default, and each face's last one.
    /// None when no landmarks were computed.
    pub calibration: Option<CalibrationSummary>,
    pub frames_read: u64,
    pub frames_analysed: u64,
    pub frames_skipped: u64,
    pub skipped: Vec<String>,
    pub frames_dropped: u64,
    /// Problems worth a line, e.g. a video that ended before its announced length, or a
    /// camera that failed and came back (one line per gap).
    pub warnings: Vec<String>,
    /// Each stretch without frames where a live source (camera) failed and was reopened.
    pub gaps: Vec<SourceGap>,
    pub frames_with_faces: u64,
    pub faces_found: u64,
    /// Faces that reused their landmarks and emotions from an earlier frame because their
    /// pixels had not changed (live mode, `--still-reuse`).
    pub faces_reused: u64,
    pub distinct_face_ids: usize,
    pub wall_s: f64,
    pub fps: f64,
    pub latency_ms: LatencySummary,
    pub logs: Vec<PathBuf>,
    /// The logs' columns (`facs` or `openface`).
    pub log_format: LogFormat,
    pub annotate_dir: Option<PathBuf>,
    /// The video the drawn frames went to.
    pub annotate_video: Option<PathBuf>,
    /// Frames drawn to the folder or the video.
    pub frames_drawn: u64,
    /// False if the run was stopped early (q, window closed, Ctrl-C, --max-frames).
    pub completed: bool,
    /// True if a signal (Ctrl-C, SIGTERM) stopped the run ([`Control::with_interrupt`]).
    pub interrupted: bool,
}

impl Summary {
    /// A one-screen text summary.
    pub fn render(&self) -> String {
        let l = &self.latency_ms;
        let mut s = String::new();
        s.push_str(&format!(
            "facs {} - {} ({})\n",
            self.facs_version, self.source.name, self.source.kind
        ));
        s.push_str(&format!(
            "frames: {} analysed, {} skipped (unreadable), {} dropped (live)\n",
            self.frames_analysed, self.frames_skipped, self.frames_dropped
        ));
        let photos = self
            .source
            .stills
            .as_ref()
            .filter(|r| r.read_as == ReadAs::Photos);
        if let Some(r) = &self.source.stills {
            let why = match r.chosen {
                "auto" => format!("auto: {}", r.reason),
                _ => r.reason.clone(),
            };
            s.push_str(&format!("stills: read as {} ({why})\n", r.read_as.as_str()));
        }
        s.push_str(&format!(
            "faces:  {} found in {} frames, {} distinct ids{}\n",
            self.faces_found,
            self.frames_with_faces,
            self.distinct_face_ids,
            if photos.is_some() {
                " (ids start at 0 in each photo)"
            } else {
                ""
            }
        ));
        if self.faces_reused > 0 {
            s.push_str(&format!(
                "still:  {} of {} faces reused their networks' outputs from an earlier frame \
                 (unchanged but for a shift; --still-reuse)\n",
                self.faces_reused, self.faces_found
            ));
        }
        s.push_str(&format!(
            "speed:  {:.1} fps over {:.2} s\n",
            self.fps, self.wall_s
        ));
        s.push_str(&format!(
            "latency ms (mean / p50 / p99): capture {:.1}/{:.1}/{:.1}  detect {:.1}/{:.1}/{:.1}  \
             classify {:.1}/{:.1}/{:.1}  end-to-end {:.1}/{:.1}/{:.1}\n",
            l.capture.mean_ms,
            l.capture.p50_ms,
            l.capture.p99_ms,
            l.detect.mean_ms,
            l.detect.p50_ms,
            l.detect.p99_ms,
            l.classify.mean_ms,
            l.classify.p50_ms,
            l.classify.p99_ms,
            l.end_to_end.mean_ms,
            l.end_to_end.p50_ms,
            l.end_to_end.p99_ms,
        ));
        if self.models.is_empty() {
            s.push_str("models: none beyond the detector (score columns left empty)\n");
        } else {
            let names: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
            s.push_str(&format!("models: {}\n", names.join(", ")));
        }
        if let Some(a) = &self.au_source {
            s.push_str(&format!("AUs from: {}\n", a.label()));
        }
        for w in self.model_warnings.iter().chain(&self.warnings) {
            s.push_str(&format!("warning: {w}\n"));
        }
        for w in self.skipped.iter().take(5) {
            s.push_str(&format!("skipped {w}\n"));
        }
        if self.frames_skipped > 5 {
            s.push_str(&format!(
                "... and {} more skipped\n",
                self.frames_skipped - 5
            ));
        }
        for p in &self.logs {
            s.push_str(&format!("log:    {}\n", p.display()));
        }
        if let Some(p) = self.logs.first() {
            s.push_str(&format!("sidecar: {}\n", sidecar_path(p).display()));
        }
        if let Some(d) = &self.annotate_dir {
            s.push_str(&format!(
                "frames drawn to: {} ({} PNGs)\n",
                d.display(),
                self.frames_drawn
            ));
        }
        if let Some(v) = &self.annotate_video {
            s.push_str(&format!(
                "video drawn to: {} ({} frames)\n",
                v.display(),
                self.frames_drawn
            ));
        }
        if self.interrupted {
            s.push_str("interrupted: stopped before the end of the input\n");
        } else if !self.completed {
            s.push_str("stopped before the end of the input\n");
        }
        s
    }

    /// True if the input was damaged: frames skipped as unreadable, or a source that
    /// reported a problem (a video that ended before its announced length, a camera that
    /// failed mid-stream).
    pub fn input_damaged(&self) -> bool {
        self.frames_skipped > 0 || !self.warnings.is_empty()
    }
}

/// The baselines a run used.
#[derive(Clone, Debug, Serialize)]
pub struct CalibrationSummary {
    /// What faces without their own baseline were scored against.
    pub default: BaselineSource,
    /// face id -> the baseline its last frame used.
    pub faces: BTreeMap<u32, BaselineSource>,
    /// Geometric AU scores at or above this are logged as present (`AUxx_c` = 1).
    pub present_threshold: f32,
}

/// The sidecar's `status`.
#[derive(Clone, Copy)]
enum Status {
    Running,
    Complete,
    Interrupted,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Complete => "complete",
            Status::Interrupted => "interrupted",
            Status::Failed => "failed",
        }
    }
}

struct Sidecar {
    path: Option<PathBuf>,
    start: serde_json::Value,
    /// When the run started (UTC, RFC 3339).
    started_utc: String,
}

/// What made a log: the command line as typed, when the run started and ended (UTC), the
/// facs version and the git commit it was built from (absent outside a clone).
fn provenance(started_utc: &str, ended: bool) -> serde_json::Value {
    serde_json::json!({
        "command_line": std::env::args().collect::<Vec<_>>(),
        "started_utc": started_utc,
        "ended_utc": ended.then(|| utc_rfc3339(std::time::SystemTime::now())),
        "facs_version": env!("CARGO_PKG_VERSION"),
        "git_commit": option_env!("FACS_GIT_COMMIT"),
    })
}

impl Sidecar {
    fn write(
        &self,
        status: Status,
        summary: Option<&Summary>,
        error: Option<&Error>,
    ) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut v = self.start.clone();
        v["status"] = status.as_str().into();
        v["run"] = provenance(&self.started_utc, !matches!(status, Status::Running));
        // The run's warnings, the models' first: the input's join them at the end.
        if let Some(s) = summary {
            let all: Vec<&String> = s.model_warnings.iter().chain(&s.warnings).collect();
            v["warnings"] = serde_json::json!(all);
        }
        v["summary"] = serde_json::to_value(summary).unwrap_or(serde_json::Value::Null);
        if let Some(e) = error {
            v["error"] = e.to_string().into();
        }
        write_json_atomic(path, &v)
    }

    /// Records a run that failed after it started; `e` is what the caller reports, so a
    /// failure to write this record is not reported over it.
    fn fail(&self, e: &Error, summary: Option<&Summary>) {
        let _ = self.write(Status::Failed, summary, Some(e));
    }
}

/// For the overlay: the thresholds that decide each AU's presence (the bars' ticks and
/// colours), and the calibration behind the AU bars in words. A trained network's
/// thresholds are read as the classifier read them; if that fails here, the overlay goes
/// without ticks rather than the run stopping.
fn overlay_calibration(
    opts: &ClassifierOptions,
    au_source: Option<&AuSource>,
) -> (Option<[f32; NUM_AUS]>, Option<String>) {
    let Some(src) = au_source else {
        return (None, None);
    };
    if let (Some(dir), Some(sha)) = (&opts.au_model, &src.sha256) {
        return match load_thresholds_for(dir, &default_calibration_dir(), sha) {
            Ok((t, ThresholdSource::File(p))) => (
                Some(t),
                Some(format!("calibration: AU thresholds from {}", p.display())),
            ),
            Ok((t, ThresholdSource::Default)) => (
                Some(t),
                Some("calibration: none (threshold 0.5 for every AU)".into()),
            ),
            Err(_) => (None, None),
        };
    }
    let c = &opts.calibration;
    let file = c.file.as_ref().map(|f| {
        f.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    });
    let text = match (c.calibrate_secs, file) {
        (Some(secs), Some(f)) => {
            format!("calibration: per-person, first {secs:.1} s (before: {f})")
        }
        (Some(secs), None) => format!("calibration: per-person, first {secs:.1} s"),
        (None, Some(f)) => format!("calibration: neutral face from {f}"),
        (None, None) => "calibration: none (population neutral face)".into(),
    };
    (Some([GEOMETRIC_PRESENT; NUM_AUS]), Some(text))
}

fn save_png(dir: &Path, index: u64, canvas: &Canvas) -> Result<()> {
    let path = dir.join(outputs::frame_png_name(index));
    save_rgb_png(&path, canvas.width, canvas.height, &canvas.to_rgb())
}

/// Runs a whole session, reporting the frames analysed to `progress` about once a second.
///
/// # Errors
/// Invalid settings; an output path that is the input or another output
/// ([`Error::Output`]), a log that exists (without `overwrite`) or that another run is
/// writing; the pipeline cannot start (bad input, model); the window cannot open; a log
/// cannot be written; a stage failed; or nothing in the input could be read. All but the
/// last three leave existing logs and sidecars as they were.
pub fn run(
    opts: SessionOptions,
    control: Control,
    progress: Option<&ProgressFn>,
) -> Result<Summary> {
    let mode = opts.pipeline.config.mode;
    let started = Instant::now();
    opts.pipeline.config.validate()?;
    if opts.annotate_every == 0 {
        return Err(Error::config("annotate every", 0, "1 or more"));
    }
    let (annotate_dir, annotate_video) = match &opts.annotate {
        Some(p) if annotate::is_video_path(p) => (None, Some(p.clone())),
        other => (other.clone(), None),
    };
    outputs::check(
        &opts.pipeline.source,
        &outputs::Outputs {
            log_csv: opts.log_csv.as_deref(),
            log_jsonl: opts.log_jsonl.as_deref(),
            annotate_dir: annotate_dir.as_deref(),
            annotate_video: annotate_video.as_deref(),
            overwrite: opts.overwrite,
        },
    )?;
    if annotate_video.is_some() {
        annotate::check_encoder()?;
    }
    // Locked against other runs from here on, but unchanged until the start has succeeded;
    // dropped on a failed start, it removes only the files it created.
    let files = LogFiles::claim(
        opts.log_csv.as_deref(),
        opts.log_jsonl.as_deref(),
        opts.overwrite,
    )?;
    let pipeline = Pipeline::start(opts.pipeline.clone(), control.clone())?;
    if let Some(dir) = &annotate_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    if let Some(dir) = annotate_video.as_deref().and_then(Path::parent) {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
    }
    let mut video = annotate_video.as_deref().map(|path| {
        let timing = pipeline.source_info.timing.as_ref();
        let rate = annotate::video_rate(
            timing.and_then(|t| t.r_frame_rate.as_deref()),
            pipeline.source_info.fps,
            opts.annotate_every,
        );
        annotate::VideoWriter::new(path, rate, opts.overwrite)
    });
    let mut window = None;
    // The window's size, until the first frame shows whether it fits.
    let mut window_size = None;
    if opts.show_window {
        let (w, h) = Canvas::size_for(
            pipeline.source_info.width.unwrap_or(640),
            pipeline.source_info.height.unwrap_or(480),
        );
        window = Some(Window::open("facs", w, h)?);
        window_size = Some((w, h));
    }
    let au_source = pipeline.au_source.clone();
    let trained = au_source.as_ref().is_some_and(|s| s.kind == "trained");
    if opts.cam.is_some() && !trained {
        return Err(Error::config(
            "cam",
            "without a trained AU network",
            "an AU network trained by `facs train` (--au-model): the maps are its own",
        ));
    }
    let mut model_warnings: Vec<String> = au_source.iter().filter_map(AuSource::warning).collect();
    // What `facs calibrate` found wrong with the neutral face the scores stand on.
    let calibration_warnings = pipeline
        .default_baseline
        .as_ref()
        .map_or(&[][..], BaselineSource::warnings);
    model_warnings.extend(
        calibration_warnings
            .iter()
            .map(|w| format!("calibration: {w}")),
    );
    let calibration_not_at_rest = !calibration_warnings.is_empty();
    let sidecar = Sidecar {
        path: files.paths().first().map(|p| sidecar_path(p)),
        start: serde_json::json!({
            "facs_version": env!("CARGO_PKG_VERSION"),
            "source": pipeline.source_info,
            "models": pipeline.models,
            "au_source": au_source,
            "warnings": model_warnings,
            "calibration": pipeline.default_baseline,
            "detector": opts.pipeline.config.detect,
            "tracker": opts.pipeline.config.track,
            "still_faces": opts.pipeline.config.still,
            "format": opts.log_format,
            "columns": opts.log_format.columns(),
        }),
        started_utc: utc_rfc3339(std::time::SystemTime::now()),
    };
    sidecar.write(Status::Running, None, None)?;
    let mut log =
        LogWriter::start(files, opts.log_format).inspect_err(|e| sidecar.fail(e, None))?;

    let mut latency = Latency::default();
    let mut fps = FpsMeter::new(30);
    let mut canvas = Canvas::default();
    let mut ids = BTreeSet::new();
    let (mut analysed, mut with_faces, mut faces_found) = (0u64, 0u64, 0u64);
    let mut frames_drawn = 0u64;
    let drawing = annotate_dir.is_some() || video.is_some();
    // The first frame is reported at once (a short run still shows its bar), then once a
    // second.
    let mut last_progress: Option<Instant> = None;
    let frame_total = pipeline.source_info.frame_count;
    let mut result: Result<()> = Ok(());
    let mut show_landmarks = opts.show_landmarks;
    let mut cam = heatmap::CamView::new(opts.cam);

    let mut baselines: BTreeMap<u32, BaselineSource> = BTreeMap::new();
    let (au_thresholds, calibration) =
        overlay_calibration(&opts.pipeline.classifier, au_source.as_ref());
    let mut on_frame = |a: Analysed,
                        window: &mut Option<Window>,
                        show_landmarks: bool,
                        cam: Option<usize>|
     -> Result<()> {
        log.write_frame(&a)?;
        let now = Instant::now();
        latency.capture.push(a.times.capture_ms);
        latency.detect.push(a.times.detect_ms);
        latency.classify.push(a.times.classify_ms);
        latency
            .end_to_end
            .push(now.duration_since(a.frame.captured_at).as_secs_f32() * 1e3);
        fps.tick(now);
        analysed += 1;
        if !a.faces.is_empty() {
            with_faces += 1;
        }
        faces_found += a.faces.len() as u64;
        ids.extend(a.faces.iter().map(|f| f.face.id));
        for f in &a.faces {
            if let Some(b) = &f.scores.baseline {
                baselines.insert(f.face.id, b.clone());
            }
        }
        // Every Nth analysed frame is drawn to the folder or video, the 1st included.
        let draw_this = drawing && (analysed - 1) % opts.annotate_every as u64 == 0;
        if window.is_some() || draw_this {
            let hud = Hud {
                fps: fps.fps(),
                capture_ms: latency.capture.recent_mean(30),
                detect_ms: latency.detect.recent_mean(30),
                classify_ms: latency.classify.recent_mean(30),
                end_to_end_ms: latency.end_to_end.recent_mean(30),
                dropped: pipeline.counters.dropped(),
                paused: control.paused(),
                show_landmarks,
                au_source: au_source.as_ref().map(AuSource::overlay_text),
                au_thresholds,
                calibration: calibration.clone(),
                warning: au_source
                    .as_ref()
                    .and_then(|s| {
                        s.synthetic_only
                            .then(|| "AU MODEL TRAINED ON SYNTHETIC FACES ONLY".to_string())
                    })
                    .or_else(|| {
                        calibration_not_at_rest
                            .then(|| "CALIBRATION FACE NOT AT REST: SEE THE LOG'S WARNINGS".into())
                    }),
            };
            overlay::draw(&a, &hud, &mut canvas);
            match cam {
                Some(au) if trained => _ = heatmap::draw(&a, au, &mut canvas),
                Some(_) => heatmap::draw_note(&mut canvas, a.frame.width, heatmap::NEEDS_TRAINED),
                None => {}
            }
            if draw_this {
                if let Some(dir) = &annotate_dir {
                    save_png(dir, a.frame.index, &canvas)?;
                }
                if let Some(v) = video.as_mut() {
                    v.push(canvas.to_rgb(), canvas.width, canvas.height)?;
                }
                frames_drawn += 1;
            }
            if let Some(w) = window.as_mut() {
                // A source that did not know its frame size at the start (the demo
                // clip) gets a window of the drawn frame's size once, so the overlay
                // is shown pixel for pixel, not stretched.
                let size = (canvas.width, canvas.height);
                if window_size.take().is_some_and(|s| s != size) {
                    *w = Window::open("facs", size.0, size.1)?;
                }
                w.show(&canvas)?;
            }
        }
        if progress.is_some() && last_progress.is_none_or(|t| t.elapsed() > Duration::from_secs(1))
        {
            last_progress = Some(Instant::now());
            report(
                progress,
                Progress::Step {
                    task: "frames",
                    done: a.frame.index + 1,
                    total: frame_total,
                    detail: format!("{:.1} fps, {} faces", fps.fps(), a.faces.len()),
                },
            );
        }
        Ok(())
    };

    loop {
        if let Some(w) = window.as_mut() {
            if !w.is_open() {
                control.stop();
            }
            for c in w.commands() {
                match c {
                    Command::Quit => control.stop(),
                    Command::Pause => {
                        control.toggle_pause();
                    }
                    Command::Landmarks => show_landmarks = !show_landmarks,
                    Command::Calibrate => control.request_calibration(),
                    Command::Cam => cam.cycle(),
                }
            }
        }
        match pipeline.recv_timeout(Duration::from_millis(30)) {
            None => break,
            Some(None) => {
                if let Some(w) = window.as_mut() {
                    w.poll();
                }
            }
            Some(Some(a)) => {
                if let Err(e) = on_frame(a, &mut window, show_landmarks, cam.selected()) {
                    control.stop();
                    result = Err(e);
                    break;
                }
            }
        }
    }
    report(progress, Progress::Done { task: "frames" });
    let counters = pipeline.counters.clone();
    let gaps = pipeline.gaps.clone();
    let source = pipeline.source_info.clone();
    let models = pipeline.models.clone();
    let default_baseline = pipeline.default_baseline.clone();
    let finish = pipeline.finish();
    // The video is finished even after a failure, so that the frames drawn so far play.
    let video_path = video.as_ref().map(|v| v.path().to_path_buf());
    let video_end = video.take().map_or(Ok(0), annotate::VideoWriter::finish);
    if let Err(e) = result.and(finish).and(video_end.map(|_| ())) {
        sidecar.fail(&e, None);
        return Err(e);
    }
    // Read after the stages have joined: the capture stage records whether it saw the end.
    let stopped_early = counters.stopped_early.load(Ordering::SeqCst);

    let wall_s = started.elapsed().as_secs_f64();
    let skipped = counters
        .skipped
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    // A face's own neutral (its first seconds, or the `c` key) that was not at rest.
    let mut model_warnings = model_warnings.clone();
    for (id, b) in &baselines {
        if let BaselineSource::Person { how, .. } = b {
            model_warnings.extend(
                b.warnings()
                    .iter()
                    .map(|w| format!("face {id}'s own neutral ({how}): {w}")),
            );
        }
    }
    let summary = Summary {
        facs_version: env!("CARGO_PKG_VERSION"),
        mode: if mode == Mode::Live {
            "live"
        } else {
            "offline"
        },
        source,
        models,
        au_source: au_source.clone(),
        model_warnings,
        calibration: default_baseline.map(|default| CalibrationSummary {
            default,
            faces: baselines,
            present_threshold: crate::classify::GEOMETRIC_PRESENT,
        }),
        frames_read: counters.frames_read.load(Ordering::Relaxed),
        frames_analysed: analysed,
        frames_skipped: counters.frames_skipped.load(Ordering::Relaxed),
        skipped,
        frames_dropped: counters.dropped(),
        warnings: counters
            .warnings
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default(),
        gaps: gaps.lock().map(|g| g.clone()).unwrap_or_default(),
        frames_with_faces: with_faces,
        faces_found,
        faces_reused: counters.faces_reused.load(Ordering::Relaxed),
        distinct_face_ids: ids.len(),
        wall_s,
        fps: if wall_s > 0.0 {
            analysed as f64 / wall_s
        } else {
            0.0
        },
        latency_ms: latency.summary(),
        logs: log.paths(),
        log_format: opts.log_format,
        annotate_dir,
        annotate_video: video_path,
        frames_drawn,
        completed: !stopped_early,
        // A signal that came after the input had ended stopped nothing.
        interrupted: stopped_early && control.interrupted(),
    };
    if summary.completed && !summary.interrupted && summary.frames_analysed == 0 {
        let e = nothing_readable(&summary);
        sidecar.fail(&e, Some(&summary));
        return Err(e);
    }
    let status = if summary.interrupted {
        Status::Interrupted
    } else {
        Status::Complete
    };
    sidecar.write(status, Some(&summary), None)?;
    Ok(summary)
}

/// The error of a run that reached the end of its input without one readable frame.
fn nothing_readable(summary: &Summary) -> Error {
    let mut reason = match summary.frames_skipped {
        0 => "no frame could be read".to_string(),
        1 => "nothing readable: its one frame was skipped as unreadable".to_string(),
        n => format!("nothing readable: all {n} frames were skipped as unreadable"),
    };
    if let Some(first) = summary.skipped.first() {
        reason.push_str(&format!(" (the first: {first})"));
    }
    for w in &summary.warnings {
        reason.push_str(&format!("; {w}"));
    }
    Error::Source {
        source_name: summary.source.name.clone(),
        reason,
    }
}
