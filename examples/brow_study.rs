//! The brow measure behind AU1's shape cue ([`facs::brows`]), on the bundled clips' frames:
//! per stretch of footage, the medial brow slope traced in the image, the landmarks' own
//! inner-brow height, and the slope's change against her resting brows once corrected for
//! head pitch; then the pitch correction itself, fitted on her laughing frames (brows at
//! rest, head pitching). The numbers behind the constants in `geometry.rs` and the AU01
//! section of BENCHMARKS.md.
//! Run: cargo run --release --example brow_study -- [MEDIA_DIR]

use std::path::{Path, PathBuf};

use facs::brows::medial_brow_slope;
use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::Frame;
use facs::geometry::normalise;
use facs::model::landmarks::LandmarkNet;

/// (medial brow slope, landmarks' inner brow height, jaw ends below the nose tip, landmarks'
/// outer brow height) per frame.
type Row = (f32, f32, f32, f32);

fn measure(dir: &Path, frames: std::ops::RangeInclusive<u32>) -> Vec<Row> {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut det = Detector::new(&models, &DetectConfig::default()).expect("detector");
    let net = LandmarkNet::load(&models, &candle_core::Device::Cpu).expect("weights");
    let mut crops = Vec::new();
    let mut rows = Vec::new();
    for i in frames {
        let Ok((w, h, rgb)) = facs::source::load_rgb(&dir.join(format!("{i:06}.jpg"))) else {
            continue;
        };
        let frame = Frame::new(0, 0.0, w, h, rgb).expect("frame");
        let Some(b) = det.detect(&frame).first().copied() else {
            continue;
        };
        let Some(pts) = net.detect(&frame, &[b], &mut crops).expect("landmarks")[0] else {
            continue;
        };
        let (Some(slope), Some(p)) = (medial_brow_slope(&frame, &pts), normalise(&pts)) else {
            continue;
        };
        let inner = -(p[21].1 + p[22].1) / 2.0;
        let jaw = (p[0].1 + p[16].1) / 2.0 - p[30].1;
        let outer = -(p[18].1 + p[25].1) / 2.0;
        rows.push((slope, inner, jaw, outer));
    }
    rows
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

fn quantiles(v: Vec<f32>) -> String {
    let mut v = v;
    v.sort_by(f32::total_cmp);
    let q = |f: f32| v[((v.len() - 1) as f32 * f) as usize];
    format!(
        "min {:.3} p10 {:.3} p50 {:.3} p90 {:.3} max {:.3}",
        q(0.0),
        q(0.1),
        q(0.5),
        q(0.9),
        q(1.0)
    )
}

/// Least-squares slope of y on x and the correlation.
fn fit(x: &[f32], y: &[f32]) -> (f32, f32) {
    let n = x.len() as f32;
    let (mx, my) = (x.iter().sum::<f32>() / n, y.iter().sum::<f32>() / n);
    let sxy: f32 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f32 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    let syy: f32 = y.iter().map(|b| (b - my) * (b - my)).sum();
    (sxy / sxx, sxy / (sxx * syy).sqrt())
}

fn main() {
    let media = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/assets/media"));
    let wolfgang = media.join("frames/wolfgang");
    let single = media.join("frames/single_face");
    let laughing = measure(&wolfgang, 256..=471);
    let (x, y): (Vec<f32>, Vec<f32>) = laughing.iter().map(|r| (r.2, r.0)).unzip();
    let (k, r) = fit(&x, &y);
    println!(
        "pitch correction: slope on jaw ends over {} laughing frames: {k:.3} per unit (r = {r:.2})",
        laughing.len()
    );
    let (x, y): (Vec<f32>, Vec<f32>) = laughing.iter().map(|r| (r.2, r.3)).unzip();
    let (k2, r2) = fit(&x, &y);
    println!(
        "outer brow height (landmarks) on jaw ends, same frames: {k2:.3} per unit (r = {r2:.2})"
    );
    let k = -k;
    for (person, dir, rest, sets) in [
        (
            "wolfgang",
            &wolfgang,
            228..=243,
            vec![
                ("crying", 0..=56),
                ("hand over the face", 57..=149),
                ("worried, looking up", 150..=227),
                ("at rest (the baseline)", 228..=243),
                ("laughing", 256..=471),
            ],
        ),
        (
            "single_face",
            &single,
            0..=15,
            vec![("neutral (the baseline)", 0..=15), ("smiling", 25..=69)],
        ),
    ] {
        let base = measure(dir, rest);
        let rest_slope = median(base.iter().map(|r| r.0 + k * r.2).collect());
        println!("{person}: rest (pitch-corrected) slope {rest_slope:.3}");
        for (name, range) in sets {
            let rows = measure(dir, range);
            let slopes: Vec<f32> = rows.iter().map(|r| r.0).collect();
            let inner: Vec<f32> = rows.iter().map(|r| r.1).collect();
            let outer: Vec<f32> = rows.iter().map(|r| r.3).collect();
            let change: Vec<f32> = rows.iter().map(|r| r.0 + k * r.2 - rest_slope).collect();
            let au1 = change.iter().filter(|c| **c <= -0.06).count();
            println!("  {name}, {} frames", rows.len());
            println!("    slope            {}", quantiles(slopes));
            println!("    landmark inner   {}", quantiles(inner));
            println!("    landmark outer   {}", quantiles(outer));
            println!("    corrected change {}", quantiles(change));
            println!("    drop >= 0.06 (AU1 present from the shape): {au1}");
        }
    }
}
