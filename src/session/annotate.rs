//! Drawn frames as a video (`--annotate out.mp4`): the canvases the window shows are piped
//! as raw RGB into an `ffmpeg` child process that encodes H.264. The encoder runs on its own
//! named thread fed by a bounded channel, so a slow encoder holds the run back by at most
//! [`QUEUE`] frames; when ffmpeg is missing, cannot start or exits with an error, the run
//! ends with an error that names the file, ffmpeg's exit status and its last complaint.
//!
//! The video's size is the first drawn frame's (rounded up to even numbers, as H.264 in
//! yuv420p needs); a later frame of another size (unrelated photos) is centred on black,
//! scaled down if it is larger. Its frame rate is the source's (divided by `--annotate-every`): every
//! drawn frame lasts one frame period, whatever the source's own timing.

use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Sender};

use crate::error::{Error, Result};

/// Frames waiting for the encoder at most.
pub(super) const QUEUE: usize = 8;

/// The file names that mean a video rather than a folder of PNGs.
const VIDEO_EXTENSIONS: [&str; 3] = ["mp4", "mkv", "mov"];

/// True if `--annotate path` asks for a video: a name ending in .mp4, .mkv or .mov that is
/// not an existing folder. Anything else is a folder of PNGs.
pub(super) fn is_video_path(path: &Path) -> bool {
    !path.is_dir()
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn tool_error(e: std::io::Error) -> Error {
    let reason = if e.kind() == ErrorKind::NotFound {
        "not found on PATH; --annotate writes videos through it (Debian/Ubuntu: apt-get \
         install ffmpeg), or give --annotate a folder to draw PNGs instead"
            .to_string()
    } else {
        format!("cannot be started: {e}")
    };
    Error::Tool {
        tool: "ffmpeg",
        reason,
    }
}

/// Checks, before a run changes any file, that `ffmpeg` starts and has the libx264 encoder.
///
/// # Errors
/// [`Error::Tool`] saying what is missing.
pub(super) fn check_encoder() -> Result<()> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .stdin(Stdio::null())
        .output()
        .map_err(tool_error)?;
    let list = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !list.contains("libx264") {
        return Err(Error::Tool {
            tool: "ffmpeg",
            reason: "has no libx264 encoder (`ffmpeg -encoders` does not list it); install an \
                     ffmpeg built with x264, or give --annotate a folder to draw PNGs instead"
                .into(),
        });
    }
    Ok(())
}

/// A frame rate as ffmpeg reads it: the source's rate (`num/den` as ffprobe gave it, else
/// `fps`, else 30) divided by `every`.
pub(super) fn video_rate(r_frame_rate: Option<&str>, fps: Option<f64>, every: u32) -> String {
    let every = every.max(1);
    let rational = r_frame_rate.and_then(|r| {
        let (n, d) = r.split_once('/')?;
        let (n, d) = (n.trim().parse::<u64>().ok()?, d.trim().parse::<u64>().ok()?);
        (n > 0 && d > 0).then_some((n, d))
    });
    match (rational, fps.filter(|f| f.is_finite() && *f > 0.0)) {
        (Some((n, d)), _) => format!("{n}/{}", d * every as u64),
        (None, Some(f)) => format!("{}", f / every as f64),
        (None, None) => format!("{}", 30.0 / every as f64),
    }
}

/// `rgb` (`w` x `h`) on a black `out_w` x `out_h` frame, centred: scaled down to fit when
/// larger (nearest neighbour, aspect kept), never scaled up (an odd-sized frame in its even
/// video keeps its pixels and gets a black line).
pub(super) fn fit(rgb: &[u8], w: u32, h: u32, out_w: u32, out_h: u32) -> Vec<u8> {
    let mut out = vec![0u8; (out_w * out_h * 3) as usize];
    if w == 0 || h == 0 {
        return out;
    }
    let k = (out_w as f64 / w as f64)
        .min(out_h as f64 / h as f64)
        .min(1.0);
    let (fw, fh) = (
        ((w as f64 * k).round() as u32).clamp(1, out_w),
        ((h as f64 * k).round() as u32).clamp(1, out_h),
    );
    let (ox, oy) = ((out_w - fw) / 2, (out_h - fh) / 2);
    for y in 0..fh {
        let sy = ((y as f64 + 0.5) / k) as u32;
        let sy = sy.min(h - 1);
        for x in 0..fw {
            let sx = (((x as f64 + 0.5) / k) as u32).min(w - 1);
            let s = ((sy * w + sx) * 3) as usize;
            let d = (((oy + y) * out_w + ox + x) * 3) as usize;
            out[d..d + 3].copy_from_slice(&rgb[s..s + 3]);
        }
    }
    out
}

/// Makes a write to a pipe whose reader has gone fail with `EPIPE` on the calling thread
/// instead of killing the process: the binary restores SIGPIPE's default action (so that
/// `facs ... | head` ends quietly), and an ffmpeg that exits early would otherwise take
/// facs with it before it could say why.
fn no_sigpipe_on_this_thread() {
    #[cfg(unix)]
    // SAFETY: a signal set built on the stack, then this thread's own signal mask changed;
    // a SIGPIPE raised by this thread's writes stays pending here and is never delivered.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// The ffmpeg child and what its stderr said.
struct Encoder {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<String>>,
}

impl Encoder {
    fn wait(mut self, path: &Path, write_error: Option<std::io::Error>) -> Result<()> {
        // Closing stdin ends ffmpeg's input: it finishes the file and exits.
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| Error::Tool {
            tool: "ffmpeg",
            reason: format!("waiting for it: {e}"),
        })?;
        let said = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let last = said
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string();
        if status.success() && write_error.is_none() {
            return Ok(());
        }
        let mut reason = format!("encoding {} failed ({status})", path.display());
        if !last.is_empty() {
            reason.push_str(&format!(": {last}"));
        } else if let Some(e) = write_error {
            reason.push_str(&format!(": writing frames to it: {e}"));
        }
        Err(Error::Tool {
            tool: "ffmpeg",
            reason,
        })
    }
}

/// A video being written: frames go to the encoder thread through a bounded channel.
pub(super) struct VideoWriter {
    path: PathBuf,
    rate: String,
    overwrite: bool,
    /// The video's size, set by the first frame.
    size: Option<(u32, u32)>,
    frames: Option<Sender<Vec<u8>>>,
    thread: Option<JoinHandle<Result<u64>>>,
}

impl VideoWriter {
    /// A writer for `path` at `rate` (see [`video_rate`]); ffmpeg starts with the first frame.
    pub(super) fn new(path: &Path, rate: String, overwrite: bool) -> Self {
        VideoWriter {
            path: path.to_path_buf(),
            rate,
            overwrite,
            size: None,
            frames: None,
            thread: None,
        }
    }

    fn start(&mut self, width: u32, height: u32) -> Result<()> {
        // yuv420p needs even sizes: an odd frame gets a black line (see `fit`).
        let (width, height) = (width + width % 2, height + height % 2);
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error"])
            .arg(if self.overwrite { "-y" } else { "-n" })
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s"])
            .arg(format!("{width}x{height}"))
            .args(["-framerate", &self.rate, "-i", "pipe:0"])
            .args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "20"])
            .args(["-pix_fmt", "yuv420p", "-movflags", "+faststart"])
            .arg(&self.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // Its own process group: a Ctrl-C in the terminal reaches facs only, which then ends
        // the video itself (closing ffmpeg's input), so the frames drawn so far play.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(tool_error)?;
        let stdin = child.stdin.take();
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::Builder::new()
                .name("annotate-ffmpeg-stderr".into())
                .spawn(move || {
                    let mut text = String::new();
                    let _ = pipe.read_to_string(&mut text);
                    text
                })
        });
        let stderr = match stderr.transpose() {
            Ok(h) => h,
            Err(e) => {
                let _ = child.kill();
                return Err(Error::Stage("annotate-ffmpeg-stderr", e.to_string()));
            }
        };
        let mut encoder = Encoder {
            child,
            stdin,
            stderr,
        };
        let (tx, rx) = bounded::<Vec<u8>>(QUEUE);
        let path = self.path.clone();
        let handle = std::thread::Builder::new()
            .name("annotate-encoder".into())
            .spawn(move || {
                no_sigpipe_on_this_thread();
                let mut written = 0u64;
                let mut write_error = None;
                for frame in rx.iter() {
                    let Some(stdin) = encoder.stdin.as_mut() else {
                        break;
                    };
                    if let Err(e) = stdin.write_all(&frame) {
                        write_error = Some(e);
                        break;
                    }
                    written += 1;
                }
                // Dropping the receiver makes the next send fail: the run stops feeding.
                drop(rx);
                encoder.wait(&path, write_error).map(|()| written)
            })
            .map_err(|e| Error::Stage("annotate-encoder", e.to_string()))?;
        self.size = Some((width, height));
        self.frames = Some(tx);
        self.thread = Some(handle);
        Ok(())
    }

    /// Queues one drawn frame (`rgb`, `width` x `height`), waiting while [`QUEUE`] frames
    /// are ahead of it. The first frame starts ffmpeg.
    ///
    /// # Errors
    /// ffmpeg cannot start, or it stopped (its error, as [`VideoWriter::finish`] gives it).
    pub(super) fn push(&mut self, rgb: Vec<u8>, width: u32, height: u32) -> Result<()> {
        if self.size.is_none() {
            self.start(width, height)?;
        }
        let Some((w, h)) = self.size else {
            return Ok(());
        };
        let frame = if (width, height) == (w, h) {
            rgb
        } else {
            fit(&rgb, width, height, w, h)
        };
        let sent = self.frames.as_ref().map(|tx| tx.send(frame).is_ok());
        if sent == Some(false) {
            // The encoder thread ended early: its result says why.
            return Err(self.join()?.err().unwrap_or_else(|| Error::Tool {
                tool: "ffmpeg",
                reason: format!("stopped taking frames for {}", self.path.display()),
            }));
        }
        Ok(())
    }

    fn join(&mut self) -> Result<Result<u64>> {
        self.frames = None;
        match self.thread.take() {
            Some(h) => h.join().map_err(|p| {
                Error::Stage(
                    "annotate-encoder",
                    crate::util::worker::panic_message(p.as_ref()),
                )
            }),
            None => Ok(Ok(0)),
        }
    }

    /// Ends the video: ffmpeg gets the end of its input, finishes the file and exits.
    /// Returns the frames written (0, and no file, if no frame came).
    ///
    /// # Errors
    /// ffmpeg failed (missing, exit status) or the encoder thread panicked.
    pub(super) fn finish(mut self) -> Result<u64> {
        self.join()?
    }

    /// The video's path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for VideoWriter {
    fn drop(&mut self) {
        // A run that failed: ffmpeg still gets the end of its input and is waited for.
        let _ = self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_paths_by_extension() {
        assert!(is_video_path(Path::new("out/run.mp4")));
        assert!(is_video_path(Path::new("run.MKV")));
        assert!(is_video_path(Path::new("run.mov")));
        assert!(!is_video_path(Path::new("drawn")));
        assert!(!is_video_path(Path::new("drawn.avi")));
        // An existing folder is a folder of PNGs, whatever its name.
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("frames.mp4");
        std::fs::create_dir(&odd).unwrap();
        assert!(!is_video_path(&odd));
    }

    #[test]
    fn rates_follow_the_source_divided_by_every() {
        assert_eq!(video_rate(Some("30000/1001"), Some(29.97), 1), "30000/1001");
        assert_eq!(video_rate(Some("30/1"), Some(30.0), 3), "30/3");
        assert_eq!(video_rate(None, Some(25.0), 2), "12.5");
        assert_eq!(video_rate(Some("0/0"), Some(24.0), 1), "24");
        assert_eq!(video_rate(None, None, 1), "30");
    }

    #[test]
    fn a_larger_frame_is_scaled_down_and_a_smaller_one_centred() {
        // 4x2, red left half, green right half, into 2x2: halved to 2x1 on the top row.
        let mut rgb = Vec::new();
        for _ in 0..2 {
            rgb.extend([255, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 0]);
        }
        let out = fit(&rgb, 4, 2, 2, 2);
        assert_eq!(out, [255, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0]);
        // 1x1 into 3x3: unscaled, in the middle.
        let out = fit(&[9, 9, 9], 1, 1, 3, 3);
        assert_eq!(out.iter().filter(|&&v| v == 9).count(), 3);
        assert_eq!(&out[12..15], [9, 9, 9]);
    }

    #[test]
    fn an_odd_frame_is_copied_unscaled_with_a_black_edge() {
        // 3x1 into the even 4x2 the encoder is given: pixels unchanged at the top left.
        let rgb = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        let out = fit(&rgb, 3, 1, 4, 2);
        assert_eq!(&out[..9], &rgb);
        assert!(out[9..].iter().all(|&v| v == 0));
    }
}
