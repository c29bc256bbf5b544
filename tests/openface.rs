//! `--format openface`: a facs log in OpenFace 2.2's columns, read the way py-feat reads
//! OpenFace output. tests/fixtures/openface/pyfeat_columns.json holds the column lists
//! py-feat 2.1.5 builds in `feat/utils/__init__.py` (what `read_openface` and its `Fex`
//! select for `.aus`, `.landmarks`, `.poses` and gaze) and the header of the OpenFace output
//! py-feat tests against (see tests/fixtures/README.md).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use common::{facs, root};

fn pyfeat_lists() -> HashMap<String, Vec<String>> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/openface/pyfeat_columns.json"))
        .expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

/// True if every name of `wanted` is in `have`, in the same order (others may sit between).
fn in_order(have: &[String], wanted: &[String]) -> Result<(), String> {
    let mut at = 0;
    for w in wanted {
        match have[at..].iter().position(|h| h == w) {
            Some(i) => at += i + 1,
            None if have.contains(w) => return Err(format!("{w} is out of order")),
            None => return Err(format!("{w} is missing")),
        }
    }
    Ok(())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `facs run` on the first `frames` frames of the single-face folder, in OpenFace's columns.
fn run_openface(dir: &Path, frames: &str, extra: &[&str]) -> (Output, String) {
    let log = dir.join("of.csv");
    let log = log.to_str().unwrap().to_string();
    let mut args = vec![
        "run",
        "--input",
        "tests/fixtures/single_face",
        "--max-frames",
        frames,
        "--emotion",
        "none",
        "--format",
        "openface",
        "--log",
        &log,
    ];
    args.extend_from_slice(extra);
    (facs(&args), log)
}

#[test]
fn the_columns_hold_every_list_pyfeat_selects_in_openface_order() {
    let lists = pyfeat_lists();
    let columns = facs::log::openface::columns();
    for (name, list) in &lists {
        assert!(!list.is_empty(), "{name}");
        if let Err(e) = in_order(&columns, list) {
            panic!("py-feat's {name}: {e}");
        }
    }
    // The lists read_openface hands to Fex, and the OpenFace output in py-feat's tests,
    // are OpenFace's own order: the same names in the same order as facs's first columns.
    let orig = &lists["OPENFACE_ORIG_COLUMNS"];
    assert_eq!(orig, &lists["OpenFace_Test_csv_header"]);
    let openface_part = &columns[..facs::log::openface::OPENFACE_COLUMNS];
    in_order(openface_part, orig).unwrap();
    // What OpenFace 2.2 adds to that older header: the face id, the gaze angles and the
    // 280 eye landmark columns; nothing else.
    let extra: Vec<&String> = openface_part.iter().filter(|c| !orig.contains(c)).collect();
    assert_eq!(extra.len(), 1 + 2 + 5 * 56, "{extra:?}");
    assert!(extra
        .iter()
        .all(|c| *c == "face_id" || c.starts_with("gaze_angle_") || c.starts_with("eye_lmk_")));
}

#[test]
fn a_run_writes_openface_columns_and_leaves_unestimated_cells_empty() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("of.jsonl");
    let (out, log) = run_openface(dir.path(), "4", &["--jsonl", jsonl.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reader = csv::Reader::from_path(&log).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, facs::log::openface::columns());
    let lists = pyfeat_lists();
    in_order(&header, &lists["OPENFACE_ORIG_COLUMNS"]).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    // 4 frames, one face in each (the man of single_face is found in every frame).
    assert_eq!(rows.len(), 4);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(&row[col("frame")], (i + 1).to_string());
        assert_eq!(&row[col("success")], "1");
        // Landmarks inside the 640x360 frame, pose and AU decisions filled.
        for p in 0..68 {
            let x: f64 = row[col(&format!("x_{p}"))].parse().unwrap();
            let y: f64 = row[col(&format!("y_{p}"))].parse().unwrap();
            assert!(
                (0.0..640.0).contains(&x) && (0.0..360.0).contains(&y),
                "{x},{y}"
            );
        }
        for name in ["pose_Rx", "pose_Ry", "pose_Rz", "AU12_p"] {
            row[col(name)].parse::<f64>().unwrap();
        }
        for name in ["AU01_c", "AU12_c", "AU25_c"] {
            assert!(matches!(&row[col(name)], "0" | "1"), "{name}");
        }
        // Never invented.
        for name in lists["openface_gaze_columns"]
            .iter()
            .chain(&lists["openface_3d_landmark_columns"])
            .chain(
                ["pose_Tx", "pose_Ty", "pose_Tz", "AU07_c", "AU45_c"]
                    .map(String::from)
                    .iter(),
            )
            .chain(
                lists["openface_AU_columns"]
                    .iter()
                    .filter(|c| c.ends_with("_r")),
            )
        {
            assert_eq!(&row[col(name)], "", "{name}");
        }
    }
    // The JSON lines: the same columns as keys, in the CSV's order, then au_source.
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let first = text.lines().next().unwrap();
    let mut at = 0;
    for name in header.iter().map(String::as_str).chain(["au_source"]) {
        let key = format!("\"{name}\":");
        let i = first[at..]
            .find(&key)
            .unwrap_or_else(|| panic!("{name} out of order"));
        at += i + key.len();
    }
    // The sidecar names the format.
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("of.meta.json")).unwrap())
            .unwrap();
    assert_eq!(sidecar["format"], "openface");
    assert_eq!(sidecar["columns"].as_array().unwrap().len(), header.len());
}

#[test]
fn openface_columns_need_a_csv_log() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("only.jsonl");
    let out = facs(&[
        "run",
        "--input",
        "tests/fixtures/single_face",
        "--format",
        "openface",
        "--jsonl",
        jsonl.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--format openface") && err.contains("--log FILE.csv"),
        "{err}"
    );
    assert!(!jsonl.exists(), "a refused run wrote {}", jsonl.display());
    // An unknown format is refused by the parser, naming the choices.
    let out = facs(&["run", "--input", "x", "--format", "excel", "--log", "x.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("openface"), "{}", stderr(&out));
}

/// `facs batch --format openface` writes every recording's log in OpenFace's columns, and a
/// rerun in another format redoes the logs a run in the other format completed.
#[test]
fn batch_logs_follow_the_format_and_a_new_format_redoes_them() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("study");
    std::fs::create_dir(&study).unwrap();
    std::fs::copy(
        root().join("tests/fixtures/single_face_30f.mp4"),
        study.join("p01.mp4"),
    )
    .unwrap();
    let out_dir = dir.path().join("logs");
    let batch = |format: &str| {
        let out = facs(&[
            "batch",
            "--input",
            study.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--emotion",
            "none",
            "--format",
            format,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let header = || {
        let text = std::fs::read_to_string(out_dir.join("p01.csv")).unwrap();
        text.lines().next().unwrap().to_string()
    };
    assert!(batch("facs").contains("p01: complete"));
    assert!(header().starts_with("frame,face_id,timestamp,confidence,success,x,y,w,h"));
    assert!(batch("facs").contains("p01: already complete"));
    assert!(batch("openface").contains("p01: complete"));
    assert_eq!(header(), facs::log::openface::columns().join(","));
    assert!(batch("openface").contains("p01: already complete"));
}
