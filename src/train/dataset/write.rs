//! Writing samples as an EmotioNet-style CSV that [`load_csv`](super::load_csv) reads back.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::{Sample, UNKNOWN_VALUE};
use crate::error::{Error, Result};
use crate::frame::{AU_NUMBERS, EMOTIONS};

/// Quotes a CSV field when it needs it.
fn csv_field(text: &str) -> String {
    let needs = text.contains([',', '"', '\n', '\r', '\t', ';'])
        || text.starts_with(' ')
        || text.ends_with(' ');
    if needs {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The header [`write_csv`] writes: `image,AU01,...,AU26,emotion`.
pub fn csv_header() -> String {
    let mut header = String::from("image");
    for au in AU_NUMBERS {
        header.push_str(&format!(",AU{au:02}"));
    }
    header.push_str(",emotion");
    header
}

/// Writes samples in the format [`load_csv`] reads: paths relative to `images_dir` (a path
/// outside it is written whole), `AU01`-style headers, `999` for unknown AUs, an `emotion`
/// column (empty when unlabelled). Creates the parent directory. Paths that are not UTF-8
/// are written lossily.
///
/// # Errors
/// [`Error::Io`] when the file cannot be created or written.
pub fn write_csv(samples: &[Sample], images_dir: &Path, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = BufWriter::new(file);
    let mut text = csv_header();
    text.push('\n');
    for s in samples {
        let rel = s.path.strip_prefix(images_dir).unwrap_or(&s.path);
        text.push_str(&csv_field(&rel.to_string_lossy()));
        for label in s.aus {
            text.push(',');
            text.push_str(match label {
                Some(true) => "1",
                Some(false) => "0",
                None => UNKNOWN_VALUE,
            });
        }
        text.push(',');
        if let Some(name) = s.emotion.and_then(|e| EMOTIONS.get(e)) {
            text.push_str(name);
        }
        text.push('\n');
        if text.len() > 1 << 16 {
            out.write_all(text.as_bytes())
                .map_err(|e| Error::io(path, e))?;
            text.clear();
        }
    }
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    out.flush().map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::super::{load_csv, touch};
    use super::*;
    use crate::frame::NUM_AUS;

    #[test]
    fn write_then_load_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let images = tmp.path().join("images");
        let mut samples = Vec::new();
        for (i, name) in ["a.png", "with, comma.png", "sub/b.png"].iter().enumerate() {
            touch(&images, name);
            let mut aus = [None; NUM_AUS];
            aus[i] = Some(true);
            aus[i + 3] = Some(false);
            samples.push(Sample {
                path: images.join(name),
                line: i + 2,
                aus,
                emotion: if i == 1 { None } else { Some(i) },
            });
        }
        let csv = tmp.path().join("out/labels.csv");
        write_csv(&samples, &images, &csv).unwrap();
        let text = fs::read_to_string(&csv).unwrap();
        assert!(text.starts_with("image,AU01,AU02,AU04,"), "{text}");
        assert!(text.contains("999"), "{text}");
        let ds = load_csv(&csv, &images, false).unwrap();
        assert!(ds.bad_rows.is_empty() && ds.missing_images.is_empty());
        assert_eq!(ds.samples, samples);
    }
}
