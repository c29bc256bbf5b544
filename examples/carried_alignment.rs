//! What live mode's carried alignment does to a trained AU network's output: every frame of a
//! clip (decoded JPEG frames, in order) through two classifiers with the same network, one
//! aligning each tracked face on its own landmarks (offline), one on its landmarks of the
//! previous frame carried with its box (live), and per AU how often the present call agrees
//! and how far the probabilities move. Quoted in BENCHMARKS.md.
//!
//! Run: cargo run --release --example carried_alignment -- MODEL_DIR FRAMES_DIR [FRAMES_DIR ...]
//! e.g. FRAMES_DIR = ../shared/assets/media/frames/wolfgang

use std::path::{Path, PathBuf};

use facs::classify::{Classifier, ClassifierOptions};
use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::{au_names, Frame, NUM_AUS};
use facs::source::load_rgb;
use facs::track::Tracker;

/// Agreement between the two runs over one clip.
#[derive(Default)]
struct Tally {
    faces: usize,
    agree: [usize; NUM_AUS],
    present_exact: [usize; NUM_AUS],
    worst: [f32; NUM_AUS],
    sum_abs: [f64; NUM_AUS],
    top_emotion_agree: usize,
    emotion_faces: usize,
    /// Exact alignment: faces whose call for the AU is the same as in the previous frame
    /// (one face tracked from frame to frame), of `steps`.
    steady: [usize; NUM_AUS],
    steps: usize,
}

fn clip(models: &Path, model: &Path, frames: &Path) -> Tally {
    let opts = |carry_alignment| ClassifierOptions {
        au_model: Some(model.to_path_buf()),
        carry_alignment,
        ..ClassifierOptions::default()
    };
    let mut live = Classifier::load(models, &opts(true)).expect("models");
    let mut exact = Classifier::load(models, &opts(false)).expect("models");
    let mut det = Detector::new(models, &DetectConfig::default()).expect("detector");
    let mut tracker = Tracker::new(Default::default());
    let mut files: Vec<PathBuf> = std::fs::read_dir(frames)
        .expect("frames folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    files.sort();
    let mut t = Tally::default();
    let mut previous: Option<(u32, [bool; NUM_AUS])> = None;
    for (i, f) in files.iter().enumerate() {
        let (w, h, rgb) = load_rgb(f).expect("frame");
        let frame = Frame::new(i as u64, i as f64 / 30.0, w, h, rgb).expect("frame");
        let faces = tracker.update(&det.detect(&frame));
        let a = live.classify(&frame, &mut faces.clone()).expect("classify");
        let b = exact
            .classify(&frame, &mut faces.clone())
            .expect("classify");
        if let (Some(face), Some(calls)) = (faces.first(), b.first().and_then(|s| s.au_present)) {
            if let Some((id, prev)) = previous {
                if id == face.id && faces.len() == 1 {
                    t.steps += 1;
                    for k in 0..NUM_AUS {
                        t.steady[k] += usize::from(prev[k] == calls[k]);
                    }
                }
            }
            previous = Some((face.id, calls));
        }
        for (a, b) in a.iter().zip(&b) {
            let (Some(pa), Some(pb)) = (a.au_prob, b.au_prob) else {
                continue;
            };
            let (ca, cb) = (a.au_present.expect("calls"), b.au_present.expect("calls"));
            t.faces += 1;
            for k in 0..NUM_AUS {
                t.agree[k] += usize::from(ca[k] == cb[k]);
                t.present_exact[k] += usize::from(cb[k]);
                let d = (pa[k] - pb[k]).abs();
                t.worst[k] = t.worst[k].max(d);
                t.sum_abs[k] += f64::from(d);
            }
            if let (Some(ea), Some(eb)) = (a.emotions, b.emotions) {
                let top = |e: &[f32; 7]| (0..7).max_by(|&i, &j| e[i].total_cmp(&e[j]));
                t.emotion_faces += 1;
                t.top_emotion_agree += usize::from(top(&ea) == top(&eb));
            }
        }
    }
    t
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let Some((model, clips)) = args.split_first().filter(|(_, clips)| !clips.is_empty()) else {
        eprintln!("usage: carried_alignment MODEL_DIR FRAMES_DIR [FRAMES_DIR ...]");
        std::process::exit(2);
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    // A calibration folder of this run's own: nothing outside it is touched.
    std::env::set_var("FACS_CALIBRATION", tmp.path().join("calibration"));
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let names = au_names();
    println!(
        "| clip | faces | top emotion agrees | {} |",
        names.join(" | ")
    );
    println!("|---|---:|---:|{}", "---:|".repeat(NUM_AUS));
    for c in clips {
        let t = clip(&models, model, c);
        let name = c
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into());
        let cells: Vec<String> = (0..NUM_AUS)
            .map(|k| {
                format!(
                    "{}/{} ({:.3}, {:.3})",
                    t.agree[k],
                    t.faces,
                    t.sum_abs[k] / t.faces.max(1) as f64,
                    t.worst[k]
                )
            })
            .collect();
        println!(
            "| {name} | {} | {}/{} | {} |",
            t.faces,
            t.top_emotion_agree,
            t.emotion_faces,
            cells.join(" | ")
        );
        let present: Vec<String> = (0..NUM_AUS)
            .map(|k| format!("{} {}", names[k], t.present_exact[k]))
            .collect();
        eprintln!("{name}: present (exact alignment): {}", present.join(", "));
        let steady: Vec<String> = (0..NUM_AUS)
            .map(|k| format!("{} {}/{}", names[k], t.steady[k], t.steps))
            .collect();
        eprintln!(
            "{name}: exact alignment, call the same as in the previous frame: {}",
            steady.join(", ")
        );
    }
    println!(
        "\ncells: present calls that agree / faces (mean |difference|, largest |difference| \
         of the probabilities)"
    );
}
