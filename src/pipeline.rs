//! The stage threads and the channels between them:
//! capture -> detect/track -> classify -> (results to the caller's sink).
//! Each stage is a named thread; channels are bounded. Live mode drops the oldest frame when a
//! stage is behind (and counts it); offline mode blocks, so every frame reaches the sink.
//! Shutdown: the source ends (or the stop flag is set), each stage drains its input and
//! returns, dropping its sender, and the next stage follows.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::classify::{AuSource, Classifier, ClassifierOptions, ModelUse};
use crate::config::{DetectConfig, Mode, PipelineConfig};
use crate::detect::Detector;
use crate::error::{Error, Result};
use crate::frame::{Analysed, BaselineSource, Detected, FaceBox, FaceResult, Frame, StageTimes};
use crate::source::{FrameSource, Next, ReadAs, Reconnect, SourceInfo, SourceSpec};
use crate::telemetry::Counters;
use crate::track::{LandmarkHints, Tracker};
use crate::util::worker::{panic_message, Worker};

/// Everything needed to start a pipeline.
#[derive(Clone, Debug)]
pub struct PipelineSpec {
    pub config: PipelineConfig,
    pub source: SourceSpec,
    pub models_dir: PathBuf,
    pub classifier: ClassifierOptions,
    /// Pace a recorded source at its own frame rate (a stand-in for a camera).
    pub realtime: bool,
}

/// Flags the sink and signal handlers use to steer a running pipeline.
#[derive(Clone, Debug, Default)]
pub struct Control {
    stop: Arc<AtomicBool>,
    /// Set from outside the run (a signal): stops it, and the run is recorded as interrupted.
    interrupt: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    calibrate: Arc<AtomicBool>,
}

impl Control {
    /// Shares an existing stop flag.
    pub fn with_stop(stop: Arc<AtomicBool>) -> Self {
        Control {
            stop,
            ..Default::default()
        }
    }
    /// Shares a flag that a signal handler sets: it stops the run as [`Control::stop`] does,
    /// and the run's sidecar and summary say it was interrupted.
    pub fn with_interrupt(interrupt: Arc<AtomicBool>) -> Self {
        Control {
            interrupt,
            ..Default::default()
        }
    }
    /// Asks the pipeline to end; stages finish what they hold and return.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
    /// True once the run was asked to end, by [`Control::stop`] or an interrupt.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.interrupted()
    }
    /// True if the interrupt flag (a signal) was set.
    pub fn interrupted(&self) -> bool {
        self.interrupt.load(Ordering::SeqCst)
    }
    pub fn toggle_pause(&self) -> bool {
        !self.paused.fetch_xor(true, Ordering::SeqCst)
    }
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }
    /// Asks the classifier to take the faces' recent frames as their neutral baseline.
    pub fn request_calibration(&self) {
        self.calibrate.store(true, Ordering::SeqCst);
    }
    fn take_calibration_request(&self) -> bool {
        self.calibrate.swap(false, Ordering::SeqCst)
    }
}

/// A bounded channel end that drops the oldest message when full (live) or blocks (offline).
struct Link<T> {
    tx: Sender<T>,
    /// Present in live mode: the producer's handle on the queue, to pop the oldest.
    drain: Option<Receiver<T>>,
    counters: Arc<Counters>,
}

impl<T> Link<T> {
    fn new(mode: Mode, capacity: usize, counters: &Arc<Counters>) -> (Self, Receiver<T>) {
        let (tx, rx) = bounded(capacity);
        let drain = (mode == Mode::Live).then(|| rx.clone());
        (
            Link {
                tx,
                drain,
                counters: counters.clone(),
            },
            rx,
        )
    }

    /// Sends `msg`; false when the receiving stage has gone.
    fn send(&self, msg: T) -> bool {
        let Some(drain) = &self.drain else {
            return self.tx.send(msg).is_ok();
        };
        let mut msg = msg;
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => return true,
                Err(TrySendError::Full(m)) => {
                    if drain.try_recv().is_ok() {
                        self.counters.add_dropped(1);
                    }
                    msg = m;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
    }
}

/// A frame and the time its source took to produce it.
struct Captured {
    frame: Frame,
    capture_ms: f32,
    /// Offline: the frame's whole-frame search, when it is due one and the "detect-ahead"
    /// thread has already run it.
    whole: Option<Vec<FaceBox>>,
}

/// A running pipeline. Read results with [`Pipeline::recv`]; [`Pipeline::finish`] joins the
/// threads and reports the first stage error. Dropping it stops and joins too.
pub struct Pipeline {
    results: Receiver<Analysed>,
    handles: Vec<(&'static str, JoinHandle<Result<()>>)>,
    pub control: Control,
    pub counters: Arc<Counters>,
    pub source_info: SourceInfo,
    /// Where a live source failed and was reopened, filled by the capture stage.
    pub gaps: Arc<Mutex<Vec<SourceGap>>>,
    pub models: Vec<ModelUse>,
    /// The geometric AUs' default baseline (None without landmarks).
    pub default_baseline: Option<BaselineSource>,
    /// What fills the AU columns (None when nothing does).
    pub au_source: Option<AuSource>,
}

fn spawn_stage<F>(
    name: &'static str,
    control: &Control,
    f: F,
) -> Result<(&'static str, JoinHandle<Result<()>>)>
where
    F: FnOnce() -> Result<()> + Send + 'static,
{
    let control = control.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let r = f();
            if r.is_err() {
                // Upstream stages must not keep producing for a stage that is gone.
                control.stop();
            }
            r
        })
        .map(|h| (name, h))
        .map_err(|e| Error::Stage(name, e.to_string()))
}

impl Pipeline {
    /// Starts the stages and waits until each has opened what it needs (source, detector,
    /// models), so a bad input or model fails here, before any frame is processed.
    ///
    /// # Errors
    /// Invalid configuration, a source that cannot open, a missing or altered model.
    pub fn start(spec: PipelineSpec, control: Control) -> Result<Self> {
        spec.config.validate()?;
        let cfg = spec.config.clone();
        let counters = Arc::new(Counters::default());
        let (to_detect, detect_rx) = Link::<Captured>::new(cfg.mode, cfg.queue_len, &counters);
        let (to_classify, classify_rx) = Link::<Detected>::new(cfg.mode, cfg.queue_len, &counters);
        let (to_sink, results) = Link::<Analysed>::new(cfg.mode, cfg.queue_len, &counters);
        let (ready_tx, ready_rx) = bounded::<Result<()>>(3);
        let (info_tx, info_rx) = bounded::<SourceInfo>(1);
        type Loaded = (Vec<ModelUse>, Option<BaselineSource>, Option<AuSource>);
        let (models_tx, models_rx) = bounded::<Loaded>(1);

        let hints = Arc::new(LandmarkHints::default());
        let gaps = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        {
            let (control, counters, ready) = (control.clone(), counters.clone(), ready_tx.clone());
            let (source, realtime, max_frames) =
                (spec.source.clone(), spec.realtime, cfg.max_frames);
            let gaps = gaps.clone();
            handles.push(spawn_stage("capture", &control.clone(), move || {
                capture_stage(
                    source, realtime, max_frames, to_detect, control, counters, gaps, ready,
                    info_tx,
                )
            })?);
        }
        // Offline, the whole-frame searches fall on frames known in advance: a thread runs
        // them ahead of the detect stage.
        let ahead = cfg.mode == Mode::Offline
            && cfg.detect.full_every > 1
            && cfg.detect.large_face_search().is_some();
        let detect_rx = if ahead {
            let (to_detect, ahead_rx) = Link::<Captured>::new(cfg.mode, cfg.queue_len, &counters);
            let (models_dir, dcfg) = (spec.models_dir.clone(), cfg.detect.clone());
            handles.push(spawn_stage("detect-ahead", &control, move || {
                let detector = Detector::new(&models_dir, &dcfg)?;
                detect_ahead_stage(detector, dcfg.full_every, detect_rx, to_detect)
            })?);
            ahead_rx
        } else {
            detect_rx
        };
        {
            let (models_dir, ready) = (spec.models_dir.clone(), ready_tx.clone());
            let (dcfg, tcfg) = (cfg.detect.clone(), cfg.track.clone());
            let detect_hints = hints.clone();
            let live = cfg.mode == Mode::Live;
            // Boxes are predicted from landmarks only when the landmark network runs.
            let use_hints = spec.classifier.landmarks;
            handles.push(spawn_stage("detect", &control, move || {
                let detector = match Detector::new(&models_dir, &dcfg) {
                    Ok(d) => {
                        let _ = ready.send(Ok(()));
                        d
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return Ok(());
                    }
                };
                drop(ready);
                // Live mode searches whole frames on a worker thread and follows faces by
                // their landmarks in between; offline mode (every frame analysed the same
                // way, reproducibly) searches in line and never waits for landmarks.
                let searches = if live && dcfg.full_every > 1 {
                    Searches::Live {
                        full_every: dcfg.full_every,
                        worker: spawn_full_search(models_dir.clone(), dcfg.clone())?,
                        hints: detect_hints,
                        use_hints,
                    }
                } else {
                    Searches::Offline {
                        full_every: dcfg.full_every,
                        large_face_px: dcfg.large_face_search(),
                    }
                };
                detect_stage(
                    detector,
                    Tracker::new(tcfg),
                    searches,
                    detect_rx,
                    to_classify,
                )
            })?);
        }
        {
            let (models_dir, mut opts, ready) =
                (spec.models_dir.clone(), spec.classifier.clone(), ready_tx);
            // Live mode does not wait for a tracked face's landmarks to align its AU crop.
            opts.carry_alignment = cfg.mode == Mode::Live;
            opts.still = cfg.still;
            let stage_control = control.clone();
            let classify_counters = counters.clone();
            handles.push(spawn_stage("classify", &control, move || {
                let classifier = match Classifier::load(&models_dir, &opts) {
                    Ok(c) => {
                        let _ = models_tx.send((
                            c.models().to_vec(),
                            c.default_baseline().cloned(),
                            c.au_source(),
                        ));
                        let _ = ready.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return Ok(());
                    }
                };
                drop(ready);
                classify_stage(
                    classifier,
                    classify_rx,
                    to_sink,
                    stage_control,
                    hints,
                    &classify_counters,
                )
            })?);
        }

        let mut pipeline = Pipeline {
            results,
            handles,
            control,
            counters,
            source_info: SourceInfo {
                kind: "unknown",
                name: spec.source.describe(),
                width: None,
                height: None,
                fps: None,
                frame_count: None,
                timing: None,
                stills: None,
            },
            gaps,
            models: Vec::new(),
            default_baseline: None,
            au_source: None,
        };
        for _ in 0..3 {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    pipeline.control.stop();
                    let _ = pipeline.join_all();
                    return Err(e);
                }
                Err(_) => {
                    pipeline.control.stop();
                    pipeline.join_all()?;
                    return Err(Error::Stage(
                        "start",
                        "a stage ended before it was ready".into(),
                    ));
                }
            }
        }
        if let Ok(info) = info_rx.recv() {
            pipeline.source_info = info;
        }
        if let (Some(secs), Some(stills)) = (
            spec.classifier.calibration.calibrate_secs,
            pipeline.source_info.stills.clone(),
        ) {
            if stills.read_as == ReadAs::Photos {
                pipeline.control.stop();
                let _ = pipeline.join_all();
                return Err(Error::Source {
                    source_name: pipeline.source_info.name.clone(),
                    reason: format!(
                        "read as a set of photos ({}): a face's first {secs} s (--calibrate-secs) \
                         exist only in a frame sequence; give a baseline file instead, or \
                         read the folder as a sequence (--stills sequence)",
                        stills.reason
                    ),
                });
            }
        }
        if let Ok((models, baseline, au_source)) = models_rx.recv() {
            pipeline.models = models;
            pipeline.default_baseline = baseline;
            pipeline.au_source = au_source;
        }
        Ok(pipeline)
    }

    /// The next analysed frame, or None when the pipeline has ended. Wakes up at least every
    /// `timeout` so a window can stay responsive while a stage is busy.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Option<Analysed>> {
        match self.results.recv_timeout(timeout) {
            Ok(a) => Some(Some(a)),
            Err(RecvTimeoutError::Timeout) => Some(None),
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Blocks for the next analysed frame; None at the end.
    pub fn recv(&self) -> Option<Analysed> {
        self.results.recv().ok()
    }

    fn join_all(&mut self) -> Result<()> {
        let mut first = Ok(());
        for (name, h) in self.handles.drain(..) {
            let r = h
                .join()
                .unwrap_or_else(|panic| Err(Error::Stage(name, panic_message(&*panic))));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Stops the stages (if still running), waits for every thread, and returns the first
    /// stage error.
    ///
    /// # Errors
    /// The first error a stage returned.
    pub fn finish(mut self) -> Result<()> {
        self.control.stop();
        // Unblock stages waiting to hand results to us.
        while self.results.try_recv().is_ok() {}
        let (_, empty) = bounded(0);
        self.results = empty;
        self.join_all()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if !self.handles.is_empty() {
            self.control.stop();
            let (_, empty) = bounded(0);
            self.results = empty;
            let _ = self.join_all();
        }
    }
}

/// A stretch of a live run without frames: the source (a camera) failed mid-stream and
/// the capture stage reopened it. Times are the log's timestamps (seconds from the start of
/// the run, on one clock across reopenings).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SourceGap {
    /// The log's `frame` number of the last frame before the gap (0: none yet). Frame
    /// numbers go on from it after the gap: they count frames delivered.
    pub after_frame: u64,
    /// Timestamp of the last frame before the gap (the time of the failure if none).
    pub start_s: f64,
    /// Timestamp of the first frame after the gap; None when the run ended first.
    pub end_s: Option<f64>,
    /// `end_s - start_s`.
    pub duration_s: Option<f64>,
    /// Frames the source would have delivered in the gap at its nominal rate:
    /// round(`duration_s` x rate) - 1. An estimate: a camera does not say what it missed.
    pub frames_lost: Option<u64>,
    /// Attempts to reopen the source that failed before it came back.
    pub failed_reopens: u32,
    /// Why the source stopped.
    pub error: String,
}

impl SourceGap {
    /// One line for the summary's warnings.
    fn describe(&self, source: &str) -> String {
        let mut s = format!(
            "{source} failed after frame {} ({:.3} s): {}; ",
            self.after_frame, self.start_s, self.error
        );
        match (self.end_s, self.duration_s, self.frames_lost) {
            (Some(end), Some(d), Some(lost)) => s.push_str(&format!(
                "back at {end:.3} s after {} failed reopening attempts: {d:.3} s without \
                 frames, about {lost} frames lost",
                self.failed_reopens
            )),
            _ => s.push_str(&format!(
                "not back when the run ended ({} failed reopening attempts)",
                self.failed_reopens
            )),
        }
        s
    }
}

/// Sleeps `wait` in short slices; false if the run was stopped meanwhile.
fn wait_unless_stopped(wait: Duration, control: &Control) -> bool {
    let until = Instant::now() + wait;
    while !control.stopped() {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(20)));
    }
    false
}

/// Reopens a live source that failed, waiting `wait` before each attempt and twice as
/// long after each failure (up to the policy's cap), until it opens or the run is stopped.
/// `wait` is left where it got to, for a stream that fails again before its first frame.
/// Returns the source and the number of failed attempts, or None (with that number) if
/// the run was stopped first.
fn reopen(
    spec: &SourceSpec,
    policy: Reconnect,
    wait: &mut Duration,
    control: &Control,
) -> (Option<Box<dyn FrameSource>>, u32) {
    let mut failed = 0u32;
    loop {
        if !wait_unless_stopped(*wait, control) {
            return (None, failed);
        }
        let opened = spec.open();
        *wait = (*wait * 2).min(policy.max_wait);
        match opened {
            Ok(s) => return (Some(s), failed),
            Err(_) => failed = failed.saturating_add(1),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn capture_stage(
    spec: SourceSpec,
    realtime: bool,
    max_frames: Option<u64>,
    out: Link<Captured>,
    control: Control,
    counters: Arc<Counters>,
    gaps: Arc<Mutex<Vec<SourceGap>>>,
    ready: Sender<Result<()>>,
    info_tx: Sender<SourceInfo>,
) -> Result<()> {
    let mut source = match spec.open() {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(());
        }
    };
    let info = source.info();
    let _ = info_tx.send(info.clone());
    let _ = ready.send(Ok(()));
    drop(ready);
    let fps = info.fps;
    let reconnect = spec.reconnect();
    let start = Instant::now();
    let mut sent = 0u64;
    let mut ended = false;
    // A reopened live source counts its frames and its clock from 0 again: these put its
    // frames on the run's numbering and clock.
    let (mut index_offset, mut time_offset_s) = (0u64, 0.0f64);
    // The next frame number (0-based) and the last frame's timestamp, across reopenings.
    let (mut next_index, mut last_ts) = (0u64, None::<f64>);
    let mut open_gap: Option<SourceGap> = None;
    let mut wait = reconnect.map_or(Duration::ZERO, |r| r.first_wait);
    let record_gap = |gap: SourceGap| {
        counters.add_warning(gap.describe(&info.name));
        if let Ok(mut list) = gaps.lock() {
            list.push(gap);
        }
    };
    while !control.stopped() && max_frames.is_none_or(|m| sent < m) {
        if control.paused() {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let t0 = Instant::now();
        let next = match (source.next_frame(), reconnect) {
            (Ok(next), _) => next,
            (Err(e), None) => return Err(e),
            (Err(e), Some(policy)) => {
                // A stream that failed again before its first frame continues its gap,
                // and that reopening counts as failed.
                let mut gap = match open_gap.take() {
                    Some(mut gap) => {
                        gap.failed_reopens = gap.failed_reopens.saturating_add(1);
                        gap
                    }
                    None => {
                        wait = policy.first_wait;
                        SourceGap {
                            after_frame: next_index,
                            start_s: last_ts.unwrap_or(start.elapsed().as_secs_f64()),
                            end_s: None,
                            duration_s: None,
                            frames_lost: None,
                            failed_reopens: 0,
                            error: e.to_string(),
                        }
                    }
                };
                let (reopened, failed) = reopen(&spec, policy, &mut wait, &control);
                gap.failed_reopens = gap.failed_reopens.saturating_add(failed);
                match reopened {
                    Some(s) => {
                        source = s;
                        index_offset = next_index;
                        time_offset_s = start.elapsed().as_secs_f64();
                        open_gap = Some(gap);
                        continue;
                    }
                    None => {
                        record_gap(gap);
                        break;
                    }
                }
            }
        };
        match next {
            Next::End => {
                ended = true;
                break;
            }
            Next::Warning(w) => {
                counters.add_warning(w);
                ended = true;
                break;
            }
            Next::Skipped {
                index,
                what,
                reason,
            } => {
                let index = index + index_offset;
                next_index = index + 1;
                counters.add_skipped(format!("frame {} ({what}): {reason}", index + 1));
            }
            Next::Frame(mut frame) => {
                let capture_ms = t0.elapsed().as_secs_f32() * 1e3;
                frame.index += index_offset;
                frame.timestamp_s += time_offset_s;
                next_index = frame.index + 1;
                last_ts = Some(frame.timestamp_s);
                if let Some(mut gap) = open_gap.take() {
                    let d = frame.timestamp_s - gap.start_s;
                    gap.end_s = Some(frame.timestamp_s);
                    gap.duration_s = Some(d);
                    gap.frames_lost =
                        reconnect.map(|r| ((d * r.fps).round() as u64).saturating_sub(1));
                    record_gap(gap);
                }
                if realtime && fps.is_some() {
                    let due = start + Duration::from_secs_f64(frame.timestamp_s);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    frame.captured_at = Instant::now();
                }
                counters.frames_read.fetch_add(1, Ordering::Relaxed);
                sent += 1;
                if !out.send(Captured {
                    frame,
                    capture_ms,
                    whole: None,
                }) {
                    break;
                }
            }
        }
    }
    // A source that came back but delivered nothing before the end.
    if let Some(gap) = open_gap.take() {
        record_gap(gap);
    }
    if !ended {
        counters.stopped_early.store(true, Ordering::SeqCst);
    }
    Ok(())
}

/// Whole-frame searches on their own thread ("detect-full"), so that in live mode the
/// periodic search for new faces does not hold up the frames in between: the detect stage
/// offers it a frame when it is idle and merges the faces it found when they arrive.
type FullSearch = Worker<Frame, Vec<FaceBox>>;

fn spawn_full_search(models_dir: PathBuf, cfg: DetectConfig) -> Result<FullSearch> {
    Worker::spawn("detect-full", move || {
        // The same model and settings the detect stage has already loaded once.
        let mut det = Detector::new(&models_dir, &cfg)?;
        Ok(move |frame: Frame| det.detect(&frame))
    })
}

/// How the detect stage looks for faces between whole-frame searches.
enum Searches {
    /// A whole-frame search every `full_every` frames on a worker thread ("detect-full"),
    /// merged when it arrives; known faces followed by boxes predicted from their
    /// landmarks (newest available), else searched around.
    Live {
        full_every: u32,
        worker: FullSearch,
        hints: Arc<LandmarkHints>,
        use_hints: bool,
    },
    /// In line and from the frame alone, so that a run gives the same log every time: the
    /// whole frame at full size on the first frame (and each photo of a set) and every
    /// `full_every` frames; in between, the whole frame scaled down for faces of at least
    /// `large_face_px`, and a search around each known face that search did not find.
    Offline {
        full_every: u32,
        large_face_px: Option<u32>,
    },
}

fn detect_stage(
    mut detector: Detector,
    mut tracker: Tracker,
    mut searches: Searches,
    rx: Receiver<Captured>,
    out: Link<Detected>,
) -> Result<()> {
    // Frames since the last whole-frame search; None: search the next one whole.
    let mut since_full: Option<u32> = None;
    let mut size = (0, 0);
    for Captured {
        frame,
        capture_ms,
        whole,
    } in rx.iter()
    {
        let t0 = Instant::now();
        if frame.independent {
            // A photo of a set: no face of an earlier photo is followed into it.
            tracker.forget();
        }
        restart_count(&frame, &mut since_full, &mut size);
        let known = tracker.recent();
        let mut predicted_boxes = Vec::new();
        let boxes = match &mut searches {
            Searches::Offline {
                full_every,
                large_face_px,
            } => offline_search(
                &mut detector,
                &frame,
                &known,
                &mut since_full,
                *full_every,
                *large_face_px,
                whole,
            ),
            Searches::Live { .. } if known.is_empty() => {
                // No face to follow: search the whole frame now.
                since_full = Some(0);
                detector.detect(&frame)
            }
            Searches::Live {
                full_every,
                worker,
                hints,
                use_hints,
            } => {
                let n = since_full.map_or(0, |n| n + 1);
                since_full = Some(n);
                if n >= *full_every && worker.offer(frame.clone())? {
                    since_full = Some(0);
                }
                // Known faces: their landmark-predicted box where there is one, else a
                // search around their last box.
                let mut unhinted = Vec::new();
                for (id, b) in known {
                    let hint = if *use_hints {
                        hints.predicted_as_of(id, u64::MAX)
                    } else {
                        None
                    };
                    match hint {
                        Some(p) => predicted_boxes.push(p),
                        None => unhinted.push(b),
                    }
                }
                let mut boxes = search_around(&mut detector, &frame, &unhinted);
                boxes.extend(predicted_boxes.iter().copied());
                // Faces from the last whole-frame search that no known face covers are new.
                if let Some(found) = worker.poll()? {
                    for f in found {
                        if boxes.iter().all(|b| b.iou(&f) < 0.3) {
                            boxes.push(f);
                        }
                    }
                }
                boxes
            }
        };
        let faces = tracker.update(&boxes);
        let predicted = faces
            .iter()
            .filter(|f| predicted_boxes.contains(&f.bbox))
            .map(|f| f.id)
            .collect();
        let times = StageTimes {
            capture_ms,
            detect_ms: t0.elapsed().as_secs_f32() * 1e3,
            classify_ms: 0.0,
        };
        if !out.send(Detected {
            frame,
            faces,
            predicted,
            times,
        }) {
            break;
        }
    }
    match &mut searches {
        Searches::Live { worker, .. } => worker.join(),
        Searches::Offline { .. } => Ok(()),
    }
}

/// Forgets the count of frames since the last whole-frame search (so that this frame is
/// searched whole) on a photo of a set and on a frame of another size (a folder of stills
/// read as a sequence).
fn restart_count(frame: &Frame, since_full: &mut Option<u32>, size: &mut (u32, u32)) {
    if frame.independent || (frame.width, frame.height) != *size {
        *size = (frame.width, frame.height);
        *since_full = None;
    }
}

/// Whether a frame is due a whole-frame search, `since_full` frames after the last one.
fn whole_frame_due(since_full: Option<u32>, full_every: u32) -> bool {
    since_full.is_none_or(|n| n + 1 >= full_every)
}

/// Offline with a scaled-down search between whole-frame searches, the whole-frame searches
/// fall on frames known in advance (the first, every `full_every`-th after it, a photo of a
/// set, a new size): this stage ("detect-ahead") runs them on its own thread, ahead of the
/// detect stage, which does the rest of each frame's search. The same searches as in line,
/// so the log is the same; about a third of the detect stage's time moves to another core.
fn detect_ahead_stage(
    mut detector: Detector,
    full_every: u32,
    rx: Receiver<Captured>,
    out: Link<Captured>,
) -> Result<()> {
    let mut since_full: Option<u32> = None;
    let mut size = (0, 0);
    for mut captured in rx.iter() {
        restart_count(&captured.frame, &mut since_full, &mut size);
        if whole_frame_due(since_full, full_every) {
            since_full = Some(0);
            captured.whole = Some(detector.detect(&captured.frame));
        } else {
            since_full = since_full.map(|n| n + 1);
        }
        if !out.send(captured) {
            break;
        }
    }
    Ok(())
}

/// One frame's faces offline (see [`Searches::Offline`]). Depends on the frame and the
/// faces known from earlier frames only. `whole`: the frame's whole-frame search when
/// [`detect_ahead_stage`] has run it.
fn offline_search(
    detector: &mut Detector,
    frame: &Frame,
    known: &[(u32, FaceBox)],
    since_full: &mut Option<u32>,
    full_every: u32,
    large_face_px: Option<u32>,
    whole: Option<Vec<FaceBox>>,
) -> Vec<FaceBox> {
    let due = whole_frame_due(*since_full, full_every);
    let Some(large) = large_face_px.filter(|_| !due) else {
        if due || known.is_empty() {
            *since_full = Some(0);
            return whole.unwrap_or_else(|| detector.detect(frame));
        }
        // No scaled-down search: known faces only, until the next whole-frame search.
        *since_full = since_full.map(|n| n + 1);
        let boxes: Vec<FaceBox> = known.iter().map(|(_, b)| *b).collect();
        return search_around(detector, frame, &boxes);
    };
    *since_full = since_full.map(|n| n + 1);
    // The scaled-down search looks for new faces only (known faces painted out: most of its
    // time went to them); each known face is searched for around its last box.
    let known: Vec<FaceBox> = known.iter().map(|(_, b)| *b).collect();
    let around = search_around(detector, frame, &known);
    // A known face the search around it missed (on the bundled WolfgangLanger clip, 22 of
    // 472 frames: a face at the frame's edge, turning) may still be found by the
    // scaled-down search with nothing painted out, as the full search would find it.
    let lost = known.iter().any(|k| around.iter().all(|f| f.iou(k) < 0.3));
    let painted: &[FaceBox] = if lost { &[] } else { &known };
    let mut boxes = detector.detect_large(frame, large, painted);
    for f in around {
        if boxes.iter().all(|b| b.iou(&f) < 0.3) {
            boxes.push(f);
        }
    }
    boxes.sort_by(|a, b| (b.w * b.h).total_cmp(&(a.w * a.h)));
    boxes
}

/// Detection inside a square of twice each known face's size, centred on it; a face found
/// by two searches is kept once.
fn search_around(detector: &mut Detector, frame: &Frame, known: &[FaceBox]) -> Vec<FaceBox> {
    let mut found: Vec<FaceBox> = Vec::new();
    for b in known {
        let region = crate::align::square_crop(b, 0.5, frame.width, frame.height);
        for f in detector.detect_in(frame, region, b.w.max(b.h)) {
            if found.iter().all(|g| g.iou(&f) < 0.5) {
                found.push(f);
            }
        }
    }
    found.sort_by(|a, b| (b.w * b.h).total_cmp(&(a.w * a.h)));
    found
}

fn classify_stage(
    mut classifier: Classifier,
    rx: Receiver<Detected>,
    out: Link<Analysed>,
    control: Control,
    hints: Arc<LandmarkHints>,
    counters: &Counters,
) -> Result<()> {
    for mut d in rx.iter() {
        // A baseline from "recent frames" would mix the people of different photos.
        if control.take_calibration_request() && !d.frame.independent {
            classifier.calibrate_now();
        }
        let t0 = Instant::now();
        let scores = classifier.classify(&d.frame, &mut d.faces)?;
        let (_, reused) = classifier.still_counts();
        counters.faces_reused.store(reused, Ordering::Relaxed);
        for (f, s) in d.faces.iter().zip(&scores) {
            if let Some(pts) = &s.landmarks {
                let found = (!d.predicted.contains(&f.id)).then_some(f.bbox);
                hints.record(f.id, found, pts, d.frame.index);
            }
        }
        let faces = d
            .faces
            .into_iter()
            .zip(scores)
            .map(|(face, scores)| FaceResult { face, scores })
            .collect();
        let mut times = d.times;
        times.classify_ms = t0.elapsed().as_secs_f32() * 1e3;
        if !out.send(Analysed {
            frame: d.frame,
            faces,
            times,
        }) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FakeCameraSpec;

    fn fixture(name: &str) -> Frame {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let (w, h, rgb) = crate::source::load_rgb(&path).unwrap();
        Frame::new(0, 0.0, w, h, rgb).unwrap()
    }

    #[test]
    fn a_known_face_missed_around_its_box_is_found_by_the_scaled_down_search() {
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let mut det = Detector::new(&models, &DetectConfig::default()).unwrap();
        let before = fixture("wolfgang_edge/000142.jpg");
        let frame = fixture("wolfgang_edge/000143.jpg");
        let known = det.detect(&before)[0];
        // The premise: around her box of the frame before, and in the scaled-down search
        // with that box painted out, her face is not found; the whole frame finds it.
        let region = crate::align::square_crop(&known, 0.5, frame.width, frame.height);
        assert!(det.detect_in(&frame, region, known.w).is_empty());
        assert!(det.detect_large(&frame, 120, &[known]).is_empty());
        let full = det.detect(&frame);
        assert_eq!(full.len(), 1);
        // The offline search between whole-frame searches still finds her, where she is.
        let mut since_full = Some(1);
        let found = offline_search(
            &mut det,
            &frame,
            &[(1, known)],
            &mut since_full,
            10,
            Some(120),
            None,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].iou(&full[0]) > 0.6, "{found:?} against {full:?}");
        assert_eq!(since_full, Some(2));
    }

    /// The boxes of every frame the detect stage sends on, in order, with the whole-frame
    /// searches run ahead on their own thread or in line.
    fn detect_offline(frames: &[Frame], cfg: &DetectConfig, ahead: bool) -> Vec<Vec<FaceBox>> {
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let counters = Arc::new(Counters::default());
        let (to_first, first_rx) = Link::<Captured>::new(Mode::Offline, 4, &counters);
        let (to_sink, results) = Link::<Detected>::new(Mode::Offline, 4, &counters);
        let mut threads = Vec::new();
        let detect_rx = if ahead {
            let (to_detect, rx) = Link::<Captured>::new(Mode::Offline, 4, &counters);
            let (models, full_every) = (models.clone(), cfg.full_every);
            threads.push(std::thread::spawn(move || {
                let det = Detector::new(&models, &DetectConfig::default()).unwrap();
                detect_ahead_stage(det, full_every, first_rx, to_detect)
            }));
            rx
        } else {
            first_rx
        };
        let searches = Searches::Offline {
            full_every: cfg.full_every,
            large_face_px: cfg.large_face_search(),
        };
        threads.push(std::thread::spawn(move || {
            let det = Detector::new(&models, &DetectConfig::default()).unwrap();
            detect_stage(
                det,
                Tracker::new(Default::default()),
                searches,
                detect_rx,
                to_sink,
            )
        }));
        // The frames go in from a thread of their own: the links hold 4 each.
        let frames = frames.to_vec();
        let feed = std::thread::spawn(move || {
            for frame in frames {
                assert!(to_first.send(Captured {
                    frame,
                    capture_ms: 0.0,
                    whole: None,
                }));
            }
        });
        let boxes = results
            .iter()
            .map(|d| d.faces.iter().map(|f| f.bbox).collect())
            .collect();
        feed.join().unwrap();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        boxes
    }

    #[test]
    fn whole_frame_searches_run_ahead_give_the_same_faces_as_in_line() {
        // 24 frames of the still head and 6 of the group photo (a new size: searched whole
        // again), whole-frame searches every 5th frame in between.
        let mut frames: Vec<Frame> = (0..24)
            .map(|i| fixture(&format!("single_face/{:06}.jpg", i * 3)))
            .collect();
        frames.extend((0..6).map(|_| fixture("multi_face.jpg")));
        for (i, f) in frames.iter_mut().enumerate() {
            f.index = i as u64;
        }
        let cfg = DetectConfig {
            full_every: 5,
            ..DetectConfig::default()
        };
        let in_line = detect_offline(&frames, &cfg, false);
        let ahead = detect_offline(&frames, &cfg, true);
        assert_eq!(in_line.len(), 30);
        assert_eq!(ahead, in_line);
        let counts: Vec<usize> = ahead.iter().map(Vec::len).collect();
        assert_eq!(counts, [[1; 24].as_slice(), &[5; 6]].concat());
        // The thread ahead ran the whole-frame searches itself, on the frames they were due:
        // every 5th from the first, and the first of the new size.
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let counters = Arc::new(Counters::default());
        let (to_ahead, ahead_rx) = Link::<Captured>::new(Mode::Offline, 30, &counters);
        let (out, searched) = Link::<Captured>::new(Mode::Offline, 30, &counters);
        for frame in frames {
            assert!(to_ahead.send(Captured {
                frame,
                capture_ms: 0.0,
                whole: None,
            }));
        }
        drop(to_ahead);
        let det = Detector::new(&models, &cfg).unwrap();
        detect_ahead_stage(det, 5, ahead_rx, out).unwrap();
        let whole: Vec<usize> = searched
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.whole.map(|_| i))
            .collect();
        assert_eq!(whole, [0, 5, 10, 15, 20, 24, 29]);
    }

    #[test]
    fn the_scaled_down_search_finds_only_the_faces_not_painted_out() {
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let mut det = Detector::new(&models, &DetectConfig::default()).unwrap();
        let frame = fixture("single_face/000030.jpg");
        let face = det.detect_large(&frame, 120, &[]);
        assert_eq!(face.len(), 1);
        // Painted out: gone. A patch elsewhere in the frame: still found.
        assert!(det.detect_large(&frame, 120, &face).is_empty());
        let elsewhere = FaceBox {
            x: 10.0,
            y: 10.0,
            w: 60.0,
            h: 60.0,
            confidence: 1.0,
        };
        assert_eq!(det.detect_large(&frame, 120, &[elsewhere]), face);
        // The patch is for one search only.
        assert_eq!(det.detect_large(&frame, 120, &[]), face);
    }

    #[test]
    fn live_link_drops_oldest_and_counts() {
        let counters = Arc::new(Counters::default());
        let (link, rx) = Link::new(Mode::Live, 2, &counters);
        for i in 0..5 {
            assert!(link.send(i));
        }
        // Capacity 2: 0, 1, 2 were dropped; the newest two remain, in order.
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(counters.dropped(), 3);
    }

    #[test]
    fn offline_link_never_drops() {
        let counters = Arc::new(Counters::default());
        let (link, rx) = Link::new(Mode::Offline, 1, &counters);
        let consumer = std::thread::spawn(move || rx.iter().collect::<Vec<i32>>());
        for i in 0..100 {
            assert!(link.send(i));
        }
        drop(link);
        assert_eq!(consumer.join().unwrap(), (0..100).collect::<Vec<_>>());
        assert_eq!(counters.dropped(), 0);
    }

    /// Runs the capture stage on `spec` on a thread; returns its frames' receiver, its
    /// counters and gaps, and the handle to join.
    #[allow(clippy::type_complexity)]
    fn capture(
        spec: SourceSpec,
        control: &Control,
    ) -> (
        Receiver<Captured>,
        Arc<Counters>,
        Arc<Mutex<Vec<SourceGap>>>,
        JoinHandle<Result<()>>,
    ) {
        let counters = Arc::new(Counters::default());
        let gaps = Arc::new(Mutex::new(Vec::new()));
        let (link, rx) = Link::new(Mode::Offline, 4, &counters);
        let (ready, ready_rx) = bounded(1);
        let (info, _info_rx) = bounded(1);
        let (c, n, g) = (control.clone(), counters.clone(), gaps.clone());
        let handle = std::thread::spawn(move || {
            capture_stage(spec, false, None, link, c, n, g, ready, info)
        });
        ready_rx.recv().unwrap().unwrap();
        (rx, counters, gaps, handle)
    }

    fn fake_camera(options: &str) -> (SourceSpec, FakeCameraSpec) {
        let text = format!("fake-camera:{options},backoff-ms=1,fps=1000,size=64x48,face=24");
        let spec = SourceSpec::from_input(&text, 30.0).unwrap();
        let SourceSpec::FakeCamera(device) = spec.clone() else {
            panic!("{text}")
        };
        // Clones share one device: `device` sees what the stage does to it.
        (spec, device)
    }

    #[test]
    fn a_camera_that_fails_is_reopened_on_one_clock_and_numbering() {
        let control = Control::default();
        let (spec, device) = fake_camera("frames=9,fail-after=3,failures=2,down=2");
        let (rx, counters, gaps, handle) = capture(spec, &control);
        let frames: Vec<(u64, f64)> = rx
            .iter()
            .map(|c| (c.frame.index, c.frame.timestamp_s))
            .collect();
        handle.join().unwrap().unwrap();
        // Every frame once, numbered on from before each break (each new stream counts from
        // 0 again), on one clock.
        let indices: Vec<u64> = frames.iter().map(|f| f.0).collect();
        assert_eq!(indices, (0..9).collect::<Vec<_>>());
        assert!(frames.windows(2).all(|w| w[1].1 > w[0].1), "{frames:?}");
        assert_eq!(device.refused_opens(), 4);
        let gaps = gaps.lock().unwrap().clone();
        assert_eq!(gaps.len(), 2, "{gaps:?}");
        for (gap, after) in gaps.iter().zip([3usize, 6]) {
            assert_eq!(gap.after_frame, after as u64);
            assert_eq!(gap.failed_reopens, 2);
            assert_eq!(gap.start_s, frames[after - 1].1);
            assert_eq!(gap.end_s, Some(frames[after].1));
            assert!(gap.error.contains("stream lost"), "{}", gap.error);
        }
        assert_eq!(counters.warnings.lock().unwrap().len(), 2);
        assert!(
            !counters.stopped_early.load(Ordering::SeqCst),
            "it reached the end"
        );
    }

    #[test]
    fn a_stream_that_fails_again_before_its_first_frame_is_one_gap() {
        let control = Control::default();
        // After the break: 1 refused open, then 2 streams that open but fail at once.
        let (spec, device) = fake_camera("frames=6,fail-after=3,down=1,flaky=2");
        let (rx, _counters, gaps, handle) = capture(spec, &control);
        let indices: Vec<u64> = rx.iter().map(|c| c.frame.index).collect();
        handle.join().unwrap().unwrap();
        assert_eq!(indices, (0..6).collect::<Vec<_>>());
        assert_eq!(device.refused_opens(), 1);
        let gaps = gaps.lock().unwrap().clone();
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert_eq!(gaps[0].after_frame, 3);
        // The refused open and the two streams that gave no frame.
        assert_eq!(gaps[0].failed_reopens, 3);
        assert!(
            gaps[0].error.contains("stream lost"),
            "the first cause: {gaps:?}"
        );
        assert!(gaps[0].end_s.is_some());
    }

    #[test]
    fn a_camera_that_stays_down_is_retried_until_the_run_stops() {
        let control = Control::default();
        let (spec, device) = fake_camera("frames=100,fail-after=2,down=1000000");
        let (rx, counters, gaps, handle) = capture(spec, &control);
        assert_eq!(rx.iter().take(2).count(), 2);
        // The stream breaks after two frames; the stage keeps trying to reopen it (no
        // error, no end) until the run is stopped. A hang guard, not a timing check.
        let guard = Instant::now() + Duration::from_secs(60);
        while device.refused_opens() < 5 {
            assert!(Instant::now() < guard, "no reopening attempts");
            assert!(!handle.is_finished(), "the stage gave up");
            std::thread::sleep(Duration::from_millis(5));
        }
        control.stop();
        handle.join().unwrap().unwrap();
        let gaps = gaps.lock().unwrap().clone();
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert_eq!(gaps[0].after_frame, 2);
        assert!(gaps[0].failed_reopens >= 5, "{gaps:?}");
        assert_eq!((gaps[0].end_s, gaps[0].frames_lost), (None, None));
        assert!(counters.stopped_early.load(Ordering::SeqCst));
        let warnings = counters.warnings.lock().unwrap().clone();
        assert!(
            warnings[0].contains("not back when the run ended"),
            "{warnings:?}"
        );
    }

    #[test]
    fn offline_link_reports_a_gone_receiver() {
        let counters = Arc::new(Counters::default());
        let (link, rx) = Link::<i32>::new(Mode::Offline, 1, &counters);
        drop(rx);
        assert!(!link.send(1));
    }
}
