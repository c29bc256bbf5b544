//! Tests of [`render`](super::render): determinism, where each AU acts, and whether the face
//! detector finds the drawn faces.

use std::path::PathBuf;

use image::RgbImage;

use super::super::{emotion_for, face_seed, sample_labels, SynthConfig};
use super::super::{AU1, AU12, AU17, AU2, AU20, AU25, AU26, AU4, AU5, AU6, AU9};
use super::{render, Identity};
use crate::config::DetectConfig;
use crate::detect::Detector;
use crate::frame::{Frame, AU_NUMBERS, EMOTIONS, NUM_AUS};

#[test]
fn same_seed_same_bytes() {
    let aus = [
        true, false, true, false, true, false, true, false, false, true, false,
    ];
    let a = render(42, &aus, 96);
    let b = render(42, &aus, 96);
    let c = render(43, &aus, 96);
    assert_eq!(a.as_raw(), b.as_raw());
    assert_ne!(a.as_raw(), c.as_raw());
    let cfg = SynthConfig::default();
    assert_eq!(sample_labels(&cfg, 5), sample_labels(&cfg, 5));
}

struct Diff {
    /// Face-space bounding box (x0, y0, x1, y1) of the changed pixels.
    bbox: [f32; 4],
    count: usize,
    /// Mean |x| of the changed pixels, weighted by how much they changed.
    mean_abs_x: f32,
}

/// The pixels that differ between a face with and without `au`.
fn diff(seed: u64, au: usize, base: [bool; NUM_AUS]) -> Diff {
    let size = 128;
    let mut with = base;
    with[au] = true;
    if au == AU26 {
        with[AU25] = true;
    }
    let a = render(seed, &base, size);
    let b = render(seed, &with, size);
    let pose = Identity::new(seed, size).pose;
    let mut bbox = [
        f32::INFINITY,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
    ];
    let (mut count, mut wx, mut w) = (0, 0.0, 0.0);
    for (x, y, p) in a.enumerate_pixels() {
        let q = b.get_pixel(x, y);
        let d: i32 = (0..3).map(|c| (p[c] as i32 - q[c] as i32).abs()).sum();
        if d > 12 {
            count += 1;
            let (fx, fy) = pose.from_px(x as f32 + 0.5, y as f32 + 0.5);
            bbox = [
                bbox[0].min(fx),
                bbox[1].min(fy),
                bbox[2].max(fx),
                bbox[3].max(fy),
            ];
            wx += fx.abs() * d as f32;
            w += d as f32;
        }
    }
    Diff {
        bbox,
        count,
        mean_abs_x: if w > 0.0 { wx / w } else { 0.0 },
    }
}

#[test]
fn each_au_changes_only_its_region() {
    // Face-space regions (x0, y0, x1, y1); the brows are at y about -0.37, the eyes at
    // -0.1, the nose tip at 0.3, the mouth at 0.6, the chin at 1.2.
    let regions: [(usize, [f32; 4]); 11] = [
        (AU1, [-0.7, -1.0, 0.7, -0.2]),
        (AU2, [-0.85, -1.0, 0.85, -0.2]),
        (AU4, [-0.8, -0.6, 0.8, 0.05]),
        (AU5, [-0.65, -0.4, 0.65, 0.0]),
        (AU6, [-0.85, -0.35, 0.85, 0.8]),
        (AU9, [-0.5, -0.2, 0.5, 0.75]),
        (AU12, [-0.6, 0.15, 0.6, 0.9]),
        (AU17, [-0.4, 0.4, 0.4, 1.25]), // the lower lip pushes the lip line up
        (AU20, [-0.6, 0.15, 0.6, 0.9]),
        (AU25, [-0.4, 0.45, 0.4, 0.95]),
        (AU26, [-1.0, 0.3, 1.0, 1.8]),
    ];
    let mut failures = Vec::new();
    let mut spread = [0.0f32; NUM_AUS];
    for seed in 0..8u64 {
        for &(au, r) in &regions {
            let d = diff(seed, au, [false; NUM_AUS]);
            let b = d.bbox;
            eprintln!("seed {seed} AU{}: {} px in {b:?}", AU_NUMBERS[au], d.count);
            spread[au] += d.mean_abs_x / 8.0;
            let inside = b[0] >= r[0] && b[1] >= r[1] && b[2] <= r[2] && b[3] <= r[3];
            if d.count < 15 || !inside {
                failures.push(format!(
                    "seed {seed}: AU{} changed {} pixels in {b:?}, expected >= 15 in {r:?}",
                    AU_NUMBERS[au], d.count
                ));
            }
        }
    }
    eprintln!("mean |x| of changes per AU: {spread:?}");
    assert!(failures.is_empty(), "{failures:#?}");
    // AU1 acts on the inner brows, AU2 on the outer ones.
    // Measured (AMD EPYC, AVX-512): mean |x| 0.222 for AU1 and 0.463 for AU2, 0.11 and
    // 0.08 inside the bounds.
    assert!(spread[AU1] < 0.33 && spread[AU2] > 0.38, "{spread:?}");
}

/// Pastes a 128 px face at (x, y) in a grey 256x256 frame.
fn pasted(face: &RgbImage, x: u32, y: u32) -> Frame {
    let n = 256u32;
    let mut rgb = vec![110u8; (n * n * 3) as usize];
    for (fx, fy, p) in face.enumerate_pixels() {
        let i = (((y + fy) * n + x + fx) * 3) as usize;
        rgb[i..i + 3].copy_from_slice(&p.0);
    }
    Frame::new(0, 0.0, n, n, rgb).unwrap()
}

/// How many of `count` random faces the detector finds, with a box centred on the face,
/// each pasted into a 256x256 frame.
fn detection_rate(count: u64, seed0: u64) -> (usize, Vec<u64>) {
    detection_rate_with(&SynthConfig::default(), count, seed0, true)
}

/// As [`detection_rate`]; `paste` false detects in the 128 px image itself.
fn detection_rate_with(
    cfg: &SynthConfig,
    count: u64,
    seed0: u64,
    paste: bool,
) -> (usize, Vec<u64>) {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut det = Detector::new(&models, &DetectConfig::default()).unwrap();
    let mut found = 0;
    let mut misses = Vec::new();
    for i in seed0..seed0 + count {
        let (aus, _) = sample_labels(&cfg, i);
        let seed = face_seed(&cfg, i);
        let face = render(seed, &aus, 128);
        let (ox, oy, frame) = if paste {
            let (ox, oy) = (40 + (i % 5) as u32 * 20, 30 + (i % 3) as u32 * 30);
            (ox, oy, pasted(&face, ox, oy))
        } else {
            (0, 0, Frame::new(0, 0.0, 128, 128, face.into_raw()).unwrap())
        };
        let pose = Identity::new(seed, 128).pose;
        let (cx, cy) = pose.to_px(0.0, 0.0);
        let (cx, cy) = (cx + ox as f32, cy + oy as f32);
        // Face width is 2 face units; SeetaFace's box is about as wide as the face.
        let face_w = 2.0 * pose.scale;
        let hit = det.detect(&frame).iter().any(|b| {
            let (bx, by) = b.centre();
            (bx - cx).abs() < 0.3 * b.w
                && (by - cy).abs() < 0.3 * b.h
                && b.w > 0.6 * face_w
                && b.w < 1.6 * face_w
        });
        if hit {
            found += 1;
        } else {
            misses.push(i);
        }
    }
    (found, misses)
}

#[test]
fn the_face_detector_finds_synthetic_faces() {
    // Measured on 1000 faces (seeds 5000..6000): 98.8% pasted into a 256 px frame,
    // 99.1% in the 128 px image itself; 98.4% with emotion prototypes.
    // On the 100 + 100 faces checked here (AMD EPYC, AVX-512): 99 pasted (face 86
    // missed) and 100 in the image itself, 4 and 5 above the bound.
    let (found, misses) = detection_rate(100, 0);
    eprintln!("detected {found} of 100 pasted synthetic faces; missed {misses:?}");
    assert!(found >= 95, "detected {found} of 100; missed {misses:?}");
    let cfg = SynthConfig::default();
    let (found, misses) = detection_rate_with(&cfg, 100, 100, false);
    eprintln!("detected {found} of 100 synthetic 128 px images; missed {misses:?}");
    assert!(found >= 95, "detected {found} of 100; missed {misses:?}");
}

#[test]
#[ignore = "writes /tmp/synth_sheet.png for a person to look at"]
fn contact_sheet() {
    let cols = 6u32;
    let rows = 4u32;
    let side = 128u32;
    let mut sheet = RgbImage::new(cols * side, rows * side);
    let cfg = SynthConfig {
        emotion: true,
        ..Default::default()
    };
    for k in 0..cols * rows {
        let (mut aus, _) = sample_labels(&cfg, k as u64);
        if k < 11 {
            aus = [false; NUM_AUS];
            aus[k as usize] = true;
            if k as usize == AU26 {
                aus[AU25] = true;
            }
        }
        let face = render(face_seed(&cfg, k as u64), &aus, side);
        let names: Vec<String> = AU_NUMBERS
            .iter()
            .zip(aus)
            .filter(|(_, a)| *a)
            .map(|(n, _)| n.to_string())
            .collect();
        eprintln!(
            "face {k} (row {}, col {}): AU {} {:?}",
            k / cols,
            k % cols,
            names.join("+"),
            emotion_for(&aus).map(|e| EMOTIONS[e])
        );
        image::imageops::replace(
            &mut sheet,
            &face,
            i64::from((k % cols) * side),
            i64::from((k / cols) * side),
        );
    }
    sheet
        .save(std::env::temp_dir().join("synth_sheet.png"))
        .unwrap();
    let (found, misses) = detection_rate(200, 1000);
    eprintln!("detected {found} of 200; missed {misses:?}");
    let mut missed = RgbImage::new(side * misses.len().max(1) as u32, side);
    for (k, &i) in misses.iter().enumerate() {
        let (aus, _) = sample_labels(&SynthConfig::default(), i);
        let face = render(face_seed(&SynthConfig::default(), i), &aus, side);
        image::imageops::replace(&mut missed, &face, (k as u32 * side).into(), 0);
    }
    missed
        .save(std::env::temp_dir().join("synth_missed.png"))
        .unwrap();
    for (emotion, paste) in [(false, true), (false, false), (true, true), (true, false)] {
        let cfg = SynthConfig {
            emotion,
            ..Default::default()
        };
        let (found, misses) = detection_rate_with(&cfg, 1000, 5000, paste);
        eprintln!(
            "emotion {emotion}, pasted {paste}: detected {found} of 1000; missed {:?}",
            &misses[..misses.len().min(20)]
        );
    }
}
