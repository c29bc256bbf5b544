//! Webcam capture through nokhwa (the only file that imports it): the native backend,
//! compiled in with the `camera` cargo feature because nokhwa's V4L2 backend needs libclang
//! at build time. Without it, cameras are read through ffmpeg (`ffmpeg_camera.rs`).

#[cfg(feature = "camera")]
use super::Next;
use super::{CameraSpec, FrameSource};
use crate::error::{Error, Result};

/// How to get the native backend, for builds without it.
#[cfg(not(feature = "camera"))]
pub const CAMERA_HINT: &str = "this build of facs has no native camera backend; the default \
one (--camera-backend ffmpeg) reads the same cameras through ffmpeg. To build nokhwa in:\n  \
apt-get install libclang-dev   # nokhwa's V4L2 backend needs libclang at build time\n  \
cargo build --release --features camera";

#[cfg(not(feature = "camera"))]
pub(super) fn open(_spec: &CameraSpec) -> Result<Box<dyn FrameSource>> {
    Err(Error::Camera(CAMERA_HINT.into()))
}

#[cfg(feature = "camera")]
pub(super) use imp::open;

#[cfg(feature = "camera")]
mod imp {
    use std::time::Instant;

    use nokhwa::pixel_format::RgbFormat;
    use nokhwa::utils::{
        ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
        Resolution,
    };
    use nokhwa::Camera;

    use super::{CameraSpec, Error, FrameSource, Next, Result};
    use crate::frame::Frame;
    use crate::source::SourceInfo;

    fn list_cameras() -> Result<Vec<String>> {
        let cams = nokhwa::query(ApiBackend::Auto).map_err(|e| Error::Camera(e.to_string()))?;
        Ok(cams
            .iter()
            .map(|c| format!("{}: {}", c.index(), c.human_name()))
            .collect())
    }

    fn found() -> String {
        match list_cameras() {
            Ok(list) if list.is_empty() => "no cameras found".into(),
            Ok(list) => format!("cameras found: {}", list.join(", ")),
            Err(e) => format!("listing cameras failed: {e}"),
        }
    }

    struct CameraSource {
        cam: Camera,
        spec: CameraSpec,
        started: Instant,
        next: u64,
    }

    pub fn open(spec: &CameraSpec) -> Result<Box<dyn FrameSource>> {
        let format =
            RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(CameraFormat::new(
                Resolution::new(spec.width, spec.height),
                FrameFormat::MJPEG,
                spec.fps,
            )));
        let mut cam = Camera::new(CameraIndex::Index(spec.index), format).map_err(|e| {
            Error::Camera(format!(
                "cannot open camera {}: {e}; {}",
                spec.index,
                found()
            ))
        })?;
        cam.open_stream()
            .map_err(|e| Error::Camera(format!("camera {} will not stream: {e}", spec.index)))?;
        Ok(Box::new(CameraSource {
            cam,
            spec: spec.clone(),
            started: Instant::now(),
            next: 0,
        }))
    }

    impl FrameSource for CameraSource {
        fn info(&self) -> SourceInfo {
            let res = self.cam.resolution();
            SourceInfo {
                kind: "camera",
                name: format!("camera {}", self.spec.index),
                width: Some(res.width()),
                height: Some(res.height()),
                fps: None,
                frame_count: None,
                timing: None,
                stills: None,
            }
        }

        fn next_frame(&mut self) -> Result<Next> {
            let buf = self
                .cam
                .frame()
                .map_err(|e| Error::Camera(format!("camera {} stopped: {e}", self.spec.index)))?;
            let index = self.next;
            self.next += 1;
            let ts = self.started.elapsed().as_secs_f64();
            let res = buf.resolution();
            let mut rgb = vec![0u8; res.width() as usize * res.height() as usize * 3];
            if let Err(e) = buf.decode_image_to_buffer::<RgbFormat>(&mut rgb) {
                return Ok(Next::Skipped {
                    index,
                    what: format!("camera {}", self.spec.index),
                    reason: e.to_string(),
                });
            }
            Ok(
                match Frame::new(index, ts, res.width(), res.height(), rgb) {
                    Some(f) => Next::Frame(f),
                    None => Next::Skipped {
                        index,
                        what: format!("camera {}", self.spec.index),
                        reason: "empty frame".into(),
                    },
                },
            )
        }
    }

    impl Drop for CameraSource {
        fn drop(&mut self) {
            let _ = self.cam.stop_stream();
        }
    }
}
