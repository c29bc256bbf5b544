//! Per-face inference time of each bundled network (batch of 1 and of 5 faces).
//! Run: cargo bench --bench networks

use std::path::PathBuf;

use candle_core::Device;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use facs::brows::medial_brow_slope;
use facs::frame::{BaselineSource, Features};
use facs::frame::{FaceBox, Frame};
use facs::furrow::glabella_furrows;
use facs::geometry::{geometric_au_scores, head_pose, ImageCues, POPULATION_NEUTRAL};
use facs::model::au_net::{to_tensor, AuNet, AuNetConfig};
use facs::model::emotion::{average, EmotionHead, EmotionModel};
use facs::model::faceapi::FaceApiNet;
use facs::model::landmarks::LandmarkNet;
use facs::model::{read_verified, FACEAPI_LANDMARKS};

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn crop(size: u32) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/faceapi/single_face_000060.png");
    let img = image::open(path).expect("fixture").into_rgb8();
    image::imageops::resize(&img, size, size, image::imageops::FilterType::Triangle).into_raw()
}

fn networks(c: &mut Criterion) {
    // One thread per network, as `facs` runs them (the pipeline has its own stage threads).
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let dev = Device::Cpu;
    let mut g = c.benchmark_group("network_per_batch");
    for kind in [
        EmotionModel::Fer,
        EmotionModel::FaceApi,
        EmotionModel::FaceX,
    ] {
        let head = EmotionHead::load(&models(), kind, &dev).expect("weights");
        let one = crop(kind.input_size());
        for n in [1usize, 5] {
            let batch = one.repeat(n);
            g.bench_with_input(BenchmarkId::new(format!("{kind:?}"), n), &n, |b, &n| {
                b.iter(|| head.predict(&batch, n).expect("forward"))
            });
        }
    }
    // The ensemble for one face as facs runs it: face-api and facex side by side on two
    // threads (a scoped thread per call: its start costs microseconds), probabilities averaged.
    let faceapi = EmotionHead::load(&models(), EmotionModel::FaceApi, &dev).expect("weights");
    let facex = EmotionHead::load(&models(), EmotionModel::FaceX, &dev).expect("weights");
    let (crop_a, crop_x) = (
        crop(faceapi.kind().input_size()),
        crop(facex.kind().input_size()),
    );
    g.bench_function("ensemble_two_threads_one_face", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                let a = s.spawn(|| faceapi.predict(&crop_a, 1).expect("forward"));
                let x = facex.predict(&crop_x, 1).expect("forward");
                let a = a.join().expect("face-api thread");
                average(&[a, x]).expect("same faces")
            })
        })
    });
    let bytes = read_verified(&models(), &FACEAPI_LANDMARKS).expect("weights");
    let net = FaceApiNet::from_bytes(bytes, 136, &dev).expect("weights");
    let one = crop(112);
    for n in [1usize, 5] {
        let batch = one.repeat(n);
        g.bench_with_input(BenchmarkId::new("Landmarks68", n), &n, |b, &n| {
            b.iter(|| net.forward(&batch, n).expect("forward"))
        });
    }
    // The whole landmark step for one face in a frame: crop, network, pose, features, AUs.
    let img = image::open(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/single_face/000040.jpg"),
    )
    .expect("fixture")
    .into_rgb8();
    let (w, h) = img.dimensions();
    let frame = Frame::new(0, 0.0, w, h, img.into_raw()).expect("frame");
    let face = FaceBox {
        x: 195.0,
        y: 90.0,
        w: 190.0,
        h: 190.0,
        confidence: 1.0,
    };
    let lm = LandmarkNet::load(&models(), &dev).expect("weights");
    let mut crops = Vec::new();
    g.bench_function("landmarks_pose_geometry_one_face", |b| {
        b.iter(|| {
            let pts = lm.detect(&frame, &[face], &mut crops).expect("landmarks")[0].expect("face");
            let pose = head_pose(&pts);
            let cues = ImageCues {
                glabella_furrows: glabella_furrows(&frame, &pts).unwrap_or(0.0),
                medial_brow_slope: medial_brow_slope(&frame, &pts),
            };
            let f = Features::from_landmarks(&pts, &cues).expect("features");
            (
                pose,
                geometric_au_scores(&f, &POPULATION_NEUTRAL, &BaselineSource::Population),
            )
        })
    });
    // The furrow measure alone (part of the line above), on the same face's landmarks.
    let pts = lm.detect(&frame, &[face], &mut crops).expect("landmarks")[0].expect("face");
    g.bench_function("glabella_furrows_one_face", |b| {
        b.iter(|| glabella_furrows(&frame, &pts))
    });
    // The brow trace alone (part of the line above too).
    g.bench_function("medial_brow_slope_one_face", |b| {
        b.iter(|| medial_brow_slope(&frame, &pts))
    });
    // facs's own AU network (untrained weights: the time does not depend on them), at the
    // default size and at a larger one.
    for cfg in [
        AuNetConfig::default(),
        AuNetConfig {
            input: 64,
            width: 16,
            ..AuNetConfig::small()
        },
    ] {
        let vm = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, candle_core::DType::F32, &dev);
        let net = AuNet::new(vb, cfg.clone()).expect("network");
        let side = cfg.input as usize;
        let one = crop(cfg.input);
        g.bench_function(format!("AuNet_{}px_w{}/1", cfg.input, cfg.width), |b| {
            b.iter(|| {
                let x = to_tensor(&one, 1, side, &dev).expect("tensor");
                net.forward(&x)
                    .expect("forward")
                    .au
                    .to_vec2::<f32>()
                    .expect("logits")
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = networks
}
criterion_main!(benches);
