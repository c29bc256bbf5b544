//! `facs bench`: the whole pipeline on fixed inputs, measured two ways per scenario:
//! throughput (offline, source unpaced: how many frames per second the stages sustain) and
//! latency (live, source paced at its frame rate like a camera: end-to-end and per-stage
//! latency, drops).

use std::path::PathBuf;

use serde::Serialize;

use crate::classify::ClassifierOptions;
use crate::config::{PipelineConfig, StillConfig};
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

/// The default scenarios: the bundled clip, and a synthetic 640x480 source delivered at 60
/// fps with 1 and 5 copies of a face photo, and with 5 faces cut from the bundled clip's
/// frames (each from another frame; played at twice the clip's speed, so they move and
/// change twice as fast as the man in it: no easier for still faces than a camera).
pub fn default_scenarios(frames: u64) -> Vec<Scenario> {
    let synthetic = |faces: u32| SyntheticSpec {
        faces,
        frames,
        width: 640,
        height: 480,
        fps: 60.0,
        face_px: 120,
        clip: false,
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
        Scenario {
            name: "synthetic 640x480 @60 fps, 5 moving faces from the clip".into(),
            source: SourceSpec::Synthetic(SyntheticSpec {
                clip: true,
                ..synthetic(5)
            }),
        },
    ]
}

/// Results for one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    /// Faces drawn per frame, for a synthetic source.
    pub synthetic_faces: Option<u32>,
    /// The synthetic faces were cut from the bundled clip (moving, changing), not copies of
    /// one photo.
    pub moving_faces: bool,
    /// Offline, unpaced.
    pub throughput_fps: f64,
    pub throughput_frames: u64,
    pub faces_per_frame: f64,
    /// Live, paced at the source's frame rate.
    pub live_fps: f64,
    pub live_frames_analysed: u64,
    pub live_dropped: u64,
    pub live_latency_ms: LatencySummary,
    /// Share of the live run's faces that reused a still face's outputs (0 to 1).
    pub live_reused: f64,
}

/// The whole report, as printed and as written by `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub facs_version: &'static str,
    pub machine: String,
    pub detect_min_face_px: u32,
    /// When still faces reused their outputs (both runs of each scenario).
    pub still: StillConfig,
    pub models: Vec<String>,
    pub scenarios: Vec<ScenarioResult>,
    /// The figures the live targets are stated in, taken from the scenarios above.
    pub live_targets: LiveTargets,
}

/// The live figures facs's targets name: frames analysed per second with 5 faces in a
/// 640x480 frame (target: 30 or more), and the end-to-end p99 latency with 1 face (target:
/// 20 ms or less). None when the scenarios did not include that case.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LiveTargets {
    pub five_faces_live_fps: Option<f64>,
    /// The same with 5 moving faces cut from the bundled clip.
    pub five_moving_faces_live_fps: Option<f64>,
    pub one_face_live_p99_ms: Option<f64>,
}

impl LiveTargets {
    fn from_scenarios(results: &[ScenarioResult]) -> Self {
        let with = |n: u32, moving: bool| {
            results
                .iter()
                .find(|r| r.synthetic_faces == Some(n) && r.moving_faces == moving)
        };
        LiveTargets {
            five_faces_live_fps: with(5, false).map(|r| r.live_fps),
            five_moving_faces_live_fps: with(5, true).map(|r| r.live_fps),
            one_face_live_p99_ms: with(1, false)
                .map(|r| f64::from(r.live_latency_ms.end_to_end.p99_ms)),
        }
    }
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
        let (synthetic_faces, moving_faces) = match &sc.source {
            SourceSpec::Synthetic(s) => (Some(s.faces), s.clip),
            _ => (None, false),
        };
        results.push(ScenarioResult {
            name: sc.name.clone(),
            synthetic_faces,
            moving_faces,
            throughput_fps: t.fps,
            throughput_frames: t.frames_analysed,
            faces_per_frame: t.faces_found as f64 / t.frames_analysed.max(1) as f64,
            live_fps: l.fps,
            live_frames_analysed: l.frames_analysed,
            live_dropped: l.frames_dropped,
            live_latency_ms: l.latency_ms,
            live_reused: l.faces_reused as f64 / l.faces_found.max(1) as f64,
        });
    }
    Ok(BenchReport {
        facs_version: env!("CARGO_PKG_VERSION"),
        machine: machine(),
        detect_min_face_px: live.detect.min_face_px,
        still: live.still,
        models,
        live_targets: LiveTargets::from_scenarios(&results),
        scenarios: results,
    })
}

impl BenchReport {
    /// The report as a text table.
    pub fn render(&self) -> String {
        let mut s = format!(
            "facs {} bench on {} (min face {} px; still faces reused for up to {} frames; \
             models: {})\n",
            self.facs_version,
            self.machine,
            self.detect_min_face_px,
            self.still.max_reuse,
            self.models.join(", ")
        );
        s.push_str(&format!(
            "{:<62} {:>9} {:>7} | {:>8} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>7} {:>7}\n",
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
            "cls50",
            "reused"
        ));
        for r in &self.scenarios {
            let l = &r.live_latency_ms;
            s.push_str(&format!(
                "{:<62} {:>9.1} {:>7.2} | {:>8.1} {:>6} {:>6.1} {:>6.1} {:>6.1} {:>7.1} {:>7.1} {:>7.1} {:>6.0}%\n",
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
                100.0 * r.live_reused,
            ));
        }
        let t = &self.live_targets;
        if let (Some(fps), Some(p99)) = (t.five_faces_live_fps, t.one_face_live_p99_ms) {
            let moving = t
                .five_moving_faces_live_fps
                .map(|m| format!(", moving {m:.1} fps"))
                .unwrap_or_default();
            s.push_str(&format!(
                "live targets: 5 faces {fps:.1} fps{moving} (target >= 30); 1 face end-to-end \
                 p99 {p99:.1} ms (target <= 20)\n"
            ));
        }
        s.push_str("max fps: offline, source unpaced. live: source paced at its frame rate, drop-oldest; latencies in ms (p50/p95/p99); reused: the live run's faces that reused a still face's outputs.\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(faces: Option<u32>, live_fps: f64, p99_ms: f32) -> ScenarioResult {
        let mut latency = LatencySummary::default();
        latency.end_to_end.p99_ms = p99_ms;
        ScenarioResult {
            name: format!("{faces:?}"),
            synthetic_faces: faces,
            moving_faces: false,
            throughput_fps: 0.0,
            throughput_frames: 0,
            faces_per_frame: 0.0,
            live_fps,
            live_frames_analysed: 0,
            live_dropped: 0,
            live_latency_ms: latency,
            live_reused: 0.0,
        }
    }

    #[test]
    fn live_targets_come_from_the_synthetic_scenarios() {
        let results = [
            result(None, 30.0, 40.0),
            result(Some(1), 60.0, 12.5),
            result(Some(5), 33.0, 70.0),
            ScenarioResult {
                moving_faces: true,
                ..result(Some(5), 31.0, 80.0)
            },
        ];
        let t = LiveTargets::from_scenarios(&results);
        assert_eq!(t.five_faces_live_fps, Some(33.0));
        assert_eq!(t.five_moving_faces_live_fps, Some(31.0));
        assert_eq!(t.one_face_live_p99_ms, Some(12.5));
        assert_eq!(
            LiveTargets::from_scenarios(&results[..1]).five_faces_live_fps,
            None
        );
    }
}
