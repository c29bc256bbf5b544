//! Renders the training charts (loss curves, LR range test, PR panels, confusion matrix) from
//! made-up numbers, to look at them by eye:
//! cargo run --release --example charts -- OUT_DIR
use std::path::PathBuf;

use facs::frame::{EMOTIONS, NUM_AUS};
use facs::train::metrics::{au_pr_curves, EvalSample, NUM_EMOTIONS};
use facs::train::plot::{confusion_matrix, line_plot, pr_curves, save_png, PALETTE};

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "charts".into()));
    let curve = |a: f32, b: f32, c: f32| -> Vec<(f32, f32)> {
        (1..=20)
            .map(|e| (e as f32, a / e as f32 + b + c * e as f32))
            .collect()
    };
    let training = [
        ("TRAIN LOSS", PALETTE[0], curve(1.0, 0.1, 0.0)),
        ("VAL MACRO-F1", PALETTE[1], curve(-0.5, 0.7, 0.0)),
    ];
    let img = line_plot("TRAINING", "EPOCH", "VALUE", &training, false)?;
    save_png(&img, &out.join("training.png"))?;
    // A learning-rate range test: flat, then the loss explodes.
    let lr = (0..=60).map(|i| {
        let t = i as f32 / 10.0;
        (
            10f32.powf(t - 6.0),
            0.7 - 0.05 * t + (t / 1.4).powi(4) * 0.01,
        )
    });
    let series = [("LOSS", PALETTE[0], lr.collect())];
    let img = line_plot(
        "LR RANGE TEST",
        "LEARNING RATE",
        "SMOOTHED LOSS",
        &series,
        true,
    )?;
    save_png(&img, &out.join("lr_find.png"))?;
    // AU i is positive in every (i + 2)-th sample; its score is informative but noisy.
    let samples: Vec<EvalSample> = (0..200u32)
        .map(|k| {
            let positive = |i: usize| k % (i as u32 + 2) == 0;
            let noise = |i: usize| ((k * 37 + i as u32 * 11) % 100) as f32 / 100.0;
            let score = |i| {
                if positive(i) {
                    0.4 + 0.6 * noise(i)
                } else {
                    0.7 * noise(i)
                }
            };
            EvalSample {
                au_labels: std::array::from_fn::<_, NUM_AUS, _>(|i| Some(positive(i))),
                au_probs: std::array::from_fn(score),
                emotion_label: None,
                emotion_probs: [0.0; NUM_EMOTIONS],
            }
        })
        .collect();
    save_png(
        &pr_curves("PR CURVES", &au_pr_curves(&samples))?,
        &out.join("pr_curves.png"),
    )?;
    let counts = vec![
        vec![30, 5, 3, 0, 6, 1, 10],
        vec![4, 12, 2, 1, 3, 0, 5],
        vec![2, 1, 8, 0, 2, 9, 3],
        vec![0, 1, 0, 240, 1, 6, 12],
        vec![5, 2, 3, 2, 25, 1, 20],
        vec![0, 0, 6, 4, 0, 70, 5],
        vec![8, 3, 2, 15, 18, 4, 300],
    ];
    let labels: Vec<String> = EMOTIONS.iter().map(|s| s.to_string()).collect();
    let img = confusion_matrix("EMOTIONS", &labels, &counts)?;
    save_png(&img, &out.join("emotion_confusion.png"))?;
    println!("charts in {}", out.display());
    Ok(())
}
