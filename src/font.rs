//! Text in the bundled DejaVu Sans font (the only file that imports ab_glyph): antialiased
//! glyphs blended onto 0RGB pixel buffers, for the overlay and the class activation map
//! galleries. Each glyph is rasterised once per size and kept in a cache, so drawing a
//! line of text costs a copy and a blend per glyph pixel.
//!
//! Sizes are in pixels from the top of the tallest accent to the bottom of the lowest
//! descender (ab_glyph's `PxScale`): a line of text at size `px` is `px` pixels high, and
//! capitals are about 0.63 `px` tall.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use ab_glyph::{point, Font as _, FontRef, PxScale, ScaleFont as _};

/// DejaVu Sans 2.37 (licence in `assets/fonts/LICENSE-DejaVu.txt`): the one copy of the
/// font in the binary, shared with the charts of `train::plot`.
pub static DEJAVU_SANS: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// The bundled font, parsed once; None only if the bundled file were damaged (a unit test
/// parses it).
fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).ok())
        .as_ref()
}

/// One rasterised glyph: coverage (0..=255) in a `w` x `h` box whose top-left is
/// (`left`, `top`) from the pen position at the top of the line.
#[derive(Clone, Debug, Default)]
struct Glyph {
    left: i32,
    top: i32,
    w: u32,
    h: u32,
    coverage: Vec<u8>,
    /// How far the pen moves after this glyph, in pixels.
    advance: f32,
}

/// Glyphs rasterised so far, by character and size.
#[derive(Debug, Default)]
struct GlyphCache {
    glyphs: HashMap<(char, u32), Glyph>,
}

impl GlyphCache {
    /// `c` at size `px`, rasterised on first use.
    fn get(&mut self, c: char, px: u32) -> &Glyph {
        self.glyphs
            .entry((c, px))
            .or_insert_with(|| rasterise(c, px))
    }
}

/// The process's glyph cache (the overlay and the galleries draw from one thread each; the
/// lock is uncontended).
fn cache() -> std::sync::MutexGuard<'static, GlyphCache> {
    static CACHE: OnceLock<Mutex<GlyphCache>> = OnceLock::new();
    CACHE
        .get_or_init(|| Mutex::new(GlyphCache::default()))
        .lock()
        // A panic while drawing leaves at worst a glyph missing from the cache.
        .unwrap_or_else(|e| e.into_inner())
}

fn rasterise(c: char, px: u32) -> Glyph {
    let Some(font) = font() else {
        return Glyph::default();
    };
    let scale = PxScale::from(px as f32);
    let scaled = font.as_scaled(scale);
    let id = font.glyph_id(c);
    let advance = scaled.h_advance(id);
    let glyph = id.with_scale_and_position(scale, point(0.0, scaled.ascent()));
    let Some(outline) = font.outline_glyph(glyph) else {
        // A space, or a character the font lacks: advance only.
        return Glyph {
            advance,
            ..Glyph::default()
        };
    };
    let b = outline.px_bounds();
    let (w, h) = (b.width() as u32, b.height() as u32);
    let mut coverage = vec![0u8; (w * h) as usize];
    outline.draw(|x, y, v| {
        if x < w && y < h {
            coverage[(y * w + x) as usize] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    });
    Glyph {
        left: b.min.x as i32,
        top: b.min.y as i32,
        w,
        h,
        coverage,
        advance,
    }
}

/// `src` laid over the 0RGB pixel `dst` with opacity `a` of 255.
pub fn blend(dst: u32, src: u32, a: u32) -> u32 {
    if a >= 255 {
        return src;
    }
    let mix = |shift: u32| {
        let d = (dst >> shift) & 0xFF;
        let s = (src >> shift) & 0xFF;
        // d + (s - d) * a / 255, rounded, without going negative.
        ((d * (255 - a) + s * a + 127) / 255) << shift
    };
    mix(16) | mix(8) | mix(0)
}

/// The width in pixels of `text` at size `px`.
pub fn text_width(text: &str, px: u32) -> u32 {
    let mut cache = cache();
    text.chars()
        .map(|c| cache.get(c, px).advance)
        .sum::<f32>()
        .ceil() as u32
}

/// `text`, cut at the end and given an ellipsis if it is wider than `max_w` pixels at
/// size `px`.
pub fn fit(text: &str, px: u32, max_w: u32) -> String {
    if text_width(text, px) <= max_w {
        return text.to_string();
    }
    let mut shown: String = text.to_string();
    while !shown.is_empty() {
        shown.pop();
        let cut = format!("{}…", shown.trim_end());
        if text_width(&cut, px) <= max_w {
            return cut;
        }
    }
    String::new()
}

/// Draws `text` at size `px` into a 0RGB buffer of width `stride`, the top of its line at
/// `y` and its pen starting at `x`; edges are antialiased (blended over what is there) and
/// pixels outside the buffer clipped. Returns the width drawn, in pixels.
pub fn draw_text(
    buf: &mut [u32],
    stride: u32,
    x: i32,
    y: i32,
    text: &str,
    colour: u32,
    px: u32,
) -> u32 {
    let height = (buf.len() / stride.max(1) as usize) as i32;
    let stride_i = stride as i32;
    let mut cache = cache();
    let mut pen = 0.0f32;
    for c in text.chars() {
        let g = cache.get(c, px);
        let gx = x + pen.round() as i32 + g.left;
        let gy = y + g.top;
        pen += g.advance;
        // Rows and columns of the glyph that land inside the buffer.
        let cols = (-gx).max(0)..(stride_i - gx).min(g.w as i32);
        let rows = (-gy).max(0)..(height - gy).min(g.h as i32);
        if cols.is_empty() {
            continue;
        }
        for row in rows {
            let src = &g.coverage[(row as u32 * g.w) as usize..((row as u32 + 1) * g.w) as usize];
            let start = ((gy + row) * stride_i + gx) as usize;
            for col in cols.clone() {
                let a = src[col as usize] as u32;
                if a > 0 {
                    let p = &mut buf[start + col as usize];
                    *p = blend(*p, colour, a);
                }
            }
        }
    }
    pen.ceil() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_font_parses_and_has_the_overlay_characters() {
        let f = font().expect("bundled DejaVu Sans");
        for c in "AU12 lip corner puller · 0.50 ms fps ≥ … #%()".chars() {
            assert_ne!(f.glyph_id(c).0, 0, "{c:?} missing");
        }
    }

    #[test]
    fn text_is_antialiased_and_scales_with_size() {
        let (w, h) = (120u32, 40u32);
        let mut buf = vec![0u32; (w * h) as usize];
        let drawn = draw_text(&mut buf, w, 2, 2, "AU12", 0xFF_FF_FF, 16);
        assert_eq!(drawn, text_width("AU12", 16));
        // Some pixels nearly white (stems), many in between (antialiased edges): measured 37
        // at 0xE0 or more and 169 between.
        let strong = buf.iter().filter(|&&p| p & 0xFF >= 0xE0).count();
        let partial = buf.iter().filter(|&&p| p != 0 && p & 0xFF < 0xE0).count();
        assert!(
            strong > 10 && partial > 50,
            "{strong} strong, {partial} partial"
        );
        // Grey levels stay grey: a partial pixel has equal channels.
        assert!(buf
            .iter()
            .all(|&p| (p >> 16) & 0xFF == p & 0xFF && (p >> 8) & 0xFF == p & 0xFF));
        // Nothing above the line's top, nothing right of the drawn width.
        assert!(buf[..(2 * w) as usize].iter().all(|&p| p == 0));
        assert!((0..h).all(|y| buf[(y * w + 2 + drawn + 1) as usize] == 0));
        // Twice the size, about twice the width (advances round to whole pixels).
        let (w16, w32) = (
            text_width("lip corner puller", 16),
            text_width("lip corner puller", 32),
        );
        assert!(w32 >= 2 * w16 - 2 && w32 <= 2 * w16 + 2, "{w16} -> {w32}");
    }

    #[test]
    fn text_off_the_edges_is_clipped() {
        let mut buf = vec![0u32; 20 * 10];
        draw_text(&mut buf, 20, 15, 5, "WWW", 9, 20);
        draw_text(&mut buf, 20, -50, -50, "X", 9, 12);
        draw_text(&mut buf, 20, -3, -3, "8", 0xFF, 12);
        assert!(buf.iter().any(|&p| p != 0));
    }

    #[test]
    fn glyphs_are_rasterised_once_per_size() {
        let mut c = GlyphCache::default();
        for ch in "AAAB".chars() {
            c.get(ch, 14);
        }
        c.get('A', 20);
        assert_eq!(c.glyphs.len(), 3);
        let a14 = &c.glyphs[&('A', 14)];
        let a20 = &c.glyphs[&('A', 20)];
        assert!(a20.h > a14.h, "{} vs {}", a20.h, a14.h);
    }

    #[test]
    fn blending_and_fitting() {
        assert_eq!(blend(0x00_00_00, 0xFF_FF_FF, 255), 0xFF_FF_FF);
        assert_eq!(blend(0x10_20_30, 0xFF_FF_FF, 0), 0x10_20_30);
        // Half way from 0x00 to 0xFE is 0x7F in each channel.
        assert_eq!(blend(0x00_00_00, 0xFE_FE_FE, 255 / 2 + 1), 0x7F_7F_7F);
        let long = "calibration: per-person, first 2.0 s of each face";
        let cut = fit(long, 14, 120);
        assert!(cut.ends_with('…') && text_width(&cut, 14) <= 120, "{cut}");
        assert_eq!(fit("short", 14, 120), "short");
    }
}
