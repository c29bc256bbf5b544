//! Training and evaluation throughput of facs's AU network (images per second), on crops
//! of random pixels with EmotioNet-like labels: the cost of a step does not depend on what
//! the pixels show. Run: cargo bench --bench training
//!
//! The target: one epoch of 25,000 images at the default input size in 5 minutes,
//! i.e. 83 images per second.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use facs::frame::NUM_AUS;
use facs::model::au_net::AuNetConfig;
use facs::train::faces::Prepared;
use facs::train::synth::{EMOTIONET_IMAGES, EMOTIONET_POSITIVES};
use facs::train::trainer::{predict, train, TrainConfig};
use facs::util::rng::SplitMix64;

fn data(n: usize, side: u32) -> Prepared {
    let mut rng = SplitMix64::new(1);
    let crops = (0..n * (side * side * 3) as usize)
        .map(|_| rng.below(256) as u8)
        .collect();
    let labels = (0..n)
        .map(|_| {
            let mut l = [Some(false); NUM_AUS];
            for (k, v) in l.iter_mut().enumerate() {
                let rate = EMOTIONET_POSITIVES[k] as f32 / EMOTIONET_IMAGES as f32;
                *v = Some(rng.chance(rate));
            }
            l
        })
        .collect();
    Prepared {
        side,
        crops,
        labels,
        emotions: vec![None; n],
        paths: vec![Default::default(); n],
        skipped: Default::default(),
        synthetic: 0,
        landmarks: vec![None; n],
    }
}

fn training(c: &mut Criterion) {
    let n = 128;
    let mut g = c.benchmark_group("train_epoch_128_images");
    g.sample_size(10).throughput(Throughput::Elements(n as u64));
    let default = AuNetConfig::default();
    for net in [
        default.clone(),
        AuNetConfig {
            input: 64,
            width: 16,
            ..AuNetConfig::small()
        },
    ] {
        let d = data(n, net.input);
        let cfg = TrainConfig {
            net: net.clone(),
            epochs: 1,
            ..Default::default()
        };
        let out = tempfile::tempdir().expect("temp dir");
        let name = format!("{}px_w{}", net.input, net.width);
        g.bench_with_input(BenchmarkId::from_parameter(&name), &cfg, |b, cfg| {
            b.iter(|| {
                train(
                    cfg,
                    &d,
                    &Prepared::default(),
                    out.path(),
                    &Default::default(),
                )
                .expect("train")
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("predict_256_images");
    g.sample_size(10).throughput(Throughput::Elements(256));
    let d = data(256, default.input);
    let out = tempfile::tempdir().expect("temp dir");
    let cfg = TrainConfig {
        epochs: 1,
        ..Default::default()
    };
    train(
        &cfg,
        &data(32, default.input),
        &Prepared::default(),
        out.path(),
        &Default::default(),
    )
    .expect("train");
    let (net, _) = facs::train::trainer::load(out.path()).expect("load");
    g.bench_function("default", |b| {
        b.iter(|| predict(&net, &d, 64).expect("predict"))
    });
    g.finish();
}

criterion_group!(benches, training);
criterion_main!(benches);
