//! Which paths a run may write, checked before any file is opened: never its input, never
//! one file for two outputs (the sidecar included), never drawn frames inside an input
//! folder, a file where a file goes and a folder where a folder goes. Paths are compared
//! resolved (`.`, `..` and links followed; a path that does not exist yet by its nearest
//! existing folder), and existing files also by identity, so a second name for the same
//! file (a hard link) is caught too.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::log::sidecar_path;
use crate::source::{is_image, SourceSpec};

/// The outputs a run was asked for.
pub(super) struct Outputs<'a> {
    pub log_csv: Option<&'a Path>,
    pub log_jsonl: Option<&'a Path>,
    pub annotate_dir: Option<&'a Path>,
    /// The video the drawn frames go to (`--annotate out.mp4`).
    pub annotate_video: Option<&'a Path>,
    pub overwrite: bool,
}

/// `path` made absolute and resolved as far as it exists; the part that does not exist yet
/// is appended as written (`..` in it taken lexically: no link can be in a missing part).
fn resolve(path: &Path) -> Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io(".", e))?
            .join(path)
    };
    let mut missing = Vec::new();
    let mut existing = abs.as_path();
    let base = loop {
        if let Ok(c) = existing.canonicalize() {
            break c;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                missing.push(last);
                existing = parent;
            }
            // Nothing of it exists, not even the root: compare it as written.
            _ => return Ok(abs),
        }
    };
    let mut out = base;
    for c in missing.into_iter().rev() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

/// True if `a` and `b` (resolved) are the same file: the same path, or for files that exist,
/// the same device and inode.
fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    false
}

/// The nearest part of `path` that exists must be a folder (a missing folder is created).
fn check_parent_is_folder(path: &Path) -> Result<()> {
    let mut p = path.parent();
    while let Some(dir) = p.filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(meta) = std::fs::metadata(dir) {
            if meta.is_dir() {
                return Ok(());
            }
            return Err(Error::output(
                path,
                format!("{} is a file, not a folder", dir.display()),
            ));
        }
        p = dir.parent();
    }
    Ok(())
}

/// The name facs gives the drawn frame number `index + 1`, e.g. `000001.png`.
pub(super) fn frame_png_name(index: u64) -> String {
    format!("{:06}.png", index + 1)
}

/// True for a name [`frame_png_name`] can produce: six or more digits and `.png`.
fn is_frame_png(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .and_then(|n| n.strip_suffix(".png"))
        .is_some_and(|stem| stem.len() >= 6 && stem.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks every output path of a run against its input and each other, before anything
/// is opened. Existing logs (and `overwrite`) are checked when they are claimed.
///
/// # Errors
/// [`Error::Output`] naming the path and what is wrong with it.
pub(super) fn check(input: &SourceSpec, out: &Outputs) -> Result<()> {
    let input_path = match input {
        SourceSpec::Images { dir, .. } => Some(dir.as_path()),
        SourceSpec::Image(p) | SourceSpec::Video(p) => Some(p.as_path()),
        SourceSpec::Camera(_)
        | SourceSpec::Synthetic(_)
        | SourceSpec::Demo { .. }
        | SourceSpec::FakeCamera(_) => None,
    };
    let input_dir = matches!(input, SourceSpec::Images { .. });
    let input_resolved = input_path.map(resolve).transpose()?;

    // Log files: (what, path as given, resolved).
    let first_log = out.log_csv.or(out.log_jsonl);
    let sidecar = first_log.map(sidecar_path);
    let mut files: Vec<(String, &Path, PathBuf)> = Vec::new();
    for (what, path) in [
        ("--log".to_string(), out.log_csv),
        ("--jsonl".to_string(), out.log_jsonl),
        (
            first_log.map_or_else(String::new, |l| format!("the sidecar of {}", l.display())),
            sidecar.as_deref(),
        ),
        ("--annotate".to_string(), out.annotate_video),
    ] {
        let Some(path) = path else { continue };
        if path.file_name().is_none() {
            return Err(Error::output(path, format!("{what} needs a file name")));
        }
        if path.is_dir() {
            return Err(Error::output(
                path,
                format!("is a folder; {what} needs a file"),
            ));
        }
        check_parent_is_folder(path)?;
        files.push((what, path, resolve(path)?));
    }
    if let Some(video) = out.annotate_video {
        if !out.overwrite && video.exists() {
            return Err(Error::output(
                video,
                "already exists; pass --overwrite (-y) to replace the video, or choose another file",
            ));
        }
    }
    for (i, (what, path, resolved)) in files.iter().enumerate() {
        if let Some(input) = &input_resolved {
            if same_file(resolved, input) {
                return Err(Error::output(
                    path,
                    format!("{what} is the input; facs never writes over its input"),
                ));
            }
            if input_dir && resolved.starts_with(input) && is_image(resolved) {
                return Err(Error::output(
                    path,
                    format!("{what} is an image inside the input folder, read as a frame"),
                ));
            }
        }
        for (other, _, other_resolved) in &files[..i] {
            if same_file(resolved, other_resolved) {
                return Err(Error::output(
                    path,
                    format!("given as both {other} and {what}; each output needs its own file"),
                ));
            }
        }
    }

    if let Some(dir) = out.annotate_dir {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::output(dir, "is a file; --annotate needs a folder"));
        }
        check_parent_is_folder(dir)?;
        let resolved = resolve(dir)?;
        if let Some(input) = &input_resolved {
            if input_dir && resolved.starts_with(input) {
                return Err(Error::output(
                    dir,
                    "--annotate is inside the input folder: its PNGs would be read as frames \
                     by the next run on that folder",
                ));
            }
            if input.parent() == Some(resolved.as_path())
                && input.file_name().is_some_and(is_frame_png)
            {
                return Err(Error::output(
                    dir,
                    "--annotate would draw a frame over the input, which has a drawn frame's name",
                ));
            }
        }
        for (what, path, file) in &files {
            if file.parent() == Some(resolved.as_path())
                && file.file_name().is_some_and(is_frame_png)
            {
                return Err(Error::output(
                    path,
                    format!("{what} has the name of a drawn frame inside the --annotate folder"),
                ));
            }
        }
        if !out.overwrite {
            if let Ok(entries) = std::fs::read_dir(dir) {
                if let Some(drawn) = entries
                    .filter_map(|e| e.ok())
                    .find(|e| is_frame_png(&e.file_name()))
                {
                    return Err(Error::output(
                        dir,
                        format!(
                            "already holds drawn frames ({}...); pass --overwrite (-y) to draw \
                             over them, or choose another folder",
                            drawn.file_name().to_string_lossy()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs<'a>(
        csv: Option<&'a Path>,
        jsonl: Option<&'a Path>,
        annotate: Option<&'a Path>,
    ) -> Outputs<'a> {
        Outputs {
            log_csv: csv,
            log_jsonl: jsonl,
            annotate_dir: annotate,
            annotate_video: None,
            overwrite: false,
        }
    }

    fn refused(input: &SourceSpec, out: &Outputs, needle: &str) {
        let e = check(input, out).err().expect("refused");
        assert!(matches!(e, Error::Output { .. }), "{e}");
        assert!(e.to_string().contains(needle), "{e}");
    }

    #[test]
    fn paths_resolve_through_dots_and_missing_parts() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        std::fs::create_dir(base.join("a")).unwrap();
        assert_eq!(
            resolve(&base.join("a/../x.csv")).unwrap(),
            base.join("x.csv")
        );
        assert_eq!(
            resolve(&base.join("a/new/../y.csv")).unwrap(),
            base.join("a/y.csv")
        );
        assert_eq!(resolve(&base.join("a/./b/c")).unwrap(), base.join("a/b/c"));
    }

    #[test]
    fn an_output_on_the_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let video = dir.path().join("v.mp4");
        std::fs::write(&video, b"x").unwrap();
        let input = SourceSpec::Video(video.clone());
        refused(&input, &outputs(None, Some(&video), None), "is the input");
        refused(&input, &outputs(Some(&video), None, None), "is the input");
        // The sidecar of `v.csv` is `v.meta.json`: the input, if that is its name.
        let meta = dir.path().join("v.meta.json");
        std::fs::write(&meta, b"x").unwrap();
        refused(
            &SourceSpec::Video(meta),
            &outputs(Some(&dir.path().join("v.csv")), None, None),
            "sidecar",
        );
        // A hard link is the same file under another name.
        let link = dir.path().join("link.mp4");
        std::fs::hard_link(&video, &link).unwrap();
        refused(&input, &outputs(Some(&link), None, None), "is the input");
        // Another file is fine.
        check(
            &input,
            &outputs(Some(&dir.path().join("v.csv")), None, None),
        )
        .unwrap();
    }

    #[test]
    fn two_outputs_on_one_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = SourceSpec::Synthetic(Default::default());
        let x = dir.path().join("x.csv");
        refused(
            &input,
            &outputs(Some(&x), Some(&x), None),
            "--log and --jsonl",
        );
        let meta = dir.path().join("x.meta.json");
        refused(&input, &outputs(Some(&x), Some(&meta), None), "sidecar");
        let frame = dir.path().join("000001.png");
        refused(
            &input,
            &outputs(Some(&frame), None, Some(dir.path())),
            "drawn frame",
        );
    }

    #[test]
    fn files_and_folders_where_they_belong() {
        let dir = tempfile::tempdir().unwrap();
        let input = SourceSpec::Synthetic(Default::default());
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        refused(&input, &outputs(None, None, Some(&file)), "needs a folder");
        refused(
            &input,
            &outputs(None, Some(dir.path()), None),
            "is a folder",
        );
        refused(
            &input,
            &outputs(Some(&file.join("x.csv")), None, None),
            "is a file, not a folder",
        );
    }

    #[test]
    fn drawn_frames_stay_out_of_the_input_folder_and_off_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        let frames = dir.path().join("frames");
        std::fs::create_dir(&frames).unwrap();
        let input = SourceSpec::Images {
            dir: frames.clone(),
            fps: 30.0,
            stills: crate::source::Stills::Auto,
        };
        refused(&input, &outputs(None, None, Some(&frames)), "input folder");
        refused(
            &input,
            &outputs(None, None, Some(&frames.join("drawn"))),
            "input folder",
        );
        refused(
            &input,
            &outputs(Some(&frames.join("x.jpg")), None, None),
            "inside the input folder",
        );
        // A log among the frames is not read as one.
        check(&input, &outputs(Some(&frames.join("log.csv")), None, None)).unwrap();
        let drawn = dir.path().join("drawn");
        check(&input, &outputs(None, None, Some(&drawn))).unwrap();
        std::fs::create_dir(&drawn).unwrap();
        std::fs::write(drawn.join(frame_png_name(0)), b"x").unwrap();
        refused(&input, &outputs(None, None, Some(&drawn)), "--overwrite");
        let mut out = outputs(None, None, Some(&drawn));
        out.overwrite = true;
        check(&input, &out).unwrap();
        // A single image named like a drawn frame, in the --annotate folder.
        let photo = SourceSpec::Image(drawn.join("000001.png"));
        refused(&photo, &out, "over the input");
    }

    #[test]
    fn a_video_is_checked_like_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let video = dir.path().join("v.mp4");
        std::fs::write(&video, b"x").unwrap();
        let input = SourceSpec::Video(video.clone());
        let (drawn, csv) = (dir.path().join("drawn.mp4"), dir.path().join("run.csv"));
        let mut out = outputs(None, None, None);
        out.overwrite = true;
        out.annotate_video = Some(&video);
        refused(&input, &out, "is the input");
        out.annotate_video = Some(&drawn);
        out.log_csv = Some(&drawn);
        refused(&input, &out, "--log and --annotate");
        out.log_csv = Some(&csv);
        check(&input, &out).unwrap();
        // An existing video is replaced only when asked.
        std::fs::write(&drawn, b"old").unwrap();
        check(&input, &out).unwrap();
        out.overwrite = false;
        refused(&input, &out, "--overwrite");
        let inside_a_file = video.join("x.mp4");
        out.annotate_video = Some(&inside_a_file);
        refused(&input, &out, "is a file, not a folder");
    }

    #[test]
    fn frame_png_names() {
        assert_eq!(frame_png_name(0), "000001.png");
        assert!(is_frame_png(std::ffi::OsStr::new("000001.png")));
        assert!(is_frame_png(std::ffi::OsStr::new("1234567.png")));
        assert!(!is_frame_png(std::ffi::OsStr::new("00001.png")));
        assert!(!is_frame_png(std::ffi::OsStr::new("frame01.png")));
    }
}
