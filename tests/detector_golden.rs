//! Golden test for the face detector: facs builds rustface 0.1.7 from `vendor/rustface`,
//! with faster kernels (`vendor/rustface/PATCHES.md`). On 41 fixture stills, its three
//! searches (whole frame, scaled down for faces of 120 px and more, around the first face)
//! give the boxes and confidences that rustface 0.1.7 as published on crates.io gave, stored
//! in `tests/fixtures/detector_golden.csv`.
//!
//! To write that file again (only meaningful built against the published crate: remove the
//! `[patch.crates-io]` entry in Cargo.toml first):
//! `FACS_WRITE_DETECTOR_GOLDEN=1 cargo test --release --test detector_golden`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::Frame;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The stills, relative to `tests/fixtures`: the photos, two frames at the frame's edge,
/// and every third frame of the two clips' fixture frames.
fn stills() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = [
        "multi_face.jpg",
        "posed/0-f1-su-ph.jpg",
        "posed/0-f15-hao-ph.jpg",
        "posed/15-f13-anc-ph.jpg",
        "posed/45-m7-di-ph.jpg",
        "wolfgang_edge/000142.jpg",
        "wolfgang_edge/000143.jpg",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    for dir in ["wolfgang", "single_face"] {
        let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures().join(dir))
            .unwrap()
            .map(|e| PathBuf::from(dir).join(e.unwrap().file_name()))
            .collect();
        names.sort();
        v.extend(names.into_iter().step_by(3));
    }
    v
}

/// One CSV row per face found: file, search, box (frame pixels) and confidence.
fn detector_rows() -> String {
    let mut det = Detector::new(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("models"),
        &DetectConfig::default(),
    )
    .unwrap();
    let mut csv = String::from("file,search,x,y,w,h,confidence\n");
    for name in stills() {
        let (w, h, rgb) = facs::source::load_rgb(&fixtures().join(&name)).unwrap();
        let frame = Frame::new(0, 0.0, w, h, rgb).unwrap();
        let full = det.detect(&frame);
        let mut searches = vec![
            ("full", full.clone()),
            ("large", det.detect_large(&frame, 120, &[])),
        ];
        if let Some(b) = full.first() {
            let region = facs::align::square_crop(b, 0.5, frame.width, frame.height);
            searches.push(("around", det.detect_in(&frame, region, b.w.max(b.h))));
        }
        for (search, boxes) in searches {
            for b in boxes {
                writeln!(
                    csv,
                    "{},{search},{:.3},{:.3},{:.3},{:.3},{:.6}",
                    name.display(),
                    b.x,
                    b.y,
                    b.w,
                    b.h,
                    b.confidence
                )
                .unwrap();
            }
        }
    }
    csv
}

#[test]
fn the_vendored_detector_finds_the_published_crates_boxes() {
    let got = detector_rows();
    let path = fixtures().join("detector_golden.csv");
    if std::env::var_os("FACS_WRITE_DETECTOR_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap();
    let (got, want): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    assert_eq!(
        got.len(),
        want.len(),
        "faces found: {} vs {}",
        got.len() - 1,
        want.len() - 1
    );
    assert!(
        want.len() > 100,
        "the golden file covers {} faces",
        want.len() - 1
    );
    for (g, w) in got.iter().zip(&want).skip(1) {
        let (gf, wf): (Vec<&str>, Vec<&str>) = (g.split(',').collect(), w.split(',').collect());
        assert_eq!(gf[..2], wf[..2], "{g} vs {w}");
        let num = |s: &str| s.parse::<f64>().unwrap();
        // Boxes to the published crate's printed precision; confidences within 1e-5 (the
        // MLP's sums run in another order).
        for i in 2..6 {
            assert!((num(gf[i]) - num(wf[i])).abs() < 2e-3, "{g} vs {w}");
        }
        assert!((num(gf[6]) - num(wf[6])).abs() < 1e-5, "{g} vs {w}");
    }
}
