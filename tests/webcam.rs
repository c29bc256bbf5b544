//! `facs live` through the ffmpeg camera backend (every build has it), driven by a fake
//! device: ffmpeg's `lavfi` `movie` source plays a bundled clip at its own rate, as a camera
//! delivers frames. CI installs ffmpeg (.ci/run).

mod common;

use common::{facs, root};

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn clip_device() -> String {
    format!(
        "lavfi:movie={}",
        root().join("tests/fixtures/single_face_30f.mp4").display()
    )
}

/// `facs live` on the bundled clip played as a camera, at 320x240, for `frames` frames.
fn live_clip(log: &std::path::Path, frames: u32) -> std::process::Output {
    let device = clip_device();
    let frames = frames.to_string();
    facs(&[
        "live",
        "--headless",
        "--device",
        &device,
        "--size",
        "320x240",
        "--max-frames",
        &frames,
        "--log",
        log.to_str().unwrap(),
    ])
}

fn sidecar(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_fake_device_is_read_as_a_camera() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cam.csv");
    let out = live_clip(&log, 20);
    assert!(out.status.success(), "{}", text(&out));
    let meta = sidecar(&dir.path().join("cam.meta.json"));
    assert_eq!(meta["source"]["kind"], "camera");
    // ffmpeg scales the device to the size asked for.
    assert_eq!(meta["source"]["width"], 320);
    assert_eq!(meta["source"]["height"], 240);
    let s = &meta["summary"];
    // A live run may drop frames on a busy host, but every frame read is accounted for.
    assert_eq!(s["frames_read"], 20, "{s}");
    let analysed = s["frames_analysed"].as_u64().unwrap();
    let dropped = s["frames_dropped"].as_u64().unwrap();
    assert_eq!(analysed + dropped, 20, "{s}");
    assert!(analysed >= 1, "{s}");
    // The clip shows one face throughout: found on every analysed frame (13/13 and
    // 38/38 measured on a busy host).
    assert_eq!(s["frames_with_faces"].as_u64().unwrap(), analysed, "{s}");
    let rows = std::fs::read_to_string(&log).unwrap().lines().count() - 1;
    assert_eq!(rows as u64, analysed);
    assert!(s["gaps"].as_array().unwrap().is_empty(), "{s}");
}

#[test]
fn a_device_whose_stream_ends_is_reopened_and_the_gap_recorded() {
    // The 30-frame clip ends; the capture stage reopens the device (the clip starts
    // again) and the run reads on to 45 frames, exiting 3 (damaged input).
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cam.csv");
    let out = live_clip(&log, 45);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let meta = sidecar(&dir.path().join("cam.meta.json"));
    let gaps = meta["summary"]["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["after_frame"], 30);
    assert!(
        gaps[0]["error"].as_str().unwrap().contains("stream ended"),
        "{gaps:?}"
    );
    assert_eq!(meta["summary"]["frames_read"], 45);
}

#[test]
fn a_missing_camera_is_named_with_the_cameras_found() {
    let out = facs(&[
        "live",
        "--headless",
        "--device",
        "/dev/video97",
        "--max-frames",
        "5",
    ]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("/dev/video97"), "{t}");
    assert!(t.contains("cameras found"), "{t}");
    // The native backend cannot take an ffmpeg device.
    let out = facs(&[
        "live",
        "--headless",
        "--camera-backend",
        "native",
        "--device",
        "lavfi:testsrc2",
        "--max-frames",
        "5",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("nokhwa opens cameras by number"),
        "{}",
        text(&out)
    );
}

#[test]
fn cameras_are_listed() {
    let out = facs(&["live", "--list"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = String::from_utf8_lossy(&out.stdout);
    // This machine may or may not have cameras: either a line per device or the note.
    assert!(
        t.trim() == "no cameras found" || t.lines().all(|l| l.starts_with("/dev/video")),
        "{t}"
    );
}
