//! Drawing one analysed frame as a picture: the frame with face boxes and ids, and a panel
//! beside it, in the bundled font at a size that follows the frame's height: frame number,
//! frame rate and per-stage times (with their units), then for the largest face a bar per
//! AU labelled with its FACS name, a tick at the AU's presence threshold and a colour
//! saying present or absent by that threshold (with a legend), where the AUs come from,
//! the calibration in use, a happy meter and the top emotion. A run's warning is a banner
//! across the bottom of the frame. Pure drawing on a 0RGB [`Canvas`], shared by the window
//! and `--annotate` PNGs.

use crate::font::{fit, text_width};
use crate::frame::{
    au_description, au_name, Analysed, BaselineSource, FaceResult, AU_NUMBERS, NUM_AUS,
};

/// Face boxes are pure green so that tests can find them in a screenshot.
pub const BOX_COLOUR: u32 = 0x00_FF_00;
/// Main text: near white on the panel.
pub const TEXT: u32 = 0xF0_F0_F0;
/// Secondary text (stage times, notes): light grey, still far lighter than the panel.
const SOFT: u32 = 0xBE_C2_CC;
/// The panel's background.
pub const PANEL_BG: u32 = 0x14_16_1C;
/// The empty part of a bar.
pub const TRACK: u32 = 0x3A_3E_4A;
/// The bar of an AU at or above its threshold (present).
pub const PRESENT: u32 = 0xFF_8C_3A;
/// The bar of an AU below its threshold (absent).
pub const ABSENT: u32 = 0x4A_90_E2;
/// The mark at an AU's threshold on its bar.
pub const TICK: u32 = 0xFF_FF_FF;
const HAPPY: u32 = 0xFF_D0_40;
const LANDMARK: u32 = 0x00_E5_FF;
/// The warning banner's background.
pub const WARNING_BG: u32 = 0xB0_10_10;
/// The box of a face the detector is unsure of ([`LOW_CONFIDENCE`]).
pub const UNSURE_BOX: u32 = 0x9A_9A_9A;
/// Detection confidence under which a face is drawn as unsure: grey box, its confidence in
/// the label instead of the happy meter, and the panel's detailed view given to a surer face
/// when there is one. The bundled clip's face is found at 0.63-1.00 in full view (down to
/// 0.35 covered by a hand or tilted far back); the one false face in the bundled photos (a
/// patterned top in `sample1.jpg`) scores 0.41.
pub const LOW_CONFIDENCE: f32 = 0.5;
/// Opacity (of 255) of the dark backing under text drawn over the video.
const BACKING_ALPHA: u32 = 180;
/// The canvas is at least this high, so that the panel's lines fit.
pub const MIN_H: u32 = 360;

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
    /// Each AU's presence threshold, in [`AU_NUMBERS`] order: a tick on its bar, and the
    /// bar is present-coloured at or above it. None: no tick, and the colour follows the
    /// scores' own presence flags.
    pub au_thresholds: Option<[f32; NUM_AUS]>,
    /// The calibration in use, in words, e.g. "calibration: per-person, first 2.0 s of
    /// each face".
    pub calibration: Option<String>,
    /// A warning drawn as a banner across the bottom of the frame.
    pub warning: Option<String>,
}

/// A drawn picture: 0RGB pixels, row-major (the crate's one canvas).
pub type Canvas = crate::canvas::Canvas<u32>;

impl Canvas {
    /// Size of the canvas for a frame of `w` x `h`: the frame, and the panel beside it.
    pub fn size_for(w: u32, h: u32) -> (u32, u32) {
        let ch = h.max(MIN_H);
        (w + Layout::for_height(ch).panel_w, ch)
    }
}

/// The AU's bar label: its code and FACS name, e.g. "AU12 lip corner puller".
pub fn au_label(au: u8) -> String {
    format!("{} {}", au_name(au), au_description(au))
}

/// True if an AU scored `p` counts as present at `threshold` (the rule `classify` applies).
pub fn is_present(p: f32, threshold: f32) -> bool {
    p >= threshold
}

/// The panel's sizes for a canvas `height` pixels high; text grows with the frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layout {
    /// Text size in pixels (a line of text's height).
    pub px: u32,
    /// Distance from one line's top to the next.
    pub line: i32,
    /// Space between the panel's edge and its text.
    pub pad: i32,
    /// Space between a label, its bar and its value.
    pub gap: i32,
    /// Width of the widest AU label.
    pub label_w: i32,
    pub bar_w: i32,
    pub bar_h: i32,
    /// Width of the threshold tick.
    pub tick_w: i32,
    /// Width of a value ("0.00").
    pub value_w: i32,
    pub panel_w: u32,
}

impl Layout {
    /// 13 px text up to a 378 px high canvas, then 1/27 of the height, at most 30 px: 13 px
    /// on a 640x360 frame, 26 on 1280x720, 29 on 1280x800.
    pub fn for_height(height: u32) -> Layout {
        let px = (height / 27).clamp(13, 30);
        let gap = (px / 2) as i32;
        let label_w = AU_NUMBERS
            .iter()
            .map(|&au| text_width(&au_label(au), px))
            .max()
            .unwrap_or(0) as i32;
        let bar_w = 6 * px as i32;
        let value_w = text_width("0.00", px) as i32;
        let pad = gap + 2;
        Layout {
            px,
            line: (px + (px / 5).max(2)) as i32,
            pad,
            gap,
            label_w,
            bar_w,
            bar_h: (px * 3 / 5) as i32,
            tick_w: (px as i32 / 10).max(2),
            value_w,
            panel_w: (2 * pad + label_w + 2 * gap + bar_w + value_w) as u32,
        }
    }

    /// The column of the threshold `t` on a bar starting at `bar_x` (0 at its first
    /// column, 1 at its last).
    pub fn tick_x(&self, bar_x: i32, t: f32) -> i32 {
        bar_x + (t.clamp(0.0, 1.0) * (self.bar_w - 1) as f32).round() as i32
    }

    /// The top of AU row `i` (in [`AU_NUMBERS`] order) in the panel: under four header
    /// lines, a gap and the face's line.
    pub fn au_row_y(&self, i: usize) -> i32 {
        self.pad + 5 * self.line + self.gap + i as i32 * self.line
    }

    /// Where the bars start in a panel whose left edge is `panel_x`.
    pub fn bar_x(&self, panel_x: i32) -> i32 {
        panel_x + self.pad + self.label_w + self.gap
    }

    /// The top of a bar on the text line whose top is `y`.
    pub fn bar_y(&self, y: i32) -> i32 {
        y + (self.px as i32 - self.bar_h) / 2 + 1
    }
}

/// A score with two decimals; one that rounds to zero is "0.00", never "-0.00".
fn value_text(p: f32) -> String {
    let v = if p.abs() < 0.005 { 0.0 } else { p };
    format!("{v:.2}")
}

/// A face's neutral baseline in words, for the panel.
fn baseline_text(b: &BaselineSource) -> String {
    match b {
        BaselineSource::Population => "population neutral face".into(),
        BaselineSource::File { path, .. } => format!(
            "neutral face from {}",
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ),
        BaselineSource::Person {
            frames,
            how,
            warnings,
        } => {
            let rest = if warnings.is_empty() {
                ""
            } else {
                ", not at rest (see the log)"
            };
            format!("own neutral: {frames} frames, {how}{rest}")
        }
    }
}

/// Draws `a` with `hud` into `canvas`, resizing it if the frame size changed.
pub fn draw(a: &Analysed, hud: &Hud, canvas: &mut Canvas) {
    let f = &a.frame;
    let (cw, ch) = Canvas::size_for(f.width, f.height);
    if canvas.width != cw || canvas.height != ch {
        *canvas = Canvas::new(cw, ch, 0);
    }
    let l = Layout::for_height(ch);
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
    // Boxes and labels, inside the frame area, never in the panel.
    let fw = f.width as i32;
    for r in &a.faces {
        let b = r.face.bbox;
        let (x, y, w, h) = (b.x as i32, b.y as i32, b.w as i32, b.h as i32);
        let unsure = b.confidence < LOW_CONFIDENCE;
        let colour = if unsure { UNSURE_BOX } else { BOX_COLOUR };
        canvas.outline(x, y, w.min(fw - x), h, 2, colour);
        let mut label = format!("#{}", r.face.id);
        if unsure {
            label.push_str(&format!(" unsure face {:.2}", b.confidence));
        } else if let Some(p) = r.scores.happy {
            label.push_str(&format!(" happy {:.0}%", p * 100.0));
        }
        let label = fit(&label, l.px, (fw - 4).max(0) as u32);
        let lw = text_width(&label, l.px) as i32 + 4;
        let lh = l.px as i32 + 2;
        let ly = if y >= lh + 1 { y - lh - 1 } else { y + h + 1 };
        let lx = x.clamp(0, (fw - lw).max(0));
        canvas.shade_rect(lx, ly, lw, lh, 0, BACKING_ALPHA);
        canvas.text(lx + 2, ly + 1, &label, colour, l.px);
    }
    if hud.show_landmarks {
        for r in &a.faces {
            for &(x, y) in r.scores.landmarks.iter().flatten() {
                canvas.fill_rect(x as i32 - 1, y as i32 - 1, 3, 3, LANDMARK);
            }
        }
    }
    if let Some(w) = &hud.warning {
        draw_banner(canvas, &l, f.width, f.height, w);
    }
    draw_panel(a, hud, canvas, f.width as i32, &l);
}

/// The face the panel details: the largest of those the detector is sure of, or the largest
/// of all when it is sure of none.
fn detailed_face(faces: &[FaceResult]) -> Option<&FaceResult> {
    let area = |r: &&FaceResult| r.face.bbox.w * r.face.bbox.h;
    let largest = |sure: bool| {
        faces
            .iter()
            .filter(move |r| !sure || r.face.bbox.confidence >= LOW_CONFIDENCE)
            .max_by(|p, q| area(p).total_cmp(&area(q)))
    };
    largest(true).or_else(|| largest(false))
}

/// Height of the warning banner for a canvas laid out as `l`.
pub fn banner_h(l: &Layout) -> u32 {
    (l.line + 4) as u32
}

/// A red banner across the bottom of the frame area, `text` cut to fit it.
fn draw_banner(c: &mut Canvas, l: &Layout, frame_w: u32, frame_h: u32, text: &str) {
    let h = banner_h(l).min(frame_h) as i32;
    let y = frame_h as i32 - h;
    c.fill_rect(0, y, frame_w as i32, h, WARNING_BG);
    let shown = fit(&format!("WARNING: {text}"), l.px, frame_w.saturating_sub(8));
    c.text(4, y + (h - l.px as i32) / 2, &shown, TEXT, l.px);
}

/// Draws the panel at `x0` and returns the top of the line after its last.
fn draw_panel(a: &Analysed, hud: &Hud, c: &mut Canvas, x0: i32, l: &Layout) -> i32 {
    let px = l.px;
    c.fill_rect(x0, 0, l.panel_w as i32, c.height as i32, PANEL_BG);
    let x = x0 + l.pad;
    let room = (l.panel_w as i32 - 2 * l.pad) as u32;
    let put = |c: &mut Canvas, y: i32, s: &str, colour: u32| {
        c.text(x, y, &fit(s, px, room), colour, px);
    };
    let mut y = l.pad;
    let title = format!("facs · frame {}", a.frame.index + 1);
    let w = c.text(x, y, &title, TEXT, px) as i32;
    if hud.paused {
        c.text(x + w, y, " · paused (space)", HAPPY, px);
    }
    y += l.line;
    let rate = format!("{:.1} fps · {} frames dropped", hud.fps, hud.dropped);
    put(c, y, &rate, TEXT);
    y += l.line;
    let times = format!(
        "capture {:.1} ms · detect {:.1} ms",
        hud.capture_ms, hud.detect_ms
    );
    put(c, y, &times, SOFT);
    y += l.line;
    let times = format!(
        "classify {:.1} ms · end to end {:.1} ms",
        hud.classify_ms, hud.end_to_end_ms
    );
    put(c, y, &times, SOFT);
    y += l.line + l.gap;

    let Some(r) = detailed_face(&a.faces) else {
        put(c, y, "no face in this frame", TEXT);
        y += l.line;
        for s in [&hud.au_source, &hud.calibration].into_iter().flatten() {
            put(c, y, s, SOFT);
            y += l.line;
        }
        return y;
    };
    let mut face = format!("face #{} · {} in frame", r.face.id, a.faces.len());
    if r.face.bbox.confidence < LOW_CONFIDENCE {
        face.push_str(&format!(" · unsure face {:.2}", r.face.bbox.confidence));
    }
    put(c, y, &face, TEXT);
    y += l.line;
    debug_assert_eq!(y, l.au_row_y(0));
    let bar_x = l.bar_x(x0);
    let value_x = bar_x + l.bar_w + l.gap;
    for (i, &au) in AU_NUMBERS.iter().enumerate() {
        c.text(x, y, &au_label(au), TEXT, px);
        let by = l.bar_y(y);
        c.fill_rect(bar_x, by, l.bar_w, l.bar_h, TRACK);
        match r.scores.au_prob {
            Some(p) => {
                let present = match hud.au_thresholds {
                    Some(t) => is_present(p[i], t[i]),
                    None => r.scores.au_present.is_some_and(|v| v[i]),
                };
                let filled = (p[i].clamp(0.0, 1.0) * l.bar_w as f32).round() as i32;
                let colour = if present { PRESENT } else { ABSENT };
                c.fill_rect(bar_x, by, filled, l.bar_h, colour);
                c.text(value_x, y, &value_text(p[i]), TEXT, px);
            }
            None => {
                c.text(value_x, y, "--", SOFT, px);
            }
        }
        if let Some(t) = hud.au_thresholds {
            let tx = l.tick_x(bar_x, t[i]) - l.tick_w / 2;
            c.fill_rect(tx, by - 2, l.tick_w, l.bar_h + 4, TICK);
        }
        y += l.line;
    }
    // The legend of the bars' colours and tick.
    let by = l.bar_y(y);
    let mut lx = x;
    for (colour, name) in [(PRESENT, "present"), (ABSENT, "absent")] {
        c.fill_rect(lx, by, l.bar_h, l.bar_h, colour);
        lx += l.bar_h + l.gap / 2;
        lx += c.text(lx, y, name, SOFT, px) as i32 + l.gap;
    }
    if hud.au_thresholds.is_some() {
        c.fill_rect(lx, by - 2, l.tick_w, l.bar_h + 4, TICK);
        lx += l.tick_w + l.gap / 2;
        c.text(lx, y, "its threshold", SOFT, px);
    }
    y += l.line;
    for s in [&hud.au_source, &hud.calibration].into_iter().flatten() {
        put(c, y, s, SOFT);
        y += l.line;
    }
    // A face's own baseline (measured in this run) is not in the run's calibration line.
    if let Some(b @ BaselineSource::Person { .. }) = &r.scores.baseline {
        put(c, y, &baseline_text(b), SOFT);
        y += l.line;
    }
    y += l.gap;
    c.text(x, y, "happy", TEXT, px);
    let by = l.bar_y(y);
    c.fill_rect(bar_x, by, l.bar_w, l.bar_h, TRACK);
    match r.scores.happy {
        Some(p) => {
            let filled = (p.clamp(0.0, 1.0) * l.bar_w as f32).round() as i32;
            c.fill_rect(bar_x, by, filled, l.bar_h, HAPPY);
            c.text(value_x, y, &value_text(p), TEXT, px);
        }
        None => {
            c.text(value_x, y, "--", SOFT, px);
        }
    }
    y += l.line;
    match r.scores.top_emotion() {
        Some((name, p)) => put(
            c,
            y,
            &format!("top emotion: {name} {:.0}%", p * 100.0),
            HAPPY,
        ),
        None => put(c, y, "top emotion: --", SOFT),
    }
    y + l.line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FaceBox, FaceResult, Frame, Scores, StageTimes, TrackedFace};

    fn face_at(id: u32, x: f32, y: f32, w: f32, h: f32, scores: Scores) -> FaceResult {
        FaceResult {
            face: TrackedFace {
                id,
                bbox: FaceBox {
                    x,
                    y,
                    w,
                    h,
                    confidence: 0.9,
                },
            },
            scores,
        }
    }

    fn analysed(w: u32, h: u32, faces: Vec<FaceResult>) -> Analysed {
        Analysed {
            frame: Frame::new(0, 0.0, w, h, vec![50; (w * h * 3) as usize]).unwrap(),
            faces,
            times: StageTimes::default(),
        }
    }

    fn at(c: &Canvas, x: i32, y: i32) -> u32 {
        c.pixels[(y as u32 * c.width + x as u32) as usize]
    }

    /// Pixels in columns `x0..x1`, rows `y0..y1` that differ between two canvases.
    fn changed(a: &Canvas, b: &Canvas, (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> usize {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let i = (y * a.width + x) as usize;
                a.pixels[i] != b.pixels[i]
            })
            .count()
    }

    /// Pixels in the rectangle brighter than 0xA0 in every channel (light text on the panel).
    fn light(c: &Canvas, (x0, x1): (i32, i32), (y0, y1): (i32, i32)) -> usize {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let p = at(c, x, y);
                [16, 8, 0].iter().all(|s| (p >> s) & 0xFF > 0xA0)
            })
            .count()
    }

    #[test]
    fn an_unsure_face_is_grey_and_the_panel_details_a_sure_one() {
        // A large face the detector is unsure of (a false face on a patterned top in the
        // bundled group photo scored 0.41) beside a smaller, sure one.
        let mut unsure = face_at(0, 10.0, 10.0, 60.0, 60.0, Scores::default());
        unsure.face.bbox.confidence = 0.41;
        let sure = face_at(1, 120.0, 20.0, 40.0, 40.0, Scores::default());
        let faces = vec![unsure, sure];
        assert_eq!(detailed_face(&faces).map(|r| r.face.id), Some(1));
        // Unsure of every face: the largest still gets the view.
        let mut only = faces.clone();
        only[1].face.bbox.confidence = 0.2;
        assert_eq!(detailed_face(&only).map(|r| r.face.id), Some(0));
        assert!(detailed_face(&[]).is_none());

        let a = analysed(200, 100, faces);
        let mut c = Canvas::default();
        draw(&a, &Hud::default(), &mut c);
        assert_eq!(at(&c, 10, 40), UNSURE_BOX);
        assert_eq!(at(&c, 120, 40), BOX_COLOUR);
    }

    #[test]
    fn boxes_are_drawn_where_the_face_is() {
        let a = analysed(
            100,
            80,
            vec![face_at(3, 20.0, 30.0, 40.0, 30.0, Scores::default())],
        );
        let mut c = Canvas::default();
        draw(&a, &Hud::default(), &mut c);
        let l = Layout::for_height(MIN_H);
        assert_eq!((c.width, c.height), (100 + l.panel_w, MIN_H));
        // Top-left corner and the middle of the right edge are box-green; the inside is not.
        assert_eq!(at(&c, 20, 30), BOX_COLOUR);
        assert_eq!(at(&c, 59, 45), BOX_COLOUR);
        assert_eq!(at(&c, 40, 45), 0x32_32_32);
        // Box and label pixels stay inside the frame area, never in the panel.
        let green_in_panel = (0..c.height as i32)
            .flat_map(|y| (100..c.width as i32).map(move |x| (x, y)))
            .filter(|&(x, y)| at(&c, x, y) == BOX_COLOUR)
            .count();
        assert_eq!(green_in_panel, 0);
    }

    #[test]
    fn text_grows_with_the_frame_and_every_line_fits() {
        let small = Layout::for_height(360);
        let large = Layout::for_height(800);
        // 360 / 27 = 13 (the floor); 800 / 27 = 29.
        assert_eq!((small.px, large.px), (13, 29));
        assert!(large.panel_w > 2 * small.panel_w - 20);
        // Everything the panel can show, at 640x360 and 1280x800: its last line ends above
        // the canvas's bottom, and the widest AU label and its value fit beside the bar.
        let scores = Scores {
            au_prob: Some([0.5; NUM_AUS]),
            au_present: Some([true; NUM_AUS]),
            baseline: Some(BaselineSource::Person {
                frames: 60,
                how: "first seconds",
                warnings: Vec::new(),
            }),
            happy: Some(0.5),
            emotions: Some([0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1]),
            ..Default::default()
        };
        let hud = Hud {
            paused: true,
            au_source: Some("AUs: geometric estimate".into()),
            au_thresholds: Some([0.5; NUM_AUS]),
            calibration: Some("calibration: per-person, first 2.0 s".into()),
            ..Hud::default()
        };
        for (w, h) in [(640u32, 360u32), (1280, 800)] {
            let a = analysed(
                w,
                h,
                vec![face_at(0, 10.0, 10.0, 50.0, 50.0, scores.clone())],
            );
            let l = Layout::for_height(h);
            let mut c = Canvas::new(w + l.panel_w, h, 0);
            let bottom = draw_panel(&a, &hud, &mut c, w as i32, &l);
            assert!(bottom <= h as i32, "{w}x{h}: the panel needs {bottom} px");
            assert!(
                l.bar_x(w as i32) + l.bar_w + l.gap + l.value_w <= c.width as i32,
                "{l:?}"
            );
        }
    }

    #[test]
    fn au_rows_carry_their_names_a_threshold_tick_and_the_colour_of_that_threshold() {
        let mut p = [0.0f32; NUM_AUS];
        let mut t = [0.5f32; NUM_AUS];
        // AU06 (index 4) at 0.41 against 0.40: present. AU26 (index 10) at 0.28 against 0.30:
        // absent, although its presence flag (from elsewhere) says present.
        (p[4], t[4]) = (0.41, 0.40);
        (p[10], t[10]) = (0.28, 0.30);
        let scores = Scores {
            au_prob: Some(p),
            au_present: Some([true; NUM_AUS]),
            ..Default::default()
        };
        let a = analysed(
            640,
            360,
            vec![face_at(0, 200.0, 80.0, 120.0, 120.0, scores)],
        );
        let hud = Hud {
            au_thresholds: Some(t),
            ..Hud::default()
        };
        let (mut c, mut plain) = (Canvas::default(), Canvas::default());
        draw(&a, &hud, &mut c);
        let l = Layout::for_height(360);
        let bar_x = l.bar_x(640);
        let row = |i: usize| l.bar_y(l.au_row_y(i)) + l.bar_h / 2;
        // The filled part's first column, away from the tick.
        assert_eq!(at(&c, bar_x + 1, row(4)), PRESENT);
        assert_eq!(at(&c, bar_x + 1, row(10)), ABSENT);
        // The tick sits at 0.30 of AU26's bar: column bar_x + round(0.3 * (bar_w - 1)).
        let tick = bar_x + (0.3 * (l.bar_w - 1) as f32).round() as i32;
        assert_eq!(l.tick_x(bar_x, 0.30), tick);
        assert_eq!(at(&c, tick, row(10)), TICK);
        assert_ne!(at(&c, tick + l.tick_w, row(10)), TICK);
        // Without thresholds: no tick, and the colour follows the presence flags.
        draw(&a, &Hud::default(), &mut plain);
        assert_ne!(at(&plain, tick, row(10)), TICK);
        assert_eq!(at(&plain, bar_x + 1, row(10)), PRESENT);
        // At 0.25 the same 0.28 is present.
        t[10] = 0.25;
        draw(
            &a,
            &Hud {
                au_thresholds: Some(t),
                ..Hud::default()
            },
            &mut c,
        );
        assert_eq!(at(&c, bar_x + 1, row(10)), PRESENT);
        // Each row's label is light text in the label column: "AU12 lip corner puller" at
        // 13 px lights more than 60 pixels (measured 209 above 0xA0 in every channel).
        let y12 = l.au_row_y(6);
        let lit = light(&c, (640 + l.pad, bar_x - l.gap), (y12, y12 + l.line));
        assert!(lit > 60, "{lit} light pixels in AU12's label");
        assert_eq!(au_label(12), "AU12 lip corner puller");
        assert!(text_width(&au_label(12), l.px) as i32 <= l.label_w);
    }

    #[test]
    fn the_au_source_and_calibration_are_written_under_the_legend_and_a_warning_is_a_banner() {
        let a = analysed(
            320,
            240,
            vec![face_at(
                0,
                100.0,
                60.0,
                100.0,
                100.0,
                Scores {
                    au_prob: Some([0.0; NUM_AUS]),
                    au_present: Some([false; NUM_AUS]),
                    ..Default::default()
                },
            )],
        );
        let (mut plain, mut with_source, mut warned) =
            (Canvas::default(), Canvas::default(), Canvas::default());
        draw(&a, &Hud::default(), &mut plain);
        let hud = Hud {
            au_source: Some("AUs: geometric estimate".into()),
            calibration: Some("calibration: none (population neutral face)".into()),
            ..Hud::default()
        };
        draw(&a, &hud, &mut with_source);
        let l = Layout::for_height(MIN_H);
        // The source line is the line after the legend, which follows the 11 AU rows.
        let y = l.au_row_y(NUM_AUS + 1) as u32;
        let panel = (320, 320 + l.panel_w);
        // Each line holds exactly its text drawn alone on the panel's background, and not
        // nothing: "AUs: geometric estimate" lights over 100 pixels (measured 148 above 0xA0).
        for (k, text) in [
            "AUs: geometric estimate",
            "calibration: none (population neutral face)",
        ]
        .iter()
        .enumerate()
        {
            let top = y + k as u32 * l.line as u32;
            let mut alone = Canvas::new(with_source.width, with_source.height, PANEL_BG);
            alone.text(320 + l.pad, top as i32, text, SOFT, l.px);
            let rows = (top, top + l.line as u32);
            assert_eq!(changed(&alone, &with_source, panel, rows), 0, "{text}");
            assert_ne!(changed(&alone, &plain, panel, rows), 0, "{text}");
        }
        let lit = light(
            &with_source,
            (320, 320 + l.panel_w as i32),
            (y as i32, y as i32 + l.line),
        );
        assert!(lit > 100, "{lit}");
        // The frame is untouched.
        assert_eq!(changed(&plain, &with_source, (0, 320), (0, 240)), 0);

        let hud = Hud {
            warning: Some("AU MODEL TRAINED ON SYNTHETIC FACES ONLY".into()),
            ..hud
        };
        draw(&a, &hud, &mut warned);
        let bh = banner_h(&l);
        // The banner spans the bottom rows of the frame, light text on red (measured 553
        // text pixels above 0xA0; at least 100 expected).
        assert_eq!(at(&warned, 0, 239), WARNING_BG);
        assert_eq!(at(&warned, 319, (240 - bh) as i32), WARNING_BG);
        let lit = light(&warned, (0, 320), ((240 - bh) as i32, 240));
        assert!(lit > 100, "{lit} text pixels in the banner");
        // Above the banner the frame is untouched.
        assert_eq!(changed(&with_source, &warned, (0, 320), (0, 240 - bh)), 0);
    }

    #[test]
    fn baselines_and_values_in_words() {
        assert_eq!(value_text(-0.001), "0.00");
        assert_eq!(value_text(0.284), "0.28");
        assert_eq!(
            baseline_text(&BaselineSource::Person {
                frames: 60,
                how: "first seconds",
                warnings: Vec::new(),
            }),
            "own neutral: 60 frames, first seconds"
        );
        assert_eq!(
            baseline_text(&BaselineSource::Person {
                frames: 15,
                how: "key press",
                warnings: vec!["the lips are apart".into()],
            }),
            "own neutral: 15 frames, key press, not at rest (see the log)"
        );
        assert_eq!(
            baseline_text(&BaselineSource::File {
                path: "calibration/alice.json".into(),
                warnings: Vec::new(),
            }),
            "neutral face from alice.json"
        );
    }
}
