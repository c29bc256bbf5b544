//! `--annotate out.mp4`: drawn frames as an H.264 video through ffmpeg, and
//! `--annotate-every N` for videos and PNG folders; an encoder that is missing or fails ends
//! the run with a clear error and leaves the CSV log whole.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{facs, root};

/// Frames in tests/fixtures/single_face_30f.mp4 (`ffprobe -count_frames`, fixture README).
const CLIP_FRAMES: u64 = 30;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Data rows of a CSV log (its header left out).
fn log_rows(log: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(log)
        .unwrap()
        .records()
        .map(|r| r.unwrap())
        .collect()
}

/// Frames ffprobe decodes from a video, and its frame rate (`r_frame_rate`).
fn probe(video: &Path) -> (u64, String, String) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args([
            "-show_entries",
            "stream=nb_read_frames,r_frame_rate,codec_name",
        ])
        .args(["-of", "json"])
        .arg(video)
        .output()
        .expect("ffprobe");
    assert!(out.status.success(), "ffprobe {}", video.display());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["streams"][0];
    (
        s["nb_read_frames"].as_str().unwrap().parse().unwrap(),
        s["r_frame_rate"].as_str().unwrap().to_string(),
        s["codec_name"].as_str().unwrap().to_string(),
    )
}

fn run_clip(log: &Path, annotate: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--input",
        "tests/fixtures/single_face_30f.mp4",
        "--emotion",
        "none",
        "--log",
        p(log),
        "--annotate",
        p(annotate),
    ];
    args.extend_from_slice(extra);
    facs(&args)
}

#[test]
fn the_video_holds_one_frame_per_logged_frame_at_the_source_rate() {
    let dir = tempfile::tempdir().unwrap();
    let (log, video) = (dir.path().join("a.csv"), dir.path().join("sub/a.mp4"));
    let out = run_clip(&log, &video, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let frames: std::collections::BTreeSet<String> =
        log_rows(&log).iter().map(|r| r[0].to_string()).collect();
    assert_eq!(frames.len() as u64, CLIP_FRAMES);
    let (count, rate, codec) = probe(&video);
    assert_eq!(count, frames.len() as u64);
    assert_eq!(rate, "30/1");
    assert_eq!(codec, "h264");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(30 frames)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Without --overwrite an existing video is refused before anything is written.
    let before = std::fs::read(&log).unwrap();
    let again = run_clip(&dir.path().join("b.csv"), &video, &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--overwrite"), "{}", stderr(&again));
    assert!(!dir.path().join("b.csv").exists());
    assert_eq!(std::fs::read(&log).unwrap(), before);
}

#[test]
fn every_nth_frame_goes_to_the_video_and_to_the_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let (log, video) = (dir.path().join("a.csv"), dir.path().join("a.mkv"));
    let out = run_clip(&log, &video, &["--annotate-every", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let logged = log_rows(&log).len() as u64;
    assert_eq!(logged, CLIP_FRAMES);
    let (count, rate, _) = probe(&video);
    // ceil(30 / 4) = 8 frames (1, 5, ..., 29) at 30/4 = 7.5 fps.
    assert_eq!(count, logged.div_ceil(4));
    assert_eq!(rate, "15/2");
    let pngs = dir.path().join("pngs");
    let out = run_clip(&dir.path().join("b.csv"), &pngs, &["--annotate-every", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut names: Vec<String> = std::fs::read_dir(&pngs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len() as u64, CLIP_FRAMES.div_ceil(4));
    assert_eq!(names[..2], ["000001.png", "000005.png"]);
    // N must be at least 1, and means nothing without --annotate.
    let out = facs(&[
        "run",
        "--input",
        "x",
        "--annotate",
        "d",
        "--annotate-every",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = facs(&["run", "--input", "x", "--annotate-every", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--annotate"), "{}", stderr(&out));
}

/// A folder holding only an `ffmpeg` script (or nothing), to be the whole PATH of a run.
fn fake_path(script: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if let Some(body) = script {
        let f = dir.path().join("ffmpeg");
        std::fs::write(&f, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// `facs run` on the first 12 frames of the single-face folder (no ffmpeg needed to read
/// them) with PATH set to `path` only.
fn run_with_path(path: &Path, log: &Path, video: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_facs"))
        .args([
            "run",
            "--input",
            "tests/fixtures/single_face",
            "--max-frames",
            "12",
        ])
        .args([
            "--emotion",
            "none",
            "--log",
            p(log),
            "--annotate",
            p(video),
            "-y",
        ])
        .env("PATH", path)
        .current_dir(root())
        .output()
        .expect("facs runs")
}

#[test]
fn a_missing_encoder_is_reported_before_the_log_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let empty = fake_path(None);
    let log = dir.path().join("kept.csv");
    std::fs::write(&log, "an earlier log\n").unwrap();
    let out = run_with_path(empty.path(), &log, &dir.path().join("a.mp4"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("ffmpeg: not found on PATH"), "{err}");
    assert!(err.contains("--annotate"), "{err}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "an earlier log\n");
    assert!(!dir.path().join("a.mp4").exists());
}

#[test]
fn an_encoder_that_fails_ends_the_run_with_its_complaint_and_a_whole_log() {
    let dir = tempfile::tempdir().unwrap();
    // Says it has libx264, then fails on the first frame as a full disk would.
    let fake = fake_path(Some(
        "#!/bin/sh\ncase \"$*\" in *-encoders*) echo ' V....D libx264 fake'; exit 0;; esac\n\
         echo 'fake encoder: No space left on device' >&2\nexit 1\n",
    ));
    let log: PathBuf = dir.path().join("a.csv");
    let out = run_with_path(fake.path(), &log, &dir.path().join("a.mp4"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("ffmpeg: encoding") && err.contains("exit status: 1"),
        "{err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    // Every row written is whole: the header's column count in each.
    let header_len = csv::Reader::from_path(&log)
        .unwrap()
        .headers()
        .unwrap()
        .len();
    let rows = log_rows(&log);
    assert!(rows.len() <= 12);
    assert!(rows.iter().all(|r| r.len() == header_len));
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("a.meta.json")).unwrap())
            .unwrap();
    assert_eq!(sidecar["status"], "failed");
    assert!(sidecar["error"].as_str().unwrap().contains("No space left"));
}
