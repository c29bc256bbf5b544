//! What `facs run` may write, and what it must never touch: an output that is the input (or
//! another output), an existing log without `--overwrite`, a log another run is writing, a
//! log whose run failed to start; and what its exit code, sidecar and messages say.
//!
//! Every child is waited for with a generous timeout: a hang fails the test with its output.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_facs");

/// Long enough for any of these runs on a slow, shared machine; reaching it is a hang.
const TIMEOUT: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

fn facs() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(root());
    cmd
}

/// A child whose output is read on threads (so a full pipe never blocks it).
struct Running {
    child: Child,
    readers: Vec<JoinHandle<Vec<u8>>>,
}

#[derive(Debug)]
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn describe(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// A handled failure: exit 1, one `facs: error:` line, no panic.
    fn assert_refused(&self) {
        assert_eq!(self.code, Some(1), "expected exit 1\n{}", self.describe());
        assert!(
            self.stderr.contains("facs: error:") && !self.stderr.contains("panicked"),
            "{}",
            self.describe()
        );
    }

    fn assert_stderr_has(&self, needle: &str) {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.describe()
        );
    }
}

fn spawn(cmd: &mut Command) -> Running {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
    let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
    let readers = vec![read(out), read(err)];
    Running { child, readers }
}

impl Running {
    fn wait(mut self, timeout: Duration) -> Outcome {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("still running after {timeout:?}; killed");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut texts = self
            .readers
            .into_iter()
            .map(|r| String::from_utf8_lossy(&r.join().unwrap()).into_owned());
        Outcome {
            code: status.code(),
            stdout: texts.next().unwrap(),
            stderr: texts.next().unwrap(),
        }
    }

    fn signal(&self, sig: i32) {
        extern "C" {
            fn kill(pid: i32, sig: i32) -> i32;
        }
        // SAFETY: kill(2) on a child we spawned and have not reaped.
        let rc = unsafe { kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill failed");
    }
}

fn run(cmd: &mut Command) -> Outcome {
    spawn(cmd).wait(TIMEOUT)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

fn sidecar_of(log: &Path) -> PathBuf {
    log.with_extension("meta.json")
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Data lines (header excluded) in a CSV being written; 0 if it is not there yet.
fn csv_data_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A short successful run of the one-photo fixture into `log`.
fn good_run(log: &Path) {
    let out = run(facs()
        .args(["run", "--input"])
        .arg(fixture("multi_face.jpg"))
        .arg("--log")
        .arg(log));
    assert_eq!(out.code, Some(0), "{}", out.describe());
}

// ---------------------------------------------------------------------------------------
// 1. An output that is the input, or another output
// ---------------------------------------------------------------------------------------

#[test]
fn jsonl_onto_the_input_video_is_refused_and_the_video_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let video = tmp.path().join("v.mp4");
    std::fs::copy(fixture("single_face_30f.mp4"), &video).unwrap();
    let before = bytes(&video);
    let out = run(facs()
        .args(["run", "--input"])
        .arg(&video)
        .arg("--jsonl")
        .arg(&video));
    out.assert_refused();
    out.assert_stderr_has("v.mp4");
    out.assert_stderr_has("input");
    assert_eq!(bytes(&video), before, "the footage was changed");
    assert!(!sidecar_of(&video).exists(), "a sidecar was written");
}

#[test]
fn log_onto_the_input_photo_is_refused_even_through_another_spelling() {
    let tmp = tempfile::tempdir().unwrap();
    let photo = tmp.path().join("victim.jpg");
    std::fs::copy(fixture("multi_face.jpg"), &photo).unwrap();
    let before = bytes(&photo);
    // The same file reached through `sub/..`: paths are compared canonicalised.
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    let other_spelling = tmp.path().join("sub/../victim.jpg");
    let out = run(facs()
        .args(["run", "-y", "--input"])
        .arg(&photo)
        .arg("--log")
        .arg(&other_spelling));
    out.assert_refused();
    out.assert_stderr_has("victim.jpg");
    out.assert_stderr_has("input");
    assert_eq!(bytes(&photo), before, "the photo was changed");
}

#[test]
fn log_onto_an_existing_photo_is_refused_without_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let photo = tmp.path().join("victim.jpg");
    std::fs::copy(fixture("multi_face.jpg"), &photo).unwrap();
    let before = bytes(&photo);
    let out = run(facs()
        .args(["run", "--input"])
        .arg(fixture("single_face_30f.mp4"))
        .arg("--log")
        .arg(&photo));
    out.assert_refused();
    out.assert_stderr_has("victim.jpg");
    out.assert_stderr_has("--overwrite");
    assert_eq!(bytes(&photo), before, "the photo was changed");
}

#[test]
fn two_outputs_on_one_path_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let x = tmp.path().join("x.csv");
    let out = run(facs()
        .args(["run", "--input"])
        .arg(fixture("multi_face.jpg"))
        .arg("--log")
        .arg(&x)
        .arg("--jsonl")
        .arg(&x));
    out.assert_refused();
    out.assert_stderr_has("x.csv");
    out.assert_stderr_has("--jsonl");
    assert!(!x.exists(), "a refused run wrote {}", x.display());
    // The JSONL on the CSV's sidecar.
    let out = run(facs()
        .args(["run", "--input"])
        .arg(fixture("multi_face.jpg"))
        .arg("--log")
        .arg(&x)
        .arg("--jsonl")
        .arg(tmp.path().join("x.meta.json")));
    out.assert_refused();
    out.assert_stderr_has("sidecar");
    assert!(!x.exists() && !tmp.path().join("x.meta.json").exists());
}

#[test]
fn annotate_into_the_input_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    for name in ["000000.jpg", "000001.jpg", "000002.jpg"] {
        std::fs::copy(fixture("single_face").join(name), frames.join(name)).unwrap();
    }
    for annotate in [frames.clone(), frames.join("drawn")] {
        let out = run(facs()
            .args(["run", "--input"])
            .arg(&frames)
            .arg("--annotate")
            .arg(&annotate));
        out.assert_refused();
        out.assert_stderr_has("input folder");
    }
    let mut left: Vec<String> = std::fs::read_dir(&frames)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["000000.jpg", "000001.jpg", "000002.jpg"]);
}

// ---------------------------------------------------------------------------------------
// 2. A failed start leaves existing logs and sidecars as they were
// ---------------------------------------------------------------------------------------

#[test]
fn a_failed_start_leaves_the_existing_log_and_sidecar_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("keep.csv");
    good_run(&log);
    let (log_before, side_before) = (bytes(&log), bytes(&sidecar_of(&log)));
    let a_file = tmp.path().join("afile");
    std::fs::write(&a_file, "not a folder").unwrap();
    let a_dir = tmp.path().join("adir");
    std::fs::create_dir(&a_dir).unwrap();
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (vec!["--annotate".into(), a_file.clone().into()], "afile"),
        (vec!["--jsonl".into(), a_dir.clone().into()], "adir"),
        // Fails when the pipeline starts, after the logs have been claimed.
        (
            vec!["--calibration".into(), "nobody-calibrated-this".into()],
            "nobody-calibrated-this",
        ),
    ];
    for (extra, named) in cases {
        let out = run(facs()
            .args(["run", "--overwrite", "--input"])
            .arg(fixture("multi_face.jpg"))
            .arg("--log")
            .arg(&log)
            .args(&extra));
        out.assert_refused();
        out.assert_stderr_has(named);
        assert_eq!(bytes(&log), log_before, "{extra:?}: the log was changed");
        assert_eq!(
            bytes(&sidecar_of(&log)),
            side_before,
            "{extra:?}: the sidecar was changed"
        );
    }
    // A log that did not exist before a failed start is not left behind either.
    let new = tmp.path().join("new.csv");
    let out = run(facs()
        .args(["run", "--input"])
        .arg(fixture("multi_face.jpg"))
        .args(["--calibration", "nobody-calibrated-this", "--log"])
        .arg(&new));
    out.assert_refused();
    assert!(!new.exists() && !sidecar_of(&new).exists());
}

// ---------------------------------------------------------------------------------------
// 3. One writer per log; a rerun replaces a log only when asked
// ---------------------------------------------------------------------------------------

#[test]
fn rerun_into_an_existing_log_needs_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("again.csv");
    good_run(&log);
    let (log_before, side_before) = (bytes(&log), bytes(&sidecar_of(&log)));
    let rerun = |flag: Option<&str>| {
        run(facs()
            .arg("run")
            .args(flag)
            .arg("--input")
            .arg(fixture("multi_face.jpg"))
            .arg("--log")
            .arg(&log))
    };
    let out = rerun(None);
    out.assert_refused();
    out.assert_stderr_has("again.csv");
    out.assert_stderr_has("--overwrite");
    assert_eq!(bytes(&log), log_before);
    assert_eq!(bytes(&sidecar_of(&log)), side_before);
    for flag in ["-y", "--overwrite"] {
        let out = rerun(Some(flag));
        assert_eq!(out.code, Some(0), "{flag}\n{}", out.describe());
        // The same input and options give the same log, byte for byte.
        assert_eq!(bytes(&log), log_before, "{flag}");
    }
    // The sidecar of a log given alone is not replaced silently either: a new --log whose
    // sidecar is another log's.
    let jsonl = tmp.path().join("again.jsonl");
    let out = run(facs()
        .args(["run", "--input"])
        .arg(fixture("multi_face.jpg"))
        .arg("--jsonl")
        .arg(&jsonl));
    out.assert_refused();
    out.assert_stderr_has("again.meta.json");
    assert!(!jsonl.exists());
}

/// A paced run on an endless synthetic source, logging to `log`, left running.
fn spawn_long_run(log: &Path) -> Running {
    spawn(
        facs()
            .args([
                "run",
                "--input",
                "synthetic:faces=1,frames=100000,size=320x240,fps=30",
                "--realtime",
                "--log",
            ])
            .arg(log),
    )
}

#[test]
fn a_second_run_on_a_log_being_written_fails_at_once_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("busy.csv");
    let first = spawn_long_run(&log);
    wait_for("the first run's rows", || csv_data_lines(&log) >= 5);
    // --overwrite, so that only the other run's lock stands in the way.
    let started = Instant::now();
    let second = run(facs()
        .args([
            "run",
            "-y",
            "--input",
            "synthetic:faces=1,frames=5",
            "--log",
        ])
        .arg(&log));
    second.assert_refused();
    second.assert_stderr_has("busy.csv");
    second.assert_stderr_has("another facs run");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the refusal took {:?}",
        started.elapsed()
    );
    // The first run goes on, its log intact and growing.
    let n = csv_data_lines(&log);
    wait_for("more rows from the first run", || csv_data_lines(&log) > n);
    first.signal(2);
    let out = first.wait(Duration::from_secs(30));
    assert_eq!(out.code, Some(130), "{}", out.describe());
    let text = std::fs::read_to_string(&log).unwrap();
    let frames: Vec<u64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        frames,
        (1..=frames.len() as u64).collect::<Vec<_>>(),
        "the log is not one run's frames 1, 2, 3, ..."
    );
}

// ---------------------------------------------------------------------------------------
// 4, 5. Exit codes: nothing readable is a failure
// ---------------------------------------------------------------------------------------

#[test]
fn a_folder_with_nothing_readable_fails_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("unreadable_frames");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("a.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).unwrap();
    std::fs::write(bad.join("b.png"), b"not a png").unwrap();
    let log = tmp.path().join("nothing.csv");
    let out = run(facs()
        .arg("run")
        .arg("--input")
        .arg(&bad)
        .arg("--log")
        .arg(&log));
    out.assert_refused();
    out.assert_stderr_has("unreadable_frames");
    assert!(log.exists(), "no log");
    let side = read_json(&sidecar_of(&log));
    assert_eq!(side["status"], "failed", "{side:#}");
    assert!(
        side["error"]
            .as_str()
            .unwrap_or("")
            .contains("unreadable_frames"),
        "{side:#}"
    );
    // One unreadable image given alone.
    let out = run(facs()
        .arg("run")
        .arg("--input")
        .arg(bad.join("b.png"))
        .arg("--log")
        .arg(tmp.path().join("one.csv")));
    out.assert_refused();
    out.assert_stderr_has("b.png");
}

#[test]
fn sigterm_ends_with_143_and_an_interrupted_sidecar() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("terminated.csv");
    let running = spawn_long_run(&log);
    wait_for("the first rows", || csv_data_lines(&log) >= 5);
    running.signal(15);
    let out = running.wait(Duration::from_secs(30));
    assert_eq!(out.code, Some(143), "{}", out.describe());
    let side = read_json(&sidecar_of(&log));
    assert_eq!(side["status"], "interrupted", "{side:#}");
    assert_eq!(side["summary"]["completed"], false, "{side:#}");
}

// ---------------------------------------------------------------------------------------
// 7. Messages and the sidecar's settings
// ---------------------------------------------------------------------------------------

#[test]
fn an_io_error_says_its_path_and_cause_once() {
    let tmp = tempfile::tempdir().unwrap();
    let a_file = tmp.path().join("plain_file");
    std::fs::write(&a_file, "x").unwrap();
    // A file where a folder should be: plain_file/n.json cannot be written.
    let out = run(facs()
        .args(["calibrate", "--input"])
        .arg(fixture("multi_face.jpg"))
        .arg("--out")
        .arg(a_file.join("n.json")));
    out.assert_refused();
    out.assert_stderr_has("plain_file");
    let cause = "(os error ";
    assert_eq!(
        out.stderr.matches(cause).count(),
        1,
        "the cause is not said exactly once\n{}",
        out.describe()
    );
    assert_eq!(
        out.stderr.matches("plain_file").count(),
        1,
        "{}",
        out.describe()
    );
}

#[test]
fn the_sidecar_stores_settings_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("settings.csv");
    good_run(&log);
    let side = read_json(&sidecar_of(&log));
    assert_eq!(side["detector"]["min_face_px"], 40, "{side:#}");
    assert_eq!(side["detector"]["full_every"], 10, "{side:#}");
    let text = std::fs::read_to_string(sidecar_of(&log)).unwrap();
    assert!(
        !text.contains("DetectConfig"),
        "a Rust debug string:\n{text}"
    );
    assert!(!text.contains(" { "), "a Rust debug string:\n{text}");
}
