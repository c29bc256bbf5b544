//! Per-face inference time of each bundled network (batch of 1 and of 5 faces).
//! Run: cargo bench --bench networks

use std::path::PathBuf;

use candle_core::Device;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use facs::model::emotion::{EmotionHead, EmotionModel};
use facs::model::faceapi::FaceApiNet;
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
    facs::model::use_one_thread_per_network();
    let dev = Device::Cpu;
    let mut g = c.benchmark_group("network_per_batch");
    for kind in [EmotionModel::Fer, EmotionModel::FaceApi] {
        let head = EmotionHead::load(&models(), kind, &dev).expect("weights");
        let one = crop(kind.input_size());
        for n in [1usize, 5] {
            let batch = one.repeat(n);
            g.bench_with_input(BenchmarkId::new(format!("{kind:?}"), n), &n, |b, &n| {
                b.iter(|| head.predict(&batch, n).expect("forward"))
            });
        }
    }
    let bytes = read_verified(&models(), &FACEAPI_LANDMARKS).expect("weights");
    let net = FaceApiNet::from_bytes(bytes, 136, &dev).expect("weights");
    let one = crop(112);
    for n in [1usize, 5] {
        let batch = one.repeat(n);
        g.bench_with_input(BenchmarkId::new("Landmarks68", n), &n, |b, &n| {
            b.iter(|| net.forward(&batch, n).expect("forward"))
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
