//! Which camera to open, and through what: the ffmpeg command-line tool (every build: v4l2
//! on Linux, avfoundation on macOS, dshow on Windows) or nokhwa's native backend (builds
//! with the `camera` feature). The ffmpeg path is in `ffmpeg_camera.rs`, nokhwa's in
//! `camera.rs`.

use std::fmt;
use std::str::FromStr;

use super::{camera, ffmpeg_camera, FrameSource};
use crate::error::{Error, Result};

/// Which implementation reads the camera.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CameraBackend {
    /// nokhwa where this build has it (`--features camera`) and no `--device` was given,
    /// else ffmpeg.
    #[default]
    Auto,
    /// The ffmpeg command-line tool.
    Ffmpeg,
    /// nokhwa (needs a build with `--features camera`).
    Native,
}

impl FromStr for CameraBackend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(CameraBackend::Auto),
            "ffmpeg" => Ok(CameraBackend::Ffmpeg),
            "native" => Ok(CameraBackend::Native),
            other => Err(Error::config(
                "camera backend",
                other,
                "auto, ffmpeg or native",
            )),
        }
    }
}

impl fmt::Display for CameraBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CameraBackend::Auto => "auto",
            CameraBackend::Ffmpeg => "ffmpeg",
            CameraBackend::Native => "native",
        })
    }
}

/// Which camera to open and how.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraSpec {
    /// The system's camera number (`/dev/videoN` on Linux).
    pub index: u32,
    /// An ffmpeg input that replaces `index`: `/dev/video2`, `v4l2:/dev/video2`,
    /// `avfoundation:1`, `dshow:video=Integrated Camera`, or `lavfi:testsrc2` (ffmpeg's
    /// generated sources; `lavfi:movie=clip.mp4` plays a file as a camera would).
    pub device: Option<String>,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub backend: CameraBackend,
}

impl CameraSpec {
    /// The camera `index` at the given size and rate, through the default backend.
    pub fn new(index: u32, width: u32, height: u32, fps: u32) -> Self {
        CameraSpec {
            index,
            device: None,
            width,
            height,
            fps,
            backend: CameraBackend::Auto,
        }
    }

    /// The backend `Auto` stands for in this build.
    pub fn resolved_backend(&self) -> CameraBackend {
        match self.backend {
            CameraBackend::Auto if cfg!(feature = "camera") && self.device.is_none() => {
                CameraBackend::Native
            }
            CameraBackend::Auto => CameraBackend::Ffmpeg,
            other => other,
        }
    }

    /// How logs and messages name the camera.
    pub fn name(&self) -> String {
        match &self.device {
            Some(d) => format!("camera {d}"),
            None => format!("camera {}", self.index),
        }
    }
}

/// Opens the camera. Call it on the thread that reads it.
///
/// # Errors
/// [`Error::Camera`] naming the camera and the cameras found; [`Error::Tool`] without
/// ffmpeg.
pub(super) fn open(spec: &CameraSpec) -> Result<Box<dyn FrameSource>> {
    match spec.resolved_backend() {
        CameraBackend::Native => {
            if spec.device.is_some() {
                return Err(Error::config(
                    "camera backend",
                    "native",
                    "ffmpeg or auto with --device (nokhwa opens cameras by number)",
                ));
            }
            camera::open(spec)
        }
        _ => Ok(Box::new(ffmpeg_camera::FfmpegCamera::open(spec)?)),
    }
}

/// The cameras the system reports, one line each (`/dev/video0: Integrated Camera`).
///
/// # Errors
/// The system query failed (on macOS and Windows the list comes from ffmpeg).
pub fn list_cameras() -> Result<Vec<String>> {
    ffmpeg_camera::list()
}
