//! Video files through the `ffmpeg` command-line tool: ffprobe gives size and frame rate,
//! ffmpeg writes raw RGB frames to a pipe. No libav headers are needed at build time.

use std::io::{ErrorKind, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use super::{FrameSource, Next, SourceInfo};
use crate::error::{Error, Result};
use crate::frame::Frame;

const INSTALL_HINT: &str = "install it (Debian/Ubuntu: apt-get install ffmpeg), or decode the \
video to a folder of frames elsewhere (ffmpeg -i clip.mp4 frames/%06d.jpg) and pass the folder \
with --input frames --fps <rate>";

/// True if `ffprobe` and `ffmpeg` can be started.
pub fn ffmpeg_available() -> bool {
    ["ffprobe", "ffmpeg"].iter().all(|tool| {
        Command::new(tool)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

/// Frames decoded by an `ffmpeg` child process.
pub struct VideoSource {
    name: String,
    width: u32,
    height: u32,
    fps: f64,
    frame_count: Option<u64>,
    child: Child,
    stdout: ChildStdout,
    /// ffmpeg's complaints, collected by a reader thread.
    stderr: Option<std::thread::JoinHandle<String>>,
    next: u64,
}

fn tool_error(tool: &'static str, e: std::io::Error) -> Error {
    if e.kind() == ErrorKind::NotFound {
        Error::Tool {
            tool,
            reason: format!("not found on PATH; facs reads video files through it: {INSTALL_HINT}"),
        }
    } else {
        Error::Tool {
            tool,
            reason: e.to_string(),
        }
    }
}

/// Parses ffprobe's `num/den` rate.
fn parse_rate(text: &str) -> Option<f64> {
    let (n, d) = text.trim().split_once('/').unwrap_or((text.trim(), "1"));
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d > 0.0 && n > 0.0).then(|| n / d)
}

/// Width, height, frame rate and (when the container says) frame count.
fn probe(path: &Path) -> Result<(u32, u32, f64, Option<u64>)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg("stream=width,height,avg_frame_rate,r_frame_rate,nb_frames:stream_side_data=rotation:stream_tags=rotate")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| tool_error("ffprobe", e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .map(str::to_owned)
    };
    let bad = |what: &str| Error::Source {
        source_name: path.display().to_string(),
        reason: format!(
            "ffprobe found no video stream ({what}): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    };
    let width: u32 = field("width")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("width"))?;
    let height: u32 = field("height")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("height"))?;
    let fps = field("avg_frame_rate")
        .and_then(|r| parse_rate(&r))
        .or_else(|| field("r_frame_rate").and_then(|r| parse_rate(&r)))
        .ok_or_else(|| bad("frame rate"))?;
    let count = field("nb_frames").and_then(|v| v.parse().ok());
    // Phones store portrait video as landscape plus a rotation; ffmpeg applies it when
    // decoding, so a quarter turn swaps the frame's width and height.
    let rotation: i64 = field("rotation")
        .or_else(|| field("TAG:rotate"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|r| r.round() as i64)
        .unwrap_or(0);
    let (width, height) = if rotation.rem_euclid(180) == 90 {
        (height, width)
    } else {
        (width, height)
    };
    Ok((width, height, fps, count))
}

impl VideoSource {
    /// Probes the file and starts ffmpeg.
    ///
    /// # Errors
    /// [`Error::Tool`] if ffmpeg/ffprobe are missing (with how to install them or avoid them),
    /// [`Error::Source`] if the file has no decodable video stream.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::InputNotFound(path.to_path_buf()));
        }
        let (width, height, fps, frame_count) = probe(path)?;
        let mut child = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(path)
            .args(["-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| tool_error("ffmpeg", e))?;
        // Read stderr on its own thread so that a chatty ffmpeg never blocks on a full pipe.
        let stderr = match child.stderr.take() {
            Some(mut pipe) => std::thread::Builder::new()
                .name("ffmpeg-stderr".into())
                .spawn(move || {
                    let mut text = String::new();
                    let _ = pipe.read_to_string(&mut text);
                    text
                })
                .ok(),
            None => None,
        };
        let stdout = child.stdout.take().ok_or_else(|| Error::Tool {
            tool: "ffmpeg",
            reason: "no stdout pipe".into(),
        })?;
        Ok(VideoSource {
            name: path.display().to_string(),
            width,
            height,
            fps,
            frame_count,
            child,
            stdout,
            stderr,
            next: 0,
        })
    }
}

impl VideoSource {
    /// The end of the stream; a decoder complaint or fewer frames than the container
    /// announced is reported, so a truncated file does not pass as complete.
    fn end(&mut self) -> Next {
        let _ = self.child.wait();
        let complaints = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let mut problems = Vec::new();
        if let Some(expected) = self.frame_count.filter(|&n| n > self.next) {
            problems.push(format!(
                "decoded {} of the {expected} frames the file announces",
                self.next
            ));
        }
        if let Some(line) = complaints.lines().map(str::trim).find(|l| !l.is_empty()) {
            problems.push(format!("ffmpeg: {line}"));
        }
        if problems.is_empty() {
            Next::End
        } else {
            Next::Warning(format!("{}: {}", self.name, problems.join("; ")))
        }
    }
}

impl FrameSource for VideoSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "video",
            name: self.name.clone(),
            width: Some(self.width),
            height: Some(self.height),
            fps: Some(self.fps),
            frame_count: self.frame_count,
        }
    }

    fn next_frame(&mut self) -> Result<Next> {
        let len = self.width as usize * self.height as usize * 3;
        let mut buf = vec![0u8; len];
        let mut filled = 0;
        while filled < len {
            match self.stdout.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&self.name, e)),
            }
        }
        if filled == 0 {
            return Ok(self.end());
        }
        let index = self.next;
        self.next += 1;
        if filled < len {
            // A truncated last frame: count it, then end.
            return Ok(Next::Skipped {
                index,
                what: format!("{} frame {}", self.name, index + 1),
                reason: format!("truncated: {filled} of {len} bytes"),
            });
        }
        let ts = index as f64 / self.fps;
        Ok(match Frame::new(index, ts, self.width, self.height, buf) {
            Some(f) => Next::Frame(f),
            None => Next::Skipped {
                index,
                what: format!("{} frame {}", self.name, index + 1),
                reason: "bad frame size".into(),
            },
        })
    }
}

impl Drop for VideoSource {
    fn drop(&mut self) {
        // Stopping early (q, Ctrl-C, --max-frames) must not leave ffmpeg behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert!((parse_rate("24000/1001").unwrap() - 23.976).abs() < 1e-3);
        assert_eq!(parse_rate("30"), Some(30.0));
        assert_eq!(parse_rate("0/0"), None);
        assert_eq!(parse_rate("abc"), None);
    }
}
