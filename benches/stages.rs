//! Per-stage costs on a real frame: grey conversion + detection at two scales, the
//! default's cheaper searches (large faces only, around a known face), cropping, and the
//! whole classification stage for one face.
//! Run: cargo bench --bench stages

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use facs::align::{crop_rgb, grey_scaled, square_crop};
use facs::classify::{Classifier, ClassifierOptions};
use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::Frame;
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
    // The default's searches between whole-frame searches: the frame at quarter size for
    // faces of 120 px and up, and a search around a known face.
    g.bench_function("detect_640x360_large_faces_120", |b| {
        b.iter(|| det.detect_large(&f, 120))
    });
    let boxes = det.detect(&f);
    let around = square_crop(&boxes[0], 0.5, f.width, f.height);
    let side = boxes[0].w.max(boxes[0].h);
    g.bench_function("detect_around_known_face", |b| {
        b.iter(|| det.detect_in(&f, around, side))
    });
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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = stages
}
criterion_main!(benches);
