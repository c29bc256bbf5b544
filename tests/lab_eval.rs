//! `facs eval --labels`: scoring a log, or a run on footage, against frames labelled by eye.
//! tests/fixtures/wolfgang/ holds 15 crying frames (mouth closed, files 000000..000056) then
//! 14 laughing ones (mouth open, 000256..000464), sorted by name: log frames 1..=15 and
//! 16..=29.

use std::path::Path;
use std::process::Output;

mod common;
use common::facs;

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Frames in tests/fixtures/wolfgang/, and how many of them (the first) show crying.
const FRAMES: usize = 29;
const CRYING: usize = 15;

/// Lips apart (AU25) on the laughing frames only; the emotion as seen.
fn write_labels(path: &Path) {
    let mut text = String::from("frame,AU25,AU15,emotion,note\n");
    for f in 1..=CRYING {
        text.push_str(&format!("{f},0,,sadness,crying\n"));
    }
    for f in CRYING + 1..=FRAMES {
        text.push_str(&format!("{f},1,,happiness,laughing\n"));
    }
    std::fs::write(path, text).unwrap();
}

fn report_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn au25(report: &serde_json::Value) -> &serde_json::Value {
    report["aus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["au"] == 25)
        .unwrap()
}

#[test]
fn a_log_and_a_run_on_the_footage_score_alike_against_labelled_frames() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let labels = d.join("labels.csv");
    write_labels(&labels);
    let log = d.join("run.csv");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    ok(&facs(&[
        "run",
        "--input",
        "tests/fixtures/wolfgang",
        "--fps",
        "23.976",
        "--log",
        &s(&log),
    ]));
    let from_log = d.join("from_log");
    let out = facs(&[
        "eval",
        "--labels",
        &s(&labels),
        "--log",
        &s(&log),
        "--out",
        &s(&from_log),
    ]);
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not scored") && stderr.contains("AU15"),
        "{stderr}"
    );
    let r = report_json(&from_log);
    assert_eq!(r["samples"], FRAMES);
    let a = au25(&r);
    // Measured (AMD EPYC, AVX-512), geometric AUs: AU25 present on 14 of 14 laughing frames
    // and on none of the 15 crying ones (tests/au_geometry.rs has the same frames), so
    // precision = recall = 1; the bounds allow 2 misses and 1 false alarm.
    assert_eq!(a["support"], FRAMES - CRYING);
    assert_eq!(a["known"], FRAMES);
    assert!(a["recall"].as_f64().unwrap() >= 12.0 / 14.0, "{a}");
    assert!(a["precision"].as_f64().unwrap() >= 12.0 / 13.0, "{a}");
    // Only AU25 was labelled: the macro average is over it alone.
    assert_eq!(r["macro_f1_aus"], 1);
    // Every labelled frame has an emotion label and a face.
    let confusion = &r["emotion"]["confusion"]["counts"];
    let total: u64 = confusion
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(total, FRAMES as u64);
    let md = std::fs::read_to_string(from_log.join("report.md")).unwrap();
    assert!(md.starts_with("# Scores on labelled frames"), "{md}");
    for f in ["pr_curves.png", "emotion_confusion.png", "matching.json"] {
        assert!(from_log.join(f).is_file(), "{f}");
    }
    let matching: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(from_log.join("matching.json")).unwrap())
            .unwrap();
    assert_eq!(matching["with_face"], FRAMES);

    // The same footage run by eval itself: the same offline run, so the same scores.
    let from_video = d.join("from_video");
    ok(&facs(&[
        "eval",
        "--labels",
        &s(&labels),
        "--video",
        "tests/fixtures/wolfgang",
        "--fps",
        "23.976",
        "--out",
        &s(&from_video),
    ]));
    assert!(from_video.join("run.csv").is_file());
    let v = report_json(&from_video);
    assert_eq!(v["aus"], r["aus"]);
    assert_eq!(v["emotion"], r["emotion"]);
}

#[test]
fn labels_that_do_not_fit_the_log_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let log = d.join("run.csv");
    ok(&facs(&[
        "run",
        "--input",
        "tests/fixtures/single_face/000000.jpg",
        "--log",
        &s(&log),
    ]));
    let cases = [
        ("frame,AU12\n0,1\n", "line 2: frame \"0\""),
        (
            "frame,AU12\n40,1\n41,0\n",
            "none of its 2 frames is in the log",
        ),
        ("image,AU12\na.jpg,1\n", "no `frame` column"),
    ];
    for (text, want) in cases {
        let labels = d.join("labels.csv");
        std::fs::write(&labels, text).unwrap();
        let report = d.join("report");
        let out = facs(&[
            "eval",
            "--labels",
            &s(&labels),
            "--log",
            &s(&log),
            "--out",
            &s(&report),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text:?}");
        assert!(
            stderr.contains(want) && stderr.contains("labels.csv"),
            "{text:?}: {stderr}"
        );
        assert!(
            !report.join("report.json").exists(),
            "nothing written on a refusal"
        );
    }
    // --labels alone has nothing to score.
    let out = facs(&["eval", "--labels", "x.csv", "--out", &s(&d.join("r"))]);
    assert!(!out.status.success());
}

#[test]
fn a_log_is_drawn_as_lanes_over_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let log = d.join("run.csv");
    ok(&facs(&[
        "run",
        "--input",
        "tests/fixtures/wolfgang",
        "--fps",
        "23.976",
        "--log",
        &s(&log),
    ]));
    let png = d.join("fig.png");
    let out = facs(&["plot", &s(&log), "--out", &s(&png)]);
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("face 0 (29 of 29 frames)"), "{stdout}");
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!(img.width(), 1400);
    // 11 AU lanes, happy and the top emotion, 46 px each, under the title band.
    assert!(img.height() > 13 * 46, "{}", img.height());
    // Not a blank canvas: well over a tenth of the pixels are drawn on.
    let drawn = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(
        drawn * 10 > (img.width() * img.height()) as usize,
        "{drawn}"
    );
    // A face that is not in the log is refused, and no figure is left behind.
    let other = d.join("other.png");
    let out = facs(&["plot", &s(&log), "--out", &s(&other), "--face", "3"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("face 3 is in no frame"));
    assert!(!other.exists());
}
