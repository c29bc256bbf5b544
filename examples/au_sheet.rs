//! Renders one synthetic identity with each AU alone (and none), side by side:
//! cargo run --release --example au_sheet -- OUT.png [SEED] [SIZE]
use facs::frame::NUM_AUS;
use facs::train::synth::render;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "au_sheet.png".into());
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let size: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(192);
    let mut sheet = image::RgbImage::new(size * 6, size * 2);
    for k in 0..=NUM_AUS {
        let mut aus = [false; NUM_AUS];
        if k > 0 {
            aus[k - 1] = true;
        }
        let img = render(seed, &aus, size);
        let (x, y) = ((k as u32 % 6) * size, (k as u32 / 6) * size);
        image::imageops::replace(&mut sheet, &img, x as i64, y as i64);
    }
    sheet.save(&out).expect("write sheet");
}
