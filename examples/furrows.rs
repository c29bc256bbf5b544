//! Prints the glabella furrow measure (`facs::furrow`) on labelled stretches of the bundled
//! clips and on the bundled photos, clean and with added sensor-like noise: the data behind
//! the furrow dead zone and scale in `geometry.rs`.
//! Run: cargo run --release --example furrows -- [MEDIA_DIR]

use std::path::{Path, PathBuf};

use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::Frame;
use facs::furrow::glabella_furrows;
use facs::model::landmarks::LandmarkNet;

/// Uniform noise of +-`amplitude` grey levels on every channel, from a fixed LCG seed.
fn with_noise(frame: &Frame, amplitude: f32) -> Frame {
    let mut state = 7u32;
    let rgb = frame
        .rgb
        .iter()
        .map(|&b| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let n = ((state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * amplitude;
            (f32::from(b) + n).clamp(0.0, 255.0) as u8
        })
        .collect();
    Frame::new(0, 0.0, frame.width, frame.height, rgb).expect("same size")
}

fn range(mut v: Vec<f32>) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort_by(f32::total_cmp);
    format!(
        "{:.2} / {:.2} / {:.2}",
        v[0],
        v[v.len() / 2],
        v[v.len() - 1]
    )
}

fn main() {
    let media = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/assets/media"));
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut det = Detector::new(&models, &DetectConfig::default()).expect("detector");
    let net = LandmarkNet::load(&models, &candle_core::Device::Cpu).expect("weights");
    let frames = |clip: &str, r: std::ops::RangeInclusive<u32>| -> Vec<PathBuf> {
        r.map(|i| media.join(format!("frames/{clip}/{i:06}.jpg")))
            .collect()
    };
    let mut sets: Vec<(String, Vec<PathBuf>)> = vec![
        (
            "single_face neutral 0-15".into(),
            frames("single_face", 0..=15),
        ),
        (
            "single_face smiling 25-69".into(),
            frames("single_face", 25..=69),
        ),
        ("wolfgang crying 0-15".into(), frames("wolfgang", 0..=15)),
        (
            "wolfgang crying, AU04 16-56".into(),
            frames("wolfgang", 16..=56),
        ),
        (
            "wolfgang laughing 256-471".into(),
            frames("wolfgang", 256..=471),
        ),
    ];
    for photo in [
        "0-f1-su-ph.jpg",
        "0-f15-hao-ph.jpg",
        "15-f13-anc-ph.jpg",
        "45-m7-di-ph.jpg",
        "multi_face.jpg",
        "astronaut.png",
    ] {
        sets.push((photo.into(), vec![media.join(photo)]));
    }
    let mut crops = Vec::new();
    println!("| frames | faces | furrows min / median / max | with +-8 grey levels of noise |");
    println!("|---|---:|---:|---:|");
    for (label, files) in sets {
        let (mut clean, mut noisy) = (Vec::new(), Vec::new());
        for path in files.iter().map(PathBuf::as_path) {
            let Some(frame) = load(path) else { continue };
            let boxes = det.detect(&frame);
            let marks = net.detect(&frame, &boxes, &mut crops).expect("landmarks");
            let noisy_frame = with_noise(&frame, 8.0);
            for pts in marks.into_iter().flatten() {
                clean.extend(glabella_furrows(&frame, &pts));
                noisy.extend(glabella_furrows(&noisy_frame, &pts));
            }
        }
        println!(
            "| {label} | {} | {} | {} |",
            clean.len(),
            range(clean),
            range(noisy)
        );
    }
}

fn load(path: &Path) -> Option<Frame> {
    let (w, h, rgb) = facs::source::load_rgb(path).ok()?;
    Frame::new(0, 0.0, w, h, rgb)
}
