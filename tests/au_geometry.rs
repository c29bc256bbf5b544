//! Landmark-based AUs on real footage, through the command line, against frames labelled by
//! eye in tests/fixtures/au_labels.csv (tests/fixtures/README.md says how):
//! - tests/fixtures/single_face/: frames 0..=15 neutral, 25..=69 smiling (log frames are
//!   1-based: 1..=16 and 26..=70);
//! - tests/fixtures/wolfgang/: files 000256..000464 show open-mouth laughing, files
//!   000000..000056 crying with the mouth closed, lips pressed and stretched;
//! - tests/fixtures/posed/: four posed photos (surprise, happiness, anger, disgust).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod common;
use common::{facs, root};

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

/// `facs calibrate --input INPUT [EXTRA] --out OUT`, which must succeed.
fn calibrate(input: &str, extra: &[&str], out: &Path) -> std::process::Output {
    let mut args = vec![
        "calibrate",
        "--input",
        input,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    facs_ok(&args)
}

/// A run's sidecar.
fn read_meta(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs facs and checks that it succeeded, showing its stderr if not.
fn facs_ok(args: &[&str]) -> std::process::Output {
    let out = facs(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
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
    facs_ok(&[
        "run",
        "--input",
        "tests/fixtures/single_face",
        "--calibrate-secs",
        "0.5",
        "--log",
        log.to_str().unwrap(),
    ]);
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
    // Measured (AMD EPYC, AVX-512): mean AU12 0.627 on the 45 smiling frames (lowest single
    // frame 0.446) and 0.000 on the 16 neutral ones (highest 0.000): 0.13 and 0.15 inside
    // the bounds. (The corner rise has a 0.04 IOD dead zone, so a still face scores 0.)
    assert!(au12_smile > 0.5, "AU12 while smiling: {au12_smile}");
    assert!(
        au12_neutral < 0.15,
        "AU12 on the neutral frames: {au12_neutral}"
    );
    // His brows rest while he smiles: no AU01 from their shape against his own neutral
    // face. Measured: AU01 on 0 of 45 smiling frames.
    let brows_up = smiling.iter().filter(|r| r["AU01_c"] == "1").count();
    assert!(
        brows_up * 10 <= smiling.len(),
        "AU01 on {brows_up} of {} smiling frames",
        smiling.len()
    );
    let present = smiling.iter().filter(|r| r["AU12_c"] == "1").count();
    // Measured: present on 44 of 45 (the bound needs 41).
    assert!(
        present * 10 >= smiling.len() * 9,
        "AU12_c on {present} of {} smiling frames",
        smiling.len()
    );

    // The sidecar says which baseline each face used.
    let meta = read_meta(&dir.path().join("sf.meta.json"));
    let face0 = &meta["summary"]["calibration"]["faces"]["0"];
    assert_eq!(face0["kind"], "person", "{meta}");
    assert_eq!(face0["frames"], 16, "{meta}");
}

#[test]
fn calibration_file_from_the_neutral_stretch_zeroes_every_au_there() {
    let dir = tempfile::tempdir().unwrap();
    let cal = dir.path().join("man.json");
    let out = calibrate(
        "tests/fixtures/single_face",
        &["--calibrate-secs", "0.5"],
        &cal,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("16 frames"));
    // His mouth is closed at rest: nothing to warn about.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));

    let log = dir.path().join("sf.csv");
    facs_ok(&[
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
    let rows = read_log(&log);
    assert_eq!(rows.len(), 16);
    for au in AUS {
        let col = format!("AU{au}_p");
        let values: Vec<f32> = rows.iter().map(|r| num(r, &col)).collect();
        let mean = values.iter().sum::<f32>() / values.len() as f32;
        let max = values.iter().copied().fold(0.0, f32::max);
        // Near zero: frame-to-frame landmark jitter moves single frames a little.
        // Measured (AMD EPYC, AVX-512), worst AU, with the default detection (boxes from
        // the search at a third of the size on 14 of the 16 frames): mean 0.091 and max
        // 0.305 (both AU17; AU09 max 0.178). Searching every frame at full size
        // (--full-every 1): mean 0.054 and max 0.176 (AU17).
        assert!(
            mean < 0.1 && max < 0.35,
            "{col} on the calibrated neutral face: mean {mean}, max {max}"
        );
    }
    let meta = read_meta(&dir.path().join("sf.meta.json"));
    assert_eq!(
        meta["summary"]["calibration"]["default"]["kind"], "file",
        "{meta}"
    );
}

/// One row of tests/fixtures/au_labels.csv: per AU, Some(true/false) where the face was
/// judged clearly to show it or not, None where unsure.
struct Label {
    clip: String,
    frame: u32,
    state: String,
    aus: HashMap<String, Option<bool>>,
}

fn labels() -> Vec<Label> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/au_labels.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..3], ["clip", "frame", "state"]);
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{l}");
            Label {
                clip: cells[0].into(),
                frame: cells[1].parse().unwrap(),
                state: cells[2].into(),
                aus: header[3..]
                    .iter()
                    .zip(&cells[3..])
                    .map(|(h, c)| {
                        let v = match *c {
                            "1" => Some(true),
                            "0" => Some(false),
                            "" => None,
                            other => panic!("{h} = {other:?} in {l}"),
                        };
                        (h.to_string(), v)
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Runs facs on a fixture folder of NNNNNN.jpg frames and returns each file number's row
/// (the log numbers frames by their position in the sorted folder).
fn run_folder(clip: &str, extra: &[&str]) -> (HashMap<u32, HashMap<String, String>>, PathBuf) {
    let dir = tempfile::tempdir().unwrap().keep();
    let log = dir.join(format!("{clip}.csv"));
    let jsonl = dir.join(format!("{clip}.jsonl"));
    let folder = format!("tests/fixtures/{clip}");
    let mut args = vec![
        "run",
        "--input",
        &folder,
        "--log",
        log.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
    ];
    args.extend(extra);
    facs_ok(&args);
    let mut files: Vec<String> = std::fs::read_dir(root().join(&folder))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jpg"))
        .collect();
    files.sort();
    let rows = read_log(&log);
    assert_eq!(rows.len(), files.len(), "one face per frame in {folder}");
    let by_file = rows
        .into_iter()
        .map(|r| {
            let pos: usize = r["frame"].parse().unwrap();
            let n: u32 = files[pos - 1].trim_end_matches(".jpg").parse().unwrap();
            (n, r)
        })
        .collect();
    (by_file, dir)
}

/// Of the labelled frames of `clip` in `state`, how many show `au` present, and how many
/// there are.
fn present_on(
    rows: &HashMap<u32, HashMap<String, String>>,
    labels: &[Label],
    clip: &str,
    state: &str,
    au: &str,
) -> (usize, usize) {
    let frames: Vec<&HashMap<String, String>> = labels
        .iter()
        .filter(|l| l.clip == clip && l.state == state)
        .filter_map(|l| rows.get(&l.frame))
        .collect();
    let on = frames
        .iter()
        .filter(|r| r[&format!("{au}_c")] == "1")
        .count();
    (on, frames.len())
}

#[test]
fn a_cry_is_no_smile_and_a_laugh_no_frown() {
    let labels = labels();
    // Nobody calibrated: the population default baseline (one man's neutral face), as a
    // user gets on a first run.
    let (rows, dir) = run_folder("wolfgang", &[]);
    let (cry12, n_cry) = present_on(&rows, &labels, "wolfgang", "crying", "AU12");
    let (laugh12, n_laugh) = present_on(&rows, &labels, "wolfgang", "laughing", "AU12");
    let (laugh04, _) = present_on(&rows, &labels, "wolfgang", "laughing", "AU04");
    let (laugh20, _) = present_on(&rows, &labels, "wolfgang", "laughing", "AU20");
    assert_eq!((n_cry, n_laugh), (15, 14));
    // Measured (AMD EPYC, AVX-512). Before this estimator: AU12 present on 14 of the 15
    // crying frames, AU04 on 11 and AU20 on 12 of the 14 laughing ones. Now: AU12 on 0 of 15
    // crying frames (highest AU12_p 0.47, frame 32) and 14 of 14 laughing ones (lowest 0.64,
    // frame 272); AU04 on 1 laughing frame (464, head bowed, 0.75), AU20 on none (highest
    // 0.04). The bounds are the targets: at most 10%, at least 90%.
    assert!(
        cry12 * 10 <= n_cry,
        "AU12 present on {cry12} of {n_cry} crying frames"
    );
    assert!(
        laugh12 * 10 >= n_laugh * 9,
        "AU12 present on {laugh12} of {n_laugh} laughing frames"
    );
    assert!(
        laugh04 * 10 <= n_laugh,
        "AU04 present on {laugh04} of {n_laugh} laughing frames"
    );
    assert!(
        laugh20 * 10 <= n_laugh,
        "AU20 present on {laugh20} of {n_laugh} laughing frames"
    );
    // The grief brow: her knitted brows fold vertical furrows between them, which the
    // landmarks do not see (AU04 was present on 0 of the fixture's 11 crying frames labelled
    // AU04 before the furrows counted). Measured: present on 10 of 11 (frame 16, where the
    // labels start, reads 0.33); AU04_p 0.00 on every laughing frame.
    let brow_lowered: Vec<&HashMap<String, String>> = labels
        .iter()
        .filter(|l| l.clip == "wolfgang" && l.aus["AU04"] == Some(true))
        .filter_map(|l| rows.get(&l.frame))
        .collect();
    assert_eq!(brow_lowered.len(), 11);
    let cry04 = brow_lowered.iter().filter(|r| r["AU04_c"] == "1").count();
    assert!(
        cry04 * 10 >= brow_lowered.len() * 8,
        "AU04 present on {cry04} of {} crying frames labelled AU04",
        brow_lowered.len()
    );
    // Lips: apart while she laughs, pressed while she cries. Measured: AU25_p 1.00 on every
    // laughing frame, at most 0.26 on the crying ones (frame 36), against the 0.5 threshold.
    let (laugh25, _) = present_on(&rows, &labels, "wolfgang", "laughing", "AU25");
    let (cry25, _) = present_on(&rows, &labels, "wolfgang", "crying", "AU25");
    assert_eq!((laugh25, cry25), (n_laugh, 0));
    // Head pose is logged and plausible (radians, well under 90 degrees).
    // Measured: largest |angle| over the 29 frames 0.449 rad (AMD EPYC, AVX-512).
    for r in rows.values() {
        for c in ["pose_Rx", "pose_Ry", "pose_Rz"] {
            assert!(num(r, c).abs() < 1.2, "{c} = {}", r[c]);
        }
    }
    // Where the AUs come from: the sidecar, the summary and every JSONL row say so.
    let meta = read_meta(&dir.join("wolfgang.meta.json"));
    assert_eq!(meta["au_source"]["kind"], "geometric", "{meta}");
    assert_eq!(meta["summary"]["au_source"]["name"], "geometric", "{meta}");
    assert_eq!(meta["warnings"], serde_json::json!([]), "{meta}");
    let jsonl = std::fs::read_to_string(dir.join("wolfgang.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 29);
    for line in jsonl.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(row["au_source"], "geometric", "{line}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_grief_brow_reads_au01_with_au04_against_her_own_resting_brows() {
    // Her neutral face from the clip's one stretch with her brows at rest
    // (tests/fixtures/wolfgang_rest/, six frames between the hand leaving her face and the
    // laugh). The brows' medial halves, traced in the image, flatten while she cries; the
    // landmarks do not show it (their inner ends sit where her laugh puts them).
    let dir = tempfile::tempdir().unwrap();
    let cal = dir.path().join("her.json");
    let out = calibrate("tests/fixtures/wolfgang_rest", &[], &cal);
    // Her mouth is not at rest there (lips a little apart): the file says so, and so does
    // every run that uses it.
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("warning: the lips are apart"), "{said}");
    let labels = labels();
    let (rows, run_dir) = run_folder("wolfgang", &["--calibration", cal.to_str().unwrap()]);
    let meta = read_meta(&run_dir.join("wolfgang.meta.json"));
    let warnings = meta["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{meta}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("calibration: the lips are apart"),
        "{meta}"
    );
    let labelled = |au: &str, value: bool| -> Vec<&HashMap<String, String>> {
        labels
            .iter()
            .filter(|l| l.clip == "wolfgang" && l.aus[au] == Some(value))
            .filter_map(|l| rows.get(&l.frame))
            .collect()
    };
    let on = |rows: &[&HashMap<String, String>], au: &str| {
        rows.iter().filter(|r| r[&format!("{au}_c")] == "1").count()
    };
    let (grief, rest) = (labelled("AU01", true), labelled("AU01", false));
    assert_eq!((grief.len(), rest.len()), (15, 14));
    // Measured (AMD EPYC, AVX2): AU01 on 15 of 15 crying frames (lowest AU01_p 0.76, frame
    // 48) and 1 of 14 laughing ones (frame 288, eyes shut in the laugh, 0.58). The whole
    // clip (BENCHMARKS.md): 57 of 57 and 9 of 216.
    let (grief01, rest01) = (on(&grief, "AU01"), on(&rest, "AU01"));
    assert!(
        grief01 * 10 >= grief.len() * 9,
        "AU01 on {grief01} of {} grief brows",
        grief.len()
    );
    assert!(
        rest01 * 10 <= rest.len(),
        "AU01 on {rest01} of {} laughing frames",
        rest.len()
    );
    // AU04 with it where her brows are labelled knitted, and still no frown on the laugh.
    // Measured: AU04 on 10 of 11 (frame 16, where the labels start, reads none) and 0 of 14.
    let (knit, smooth) = (labelled("AU04", true), labelled("AU04", false));
    let (knit04, smooth04) = (on(&knit, "AU04"), on(&smooth, "AU04"));
    assert!(
        knit04 * 10 >= knit.len() * 8,
        "AU04 on {knit04} of {}",
        knit.len()
    );
    assert!(
        smooth04 * 10 <= smooth.len(),
        "AU04 on {smooth04} of {}",
        smooth.len()
    );
    let _ = std::fs::remove_dir_all(run_dir);

    // The same frames as a face's own first seconds in a run: the run says its neutral was
    // not at rest, and the input is not called damaged for it.
    let (_, run_dir) = run_folder("wolfgang_rest", &["--calibrate-secs", "0.05"]);
    let meta = read_meta(&run_dir.join("wolfgang_rest.meta.json"));
    let warnings = meta["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{meta}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("face 0's own neutral (first seconds): the lips are apart"),
        "{meta}"
    );
    assert_eq!(meta["summary"]["warnings"], serde_json::json!([]), "{meta}");
    let _ = std::fs::remove_dir_all(run_dir);
}

#[test]
fn the_smile_still_reads_uncalibrated_and_the_labels_agree_with_the_log() {
    let labels = labels();
    let (rows, dir) = run_folder("single_face", &[]);
    let (smile12, n_smile) = present_on(&rows, &labels, "single_face", "smiling", "AU12");
    let (neutral12, n_neutral) = present_on(&rows, &labels, "single_face", "neutral", "AU12");
    assert_eq!((n_smile, n_neutral), (45, 16));
    // Measured: 44 of 45 smiling frames (the bound needs 41), 0 of 16 neutral ones.
    assert!(smile12 * 10 >= n_smile * 9, "{smile12} of {n_smile}");
    assert_eq!(neutral12, 0);
    // Every clear label of this clip (AU04, AU12, AU20, AU25 on neutral and smiling
    // frames) against the log.
    let mut agree = 0;
    let mut total = 0;
    for l in labels.iter().filter(|l| l.clip == "single_face") {
        let Some(r) = rows.get(&l.frame) else {
            continue;
        };
        for (au, v) in &l.aus {
            if let Some(v) = v {
                total += 1;
                agree += usize::from((r[&format!("{au}_c")] == "1") == *v);
            }
        }
    }
    // Measured 243 of 244 (the one smiling frame at AU12_p 0.45); 95% is the bound.
    assert!(agree * 20 >= total * 19, "{agree} of {total} labels agree");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn posed_photos_show_their_expressions_aus() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("posed.csv");
    facs_ok(&[
        "run",
        "--input",
        "tests/fixtures/posed",
        "--log",
        log.to_str().unwrap(),
    ]);
    let rows = read_log(&log);
    // Sorted by name: surprise, happiness, anger, disgust (turned 45 degrees).
    assert_eq!(rows.len(), 4);
    let on = |i: usize, au: &str| rows[i][&format!("AU{au}_c")] == "1";
    // Measured AUxx_p (AMD EPYC, AVX-512), against the population default:
    // surprise: AU12 0.38, AU25 1.00, AU26 0.94, AU04 0.00; happiness: AU12 0.74, AU04 0.00
    // (0.39 while brow position counted against the population default), AU25 1.00; anger:
    // AU04 0.64 from the furrows between her brows, AU17 0.97, AU12 0.00; disgust: AU04
    // 1.00 (brows lowered and furrowed), AU26 0.03 (1.00 before the jaw drop needed parted
    // lips), AU12 0.00.
    assert!(on(1, "12") && !on(0, "12") && !on(2, "12") && !on(3, "12"));
    assert!(on(0, "25") && on(0, "26") && !on(3, "26"));
    assert!(on(2, "04") && !on(0, "04") && !on(1, "04") && on(2, "17"));
}

#[test]
fn smiling_strangers_show_no_frown() {
    // Five people smiling in one photo, none of them the population default's man. Brow
    // position against his brows read AU04 on three of them (AU04_p 0.56, 0.57, 0.76); the
    // furrows between their brows are as smooth as his. Measured: AU04_p at most 0.08.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("group.csv");
    facs_ok(&[
        "run",
        "--input",
        "tests/fixtures/multi_face.jpg",
        "--emotion",
        "none",
        "--log",
        log.to_str().unwrap(),
    ]);
    let rows = read_log(&log);
    assert_eq!(rows.len(), 5);
    for r in &rows {
        assert_eq!(
            r["AU04_c"], "0",
            "face {}: AU04_p {}",
            r["face_id"], r["AU04_p"]
        );
    }
    // The four broad, open-mouthed smiles read as AU12 (measured 0.51-0.74); the boy at
    // the back barely smiles with his mouth closed (0.00).
    let smiles = rows.iter().filter(|r| r["AU12_c"] == "1").count();
    assert_eq!(smiles, 4);
}

#[test]
fn a_calibration_file_for_another_model_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let cal = dir.path().join("old.json");
    let out = facs(&[
        "calibrate",
        "--input",
        "tests/fixtures/single_face",
        "--calibrate-secs",
        "0.2",
        "--out",
        cal.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&cal).unwrap();
    std::fs::write(
        &cal,
        text.replace(facs::calibrate::GEOMETRY_MODEL, "facs-geometric-au-v0"),
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
    facs_ok(&[
        "run",
        "--input",
        "synthetic:faces=1,face=30,frames=5",
        "--min-face",
        "20",
        "--log",
        log.to_str().unwrap(),
    ]);
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
