//! A deterministic test source: a real face photo (a crop of the bundled single_face clip,
//! see models/README.md) pasted N times onto a textured background, drifting slowly, so
//! that the detector has real faces to find at a known size and count. With `clip=1` each
//! face is instead a crop of the bundled clip's frames, played from a different frame for
//! each face: real faces that move and change expression, as an audience's do.

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
    /// Paste moving faces cut from the bundled clip's frames instead of the one photo.
    pub clip: bool,
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
            clip: false,
        }
    }
}

impl fmt::Display for SyntheticSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "synthetic:faces={},frames={},size={}x{},fps={},face={}",
            self.faces, self.frames, self.width, self.height, self.fps, self.face_px
        )?;
        if self.clip {
            write!(f, ",clip=1")?;
        }
        Ok(())
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
                "clip" => {
                    spec.clip = match value {
                        "1" => true,
                        "0" => false,
                        _ => return Err(Error::config("synthetic value", part, "clip=0 or 1")),
                    }
                }
                _ => {
                    return Err(Error::config(
                        "synthetic option",
                        key,
                        "one of faces, frames, size, fps, face, clip",
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

/// Where the man's face is in every frame of the bundled clip (640x360; the union of the
/// detector's boxes over its 72 frames is (190, 80) to (390, 289)): cut from each frame and
/// scaled like the photo, its face fills about as much of the picture as the photo's.
const CLIP_CROP: (u32, u32, u32, u32) = (190, 65, 200, 240);

/// The bundled clip's frames, each cut to [`CLIP_CROP`] and scaled to `w` x `h`; frames
/// that do not decode (none: the build and the tests check them) are left out.
fn clip_faces(w: u32, h: u32) -> Vec<Vec<u8>> {
    let (cx, cy, cw, ch) = CLIP_CROP;
    super::embedded::DEMO_FRAMES
        .iter()
        .filter_map(|(name, bytes)| {
            let (fw, fh, rgb) =
                super::images::decode_rgb(bytes, std::path::Path::new(name)).ok()?;
            if cx + cw > fw || cy + ch > fh {
                return None;
            }
            let mut crop = Vec::with_capacity((cw * ch * 3) as usize);
            for y in cy..cy + ch {
                let start = ((y * fw + cx) * 3) as usize;
                crop.extend_from_slice(&rgb[start..start + (cw * 3) as usize]);
            }
            Some(resize_rgb(&crop, cw, ch, w, h))
        })
        .collect()
}

/// Renders frames for a [`SyntheticSpec`].
pub struct SyntheticSource {
    spec: SyntheticSpec,
    background: Vec<u8>,
    /// Width and height of each pasted face, and its pictures: one photo, or one a frame
    /// of the bundled clip.
    face: (u32, u32, Vec<Vec<u8>>),
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
        let photo = match image::load_from_memory(FACE_JPEG) {
            Ok(img) => {
                let img = img.into_rgb8();
                let (fw, fh) = img.dimensions();
                let out_h = spec.face_px;
                let out_w = (fw * out_h / fh).max(1);
                let rgb = resize_rgb(img.as_raw(), fw, fh, out_w, out_h);
                (out_w, out_h, vec![rgb])
            }
            // The JPEG is compiled in and covered by tests; a grey patch keeps this infallible.
            Err(_) => (
                spec.face_px,
                spec.face_px,
                vec![vec![128; (spec.face_px * spec.face_px * 3) as usize]],
            ),
        };
        let face = match spec.clip.then(|| clip_faces(photo.0, photo.1)) {
            Some(pictures) if !pictures.is_empty() => (photo.0, photo.1, pictures),
            _ => photo,
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

    /// The picture of face `i` in frame `t`: the photo, or the clip's frame `t` (looping)
    /// from a start 17 frames further on for each face.
    fn picture(&self, i: u32, t: u64) -> &[u8] {
        let pictures = &self.face.2;
        &pictures[((t + 17 * u64::from(i)) % pictures.len() as u64) as usize]
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
        let (fw, fh) = (&self.face.0, &self.face.1);
        for i in 0..self.spec.faces {
            let face = self.picture(i, t);
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
        assert!(SyntheticSpec::parse("clip=2").is_err());
        let c = SyntheticSpec::parse("faces=2,clip=1").unwrap();
        assert!(c.clip && !s.clip);
        assert_eq!(
            SyntheticSpec::parse(&c.to_string()["synthetic:".len()..]).unwrap(),
            c
        );
    }

    #[test]
    fn clip_faces_move_and_change_and_each_face_is_at_another_frame() {
        let spec = SyntheticSpec::parse("faces=2,frames=80,clip=1").unwrap();
        let src = SyntheticSource::new(spec);
        assert_eq!(src.face.2.len(), 72, "one picture a frame of the clip");
        assert_eq!(
            src.face_size(),
            SyntheticSource::new(Default::default()).face_size()
        );
        // Face 0 at frame 0 is face 1 at frame 55 (17 frames on) and itself 72 frames later.
        assert_eq!(src.picture(0, 17), src.picture(1, 0));
        assert_eq!(src.picture(0, 0), src.picture(0, 72));
        assert_ne!(src.picture(0, 0), src.picture(0, 1));
        // The man smiles late in the clip: the pictures differ by more than noise.
        let (a, b) = (src.picture(0, 0), src.picture(0, 65));
        let mean = a
            .iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y) as f64)
            .sum::<f64>()
            / a.len() as f64;
        assert!(mean > 5.0, "mean difference {mean}");
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
