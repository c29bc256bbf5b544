//! Embeds the demo clip (the frames of tests/fixtures/single_face) in the binary, so that
//! `facs demo` works wherever the binary is installed (the bundled weights are embedded
//! directly in src/weights.rs), and records the git commit a clone was built from
//! (`FACS_GIT_COMMIT`, for sidecars; absent outside a clone).

use std::fmt::Write as _;
use std::path::PathBuf;

/// The commit HEAD points at, when `root` is a git clone and git is installed.
fn git_commit(root: &std::path::Path) -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    // Built again when HEAD moves (a commit, a checkout).
    for path in ["HEAD", "logs/HEAD"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={}", root.join(p).display());
        }
    }
    Some(commit)
}

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    if let Some(commit) = git_commit(&root) {
        println!("cargo:rustc-env=FACS_GIT_COMMIT={commit}");
    }
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
        let _ = writeln!(
            code,
            "    ({n:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("demo_clip.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("writing {}: {e}", out.display());
    }
}
