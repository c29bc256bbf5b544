//! Prints the geometric features, head pose and AU scores on labelled frames of the bundled
//! footage: the data behind `geometry::POPULATION_NEUTRAL` and the scale of each AU.
//! Run: cargo run --release --example au_geometry -- [MEDIA_DIR]

use std::path::PathBuf;

use facs::brows::medial_brow_slope;
use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::{BaselineSource, Features};
use facs::frame::{Frame, AU_NUMBERS};
use facs::furrow::glabella_furrows;
use facs::geometry::{
    geometric_au_scores, head_pose, ImageCues, FEATURE_NAMES, POPULATION_NEUTRAL,
};
use facs::model::landmarks::LandmarkNet;

fn main() {
    let media = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/assets/media"));
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut det = Detector::new(&models, &DetectConfig::default()).expect("detector");
    let net = LandmarkNet::load(&models, &candle_core::Device::Cpu).expect("weights");
    let sets: [(&str, &str, std::ops::RangeInclusive<u32>); 5] = [
        ("single_face neutral", "single_face", 0..=15),
        ("single_face smiling", "single_face", 25..=69),
        ("wolfgang sad", "wolfgang", 0..=56),
        ("wolfgang laughing", "wolfgang", 256..=471),
        ("wolfgang laughing, mouth wide open", "wolfgang", 300..=340),
    ];
    let mut crops = Vec::new();
    let mut neutral = None;
    for (label, clip, range) in sets {
        let mut feats = Vec::new();
        let mut poses = Vec::new();
        for i in range {
            let path = media.join(format!("frames/{clip}/{i:06}.jpg"));
            let Ok((w, h, rgb)) = facs::source::load_rgb(&path) else {
                continue;
            };
            let frame = Frame::new(0, 0.0, w, h, rgb).expect("frame");
            let boxes = det.detect(&frame);
            let Some(b) = boxes.first() else { continue };
            let marks = net.detect(&frame, &[*b], &mut crops).expect("landmarks");
            if let Some(pts) = marks[0] {
                let cues = ImageCues {
                    glabella_furrows: glabella_furrows(&frame, &pts).unwrap_or(0.0),
                    medial_brow_slope: medial_brow_slope(&frame, &pts),
                };
                feats.extend(Features::from_landmarks(&pts, &cues));
                poses.extend(head_pose(&pts));
            }
        }
        let med = Features::median(&feats).expect("faces");
        neutral.get_or_insert(med);
        let deg = |v: f32| v.to_degrees();
        let mut p: Vec<_> = poses
            .iter()
            .map(|p| (deg(p.rx), deg(p.ry), deg(p.rz)))
            .collect();
        p.sort_by(|a, b| a.1.total_cmp(&b.1));
        println!(
            "{label}: {} faces, median pose (pitch, yaw, roll) deg ~ {:?}",
            feats.len(),
            p[p.len() / 2]
        );
        for (n, v) in FEATURE_NAMES.iter().zip(med.values) {
            print!("{n}={v:.3} ");
        }
        println!();
        let own = BaselineSource::Person {
            frames: feats.len(),
            how: "the first set",
            warnings: Vec::new(),
        };
        for (reference, source, name) in [
            (neutral.expect("set"), own, "own-clip neutral"),
            (
                POPULATION_NEUTRAL,
                BaselineSource::Population,
                "population default",
            ),
        ] {
            let s = geometric_au_scores(&med, &reference, &source);
            print!("  AUs vs {name}: ");
            for (au, v) in AU_NUMBERS.iter().zip(s) {
                print!("AU{au:02}={v:.2} ");
            }
            println!();
        }
    }
}
