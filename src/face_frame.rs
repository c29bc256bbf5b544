//! The face frame of [`crate::geometry`] laid on the image: origin between the eye centres,
//! x along the eye line, y perpendicular to it and pointing down, unit = inter-ocular
//! distance (IOD). The image cues ([`crate::furrow`], [`crate::brows`]) place their regions
//! in it, so a face's size, position and roll do not change what they read, and read grey
//! levels through it.

use crate::frame::{Frame, Landmarks};
use crate::geometry::eye_centres;

/// Where a face's frame sits in the image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceFrame {
    /// The origin (midpoint of the eye centres), in frame pixels.
    pub origin: (f32, f32),
    /// Cosine and sine of the eye line's angle (head roll).
    pub axis: (f32, f32),
    /// Inter-ocular distance in pixels: the frame's unit.
    pub iod: f32,
}

impl FaceFrame {
    /// The face frame of `pts`; None when the eye centres coincide or are not finite.
    pub fn from_landmarks(pts: &Landmarks) -> Option<Self> {
        let (l, r) = eye_centres(pts);
        let (dx, dy) = (r.0 - l.0, r.1 - l.1);
        let iod = (dx * dx + dy * dy).sqrt();
        if !(iod > 1e-3) || !iod.is_finite() {
            return None;
        }
        Some(FaceFrame {
            origin: ((l.0 + r.0) / 2.0, (l.1 + r.1) / 2.0),
            axis: (dx / iod, dy / iod),
            iod,
        })
    }

    /// The image position (pixels) of face-frame point (u, v).
    pub fn to_image(&self, u: f32, v: f32) -> (f32, f32) {
        let (c, s) = self.axis;
        (
            self.origin.0 + self.iod * (u * c - v * s),
            self.origin.1 + self.iod * (u * s + v * c),
        )
    }
}

/// Grey level (BT.601 luma) at a pixel.
fn luma(frame: &Frame, x: u32, y: u32) -> f32 {
    let p = frame.pixel(x, y);
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}

/// The grey levels of the part of a frame that a measure will read, turned grey once: read
/// through [`GreyPatch::at`], it gives exactly what [`grey_at`] gives on the frame for any
/// point inside the region it was made for, without converting each pixel again for every
/// sample that touches it.
#[derive(Clone, Debug)]
pub struct GreyPatch {
    /// The patch's top-left pixel in the frame, and its size.
    x0: u32,
    y0: u32,
    w: u32,
    h: u32,
    /// The frame's size (points are clamped to the frame, as [`grey_at`] does).
    frame_w: u32,
    frame_h: u32,
    grey: Vec<f32>,
}

impl GreyPatch {
    /// The patch covering every point within the image box (`min`, `max`), clamped to the
    /// frame: each pixel a bilinear sample of such a point can touch.
    pub fn cover(frame: &Frame, min: (f32, f32), max: (f32, f32)) -> Self {
        let last = |v: f32, size: u32| v.clamp(0.0, size.saturating_sub(1) as f32);
        let (x0, y0) = (
            last(min.0, frame.width) as u32,
            last(min.1, frame.height) as u32,
        );
        let x1 = (last(max.0, frame.width) as u32 + 1).min(frame.width - 1);
        let y1 = (last(max.1, frame.height) as u32 + 1).min(frame.height - 1);
        let (w, h) = (x1 + 1 - x0.min(x1), y1 + 1 - y0.min(y1));
        let mut grey = Vec::with_capacity((w * h) as usize);
        for y in y0..y0 + h {
            grey.extend((x0..x0 + w).map(|x| luma(frame, x, y)));
        }
        GreyPatch {
            x0,
            y0,
            w,
            h,
            frame_w: frame.width,
            frame_h: frame.height,
            grey,
        }
    }

    /// [`grey_at`] at image position (x, y), for points inside the box the patch covers
    /// (outside it, the nearest covered pixel's level).
    pub fn at(&self, x: f32, y: f32) -> f32 {
        let max_x = self.frame_w.saturating_sub(1) as f32;
        let max_y = self.frame_h.saturating_sub(1) as f32;
        let (x, y) = (x.clamp(0.0, max_x), y.clamp(0.0, max_y));
        let (xf, yf) = (x.floor() as u32, y.floor() as u32);
        let (fx, fy) = (x - xf as f32, y - yf as f32);
        let inside = |v: u32, start: u32, size: u32| v.clamp(start, start + size - 1) - start;
        let (xa, ya) = (inside(xf, self.x0, self.w), inside(yf, self.y0, self.h));
        let xb = inside((xf + 1).min(self.frame_w - 1), self.x0, self.w);
        let yb = inside((yf + 1).min(self.frame_h - 1), self.y0, self.h);
        let g = |xx: u32, yy: u32| self.grey[(yy * self.w + xx) as usize];
        let top = g(xa, ya) * (1.0 - fx) + g(xb, ya) * fx;
        let bottom = g(xa, yb) * (1.0 - fx) + g(xb, yb) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}

/// Bilinear grey level at image position (x, y), clamped to the frame.
pub fn grey_at(frame: &Frame, x: f32, y: f32) -> f32 {
    let max_x = frame.width.saturating_sub(1) as f32;
    let max_y = frame.height.saturating_sub(1) as f32;
    let (x, y) = (x.clamp(0.0, max_x), y.clamp(0.0, max_y));
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = (
        (x0 + 1).min(frame.width - 1),
        (y0 + 1).min(frame.height - 1),
    );
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let top = luma(frame, x0, y0) * (1.0 - fx) + luma(frame, x1, y0) * fx;
    let bottom = luma(frame, x0, y1) * (1.0 - fx) + luma(frame, x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eyes(l: (f32, f32), r: (f32, f32)) -> Landmarks {
        let mut pts = [(0f32, 0f32); 68];
        pts[36..42].fill(l);
        pts[42..48].fill(r);
        pts
    }

    #[test]
    fn the_frame_follows_the_eyes_position_size_and_roll() {
        // Eyes 100 px apart, turned 90 degrees (right eye below the left one).
        let f = FaceFrame::from_landmarks(&eyes((200.0, 100.0), (200.0, 200.0))).unwrap();
        assert_eq!(f.origin, (200.0, 150.0));
        assert_eq!(f.iod, 100.0);
        // One IOD along the eye line goes down the image; one IOD "down" goes left.
        let (x, y) = f.to_image(1.0, 0.0);
        assert!((x - 200.0).abs() < 1e-4 && (y - 250.0).abs() < 1e-4);
        let (x, y) = f.to_image(0.0, 1.0);
        assert!((x - 100.0).abs() < 1e-4 && (y - 150.0).abs() < 1e-4);
        assert!(FaceFrame::from_landmarks(&eyes((5.0, 5.0), (5.0, 5.0))).is_none());
    }

    #[test]
    fn grey_is_bilinear_between_pixels_and_clamped_at_the_edges() {
        // 2x1 frame: black then white.
        let frame = Frame::new(0, 0.0, 2, 1, vec![0, 0, 0, 255, 255, 255]).unwrap();
        assert!((grey_at(&frame, 0.25, 0.0) - 63.75).abs() < 1e-3);
        assert_eq!(grey_at(&frame, -3.0, 7.0), 0.0);
        assert!((grey_at(&frame, 9.0, 0.0) - 255.0).abs() < 1e-3);
    }

    #[test]
    fn a_patch_reads_what_the_frame_reads_bit_for_bit() {
        // A frame of varied colours; points across a box that runs off its right and bottom
        // edges, so that clamping is exercised too.
        let (w, h) = (37u32, 23u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 97 % 251) as u8).collect();
        let frame = Frame::new(0, 0.0, w, h, rgb).unwrap();
        let (min, max) = ((20.3, 9.6), (40.0, 30.0));
        let patch = GreyPatch::cover(&frame, min, max);
        for i in 0..=60 {
            for j in 0..=60 {
                let x = min.0 + (max.0 - min.0) * i as f32 / 60.0;
                let y = min.1 + (max.1 - min.1) * j as f32 / 60.0;
                assert_eq!(
                    patch.at(x, y).to_bits(),
                    grey_at(&frame, x, y).to_bits(),
                    "{x} {y}"
                );
            }
        }
    }
}
