//! Per-stage costs on a real frame: grey conversion + detection at two scales, cropping,
//! the whole classification stage for one face, and drawing the overlay (frame, box and
//! score panel) at two frame sizes.
//! Run: cargo bench --bench stages

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use facs::align::{crop_rgb, grey_scaled, square_crop};
use facs::classify::{Classifier, ClassifierOptions};
use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::{Analysed, FaceBox, FaceResult, Frame, Scores, StageTimes, TrackedFace};
use facs::overlay::{draw, Canvas, Hud};
use facs::track::Tracker;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn frame() -> Frame {
    let img = image::open(root().join("tests/fixtures/single_face/000030.jpg"))
        .expect("fixture")
        .into_rgb8();
    let (w, h) = img.dimensions();
    Frame::new(0, 0.0, w, h, img.into_raw()).expect("frame")
}

fn stages(c: &mut Criterion) {
    // One thread per network, as `facs` runs them (the pipeline has its own stage threads).
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let f = frame();
    let models = root().join("models");
    let mut g = c.benchmark_group("stage");
    let mut grey = Vec::new();
    g.bench_function("grey_half_640x360", |b| {
        b.iter(|| grey_scaled(&f, 0.5, &mut grey))
    });
    for min_face in [40u32, 80] {
        let cfg = DetectConfig {
            min_face_px: min_face,
            ..Default::default()
        };
        let mut det = Detector::new(&models, &cfg).expect("detector");
        g.bench_function(format!("detect_640x360_min_face_{min_face}"), |b| {
            b.iter(|| det.detect(&f))
        });
    }
    let mut det = Detector::new(&models, &DetectConfig::default()).expect("detector");
    let boxes = det.detect(&f);
    let mut tracker = Tracker::new(Default::default());
    let mut faces = tracker.update(&boxes);
    let crop = square_crop(&faces[0].bbox, 0.1, f.width, f.height);
    g.bench_function("crop_112", |b| b.iter(|| crop_rgb(&f, crop, 112)));
    let mut cls = Classifier::load(&models, &ClassifierOptions::default()).expect("models");
    g.bench_function("classify_one_face_default", |b| {
        b.iter(|| cls.classify(&f, &mut faces).expect("classify"))
    });
    g.finish();
}

/// One analysed frame of `w` x `h` (the fixture, resized) with one face and every score
/// filled, as the window and `--annotate` draw it.
fn analysed(w: u32, h: u32) -> Analysed {
    let img = image::open(root().join("tests/fixtures/single_face/000030.jpg"))
        .expect("fixture")
        .into_rgb8();
    let img = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    let frame = Frame::new(0, 0.0, w, h, img.into_raw()).expect("frame");
    let k = w as f32 / 640.0;
    let au = [0.1, 0.2, 0.05, 0.4, 0.41, 0.02, 0.8, 0.3, 0.1, 0.6, 0.28];
    let face = FaceResult {
        face: TrackedFace {
            id: 0,
            bbox: FaceBox {
                x: 250.0 * k,
                y: 80.0 * k,
                w: 140.0 * k,
                h: 140.0 * k,
                confidence: 0.9,
            },
        },
        scores: Scores {
            au_prob: Some(au),
            au_present: Some(au.map(|p| p >= 0.5)),
            happy: Some(0.7),
            emotions: Some([0.05, 0.05, 0.05, 0.6, 0.05, 0.1, 0.1]),
            ..Default::default()
        },
    };
    Analysed {
        frame,
        faces: vec![face],
        times: StageTimes::default(),
    }
}

fn overlay(c: &mut Criterion) {
    let mut g = c.benchmark_group("overlay");
    let hud = Hud {
        fps: 29.7,
        capture_ms: 1.7,
        detect_ms: 0.2,
        classify_ms: 22.5,
        end_to_end_ms: 30.1,
        au_source: Some("AUs: geometric estimate".into()),
        ..Hud::default()
    };
    for (w, h) in [(640u32, 360u32), (1280, 720)] {
        let a = analysed(w, h);
        let mut canvas = Canvas::default();
        g.bench_function(format!("draw_{w}x{h}_one_face"), |b| {
            b.iter(|| draw(&a, &hud, &mut canvas))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = stages, overlay
}
criterion_main!(benches);
