//! Training and evaluation throughput of facs's AU network (images per second), on crops
//! of random pixels with EmotioNet-like labels: the cost of a step does not depend on what
//! the pixels show. Run: cargo bench --bench training
//!
//! The target: one epoch of 25,000 images at the default input size in 5 minutes, i.e. 83
//! images per second. On a face-api backbone (112 px): the feature cache of phase 1 (the
//! frozen backbone once per face), an epoch of phase 1 (the heads on cached features) and an
//! epoch of phase 2 (every layer); the same on facex's MobileNetV2 (200 px); and the
//! depthwise 3x3 kernel's forward + backward pass against the same computed by candle's own
//! ops.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use facs::frame::NUM_AUS;
use facs::model::au_net::{AuNetConfig, Backbone};
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

fn backbone(c: &mut Criterion) {
    backbone_epochs(
        c,
        "backbone_32_faces",
        AuNetConfig::faceapi(Backbone::FaceapiExpression),
    );
    // facex's MobileNetV2 (200 px, 1280 x 6 x 6 map): `cargo bench --bench training -- facex`.
    backbone_epochs(
        c,
        "facex_backbone_32_faces",
        AuNetConfig::for_backbone(Backbone::FacexMobilenetv2),
    );
    depthwise(c);
}

/// The feature cache, a phase 1 epoch and a phase 2 epoch of 32 faces on a backbone.
fn backbone_epochs(c: &mut Criterion, group: &str, net: AuNetConfig) {
    let n = 32;
    let d = data(n, net.input);
    let run = |frozen_epochs: usize, epochs: usize, dir: &std::path::Path| {
        let cfg = TrainConfig {
            net: net.clone(),
            frozen_epochs,
            epochs,
            ..Default::default()
        };
        train(&cfg, &d, &Prepared::default(), dir, &Default::default()).expect("train")
    };
    let mut g = c.benchmark_group(group);
    g.sample_size(10).throughput(Throughput::Elements(n as u64));
    // A fresh folder each time: the features are computed, not read from the cache.
    g.bench_function("feature_cache", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temp dir"),
            |dir| run(1, 0, dir.path()),
            criterion::BatchSize::PerIteration,
        )
    });
    // The same folder: the features come from the cache; what is left is an epoch of the
    // heads (and the model and checkpoint files written).
    let cached = tempfile::tempdir().expect("temp dir");
    run(1, 0, cached.path());
    g.bench_function("phase1_epoch_from_cache", |b| {
        b.iter(|| run(1, 0, cached.path()))
    });
    let out = tempfile::tempdir().expect("temp dir");
    g.bench_function("phase2_epoch", |b| b.iter(|| run(0, 1, out.path())));
    g.finish();
}

fn depthwise(c: &mut Criterion) {
    // Depthwise 3x3 forward + backward at the size of the second dense block (64 channels,
    // 28x28, batch 32): facs's kernels against candle's grouped conv2d.
    use candle_core::{Device, Tensor, Var};
    let dev = Device::Cpu;
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (32, 64, 28, 28), &dev).expect("x"))
        .expect("var");
    let w =
        Var::from_tensor(&Tensor::randn(0f32, 1.0, (64, 1, 3, 3), &dev).expect("w")).expect("var");
    let mut g = c.benchmark_group("depthwise3x3_fwd_bwd_32x64x28x28");
    g.sample_size(10);
    g.bench_function("facs_kernels", |b| {
        b.iter(|| {
            let y = facs::model::ops::depthwise3x3(&x, &w, (1, 1, 1, 1), 1).expect("fwd");
            y.sum_all().expect("sum").backward().expect("bwd")
        })
    });
    g.bench_function("candle_conv2d_groups", |b| {
        b.iter(|| {
            let y = x.conv2d(&w, 1, 1, 1, 64).expect("fwd");
            y.sum_all().expect("sum").backward().expect("bwd")
        })
    });
    g.finish();
}

criterion_group!(benches, training, backbone);
criterion_main!(benches);
