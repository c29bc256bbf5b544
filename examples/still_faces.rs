//! How much a still face's reused landmarks differ from the network's own, on real footage:
//! for each threshold of [`facs::config::StillConfig::max_change`], over every pair of
//! frames `lag` apart (1 to 6) of a clip's one face, the share of pairs the gate calls still,
//! and among those the landmarks' error (the later frame's own landmarks against the earlier
//! ones moved by the gate's shift, mean over the 68 points, in % of the distance between the
//! outer eye corners), p50 / p95 / max; and, for comparison, the same error over all pairs
//! with no gate (how much the landmarks move between frames that far apart), and between
//! consecutive frames.
//!
//! Run: cargo run --release --example still_faces -- FRAMES_DIR LOG.csv
//! where LOG.csv is `facs run --input FRAMES_DIR --log LOG.csv` (one face a frame).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use facs::config::StillConfig;
use facs::frame::{FaceBox, Frame, Landmarks, TrackedFace};
use facs::still::{Outputs, StillFaces};

struct Row {
    bbox: FaceBox,
    pts: Landmarks,
}

fn read_log(path: &Path) -> Result<HashMap<u64, Row>, Box<dyn std::error::Error>> {
    let mut reader = csv::Reader::from_path(path)?;
    let head = reader.headers()?.clone();
    let col = |name: &str| head.iter().position(|h| h == name).ok_or(name.to_string());
    let (frame, x, y, w, h) = (col("frame")?, col("x")?, col("y")?, col("w")?, col("h")?);
    let xs: Vec<usize> = (0..68)
        .map(|i| col(&format!("x_{i}")))
        .collect::<Result<_, _>>()?;
    let ys: Vec<usize> = (0..68)
        .map(|i| col(&format!("y_{i}")))
        .collect::<Result<_, _>>()?;
    let mut rows = HashMap::new();
    for rec in reader.records() {
        let rec = rec?;
        let f = |i: usize| rec[i].parse::<f32>();
        let Ok(px) = xs.iter().map(|&i| f(i)).collect::<Result<Vec<_>, _>>() else {
            continue; // no landmarks (no face, or too small)
        };
        let py = ys.iter().map(|&i| f(i)).collect::<Result<Vec<_>, _>>()?;
        let bbox = FaceBox {
            x: f(x)?,
            y: f(y)?,
            w: f(w)?,
            h: f(h)?,
            confidence: 1.0,
        };
        let pts = std::array::from_fn(|i| (px[i], py[i]));
        // The log's frame numbers start at 1.
        rows.insert(rec[frame].parse::<u64>()? - 1, Row { bbox, pts });
    }
    Ok(rows)
}

/// Mean landmark distance, in % of the outer eye corners' distance in `b`.
fn error(a: &Landmarks, b: &Landmarks) -> f32 {
    let eyes = ((b[36].0 - b[45].0).powi(2) + (b[36].1 - b[45].1).powi(2)).sqrt();
    let mean = a
        .iter()
        .zip(b)
        .map(|(p, q)| ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt())
        .sum::<f32>()
        / 68.0;
    100.0 * mean / eyes.max(1.0)
}

fn quantiles(mut v: Vec<f32>) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort_by(f32::total_cmp);
    let q = |p: f32| v[((v.len() - 1) as f32 * p).round() as usize];
    format!("{:.2} / {:.2} / {:.2}", q(0.5), q(0.95), q(1.0))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, log] = args.as_slice() else {
        return Err("usage: still_faces FRAMES_DIR LOG.csv".into());
    };
    let rows = read_log(Path::new(log))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    let frames: Vec<Frame> = files
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (w, h, rgb) = facs::source::load_rgb(p)?;
            Frame::new(i as u64, 0.0, w, h, rgb)
                .ok_or_else(|| format!("{}: bad size", p.display()).into())
        })
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    println!("{} frames, {} with landmarks", frames.len(), rows.len());
    println!("| max_change | pairs called still | their error p50 / p95 / max (%) |");
    println!("|---:|---:|---|");
    let (mut all, mut next) = (Vec::new(), Vec::new());
    for i in 0..frames.len() as u64 {
        for lag in 1..=6 {
            if let (Some(a), Some(b)) = (rows.get(&i), rows.get(&(i + lag))) {
                all.push(error(&b.pts, &a.pts));
                if lag == 1 {
                    next.push(error(&b.pts, &a.pts));
                }
            }
        }
    }
    for max_change in [0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.15] {
        let (mut still, mut errors, mut pairs) = (0usize, Vec::new(), 0usize);
        for (i, frame) in frames.iter().enumerate() {
            let Some(a) = rows.get(&(i as u64)) else {
                continue;
            };
            let face = TrackedFace {
                id: 0,
                bbox: a.bbox,
            };
            for lag in 1..=6 {
                let Some(b) = rows.get(&((i + lag) as u64)) else {
                    continue;
                };
                let mut gate = StillFaces::new(StillConfig {
                    max_reuse: u32::MAX,
                    max_change,
                });
                let kept = Outputs {
                    landmarks: Some(a.pts),
                    emotions: None,
                };
                gate.keep(frame, &face, kept);
                pairs += 1;
                let later = TrackedFace {
                    id: 0,
                    bbox: b.bbox,
                };
                if let Some(Outputs {
                    landmarks: Some(moved),
                    ..
                }) = gate.look(&frames[i + lag], &[later]).pop().flatten()
                {
                    still += 1;
                    errors.push(error(&b.pts, &moved));
                }
            }
        }
        println!(
            "| {max_change:.2} | {still} of {pairs} ({:.0}%) | {} |",
            100.0 * still as f32 / pairs.max(1) as f32,
            quantiles(errors)
        );
    }
    println!(
        "all pairs, no gate (how far the landmarks move): {}",
        quantiles(all)
    );
    println!("consecutive frames, no gate: {}", quantiles(next));
    Ok(())
}
