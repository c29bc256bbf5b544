//! Per-stage costs on a real frame: grey conversion + detection at two scales, the
//! default's cheaper searches (large faces only, around a known face), cropping, the whole
//! classification stage for one face (with and without a trained AU network on face-api's
//! expression backbone), drawing the overlay (frame, box and score panel) at two frame
//! sizes, the class activation map overlay, and the AU columns' cost over the default run
//! for 1 and 5 faces (a one-pass AU network on the aligned crop, offline and live, and on the
//! box crop).
//! Run: cargo bench --bench stages
//! Paired AU-columns timing (the runs interleaved, for a host whose load drifts):
//! FACS_BENCH_PAIRED=60 cargo bench --bench stages -- none

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use facs::align::{au_net_crop, crop_rgb, grey_scaled, square_crop, AuCrop};
use facs::classify::{Classifier, ClassifierOptions};
use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::{Analysed, FaceBox, FaceResult, Frame, Scores, StageTimes, TrackedFace};
use facs::heatmap;
use facs::model::au_net_file::{load, write_fixed_head_model};
use facs::overlay::{draw, Canvas, Hud};
use facs::track::Tracker;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn frame() -> Frame {
    frame_at("tests/fixtures/single_face/000030.jpg")
}

fn frame_at(path: &str) -> Frame {
    let img = image::open(root().join(path)).expect("fixture").into_rgb8();
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
        b.iter(|| det.detect_large(&f, 120, &[]))
    });
    let boxes = det.detect(&f);
    let around = square_crop(&boxes[0], 0.5, f.width, f.height);
    let side = boxes[0].w.max(boxes[0].h);
    g.bench_function("detect_around_known_face", |b| {
        b.iter(|| det.detect_in(&f, around, side))
    });
    // The same two searches on a frame of the WolfgangLanger clip (a 250 px face, more
    // candidate windows for the detector's last stage).
    let wf = frame_at("tests/fixtures/wolfgang/000032.jpg");
    g.bench_function("detect_640x360_large_faces_120_wolfgang", |b| {
        b.iter(|| det.detect_large(&wf, 120, &[]))
    });
    let wb = det.detect(&wf);
    let w_around = square_crop(&wb[0], 0.5, wf.width, wf.height);
    g.bench_function("detect_around_known_face_wolfgang", |b| {
        b.iter(|| det.detect_in(&wf, w_around, wb[0].w.max(wb[0].h)))
    });
    let mut tracker = Tracker::new(Default::default());
    let mut faces = tracker.update(&boxes);
    let crop = square_crop(&faces[0].bbox, 0.1, f.width, f.height);
    g.bench_function("crop_112", |b| b.iter(|| crop_rgb(&f, crop, 112)));
    let mut cls = Classifier::load(&models, &ClassifierOptions::default()).expect("models");
    g.bench_function("classify_one_face_default", |b| {
        b.iter(|| cls.classify(&f, &mut faces).expect("classify"))
    });
    // The AU network's aligned crop (a warp on the eyes and nose tip, from the frame reduced
    // by a whole factor where it shrinks) against its box crop, on the face's own landmarks.
    let marks = cls.classify(&f, &mut faces).expect("classify")[0]
        .landmarks
        .expect("landmarks");
    for crop in [AuCrop::Aligned, AuCrop::Box] {
        g.bench_function(format!("au_net_crop_112_{crop}"), |b| {
            b.iter(|| au_net_crop(&f, &faces[0].bbox, Some(&marks), 112, crop))
        });
    }
    // A trained AU network on face-api's expression backbone: unchanged (one pass gives AUs,
    // maps and emotions) or fine-tuned (the emotions keep their own pass). With and without
    // the landmark network (without it, the aligned crop falls back to a box crop).
    let tmp = tempfile::tempdir().expect("temp dir");
    std::env::set_var("FACS_CALIBRATION", tmp.path().join("calibration"));
    for (name, fine_tuned) in [("one_pass", false), ("two_pass", true)] {
        let dir = tmp.path().join(name);
        au_model(&dir, fine_tuned, AuCrop::Aligned);
        for landmarks in [true, false] {
            let opts = ClassifierOptions {
                landmarks,
                au_model: Some(dir.clone()),
                ..ClassifierOptions::default()
            };
            let mut cls = Classifier::load(&models, &opts).expect("models");
            assert_eq!(cls.one_pass(), !fine_tuned);
            let tag = if landmarks { "" } else { "_no_landmarks" };
            g.bench_function(format!("classify_one_face_au_{name}{tag}"), |b| {
                b.iter(|| cls.classify(&f, &mut faces).expect("classify"))
            });
        }
    }
    // The AU columns' cost over the default run, landmarks on, for 1 and 5 faces: the
    // default (no AU network), a one-pass network on the aligned crop (offline its pass
    // waits for the landmarks; live it runs beside them on the landmarks carried from the
    // previous call) and one on the box crop (its pass runs beside the landmark net, where
    // the expression net runs by default).
    let mut five = five_faces(&faces);
    for (crop, carry, tag) in AU_COLUMNS {
        let mut cls = au_columns_classifier(&models, tmp.path(), crop, carry, tag);
        for (n, batch) in [(1, &mut faces), (5, &mut five)] {
            g.bench_function(format!("au_columns_{n}_faces_{tag}"), |b| {
                b.iter(|| cls.classify(&f, batch).expect("classify"))
            });
        }
    }
    let opts = ClassifierOptions {
        landmarks: false,
        ..ClassifierOptions::default()
    };
    let mut cls = Classifier::load(&models, &opts).expect("models");
    g.bench_function("classify_one_face_expression_no_landmarks", |b| {
        b.iter(|| cls.classify(&f, &mut faces).expect("classify"))
    });
    // The CAM overlay: the 11 maps from a feature map, and one AU's map blended over a face.
    let (net, _) = load(&tmp.path().join("one_pass")).expect("model");
    let x = candle_core::Tensor::zeros(
        (1, 3, 112, 112),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .expect("input");
    let feat = net.features(&x).expect("features");
    g.bench_function("cam_maps_11_aus_one_face", |b| {
        b.iter(|| {
            net.au_cams(&feat)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .expect("maps")
        })
    });
    let opts = ClassifierOptions {
        au_model: Some(tmp.path().join("one_pass")),
        ..ClassifierOptions::default()
    };
    let mut cls = Classifier::load(&models, &opts).expect("models");
    let scores = cls.classify(&f, &mut faces).expect("classify");
    let cam = scores[0].au_cam.clone().expect("maps");
    let (cw, ch) = Canvas::size_for(f.width, f.height);
    let mut canvas = Canvas::new(cw, ch, 0x80_80_80);
    let bbox = faces[0].bbox;
    g.bench_function(format!("cam_blend_one_face_{}px", bbox.w.round()), |b| {
        b.iter(|| heatmap::draw_face(&mut canvas, f.width, f.height, &bbox, &cam, 6))
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

/// An AU network folder on the bundled expression extractor with fixed heads (the time does
/// not depend on the heads' values) and the given crop; `fine_tuned` nudges one backbone
/// tensor.
fn au_model(dir: &Path, fine_tuned: bool, crop: AuCrop) {
    write_fixed_head_model(dir, &root().join("models"), crop, fine_tuned, false)
        .expect("AU model folder");
}

/// The runs compared for the AU columns' cost: no AU network, and a one-pass network on
/// each crop; the aligned crop also as live mode runs it (each face aligned with its
/// landmarks carried from the previous call, the pass beside the landmark network).
const AU_COLUMNS: [(Option<AuCrop>, bool, &str); 4] = [
    (None, false, "default"),
    (Some(AuCrop::Aligned), false, "one_pass_aligned"),
    (Some(AuCrop::Aligned), true, "one_pass_aligned_live"),
    (Some(AuCrop::Box), false, "one_pass_box"),
];

/// The fixture's face and four copies of its box shifted by a tenth of its side.
fn five_faces(faces: &[TrackedFace]) -> Vec<TrackedFace> {
    let mut five = faces.to_vec();
    let b0 = faces[0].bbox;
    for (i, (dx, dy)) in [(-0.1f32, 0.0f32), (0.1, 0.0), (0.0, -0.1), (0.0, 0.1)]
        .into_iter()
        .enumerate()
    {
        let mut t = faces[0].clone();
        t.id = 100 + i as u32;
        t.bbox.x = b0.x + dx * b0.w;
        t.bbox.y = b0.y + dy * b0.h;
        five.push(t);
    }
    five
}

/// The default classifier, with a one-pass AU network on `crop` when given (its folder
/// made in `tmp`).
fn au_columns_classifier(
    models: &Path,
    tmp: &Path,
    crop: Option<AuCrop>,
    carry_alignment: bool,
    tag: &str,
) -> Classifier {
    let au_model = crop.map(|c| {
        let dir = tmp.join(format!("{tag}_model"));
        au_model(&dir, false, c);
        dir
    });
    let opts = ClassifierOptions {
        au_model,
        carry_alignment,
        ..ClassifierOptions::default()
    };
    let cls = Classifier::load(models, &opts).expect("models");
    assert_eq!(cls.one_pass(), crop.is_some());
    cls
}

/// With FACS_BENCH_PAIRED=N: the runs of [`AU_COLUMNS`] in turn, N rounds, each
/// round timing one classify call of each (the order rotating), and the median of the
/// per-round differences from the default: on a shared host whose load drifts, paired
/// differences hold where separate criterion runs move by more than the difference.
fn au_columns_paired(_: &mut Criterion) {
    let Some(rounds) = std::env::var("FACS_BENCH_PAIRED")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return;
    };
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let f = frame();
    let models = root().join("models");
    let tmp = tempfile::tempdir().expect("temp dir");
    std::env::set_var("FACS_CALIBRATION", tmp.path().join("calibration"));
    let det = Detector::new(&models, &DetectConfig::default()).expect("detector");
    let mut det = det;
    let one = Tracker::new(Default::default()).update(&det.detect(&f));
    let mut cls: Vec<Classifier> = AU_COLUMNS
        .iter()
        .map(|&(crop, carry, tag)| au_columns_classifier(&models, tmp.path(), crop, carry, tag))
        .collect();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for faces in [one.clone(), five_faces(&one)] {
        // Warm-up.
        for c in cls.iter_mut() {
            for _ in 0..3 {
                c.classify(&f, &mut faces.clone()).expect("classify");
            }
        }
        let mut t = vec![Vec::new(); cls.len()];
        for r in 0..rounds {
            for k in 0..cls.len() {
                let i = (k + r) % cls.len();
                let mut batch = faces.clone();
                let start = std::time::Instant::now();
                cls[i].classify(&f, &mut batch).expect("classify");
                t[i].push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        let n = faces.len();
        for (i, (_, _, tag)) in AU_COLUMNS.iter().enumerate() {
            let mut d: Vec<f64> = t[i].iter().zip(&t[0]).map(|(a, b)| a - b).collect();
            let mut own = t[i].clone();
            println!(
                "paired {n} face(s), {tag}: median {:.2} ms, median difference from default {:+.2} ms ({:+.2} ms per face), {rounds} rounds",
                median(&mut own),
                median(&mut d),
                median(&mut d) / n as f64
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = stages, overlay, au_columns_paired
}
criterion_main!(benches);
