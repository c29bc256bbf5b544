//! End-to-end checks of what facs reads: video frames and their timestamps as the stream
//! has them (variable frame rate included), stills that are cut short, stills that carry an
//! EXIF orientation. The clips and photos are made here, at test time, in a temp dir:
//! videos with the ffmpeg command-line tools (tests that need them say so and pass without
//! them), photos from the bundled fixtures.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_facs");

/// Long enough for any of these runs on a slow, shared CI machine; reaching it is a hang.
const TIMEOUT: Duration = Duration::from_secs(120);

/// How far a logged timestamp may be from ffprobe's: the log prints 3 decimals (0.5 ms),
/// ffprobe 6 decimals; anything over 2 ms is a different frame time, not rounding.
const TIMESTAMP_TOLERANCE_S: f64 = 0.002;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// Runs a command to its end with stdout/stderr in files (no pipe can fill up); kills it and
/// fails the test after [`TIMEOUT`].
fn run_to_end(cmd: &mut Command, dir: &Path, tag: &str) -> (Option<i32>, String, String) {
    let (out_path, err_path) = (
        dir.join(format!("{tag}.stdout")),
        dir.join(format!("{tag}.stderr")),
    );
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} still running after {TIMEOUT:?}; killed\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.code(), read(&out_path), read(&err_path))
}

/// `facs run --input <input> --log <dir>/<tag>.csv` plus `extra`; must succeed.
/// Returns the CSV path and stdout.
fn facs_run(input: &Path, dir: &Path, tag: &str, extra: &[&str]) -> (PathBuf, String) {
    facs_run_ending(input, dir, tag, extra, 0)
}

/// As [`facs_run`], for a run that must end with exit code `expected` (3: completed on
/// damaged input, see README "Exit codes").
fn facs_run_ending(
    input: &Path,
    dir: &Path,
    tag: &str,
    extra: &[&str],
    expected: i32,
) -> (PathBuf, String) {
    let csv = dir.join(format!("{tag}.csv"));
    let mut cmd = Command::new(BIN);
    cmd.current_dir(root())
        .args(["run", "--input"])
        .arg(input)
        .arg("--log")
        .arg(&csv)
        .args(extra);
    let (code, stdout, stderr) = run_to_end(&mut cmd, dir, tag);
    assert_eq!(
        code,
        Some(expected),
        "facs run on {} ended otherwise\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        input.display()
    );
    (csv, stdout)
}

/// One CSV log row's frame number, timestamp, success flag and face box.
#[derive(Debug)]
struct Row {
    frame: u64,
    timestamp: f64,
    success: u8,
    /// x, y, w, h; None in a row without a face.
    bbox: Option<[f64; 4]>,
}

fn read_rows(csv: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(csv).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    assert_eq!(
        header[..5],
        ["frame", "face_id", "timestamp", "confidence", "success"]
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Row {
                frame: f[0]
                    .parse()
                    .unwrap_or_else(|_| panic!("bad frame in {l:?}")),
                timestamp: f[2]
                    .parse()
                    .unwrap_or_else(|_| panic!("bad timestamp in {l:?}")),
                success: f[4]
                    .parse()
                    .unwrap_or_else(|_| panic!("bad success in {l:?}")),
                bbox: (f[5..9]
                    .iter()
                    .map(|v| v.parse().ok())
                    .collect::<Option<Vec<f64>>>())
                .map(|b| [b[0], b[1], b[2], b[3]]),
            }
        })
        .collect()
}

/// Each logged frame's timestamp (every row of a frame must carry the same one).
fn frame_times(rows: &[Row]) -> BTreeMap<u64, f64> {
    let mut m = BTreeMap::new();
    for r in rows {
        let t = *m.entry(r.frame).or_insert(r.timestamp);
        assert_eq!(t, r.timestamp, "frame {} has two timestamps", r.frame);
    }
    m
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

fn sidecar(csv: &Path) -> Value {
    read_json(&csv.with_extension("meta.json"))
}

// ---------------------------------------------------------------------------------------
// Video: frames and timestamps as the stream has them
// ---------------------------------------------------------------------------------------

fn tool_runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn ffmpeg_encoders() -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg -encoders");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn has_encoder(list: &str, name: &str) -> bool {
    list.lines()
        .any(|l| l.split_whitespace().nth(1) == Some(name))
}

fn ffmpeg<I, S>(args: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-y"]).args(args);
    let out: Output = cmd.stdin(Stdio::null()).output().expect("ffmpeg");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A video codec to make the test clips with.
struct Codec {
    /// ffmpeg encoder name.
    encoder: &'static str,
    /// Extra encoder options (quiet x265).
    options: &'static [&'static str],
    /// Container extension.
    ext: &'static str,
}

impl Codec {
    fn args(&self) -> Vec<&'static str> {
        let mut a = vec!["-c:v", self.encoder];
        a.extend_from_slice(self.options);
        a.extend_from_slice(&["-pix_fmt", "yuv420p"]);
        a
    }
}

/// H.264 (libx264, or MPEG-4 part 2 where Debian's ffmpeg lacks it) in .mp4, and HEVC
/// (libx265) in .mov like a phone's footage; a missing HEVC encoder is said and skipped.
fn codecs() -> Vec<Codec> {
    let list = ffmpeg_encoders();
    let mut v = Vec::new();
    if has_encoder(&list, "libx264") {
        v.push(Codec {
            encoder: "libx264",
            options: &[],
            ext: "mp4",
        });
    } else {
        println!("note: no libx264 in this ffmpeg; the H.264 variant uses mpeg4 instead");
        v.push(Codec {
            encoder: "mpeg4",
            options: &[],
            ext: "mp4",
        });
    }
    if has_encoder(&list, "libx265") {
        v.push(Codec {
            encoder: "libx265",
            options: &["-x265-params", "log-level=error"],
            ext: "mov",
        });
    } else {
        println!("note: no libx265 in this ffmpeg; the HEVC variant is skipped");
    }
    v
}

/// Two segments at 10 and 30 fps (12 + 24 frames), joined by the concat demuxer without
/// re-encoding: the frame interval changes from 100 ms to 33 ms halfway.
fn make_concat_clip(dir: &Path, codec: &Codec) -> PathBuf {
    let mut list = String::new();
    for (name, rate, frames) in [("seg10", 10, 12), ("seg30", 30, 24)] {
        let seg = dir.join(format!("{name}_{}.{}", codec.encoder, codec.ext));
        let mut args: Vec<String> = vec![
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("testsrc=size=160x120:rate={rate}"),
            "-frames:v".into(),
            frames.to_string(),
        ];
        args.extend(codec.args().iter().map(|s| s.to_string()));
        args.push(seg.display().to_string());
        ffmpeg(&args);
        list.push_str(&format!("file '{}'\n", seg.display()));
    }
    let list_path = dir.join(format!("concat_{}.txt", codec.encoder));
    std::fs::write(&list_path, list).unwrap();
    let out = dir.join(format!("concat_{}.{}", codec.encoder, codec.ext));
    ffmpeg([
        OsStr::new("-f"),
        OsStr::new("concat"),
        OsStr::new("-safe"),
        OsStr::new("0"),
        OsStr::new("-i"),
        list_path.as_os_str(),
        OsStr::new("-c"),
        OsStr::new("copy"),
        out.as_os_str(),
    ]);
    out
}

/// 40 frames whose times drift (quadratically) and jitter (a sine of the frame number) at
/// millisecond resolution: no two intervals alike.
fn make_jittered_clip(dir: &Path, codec: &Codec) -> PathBuf {
    let out = dir.join(format!("jitter_{}.{}", codec.encoder, codec.ext));
    let mut args: Vec<String> = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=30",
        "-frames:v",
        "40",
        "-vf",
        "settb=1/1000,setpts='(N/30+N*N/1200+0.01*sin(1.7*N))/TB'",
        "-vsync",
        "vfr",
        "-enc_time_base",
        "1/1000",
    ]
    .map(String::from)
    .to_vec();
    args.extend(codec.args().iter().map(|s| s.to_string()));
    args.push(out.display().to_string());
    ffmpeg(&args);
    out
}

/// What ffprobe says of a clip's first video stream: frames decoded (`-count_frames`),
/// each frame's best-effort time, and the header's rates.
struct Probe {
    frames: u64,
    times: Vec<f64>,
    r_frame_rate: String,
    avg_frame_rate: String,
}

fn ffprobe_json(path: &Path, args: &[&str]) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-of", "json"])
        .args(args)
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("ffprobe");
    assert!(out.status.success(), "ffprobe {args:?} {}", path.display());
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}

fn probe(path: &Path) -> Probe {
    let s = ffprobe_json(
        path,
        &[
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames,r_frame_rate,avg_frame_rate",
        ],
    );
    let stream = &s["streams"][0];
    let f = ffprobe_json(path, &["-show_entries", "frame=best_effort_timestamp_time"]);
    let times = f["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|fr| {
            fr["best_effort_timestamp_time"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("no best-effort time in {fr}"))
        })
        .collect();
    let text = |k: &str| stream[k].as_str().unwrap_or_default().to_string();
    Probe {
        frames: text("nb_read_frames").parse().expect("nb_read_frames"),
        times,
        r_frame_rate: text("r_frame_rate"),
        avg_frame_rate: text("avg_frame_rate"),
    }
}

/// The log of `clip` has one frame per decoded frame, numbered 1.., each stamped with its
/// presentation time relative to the first frame; the sidecar records the rates.
fn assert_log_follows_the_stream(clip: &Path, dir: &Path, tag: &str) {
    let p = probe(clip);
    assert_eq!(
        p.times.len() as u64,
        p.frames,
        "ffprobe disagrees with itself"
    );
    let (csv, _) = facs_run(clip, dir, tag, &[]);
    let rows = read_rows(&csv);
    let times = frame_times(&rows);
    let frames: Vec<u64> = times.keys().copied().collect();
    assert_eq!(
        frames,
        (1..=p.frames).collect::<Vec<_>>(),
        "{tag}: one logged frame per decoded frame (ffprobe -count_frames: {})",
        p.frames
    );
    // testsrc has no face: exactly one (success=0) row per frame.
    assert_eq!(rows.len() as u64, p.frames, "{tag}: rows");
    assert!(
        rows.iter().all(|r| r.success == 0),
        "{tag}: a face in testsrc?"
    );
    let t0 = p.times[0];
    for (i, (&frame, &logged)) in times.iter().enumerate() {
        let expected = p.times[i] - t0;
        assert!(
            (logged - expected).abs() <= TIMESTAMP_TOLERANCE_S,
            "{tag} frame {frame}: timestamp {logged}, ffprobe says {expected:.6}"
        );
    }
    let timing = &sidecar(&csv)["source"]["timing"];
    assert_eq!(
        timing["r_frame_rate"],
        p.r_frame_rate.as_str(),
        "{timing:#}"
    );
    assert_eq!(
        timing["avg_frame_rate"],
        p.avg_frame_rate.as_str(),
        "{timing:#}"
    );
    assert_eq!(timing["variable_frame_rate"], true, "{tag}: {timing:#}");
    let measured = timing["measured_fps"].as_f64().expect("measured_fps");
    let duration = timing["duration_s"].as_f64().expect("duration_s");
    assert!(
        (measured - p.frames as f64 / duration).abs() < 1e-6,
        "{tag}: measured {measured} fps from {} frames over {duration} s",
        p.frames
    );
}

#[test]
fn variable_frame_rate_video_logs_each_frame_once_at_its_own_time() {
    if !(tool_runs("ffmpeg") && tool_runs("ffprobe")) {
        println!("note: ffmpeg/ffprobe not found; variable-frame-rate test skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for codec in codecs() {
        let concat = make_concat_clip(tmp.path(), &codec);
        assert_log_follows_the_stream(&concat, tmp.path(), &format!("concat_{}", codec.encoder));
        let jitter = make_jittered_clip(tmp.path(), &codec);
        assert_log_follows_the_stream(&jitter, tmp.path(), &format!("jitter_{}", codec.encoder));
    }
}

#[test]
fn constant_rate_clip_is_recorded_as_constant() {
    if !(tool_runs("ffmpeg") && tool_runs("ffprobe")) {
        println!("note: ffmpeg/ffprobe not found; test skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let clip = fixture("no_face_30f.mp4");
    let (csv, _) = facs_run(&clip, tmp.path(), "no_face", &[]);
    let times = frame_times(&read_rows(&csv));
    assert_eq!(times.len(), 30);
    for (&frame, &t) in &times {
        // 24 fps: frame n at (n - 1) / 24 s, printed with 3 decimals.
        assert!(
            (t - (frame - 1) as f64 / 24.0).abs() <= 0.0006,
            "frame {frame}: {t}"
        );
    }
    let source = &sidecar(&csv)["source"];
    assert_eq!(source["fps"], 24.0);
    let timing = &source["timing"];
    assert_eq!(timing["r_frame_rate"], "24/1", "{timing:#}");
    assert_eq!(timing["avg_frame_rate"], "24/1", "{timing:#}");
    assert_eq!(timing["duration_s"], 1.25, "{timing:#}");
    assert_eq!(timing["measured_fps"], 24.0, "{timing:#}");
    assert_eq!(timing["variable_frame_rate"], false, "{timing:#}");
}

#[test]
fn truncated_video_logs_what_decodes_and_says_it_is_short() {
    if !(tool_runs("ffmpeg") && tool_runs("ffprobe")) {
        println!("note: ffmpeg/ffprobe not found; test skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // The header (moved to the front, +faststart) and the first 11 frames' data of 30;
    // measured with ffmpeg 5.1: 11 frames decode from the first 12000 bytes.
    let whole = std::fs::read(fixture("single_face_30f.mp4")).unwrap();
    let cut = tmp.path().join("cut.mp4");
    std::fs::write(&cut, &whole[..12_000]).unwrap();
    // A video that ends early is damaged input: the run completes with exit code 3.
    let (csv, stdout) = facs_run_ending(&cut, tmp.path(), "cut", &[], 3);
    let times = frame_times(&read_rows(&csv));
    assert!(
        (1..30).contains(&times.len()),
        "{} frames logged from a cut file\n{stdout}",
        times.len()
    );
    let frames: Vec<u64> = times.keys().copied().collect();
    assert_eq!(frames, (1..=frames.len() as u64).collect::<Vec<_>>());
    for (&frame, &t) in &times {
        assert!(
            (t - (frame - 1) as f64 / 30.0).abs() <= 0.0006,
            "frame {frame}: {t}"
        );
    }
    let warning = format!(
        "decoded {} of the 30 frames the file announces",
        times.len()
    );
    assert!(stdout.contains(&warning), "no {warning:?} in\n{stdout}");
    let warnings = &sidecar(&csv)["summary"]["warnings"];
    assert!(
        warnings[0].as_str().unwrap_or_default().contains(&warning),
        "sidecar warnings: {warnings}"
    );
}

// ---------------------------------------------------------------------------------------
// Stills: cut short, or turned by their EXIF orientation
// ---------------------------------------------------------------------------------------

#[test]
fn truncated_jpeg_is_skipped_named_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    for name in ["000000.jpg", "000001.jpg", "000003.jpg"] {
        std::fs::copy(fixture("single_face").join(name), frames.join(name)).unwrap();
    }
    // The first third of a good frame: headers intact, two thirds of the picture missing
    // (a copy cut off by a full disk or a dropped connection).
    let whole = std::fs::read(fixture("single_face").join("000002.jpg")).unwrap();
    std::fs::write(frames.join("000002.jpg"), &whole[..whole.len() / 3]).unwrap();

    // A skipped frame is damaged input: the run completes with exit code 3.
    let (csv, stdout) = facs_run_ending(&frames, tmp.path(), "truncated", &["--fps", "30"], 3);
    assert!(
        stdout.contains("000002.jpg"),
        "the cut-off file is not named in the summary\n{stdout}"
    );
    let logged: Vec<u64> = frame_times(&read_rows(&csv)).keys().copied().collect();
    assert_eq!(logged, vec![1, 2, 4], "rows for exactly the whole frames");
    let s = &sidecar(&csv)["summary"];
    assert_eq!(s["frames_skipped"], 1, "{s:#}");
    assert_eq!(s["frames_analysed"], 3, "{s:#}");
    let skipped = s["skipped"][0].as_str().unwrap_or_default();
    // The frame, the file and the cause, each said once:
    // "frame 3 (<dir>/000002.jpg): truncated JPEG: the file ends ...".
    let named = frames.join("000002.jpg").display().to_string();
    assert_eq!(
        skipped.matches("000002.jpg").count(),
        1,
        "the file is named once: {skipped}"
    );
    assert!(
        skipped.starts_with(&format!("frame 3 ({named}): truncated JPEG: ")),
        "skipped: {skipped}"
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("skipped "))
        .unwrap_or_else(|| panic!("no skipped line in\n{stdout}"));
    assert_eq!(
        line,
        format!("skipped {skipped}"),
        "summary and sidecar differ"
    );
}

/// `jpeg` with an EXIF APP1 segment right after its SOI marker holding one IFD0 entry:
/// Orientation (tag 0x0112, SHORT) = `orientation`. Big-endian TIFF header.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    assert_eq!(jpeg[..2], [0xFF, 0xD8], "not a JPEG");
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\x00\x2A"); // byte order, magic 42
    tiff.extend_from_slice(&8u32.to_be_bytes()); // IFD0 right after this header
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padded to 4 bytes
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no IFD1
    let mut payload = b"Exif\x00\x00".to_vec();
    payload.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn jpeg_bytes(img: &image::RgbImage) -> Vec<u8> {
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 95)
        .encode_image(img)
        .unwrap();
    buf
}

/// The face boxes in a log.
fn face_boxes(csv: &Path) -> Vec<[f64; 4]> {
    read_rows(csv).iter().filter_map(|r| r.bbox).collect()
}

fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let ix = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let iy = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    let inter = ix.max(0.0) * iy.max(0.0);
    inter / (a[2] * a[3] + b[2] * b[3] - inter)
}

#[test]
fn exif_orientation_of_a_still_is_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let upright = image::open(fixture("single_face").join("000000.jpg"))
        .unwrap()
        .into_rgb8();
    // Orientation 6: the stored picture must be turned 90 degrees clockwise to stand
    // upright, as a phone held in portrait stores it. So store it turned anticlockwise.
    let stored = image::imageops::rotate270(&upright);
    let upright_path = tmp.path().join("upright.jpg");
    let phone_path = tmp.path().join("phone.jpg");
    std::fs::write(&upright_path, jpeg_bytes(&upright)).unwrap();
    std::fs::write(&phone_path, with_exif_orientation(&jpeg_bytes(&stored), 6)).unwrap();

    let (upright_csv, _) = facs_run(&upright_path, tmp.path(), "upright", &[]);
    let (phone_csv, _) = facs_run(&phone_path, tmp.path(), "phone", &[]);
    let upright_faces = face_boxes(&upright_csv);
    let phone_faces = face_boxes(&phone_csv);
    assert_eq!(upright_faces.len(), 1, "the upright frame shows one face");
    assert_eq!(
        phone_faces.len(),
        upright_faces.len(),
        "the photo with orientation 6 is analysed turned upright: {phone_faces:?}"
    );
    // Read sideways, the detector may still report a weak "face" elsewhere (measured:
    // confidence 0.35 at x=89, y=268 of the 360x640 stored picture: IoU 0 with the upright
    // face). Turned upright, it is the same face in the same place; measured IoU 0.91 (the
    // two JPEGs' artefacts differ: 194,94 193x193 against 202,95 184x184). 0.5 is the usual
    // same-object criterion.
    let overlap = iou(phone_faces[0], upright_faces[0]);
    assert!(
        overlap > 0.5,
        "face at {:?}, upright at {:?} (IoU {overlap:.2})",
        phone_faces[0],
        upright_faces[0]
    );
    let source = &sidecar(&phone_csv)["source"];
    assert_eq!(
        (source["width"].as_u64(), source["height"].as_u64()),
        (
            Some(u64::from(upright.width())),
            Some(u64::from(upright.height()))
        ),
        "the sidecar gives the upright size"
    );
}

// ---------------------------------------------------------------------------------------
// Folders of stills: one frame sequence, or a set of unrelated photos
// ---------------------------------------------------------------------------------------

/// One CSV log row's frame number, face id (None without a face) and source file.
#[derive(Debug, PartialEq)]
struct FileRow {
    frame: u64,
    face_id: Option<u32>,
    file: String,
}

fn read_file_rows(csv: &Path) -> Vec<FileRow> {
    let text = std::fs::read_to_string(csv).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no {name} column in {header:?}"))
    };
    let (frame_c, id_c, file_c) = (col("frame"), col("face_id"), col("file"));
    lines
        .map(|l| {
            // The test files' names hold no comma or quote: no cell is quoted.
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), header.len(), "{l}");
            FileRow {
                frame: f[frame_c].parse().unwrap(),
                face_id: f[id_c].parse().ok(),
                file: f[file_c].to_string(),
            }
        })
        .collect()
}

/// file -> the face ids of its rows, in log order.
fn ids_per_file(rows: &[FileRow]) -> BTreeMap<String, Vec<u32>> {
    let mut m: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for r in rows {
        m.entry(r.file.clone()).or_default().extend(r.face_id);
    }
    m
}

/// Three photos of different people under unrelated names: two 640x360 frames of two clips
/// (one man each, face near the middle) and the 1000x667 group photo (5 faces).
fn photo_set(dir: &Path) -> PathBuf {
    let photos = dir.join("photos");
    std::fs::create_dir(&photos).unwrap();
    for (from, to) in [
        (fixture("single_face").join("000010.jpg"), "alice.jpg"),
        (fixture("wolfgang").join("000336.jpg"), "bob.jpg"),
        (fixture("multi_face.jpg"), "group.jpg"),
    ] {
        std::fs::copy(&from, photos.join(to)).unwrap();
    }
    photos
}

#[test]
fn a_folder_of_unrelated_photos_is_analysed_photo_by_photo() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = photo_set(tmp.path());
    // --full-every 10: a sequence's frames 2 to 10 are searched only around the faces
    // already known, and Bob, read after Alice as one sequence, is missed (measured: no
    // face in bob.jpg). Every photo of a set is searched in full.
    let (csv, stdout) = facs_run(&photos, tmp.path(), "photos", &["--full-every", "10"]);
    let rows = read_file_rows(&csv);
    let files: Vec<&str> = rows.iter().map(|r| r.file.as_str()).collect();
    // In name order, each row naming its photo; the group photo has 5 faces.
    assert_eq!(
        files,
        [
            "alice.jpg",
            "bob.jpg",
            "group.jpg",
            "group.jpg",
            "group.jpg",
            "group.jpg",
            "group.jpg"
        ],
        "{stdout}"
    );
    let frames: Vec<u64> = rows.iter().map(|r| r.frame).collect();
    assert_eq!(frames, [1, 2, 3, 3, 3, 3, 3]);
    // Nothing is carried from one photo to the next: each photo's faces are 0..n.
    let ids = ids_per_file(&rows);
    assert_eq!(ids["alice.jpg"], [0]);
    assert_eq!(ids["bob.jpg"], [0]);
    let mut group = ids["group.jpg"].clone();
    group.sort_unstable();
    assert_eq!(group, [0, 1, 2, 3, 4]);
    // The sidecar says how the folder was read, and why.
    let stills = &sidecar(&csv)["source"]["stills"];
    assert_eq!(stills["read_as"], "photos", "{stills:#}");
    assert_eq!(stills["chosen"], "auto", "{stills:#}");
    assert!(
        stills["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("alice.jpg"),
        "{stills:#}"
    );
    assert!(stdout.contains("read as photos"), "{stdout}");

    // --stills sequence: the same photos as one sequence, tracked across files, as facs
    // read every folder before it told the two apart.
    let (seq_csv, _) = facs_run(
        &photos,
        tmp.path(),
        "as_sequence",
        &["--stills", "sequence"],
    );
    let seq_rows = read_file_rows(&seq_csv);
    let seq_ids = ids_per_file(&seq_rows);
    // Alice is face 0; Bob's box overlaps hers too little to be the same track (IoU 0.13
    // against the tracker's 0.3), so he is face 1; the group's faces are 2 to 6.
    assert_eq!(seq_ids["alice.jpg"], [0]);
    assert_eq!(seq_ids["bob.jpg"], [1]);
    let mut group = seq_ids["group.jpg"].clone();
    group.sort_unstable();
    assert_eq!(group, [2, 3, 4, 5, 6], "{seq_ids:?}");
    let stills = &sidecar(&seq_csv)["source"]["stills"];
    assert_eq!(stills["read_as"], "sequence", "{stills:#}");
    assert_eq!(stills["chosen"], "forced", "{stills:#}");
}

#[test]
fn a_numbered_frame_folder_is_a_sequence_unless_told_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let (csv, _) = facs_run(
        &fixture("wolfgang"),
        tmp.path(),
        "wolfgang",
        &["--fps", "25"],
    );
    let rows = read_file_rows(&csv);
    // 29 frames, one woman in each: one face followed through them all, id 0.
    assert_eq!(rows.len(), 29);
    assert!(rows.iter().all(|r| r.face_id == Some(0)), "{rows:?}");
    assert_eq!(rows[0].file, "000000.jpg");
    assert_eq!(rows[28].file, "000464.jpg");
    let stills = &sidecar(&csv)["source"]["stills"];
    assert_eq!(stills["read_as"], "sequence", "{stills:#}");
    assert_eq!(stills["chosen"], "auto", "{stills:#}");

    // Two different men as numbered frames of one size: by the rule, a sequence. Their
    // boxes overlap too little to be one track (IoU 0.13 against the tracker's 0.3), so
    // the second is a new face, id 1.
    let frames = tmp.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    std::fs::copy(
        fixture("single_face").join("000010.jpg"),
        frames.join("frame_1.jpg"),
    )
    .unwrap();
    std::fs::copy(
        fixture("wolfgang").join("000336.jpg"),
        frames.join("frame_2.jpg"),
    )
    .unwrap();
    let (csv, _) = facs_run(&frames, tmp.path(), "two_men", &[]);
    let rows = read_file_rows(&csv);
    let ids: Vec<(&str, Option<u32>)> = rows.iter().map(|r| (r.file.as_str(), r.face_id)).collect();
    assert_eq!(ids, [("frame_1.jpg", Some(0)), ("frame_2.jpg", Some(1))]);
    assert_eq!(sidecar(&csv)["source"]["stills"]["read_as"], "sequence");

    // --stills photos: each frame on its own, so each face is id 0 of its photo.
    let (csv, stdout) = facs_run(&frames, tmp.path(), "forced", &["--stills", "photos"]);
    let rows = read_file_rows(&csv);
    let ids: Vec<(&str, Option<u32>)> = rows.iter().map(|r| (r.file.as_str(), r.face_id)).collect();
    assert_eq!(ids, [("frame_1.jpg", Some(0)), ("frame_2.jpg", Some(0))]);
    let stills = &sidecar(&csv)["source"]["stills"];
    assert_eq!(stills["read_as"], "photos", "{stills:#}");
    assert_eq!(stills["chosen"], "forced", "{stills:#}");
    assert!(
        stdout.contains("read as photos (--stills photos)"),
        "{stdout}"
    );
}

#[test]
fn a_photo_set_refuses_first_seconds_calibration_before_writing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = photo_set(tmp.path());
    let csv = tmp.path().join("cal.csv");
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--input"])
        .arg(&photos)
        .args(["--calibrate-secs", "1", "--log"])
        .arg(&csv);
    let (code, stdout, stderr) = run_to_end(&mut cmd, tmp.path(), "cal");
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("read as a set of photos") && stderr.contains("--stills sequence"),
        "{stderr}"
    );
    assert!(!csv.exists(), "a run that never started left a log");
}

// ---------------------------------------------------------------------------------------
// Live sources: a camera that fails mid-stream
// ---------------------------------------------------------------------------------------

#[test]
fn a_camera_that_fails_mid_stream_is_reopened_and_the_gap_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    // A fake camera (the synthetic face at 100 fps): its stream breaks after frame 20, the
    // device refuses 3 attempts to reopen it, then comes back; 60 frames in all. Waits
    // between attempts of 5, 10, 20 ms (the real camera's: 0.25 s doubling to 4 s).
    let input = "fake-camera:frames=60,fail-after=20,down=3,backoff-ms=5,fps=100,size=320x240";
    let csv = tmp.path().join("cam.csv");
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--input", input, "--log"]).arg(&csv);
    let (code, stdout, stderr) = run_to_end(&mut cmd, tmp.path(), "cam");
    // Completed, with a hole in the input: damaged input, exit code 3.
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("failed after frame 20"), "{stdout}");
    assert!(stderr.contains("damaged input"), "{stderr}");

    // Every delivered frame once, numbered on across the gap, timestamps on one clock.
    let times = frame_times(&read_rows(&csv));
    assert_eq!(
        times.keys().copied().collect::<Vec<_>>(),
        (1..=60).collect::<Vec<_>>()
    );
    // Never backwards. Two frames may print the same time: a camera that fell behind
    // delivers its next frames at once, closer together than the log's 0.5 ms resolution.
    let t: Vec<f64> = times.values().copied().collect();
    assert!(t.windows(2).all(|w| w[1] >= w[0]), "{t:?}");
    assert!(times[&21] > times[&20], "{t:?}");

    let side = sidecar(&csv);
    assert_eq!(side["status"], "complete", "{side:#}");
    let s = &side["summary"];
    assert_eq!(s["completed"], true, "{s:#}");
    assert_eq!(s["frames_analysed"], 60, "{s:#}");
    let gaps = s["gaps"].as_array().expect("gaps");
    assert_eq!(gaps.len(), 1, "{s:#}");
    let gap = &gaps[0];
    assert_eq!(gap["after_frame"], 20, "{gap:#}");
    assert_eq!(gap["failed_reopens"], 3, "{gap:#}");
    assert!(
        gap["error"].as_str().unwrap().contains("stream lost"),
        "{gap:#}"
    );
    // The gap runs from frame 20's timestamp to frame 21's, as the log gives them (3
    // decimals), and the frames it cost are estimated from them at 100 fps.
    let (start, end) = (
        gap["start_s"].as_f64().unwrap(),
        gap["end_s"].as_f64().unwrap(),
    );
    assert!(
        (start - times[&20]).abs() <= 0.0005,
        "{gap:#} vs {}",
        times[&20]
    );
    assert!(
        (end - times[&21]).abs() <= 0.0005,
        "{gap:#} vs {}",
        times[&21]
    );
    let lost = gap["frames_lost"].as_u64().unwrap();
    assert_eq!(
        lost,
        (((end - start) * 100.0).round() as u64).saturating_sub(1)
    );
}
