//! PNG charts of training runs, drawn with plotters (this is the only file that imports it)
//! in the bundled DejaVu Sans font: line plots (loss curves, the learning-rate range test on
//! a log axis), per-AU precision-recall panels, and confusion-matrix heat maps.
//!
//! Colours are 0RGB `u32`s (`0xRRGGBB`), as in [`crate::font`] and the overlay.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use image::RgbImage;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::train::metrics::PrCurve;
use crate::util::png::save_rgb_png;

/// Eleven colours that tell apart on white, one per AU; series `i` may use
/// `PALETTE[i % PALETTE.len()]`.
pub const PALETTE: [u32; 11] = [
    0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD, 0x8C564B, 0xE377C2, 0x7F7F7F, 0xBCBD22,
    0x17BECF, 0x000080,
];
/// One line of a [`line_plot`]: (name, colour `0xRRGGBB`, (x, y) points in drawing order).
/// The name is anything string-like (`&str`, `String`).
pub type Series<S> = (S, u32, Vec<(f32, f32)>);

/// Width of a [`line_plot`] image.
pub const LINE_PLOT_WIDTH: u32 = 900;
/// Height of a [`line_plot`] image.
pub const LINE_PLOT_HEIGHT: u32 = 540;
/// Width of one panel of [`pr_curves`].
pub const PR_PANEL_WIDTH: u32 = 300;
/// Height of one panel of [`pr_curves`].
pub const PR_PANEL_HEIGHT: u32 = 250;
/// Panels per row in [`pr_curves`].
pub const PR_COLUMNS: usize = 4;

/// The bundled DejaVu Sans ([`crate::font::DEJAVU_SANS`]), so that charts need no system
/// fonts.
use crate::font::DEJAVU_SANS;
/// The family name the bundled font is registered under.
const FONT: &str = "sans-serif";

const TITLE_PX: u32 = 22;
const LABEL_PX: u32 = 15;
const TICK_PX: u32 = 13;
const SMALL_PX: u32 = 12;

const INK: RGBColor = RGBColor(0, 0, 0);
const AXIS: RGBColor = RGBColor(0x30, 0x30, 0x30);
const GRID: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
const GRID_LIGHT: RGBColor = RGBColor(0xF2, 0xF2, 0xF2);
const MUTED: RGBColor = RGBColor(0x80, 0x80, 0x80);
/// The dark end of the confusion-matrix ramp (white is the light end).
const HEAT_DARK: u32 = 0x08306B;
/// Space kept around the edges of an image.
const PAD: i32 = 10;
/// Height of the band at the top of every image that holds its title.
const TITLE_BAND: i32 = 40;
/// Height of the title band plus the explanatory line under it in [`pr_curves`].
const PR_HEADER: i32 = TITLE_BAND + 22;
/// Series with at most this many points also get a round marker on each point.
const MARKER_MAX_POINTS: usize = 60;
/// Longest label (characters) drawn in a confusion matrix's row names or a legend.
const MAX_LABEL_CHARS: usize = 24;

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
/// A drawing step; the error is only ever reported, in [`render`].
type Drawn<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Registers the bundled font with plotters, once per process.
fn font_ready() -> Drawn<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let register = || plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS);
    let ok = *REGISTERED.get_or_init(|| register().is_ok());
    ok.then_some(())
        .ok_or_else(|| "the bundled DejaVu Sans font could not be read".into())
}

fn rgb(c: u32) -> RGBColor {
    RGBColor((c >> 16) as u8, (c >> 8) as u8, c as u8)
}

/// The bundled font at `px` pixels in `colour`, anchored at `pos`.
fn text(px: u32, colour: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, px).into_font(),
        color: colour.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

/// Draws `s` at pixel `at` of `area` in `style`.
fn put(area: &Area, s: &str, at: (i32, i32), style: TextStyle) -> Drawn<()> {
    Ok(area.draw(&Text::new(s, at, style))?)
}

/// Pixel width of `s` at `px` (0 when the font is unavailable; [`render`] reports that).
fn text_width(s: &str, px: u32) -> i32 {
    font_ready()
        .ok()
        .and_then(|()| (FONT, px).into_font().box_size(s).ok())
        .map_or(0, |(w, _)| w as i32)
}

/// At most `max_chars` characters of `s`.
fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// Paints one `width` x `height` figure on white with `draw` and returns it with what
/// `draw` returned.
///
/// # Errors
/// Drawing failed (only possible if the bundled font could not be read).
fn render<T>(
    width: u32,
    height: u32,
    draw: impl FnOnce(&Area) -> Drawn<T>,
) -> Result<(RgbImage, T)> {
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    let drawn = {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        font_ready().and_then(|()| {
            let t = draw(&root)?;
            root.present()?;
            Ok(t)
        })
    }
    .map_err(|e| Error::Image {
        path: PathBuf::from(format!("(chart {width}x{height})")),
        reason: e.to_string(),
    })?;
    let img =
        RgbImage::from_raw(width, height, buf).unwrap_or_else(|| RgbImage::new(width, height));
    Ok((img, drawn))
}

/// The figure title, centred in the top [`TITLE_BAND`] pixels.
fn draw_title(root: &Area, title: &str) -> Drawn<()> {
    let centre = (root.dim_in_pixel().0 as i32 / 2, TITLE_BAND / 2);
    let style = text(TITLE_PX, INK, HPos::Center, VPos::Center);
    put(root, title, centre, style)
}

/// The data range an axis shows: the finite values (the positive ones on a `log` axis) with
/// a 5 % margin, or whole decades on a log axis; 0..1 (1..10 on a log axis) when there is
/// none.
fn fit_range(values: impl Iterator<Item = f64>, log: bool) -> Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return if log { 1.0..10.0 } else { 0.0..1.0 };
    }
    if log {
        // The slack keeps a power of ten given as f32 (1e-6f32 is 9.99999997e-7) on its own
        // decade; the 0.1 % widening keeps the end decades' ticks inside the axis.
        let lo_exp = (lo.log10() + 1e-6).floor() as i32;
        let hi_exp = ((hi.log10() - 1e-6).ceil() as i32).max(lo_exp + 1);
        return 10f64.powi(lo_exp) * 0.999..10f64.powi(hi_exp) * 1.001;
    }
    // One value: 10 % of it (at least 0.1) either side.
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.1
    };
    lo - pad..hi + pad
}

/// A linear-axis tick to 4 significant digits, as short as it goes: "2", "0.25", "1.5e-5".
fn tick_label(v: &f64) -> String {
    if *v == 0.0 || !v.is_finite() {
        return format!("{}", v.abs());
    }
    let e = v.abs().log10().floor() as i32;
    if !(-4..6).contains(&e) {
        let s = format!("{v:.3e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, ""));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exp}");
    }
    // Multiply and divide by an exact power of ten so that 0.3 prints as 0.3.
    let scale = 10f64.powi((3 - e).max(0));
    format!("{}", (v * scale).round() / scale)
}

/// A log-axis tick: "0.01", "100" or, far from 1, "1e-6".
fn log_tick_label(v: &f64) -> String {
    let e = (v.log10() + 1e-9).floor() as i32;
    if (-3..=4).contains(&e) {
        format!("{:.*}", (-e).max(0) as usize, v)
    } else {
        format!("{:.0e}", v)
    }
}

/// Where a [`line_plot`]'s data went: the plot area in image pixels and the data ranges it
/// spans (for the tests, which check where points land).
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
struct Frame {
    x_px: Range<i32>,
    y_px: Range<i32>,
    x: Range<f64>,
    y: Range<f64>,
}

/// A point that can be drawn: finite, and x > 0 on a log axis.
fn placeable(&(x, y): &(f32, f32), log_x: bool) -> bool {
    x.is_finite() && y.is_finite() && (!log_x || x > 0.0)
}

/// The axes, grid and lines of a [`line_plot`] in `area`; `x` is a linear or log range.
fn draw_lines<X, S>(
    area: &Area,
    x: X,
    y: Range<f64>,
    labels: (&str, &str),
    series: &[Series<S>],
    log_x: bool,
) -> Drawn<(Range<i32>, Range<i32>)>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .margin(PAD)
        .margin_right(2 * PAD)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(labels.0)
        .y_desc(labels.1)
        .label_style((FONT, TICK_PX).into_font().color(&AXIS))
        .axis_desc_style((FONT, LABEL_PX).into_font().color(&INK))
        .axis_style(AXIS)
        .bold_line_style(GRID)
        .light_line_style(GRID_LIGHT)
        .x_labels(12)
        .y_labels(10)
        .y_label_formatter(&tick_label)
        .y_max_light_lines(1);
    if log_x {
        // The light lines mark 2, 3, .. 9 times each power of ten.
        mesh.x_label_formatter(&log_tick_label);
    } else {
        mesh.x_label_formatter(&tick_label).x_max_light_lines(1);
    }
    mesh.draw()?;
    for (_, colour, points) in series {
        let colour = rgb(*colour);
        let as_f64 = |&(x, y): &(f32, f32)| (x as f64, y as f64);
        // A point that cannot be placed breaks the line.
        for run in points.split(|p| !placeable(p, log_x)) {
            if run.len() > 1 {
                let line = LineSeries::new(run.iter().map(as_f64), colour.stroke_width(2));
                chart.draw_series(line)?;
            }
        }
        if points.len() <= MARKER_MAX_POINTS {
            let shown = points.iter().filter(|p| placeable(p, log_x));
            chart.draw_series(shown.map(|p| Circle::new(as_f64(p), 3, colour.filled())))?;
        }
    }
    Ok(chart.plotting_area().get_pixel_range())
}

/// [`line_plot`] and where its data went.
fn line_plot_framed<S: AsRef<str>>(
    title: &str,
    labels: (&str, &str),
    series: &[Series<S>],
    log_x: bool,
) -> Result<(RgbImage, Frame)> {
    let all = || series.iter().flat_map(|s| s.2.iter());
    let x = fit_range(all().map(|p| p.0 as f64), log_x);
    // Only placeable points are drawn, so only they set the y range.
    let shown = all().filter(|p| placeable(p, log_x));
    let y = fit_range(shown.map(|p| p.1 as f64), false);
    let name = |s: &Series<S>| truncate(s.0.as_ref(), MAX_LABEL_CHARS);
    let names: Vec<String> = series.iter().map(name).collect();
    let widest = names.iter().map(|n| text_width(n, LABEL_PX)).max();
    let legend_w = widest.map_or(0, |w| w + 60);
    render(LINE_PLOT_WIDTH, LINE_PLOT_HEIGHT, |root| {
        draw_title(root, title)?;
        let below = root.clone().margin(TITLE_BAND, 0, 0, 0);
        let (plot, _) = below.split_horizontally(LINE_PLOT_WIDTH as i32 - legend_w);
        let (xr, yr) = (x.clone(), y.clone());
        let (x_px, y_px) = if log_x {
            draw_lines(&plot, xr.log_scale(), yr, labels, series, true)?
        } else {
            draw_lines(&plot, xr, yr, labels, series, false)?
        };
        // The legend: a line sample and the name of each series, right of the plot area.
        let lx = LINE_PLOT_WIDTH as i32 - legend_w + 6;
        for (i, ((_, colour, _), name)) in series.iter().zip(&names).enumerate() {
            let ly = y_px.start + 12 + i as i32 * 24;
            let sample = vec![(lx, ly), (lx + 30, ly)];
            root.draw(&PathElement::new(sample, rgb(*colour).stroke_width(3)))?;
            let style = text(LABEL_PX, INK, HPos::Left, VPos::Center);
            put(root, name, (lx + 40, ly), style)?;
        }
        Ok(Frame { x_px, y_px, x, y })
    })
}

/// A line chart of [`LINE_PLOT_WIDTH`] x [`LINE_PLOT_HEIGHT`]: axes with numeric tick
/// labels and a grid, one line per series `(name, colour, points)` (markers on the points
/// when a series has at most 60), and a legend on the right. Axis ranges cover all finite
/// points; with `log_x` the x axis is logarithmic (whole decades), for the learning-rate
/// range test, and points with x <= 0 are left out. NaN or infinite points are skipped and
/// break the line. Used for loss curves (train / val per epoch).
pub fn line_plot<S: AsRef<str>>(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<S>],
    log_x: bool,
) -> Result<RgbImage> {
    Ok(line_plot_framed(title, (x_label, y_label), series, log_x)?.0)
}

/// Columns in use and the size of the whole [`pr_curves`] image for `n` panels.
fn pr_grid(n: usize) -> (usize, u32, u32) {
    let cols = n.clamp(1, PR_COLUMNS);
    let rows = n.div_ceil(cols).max(1);
    let w = cols as u32 * PR_PANEL_WIDTH + 2 * PAD as u32;
    let h = PR_HEADER as u32 + rows as u32 * PR_PANEL_HEIGHT + PAD as u32;
    (cols, w, h)
}

/// Top-left pixel of PR panel `i` in a grid of `cols` columns.
fn pr_panel_origin(i: usize, cols: usize) -> (i32, i32) {
    let (col, row) = ((i % cols) as u32, (i / cols) as u32);
    let (x, y) = (col * PR_PANEL_WIDTH, row * PR_PANEL_HEIGHT);
    (PAD + x as i32, PR_HEADER + y as i32)
}

/// One [`pr_curves`] panel: heading, unit axes, prevalence line and the step curve.
fn draw_pr_panel(panel: &Area, curve: &PrCurve, colour: RGBColor) -> Drawn<()> {
    let ap = curve
        .average_precision
        .map_or_else(|| "-".to_string(), |ap| format!("{ap:.3}"));
    let known = curve.positives + curve.negatives;
    let name = truncate(&curve.name, 12);
    let heading = format!("{name}   AP {ap}   pos {}/{known}", curve.positives);
    let mut chart = ChartBuilder::on(panel)
        .caption(heading, (FONT, 14).into_font().color(&INK))
        .margin(6)
        .margin_right(16)
        .x_label_area_size(36)
        .y_label_area_size(46)
        .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)?;
    let tick = |v: &f64| format!("{v:.1}");
    chart
        .configure_mesh()
        .x_desc("recall")
        .y_desc("precision")
        .label_style((FONT, SMALL_PX).into_font().color(&AXIS))
        .axis_desc_style((FONT, SMALL_PX + 1).into_font().color(&INK))
        .axis_style(AXIS)
        .bold_line_style(GRID)
        .max_light_lines(0)
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .draw()?;
    if curve.positives > 0 {
        let p = curve.prevalence();
        let dashed = DashedLineSeries::new([(0.0, p), (1.0, p)], 6, 4, MUTED.into());
        chart.draw_series(dashed)?;
    }
    // Precision P_k over recall R_{k-1}..R_k, so the area under the steps is the AP.
    let mut steps = Vec::with_capacity(2 * curve.points.len());
    let mut prev_recall = 0.0;
    for p in &curve.points {
        if p.precision.is_finite() && p.recall.is_finite() {
            steps.extend([(prev_recall, p.precision), (p.recall, p.precision)]);
            prev_recall = p.recall;
        }
    }
    // Segment by segment: a 2-pixel polyline grows spikes at its right-angled joins.
    let segment = |w: &[(f64, f64)]| PathElement::new(w.to_vec(), colour.stroke_width(2));
    chart.draw_series(steps.windows(2).map(segment))?;
    let note = match (curve.points.is_empty(), curve.positives) {
        (true, _) => "no data",
        (false, 0) => "no positives",
        _ => return Ok(()),
    };
    let style = text(TICK_PX, MUTED, HPos::Center, VPos::Center);
    let area = chart.plotting_area();
    Ok(area.draw(&Text::new(note, (0.5, 0.5), style))?)
}

/// Precision-recall curves, one small panel per class in a grid of [`PR_COLUMNS`] columns
/// ([`PR_PANEL_WIDTH`] x [`PR_PANEL_HEIGHT`] each), colour [`PALETTE`]`[i]`. Each curve is
/// drawn as the step function whose area is its average precision (precision P_k over
/// recall R_{k-1}..R_k); the dashed grey line is the prevalence, the precision of a random
/// classifier. The panel heading gives the name, AP and positives / known samples.
pub fn pr_curves(title: &str, curves: &[PrCurve]) -> Result<RgbImage> {
    let (cols, w, h) = pr_grid(curves.len());
    let centred = |px| text(px, MUTED, HPos::Center, VPos::Center);
    let (cx, cy) = (w as i32 / 2, h as i32 / 2);
    render(w, h, |root| {
        draw_title(root, title)?;
        let note = "step curve: area = average precision (AP);  dashed: prevalence (a random \
                    classifier's precision)";
        put(root, note, (cx, TITLE_BAND + 6), centred(SMALL_PX))?;
        if curves.is_empty() {
            put(root, "no curves", (cx, cy + 20), centred(LABEL_PX))?;
        }
        let size = (PR_PANEL_WIDTH, PR_PANEL_HEIGHT);
        for (i, curve) in curves.iter().enumerate() {
            let panel = root.clone().shrink(pr_panel_origin(i, cols), size);
            draw_pr_panel(&panel, curve, rgb(PALETTE[i % PALETTE.len()]))?;
        }
        Ok(())
    })
    .map(|(img, ())| img)
}

/// Where the parts of a confusion matrix go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MatrixLayout {
    /// Top-left corner of cell (0, 0).
    x0: i32,
    y0: i32,
    /// Side of a cell.
    cell: i32,
    rows: usize,
    cols: usize,
    /// Column names run bottom to top when one is wider than a cell.
    vertical_names: bool,
    /// Left edge of the colour scale bar.
    scale_x: i32,
    width: u32,
    height: u32,
}

/// Gap between the matrix and the texts beside it.
const GAP: i32 = 10;
/// Width of the colour scale bar.
const SCALE_BAR_W: i32 = 16;

/// The name of class `i` as drawn.
fn class_name(labels: &[String], i: usize) -> String {
    truncate(labels.get(i).map_or("", String::as_str), MAX_LABEL_CHARS)
}

fn matrix_layout(title: &str, labels: &[String], counts: &[Vec<u64>]) -> MatrixLayout {
    let rows = counts.len();
    let cols = counts.iter().map(Vec::len).max().unwrap_or(0);
    let n = rows.max(cols).max(1) as i32;
    let cell = if n <= 12 { 72 } else { (860 / n).max(24) };
    let name_w = |i| text_width(&class_name(labels, i), TICK_PX);
    let col_names_w = (0..cols).map(name_w).max().unwrap_or(0);
    let vertical_names = col_names_w > cell - 6;
    // Room for the column names: upright, one line; on their side, the longest.
    let col_band = GAP + if vertical_names { col_names_w } else { 14 };
    // Left to right: "true" (on its side), row names, cells, totals, colour scale.
    let row_names_w = (0..rows).map(name_w).max().unwrap_or(0);
    let x0 = PAD + LABEL_PX as i32 + GAP + row_names_w + GAP;
    let y0 = TITLE_BAND + LABEL_PX as i32 + 8 + col_band;
    let total_w = |row: &Vec<u64>| text_width(&row_total(row).to_string(), TICK_PX);
    let totals_w = counts
        .iter()
        .map(total_w)
        .fold(text_width("total", TICK_PX), i32::max);
    let scale_x = x0 + cols as i32 * cell + GAP + totals_w + 2 * GAP;
    let width = (scale_x + SCALE_BAR_W + 6 + text_width("100%", SMALL_PX) + PAD)
        .max(text_width(title, TITLE_PX) + 2 * PAD)
        .max(320);
    let height = y0 + rows.max(1) as i32 * cell + 2 * GAP + SMALL_PX as i32 + PAD;
    let (width, height) = (width as u32, height as u32);
    MatrixLayout {
        x0,
        y0,
        cell,
        rows,
        cols,
        vertical_names,
        scale_x,
        width,
        height,
    }
}

/// Sum of a confusion-matrix row (saturating: counts near `u64::MAX` must not wrap).
fn row_total(row: &[u64]) -> u64 {
    row.iter().fold(0u64, |a, &b| a.saturating_add(b))
}

/// White (t = 0) to [`HEAT_DARK`] (t = 1).
fn heat(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |shift: u32| {
        let dark = ((HEAT_DARK >> shift) & 0xFF) as f64;
        (255.0 + (dark - 255.0) * t).round() as u8
    };
    RGBColor(mix(16), mix(8), mix(0))
}

/// A confusion matrix as a heat map: rows = true class, columns = predicted, `labels`
/// naming both. Each cell shows its count and its share of the row, and is shaded by that
/// share (row-normalised, so rare classes read as well as common ones) on the colour scale
/// drawn at the right; the row totals are beside the rows. Rows of different lengths and
/// missing labels are tolerated (missing cells count 0). Cells are 72 pixels (smaller
/// beyond 12 classes, when the column names turn on their side); the image size follows.
pub fn confusion_matrix(title: &str, labels: &[String], counts: &[Vec<u64>]) -> Result<RgbImage> {
    let l = matrix_layout(title, labels, counts);
    let draw = |root: &Area| draw_matrix(root, &l, title, labels, counts);
    Ok(render(l.width, l.height, draw)?.0)
}

fn draw_matrix(
    root: &Area,
    l: &MatrixLayout,
    title: &str,
    labels: &[String],
    counts: &[Vec<u64>],
) -> Drawn<()> {
    draw_title(root, title)?;
    let say = |s: &str, at, style| put(root, s, at, style);
    let rule = |from, to, colour: RGBColor| root.draw(&PathElement::new(vec![from, to], colour));
    let small = |h, v| text(TICK_PX, AXIS, h, v);
    let (grid_w, grid_h) = (l.cols as i32 * l.cell, l.rows as i32 * l.cell);
    let (right, bottom) = (l.x0 + grid_w, l.y0 + grid_h);
    // Axis names: "predicted" over the columns, "true" on its side left of the rows.
    let axis_name = text(LABEL_PX, INK, HPos::Center, VPos::Top);
    let top_centre = (l.x0 + grid_w / 2, TITLE_BAND);
    say("predicted", top_centre, axis_name.clone())?;
    let on_side = axis_name.transform(FontTransform::Rotate270);
    say("true", (PAD, l.y0 + grid_h / 2), on_side)?;
    let names_y = l.y0 - 6;
    let col_name = match l.vertical_names {
        true => small(HPos::Left, VPos::Center).transform(FontTransform::Rotate270),
        false => small(HPos::Center, VPos::Bottom),
    };
    for j in 0..l.cols {
        let cx = l.x0 + j as i32 * l.cell + l.cell / 2;
        say(&class_name(labels, j), (cx, names_y), col_name.clone())?;
    }
    let total_x = right + GAP;
    say("total", (total_x, names_y), small(HPos::Left, VPos::Bottom))?;
    let count_px = if l.cell >= 48 { LABEL_PX + 3 } else { SMALL_PX };
    for (i, row) in counts.iter().enumerate() {
        let row_sum = row_total(row);
        let y = l.y0 + i as i32 * l.cell;
        let cy = y + l.cell / 2;
        let name = class_name(labels, i);
        say(&name, (l.x0 - GAP, cy), small(HPos::Right, VPos::Center))?;
        let total = row_sum.to_string();
        say(&total, (total_x, cy), small(HPos::Left, VPos::Center))?;
        for j in 0..l.cols {
            let count = row.get(j).copied().unwrap_or(0);
            let share = count as f64 / row_sum.max(1) as f64;
            let x = l.x0 + j as i32 * l.cell;
            let cx = x + l.cell / 2;
            let cell = [(x, y), (x + l.cell, y + l.cell)];
            root.draw(&Rectangle::new(cell, heat(share).filled()))?;
            let ink = if share > 0.5 { WHITE } else { INK };
            let count = count.to_string();
            let fits = |&px: &u32| text_width(&count, px) < l.cell - 4;
            let Some(px) = [count_px, SMALL_PX - 2].into_iter().find(fits) else {
                continue;
            };
            if l.cell < 48 {
                say(&count, (cx, cy), text(px, ink, HPos::Center, VPos::Center))?;
                continue;
            }
            // The count above, its share of the row below the middle of the cell.
            let (above, below) = ((cx, cy + 4), (cx, cy + 8));
            say(&count, above, text(px, ink, HPos::Center, VPos::Bottom))?;
            let pct = format!("{:.0}%", share * 100.0);
            say(&pct, below, text(SMALL_PX, ink, HPos::Center, VPos::Top))?;
        }
    }
    // Cell borders, drawn last so that every cell is framed.
    for i in 0..=l.rows as i32 {
        rule((l.x0, l.y0 + i * l.cell), (right, l.y0 + i * l.cell), GRID)?;
    }
    for j in 0..=l.cols as i32 {
        rule((l.x0 + j * l.cell, l.y0), (l.x0 + j * l.cell, bottom), GRID)?;
    }
    // The colour scale: share of the row, 0 % at the bottom to 100 % at the top.
    let (bar_x, bar_h) = (l.scale_x, grid_h.max(l.cell));
    for k in 0..bar_h {
        let t = 1.0 - k as f64 / (bar_h - 1).max(1) as f64;
        rule((bar_x, l.y0 + k), (bar_x + SCALE_BAR_W, l.y0 + k), heat(t))?;
    }
    let frame = [(bar_x, l.y0), (bar_x + SCALE_BAR_W, l.y0 + bar_h)];
    root.draw(&Rectangle::new(frame, AXIS.stroke_width(1)))?;
    for (t, label) in [(1.0, "100%"), (0.5, "50%"), (0.0, "0%")] {
        let y = l.y0 + ((1.0 - t) * (bar_h - 1) as f64).round() as i32;
        let style = text(SMALL_PX, AXIS, HPos::Left, VPos::Center);
        say(label, (bar_x + SCALE_BAR_W + 6, y), style)?;
    }
    let note = "shading: share of the row (true class)";
    let style = text(SMALL_PX, MUTED, HPos::Left, VPos::Top);
    say(note, (PAD, l.y0 + bar_h + GAP), style)
}

/// One lane of a [`timeline`]: a score in [0, 1] over time.
#[derive(Clone, Debug, Default)]
pub struct Lane {
    pub name: String,
    pub colour: u32,
    /// (seconds, score) in time order; a NaN score breaks the line (no face in that frame).
    pub points: Vec<(f32, f32)>,
    /// (from, to) seconds where the lane's class is marked present: shaded.
    pub present: Vec<(f32, f32)>,
    /// The decision threshold, drawn as a dashed line when known.
    pub threshold: Option<f32>,
}

/// The last lane of a [`timeline`]: which class wins over time (the top emotion).
#[derive(Clone, Debug, Default)]
pub struct ClassLane {
    pub name: String,
    /// Class names and colours, for the legend.
    pub classes: Vec<(String, u32)>,
    /// (from, to, class index) spans in seconds.
    pub spans: Vec<(f32, f32, usize)>,
}

/// Width of a [`timeline`] image.
pub const TIMELINE_WIDTH: u32 = 1400;
/// Height of one lane of a [`timeline`].
pub const TIMELINE_LANE: i32 = 46;
/// Width of the lane names' column of a [`timeline`].
pub const TIMELINE_NAMES: i32 = 230;

/// A recording at a glance: one lane per score over a shared time axis, each with its
/// present spans shaded, its line and its threshold, then a lane of the winning class
/// with a legend. `subtitle` (model, data, date) goes under the title.
///
/// # Errors
/// Drawing failed (only possible if the bundled font could not be read).
pub fn timeline(
    title: &str,
    subtitle: &str,
    lanes: &[Lane],
    classes: Option<&ClassLane>,
) -> Result<RgbImage> {
    let n_lanes = lanes.len() as i32 + i32::from(classes.is_some());
    let top = TITLE_BAND + 26;
    let axis_h = 46;
    let legend_h = if classes.is_some() { 30 } else { 0 };
    let height = (top + n_lanes * TIMELINE_LANE + axis_h + legend_h + PAD) as u32;
    let all_t = lanes
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0 as f64))
        .chain(
            classes
                .iter()
                .flat_map(|c| c.spans.iter().flat_map(|s| [s.0 as f64, s.1 as f64])),
        );
    let (t0, t1) = all_t
        .filter(|t| t.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), t| {
            (a.min(t), b.max(t))
        });
    let (t0, t1) = if t0 < t1 { (t0, t1) } else { (0.0, 1.0) };
    let x0 = TIMELINE_NAMES;
    let x1 = TIMELINE_WIDTH as i32 - PAD - 10;
    let x_of = move |t: f32| x0 + ((t as f64 - t0) / (t1 - t0) * (x1 - x0) as f64).round() as i32;
    let (img, ()) = render(TIMELINE_WIDTH, height, |root| {
        draw_title(root, title)?;
        let centre = (TIMELINE_WIDTH as i32 / 2, TITLE_BAND + 8);
        put(
            root,
            subtitle,
            centre,
            text(SMALL_PX, MUTED, HPos::Center, VPos::Center),
        )?;
        let name_style = text(LABEL_PX, INK, HPos::Left, VPos::Center);
        for (i, lane) in lanes.iter().enumerate() {
            let y0 = top + i as i32 * TIMELINE_LANE;
            let (ya, yb) = (y0 + 4, y0 + TIMELINE_LANE - 4);
            let y_of = |v: f32| yb - ((v.clamp(0.0, 1.0) * (yb - ya) as f32).round() as i32);
            let band = if i % 2 == 0 { GRID_LIGHT } else { WHITE };
            root.draw(&Rectangle::new(
                [(x0, y0), (x1, y0 + TIMELINE_LANE)],
                band.filled(),
            ))?;
            let shade = rgb(lane.colour).mix(0.25);
            for &(a, b) in &lane.present {
                let (xa, xb) = (x_of(a), x_of(b).max(x_of(a) + 1));
                root.draw(&Rectangle::new([(xa, ya), (xb, yb)], shade.filled()))?;
            }
            if let Some(t) = lane.threshold {
                let y = y_of(t);
                let mut x = x0;
                while x < x1 {
                    let seg = vec![(x, y), ((x + 6).min(x1), y)];
                    root.draw(&PathElement::new(seg, MUTED.stroke_width(1)))?;
                    x += 12;
                }
            }
            // The line, broken where there is no score.
            let mut run: Vec<(i32, i32)> = Vec::new();
            let style = rgb(lane.colour).stroke_width(2);
            for &(t, v) in lane
                .points
                .iter()
                .chain(std::iter::once(&(f32::NAN, f32::NAN)))
            {
                if v.is_finite() && t.is_finite() {
                    run.push((x_of(t), y_of(v)));
                } else if !run.is_empty() {
                    if run.len() == 1 {
                        root.draw(&Circle::new(run[0], 2, style.filled()))?;
                    } else {
                        root.draw(&PathElement::new(std::mem::take(&mut run), style))?;
                    }
                    run.clear();
                }
            }
            let label = truncate(&lane.name, 30);
            put(
                root,
                &label,
                (PAD, y0 + TIMELINE_LANE / 2),
                name_style.clone(),
            )?;
        }
        let mut y_end = top + lanes.len() as i32 * TIMELINE_LANE;
        if let Some(c) = classes {
            let (ya, yb) = (y_end + 6, y_end + TIMELINE_LANE - 6);
            for &(a, b, k) in &c.spans {
                let colour = c.classes.get(k).map_or(MUTED, |cl| rgb(cl.1));
                let (xa, xb) = (x_of(a), x_of(b).max(x_of(a) + 1));
                root.draw(&Rectangle::new([(xa, ya), (xb, yb)], colour.filled()))?;
            }
            put(
                root,
                &truncate(&c.name, 30),
                (PAD, y_end + TIMELINE_LANE / 2),
                name_style,
            )?;
            y_end += TIMELINE_LANE;
        }
        // The time axis.
        root.draw(&PathElement::new(
            vec![(x0, y_end), (x1, y_end)],
            AXIS.stroke_width(1),
        ))?;
        let span = t1 - t0;
        let step = [
            0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
        ]
        .into_iter()
        .find(|s| span / s <= 12.0)
        .unwrap_or(1200.0);
        let mut t = (t0 / step).ceil() * step;
        let tick_style = text(TICK_PX, AXIS, HPos::Center, VPos::Top);
        while t <= t1 + 1e-9 {
            let x = x_of(t as f32);
            root.draw(&PathElement::new(
                vec![(x, y_end), (x, y_end + 5)],
                AXIS.stroke_width(1),
            ))?;
            put(root, &tick_label(&t), (x, y_end + 8), tick_style.clone())?;
            t += step;
        }
        let label_style = text(LABEL_PX, INK, HPos::Center, VPos::Top);
        put(root, "time (s)", ((x0 + x1) / 2, y_end + 26), label_style)?;
        if let Some(c) = classes {
            let mut x = x0;
            let y = y_end + axis_h + 12;
            for (name, colour) in &c.classes {
                root.draw(&Rectangle::new(
                    [(x, y - 6), (x + 14, y + 6)],
                    rgb(*colour).filled(),
                ))?;
                let style = text(SMALL_PX, INK, HPos::Left, VPos::Center);
                put(root, name, (x + 20, y), style)?;
                x += 40 + text_width(name, SMALL_PX);
            }
        }
        Ok(())
    })?;
    Ok(img)
}

/// Height of the band [`with_caption`] adds.
pub const CAPTION_BAND: u32 = 24;

/// `img` with a line of small grey text under it: what a figure shows (model, data, date),
/// so that it still says so when it is pasted into slides on its own.
///
/// # Errors
/// Drawing failed (only possible if the bundled font could not be read).
pub fn with_caption(img: &RgbImage, caption: &str) -> Result<RgbImage> {
    let (w, h) = img.dimensions();
    let (mut out, ()) = render(w, h + CAPTION_BAND, |root| {
        let style = text(SMALL_PX, MUTED, HPos::Left, VPos::Center);
        put(root, caption, (PAD, (h + CAPTION_BAND / 2) as i32), style)
    })?;
    image::imageops::replace(&mut out, img, 0, 0);
    Ok(out)
}

/// `top` above `bottom` (the wider sets the width; white fills the rest).
pub fn stack(top: &RgbImage, bottom: &RgbImage) -> RgbImage {
    let w = top.width().max(bottom.width());
    let mut out = RgbImage::from_pixel(w, top.height() + bottom.height(), image::Rgb([255; 3]));
    image::imageops::replace(&mut out, top, 0, 0);
    image::imageops::replace(&mut out, bottom, 0, i64::from(top.height()));
    out
}

/// Writes `img` as a PNG at `path`, creating its folder if needed.
///
/// # Errors
/// [`Error::Io`] if the folder cannot be created, [`Error::Image`] if the file cannot be
/// encoded or written.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    save_rgb_png(path, img.width(), img.height(), img.as_raw())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::AU_NUMBERS;
    use crate::train::metrics::{au_pr_curves, pr_curve, EvalSample, NUM_EMOTIONS};

    fn colour_of(p: &image::Rgb<u8>) -> u32 {
        (p[0] as u32) << 16 | (p[1] as u32) << 8 | p[2] as u32
    }

    /// Pixels inside `xs` x `ys` whose colour passes `keep`.
    fn count(img: &RgbImage, xs: Range<i32>, ys: Range<i32>, keep: impl Fn(u32) -> bool) -> usize {
        let inside = |x: u32, y: u32| xs.contains(&(x as i32)) && ys.contains(&(y as i32));
        let hits = img
            .enumerate_pixels()
            .filter(|(x, y, p)| inside(*x, *y) && keep(colour_of(p)));
        hits.count()
    }

    /// Text and axes: dark grey to black.
    fn dark(c: u32) -> bool {
        (c >> 16) < 0x60 && (c >> 8) & 0xFF < 0x60 && c & 0xFF < 0x60
    }

    /// The pixel of data point (x, y), worked out here from the frame: linear in x, or in
    /// log10 x on a log axis.
    fn pixel_of(f: &Frame, x: f64, y: f64, log_x: bool) -> (u32, u32) {
        let t = |v: f64| if log_x { v.log10() } else { v };
        let fx = (t(x) - t(f.x.start)) / (t(f.x.end) - t(f.x.start));
        let fy = (y - f.y.start) / (f.y.end - f.y.start);
        let px = f.x_px.start as f64 + fx * (f.x_px.end - f.x_px.start) as f64;
        let py = f.y_px.end as f64 - fy * (f.y_px.end - f.y_px.start) as f64;
        (px.round() as u32, py.round() as u32)
    }

    #[test]
    fn bundled_font_loads_and_is_proportional() {
        assert!(font_ready().is_ok());
        assert!(text_width("WWW", 15) > text_width("iii", 15) && text_width("iii", 15) > 0);
    }

    #[test]
    fn ranges_cover_the_data_and_ticks_read_well() {
        // 0.1 ..= 1.1 with a 5 % margin of the span 1.0; NaN ignored.
        let r = fit_range([0.1, 1.1, f64::NAN].into_iter(), false);
        assert!(
            (r.start - 0.05).abs() < 1e-12 && (r.end - 1.15).abs() < 1e-12,
            "{r:?}"
        );
        // Log: whole decades 1e-5 ..= 1, 0.1 % wider; x <= 0 ignored.
        let l = fit_range([1e-5, 0.3, -1.0, 0.0].into_iter(), true);
        assert!((l.start / 1e-5 - 0.999).abs() < 1e-9 && (l.end - 1.001).abs() < 1e-9);
        // 1e-6 as f32 (9.99999997e-7) stays on its own decade.
        let l = fit_range([1e-6f32 as f64, 1e-2].into_iter(), true);
        assert!((l.start / 1e-6 - 0.999).abs() < 1e-6, "{l:?}");
        assert_eq!(fit_range([2.0].into_iter(), false), 1.8..2.2);
        assert_eq!(fit_range(std::iter::empty(), false), 0.0..1.0);
        assert_eq!(fit_range([-3.0].into_iter(), true), 1.0..10.0);
        let log = [1e-6, 1e-3, 1.0, 100.0, 1e5].map(|v| log_tick_label(&v));
        assert_eq!(log, ["1e-6", "0.001", "1", "100", "1e5"]);
        let lin = [0.0, 2.0, 0.25, -1.5, 0.1 + 0.2, 1.5e-5, 3e38, 1234567.0];
        let want = ["0", "2", "0.25", "-1.5", "0.3", "1.5e-5", "3e38", "1.235e6"];
        assert_eq!(lin.map(|v| tick_label(&v)), want);
    }

    fn loss_series() -> Vec<Series<String>> {
        let curve = |a: f32, b: f32, c: f32| {
            let point = |e: f32| (e, a / e + b + c * e);
            (1..=20).map(|e| point(e as f32)).collect()
        };
        let train = ("train".into(), PALETTE[0], curve(1.0, 0.1, 0.0));
        vec![train, ("val".into(), PALETTE[1], curve(1.2, 0.15, 0.004))]
    }

    #[test]
    fn line_plot_draws_lines_markers_title_and_legend() {
        let series = loss_series();
        let (img, frame) = line_plot_framed("Loss", ("epoch", "loss"), &series, false).unwrap();
        assert_eq!(img.dimensions(), (LINE_PLOT_WIDTH, LINE_PLOT_HEIGHT));
        let f = frame;
        let (w, plot_ys) = (LINE_PLOT_WIDTH as i32, f.y_px.clone());
        for c in [PALETTE[0], PALETTE[1]] {
            assert!(count(&img, f.x_px.clone(), plot_ys.clone(), |p| p == c) > 100);
            // The legend's line sample, right of the plot area.
            assert!(count(&img, f.x_px.end..w, plot_ys.clone(), |p| p == c) > 50);
        }
        // The first train point (1, 1.1) is under its marker (radius 3).
        let (px, py) = pixel_of(&f, 1.0, 1.1f32 as f64, false);
        assert_eq!(colour_of(img.get_pixel(px, py)), PALETTE[0]);
        // Title text in the title band, and none without a title.
        assert!(count(&img, 0..w, 0..TITLE_BAND, dark) > 50);
        let (img, _) = line_plot_framed("", ("epoch", "loss"), &series, false).unwrap();
        assert_eq!(count(&img, 0..w, 0..TITLE_BAND, dark), 0);
    }

    #[test]
    fn log_x_places_points_by_decade_and_skips_non_positive_x() {
        // One point per decade 1e-6 ..= 1, then two with x <= 0 that must not be drawn.
        let decades = (0..=6).map(|i| (10f32.powi(i - 6), 2.0 - 0.1 * i as f32));
        let pts: Vec<(f32, f32)> = decades.chain([(0.0, 100.0), (-1.0, 100.0)]).collect();
        let series = [("loss", PALETTE[3], pts)];
        let (img, frame) = line_plot_framed("LR", ("lr", "loss"), &series, true).unwrap();
        let f = frame;
        // The x <= 0 points (loss 100) do not stretch the y axis.
        assert!(f.y.end < 3.0, "{f:?}");
        // 1e-3 is half way along the six decades; a linear axis would put it at the far
        // left, where nothing is drawn at that height.
        let (px, py) = pixel_of(&f, 1e-3, 1.7f32 as f64, true);
        assert!((px as i32 - (f.x_px.start + f.x_px.end) / 2).abs() <= 2);
        assert_eq!(colour_of(img.get_pixel(px, py)), PALETTE[3]);
        let (lx, ly) = pixel_of(&f, 1e-3, 1.7f32 as f64, false);
        assert_ne!(colour_of(img.get_pixel(lx, ly)), PALETTE[3]);
    }

    #[test]
    fn line_plot_degenerate_inputs_do_not_panic() {
        let none: [Series<&str>; 0] = [];
        assert_eq!(
            line_plot("", "", "", &none, false).unwrap().width(),
            LINE_PLOT_WIDTH
        );
        let nan = f32::NAN;
        let cases: Vec<Vec<(f32, f32)>> = vec![
            vec![],
            vec![(1.0, 0.5)],
            vec![(1.0, 0.5), (2.0, 0.5), (3.0, 0.5)],
            vec![(nan, 1.0), (1.0, nan), (f32::INFINITY, 2.0), (2.0, 3.0)],
            vec![(f32::MAX, f32::MIN), (f32::MIN, f32::MAX)],
            vec![(0.0, 0.0), (0.0, 0.0)],
        ];
        for (pts, log_x) in cases.iter().flat_map(|p| [(p, false), (p, true)]) {
            let series = [("s", PALETTE[2], pts.clone())];
            let (img, frame) = line_plot_framed("t", ("x", "y"), &series, log_x).unwrap();
            assert_eq!(img.dimensions(), (LINE_PLOT_WIDTH, LINE_PLOT_HEIGHT));
            let f = frame;
            // A lone point is still visible (its marker).
            if pts.len() == 1 {
                assert!(count(&img, f.x_px, f.y_px, |p| p == PALETTE[2]) > 0);
            }
        }
    }

    /// Samples for all 11 AUs: AU i positive for every (i + 2)-th sample, scores informative
    /// but noisy.
    fn au_samples() -> Vec<EvalSample> {
        let sample = |k: u32| {
            let positive = |i: usize| k % (i as u32 + 2) == 0;
            let noise = |i: usize| ((k * 37 + i as u32 * 11) % 100) as f32 / 100.0;
            EvalSample {
                au_labels: std::array::from_fn(|i| Some(positive(i))),
                au_probs: std::array::from_fn(|i| match positive(i) {
                    true => 0.4 + 0.6 * noise(i),
                    false => 0.7 * noise(i),
                }),
                emotion_label: None,
                emotion_probs: [0.0; NUM_EMOTIONS],
            }
        };
        (0..200).map(sample).collect()
    }

    #[test]
    fn pr_panels_hold_their_curve_and_heading() {
        let curves = au_pr_curves(&au_samples());
        assert_eq!(curves.len(), AU_NUMBERS.len());
        let img = pr_curves("PR curves", &curves).unwrap();
        // 11 panels: 4 columns x 3 rows.
        let size = (
            4 * PR_PANEL_WIDTH + 20,
            PR_HEADER as u32 + 3 * PR_PANEL_HEIGHT + 10,
        );
        assert_eq!(img.dimensions(), size);
        let (w, h) = (PR_PANEL_WIDTH as i32, PR_PANEL_HEIGHT as i32);
        for (i, &colour) in PALETTE.iter().enumerate() {
            let (x, y) = pr_panel_origin(i, PR_COLUMNS);
            assert!(
                count(&img, x..x + w, y..y + h, |p| p == colour) > 20,
                "panel {i}"
            );
            assert!(
                count(&img, x..x + w, y..y + 24, dark) > 30,
                "panel {i} heading"
            );
        }
        // Degenerate curves: no samples, no positives, NaN scores; no curve at all.
        let odd = [
            pr_curve("AU01", &[]),
            pr_curve("AU02", &[(Some(false), 0.3), (Some(false), 0.3)]),
            pr_curve("AU04", &[(Some(true), f32::NAN), (Some(false), f32::NAN)]),
        ];
        for n in [0, 3] {
            let (_, w, h) = pr_grid(n);
            assert_eq!(pr_curves("odd", &odd[..n]).unwrap().dimensions(), (w, h));
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn confusion_matrix_shades_by_row_share_and_writes_counts() {
        // Row shares: (0,0) 50/53 = 0.94 is the largest; the others are at most 20/25 = 0.8.
        let counts = vec![vec![50, 2, 1], vec![3, 10, 4], vec![0, 5, 20]];
        let labels = names(&["anger", "happiness", "neutral"]);
        let img = confusion_matrix("Emotions", &labels, &counts).unwrap();
        let l = matrix_layout("Emotions", &labels, &counts);
        assert_eq!(img.dimensions(), (l.width, l.height));
        assert!(!l.vertical_names);
        // A background pixel near each cell's top-left corner (clear of grid and text).
        let sum = |p: &image::Rgb<u8>| p.0.iter().map(|&c| c as u32).sum::<u32>();
        let (x, y) = (
            |j: i32| l.x0 + j * l.cell + 4,
            |i: i32| l.y0 + i * l.cell + 4,
        );
        let shade = |i, j| sum(img.get_pixel(x(j) as u32, y(i) as u32));
        for (i, j) in (0..9).map(|k| (k / 3, k % 3)).skip(1) {
            assert!(shade(i, j) > shade(0, 0), "cell {i},{j}");
        }
        // A zero cell is white; the dark diagonal cell carries light text (count, share).
        assert_eq!(shade(2, 0), 3 * 255);
        let light = |p: u32| (p >> 16) > 0xC0 && p & 0xFF > 0xC0;
        let (xs, ys) = (l.x0..l.x0 + l.cell, l.y0..l.y0 + l.cell);
        assert!(count(&img, xs, ys, light) > 20);
        // The colour scale runs from dark (top) to white (bottom).
        let bar = |y: i32| img.get_pixel((l.scale_x + 8) as u32, y as u32).0;
        assert!(sum(&image::Rgb(bar(l.y0 + 2))) < 300);
        assert!(bar(l.y0 + 3 * l.cell - 3).iter().all(|&c| c > 240));
    }

    #[test]
    fn confusion_matrix_degenerate_inputs_do_not_panic() {
        let img = confusion_matrix("empty", &[], &[]).unwrap();
        assert!(img.width() > 0 && img.height() > 0);
        // Ragged rows, missing labels, an all-zero row, huge counts.
        let counts = vec![vec![u64::MAX, 1], vec![], vec![0, 0, 7]];
        let img = confusion_matrix("ragged", &names(&["a"]), &counts).unwrap();
        let l = matrix_layout("ragged", &names(&["a"]), &counts);
        assert_eq!((l.rows, l.cols, img.width()), (3, 3, l.width));
        // 20 classes with long names: smaller cells, names on their side.
        let big = vec![vec![1u64; 20]; 20];
        let long: Vec<String> = (0..20).map(|i| format!("class number {i}")).collect();
        let l = matrix_layout("big", &long, &big);
        assert!(l.cell < 72 && l.vertical_names);
        assert_eq!(
            confusion_matrix("big", &long, &big).unwrap().height(),
            l.height
        );
    }

    #[test]
    fn save_png_round_trip_and_error() {
        let dir = tempfile::tempdir().unwrap();
        let img = confusion_matrix("t", &names(&["a", "b"]), &[vec![1, 2], vec![3, 4]]).unwrap();
        let path = dir.path().join("sub/cm.png");
        save_png(&img, &path).unwrap();
        assert_eq!(image::open(&path).unwrap().to_rgb8(), img);
        // A folder where the file should go.
        let err = save_png(&img, dir.path()).unwrap_err();
        assert!(matches!(err, Error::Image { .. }), "{err}");
    }

    #[test]
    fn a_caption_goes_under_the_figure_and_leaves_it_as_it_was() {
        let fig = line_plot(
            "T",
            "X",
            "Y",
            &[("A", 0x1f77b4, vec![(0.0, 0.0), (1.0, 1.0)])],
            false,
        )
        .unwrap();
        let with = with_caption(
            &fig,
            "model m (0123abcd) · data d.csv (9 faces) · 2026-12-02",
        )
        .unwrap();
        assert_eq!(with.width(), fig.width());
        assert_eq!(with.height(), fig.height() + CAPTION_BAND);
        for (x, y, p) in fig.enumerate_pixels() {
            assert_eq!(with.get_pixel(x, y), p);
        }
        let band = count(
            &with,
            0..fig.width() as i32,
            fig.height() as i32..with.height() as i32,
            |c| c != 0xFFFFFF,
        );
        assert!(band > 200, "caption pixels {band}");
        let both = stack(&fig, &with);
        assert_eq!(both.height(), fig.height() * 2 + CAPTION_BAND);
        assert_eq!(both.get_pixel(5, fig.height() + 5), with.get_pixel(5, 5));
    }
}
