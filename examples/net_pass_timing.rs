//! Times one face-api landmark pass (one 112 px crop, the calling thread): 400 passes,
//! printing the fastest, the 10th percentile and the median in ms. Run two builds one
//! after the other on a shared host: the fastest pass moves least with other work.
//! Run: RAYON_NUM_THREADS=1 cargo run --release --example net_pass_timing

use std::time::Instant;

use facs::model::faceapi::FaceApiNet;
use facs::model::FACEAPI_LANDMARKS;
use facs::weights::{default_models_dir, read_verified};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bytes = read_verified(&default_models_dir(), &FACEAPI_LANDMARKS)?;
    let net = FaceApiNet::from_bytes(bytes, 136, &candle_core::Device::Cpu)?;
    // A fixed pseudo-random crop: the pass's time does not depend on the pixels.
    let crop: Vec<u8> = (0..112 * 112 * 3)
        .map(|i| ((i * 7919) % 251) as u8)
        .collect();
    let mut ms = Vec::new();
    for _ in 0..400 {
        let start = Instant::now();
        std::hint::black_box(net.forward(&crop, 1)?);
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "face-api landmark pass: fastest {:.3} ms, p10 {:.3} ms, median {:.3} ms (400 passes)",
        ms[0], ms[40], ms[200]
    );
    Ok(())
}
