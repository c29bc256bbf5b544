//! The default detection (the whole frame at full size every 10th frame; in between the
//! frame at a third of its size for faces of 120 px and up, and a search around each known face)
//! finds the faces that searching every frame at full size (`--full-every 1`) finds: the
//! same number of faces on every frame of each bundled input, and of a clip in which a
//! second face appears between two whole-frame searches. Offline runs stay reproducible.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{facs, root};

/// Faces per frame (1-based frame number -> count) of a `facs run` log.
fn counts(csv: &Path) -> BTreeMap<u64, usize> {
    let text = std::fs::read_to_string(csv).expect("log");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (frame_c, id_c) = (col("frame"), col("face_id"));
    let mut per_frame = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let n = per_frame
            .entry(f[frame_c].parse().expect("frame"))
            .or_insert(0);
        if !f[id_c].is_empty() {
            *n += 1;
        }
    }
    per_frame
}

/// Runs `facs run` on `input` with `extra` options; returns the log's path.
fn run(input: &Path, log: &Path, extra: &[&str]) -> std::path::PathBuf {
    let mut args = vec![
        "run",
        "--input",
        input.to_str().expect("path"),
        "--log",
        log.to_str().expect("path"),
        "-y",
    ];
    args.extend_from_slice(extra);
    let out = facs(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    log.to_path_buf()
}

/// Per-frame counts of the default and of `--full-every 1` on `input`; fails on the first
/// frame where they differ. Returns the counts.
fn same_counts(input: &Path, dir: &Path, name: &str) -> BTreeMap<u64, usize> {
    let default = counts(&run(input, &dir.join(format!("{name}.csv")), &[]));
    let full = counts(&run(
        input,
        &dir.join(format!("{name}_full.csv")),
        &["--full-every", "1"],
    ));
    assert_eq!(default.len(), full.len(), "{name}: frames differ");
    for (frame, n) in &full {
        assert_eq!(
            default.get(frame),
            Some(n),
            "{name}: frame {frame}: the default finds {:?} faces, the full search {n}",
            default.get(frame)
        );
    }
    default
}

#[test]
fn the_default_finds_the_faces_of_the_full_search_on_every_bundled_input() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = root().join("tests/fixtures");
    // Measured 2026-12-02: single_face 1 face on each of 30 frames, no_face none on 30,
    // the wolfgang frames 1 on each of 29, the group photo 5; equal in every frame.
    let single = same_counts(&fixtures.join("single_face_30f.mp4"), tmp.path(), "single");
    assert_eq!(single.len(), 30);
    assert!(single.values().all(|&n| n == 1), "{single:?}");
    let none = same_counts(&fixtures.join("no_face_30f.mp4"), tmp.path(), "none");
    assert_eq!(none.len(), 30);
    assert!(none.values().all(|&n| n == 0), "{none:?}");
    let wolfgang = same_counts(&fixtures.join("wolfgang"), tmp.path(), "wolfgang");
    assert_eq!(wolfgang.len(), 29);
    assert!(wolfgang.values().all(|&n| n == 1), "{wolfgang:?}");
    let group = same_counts(&fixtures.join("multi_face.jpg"), tmp.path(), "group");
    assert_eq!(group.values().copied().collect::<Vec<_>>(), [5]);
}

/// Frames of the second face's clip before it appears (0-based index of its first frame).
const ENTERS_AT: usize = 13;

/// A 1280x360 clip, 30 frames: the single_face clip on the left; on the right, black until
/// frame `ENTERS_AT` (0-based), then the same clip from its start. MJPEG, so that any
/// ffmpeg build can write it.
fn second_face_enters(dir: &Path) -> std::path::PathBuf {
    let clip = root().join("tests/fixtures/single_face_30f.mp4");
    let out = dir.join("second_face_enters.mkv");
    let filter = format!(
        "[1:v]tpad=start={ENTERS_AT}:color=black,trim=end_frame=30[r];[0:v][r]hstack=inputs=2"
    );
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&clip)
        .arg("-i")
        .arg(&clip)
        .args(["-filter_complex", &filter, "-frames:v", "30", "-an"])
        .args(["-c:v", "mjpeg", "-q:v", "3"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg could not build the clip");
    out
}

#[test]
fn a_face_that_appears_between_full_searches_is_found_on_its_first_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let clip = second_face_enters(tmp.path());
    let per_frame = same_counts(&clip, tmp.path(), "enters");
    // Measured 2026-12-02: 1 face on frames 1-13, 2 from frame 14 (the 0-based frame 13, a
    // frame between the whole-frame searches of frames 11 and 21), with both settings.
    let expected: Vec<usize> = (0..30).map(|i| 1 + usize::from(i >= ENTERS_AT)).collect();
    assert_eq!(
        per_frame.values().copied().collect::<Vec<_>>(),
        expected,
        "faces per frame"
    );
    // Offline runs are reproducible: a second run gives the same log, byte for byte.
    let again = run(&clip, &tmp.path().join("again.csv"), &[]);
    assert_eq!(
        std::fs::read(tmp.path().join("enters.csv")).unwrap(),
        std::fs::read(again).unwrap(),
        "two runs differ"
    );
}
