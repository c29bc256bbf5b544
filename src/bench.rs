//! `facs bench`: the whole pipeline on fixed inputs, measured two ways per scenario:
//! throughput (offline, source unpaced: how many frames per second the stages sustain) and
//! latency (live, source paced at its frame rate like a camera: end-to-end and per-stage
//! latency, drops).

use std::path::PathBuf;

use serde::Serialize;

use crate::classify::ClassifierOptions;
use crate::config::PipelineConfig;
use crate::error::Result;
use crate::pipeline::{Control, PipelineSpec};
use crate::session::{self, SessionOptions, Summary};
use crate::source::{SourceSpec, SyntheticSpec};
use crate::telemetry::LatencySummary;

/// One input to measure.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub source: SourceSpec,
}

/// The default scenarios: the bundled clip, and a synthetic 640x480 source with 1 and 5
/// faces delivered at 60 fps.
pub fn default_scenarios(frames: u64) -> Vec<Scenario> {
    let synthetic = |faces: u32| SyntheticSpec {
        faces,
        frames,
        width: 640,
        height: 480,
        fps: 60.0,
        face_px: 120,
    };
    vec![
        Scenario {
            name: "bundled clip 640x360, 1 face (72 JPEG frames, decode included)".into(),
            source: SourceSpec::Demo {
                fps: 30.0,
                looping: false,
            },
        },
        Scenario {
            name: "synthetic 640x480 @60 fps, 1 face".into(),
            source: SourceSpec::Synthetic(synthetic(1)),
        },
        Scenario {
            name: "synthetic 640x480 @60 fps, 5 faces".into(),
            source: SourceSpec::Synthetic(synthetic(5)),
        },
    ]
}

/// Results for one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    /// Offline, unpaced.
    pub throughput_fps: f64,
    pub throughput_frames: u64,
    pub faces_per_frame: f64,
    /// Live, paced at the source's frame rate.
    pub live_fps: f64,
    pub live_frames_analysed: u64,
    pub live_dropped: u64,
    pub live_latency_ms: LatencySummary,
}

/// The whole report, as printed and as written by `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub facs_version: &'static str,
    pub machine: String,
    pub detect_min_face_px: u32,
    pub models: Vec<String>,
    pub scenarios: Vec<ScenarioResult>,
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpus} cores, {}", cpu_model())
}

/// The CPU's model name (from /proc/cpuinfo), for benchmark and measurement records.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn once(spec: PipelineSpec) -> Result<Summary> {
    let opts = SessionOptions {
        pipeline: spec,
        log_csv: None,
        log_jsonl: None,
        log_format: Default::default(),
        annotate: None,
        annotate_every: 1,
        show_window: false,
        show_landmarks: false,
        cam: None,
        overwrite: false,
    };
    session::run(opts, Control::default(), None)
}

/// Runs every scenario with `classifier` and the live detection settings.
///
/// # Errors
/// A scenario could not run (missing models, bad input).
pub fn run(
    scenarios: &[Scenario],
    models_dir: PathBuf,
    classifier: ClassifierOptions,
    live: PipelineConfig,
) -> Result<BenchReport> {
    let mut results = Vec::new();
    let mut models = Vec::new();
    for sc in scenarios {
        let mut offline = live.clone();
        offline.mode = crate::config::Mode::Offline;
        let spec = |config: PipelineConfig, realtime: bool| PipelineSpec {
            config,
            source: sc.source.clone(),
            models_dir: models_dir.clone(),
            classifier: classifier.clone(),
            realtime,
        };
        let t = once(spec(offline, false))?;
        let l = once(spec(live.clone(), true))?;
        models = t.models.iter().map(|m| m.name.clone()).collect();
        results.push(ScenarioResult {
            name: sc.name.clone(),
            throughput_fps: t.fps,
            throughput_frames: t.frames_analysed,
            faces_per_frame: t.faces_found as f64 / t.frames_analysed.max(1) as f64,
            live_fps: l.fps,
            live_frames_analysed: l.frames_analysed,
            live_dropped: l.frames_dropped,
            live_latency_ms: l.latency_ms,
        });
    }
    Ok(BenchReport {
        facs_version: env!("CARGO_PKG_VERSION"),
        machine: machine(),
        detect_min_face_px: live.detect.min_face_px,
        models,
        scenarios: results,
    })
}

impl BenchReport {
    /// The report as a text table.
    pub fn render(&self) -> String {
        let mut s = format!(
            "facs {} bench on {} (min face {} px; models: {})\n",
            self.facs_version,
            self.machine,
            self.detect_min_face_px,
            self.models.join(", ")
        );
        s.push_str(&format!(
            "{:<62} {:>9} {:>7} | {:>8} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>7}\n",
            "scenario",
            "max fps",
            "faces",
            "live fps",
            "drops",
            "e2e50",
            "e2e95",
            "e2e99",
            "det50",
            "det99",
            "cls50"
        ));
        for r in &self.scenarios {
            let l = &r.live_latency_ms;
            s.push_str(&format!(
                "{:<62} {:>9.1} {:>7.2} | {:>8.1} {:>6} {:>6.1} {:>6.1} {:>6.1} {:>7.1} {:>7.1} {:>7.1}\n",
                r.name,
                r.throughput_fps,
                r.faces_per_frame,
                r.live_fps,
                r.live_dropped,
                l.end_to_end.p50_ms,
                l.end_to_end.p95_ms,
                l.end_to_end.p99_ms,
                l.detect.p50_ms,
                l.detect.p99_ms,
                l.classify.p50_ms,
            ));
        }
        s.push_str("max fps: offline, source unpaced. live: source paced at its frame rate, drop-oldest; latencies in ms (p50/p95/p99).\n");
        s
    }
}
