//! Landmark-based AUs on real footage, through the command line, with frame ranges labelled
//! by eye:
//! - tests/fixtures/single_face/: frames 0..=15 neutral, 25..=69 smiling (log frames are
//!   1-based: 1..=16 and 26..=70);
//! - tests/fixtures/wolfgang/: files 000256..000464 show open-mouth laughing, files
//!   000000..000056 crying with the mouth mostly closed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn facs(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_facs"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("facs runs");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The log's rows as column -> value maps.
fn read_log(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &HashMap<String, String>, col: &str) -> f32 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

const AUS: [&str; 11] = [
    "01", "02", "04", "05", "06", "09", "12", "17", "20", "25", "26",
];

#[test]
fn au12_rises_with_the_smile_and_a_calibrated_neutral_face_is_near_zero() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sf.csv");
    // Calibrate on each face's first 0.5 s: frames 0..=15, the neutral stretch.
    let out = facs(&[
        "run",
        "--input",
        "tests/fixtures/single_face",
        "--calibrate-secs",
        "0.5",
        "--log",
        log.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_log(&log);
    let frame = |r: &HashMap<String, String>| r["frame"].parse::<u32>().unwrap();
    let neutral: Vec<_> = rows.iter().filter(|r| frame(r) <= 16).collect();
    let smiling: Vec<_> = rows
        .iter()
        .filter(|r| (26..=70).contains(&frame(r)))
        .collect();
    assert_eq!((neutral.len(), smiling.len()), (16, 45));

    let mean = |rows: &[&HashMap<String, String>], col: &str| {
        rows.iter().map(|r| num(r, col)).sum::<f32>() / rows.len() as f32
    };
    // Frames 1..=16 are scored against the population default while the face's own
    // baseline is collected; from frame 17 on, against the median of frames 1..=16.
    // (Re-scoring the neutral frames against their own baseline is the next test.)
    let au12_smile = mean(&smiling, "AU12_p");
    let au12_neutral = mean(&neutral, "AU12_p");
    // Measured (AMD EPYC, AVX-512): mean AU12 0.996 on the 45 smiling frames (lowest single
    // frame 0.906) and 0.015 on the 16 neutral ones (highest 0.062): 0.20 and 0.13 inside
    // the bounds.
    assert!(au12_smile > 0.8, "AU12 while smiling: {au12_smile}");
    assert!(
        au12_neutral < 0.15,
        "AU12 on the neutral frames: {au12_neutral}"
    );
    let present = smiling.iter().filter(|r| r["AU12_c"] == "1").count();
    // Measured: present on 45 of 45 (the bound needs 41); the lowest AU12_p there, 0.906, is
    // 0.41 above the 0.5 presence threshold.
    assert!(
        present * 10 >= smiling.len() * 9,
        "AU12_c on {present} of {} smiling frames",
        smiling.len()
    );

    // The sidecar says which baseline each face used.
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sf.meta.json")).unwrap())
            .unwrap();
    let face0 = &meta["summary"]["calibration"]["faces"]["0"];
    assert_eq!(face0["kind"], "person", "{meta}");
    assert_eq!(face0["frames"], 16, "{meta}");
}

#[test]
fn calibration_file_from_the_neutral_stretch_zeroes_every_au_there() {
    let dir = tempfile::tempdir().unwrap();
    let cal = dir.path().join("man.json");
    let out = facs(&[
        "calibrate",
        "--input",
        "tests/fixtures/single_face",
        "--seconds",
        "0.5",
        "--out",
        cal.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("16 frames"));

    let log = dir.path().join("sf.csv");
    let out = facs(&[
        "run",
        "--input",
        "tests/fixtures/single_face",
        "--calibration",
        cal.to_str().unwrap(),
        "--max-frames",
        "16",
        "--log",
        log.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_log(&log);
    assert_eq!(rows.len(), 16);
    for au in AUS {
        let col = format!("AU{au}_p");
        let values: Vec<f32> = rows.iter().map(|r| num(r, &col)).collect();
        let mean = values.iter().sum::<f32>() / values.len() as f32;
        let max = values.iter().copied().fold(0.0, f32::max);
        // Near zero: frame-to-frame landmark jitter moves single frames a little.
        // Measured (AMD EPYC, AVX-512), worst AU: mean 0.054 and max 0.176 (both AU17; AU01
        // max 0.172), about half of each bound.
        assert!(
            mean < 0.1 && max < 0.35,
            "{col} on the calibrated neutral face: mean {mean}, max {max}"
        );
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sf.meta.json")).unwrap())
            .unwrap();
    assert_eq!(
        meta["summary"]["calibration"]["default"]["kind"], "file",
        "{meta}"
    );
}

#[test]
fn au25_is_present_while_she_laughs_with_her_mouth_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("w.csv");
    let out = facs(&[
        "run",
        "--input",
        "tests/fixtures/wolfgang",
        "--log",
        log.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_log(&log);
    // The folder holds 8 crying frames (000000..000056) then 14 laughing ones, sorted by name.
    assert_eq!(rows.len(), 22);
    let (crying, laughing) = rows.split_at(8);
    let on = laughing.iter().filter(|r| r["AU25_c"] == "1").count();
    // Measured (AMD EPYC, AVX-512): AU25 present on 14 of 14 laughing frames (the bound
    // needs 12), AU25_p 1.0 on every one; mean 0.016 on the crying frames (highest 0.083),
    // so the gap, 0.98, is 3x the 0.3 asked for below.
    assert!(
        on * 10 >= laughing.len() * 8,
        "AU25 present on {on} of {} laughing frames",
        laughing.len()
    );
    let mean = |rs: &[HashMap<String, String>]| {
        rs.iter().map(|r| num(r, "AU25_p")).sum::<f32>() / rs.len() as f32
    };
    assert!(
        mean(laughing) > mean(crying) + 0.3,
        "AU25 laughing {} vs crying {}",
        mean(laughing),
        mean(crying)
    );
    // Head pose is logged and plausible (radians, well under 90 degrees).
    // Measured: largest |angle| over the 22 frames 0.449 rad (AMD EPYC, AVX-512).
    for r in &rows {
        for c in ["pose_Rx", "pose_Ry", "pose_Rz"] {
            assert!(num(r, c).abs() < 1.2, "{c} = {}", r[c]);
        }
    }
}

#[test]
fn a_calibration_file_for_another_model_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let cal = dir.path().join("old.json");
    let out = facs(&[
        "calibrate",
        "--input",
        "tests/fixtures/single_face",
        "--seconds",
        "0.2",
        "--out",
        cal.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&cal).unwrap();
    std::fs::write(
        &cal,
        text.replace("facs-geometric-au-v2", "facs-geometric-au-v0"),
    )
    .unwrap();
    let out = facs(&[
        "run",
        "--input",
        "tests/fixtures/multi_face.jpg",
        "--calibration",
        cal.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("old.json")
            && err.contains("facs-geometric-au-v0")
            && err.contains("recalibrate"),
        "{err}"
    );
    // A name that does not exist in calibration/.
    let out = facs(&[
        "run",
        "--input",
        "tests/fixtures/multi_face.jpg",
        "--calibration",
        "nobody-calibrated-this",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody-calibrated-this.json"));
}

#[test]
fn a_face_too_small_for_landmarks_is_logged_with_low_confidence() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("small.csv");
    // 30 px faces, found by detecting on a frame scaled up 2x (--min-face 20).
    let out = facs(&[
        "run",
        "--input",
        "synthetic:faces=1,face=30,frames=5",
        "--min-face",
        "20",
        "--log",
        log.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_log(&log);
    assert_eq!(rows.len(), 5);
    for r in &rows {
        assert_eq!(r["success"], "1");
        // 0.1 is classify::SMALL_FACE_CONFIDENCE, a cap (min with the detector's
        // confidence), so the measured 0.1 on all 5 frames is exact, not a float margin.
        assert!(num(r, "confidence") <= 0.1);
        // 32 is landmarks::MIN_FACE_PX. Measured box widths for the 30 px face: 22.5..24.5.
        assert!(num(r, "w") < 32.0);
        assert_eq!(r["AU12_p"], "");
        assert_eq!(r["pose_Rx"], "");
    }
}
