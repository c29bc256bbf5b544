//! Where frames come from. Every source yields [`Next`] items through one trait, so the
//! capture stage does not care whether it reads a camera, a video, images or a test pattern.

mod camera;
mod embedded;
mod fake_camera;
mod ffmpeg_camera;
mod images;
mod synthetic;
mod video;
mod webcam;

pub use embedded::{DemoClip, DEMO_FPS, DEMO_NAME};
pub use fake_camera::FakeCameraSpec;
pub use images::{
    decode_rgb, image_extensions, load_rgb, read_folder_as, ImageFolder, ReadAs, Stills,
    StillsReading,
};
pub use synthetic::{SyntheticSource, SyntheticSpec};
pub use video::{ffmpeg_available, VideoSource};
pub use webcam::{list_cameras, CameraBackend, CameraSpec};

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::frame::Frame;

/// What a source produced on one call.
#[derive(Debug)]
pub enum Next {
    /// A good frame.
    Frame(Frame),
    /// A frame that could not be read; the run goes on without it. The capture stage
    /// reports it as `frame N (what): reason`, so each part is said once.
    Skipped {
        index: u64,
        /// The file the frame is, or the clip or camera it is from; not the frame number.
        what: String,
        /// The cause alone, without the file's name.
        reason: String,
    },
    /// The source ended with a problem worth reporting (a truncated video); no more frames.
    Warning(String),
    /// No more frames.
    End,
}

/// A description of a source for logs and summaries.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SourceInfo {
    /// `camera`, `video`, `images`, `image` or `synthetic`.
    pub kind: &'static str,
    /// Path, camera index or synthetic spec.
    pub name: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Nominal frame rate: the one timestamps are computed from for image folders and
    /// synthetic sources; for a video, the rate its header states (its frames carry their
    /// own timestamps, see `timing`). None for cameras: their clock is used.
    pub fps: Option<f64>,
    /// Frames expected, when known.
    pub frame_count: Option<u64>,
    /// A video's frame timing as its header states it; None for other sources.
    pub timing: Option<VideoTiming>,
    /// For image inputs: read as one frame sequence or as unrelated photos, and why.
    pub stills: Option<StillsReading>,
}

/// How a video stream's frames are timed, from its header (ffprobe). Each logged frame's
/// timestamp is its own presentation time from the stream, whatever these say.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VideoTiming {
    /// The nominal rate as ffprobe gives it (`r_frame_rate`, e.g. `30/1`, `30000/1001`):
    /// ffmpeg's guess of the lowest rate on whose ticks all the timestamps fall.
    pub r_frame_rate: Option<String>,
    /// The header's average rate (`avg_frame_rate`).
    pub avg_frame_rate: Option<String>,
    /// The stream's duration in seconds (Matroska: its DURATION tag; the file's where the
    /// stream states none).
    pub duration_s: Option<f64>,
    /// Frames in the stream (the header's count, else its packets counted) over
    /// `duration_s`.
    pub measured_fps: Option<f64>,
    /// True when the stream holds more than one frame more or fewer than its nominal rate
    /// gives over its duration: its frames are not evenly spaced at that rate (a phone's
    /// variable rate, joined segments). None when the rates or the duration are unknown.
    pub variable_frame_rate: Option<bool>,
}

/// A producer of frames. Not required to be `Send`: a source is built inside the capture
/// thread that uses it (nokhwa's camera cannot cross threads).
pub trait FrameSource {
    fn info(&self) -> SourceInfo;
    /// The next frame.
    ///
    /// # Errors
    /// A failure after which the source cannot go on (the camera vanished, ffmpeg died).
    fn next_frame(&mut self) -> Result<Next>;
}

/// What to open; `Send`, so it can be handed to the capture thread.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceSpec {
    Camera(CameraSpec),
    /// A folder of images at `fps` for timestamps, read as a frame sequence or as a set of
    /// photos as `stills` says.
    Images {
        dir: PathBuf,
        fps: f64,
        stills: Stills,
    },
    /// One still image: a set of one photo.
    Image(PathBuf),
    Video(PathBuf),
    Synthetic(SyntheticSpec),
    /// The demo clip built into the binary; `looping` plays it until the run is stopped.
    Demo {
        fps: f64,
        looping: bool,
    },
    /// A camera that fails on purpose (`fake-camera:...`), to check reconnecting.
    FakeCamera(FakeCameraSpec),
}

/// How the capture stage reconnects a live source that failed mid-stream: it waits
/// `first_wait`, doubling after each failed attempt up to `max_wait`, until the source
/// opens again or the run is stopped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reconnect {
    pub first_wait: Duration,
    pub max_wait: Duration,
    /// The source's nominal frame rate, to estimate the frames a gap cost.
    pub fps: f64,
}

impl Reconnect {
    /// A camera's: 0.25 s, doubling to 4 s.
    pub fn camera(fps: f64) -> Self {
        Reconnect {
            first_wait: Duration::from_millis(250),
            max_wait: Duration::from_secs(4),
            fps,
        }
    }
}

impl SourceSpec {
    /// Interprets an `--input` argument: a folder, an image, a video,
    /// `synthetic:faces=N,frames=M,size=WxH,fps=F`, or a failing camera
    /// `fake-camera:fail-after=N,down=K,...` ([`FakeCameraSpec::parse`]).
    ///
    /// # Errors
    /// [`Error::InputNotFound`] for a missing path; [`Error::InvalidConfig`] for a bad
    /// synthetic spec or frame rate.
    pub fn from_input(input: &str, fps: f64) -> Result<Self> {
        if let Some(rest) = input
            .strip_prefix("synthetic:")
            .or(if input == "synthetic" { Some("") } else { None })
        {
            return Ok(SourceSpec::Synthetic(SyntheticSpec::parse(rest)?));
        }
        if let Some(rest) = input
            .strip_prefix("fake-camera:")
            .or(if input == "fake-camera" {
                Some("")
            } else {
                None
            })
        {
            return Ok(SourceSpec::FakeCamera(FakeCameraSpec::parse(rest)?));
        }
        if !(fps > 0.0 && fps <= 1000.0) {
            return Err(Error::config("fps", fps, "in (0, 1000]"));
        }
        let path = PathBuf::from(input);
        if !path.exists() {
            return Err(Error::InputNotFound(path));
        }
        if path.is_dir() {
            return Ok(SourceSpec::Images {
                dir: path,
                fps,
                stills: Stills::Auto,
            });
        }
        if is_image(&path) {
            Ok(SourceSpec::Image(path))
        } else {
            Ok(SourceSpec::Video(path))
        }
    }

    /// Sets how a folder of stills is read. A single image is a set of one photo.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `stills` other than `auto` with an input that is not a
    /// folder of images (or `photos` with a single image).
    pub fn with_stills(mut self, how: Stills) -> Result<Self> {
        match (&mut self, how) {
            (SourceSpec::Images { stills, .. }, _) => *stills = how,
            (_, Stills::Auto) | (SourceSpec::Image(_), Stills::Photos) => {}
            (_, Stills::Sequence) => {
                return Err(Error::config(
                    "stills",
                    "sequence",
                    "a folder of images with --stills sequence",
                ))
            }
            (_, Stills::Photos) => {
                return Err(Error::config(
                    "stills",
                    "photos",
                    "a folder of images or one image with --stills photos",
                ))
            }
        }
        Ok(self)
    }

    /// Opens the source. Call it on the thread that will read it.
    ///
    /// # Errors
    /// Whatever stops the source from opening: no such camera, no ffmpeg, an empty folder.
    pub fn open(&self) -> Result<Box<dyn FrameSource>> {
        Ok(match self {
            SourceSpec::Camera(spec) => webcam::open(spec)?,
            SourceSpec::Images { dir, fps, stills } => {
                Box::new(ImageFolder::open(dir, *fps, *stills)?)
            }
            SourceSpec::Image(path) => Box::new(ImageFolder::single(path)?),
            SourceSpec::Video(path) => Box::new(VideoSource::open(path)?),
            SourceSpec::Synthetic(spec) => Box::new(SyntheticSource::new(spec.clone())),
            SourceSpec::Demo { fps, looping } => Box::new(DemoClip::new(*fps, *looping)),
            SourceSpec::FakeCamera(spec) => spec.open()?,
        })
    }

    /// How to reconnect the source when it fails mid-stream: live sources (cameras) are
    /// reopened; for the others (files, synthetic) None: a failure ends the run.
    pub fn reconnect(&self) -> Option<Reconnect> {
        match self {
            SourceSpec::Camera(c) => Some(Reconnect::camera(f64::from(c.fps))),
            SourceSpec::FakeCamera(f) => Some(Reconnect {
                first_wait: f.backoff(),
                max_wait: f.backoff() * 16,
                fps: f.fps(),
            }),
            _ => None,
        }
    }

    /// Short human description.
    pub fn describe(&self) -> String {
        match self {
            SourceSpec::Camera(c) => c.name(),
            SourceSpec::Images { dir, .. } => dir.display().to_string(),
            SourceSpec::Image(p) | SourceSpec::Video(p) => p.display().to_string(),
            SourceSpec::Synthetic(s) => s.to_string(),
            SourceSpec::Demo { .. } => DEMO_NAME.to_string(),
            SourceSpec::FakeCamera(s) => s.to_string(),
        }
    }
}

/// True if the file name ends in an image extension facs decodes.
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| image_extensions().contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

/// Up to `max` frames of a source, until it ends; fails the test on anything else (the
/// sources' tests share it).
#[cfg(test)]
pub(crate) fn read_frames(src: &mut dyn FrameSource, max: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    while out.len() < max {
        match src.next_frame().unwrap() {
            Next::Frame(f) => out.push(f),
            Next::End => break,
            other => panic!("{other:?}"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_classified() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.JPG");
        std::fs::write(&img, b"x").unwrap();
        let vid = dir.path().join("a.mp4");
        std::fs::write(&vid, b"x").unwrap();
        let s = |p: &Path| SourceSpec::from_input(p.to_str().unwrap(), 30.0).unwrap();
        assert!(matches!(s(dir.path()), SourceSpec::Images { .. }));
        assert!(matches!(s(&img), SourceSpec::Image(_)));
        assert!(matches!(s(&vid), SourceSpec::Video(_)));
        let missing = SourceSpec::from_input("/no/such/file.mp4", 30.0).unwrap_err();
        assert_eq!(missing.to_string(), "input not found: /no/such/file.mp4");
        assert!(matches!(
            SourceSpec::from_input("synthetic:faces=2", 30.0).unwrap(),
            SourceSpec::Synthetic(_)
        ));
        assert!(SourceSpec::from_input(dir.path().to_str().unwrap(), 0.0).is_err());
    }

    #[test]
    fn stills_apply_to_folders_and_photos_to_one_image() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.png");
        std::fs::write(&img, b"x").unwrap();
        let vid = dir.path().join("a.mp4");
        std::fs::write(&vid, b"x").unwrap();
        let s = |p: &Path| SourceSpec::from_input(p.to_str().unwrap(), 30.0).unwrap();
        assert!(matches!(
            s(dir.path()).with_stills(Stills::Photos).unwrap(),
            SourceSpec::Images {
                stills: Stills::Photos,
                ..
            }
        ));
        assert!(s(&img).with_stills(Stills::Photos).is_ok());
        assert!(s(&img).with_stills(Stills::Sequence).is_err());
        assert!(s(&vid).with_stills(Stills::Auto).is_ok());
        let err = s(&vid).with_stills(Stills::Photos).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid stills photos (expected a folder of images or one image with --stills photos)"
        );
        assert!("film".parse::<Stills>().is_err());
        assert_eq!("photos".parse::<Stills>().unwrap(), Stills::Photos);
    }
}
