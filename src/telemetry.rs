//! Latency samples per stage and end to end, drop and skip counters, and the run summary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

/// Counters shared by the stage threads.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames the source produced (good ones).
    pub frames_read: AtomicU64,
    /// Frames dropped by drop-oldest links (live mode only).
    pub frames_dropped: AtomicU64,
    /// Unreadable frames, skipped.
    pub frames_skipped: AtomicU64,
    /// The first skipped frames, named, with the reason.
    pub skipped: Mutex<Vec<String>>,
    /// Problems that cost no frame but deserve a line in the summary (a truncated video).
    pub warnings: Mutex<Vec<String>>,
    /// The capture stage stopped before the end of its input (--max-frames, stop flag).
    pub stopped_early: std::sync::atomic::AtomicBool,
    /// Faces that reused a still face's outputs instead of running the networks.
    pub faces_reused: AtomicU64,
}

/// How many skipped frames are listed by name; all are counted.
const SKIPPED_LISTED: usize = 50;

impl Counters {
    pub fn add_dropped(&self, n: u64) {
        self.frames_dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_skipped(&self, what: String) {
        self.frames_skipped.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut list) = self.skipped.lock() {
            if list.len() < SKIPPED_LISTED {
                list.push(what);
            }
        }
    }

    pub fn add_warning(&self, what: String) {
        if let Ok(mut list) = self.warnings.lock() {
            list.push(what);
        }
    }

    pub fn dropped(&self) -> u64 {
        self.frames_dropped.load(Ordering::Relaxed)
    }
}

/// Samples of one latency, in milliseconds.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    values: Vec<f32>,
}

/// Quantiles of a [`Samples`].
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct LatencyStats {
    pub count: usize,
    pub mean_ms: f32,
    pub p50_ms: f32,
    pub p95_ms: f32,
    pub p99_ms: f32,
    pub max_ms: f32,
    /// Histogram: the number of samples at or below each of [`HISTOGRAM_EDGES_MS`] and
    /// above the previous edge; the last count is everything above the last edge.
    pub histogram: Vec<usize>,
}

/// Upper edges (ms) of the latency histogram buckets.
pub const HISTOGRAM_EDGES_MS: [f32; 10] =
    [1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 1000.0];

impl Samples {
    pub fn push(&mut self, ms: f32) {
        self.values.push(ms);
    }

    /// Mean of the last `n` samples (for the live display).
    pub fn recent_mean(&self, n: usize) -> f32 {
        let tail = &self.values[self.values.len().saturating_sub(n)..];
        if tail.is_empty() {
            0.0
        } else {
            tail.iter().sum::<f32>() / tail.len() as f32
        }
    }

    /// Nearest-rank quantiles.
    pub fn stats(&self) -> LatencyStats {
        if self.values.is_empty() {
            return LatencyStats::default();
        }
        let mut v = self.values.clone();
        v.sort_by(f32::total_cmp);
        let q = |p: f32| v[((p * v.len() as f32).ceil() as usize).clamp(1, v.len()) - 1];
        LatencyStats {
            count: v.len(),
            mean_ms: v.iter().sum::<f32>() / v.len() as f32,
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: v[v.len() - 1],
            histogram: {
                let mut h = vec![0usize; HISTOGRAM_EDGES_MS.len() + 1];
                for x in &v {
                    h[HISTOGRAM_EDGES_MS.partition_point(|e| e < x)] += 1;
                }
                h
            },
        }
    }
}

/// Latency samples for every stage, collected by the sink.
#[derive(Clone, Debug, Default)]
pub struct Latency {
    pub capture: Samples,
    pub detect: Samples,
    pub classify: Samples,
    pub end_to_end: Samples,
}

/// Per-stage statistics for a summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LatencySummary {
    pub capture: LatencyStats,
    pub detect: LatencyStats,
    pub classify: LatencyStats,
    pub end_to_end: LatencyStats,
}

impl Latency {
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            capture: self.capture.stats(),
            detect: self.detect.stats(),
            classify: self.classify.stats(),
            end_to_end: self.end_to_end.stats(),
        }
    }
}

/// Frames per second over a sliding window of frame completion times.
#[derive(Debug)]
pub struct FpsMeter {
    times: std::collections::VecDeque<Instant>,
    window: usize,
}

impl FpsMeter {
    pub fn new(window: usize) -> Self {
        FpsMeter {
            times: std::collections::VecDeque::with_capacity(window + 1),
            window: window.max(2),
        }
    }

    pub fn tick(&mut self, now: Instant) {
        self.times.push_back(now);
        if self.times.len() > self.window {
            self.times.pop_front();
        }
    }

    pub fn fps(&self) -> f32 {
        match (self.times.front(), self.times.back()) {
            (Some(a), Some(b)) if self.times.len() > 1 => {
                let secs = b.duration_since(*a).as_secs_f32();
                if secs > 0.0 {
                    (self.times.len() - 1) as f32 / secs
                } else {
                    0.0
                }
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut s = Samples::default();
        for v in 1..=100 {
            s.push(v as f32);
        }
        let st = s.stats();
        assert_eq!(
            (st.count, st.p50_ms, st.p95_ms, st.p99_ms, st.max_ms),
            (100, 50.0, 95.0, 99.0, 100.0)
        );
        assert!((st.mean_ms - 50.5).abs() < 1e-4);
        assert_eq!(Samples::default().stats(), LatencyStats::default());
        // 1..=100 ms: 1 at <= 1, 1 in (1,2], 3 in (2,5], 5 in (5,10], 10 in (10,20],
        // 20 in (20,40], 40 in (40,80], 20 in (80,160].
        assert_eq!(st.histogram, vec![1, 1, 3, 5, 10, 20, 40, 20, 0, 0, 0]);
        assert!((s.recent_mean(2) - 99.5).abs() < 1e-6);
    }

    #[test]
    fn fps_over_a_window() {
        let t0 = Instant::now();
        let mut m = FpsMeter::new(10);
        for i in 0..5 {
            m.tick(t0 + std::time::Duration::from_millis(i * 100));
        }
        // 4 intervals over 0.4 s.
        assert!((m.fps() - 10.0).abs() < 1e-3);
    }

    #[test]
    fn skipped_frames_are_counted_beyond_the_list() {
        let c = Counters::default();
        for i in 0..60 {
            c.add_skipped(format!("f{i}"));
        }
        assert_eq!(c.frames_skipped.load(Ordering::Relaxed), 60);
        assert_eq!(c.skipped.lock().unwrap().len(), SKIPPED_LISTED);
    }
}
