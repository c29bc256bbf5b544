//! The real faces labelled by eye that the expression studies measure on: the bundled clips'
//! frames listed in tests/fixtures/au_labels.csv (crying -> sadness, laughing and smiling ->
//! happiness, neutral) and the four posed photos in tests/fixtures/posed.

// Each example uses the fields it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One labelled image.
pub struct Labelled {
    pub path: PathBuf,
    /// The clip's folder name under `frames/`, or "posed".
    pub clip: String,
    /// The expression, as a facs emotion name.
    pub label: &'static str,
    pub posed: bool,
}

/// Every labelled image: frames under `media/frames/<clip>/`, photos under the fixtures.
pub fn labelled(root: &Path, media: &Path) -> Vec<Labelled> {
    let csv = std::fs::read_to_string(root.join("tests/fixtures/au_labels.csv"))
        .expect("tests/fixtures/au_labels.csv");
    let mut v = Vec::new();
    for line in csv.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let label = match cols[2] {
            "crying" => "sadness",
            "laughing" | "smiling" => "happiness",
            "neutral" => "neutral",
            other => panic!("unknown state {other}"),
        };
        let frame: u32 = cols[1].parse().expect("frame number");
        v.push(Labelled {
            path: media.join(format!("frames/{}/{frame:06}.jpg", cols[0])),
            clip: cols[0].to_string(),
            label,
            posed: false,
        });
    }
    for (f, label) in [
        ("0-f1-su-ph.jpg", "surprise"),
        ("0-f15-hao-ph.jpg", "happiness"),
        ("15-f13-anc-ph.jpg", "anger"),
        ("45-m7-di-ph.jpg", "disgust"),
    ] {
        v.push(Labelled {
            path: root.join("tests/fixtures/posed").join(f),
            clip: "posed".into(),
            label,
            posed: true,
        });
    }
    v
}
