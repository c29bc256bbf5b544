//! Draws the 68 landmarks facs finds on an image, for checking them by eye.
//! Run: cargo run --release --example draw_landmarks -- IN.jpg OUT.png

use std::path::PathBuf;

use facs::config::DetectConfig;
use facs::detect::Detector;
use facs::frame::Frame;
use facs::model::landmarks::LandmarkNet;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]));
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let (w, h, rgb) = facs::source::load_rgb(&input).expect("image");
    let frame = Frame::new(0, 0.0, w, h, rgb).expect("frame");
    let boxes = Detector::new(&models, &DetectConfig::default())
        .expect("detector")
        .detect(&frame);
    let net = LandmarkNet::load(&models, &candle_core::Device::Cpu).expect("weights");
    let mut crops = Vec::new();
    let marks = net.detect(&frame, &boxes, &mut crops).expect("landmarks");
    let mut img = image::RgbImage::from_raw(w, h, frame.rgb.to_vec()).expect("image");
    for pts in marks.iter().flatten() {
        for (i, &(x, y)) in pts.iter().enumerate() {
            let colour = if i < 17 {
                [255, 255, 0]
            } else if i < 27 {
                [255, 0, 255]
            } else if i < 36 {
                [0, 255, 255]
            } else if i < 48 {
                [0, 255, 0]
            } else {
                [255, 0, 0]
            };
            for dy in -1i32..=1 {
                for dx in -1i32..=1 {
                    let (px, py) = (x as i32 + dx, y as i32 + dy);
                    if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                        img.put_pixel(px as u32, py as u32, image::Rgb(colour));
                    }
                }
            }
        }
    }
    img.save(&output).expect("save");
}
