//! A camera read through the `ffmpeg` command-line tool, so that every build of facs has a
//! webcam without build-time C dependencies: ffmpeg opens the device (v4l2, avfoundation,
//! dshow, or one of its generated `lavfi` sources), scales it to the requested size and
//! writes raw RGB frames to a pipe. Frames are stamped by the run's clock when they arrive,
//! as a camera's are.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{CameraSpec, FrameSource, Next, SourceInfo};
use crate::error::{Error, Result};
use crate::frame::Frame;

/// ffmpeg's input formats facs knows by name in `--device FORMAT:INPUT`.
const FORMATS: [&str; 5] = ["v4l2", "avfoundation", "dshow", "lavfi", "x11grab"];

/// ffmpeg's lines kept for error messages.
const TAIL_LINES: usize = 8;

/// The ffmpeg input one camera spec stands for: `-f format [options] -i input`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Input {
    format: String,
    input: String,
}

impl Input {
    /// Reads `--device`, or the platform's device for `index`.
    ///
    /// # Errors
    /// On Windows, when there is no camera `index` in ffmpeg's list.
    fn of(spec: &CameraSpec) -> Result<Self> {
        let input = |format: &str, input: &str| Input {
            format: format.into(),
            input: input.into(),
        };
        if let Some(device) = &spec.device {
            if let Some((format, rest)) = device.split_once(':') {
                if FORMATS.contains(&format) {
                    return Ok(input(format, rest));
                }
            }
            return Ok(if cfg!(target_os = "macos") {
                input("avfoundation", device)
            } else if cfg!(windows) {
                input("dshow", &format!("video={device}"))
            } else {
                input("v4l2", device)
            });
        }
        if cfg!(target_os = "macos") {
            Ok(input("avfoundation", &format!("{}:none", spec.index)))
        } else if cfg!(windows) {
            let names = list()?;
            let name = names
                .get(spec.index as usize)
                .ok_or_else(|| Error::Camera(format!("no camera {}; {}", spec.index, found())))?;
            Ok(input("dshow", &format!("video={name}")))
        } else {
            Ok(input("v4l2", &format!("/dev/video{}", spec.index)))
        }
    }

    /// ffmpeg's arguments up to and including `-i INPUT`.
    fn args(&self, spec: &CameraSpec) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        if self.format == "lavfi" {
            // A generated source runs as fast as it can; read it at its own rate, as a
            // camera delivers frames.
            args.push("-re".into());
        } else {
            args.extend([
                "-framerate".into(),
                spec.fps.to_string(),
                "-video_size".into(),
                format!("{}x{}", spec.width, spec.height),
            ]);
        }
        args.extend([
            "-f".into(),
            self.format.clone(),
            "-i".into(),
            self.input.clone(),
        ]);
        args
    }
}

/// The cameras found, for messages.
fn found() -> String {
    match list() {
        Ok(list) if list.is_empty() => "no cameras found".into(),
        Ok(list) => format!("cameras found: {}", list.join(", ")),
        Err(e) => format!("listing cameras failed: {e}"),
    }
}

/// The cameras the system reports: Linux's video4linux devices (from sysfs, without
/// starting ffmpeg), or ffmpeg's device list on macOS and Windows.
///
/// # Errors
/// ffmpeg could not be started (macOS, Windows).
pub(super) fn list() -> Result<Vec<String>> {
    if cfg!(target_os = "macos") {
        Ok(parse_avfoundation_list(&device_list(&[
            "-f",
            "avfoundation",
            "-list_devices",
            "true",
            "-i",
            "",
        ])?))
    } else if cfg!(windows) {
        Ok(parse_dshow_list(&device_list(&[
            "-list_devices",
            "true",
            "-f",
            "dshow",
            "-i",
            "dummy",
        ])?))
    } else {
        Ok(list_v4l2(Path::new("/sys/class/video4linux")))
    }
}

/// ffmpeg's stderr for a device-listing command (which itself ends in an error).
fn device_list(args: &[&str]) -> Result<String> {
    let out = Command::new("ffmpeg")
        .arg("-hide_banner")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(tool_error)?;
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `/dev/videoN: name` for each device under a sysfs `video4linux` folder, by number.
fn list_v4l2(sysfs: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(sysfs) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, String)> = entries
        .flatten()
        .filter_map(|e| {
            let file = e.file_name();
            let n: u32 = file.to_str()?.strip_prefix("video")?.parse().ok()?;
            let name = std::fs::read_to_string(e.path().join("name")).unwrap_or_default();
            Some((n, format!("/dev/video{n}: {}", name.trim())))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, line)| line).collect()
}

/// Video devices in `ffmpeg -f avfoundation -list_devices true -i ""`'s output, as
/// `N: name` (N is what `--camera` takes).
fn parse_avfoundation_list(text: &str) -> Vec<String> {
    let mut video = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.contains("AVFoundation video devices") {
            video = true;
        } else if line.contains("AVFoundation audio devices") {
            video = false;
        } else if video {
            // `[AVFoundation indev @ 0x7f...] [0] FaceTime HD Camera`
            if let Some((_, rest)) = line.split_once("] [") {
                if let Some((n, name)) = rest.split_once("] ") {
                    out.push(format!("{n}: {}", name.trim()));
                }
            }
        }
    }
    out
}

/// Video devices in `ffmpeg -list_devices true -f dshow -i dummy`'s output, by name, in
/// ffmpeg's order (the order `--camera N` counts in).
fn parse_dshow_list(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.trim_end().ends_with("(video)"))
        .filter_map(|l| {
            let start = l.find('"')?;
            let end = l[start + 1..].find('"')?;
            Some(l[start + 1..start + 1 + end].to_string())
        })
        .collect()
}

fn tool_error(e: std::io::Error) -> Error {
    Error::Tool {
        tool: "ffmpeg",
        reason: if e.kind() == ErrorKind::NotFound {
            "not found on PATH; facs reads cameras through it unless built with \
             --features camera: install it (Debian/Ubuntu: apt-get install ffmpeg)"
                .into()
        } else {
            e.to_string()
        },
    }
}

/// A camera read through an ffmpeg child process.
pub(super) struct FfmpegCamera {
    name: String,
    width: u32,
    height: u32,
    child: Child,
    stdout: ChildStdout,
    /// ffmpeg's last lines on stderr, for messages.
    tail: Arc<Mutex<VecDeque<String>>>,
    started: Instant,
    /// The first frame, read when opening (so that a camera that cannot stream fails
    /// there, with ffmpeg's reason).
    first: Option<Frame>,
    next: u64,
}

impl FfmpegCamera {
    /// Starts ffmpeg on the camera and waits for its first frame.
    ///
    /// # Errors
    /// [`Error::Tool`] without ffmpeg; [`Error::Camera`] with ffmpeg's reason and the
    /// cameras found when the device gives no frame.
    pub(super) fn open(spec: &CameraSpec) -> Result<Self> {
        if !(1..=8192).contains(&spec.width) || !(1..=8192).contains(&spec.height) {
            return Err(Error::config(
                "camera size",
                format!("{}x{}", spec.width, spec.height),
                "width and height in 1..=8192",
            ));
        }
        let input = Input::of(spec)?;
        let mut child = Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-nostats", "-loglevel", "error"])
            .args(input.args(spec))
            .args(["-an", "-map", "0:v:0"])
            .args(["-vf", &format!("scale={}:{}", spec.width, spec.height)])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(tool_error)?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(pipe) = child.stderr.take() {
            let keep = Arc::clone(&tail);
            // Read stderr on its own thread, so that a chatty ffmpeg never blocks.
            std::thread::Builder::new()
                .name("ffmpeg-camera-stderr".into())
                .spawn(move || keep_tail(pipe, &keep))
                .map_err(|e| Error::Camera(format!("cannot start a thread: {e}")))?;
        }
        let stdout = child.stdout.take().ok_or_else(|| Error::Tool {
            tool: "ffmpeg",
            reason: "no stdout pipe".into(),
        })?;
        let mut cam = FfmpegCamera {
            name: spec.name(),
            width: spec.width,
            height: spec.height,
            child,
            stdout,
            tail,
            started: Instant::now(),
            first: None,
            next: 0,
        };
        match cam.read() {
            Ok(frame) => cam.first = Some(frame),
            Err(reason) => {
                return Err(Error::Camera(format!(
                    "cannot open {} through ffmpeg ({} {}): {reason}; {}",
                    cam.name,
                    input.format,
                    input.input,
                    found()
                )))
            }
        }
        Ok(cam)
    }

    /// ffmpeg's last lines, joined, once it has exited (or after a short wait).
    fn complaint(&mut self) -> String {
        let deadline = Instant::now() + std::time::Duration::from_millis(500);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // Give the stderr thread a moment to take ffmpeg's last words.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let lines: Vec<String> = match self.tail.lock() {
            Ok(t) => t.iter().cloned().collect(),
            Err(_) => Vec::new(),
        };
        if lines.is_empty() {
            "ffmpeg ended without a message".into()
        } else {
            lines.join(" / ")
        }
    }

    /// The next frame from the pipe, or why there is none.
    fn read(&mut self) -> std::result::Result<Frame, String> {
        let mut rgb = vec![0u8; self.width as usize * self.height as usize * 3];
        if let Err(e) = self.stdout.read_exact(&mut rgb) {
            let why = self.complaint();
            return Err(if e.kind() == ErrorKind::UnexpectedEof {
                format!("the stream ended: {why}")
            } else {
                format!("{e}: {why}")
            });
        }
        let index = self.next;
        self.next += 1;
        let ts = self.started.elapsed().as_secs_f64();
        Frame::new(index, ts, self.width, self.height, rgb)
            .ok_or_else(|| "ffmpeg gave an empty frame".to_string())
    }
}

/// Keeps the last [`TAIL_LINES`] lines of ffmpeg's stderr.
fn keep_tail(pipe: impl Read, tail: &Mutex<VecDeque<String>>) {
    for line in BufReader::new(pipe).lines() {
        let Ok(line) = line else { break };
        let line = line.trim().to_string();
        if line.is_empty() {
            continue;
        }
        if let Ok(mut t) = tail.lock() {
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    }
}

impl FrameSource for FfmpegCamera {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "camera",
            name: self.name.clone(),
            width: Some(self.width),
            height: Some(self.height),
            fps: None,
            frame_count: None,
            timing: None,
            stills: None,
        }
    }

    fn next_frame(&mut self) -> Result<Next> {
        if let Some(frame) = self.first.take() {
            return Ok(Next::Frame(frame));
        }
        self.read()
            .map(Next::Frame)
            .map_err(|reason| Error::Camera(format!("{} stopped: {reason}", self.name)))
    }
}

impl Drop for FfmpegCamera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(device: Option<&str>) -> CameraSpec {
        CameraSpec {
            device: device.map(str::to_string),
            ..CameraSpec::new(2, 640, 480, 30)
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn devices_become_ffmpeg_inputs() {
        let i = Input::of(&spec(None)).unwrap();
        assert_eq!(
            (i.format.as_str(), i.input.as_str()),
            ("v4l2", "/dev/video2")
        );
        let args = i.args(&spec(None));
        assert_eq!(
            args.join(" "),
            "-framerate 30 -video_size 640x480 -f v4l2 -i /dev/video2"
        );
        let i = Input::of(&spec(Some("/dev/video5"))).unwrap();
        assert_eq!(i.input, "/dev/video5");
        let i = Input::of(&spec(Some("lavfi:testsrc2=size=320x240"))).unwrap();
        assert_eq!(
            (i.format.as_str(), i.input.as_str()),
            ("lavfi", "testsrc2=size=320x240")
        );
        assert_eq!(i.args(&spec(None))[0], "-re");
        // A colon that is not after a known format stays part of the device.
        let i = Input::of(&spec(Some("weird:name"))).unwrap();
        assert_eq!(
            (i.format.as_str(), i.input.as_str()),
            ("v4l2", "weird:name")
        );
    }

    #[test]
    fn sysfs_devices_are_listed_by_number() {
        let dir = tempfile::tempdir().unwrap();
        for (n, name) in [(10, "Capture B"), (2, "Integrated Camera")] {
            let d = dir.path().join(format!("video{n}"));
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("name"), format!("{name}\n")).unwrap();
        }
        std::fs::create_dir(dir.path().join("not-a-camera")).unwrap();
        assert_eq!(
            list_v4l2(dir.path()),
            ["/dev/video2: Integrated Camera", "/dev/video10: Capture B"]
        );
        assert!(list_v4l2(&dir.path().join("missing")).is_empty());
    }

    #[test]
    fn avfoundation_and_dshow_lists_are_read() {
        let mac = "[AVFoundation indev @ 0x7f9] AVFoundation video devices:\n\
                   [AVFoundation indev @ 0x7f9] [0] FaceTime HD Camera\n\
                   [AVFoundation indev @ 0x7f9] [1] Capture screen 0\n\
                   [AVFoundation indev @ 0x7f9] AVFoundation audio devices:\n\
                   [AVFoundation indev @ 0x7f9] [0] MacBook Pro Microphone\n";
        assert_eq!(
            parse_avfoundation_list(mac),
            ["0: FaceTime HD Camera", "1: Capture screen 0"]
        );
        let win = "[dshow @ 000001] \"Integrated Camera\" (video)\n\
                   [dshow @ 000001]   Alternative name \"@device_pnp_\\\\?\\usb\"\n\
                   [dshow @ 000001] \"Microphone (Realtek)\" (audio)\n\
                   [dshow @ 000001] \"OBS Virtual Camera\" (video)\n";
        assert_eq!(
            parse_dshow_list(win),
            ["Integrated Camera", "OBS Virtual Camera"]
        );
    }

    #[test]
    fn empty_sizes_are_refused_before_ffmpeg_starts() {
        let mut s = spec(Some("lavfi:testsrc2"));
        s.width = 0;
        let err = FfmpegCamera::open(&s).err().unwrap();
        assert!(err.to_string().contains("0x480"), "{err}");
    }
}
