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

    /// Bilinear grey level at face-frame point (u, v).
    pub fn grey(&self, frame: &Frame, u: f32, v: f32) -> f32 {
        let (x, y) = self.to_image(u, v);
        grey_at(frame, x, y)
    }
}

/// Grey level (BT.601 luma) at a pixel.
fn luma(frame: &Frame, x: u32, y: u32) -> f32 {
    let p = frame.pixel(x, y);
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
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
}
