//! Video files through the `ffmpeg` command-line tool: ffprobe reads the stream's header
//! (size, rotation, rates), ffmpeg writes every decoded frame as raw RGB to a pipe, and each
//! frame's presentation timestamp comes from ffmpeg's `showinfo` filter on stderr. No libav
//! headers are needed at build time.
//!
//! ffmpeg runs with `-vsync passthrough`: by default it pads or thins a stream to a constant
//! rate for the raw output, which logs frames that are not in the footage (or loses some)
//! whenever the frame rate varies (phones, joined segments).

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::Duration;

use super::{FrameSource, Next, SourceInfo, VideoTiming};
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

/// The `showinfo` filter as facs runs it: with its per-frame checksums turned off where this
/// ffmpeg has the option (ffmpeg 5.1 has it). facs reads only the timestamps, and the
/// checksums were a quarter of ffmpeg's CPU time on the bundled 640x360 clip (0.78 -> 0.57 s
/// for 472 frames). Asked of ffmpeg once a run (`ffmpeg -h filter=showinfo`), while ffprobe
/// reads the file's header, so that the question adds no wait.
static SHOWINFO: OnceLock<&'static str> = OnceLock::new();

/// The `showinfo` filter's spelling: known, or an `ffmpeg -h` still answering.
enum Showinfo {
    Known(&'static str),
    Asking(Child),
}

impl Showinfo {
    /// Starts asking ffmpeg, unless an earlier file of the run did.
    fn ask() -> Self {
        if let Some(filter) = SHOWINFO.get() {
            return Showinfo::Known(filter);
        }
        let help = Command::new("ffmpeg")
            .args(["-hide_banner", "-h", "filter=showinfo"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        match help {
            Ok(child) => Showinfo::Asking(child),
            // No ffmpeg to ask: the decoder's own start says so.
            Err(_) => Showinfo::Known("showinfo"),
        }
    }

    /// The filter, once ffmpeg has answered.
    fn answer(self) -> &'static str {
        match self {
            Showinfo::Known(filter) => filter,
            Showinfo::Asking(child) => {
                let lists_checksum = child
                    .wait_with_output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("checksum"));
                SHOWINFO.get_or_init(|| {
                    if lists_checksum {
                        "showinfo=checksum=0"
                    } else {
                        "showinfo"
                    }
                })
            }
        }
    }
}

/// Frames decoded by an `ffmpeg` child process.
pub struct VideoSource {
    name: String,
    header: Header,
    child: Child,
    stdout: ChildStdout,
    /// ffmpeg's complaints, collected by the stderr reader thread.
    stderr: Option<std::thread::JoinHandle<String>>,
    /// What the stderr reader found of each frame's timing.
    stamps: Receiver<Stamp>,
    /// A frame's stamp received ahead of the frame asked for.
    pending: Option<(u64, Option<i64>)>,
    /// ffmpeg's stderr has ended: no more stamps will come.
    stamps_closed: bool,
    clock: Clock,
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

/// Seconds from a Matroska duration tag, `HH:MM:SS.nnnnnnnnn`.
fn parse_clock(text: &str) -> Option<f64> {
    let mut parts = text.trim().splitn(3, ':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    let (h, m, s): (u32, u32, f64) = (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?);
    Some(f64::from(h) * 3600.0 + f64::from(m) * 60.0 + s)
}

/// What ffprobe read from the header of the first video stream.
struct Header {
    /// The size of a decoded (rotated) frame.
    width: u32,
    height: u32,
    /// The average rate (else the nominal one).
    fps: f64,
    /// The frame count the header announces.
    frame_count: Option<u64>,
    timing: VideoTiming,
}

/// `key=value` lines of ffprobe's default output.
struct Fields(String);

impl Fields {
    /// The first value of `key` that parses (stream sections come before the format's).
    fn get<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        self.0.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix('='))
                .and_then(|v| v.trim().parse().ok())
        })
    }

    /// Every value of `key`, in order.
    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.lines().filter_map(move |l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix('='))
                .map(str::trim)
        })
    }

    /// A rate as ffprobe writes it (`30000/1001`); None for `0/0`.
    fn rate(&self, key: &str) -> Option<String> {
        self.get::<String>(key).filter(|r| parse_rate(r).is_some())
    }
}

fn ffprobe(path: &Path, args: &[&str]) -> Result<(Fields, String)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(args)
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| tool_error("ffprobe", e))?;
    Ok((
        Fields(String::from_utf8_lossy(&out.stdout).into_owned()),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    ))
}

/// True when `frames` over `duration_s` is more than one frame away from `nominal_fps`.
fn is_variable(frames: u64, duration_s: f64, nominal_fps: f64) -> bool {
    (frames as f64 - duration_s * nominal_fps).abs() > 1.0
}

/// Size, rates, frame count and timing of the first video stream.
fn probe(path: &Path) -> Result<Header> {
    let (f, complaints) = ffprobe(
        path,
        &[
            "-show_entries",
            "stream=width,height,avg_frame_rate,r_frame_rate,nb_frames,duration:\
             format=duration:stream_side_data=rotation:stream_tags=rotate,DURATION",
        ],
    )?;
    let bad = |what: &str| Error::Source {
        source_name: path.display().to_string(),
        reason: format!("ffprobe found no video stream ({what}): {complaints}"),
    };
    let width: u32 = f.get("width").ok_or_else(|| bad("width"))?;
    let height: u32 = f.get("height").ok_or_else(|| bad("height"))?;
    let r_frame_rate = f.rate("r_frame_rate");
    let avg_frame_rate = f.rate("avg_frame_rate");
    let fps = avg_frame_rate
        .as_deref()
        .or(r_frame_rate.as_deref())
        .and_then(parse_rate)
        .ok_or_else(|| bad("frame rate"))?;
    let frame_count: Option<u64> = f.get("nb_frames");
    // The stream's duration; Matroska keeps it in a tag; else the file's (which may
    // include a longer audio track).
    let positive = |d: &f64| *d > 0.0;
    let duration_s = f
        .all("duration")
        .next()
        .and_then(|d| d.parse().ok())
        .filter(positive)
        .or_else(|| f.all("TAG:DURATION").find_map(parse_clock).filter(positive))
        .or_else(|| f.all("duration").last().and_then(|d| d.parse().ok()))
        .filter(positive);
    // Matroska and WebM headers hold no frame count: count the packets (no decoding).
    let frames = match frame_count {
        Some(n) => Some(n),
        None => ffprobe(
            path,
            &["-count_packets", "-show_entries", "stream=nb_read_packets"],
        )?
        .0
        .get("nb_read_packets"),
    };
    let measured_fps = frames.zip(duration_s).map(|(n, d)| n as f64 / d);
    let nominal_fps = r_frame_rate.as_deref().and_then(parse_rate).unwrap_or(fps);
    let variable_frame_rate = frames
        .zip(duration_s)
        .map(|(n, d)| is_variable(n, d, nominal_fps));
    // Phones store portrait video as landscape plus a rotation; ffmpeg applies it when
    // decoding, so a quarter turn swaps the frame's width and height.
    let rotation: i64 = f
        .get::<f64>("rotation")
        .or_else(|| f.get::<f64>("TAG:rotate"))
        .map(|r| r.round() as i64)
        .unwrap_or(0);
    let (width, height) = if rotation.rem_euclid(180) == 90 {
        (height, width)
    } else {
        (width, height)
    };
    Ok(Header {
        width,
        height,
        fps,
        frame_count,
        timing: VideoTiming {
            r_frame_rate,
            avg_frame_rate,
            duration_s,
            measured_fps,
            variable_frame_rate,
        },
    })
}

/// What ffmpeg's stderr says about the frames' timing.
#[derive(Debug, PartialEq)]
enum Stamp {
    /// The time base of the timestamps, `num/den` seconds per tick.
    TimeBase(i64, i64),
    /// Frame `n` (0-based, output order) and its presentation timestamp in ticks (None
    /// when ffmpeg has none for it).
    Frame { n: u64, pts: Option<i64> },
}

/// The `showinfo` messages in one line of stderr (a message without a line end, such as a
/// side-data dump, can have the next one glued to it).
fn stamps_in(line: &str) -> Vec<Stamp> {
    let mut out = Vec::new();
    for (at, _) in line.match_indices("[Parsed_showinfo_") {
        let Some(msg) = line[at..].split_once("] ").map(|(_, rest)| rest) else {
            continue;
        };
        // `-loglevel level+info` puts the level first.
        let msg = msg.strip_prefix("[info] ").unwrap_or(msg).trim_start();
        if let Some(rest) = msg.strip_prefix("config in time_base:") {
            let tb = rest.split(',').next().unwrap_or_default().trim();
            if let Some((num, den)) = tb.split_once('/') {
                if let (Ok(num), Ok(den)) = (num.parse::<i64>(), den.parse::<i64>()) {
                    if num > 0 && den > 0 {
                        out.push(Stamp::TimeBase(num, den));
                    }
                }
            }
        } else if let Some(rest) = msg.strip_prefix("n:") {
            let rest = rest.trim_start();
            let (n, rest) = rest.split_at(rest.find(' ').unwrap_or(rest.len()));
            let Ok(n) = n.parse::<u64>() else { continue };
            let pts = rest
                .trim_start()
                .strip_prefix("pts:")
                .and_then(|p| p.split_whitespace().next())
                .and_then(|p| p.parse::<i64>().ok());
            out.push(Stamp::Frame { n, pts });
        }
    }
    out
}

/// ffmpeg's complaint in a line of stderr (error level or worse), without its prefixes.
fn complaint_in(line: &str) -> Option<&str> {
    ["[error] ", "[fatal] ", "[panic] "]
        .iter()
        .filter_map(|tag| line.find(tag).map(|at| line[at + tag.len()..].trim()))
        .find(|msg| !msg.is_empty())
}

/// Reads ffmpeg's stderr: sends the frames' timing on, returns the complaints at the end.
fn read_stderr(pipe: impl Read, stamps: std::sync::mpsc::Sender<Stamp>) -> String {
    let mut complaints = String::new();
    for line in BufReader::new(pipe).split(b'\n') {
        let Ok(line) = line else { break };
        let line = String::from_utf8_lossy(&line);
        for stamp in stamps_in(&line) {
            // The source may be gone (stopped early); the complaints are still wanted.
            let _ = stamps.send(stamp);
        }
        if let Some(c) = complaint_in(&line) {
            complaints.push_str(c);
            complaints.push('\n');
        }
    }
    complaints
}

/// How long to wait for a frame's timestamp once the frame itself has arrived. ffmpeg logs
/// it before it writes the frame, so it is normally already there; the wait only guards
/// against a frame whose line never comes (another ffmpeg's format).
const STAMP_WAIT: Duration = Duration::from_secs(10);

/// Turns frames' timestamps in ticks into seconds from the first frame.
#[derive(Debug, Default)]
struct Clock {
    time_base: Option<(i64, i64)>,
    /// A timed frame's ticks and seconds, the reference for the frames after it.
    anchor: Option<(i64, f64)>,
    last_s: Option<f64>,
    /// Frames whose time had to be estimated (no timestamp from ffmpeg).
    estimated: u64,
}

impl Clock {
    /// The time of the next frame, in seconds from the first, from its timestamp in ticks;
    /// a frame without one is placed a nominal frame interval (`1 / fps`) after the frame
    /// before it, and counted.
    fn time_of(&mut self, pts: Option<i64>, fps: f64) -> f64 {
        let estimate = self.last_s.map_or(0.0, |t| t + 1.0 / fps);
        let t = match pts.zip(self.time_base) {
            Some((pts, (num, den))) => {
                let (anchor_pts, anchor_s) = *self.anchor.get_or_insert((pts, estimate));
                // Ticks times num over den in one division: the correctly rounded time, so
                // a constant-rate clip gets exactly the times index / rate gave.
                anchor_s + ((pts - anchor_pts) as i128 * i128::from(num)) as f64 / den as f64
            }
            None => {
                self.estimated += 1;
                estimate
            }
        };
        self.last_s = Some(t);
        t
    }
}

impl VideoSource {
    /// Probes the file and starts ffmpeg.
    ///
    /// # Errors
    /// [`Error::Tool`] if ffmpeg/ffprobe are missing (with how to install them or avoid them),
    /// [`Error::Source`] if the file has no decodable video stream.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, None)
    }

    /// [`VideoSource::open`] with the given `showinfo` filter (None: the one this ffmpeg
    /// runs fastest).
    fn open_with(path: &Path, showinfo: Option<&'static str>) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::InputNotFound(path.to_path_buf()));
        }
        let asking = showinfo.map_or_else(Showinfo::ask, Showinfo::Known);
        let header = probe(path);
        // Waited for whether or not the header could be read, so no child is left behind.
        let showinfo = asking.answer();
        let header = header?;
        let mut child = Command::new("ffmpeg")
            // Info level for showinfo's lines; `level` tags each line so that complaints
            // (error and worse) can be told apart.
            .args([
                "-nostdin",
                "-hide_banner",
                "-nostats",
                "-loglevel",
                "level+info",
                "-i",
            ])
            .arg(path)
            .args(["-map", "0:v:0", "-vf", showinfo])
            // Every decoded frame once, with its own timestamp; the encoder takes the
            // stream's time base, so that close timestamps stay distinct on the way to the
            // pipe. These spellings work from ffmpeg 4 on; 5.1+ calls them deprecated (in
            // favour of `-fps_mode passthrough`, `-enc_time_base demux`) but keeps them.
            .args(["-vsync", "passthrough", "-enc_time_base", "-1"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| tool_error("ffmpeg", e))?;
        let (stamp_tx, stamps) = std::sync::mpsc::channel();
        // Read stderr on its own thread so that a chatty ffmpeg never blocks on a full pipe.
        let stderr = match child.stderr.take() {
            Some(pipe) => std::thread::Builder::new()
                .name("ffmpeg-stderr".into())
                .spawn(move || read_stderr(pipe, stamp_tx))
                .ok(),
            None => None,
        };
        let stdout = child.stdout.take().ok_or_else(|| Error::Tool {
            tool: "ffmpeg",
            reason: "no stdout pipe".into(),
        })?;
        Ok(VideoSource {
            name: path.display().to_string(),
            header,
            child,
            stdout,
            stderr,
            stamps,
            pending: None,
            stamps_closed: false,
            clock: Clock::default(),
            next: 0,
        })
    }

    /// The timestamp ffmpeg gave frame `index` (None if it gave none, or never said).
    fn pts_of(&mut self, index: u64) -> Option<i64> {
        loop {
            match self.pending {
                Some((n, pts)) if n == index => {
                    self.pending = None;
                    return pts;
                }
                // The stamp of a later frame: this one has none.
                Some((n, _)) if n > index => return None,
                _ => self.pending = None,
            }
            if self.stamps_closed {
                return None;
            }
            match self.stamps.recv_timeout(STAMP_WAIT) {
                Ok(Stamp::TimeBase(num, den)) => {
                    self.clock.time_base.get_or_insert((num, den));
                }
                Ok(Stamp::Frame { n, pts }) => self.pending = Some((n, pts)),
                Err(RecvTimeoutError::Disconnected) => self.stamps_closed = true,
                Err(RecvTimeoutError::Timeout) => return None,
            }
        }
    }

    /// The end of the stream; a decoder complaint, fewer frames than the container
    /// announced or frames without a timestamp are reported, so a truncated file does not
    /// pass as complete.
    fn end(&mut self) -> Next {
        let _ = self.child.wait();
        let complaints = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let mut problems = Vec::new();
        if let Some(expected) = self.header.frame_count.filter(|&n| n > self.next) {
            problems.push(format!(
                "decoded {} of the {expected} frames the file announces",
                self.next
            ));
        }
        if self.clock.estimated > 0 {
            problems.push(format!(
                "{} frames had no timestamp; each was placed 1/{:.3} s after the frame before",
                self.clock.estimated, self.header.fps
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
            width: Some(self.header.width),
            height: Some(self.header.height),
            fps: Some(self.header.fps),
            frame_count: self.header.frame_count,
            timing: Some(self.header.timing.clone()),
            stills: None,
        }
    }

    fn next_frame(&mut self) -> Result<Next> {
        let (width, height) = (self.header.width, self.header.height);
        let len = width as usize * height as usize * 3;
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
        let pts = self.pts_of(index);
        let ts = self.clock.time_of(pts, self.header.fps);
        if filled < len {
            // A truncated last frame: count it, then end.
            return Ok(Next::Skipped {
                index,
                what: self.name.clone(),
                reason: format!("truncated: {filled} of {len} bytes"),
            });
        }
        Ok(match Frame::new(index, ts, width, height, buf) {
            Some(f) => Next::Frame(f),
            None => Next::Skipped {
                index,
                what: self.name.clone(),
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
        assert_eq!(parse_clock("00:00:02.626000000"), Some(2.626));
        assert_eq!(parse_clock("01:02:03.5"), Some(3723.5));
        assert_eq!(parse_clock("N/A"), None);
    }

    #[test]
    fn showinfo_lines_give_time_base_and_frame_stamps() {
        // Lines as ffmpeg 5.1 writes them with `-loglevel level+info -vf showinfo`.
        let config = "[Parsed_showinfo_0 @ 0x55af677bd140] [info] config in time_base: \
                      1/15360, frame_rate: 30/1";
        assert_eq!(stamps_in(config), vec![Stamp::TimeBase(1, 15360)]);
        let frame = "[Parsed_showinfo_0 @ 0x55af677bd140] [info] n:  12 pts:   6144 \
                     pts_time:0.4 pos: 5443 fmt:yuv420p sar:1/1 s:160x120 i:P iskey:0 type:B";
        assert_eq!(
            stamps_in(frame),
            vec![Stamp::Frame {
                n: 12,
                pts: Some(6144)
            }]
        );
        let no_pts = "[Parsed_showinfo_0 @ 0x1] [info] n:   3 pts:NOPTS pts_time:NOPTS pos: -1";
        assert_eq!(stamps_in(no_pts), vec![Stamp::Frame { n: 3, pts: None }]);
        // A side-data dump ends without a line end; the next frame's line is glued to it.
        let glued = "[Parsed_showinfo_0 @ 0x1] [info] UUID=dc45e9bd-e6d9-48b7[Parsed_showinfo_0 \
                     @ 0x1] [info] n:   1 pts:    512 pts_time:0.0333333";
        assert_eq!(
            stamps_in(glued),
            vec![Stamp::Frame {
                n: 1,
                pts: Some(512)
            }]
        );
        assert!(stamps_in("[info] Stream mapping:").is_empty());
    }

    #[test]
    fn complaints_are_error_level_lines_only() {
        assert_eq!(
            complaint_in("[h264 @ 0x5] [error] Invalid NAL unit size (699 > 459)."),
            Some("Invalid NAL unit size (699 > 459).")
        );
        assert_eq!(
            complaint_in("[fatal] trunc.mp4: End of file"),
            Some("trunc.mp4: End of file")
        );
        assert_eq!(
            complaint_in("[warning] -vsync is deprecated. Use -fps_mode"),
            None
        );
        assert_eq!(
            complaint_in("[Parsed_showinfo_0 @ 0x1] [info] n: 0 pts: 0"),
            None
        );
    }

    #[test]
    fn clock_counts_from_the_first_frame_in_the_streams_time_base() {
        // Time base 1/15360, 512 ticks a frame (30 fps) from an offset start: exactly the
        // times index / 30 gives, bit for bit.
        let mut c = Clock {
            time_base: Some((1, 15360)),
            ..Clock::default()
        };
        for i in 0..100i64 {
            assert_eq!(c.time_of(Some(1024 + 512 * i), 30.0), i as f64 / 30.0);
        }
        assert_eq!(c.estimated, 0);
        // 1001/30000 s a tick: frame 2 at 2 * 1001 / 30000 s.
        let mut c = Clock {
            time_base: Some((1001, 30000)),
            ..Clock::default()
        };
        assert_eq!(c.time_of(Some(7), 29.97), 0.0);
        assert_eq!(c.time_of(Some(9), 29.97), 2002.0 / 30000.0);
    }

    #[test]
    fn clock_places_a_frame_without_timestamp_one_nominal_interval_on() {
        let mut c = Clock {
            time_base: Some((1, 1000)),
            ..Clock::default()
        };
        assert_eq!(c.time_of(Some(500), 10.0), 0.0);
        assert_eq!(c.time_of(Some(620), 10.0), 0.12);
        // No timestamp: 0.12 + 1/10.
        assert!((c.time_of(None, 10.0) - 0.22).abs() < 1e-12);
        assert_eq!(c.time_of(Some(900), 10.0), 0.4);
        assert_eq!(c.estimated, 1);
        // No time base at all (ffmpeg never said): every frame estimated.
        let mut c = Clock::default();
        assert_eq!(c.time_of(Some(5), 4.0), 0.0);
        assert_eq!(c.time_of(Some(6), 4.0), 0.25);
        assert_eq!(c.estimated, 2);
    }

    /// Every frame's index, timestamp and pixels.
    fn decoded(mut src: VideoSource) -> Vec<(u64, f64, std::sync::Arc<Vec<u8>>)> {
        crate::source::read_frames(&mut src, usize::MAX)
            .into_iter()
            .map(|f| (f.index, f.timestamp_s, f.rgb))
            .collect()
    }

    #[test]
    fn frames_and_timestamps_do_not_depend_on_showinfos_checksums() {
        if !ffmpeg_available() {
            eprintln!("skipped: ffmpeg is not installed");
            return;
        }
        let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/single_face_30f.mp4");
        let plain = decoded(VideoSource::open_with(&clip, Some("showinfo")).unwrap());
        let chosen = decoded(VideoSource::open(&clip).unwrap());
        assert_eq!(plain.len(), 30);
        assert!(plain == chosen, "frames or timestamps differ");
        assert!(plain.windows(2).all(|w| w[1].1 > w[0].1));
    }

    #[test]
    fn variable_means_more_than_a_frame_off_the_nominal_rate() {
        // 30 frames in 1 s at 30 fps; 29 in 29/30 s (last frame's duration not counted).
        assert!(!is_variable(30, 1.0, 30.0));
        assert!(!is_variable(29, 29.0 / 30.0, 30.0));
        // 29.97 fps for an hour: 107892 frames against 107892.1.
        assert!(!is_variable(107_892, 3600.0, 30_000.0 / 1001.0));
        // 12 frames at 10 fps then 24 at 30 fps: 36 frames in 3 s against 20 fps nominal.
        assert!(is_variable(36, 3.0, 20.0));
    }
}
