//! A camera that fails on purpose, to check what a live run does when its camera stops
//! mid-stream (a pulled cable, a USB reset): the synthetic source's frames, paced at its
//! rate and stamped by the clock as a camera's are, from a stream that breaks after a set
//! number of frames and a device that then refuses a set number of attempts to open it
//! before it comes back. Written `fake-camera:fail-after=30,down=3,frames=90`.
//!
//! Its state (frames delivered, breaks, refusals) outlives each opened stream, as a real
//! device does, so the capture stage's reconnecting can be checked by counts, not time.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{FrameSource, Next, SourceInfo, SyntheticSource, SyntheticSpec};
use crate::error::{Error, Result};

/// Parameters of a [`FakeCameraSpec`]; see [`FakeCameraSpec::parse`].
#[derive(Clone, Debug, PartialEq)]
struct Params {
    /// The picture: faces, size and frame rate (its `frames` is unused).
    picture: SyntheticSpec,
    /// Frames delivered in all before the stream ends (so that a test run ends).
    frames: u64,
    /// The stream breaks after every this many frames delivered...
    fail_after: u64,
    /// ...this many times.
    failures: u32,
    /// Attempts to open the device refused after each break.
    down: u32,
    /// The first wait between reopening attempts; it doubles up to 16 times this.
    backoff: Duration,
    /// Streams opened after each break that fail at their first read (a device that
    /// enumerates but does not deliver yet).
    flaky: u32,
}

/// What the device has been through, shared by every stream opened from one spec.
#[derive(Debug, Default)]
struct State {
    delivered: u64,
    breaks: u32,
    /// Refusals since the last break; the device is down while this is below `down`.
    refused: u32,
    broken: bool,
    refused_total: u32,
    /// Streams still to fail at their first read, since the last break.
    flaky_left: u32,
}

/// A failing camera's description; clones share one device state.
#[derive(Clone, Debug)]
pub struct FakeCameraSpec {
    params: Params,
    state: Arc<Mutex<State>>,
}

impl PartialEq for FakeCameraSpec {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
    }
}

impl fmt::Display for FakeCameraSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.params;
        write!(
            f,
            "fake-camera:frames={},fail-after={},failures={},down={},flaky={},backoff-ms={},faces={},size={}x{},fps={}",
            p.frames,
            p.fail_after,
            p.failures,
            p.down,
            p.flaky,
            p.backoff.as_millis(),
            p.picture.faces,
            p.picture.width,
            p.picture.height,
            p.picture.fps
        )
    }
}

impl FakeCameraSpec {
    /// Parses `key=value` pairs separated by commas: `frames` (delivered in all, default
    /// 300), `fail-after` (frames between breaks, default 100), `failures` (breaks, default
    /// 1), `down` (refused opens after each break, default 3), `flaky` (streams opened
    /// after each break that fail at their first read, default 0), `backoff-ms` (first wait
    /// between reopening attempts, default 250), and the picture's `faces`, `size`, `fps`
    /// and `face` as for `synthetic:`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the bad key or value.
    pub fn parse(text: &str) -> Result<Self> {
        let mut params = Params {
            picture: SyntheticSpec::default(),
            frames: 300,
            fail_after: 100,
            failures: 1,
            down: 3,
            backoff: Duration::from_millis(250),
            flaky: 0,
        };
        let mut picture = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| Error::config("fake-camera option", part, "key=value"))?;
            let num = |expected| {
                value
                    .parse::<u64>()
                    .map_err(|_| Error::config("fake-camera value", part, expected))
            };
            match key {
                "frames" => params.frames = num("frames=N")?,
                "fail-after" => params.fail_after = num("fail-after=N (N >= 1)")?,
                "failures" => params.failures = num("failures=N")?.min(u32::MAX.into()) as u32,
                "down" => params.down = num("down=N")?.min(u32::MAX.into()) as u32,
                "flaky" => params.flaky = num("flaky=N")?.min(u32::MAX.into()) as u32,
                "backoff-ms" => params.backoff = Duration::from_millis(num("backoff-ms=MS")?),
                "faces" | "size" | "fps" | "face" => picture.push(part),
                _ => {
                    return Err(Error::config(
                        "fake-camera option",
                        key,
                        "one of frames, fail-after, failures, down, flaky, backoff-ms, faces, \
                         size, fps, face",
                    ))
                }
            }
        }
        if params.fail_after == 0 {
            return Err(Error::config("fake-camera fail-after", 0, ">= 1"));
        }
        if params.backoff.is_zero() {
            return Err(Error::config("fake-camera backoff-ms", 0, ">= 1"));
        }
        params.picture = SyntheticSpec::parse(&picture.join(","))?;
        Ok(FakeCameraSpec {
            params,
            state: Arc::default(),
        })
    }

    /// The nominal frame rate.
    pub fn fps(&self) -> f64 {
        self.params.picture.fps
    }

    /// The first wait between reopening attempts.
    pub fn backoff(&self) -> Duration {
        self.params.backoff
    }

    /// Attempts to open the device refused so far, over all breaks.
    pub fn refused_opens(&self) -> u32 {
        self.state.lock().map_or(0, |s| s.refused_total)
    }

    /// Opens a stream, unless the device is down.
    ///
    /// # Errors
    /// [`Error::Camera`] while the device is down (after a break, `down` times).
    pub fn open(&self) -> Result<Box<dyn FrameSource>> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| Error::Camera("fake camera: state poisoned".into()))?;
        if st.broken && st.refused < self.params.down {
            st.refused += 1;
            st.refused_total += 1;
            return Err(Error::Camera(format!(
                "no device (fake camera down: refusal {} of {})",
                st.refused, self.params.down
            )));
        }
        st.broken = false;
        st.refused = 0;
        Ok(Box::new(FakeCamera {
            spec: self.clone(),
            picture: SyntheticSource::new(SyntheticSpec {
                frames: u64::MAX,
                ..self.params.picture.clone()
            }),
            opened: Instant::now(),
            next: 0,
        }))
    }
}

/// One opened stream of a [`FakeCameraSpec`].
struct FakeCamera {
    spec: FakeCameraSpec,
    picture: SyntheticSource,
    opened: Instant,
    /// Frames delivered by this stream: its own index, from 0 at each opening, as a
    /// camera's.
    next: u64,
}

impl FrameSource for FakeCamera {
    fn info(&self) -> SourceInfo {
        let p = &self.spec.params.picture;
        SourceInfo {
            kind: "fake-camera",
            name: "fake camera".into(),
            width: Some(p.width),
            height: Some(p.height),
            // As for a camera: frames carry the clock's time.
            fps: None,
            frame_count: None,
            timing: None,
            stills: None,
        }
    }

    fn next_frame(&mut self) -> Result<Next> {
        let params = &self.spec.params;
        {
            let mut st = self
                .spec
                .state
                .lock()
                .map_err(|_| Error::Camera("fake camera: state poisoned".into()))?;
            if st.delivered >= params.frames {
                return Ok(Next::End);
            }
            if self.next == 0 && st.flaky_left > 0 {
                st.flaky_left -= 1;
                return Err(Error::Camera(
                    "no frame from the reopened stream (fake camera: flaky)".into(),
                ));
            }
            if st.breaks < params.failures
                && st.delivered == params.fail_after * u64::from(st.breaks + 1)
            {
                st.breaks += 1;
                st.broken = true;
                st.flaky_left = params.flaky;
                return Err(Error::Camera(format!(
                    "stream lost after {} frames (fake camera: break {} of {})",
                    st.delivered, st.breaks, params.failures
                )));
            }
            st.delivered += 1;
        }
        // Delivered at the camera's pace, stamped by its clock.
        let due = self.opened + Duration::from_secs_f64(self.next as f64 / params.picture.fps);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let index = self.next;
        self.next += 1;
        Ok(match self.picture.next_frame()? {
            Next::Frame(mut f) => {
                f.index = index;
                f.timestamp_s = self.opened.elapsed().as_secs_f64();
                Next::Frame(f)
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(src: &mut dyn FrameSource, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| match src.next_frame().unwrap() {
                Next::Frame(f) => f.index,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn breaks_refuses_then_comes_back_and_ends() {
        let spec = FakeCameraSpec::parse(
            "frames=7,fail-after=3,failures=1,down=2,fps=1000,size=64x48,face=24",
        )
        .unwrap();
        let mut s = spec.open().unwrap();
        assert_eq!(frames(s.as_mut(), 3), [0, 1, 2]);
        let e = s.next_frame().err().unwrap();
        assert!(e.to_string().contains("stream lost after 3 frames"), "{e}");
        drop(s);
        // Down: two refusals, then it opens; a new stream counts from 0 again.
        assert!(spec.open().is_err());
        assert!(spec.clone().open().is_err(), "clones share the device");
        assert_eq!(spec.refused_opens(), 2);
        let mut s = spec.open().unwrap();
        assert_eq!(frames(s.as_mut(), 4), [0, 1, 2, 3]);
        assert!(matches!(s.next_frame().unwrap(), Next::End));
    }

    #[test]
    fn spec_is_checked() {
        assert!(FakeCameraSpec::parse("fail-after=0").is_err());
        assert!(FakeCameraSpec::parse("backoff-ms=0").is_err());
        assert!(FakeCameraSpec::parse("colour=red").is_err());
        assert!(FakeCameraSpec::parse("faces=99").is_err());
        let s = FakeCameraSpec::parse("fps=50,backoff-ms=2").unwrap();
        assert_eq!((s.fps(), s.backoff()), (50.0, Duration::from_millis(2)));
    }
}
