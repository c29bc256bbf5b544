//! Measures the expression networks on real footage whose expressions were labelled by eye,
//! for several crop margins: happy/not-happy accuracy, 7-class accuracy, and mean
//! probability of the labelled class. Results are quoted in the model cards.
//!
//! Run: cargo run --release --example expression_study -- [MEDIA_DIR]
//! MEDIA_DIR defaults to ../shared/assets/media (frames/wolfgang, frames/single_face and the
//! posed photos named by expression).

use std::path::{Path, PathBuf};

use candle_core::Device;
use facs::align::{aligned_crop, crop_rgb, square_crop};
use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::{Frame, EMOTIONS};
use facs::model::emotion::{EmotionHead, EmotionModel};
use facs::model::landmarks::LandmarkNet;

/// (file, label in facs emotion names) for every labelled image.
fn labelled(media: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut v = Vec::new();
    let frames =
        |clip: &str, range: std::ops::RangeInclusive<u32>, label: &'static str, v: &mut Vec<_>| {
            for i in range {
                v.push((media.join(format!("frames/{clip}/{i:06}.jpg")), label));
            }
        };
    // Labels by eye (see the contact sheets described in models/*.md):
    frames("wolfgang", 0..=56, "sadness", &mut v);
    frames("wolfgang", 256..=471, "happiness", &mut v);
    frames("single_face", 0..=15, "neutral", &mut v);
    frames("single_face", 25..=69, "happiness", &mut v);
    for (f, l) in [
        ("0-f1-su-ph.jpg", "surprise"),
        ("0-f15-hao-ph.jpg", "happiness"),
        ("15-f13-anc-ph.jpg", "anger"),
        ("45-m7-di-ph.jpg", "disgust"),
        ("astronaut.png", "happiness"),
    ] {
        v.push((media.join(f), l));
    }
    v
}

fn load(path: &Path) -> Option<Frame> {
    let (w, h, rgb) = facs::source::load_rgb(path).ok()?;
    Frame::new(0, 0.0, w, h, rgb)
}

fn main() {
    let media = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/assets/media"));
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut det = Detector::new(&models, &DetectConfig::default()).expect("detector");
    let items = labelled(&media);
    // Detect once per image: the largest face.
    let mut faces = Vec::new();
    let mut missed = 0;
    for (path, label) in &items {
        let Some(frame) = load(path) else {
            eprintln!("cannot read {}", path.display());
            continue;
        };
        match det.detect(&frame).first() {
            Some(b) => faces.push((frame, *b, *label, path.clone())),
            None => missed += 1,
        }
    }
    println!(
        "{} labelled images, {} with a face found, {} without",
        items.len(),
        faces.len(),
        missed
    );
    let lm = LandmarkNet::load(&models, &Device::Cpu).expect("landmark weights");
    let mut scratch = Vec::new();
    let marks: Vec<_> = faces
        .iter()
        .map(|(frame, b, _, _)| lm.detect(frame, &[*b], &mut scratch).expect("landmarks")[0])
        .collect();
    println!("| model | crop | happy/not-happy acc | 7-class acc | mean p(label) | p50 ms/face |");
    println!("|---|---|---|---|---|---|");
    for kind in [EmotionModel::FaceApi, EmotionModel::Fer] {
        let head = EmotionHead::load(&models, kind, &Device::Cpu).expect("weights");
        let variants: Vec<(String, Option<f32>, Option<f32>)> = [0.0f32, 0.05, 0.1, 0.2, 0.3]
            .iter()
            .map(|&m| (format!("box, margin {m:.2}"), Some(m), None))
            .chain(
                [0.9f32, 1.0, 1.15, 1.3]
                    .iter()
                    .map(|&z| (format!("aligned, zoom {z:.2}"), None, Some(z))),
            )
            .collect();
        for (variant, box_margin, zoom) in variants {
            let (mut happy_ok, mut top_ok, mut p_sum) = (0usize, 0usize, 0f32);
            let mut times = Vec::new();
            let mut posed = Vec::new();
            for ((frame, b, label, path), m) in faces.iter().zip(&marks) {
                let pixels = match (box_margin, zoom, m) {
                    (Some(margin), _, _) => crop_rgb(
                        frame,
                        square_crop(b, margin, frame.width, frame.height),
                        kind.input_size(),
                    ),
                    (None, Some(z), Some(pts)) => {
                        aligned_crop(frame, pts, kind.input_size(), z).expect("aligned")
                    }
                    _ => continue,
                };
                let t0 = std::time::Instant::now();
                let p = head.predict(&pixels, 1).expect("forward")[0];
                times.push(t0.elapsed().as_secs_f32() * 1e3);
                let li = EMOTIONS.iter().position(|e| e == label).expect("label");
                let top = (0..7).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
                let happy = p[3] >= 0.5;
                happy_ok += usize::from(happy == (*label == "happiness"));
                top_ok += usize::from(top == li);
                p_sum += p[li];
                if path.to_string_lossy().contains("-ph.") || path.ends_with("astronaut.png") {
                    posed.push(format!(
                        "{}: {} {:.2}",
                        path.file_name()
                            .map(|f| f.to_string_lossy().to_string())
                            .unwrap_or_default(),
                        EMOTIONS[top],
                        p[top]
                    ));
                }
            }
            times.sort_by(f32::total_cmp);
            let n = faces.len() as f32;
            println!(
                "| {kind:?} | {variant} | {:.3} | {:.3} | {:.3} | {:.2} |",
                happy_ok as f32 / n,
                top_ok as f32 / n,
                p_sum / n,
                times[times.len() / 2]
            );
            if box_margin.is_some_and(|m| (m - kind.crop_margin()).abs() < 1e-6) {
                println!(
                    "|   | posed photos at the default margin: {} | | | | |",
                    posed.join("; ")
                );
            }
        }
    }
}
