//! `facs synth` and `facs subset` through the command line.

use std::path::Path;
use std::process::{Command, Output};

fn facs(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_facs"))
        .args(args)
        .output()
        .expect("facs runs");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}

#[test]
fn synth_then_balanced_subset_is_seeded_and_balanced() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let text = ok(&facs(&[
        "synth",
        "--out",
        &format!("{d}/s"),
        "--count",
        "300",
        "--seed",
        "5",
        "--size",
        "64",
    ]));
    assert!(text.contains("300 synthetic faces"), "{text}");
    assert_eq!(rows(&dir.path().join("s/labels.csv")).len(), 300);

    let subset = |out: &str| {
        ok(&facs(&[
            "subset",
            "--csv",
            &format!("{d}/s/labels.csv"),
            "--images",
            &format!("{d}/s/images"),
            "--classes",
            "AU12,neither",
            "--per-class",
            "40",
            "--seed",
            "9",
            "--out",
            &format!("{d}/{out}"),
        ]))
    };
    let text = subset("a");
    subset("b");
    for part in ["train", "val", "test"] {
        let a = rows(&dir.path().join(format!("a/{part}.csv")));
        assert_eq!(
            a,
            rows(&dir.path().join(format!("b/{part}.csv"))),
            "{part} differs between seeded runs"
        );
    }
    let all: Vec<String> = ["train", "val", "test"]
        .iter()
        .flat_map(|p| rows(&dir.path().join(format!("a/{p}.csv"))))
        .collect();
    // 40 AU12 faces and 40 with neither listed AU: AU12 is column 7 of the AU01-style header.
    let au12 = all
        .iter()
        .filter(|r| r.split(',').nth(7) == Some("1"))
        .count();
    assert_eq!((all.len(), au12), (80, 40), "{text}");
}

#[test]
fn bad_csv_rows_are_named_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("img");
    std::fs::create_dir_all(&images).unwrap();
    image::RgbImage::new(8, 8)
        .save(images.join("a.png"))
        .unwrap();
    let csv = dir.path().join("labels.csv");
    std::fs::write(
        &csv,
        "image,AU1,AU2,AU4,AU5,AU6,AU9,AU12,AU17,AU20,AU25,AU26\n\
         a.png,0,0,0,0,1,0,1,0,0,999,\n\
         a.png,0,0,0\n\
         a.png,0,0,0,0,7,0,1,0,0,0,0\n\
         missing.png,0,0,0,0,1,0,1,0,0,0,0\n",
    )
    .unwrap();
    let out = facs(&[
        "subset",
        "--csv",
        csv.to_str().unwrap(),
        "--images",
        images.to_str().unwrap(),
        "--happy",
        "--per-class",
        "1",
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("line 3"), "{text}");
    assert!(text.contains("line 4"), "{text}");
    assert!(text.contains("missing.png"), "{text}");
    // A missing AU column stops the run with its name.
    std::fs::write(&csv, "image,AU1,AU2\na.png,0,1\n").unwrap();
    let out = facs(&[
        "subset",
        "--csv",
        csv.to_str().unwrap(),
        "--images",
        images.to_str().unwrap(),
        "--happy",
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AU4") && err.contains("labels.csv"), "{err}");
}
