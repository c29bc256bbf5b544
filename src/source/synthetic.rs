//! A deterministic test source: a real face photo (a crop of the bundled single_face clip,
//! see models/README.md) pasted N times onto a textured background, drifting slowly, so
//! that the detector has real faces to find at a known size and count.

use std::fmt;

use super::{FrameSource, Next, SourceInfo};
use crate::align::resize_rgb;
use crate::config::parse_size;
use crate::error::{Error, Result};
use crate::frame::Frame;

static FACE_JPEG: &[u8] = include_bytes!("face.jpg");

/// Parameters of the synthetic source, written `faces=2,frames=300,size=640x480,fps=30,face=120`.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticSpec {
    pub faces: u32,
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Height of each pasted face in pixels.
    pub face_px: u32,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            faces: 1,
            frames: 300,
            width: 640,
            height: 480,
            fps: 30.0,
            face_px: 120,
        }
    }
}

impl fmt::Display for SyntheticSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "synthetic:faces={},frames={},size={}x{},fps={},face={}",
            self.faces, self.frames, self.width, self.height, self.fps, self.face_px
        )
    }
}

impl SyntheticSpec {
    /// Parses `key=value` pairs separated by commas; unknown keys are errors.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the bad key or value.
    pub fn parse(text: &str) -> Result<Self> {
        let mut spec = SyntheticSpec::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| Error::config("synthetic option", part, "key=value"))?;
            let num = |expected| {
                value
                    .parse::<u64>()
                    .map_err(|_| Error::config("synthetic value", part, expected))
            };
            match key {
                "faces" => spec.faces = num("faces=0..=16")? as u32,
                "frames" => spec.frames = num("frames=N")?,
                "face" => spec.face_px = num("face=PIXELS")? as u32,
                "fps" => {
                    spec.fps = value
                        .parse()
                        .map_err(|_| Error::config("synthetic value", part, "fps=RATE"))?
                }
                "size" => (spec.width, spec.height) = parse_size(value)?,
                _ => {
                    return Err(Error::config(
                        "synthetic option",
                        key,
                        "one of faces, frames, size, fps, face",
                    ))
                }
            }
        }
        if spec.faces > 16 {
            return Err(Error::config("synthetic faces", spec.faces, "0..=16"));
        }
        if !(spec.fps > 0.0 && spec.fps <= 1000.0) {
            return Err(Error::config("synthetic fps", spec.fps, "in (0, 1000]"));
        }
        if spec.face_px < 24 || spec.face_px > spec.height {
            return Err(Error::config(
                "synthetic face",
                spec.face_px,
                "24..=frame height",
            ));
        }
        Ok(spec)
    }
}

/// Renders frames for a [`SyntheticSpec`].
pub struct SyntheticSource {
    spec: SyntheticSpec,
    background: Vec<u8>,
    face: (u32, u32, Vec<u8>),
    /// Grid cell of each face: (columns, rows).
    grid: (u32, u32),
    next: u64,
}

impl SyntheticSource {
    pub fn new(spec: SyntheticSpec) -> Self {
        let (w, h) = (spec.width, spec.height);
        let mut background = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                // A soft diagonal gradient with a fine hash texture, nothing face-like.
                let t = ((x + y) * 160 / (w + h)) as u8;
                let n = ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) % 17) as u8;
                background.extend_from_slice(&[60 + t / 2 + n, 70 + t / 3 + n, 90 + t / 4 + n]);
            }
        }
        let face = match image::load_from_memory(FACE_JPEG) {
            Ok(img) => {
                let img = img.into_rgb8();
                let (fw, fh) = img.dimensions();
                let out_h = spec.face_px;
                let out_w = (fw * out_h / fh).max(1);
                let rgb = resize_rgb(img.as_raw(), fw, fh, out_w, out_h);
                (out_w, out_h, rgb)
            }
            // The JPEG is compiled in and covered by tests; a grey patch keeps this infallible.
            Err(_) => (
                spec.face_px,
                spec.face_px,
                vec![128; (spec.face_px * spec.face_px * 3) as usize],
            ),
        };
        let cols = (spec.faces as f32).sqrt().ceil().max(1.0) as u32;
        let rows = spec.faces.div_ceil(cols).max(1);
        SyntheticSource {
            spec,
            background,
            face,
            grid: (cols, rows),
            next: 0,
        }
    }

    /// Top-left corner of face `i` in frame `t`: each face drifts inside its grid cell.
    pub fn face_position(&self, i: u32, t: u64) -> (u32, u32) {
        let (cols, rows) = self.grid;
        let (fw, fh) = (self.face.0, self.face.1);
        let cell_w = self.spec.width / cols;
        let cell_h = self.spec.height / rows;
        let slack_x = cell_w.saturating_sub(fw);
        let slack_y = cell_h.saturating_sub(fh);
        let phase = t as f32 / self.spec.fps as f32 + i as f32;
        let fx = 0.5 + 0.4 * (phase * 0.9).sin();
        let fy = 0.5 + 0.4 * (phase * 0.7).cos();
        let x = (i % cols) * cell_w + (slack_x as f32 * fx) as u32;
        let y = (i / cols) * cell_h + (slack_y as f32 * fy) as u32;
        (
            x.min(self.spec.width.saturating_sub(fw)),
            y.min(self.spec.height.saturating_sub(fh)),
        )
    }

    /// Size of each pasted face.
    pub fn face_size(&self) -> (u32, u32) {
        (self.face.0, self.face.1)
    }
}

impl FrameSource for SyntheticSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "synthetic",
            name: self.spec.to_string(),
            width: Some(self.spec.width),
            height: Some(self.spec.height),
            fps: Some(self.spec.fps),
            frame_count: Some(self.spec.frames),
            timing: None,
            stills: None,
        }
    }

    fn next_frame(&mut self) -> Result<Next> {
        if self.next >= self.spec.frames {
            return Ok(Next::End);
        }
        let t = self.next;
        self.next += 1;
        let (w, h) = (self.spec.width, self.spec.height);
        let mut rgb = self.background.clone();
        let (fw, fh, face) = (&self.face.0, &self.face.1, &self.face.2);
        for i in 0..self.spec.faces {
            let (x0, y0) = self.face_position(i, t);
            for y in 0..(*fh).min(h - y0) {
                let src = (y * fw * 3) as usize;
                let dst = (((y0 + y) * w + x0) * 3) as usize;
                let n = ((*fw).min(w - x0) * 3) as usize;
                rgb[dst..dst + n].copy_from_slice(&face[src..src + n]);
            }
        }
        let ts = t as f64 / self.spec.fps;
        Ok(match Frame::new(t, ts, w, h, rgb) {
            Some(f) => Next::Frame(f),
            None => Next::End,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips_and_rejects_nonsense() {
        let s = SyntheticSpec::parse("faces=5,frames=10,size=320x240,fps=15,face=60").unwrap();
        assert_eq!(
            (s.faces, s.frames, s.width, s.height, s.face_px),
            (5, 10, 320, 240, 60)
        );
        assert_eq!(
            SyntheticSpec::parse(&s.to_string()["synthetic:".len()..]).unwrap(),
            s
        );
        assert!(SyntheticSpec::parse("faces=99").is_err());
        assert!(SyntheticSpec::parse("colour=red").is_err());
        assert!(SyntheticSpec::parse("faces").is_err());
        assert!(SyntheticSpec::parse("face=10").is_err());
    }

    #[test]
    fn frames_are_deterministic_and_faces_stay_inside() {
        let spec = SyntheticSpec::parse("faces=5,frames=3").unwrap();
        let mut a = SyntheticSource::new(spec.clone());
        let mut b = SyntheticSource::new(spec);
        for t in 0..3 {
            let (Next::Frame(fa), Next::Frame(fb)) =
                (a.next_frame().unwrap(), b.next_frame().unwrap())
            else {
                panic!("frame {t}")
            };
            assert_eq!(fa.rgb, fb.rgb);
            for i in 0..5 {
                let (x, y) = a.face_position(i, t);
                let (w, h) = a.face_size();
                assert!(x + w <= 640 && y + h <= 480);
            }
        }
        assert!(matches!(a.next_frame().unwrap(), Next::End));
    }
}
