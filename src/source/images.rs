//! A folder of still images (sorted by file name) or a single image, decoded with `image`.

use std::path::{Path, PathBuf};

use super::{FrameSource, Next, SourceInfo};
use crate::error::{Error, Result};
use crate::frame::Frame;

/// Extensions treated as images, lower case.
pub fn image_extensions() -> &'static [&'static str] {
    &["jpg", "jpeg", "png"]
}

/// Frames from image files; a file that fails to decode is skipped and named.
pub struct ImageFolder {
    name: String,
    kind: &'static str,
    files: Vec<PathBuf>,
    fps: f64,
    next: usize,
    first_size: Option<(u32, u32)>,
}

impl ImageFolder {
    /// Lists the images in `dir`, sorted by name.
    ///
    /// # Errors
    /// The folder cannot be read or holds no images.
    pub fn open(dir: &Path, fps: f64) -> Result<Self> {
        let mut files = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if path.is_file() && super::is_image(&path) {
                files.push(path);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(Error::Source {
                source_name: dir.display().to_string(),
                reason: format!(
                    "no images ({}) in this folder",
                    image_extensions().join(", ")
                ),
            });
        }
        let first_size = image::image_dimensions(&files[0]).ok();
        Ok(ImageFolder {
            name: dir.display().to_string(),
            kind: "images",
            files,
            fps,
            next: 0,
            first_size,
        })
    }

    /// One still image as a one-frame source.
    ///
    /// # Errors
    /// The file does not exist.
    pub fn single(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::InputNotFound(path.to_path_buf()));
        }
        Ok(ImageFolder {
            name: path.display().to_string(),
            kind: "image",
            files: vec![path.to_path_buf()],
            fps: 1.0,
            next: 0,
            first_size: image::image_dimensions(path).ok(),
        })
    }
}

/// Decodes an image file to RGB8.
///
/// # Errors
/// [`Error::Image`] naming the file.
pub fn load_rgb(path: &Path) -> Result<(u32, u32, Vec<u8>)> {
    let img = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?
        .decode()
        .map_err(|e| Error::Image {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .into_rgb8();
    let (w, h) = img.dimensions();
    Ok((w, h, img.into_raw()))
}

impl FrameSource for ImageFolder {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: self.kind,
            name: self.name.clone(),
            width: self.first_size.map(|s| s.0),
            height: self.first_size.map(|s| s.1),
            fps: Some(self.fps),
            frame_count: Some(self.files.len() as u64),
            timing: None,
        }
    }

    fn next_frame(&mut self) -> Result<Next> {
        let Some(path) = self.files.get(self.next) else {
            return Ok(Next::End);
        };
        let index = self.next as u64;
        self.next += 1;
        let what = path.display().to_string();
        match load_rgb(path) {
            Ok((w, h, rgb)) => {
                self.first_size.get_or_insert((w, h));
                let ts = index as f64 / self.fps;
                match Frame::new(index, ts, w, h, rgb) {
                    Some(f) => Ok(Next::Frame(f)),
                    None => Ok(Next::Skipped {
                        index,
                        what,
                        reason: "empty image".into(),
                    }),
                }
            }
            Err(e) => Ok(Next::Skipped {
                index,
                what,
                reason: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_is_sorted_and_bad_files_are_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let img = image::RgbImage::from_pixel(8, 6, image::Rgb([10, 20, 30]));
        img.save(dir.path().join("b.png")).unwrap();
        img.save(dir.path().join("a.png")).unwrap();
        std::fs::write(dir.path().join("c.jpg"), b"not a jpeg").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        let mut src = ImageFolder::open(dir.path(), 10.0).unwrap();
        assert_eq!(src.info().frame_count, Some(3));
        let Next::Frame(f0) = src.next_frame().unwrap() else {
            panic!()
        };
        assert_eq!((f0.index, f0.width, f0.height), (0, 8, 6));
        assert_eq!(f0.pixel(0, 0), [10, 20, 30]);
        let Next::Frame(f1) = src.next_frame().unwrap() else {
            panic!()
        };
        assert!((f1.timestamp_s - 0.1).abs() < 1e-9);
        match src.next_frame().unwrap() {
            Next::Skipped { index, what, .. } => {
                assert_eq!(index, 2);
                assert!(what.ends_with("c.jpg"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(src.next_frame().unwrap(), Next::End));
    }

    #[test]
    fn empty_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = ImageFolder::open(dir.path(), 30.0).err().unwrap();
        assert!(err.to_string().contains("no images"));
    }
}
