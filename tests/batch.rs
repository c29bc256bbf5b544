//! `facs batch`: a folder of recordings, one log each, reruns that skip finished work, and a
//! failed recording named in a non-zero exit.

use std::path::Path;
use std::process::Output;

mod common;
use common::{facs, root};

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn status_of(log: &Path) -> String {
    let side = log.with_extension("meta.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(side).unwrap()).unwrap();
    v["status"].as_str().unwrap().to_string()
}

/// p01.mp4 (one face), p02.mp4 (no face), p03.mp4 (not a video), p04/ (frames).
fn study(dir: &Path) {
    let fx = root().join("tests/fixtures");
    std::fs::create_dir_all(dir.join("p04")).unwrap();
    std::fs::copy(fx.join("single_face_30f.mp4"), dir.join("p01.mp4")).unwrap();
    std::fs::copy(fx.join("no_face_30f.mp4"), dir.join("p02.mp4")).unwrap();
    std::fs::write(dir.join("p03.mp4"), b"this is not a video").unwrap();
    for f in ["000000.jpg", "000001.jpg", "000002.jpg"] {
        std::fs::copy(fx.join("single_face").join(f), dir.join("p04").join(f)).unwrap();
    }
    std::fs::write(dir.join("notes.txt"), b"session notes").unwrap();
}

#[test]
fn a_study_folder_is_logged_once_per_recording_and_a_rerun_finishes_only_what_is_left() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, out) = (tmp.path().join("study"), tmp.path().join("logs"));
    study(&input);
    let s = |p: &Path| p.to_str().unwrap().to_string();

    let listed = facs(&["batch", "--input", &s(&input), "--list"]);
    assert!(listed.status.success(), "{}", text(&listed));
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout)
            .lines()
            .collect::<Vec<_>>(),
        ["p01", "p02", "p03", "p04"]
    );

    let first = facs(&["batch", "--input", &s(&input), "--out", &s(&out)]);
    // p03 fails: a non-zero exit that names it, while the others are logged.
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("1 of 4 recordings failed: p03"),
        "{}",
        text(&first)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("| recording | status |"),
        "{}",
        text(&first)
    );
    for name in ["p01", "p02", "p04"] {
        assert_eq!(
            status_of(&out.join(format!("{name}.csv"))),
            "complete",
            "{name}"
        );
    }
    // Frames of p01 (30) and p04 (3) one row each; p02 has no face, one row a frame.
    let rows = |name: &str| {
        std::fs::read_to_string(out.join(format!("{name}.csv")))
            .unwrap()
            .lines()
            .count()
            - 1
    };
    assert_eq!((rows("p01"), rows("p02"), rows("p04")), (30, 30, 3));

    // A rerun leaves finished logs alone and tries p03 again.
    let before = std::fs::metadata(out.join("p01.csv"))
        .unwrap()
        .modified()
        .unwrap();
    let second = facs(&["batch", "--input", &s(&input), "--out", &s(&out)]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(
        stdout.matches("already complete").count(),
        6,
        "{}",
        text(&second)
    );
    assert!(stdout.contains("p03: FAILED"), "{}", text(&second));
    let after = std::fs::metadata(out.join("p01.csv"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "a complete recording was run again");

    // With the bad file gone the batch completes.
    std::fs::remove_file(input.join("p03.mp4")).unwrap();
    let third = facs(&["batch", "--input", &s(&input), "--out", &s(&out)]);
    assert!(third.status.success(), "{}", text(&third));
}

#[test]
fn one_array_task_runs_one_recording() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, out) = (tmp.path().join("study"), tmp.path().join("logs"));
    study(&input);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let task = facs(&[
        "batch",
        "--input",
        &s(&input),
        "--out",
        &s(&out),
        "--task",
        "4",
        "--with-jsonl",
    ]);
    assert!(task.status.success(), "{}", text(&task));
    let mut made: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    made.sort();
    assert_eq!(made, ["p04.csv", "p04.jsonl", "p04.meta.json"]);
    let bad = facs(&[
        "batch",
        "--input",
        &s(&input),
        "--out",
        &s(&out),
        "--task",
        "5",
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("holds 4 recordings"),
        "{}",
        text(&bad)
    );
    // Batch names its logs itself.
    let log = facs(&[
        "batch",
        "--input",
        &s(&input),
        "--out",
        &s(&out),
        "--log",
        "x.csv",
    ]);
    assert!(!log.status.success());
    assert!(String::from_utf8_lossy(&log.stderr).contains("names its logs itself"));
}
