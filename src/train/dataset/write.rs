//! Writing samples as an EmotioNet-style CSV that [`load_csv`](super::load_csv) reads back.

use std::fs;
use std::path::Path;

use super::{Sample, UNKNOWN_VALUE};
use crate::error::{Error, Result};
use crate::frame::{AU_NUMBERS, EMOTIONS};

/// The column names [`write_csv`] writes.
fn columns() -> Vec<String> {
    let mut names = vec!["image".to_string()];
    names.extend(AU_NUMBERS.iter().map(|au| format!("AU{au:02}")));
    names.push("emotion".to_string());
    names
}

/// The header [`write_csv`] writes: `image,AU01,...,AU26,emotion`.
pub fn csv_header() -> String {
    columns().join(",")
}

/// Writes samples in the format [`load_csv`](super::load_csv) reads: paths relative to
/// `images_dir` (a path outside it is written whole), `AU01`-style headers, `999` for
/// unknown AUs, an `emotion` column (empty when unlabelled). A path is quoted when it holds a
/// comma, a quote or a line end. Creates the parent directory. Paths that are not UTF-8 are
/// written lossily.
///
/// # Errors
/// [`Error::Io`] when the file cannot be created or written.
pub fn write_csv(samples: &[Sample], images_dir: &Path, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    // The csv writer buffers, quotes only where needed and ends lines with `\n`.
    let mut out = csv::Writer::from_writer(file);
    let write_error = |e: csv::Error| Error::io(path, e.into());
    out.write_record(columns()).map_err(write_error)?;
    for s in samples {
        let rel = s.path.strip_prefix(images_dir).unwrap_or(&s.path);
        out.write_field(rel.to_string_lossy().as_bytes())
            .map_err(write_error)?;
        for label in s.aus {
            out.write_field(match label {
                Some(true) => "1",
                Some(false) => "0",
                None => UNKNOWN_VALUE,
            })
            .map_err(write_error)?;
        }
        let emotion = s.emotion.and_then(|e| EMOTIONS.get(e)).copied();
        out.write_field(emotion.unwrap_or(""))
            .map_err(write_error)?;
        out.write_record(None::<&[u8]>).map_err(write_error)?;
    }
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
        let names = [
            "a.png",
            "with, comma.png",
            "sub/b.png",
            "say \"hi\";\tx.png",
        ];
        for (i, name) in names.iter().enumerate() {
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
        // Sample i: AU i present, AU i+3 absent, the rest unknown (999); emotions 0, none, 2,
        // 3 (anger, -, fear, happiness). Only fields with a comma or a quote are quoted.
        let expected = "image,AU01,AU02,AU04,AU05,AU06,AU09,AU12,AU17,AU20,AU25,AU26,emotion\n\
            a.png,1,999,999,0,999,999,999,999,999,999,999,anger\n\
            \"with, comma.png\",999,1,999,999,0,999,999,999,999,999,999,\n\
            sub/b.png,999,999,1,999,999,0,999,999,999,999,999,fear\n\
            \"say \"\"hi\"\";\tx.png\",999,999,999,1,999,999,0,999,999,999,999,happiness\n";
        assert_eq!(text, expected);
        let ds = load_csv(&csv, &images, false).unwrap();
        assert!(ds.bad_rows.is_empty() && ds.missing_images.is_empty());
        assert_eq!(ds.samples, samples);
    }
}
