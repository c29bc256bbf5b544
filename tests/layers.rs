//! The source tree's one rule (ARCHITECTURE.md): the top-level modules form a stack, and a
//! module imports only from modules below it in [`ORDER`]. This reads every `crate::x` path
//! in src/ (and `facs::x` in main.rs), comments left out, and fails on any that points up or
//! sideways into a later module, naming the file and line. A new top-level module must be
//! given its place in [`ORDER`] (the test says so).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Bottom to top. Core: error, small utilities, settings, shared types and drawing. Input
/// and geometry: frames in, faces found, followed and cropped. Then the networks,
/// calibration, classification, the stage threads, the sinks, whole runs, training (on top
/// of inference: it may import it, never the reverse) and the command line.
const ORDER: &[&str] = &[
    // core
    "error",
    "util",
    "config",
    "telemetry",
    "font",
    "canvas",
    "frame",
    "weights",
    // input and geometry
    "align",
    "source",
    "geometry",
    "face_frame",
    "furrow",
    "brows",
    "detect",
    "track",
    "still",
    // networks, calibration, scores
    "model",
    "calibrate",
    "classify",
    // stage threads
    "pipeline",
    // sinks
    "log",
    "overlay",
    "heatmap",
    "window",
    // whole runs
    "session",
    "batch",
    "bench",
    "neutral",
    // training and evaluation
    "train",
    // the binary: its flags, its signal handlers, its progress bars, then main
    "cli",
    "signals",
    "bars",
    "main",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`src/train/synth/face.rs` -> `train`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every top-level module named after `prefix` (`crate::` or `facs::`) on a code line,
/// with braces (`crate::{a, b::c}`) expanded.
fn imports(line: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(prefix) {
        // Skip `facs::` inside a longer identifier (e.g. `my_facs::`).
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(inner) = rest.strip_prefix('{') {
            let end = inner.find('}').unwrap_or(inner.len());
            for part in inner[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

/// A line without its `//` comment (doc links are not imports). Good enough for this
/// source tree: no `//` inside the string literals that also name a module path.
fn code_part(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rank: HashMap<&str, usize> = ORDER.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut unplaced = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" {
            continue;
        }
        let Some(&own) = rank.get(module.as_str()) else {
            unplaced.push(module);
            continue;
        };
        let prefix = if module == "main" {
            "facs::"
        } else {
            "crate::"
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for target in imports(code_part(line), prefix) {
                if target == module || target == "Error" || target == "Result" {
                    continue;
                }
                match rank.get(target.as_str()) {
                    Some(&r) if r < own => {}
                    Some(_) => violations.push(format!(
                        "{}:{}: {module} imports {target}, which is not below it",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1
                    )),
                    None => unplaced.push(target),
                }
            }
        }
    }
    unplaced.sort();
    unplaced.dedup();
    assert!(
        unplaced.is_empty(),
        "modules without a place in ORDER (tests/layers.rs and ARCHITECTURE.md): {unplaced:?}"
    );
    assert!(
        violations.is_empty(),
        "imports that point up the layers:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_sees_plain_braced_and_nested_paths() {
    assert_eq!(imports("use crate::frame::Frame;", "crate::"), ["frame"]);
    assert_eq!(
        imports("use crate::{align::crop, model};", "crate::"),
        ["align", "model"]
    );
    assert_eq!(
        imports("let x = crate::geometry::f(crate::frame::N);", "crate::"),
        ["geometry", "frame"]
    );
    assert_eq!(imports("use my_facs::x;", "facs::"), Vec::<String>::new());
    assert_eq!(code_part("let a = 1; // crate::train"), "let a = 1; ");
}
