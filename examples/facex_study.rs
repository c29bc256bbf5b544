//! The facex crop study and the head comparison, on the bundled clips' frames labelled by
//! eye (tests/fixtures/au_labels.csv: crying -> sadness, laughing and smiling -> happiness,
//! neutral) and the four posed photos (tests/fixtures/posed). Faces come from facs's own
//! detector (SeetaFace, full-size frames). Results are quoted in the model cards and
//! BENCHMARKS.md.
//!
//! Run: cargo run --release --example facex_study -- [MEDIA_DIR]
//! MEDIA_DIR defaults to ../shared/assets/media (frames/wolfgang, frames/single_face).

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use facs::align::{crop_rgb, luma, rgb_to_grey, square_crop};
use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::{FaceBox, Frame, EMOTIONS, HAPPINESS};
use facs::model::emotion::{average, EmotionHead, EmotionModel};
use facs::model::facex;

#[path = "common/labelled.rs"]
mod common;

#[derive(Clone, Copy, Debug)]
enum Grey {
    /// ITU-R 601 luma (what facs uses, and OpenCV's COLOR_BGR2GRAY).
    Luma,
    /// Mean of R, G, B.
    Mean,
    /// The green channel alone.
    Green,
}

#[derive(Clone, Copy, Debug)]
enum Filter {
    /// facs's crop_rgb: area average when shrinking, bilinear when enlarging.
    Area,
    /// Bilinear from the four nearest source pixels (OpenCV INTER_LINEAR, which facex uses).
    Bilinear,
    /// Nearest source pixel.
    Nearest,
}

/// A crop of region (x, y, w, h) resized to `size` x `size` grey.
fn crop_grey(frame: &Frame, r: (f32, f32, f32, f32), size: u32, grey: Grey, f: Filter) -> Vec<u8> {
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    let px = |x: usize, y: usize| {
        let i = (y * fw + x) * 3;
        let (r, g, b) = (frame.rgb[i], frame.rgb[i + 1], frame.rgb[i + 2]);
        match grey {
            Grey::Luma => luma(r, g, b) as f32,
            Grey::Mean => (r as f32 + g as f32 + b as f32) / 3.0,
            Grey::Green => g as f32,
        }
    };
    let (sx, sy) = (r.2 / size as f32, r.3 / size as f32);
    let mut out = Vec::with_capacity((size * size) as usize);
    for oy in 0..size {
        for ox in 0..size {
            let cx = r.0 + (ox as f32 + 0.5) * sx - 0.5;
            let cy = r.1 + (oy as f32 + 0.5) * sy - 0.5;
            let cl = |v: f32, n: usize| v.clamp(0.0, (n - 1) as f32);
            let v = match f {
                Filter::Nearest => px(cl(cx.round(), fw) as usize, cl(cy.round(), fh) as usize),
                Filter::Bilinear | Filter::Area => {
                    if matches!(f, Filter::Area) && sx > 1.0 {
                        // box average over the source pixels this output pixel covers
                        let x0 = cl((r.0 + ox as f32 * sx).floor(), fw) as usize;
                        let x1 = (cl((r.0 + (ox + 1) as f32 * sx).ceil(), fw) as usize).max(x0 + 1);
                        let y0 = cl((r.1 + oy as f32 * sy).floor(), fh) as usize;
                        let y1 = (cl((r.1 + (oy + 1) as f32 * sy).ceil(), fh) as usize).max(y0 + 1);
                        let mut acc = 0.0;
                        for y in y0..y1.min(fh) {
                            for x in x0..x1.min(fw) {
                                acc += px(x, y);
                            }
                        }
                        acc / ((y1.min(fh) - y0) * (x1.min(fw) - x0)) as f32
                    } else {
                        let (x, y) = (cl(cx, fw), cl(cy, fh));
                        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
                        let (x1, y1) = ((x0 + 1).min(fw - 1), (y0 + 1).min(fh - 1));
                        let (ax, ay) = (x - x0 as f32, y - y0 as f32);
                        let top = px(x0, y0) * (1.0 - ax) + px(x1, y0) * ax;
                        let bot = px(x0, y1) * (1.0 - ax) + px(x1, y1) * ax;
                        top * (1.0 - ay) + bot * ay
                    }
                }
            };
            out.push(v.round().clamp(0.0, 255.0) as u8);
        }
    }
    out
}

/// The detector box widened by `margin` of its side on each side, clamped to the frame.
fn box_region(b: &FaceBox, margin: f32, frame: &Frame) -> (f32, f32, f32, f32) {
    let (x0, y0) = ((b.x - margin * b.w).max(0.0), (b.y - margin * b.h).max(0.0));
    let x1 = (b.x + b.w * (1.0 + margin)).min(frame.width as f32);
    let y1 = (b.y + b.h * (1.0 + margin)).min(frame.height as f32);
    (x0, y0, x1 - x0, y1 - y0)
}

struct Tally {
    happy_ok: usize,
    top_ok: usize,
    n: usize,
    posed: Vec<String>,
    ms: Vec<f32>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            happy_ok: 0,
            top_ok: 0,
            n: 0,
            posed: Vec::new(),
            ms: Vec::new(),
        }
    }

    fn add(&mut self, p: &[f32; 7], label: &str, posed: Option<&Path>) {
        let li = EMOTIONS.iter().position(|e| *e == label).expect("label");
        let top = (0..7).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
        if let Some(path) = posed {
            let name = path.file_name().map(|f| f.to_string_lossy().to_string());
            self.posed.push(format!(
                "{}: {} {:.2}{}",
                name.unwrap_or_default(),
                EMOTIONS[top],
                p[top],
                if top == li { " (right)" } else { "" }
            ));
            return;
        }
        self.n += 1;
        self.happy_ok += usize::from((p[HAPPINESS] >= 0.5) == (label == "happiness"));
        self.top_ok += usize::from(top == li);
    }

    fn row(&mut self, what: &str) {
        self.ms.sort_by(f32::total_cmp);
        let med = self
            .ms
            .get(self.ms.len() / 2)
            .map_or("see benches".into(), |m| format!("{m:.1}"));
        println!(
            "| {what} | {}/{} ({:.1}%) | {}/{} ({:.1}%) | {} | {med} |",
            self.happy_ok,
            self.n,
            100.0 * self.happy_ok as f32 / self.n as f32,
            self.top_ok,
            self.n,
            100.0 * self.top_ok as f32 / self.n as f32,
            self.posed.join("; "),
        );
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let media = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/assets/media"));
    let models = root.join("models");
    let mut det = Detector::new(&models, &DetectConfig::default()).expect("detector");
    let mut faces = Vec::new();
    let mut missed = Vec::new();
    let items = common::labelled(&root, &media);
    for item in &items {
        let (w, h, rgb) = facs::source::load_rgb(&item.path).expect("image");
        let frame = Frame::new(0, 0.0, w, h, rgb).expect("frame");
        match det.detect(&frame).first() {
            Some(b) => faces.push((frame, *b, item.label, item.posed.then(|| item.path.clone()))),
            None => missed.push(item.path.display().to_string()),
        }
    }
    println!(
        "{} images ({} labelled frames + 4 posed photos); no face found on {}: {:?}\n",
        items.len(),
        items.len() - 4,
        missed.len(),
        missed
    );
    let dev = Device::Cpu;
    let fx = EmotionHead::load(&models, EmotionModel::FaceX, &dev).expect("facex");
    let size = facex::INPUT;
    println!("facex crop study (frames labelled by eye; p(happiness) >= 0.5 is 'happy')\n");
    println!("| crop | happy/not-happy | 7-class | posed photos: top emotion | ms/face |");
    println!("|---|---|---|---|---|");
    let facs_default = |frame: &Frame, b: &FaceBox, m: f32| {
        rgb_to_grey(&crop_rgb(
            frame,
            square_crop(b, m, frame.width, frame.height),
            size,
        ))
    };
    let mut variants: Vec<(String, Box<dyn Fn(&Frame, &FaceBox) -> Vec<u8>>)> = Vec::new();
    for m in [0.0f32, 0.05, 0.1, 0.2] {
        variants.push((
            format!("square, margin {m:.2}, luma, area (facs's crop)"),
            Box::new(move |f, b| facs_default(f, b, m)),
        ));
    }
    for m in [-0.05f32, 0.0, 0.1] {
        variants.push((
            format!("detector box as is (not squared), margin {m:.2}, luma, bilinear"),
            Box::new(move |f, b| {
                crop_grey(f, box_region(b, m, f), size, Grey::Luma, Filter::Bilinear)
            }),
        ));
    }
    for (g, fl) in [
        (Grey::Luma, Filter::Bilinear),
        (Grey::Luma, Filter::Nearest),
        (Grey::Mean, Filter::Area),
        (Grey::Green, Filter::Area),
    ] {
        variants.push((
            format!("square, margin 0.00, {g:?}, {fl:?}").to_lowercase(),
            Box::new(move |f, b| {
                let c = square_crop(b, 0.0, f.width, f.height);
                let r = (c.x as f32, c.y as f32, c.side as f32, c.side as f32);
                crop_grey(f, r, size, g, fl)
            }),
        ));
    }
    for (what, crop) in &variants {
        let mut t = Tally::new();
        for (frame, b, label, posed) in &faces {
            let g = crop(frame, b);
            let t0 = Instant::now();
            let p = fx.predict_grey(&g, 1).expect("facex")[0];
            t.ms.push(t0.elapsed().as_secs_f32() * 1e3);
            t.add(&p, label, posed.as_deref());
        }
        t.row(what);
    }

    println!("\nEvery head at its default crop\n");
    println!("| head | happy/not-happy | 7-class | posed photos: top emotion | ms/face |");
    println!("|---|---|---|---|---|");
    let heads: Vec<(EmotionModel, EmotionHead)> = [
        EmotionModel::FaceApi,
        EmotionModel::Fer,
        EmotionModel::FaceX,
    ]
    .into_iter()
    .map(|k| (k, EmotionHead::load(&models, k, &dev).expect("weights")))
    .collect();
    let mut per_head: Vec<Vec<[f32; 7]>> = Vec::new();
    for (kind, head) in &heads {
        let mut t = Tally::new();
        let mut probs = Vec::new();
        for (frame, b, label, posed) in &faces {
            let c = square_crop(b, kind.crop_margin(), frame.width, frame.height);
            let pixels = crop_rgb(frame, c, kind.input_size());
            let t0 = Instant::now();
            let p = head.predict(&pixels, 1).expect("forward")[0];
            t.ms.push(t0.elapsed().as_secs_f32() * 1e3);
            t.add(&p, label, posed.as_deref());
            probs.push(p);
        }
        t.row(&format!(
            "{kind:?} (margin {:.2}, {}x{})",
            kind.crop_margin(),
            kind.input_size(),
            kind.input_size()
        ));
        per_head.push(probs);
    }
    // The ensemble: face-api and facex averaged (its time is the two heads' sum on one
    // thread; in facs they run on two threads).
    let mut t = Tally::new();
    let avg = average(&[per_head[0].clone(), per_head[2].clone()]).expect("same faces");
    for ((_, _, label, posed), p) in faces.iter().zip(&avg) {
        t.add(p, label, posed.as_deref());
    }
    t.row("Ensemble (face-api + facex, mean of probabilities)");
}
