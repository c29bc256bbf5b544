//! PNG files: the one place facs encodes one (annotated frames, charts, galleries, the
//! face-crop cache).

use std::path::Path;

use crate::error::{Error, Result};

/// Writes `rgb` (`width * height * 3` bytes, row-major) as a PNG at `path`, creating its
/// folder if needed.
///
/// # Errors
/// [`Error::Io`] if the folder cannot be created, [`Error::Image`] if `rgb` does not fit
/// the size or the file cannot be encoded or written.
pub fn save_rgb_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<()> {
    // The encoder asserts the size (a panic); say it instead.
    if rgb.len() as u64 != u64::from(width) * u64::from(height) * 3 {
        return Err(Error::Image {
            path: path.into(),
            reason: format!(
                "{} bytes of RGB for a {width}x{height} picture (expected {})",
                rgb.len(),
                u64::from(width) * u64::from(height) * 3
            ),
        });
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    image::save_buffer_with_format(
        path,
        rgb,
        width,
        height,
        image::ColorType::Rgb8,
        image::ImageFormat::Png,
    )
    .map_err(|e| Error::Image {
        path: path.into(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_that_reads_back_and_names_a_bad_path() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sub/a.png");
        let rgb: Vec<u8> = (0..2 * 3 * 3).map(|i| i as u8 * 10).collect();
        save_rgb_png(&path, 3, 2, &rgb).unwrap();
        let back = image::open(&path).unwrap().into_rgb8();
        assert_eq!((back.width(), back.height()), (3, 2));
        assert_eq!(back.into_raw(), rgb);
        // A buffer of the wrong size is an error naming the file, not a panic.
        let err = save_rgb_png(&tmp.path().join("b.png"), 3, 3, &rgb).unwrap_err();
        assert!(err.to_string().contains("b.png"), "{err}");
    }
}
