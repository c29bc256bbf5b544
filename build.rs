//! Embeds the demo clip (the frames of tests/fixtures/single_face) in the binary, so that
//! `facs demo` works wherever the binary is installed. The bundled weights are embedded
//! directly in src/weights.rs.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let clip = root.join("tests/fixtures/single_face");
    println!("cargo:rerun-if-changed={}", clip.display());
    let mut names: Vec<String> = std::fs::read_dir(&clip)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".jpg"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut code = String::from(
        "/// The demo clip's frames, (file name, JPEG bytes), in order.\n\
         pub static DEMO_FRAMES: &[(&str, &[u8])] = &[\n",
    );
    for n in &names {
        let path = clip.join(n);
        let _ = writeln!(code, "    ({n:?}, include_bytes!({:?})),", path.display().to_string());
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("demo_clip.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("writing {}: {e}", out.display());
    }
}
