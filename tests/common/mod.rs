//! Helpers shared by the integration tests that run the `facs` binary.
// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The source tree (tests run facs from here, so relative fixture paths work).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `facs args` in the source tree; fails the test if facs panicked.
pub fn facs(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_facs"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("facs runs");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
