//! Fits and checks the temperatures with which `--emotion ensemble` calibrates face-api's
//! and facex's probabilities before averaging them (src/model/temperature.rs), on the real
//! faces labelled by eye (examples/common/labelled.rs). Each clip is held out in turn: the
//! temperatures are fitted on the other clip's frames and measured on the held-out one; then
//! they are fitted on every labelled frame, which gives the shipped values. Results are
//! quoted in BENCHMARKS.md and the model cards.
//!
//! Run: cargo run --release --example ensemble_calibration -- [MEDIA_DIR]
//! MEDIA_DIR defaults to ../shared/assets/media (frames/wolfgang, frames/single_face).

use std::path::PathBuf;

use candle_core::Device;
use facs::align::{crop_rgb, square_crop};
use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::{Frame, EMOTIONS, HAPPINESS};
use facs::model::emotion::{average, EmotionHead, EmotionModel};
use facs::model::temperature::{ece, fit_in, nll, softmax_t, RANGE};

#[path = "common/labelled.rs"]
mod common;

/// One face: its clip, label index and each head's logits (face-api, facex) in facs order.
struct Face {
    clip: String,
    file: String,
    label: usize,
    logits: [[f32; 7]; 2],
}

fn top(p: &[f32; 7]) -> usize {
    (0..7).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0)
}

/// The ensemble's probabilities for `faces` at temperatures `t` (face-api, facex).
fn ensemble(faces: &[&Face], t: [f32; 2]) -> Vec<[f32; 7]> {
    let heads: Vec<Vec<[f32; 7]>> = (0..2)
        .map(|h| {
            faces
                .iter()
                .map(|f| softmax_t(&f.logits[h], t[h]))
                .collect()
        })
        .collect();
    average(&heads).expect("same faces")
}

/// A table row: NLL, ECE, 7-class and happy/not-happy right.
fn row(what: &str, probs: &[[f32; 7]], faces: &[&Face]) {
    let labels: Vec<usize> = faces.iter().map(|f| f.label).collect();
    // The NLL of averaged probabilities: log of the labelled class's probability.
    let nll_p = probs
        .iter()
        .zip(&labels)
        .map(|(p, &y)| -(f64::from(p[y]).max(1e-12)).ln())
        .sum::<f64>()
        / probs.len() as f64;
    let right = probs
        .iter()
        .zip(&labels)
        .filter(|(p, &y)| top(p) == y)
        .count();
    let happy = probs
        .iter()
        .zip(&labels)
        .filter(|(p, &y)| (p[HAPPINESS] >= 0.5) == (y == HAPPINESS))
        .count();
    println!(
        "| {what} | {nll_p:.3} | {:.3} | {right}/{n} | {happy}/{n} |",
        ece(probs, &labels, 10),
        n = probs.len()
    );
}

/// Each head's temperature fitted on `faces` within `range`.
fn fit_both(faces: &[&Face], range: (f32, f32)) -> [f32; 2] {
    let labels: Vec<usize> = faces.iter().map(|f| f.label).collect();
    [0, 1].map(|h| {
        let z: Vec<[f32; 7]> = faces.iter().map(|f| f.logits[h]).collect();
        fit_in(&z, &labels, range).expect("labelled faces")
    })
}

/// The two fits compared: any temperature, and softening only (t >= 1).
const FITS: [(&str, (f32, f32)); 2] = [("any t", RANGE), ("t >= 1", (1.0, RANGE.1))];

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let media = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/assets/media"));
    let models = root.join("models");
    let dev = Device::Cpu;
    let mut det = Detector::new(&models, &DetectConfig::default()).expect("detector");
    let heads: Vec<(EmotionModel, EmotionHead)> = EmotionModel::Ensemble
        .members()
        .iter()
        .map(|&k| (k, EmotionHead::load(&models, k, &dev).expect("weights")))
        .collect();
    let mut faces = Vec::new();
    let mut missed = 0;
    for item in common::labelled(&root, &media) {
        let (w, h, rgb) = facs::source::load_rgb(&item.path).expect("image");
        let frame = Frame::new(0, 0.0, w, h, rgb).expect("frame");
        let Some(b) = det.detect(&frame).first().copied() else {
            missed += 1;
            continue;
        };
        let logits = [0, 1].map(|i| {
            let (kind, head) = &heads[i];
            let c = square_crop(&b, kind.crop_margin(), frame.width, frame.height);
            head.logits(&crop_rgb(&frame, c, kind.input_size()), 1)
                .expect("forward")[0]
        });
        faces.push(Face {
            clip: item.clip,
            file: item
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            label: EMOTIONS
                .iter()
                .position(|e| *e == item.label)
                .expect("label"),
            logits,
        });
    }
    println!("{} faces ({} images without a face)\n", faces.len(), missed);
    let clips = ["wolfgang", "single_face"];
    let frames: Vec<&Face> = faces.iter().filter(|f| f.clip != "posed").collect();
    println!("| fitted on | held out | model | NLL | ECE | 7-class | happy/not-happy |");
    println!("|---|---|---|---:|---:|---:|---:|");
    for held in clips {
        let train: Vec<&Face> = frames.iter().copied().filter(|f| f.clip != held).collect();
        let test: Vec<&Face> = frames.iter().copied().filter(|f| f.clip == held).collect();
        let fitted = train[0].clip.clone();
        for (fit_name, range) in FITS {
            let t = fit_both(&train, range);
            let labels: Vec<usize> = test.iter().map(|f| f.label).collect();
            for (h, name) in [(0, "face-api"), (1, "facex")] {
                let z: Vec<[f32; 7]> = test.iter().map(|f| f.logits[h]).collect();
                for (tt, what) in [
                    (1.0, "t = 1".to_string()),
                    (t[h], format!("{fit_name}: t = {:.2}", t[h])),
                ] {
                    let p: Vec<[f32; 7]> = z.iter().map(|l| softmax_t(l, tt)).collect();
                    let right = p.iter().zip(&labels).filter(|(p, &y)| top(p) == y).count();
                    let happy = p
                        .iter()
                        .zip(&labels)
                        .filter(|(p, &y)| (p[HAPPINESS] >= 0.5) == (y == HAPPINESS))
                        .count();
                    println!(
                    "| {fitted} | {held} ({}) | {name}, {what} | {:.3} | {:.3} | {right}/{n} | {happy}/{n} |",
                    test.len(),
                    nll(&z, &labels, tt),
                    ece(&p, &labels, 10),
                    n = test.len()
                );
                }
            }
            row(
                &format!(
                    "{fitted} | {held} ({}) | ensemble, uncalibrated",
                    test.len()
                ),
                &ensemble(&test, [1.0, 1.0]),
                &test,
            );
            row(
                &format!(
                    "{fitted} | {held} ({}) | ensemble, {fit_name}: t = {:.2} / {:.2}",
                    test.len(),
                    t[0],
                    t[1]
                ),
                &ensemble(&test, t),
                &test,
            );
        }
    }
    let t = fit_both(&frames, FITS[1].1);
    println!(
        "\nFitted on all {} labelled frames: face-api t = {:.3}, facex t = {:.3}\n",
        frames.len(),
        t[0],
        t[1]
    );
    println!("| model | NLL | ECE | 7-class | happy/not-happy |");
    println!("|---|---:|---:|---:|---:|");
    row(
        "ensemble, uncalibrated",
        &ensemble(&frames, [1.0, 1.0]),
        &frames,
    );
    row(
        &format!("ensemble, t = {:.2} / {:.2}", t[0], t[1]),
        &ensemble(&frames, t),
        &frames,
    );
    let posed: Vec<&Face> = faces.iter().filter(|f| f.clip == "posed").collect();
    println!("\nPosed photos, top emotion:\n");
    println!("| photo | label | uncalibrated | calibrated |");
    println!("|---|---|---|---|");
    let (before, after) = (ensemble(&posed, [1.0, 1.0]), ensemble(&posed, t));
    for ((f, b), a) in posed.iter().zip(&before).zip(&after) {
        println!(
            "| {} | {} | {} {:.2} | {} {:.2} |",
            f.file,
            EMOTIONS[f.label],
            EMOTIONS[top(b)],
            b[top(b)],
            EMOTIONS[top(a)],
            a[top(a)]
        );
    }
}
