//! Drawing one analysed frame as a picture: the frame with face boxes and ids, and a side
//! panel with a bar per AU, where the AUs come from, a happy meter, the top emotion, fps and
//! per-stage latency, and a warning banner across the frame when the run carries one.
//! Pure drawing on a 0RGB [`Canvas`], shared by the window and `--annotate` PNGs.

use crate::font::CELL_H;
use crate::frame::{Analysed, AU_NUMBERS};

/// Face boxes are pure green so that tests can find them in a screenshot.
pub const BOX_COLOUR: u32 = 0x00_FF_00;
const TEXT: u32 = 0xFF_FF_FF;
const DIM: u32 = 0x80_80_80;
const PANEL_BG: u32 = 0x20_20_28;
const BAR: u32 = 0x33_99_FF;
const BAR_ON: u32 = 0xFF_66_33;
const HAPPY: u32 = 0xFF_CC_00;
const LANDMARK: u32 = 0x00_E5_FF;
/// The warning banner's background.
pub const WARNING_BG: u32 = 0xB0_10_10;
/// Height of the warning banner at the bottom of the frame area.
pub const WARNING_H: u32 = 14;
/// Width of the side panel in pixels.
pub const PANEL_W: u32 = 230;
const MIN_H: u32 = 300;

/// Run-level figures shown in the panel.
#[derive(Clone, Debug, Default)]
pub struct Hud {
    pub fps: f32,
    pub capture_ms: f32,
    pub detect_ms: f32,
    pub classify_ms: f32,
    pub end_to_end_ms: f32,
    pub dropped: u64,
    pub paused: bool,
    /// Draw the 68 landmarks (key l).
    pub show_landmarks: bool,
    /// Where the AU bars come from, e.g. "AUs: geometric estimate".
    pub au_source: Option<String>,
    /// A warning drawn as a banner across the bottom of the frame.
    pub warning: Option<String>,
}

/// A drawn picture: 0RGB pixels, row-major (the crate's one canvas).
pub type Canvas = crate::canvas::Canvas<u32>;

impl Canvas {
    /// Size of the canvas for a frame of `w` x `h`.
    pub fn size_for(w: u32, h: u32) -> (u32, u32) {
        (w + PANEL_W, h.max(MIN_H))
    }
}

/// Draws `a` with `hud` into `canvas`, resizing it if the frame size changed.
pub fn draw(a: &Analysed, hud: &Hud, canvas: &mut Canvas) {
    let f = &a.frame;
    let (cw, ch) = Canvas::size_for(f.width, f.height);
    if canvas.width != cw || canvas.height != ch {
        *canvas = Canvas::new(cw, ch, 0);
    }
    // Frame pixels.
    for y in 0..f.height {
        let src = &f.rgb[(y * f.width * 3) as usize..((y + 1) * f.width * 3) as usize];
        let dst = &mut canvas.pixels[(y * cw) as usize..(y * cw + f.width) as usize];
        for (d, p) in dst.iter_mut().zip(src.chunks_exact(3)) {
            *d = (p[0] as u32) << 16 | (p[1] as u32) << 8 | p[2] as u32;
        }
    }
    if ch > f.height {
        canvas.fill_rect(
            0,
            f.height as i32,
            f.width as i32,
            (ch - f.height) as i32,
            0,
        );
    }
    // Boxes and labels.
    let fw = f.width as i32;
    for r in &a.faces {
        let b = r.face.bbox;
        let (x, y, w, h) = (b.x as i32, b.y as i32, b.w as i32, b.h as i32);
        // Clipped to the frame area, never into the panel.
        canvas.outline(x, y, w.min(fw - x), h, 2, BOX_COLOUR);
        let mut label = format!("#{}", r.face.id);
        if let Some(p) = r.scores.happy {
            label.push_str(&format!(" HAPPY {:.0}%", p * 100.0));
        }
        let ly = if y >= 12 { y - 11 } else { y + h + 3 };
        canvas.fill_rect(x, ly - 1, (label.len() * 6 + 2) as i32, 10, 0);
        canvas.text(x + 1, ly, &label, BOX_COLOUR);
    }
    if hud.show_landmarks {
        for r in &a.faces {
            for &(x, y) in r.scores.landmarks.iter().flatten() {
                canvas.fill_rect(x as i32 - 1, y as i32 - 1, 3, 3, LANDMARK);
            }
        }
    }
    if let Some(w) = &hud.warning {
        draw_banner(canvas, f.width, f.height, w);
    }
    draw_panel(a, hud, canvas, f.width as i32);
}

/// A red banner across the bottom of the frame area, `text` cut to fit it.
fn draw_banner(c: &mut Canvas, frame_w: u32, frame_h: u32, text: &str) {
    let h = WARNING_H.min(frame_h) as i32;
    let y = frame_h as i32 - h;
    c.fill_rect(0, y, frame_w as i32, h, WARNING_BG);
    let fits = (frame_w.saturating_sub(8) / crate::font::CELL_W) as usize;
    let shown: String = format!("WARNING: {text}").chars().take(fits).collect();
    c.text(4, y + (h - 7) / 2, &shown, TEXT);
}

fn draw_panel(a: &Analysed, hud: &Hud, c: &mut Canvas, x0: i32) {
    let line = CELL_H as i32 + 1;
    c.fill_rect(x0, 0, PANEL_W as i32, c.height as i32, PANEL_BG);
    let x = x0 + 8;
    let mut y = 6;
    c.text(x, y, &format!("FACS  FRAME {}", a.frame.index + 1), TEXT);
    y += line;
    c.text(
        x,
        y,
        &format!("FPS {:.1}  DROPPED {}", hud.fps, hud.dropped),
        TEXT,
    );
    y += line;
    c.text(
        x,
        y,
        &format!(
            "CAP {:.1} DET {:.1} CLS {:.1}",
            hud.capture_ms, hud.detect_ms, hud.classify_ms
        ),
        DIM,
    );
    y += line;
    c.text(
        x,
        y,
        &format!("END TO END {:.1} MS", hud.end_to_end_ms),
        DIM,
    );
    y += line;
    if hud.paused {
        c.text(x, y, "PAUSED (SPACE)", HAPPY);
    }
    y += line + 4;

    // The largest face gets the detailed view.
    let Some(r) = a
        .faces
        .iter()
        .max_by(|p, q| (p.face.bbox.w * p.face.bbox.h).total_cmp(&(q.face.bbox.w * q.face.bbox.h)))
    else {
        c.text(x, y, "NO FACE", DIM);
        return;
    };
    c.text(
        x,
        y,
        &format!("FACE #{}  {} IN FRAME", r.face.id, a.faces.len()),
        TEXT,
    );
    y += line + 2;
    let bar_x = x + 36;
    let bar_w = PANEL_W as i32 - 36 - 50;
    for (i, au) in AU_NUMBERS.iter().enumerate() {
        c.text(x, y, &format!("AU{au:02}"), TEXT);
        c.fill_rect(bar_x, y, bar_w, 7, 0x30_30_3C);
        match r.scores.au_prob {
            Some(p) => {
                let on = r.scores.au_present.map(|v| v[i]).unwrap_or(false);
                let filled = (p[i].clamp(0.0, 1.0) * bar_w as f32) as i32;
                c.fill_rect(bar_x, y, filled, 7, if on { BAR_ON } else { BAR });
                c.text(bar_x + bar_w + 4, y, &format!("{:.2}", p[i]), DIM);
            }
            None => c.text(bar_x + bar_w + 4, y, "--", DIM),
        }
        y += line;
    }
    if let Some(src) = &hud.au_source {
        let fits = ((PANEL_W - 16) / crate::font::CELL_W) as usize;
        let shown: String = src.chars().take(fits).collect();
        c.text(x, y, &shown, DIM);
        y += line;
    }
    y += 4;
    c.text(x, y, "HAPPY", TEXT);
    c.fill_rect(bar_x, y, bar_w, 7, 0x30_30_3C);
    match r.scores.happy {
        Some(p) => {
            c.fill_rect(
                bar_x,
                y,
                (p.clamp(0.0, 1.0) * bar_w as f32) as i32,
                7,
                HAPPY,
            );
            c.text(bar_x + bar_w + 4, y, &format!("{:.2}", p), DIM);
        }
        None => c.text(bar_x + bar_w + 4, y, "--", DIM),
    }
    y += line + 2;
    match r.scores.top_emotion() {
        Some((name, p)) => c.text(x, y, &format!("TOP {} {:.0}%", name, p * 100.0), HAPPY),
        None => c.text(x, y, "TOP EMOTION --", DIM),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FaceBox, FaceResult, Frame, Scores, StageTimes, TrackedFace};

    #[test]
    fn boxes_are_drawn_where_the_face_is() {
        let frame = Frame::new(0, 0.0, 100, 80, vec![50; 100 * 80 * 3]).unwrap();
        let face = TrackedFace {
            id: 3,
            bbox: FaceBox {
                x: 20.0,
                y: 30.0,
                w: 40.0,
                h: 30.0,
                confidence: 0.9,
            },
        };
        let a = Analysed {
            frame,
            faces: vec![FaceResult {
                face,
                scores: Scores::default(),
            }],
            times: StageTimes::default(),
        };
        let mut c = Canvas::default();
        draw(&a, &Hud::default(), &mut c);
        assert_eq!((c.width, c.height), (100 + PANEL_W, MIN_H));
        let at = |x: u32, y: u32| c.pixels[(y * c.width + x) as usize];
        // Top-left corner and the middle of the right edge are box-green; the inside is not.
        assert_eq!(at(20, 30), BOX_COLOUR);
        assert_eq!(at(59, 45), BOX_COLOUR);
        assert_eq!(at(40, 45), 0x32_32_32);
        // Box pixels stay inside the frame area, never in the panel.
        let green_in_panel = (0..c.height)
            .flat_map(|y| (100..c.width).map(move |x| (x, y)))
            .filter(|&(x, y)| at(x, y) == BOX_COLOUR)
            .count();
        assert_eq!(green_in_panel, 0);
    }

    /// Pixels of `c` in rows `y0..y1`, columns `x0..x1`, that differ between two canvases.
    fn changed(a: &Canvas, b: &Canvas, (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> usize {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let i = (y * a.width + x) as usize;
                a.pixels[i] != b.pixels[i]
            })
            .count()
    }

    #[test]
    fn the_au_source_is_written_under_the_bars_and_a_warning_is_a_banner() {
        let frame = Frame::new(0, 0.0, 320, 240, vec![50; 320 * 240 * 3]).unwrap();
        let face = TrackedFace {
            id: 0,
            bbox: FaceBox {
                x: 100.0,
                y: 60.0,
                w: 100.0,
                h: 100.0,
                confidence: 0.9,
            },
        };
        let a = Analysed {
            frame,
            faces: vec![FaceResult {
                face,
                scores: Scores {
                    au_prob: Some([0.0; 11]),
                    au_present: Some([false; 11]),
                    ..Default::default()
                },
            }],
            times: StageTimes::default(),
        };
        let (mut plain, mut with_source, mut warned) =
            (Canvas::default(), Canvas::default(), Canvas::default());
        draw(&a, &Hud::default(), &mut plain);
        let hud = Hud {
            au_source: Some("AUs: geometric estimate".into()),
            ..Hud::default()
        };
        draw(&a, &hud, &mut with_source);
        // The source line sits in the panel, right under the 11 AU bars: a 6 px margin, four
        // header lines of 10 px, the pause line and its 4 px gap (14), the face line and its
        // 2 px gap (12) and 11 bar lines (110) put it at y = 182, 7 px high.
        let panel = (320, 320 + PANEL_W);
        let text_px = changed(&plain, &with_source, panel, (182, 189));
        // 23 characters of a 5x7 font light well over 100 pixels (measured 129); nothing
        // else in the picture moves except the rows below, pushed down one line.
        assert!(
            text_px > 100,
            "{text_px} pixels changed for the source line"
        );
        assert_eq!(changed(&plain, &with_source, (0, 320), (0, 240)), 0);

        let hud = Hud {
            warning: Some("AU MODEL TRAINED ON SYNTHETIC FACES ONLY".into()),
            ..hud
        };
        draw(&a, &hud, &mut warned);
        let at = |x: u32, y: u32| warned.pixels[(y * warned.width + x) as usize];
        // The banner spans the bottom WARNING_H rows of the frame, white text on red.
        assert_eq!(at(0, 239), WARNING_BG);
        assert_eq!(at(319, 240 - WARNING_H), WARNING_BG);
        let white = (0..320)
            .flat_map(|x| (240 - WARNING_H..240).map(move |y| (x, y)))
            .filter(|&(x, y)| at(x, y) == TEXT)
            .count();
        assert!(white > 100, "{white} text pixels in the banner");
        // Above the banner the frame is untouched.
        assert_eq!(
            changed(&with_source, &warned, (0, 320), (0, 240 - WARNING_H)),
            0
        );
    }
}
