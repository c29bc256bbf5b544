//! A folder of still images (sorted by file name) or a single image, decoded with `image`,
//! turned upright by their EXIF orientation. A JPEG cut short is refused rather than
//! decoded: the decoder would fill the missing part with grey and say nothing.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

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
        let first_size = upright_dimensions(&files[0]);
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
            first_size: upright_dimensions(path),
        })
    }
}

/// Where a JPEG's data ends short of its end-of-image marker (EOI, `FF D9`): walks the
/// marker segments by their lengths and the entropy-coded data after each start of scan.
/// Bytes after EOI (camera trailers) are allowed; an EOI inside an earlier segment (an EXIF
/// thumbnail) is skipped with that segment. Whether the data decodes is the decoder's
/// business; this only finds a file that stops early.
///
/// # Errors
/// What is missing, for a file that ends before its EOI marker.
fn check_jpeg_complete(data: &[u8]) -> std::result::Result<(), String> {
    let cut = |what: &str| {
        Err(format!(
            "truncated JPEG: the file ends ({} bytes) {what}, before its end-of-image marker",
            data.len()
        ))
    };
    let mut i = 2; // after SOI
    loop {
        // Fill bytes (FF) may pad before a marker; anything else between segments is
        // skipped as decoders do.
        while i < data.len() && !(data[i] == 0xFF && data.get(i + 1).is_some_and(|&m| m != 0xFF)) {
            i += 1;
        }
        let Some(&marker) = data.get(i + 1) else {
            return cut("between segments");
        };
        i += 2;
        match marker {
            0xD9 => return Ok(()),
            // Markers without a length: TEM, restart markers (and a stray stuffed zero).
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len) = data
            .get(i..i + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return cut("inside a segment header");
        };
        i += len;
        if i > data.len() {
            return cut("inside a segment");
        }
        if marker == 0xDA {
            // Entropy-coded data runs to the next marker that is not a stuffed FF 00, a
            // restart marker or fill.
            loop {
                match data.get(i..i + 2) {
                    None => return cut("inside the image data"),
                    Some([0xFF, m]) if *m != 0x00 && *m != 0xFF && !(0xD0..=0xD7).contains(m) => {
                        break
                    }
                    _ => i += 1,
                }
            }
        }
    }
}

/// Width and height of an image as it will be decoded (its EXIF orientation applied);
/// None when its header cannot be read.
fn upright_dimensions(path: &Path) -> Option<(u32, u32)> {
    let mut decoder = ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .into_decoder()
        .ok()?;
    let (w, h) = decoder.dimensions();
    Some(match decoder.orientation().ok()? {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (h, w),
        _ => (w, h),
    })
}

/// Decodes an image file to RGB8, turned upright by its EXIF orientation. A JPEG that ends
/// before its end-of-image marker is refused: the decoder would return the part that is
/// there with the rest filled in grey.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Image`] naming the file if it does
/// not decode or is cut short.
pub fn load_rgb(path: &Path) -> Result<(u32, u32, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_rgb(&bytes, path)
}

/// [`load_rgb`] for a file already read: `bytes` are its contents, `path` names it in
/// errors.
///
/// # Errors
/// [`Error::Image`] naming `path` if the bytes do not decode or are cut short.
pub fn decode_rgb(bytes: &[u8], path: &Path) -> Result<(u32, u32, Vec<u8>)> {
    let bad = |reason: String| Error::Image {
        path: path.to_path_buf(),
        reason,
    };
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    if reader.format() == Some(ImageFormat::Jpeg) {
        check_jpeg_complete(bytes).map_err(bad)?;
    }
    let mut decoder = reader.into_decoder().map_err(|e| bad(e.to_string()))?;
    // An unreadable EXIF block costs the frame nothing: the picture is used as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| bad(e.to_string()))?;
    img.apply_orientation(orientation);
    let img = img.into_rgb8();
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

    /// A 32x16 JPEG: left half red, right half blue (flat 8x8 blocks survive JPEG well).
    fn two_colour_jpeg(quality: u8) -> Vec<u8> {
        let img = image::RgbImage::from_fn(32, 16, |x, _| {
            if x < 16 {
                image::Rgb([220, 20, 20])
            } else {
                image::Rgb([20, 20, 220])
            }
        });
        let mut buf = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
            .encode_image(&img)
            .unwrap();
        buf
    }

    /// `jpeg` with an APP1 EXIF segment after SOI: IFD0 with Orientation = `orientation`,
    /// and, when `thumbnail` is given, those bytes (a whole JPEG, EOI included) after it.
    fn with_exif(jpeg: &[u8], orientation: u16, thumbnail: &[u8]) -> Vec<u8> {
        let mut tiff = b"MM\x00\x2A".to_vec();
        tiff.extend_from_slice(&8u32.to_be_bytes());
        tiff.extend_from_slice(&1u16.to_be_bytes());
        tiff.extend_from_slice(&0x0112u16.to_be_bytes());
        tiff.extend_from_slice(&3u16.to_be_bytes());
        tiff.extend_from_slice(&1u32.to_be_bytes());
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        tiff.extend_from_slice(thumbnail);
        let mut payload = b"Exif\x00\x00".to_vec();
        payload.extend_from_slice(&tiff);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn a_jpeg_cut_anywhere_before_its_end_marker_is_found() {
        let whole = two_colour_jpeg(90);
        assert_eq!(check_jpeg_complete(&whole), Ok(()));
        for cut in [4, 30, whole.len() / 3, whole.len() - 2, whole.len() - 1] {
            let err = check_jpeg_complete(&whole[..cut]).unwrap_err();
            assert!(err.contains("truncated JPEG"), "cut at {cut}: {err}");
        }
        // Bytes after the end marker (camera trailers) are allowed.
        let mut trailer = whole.clone();
        trailer.extend_from_slice(b"\x00\x00MAKERNOTE");
        assert_eq!(check_jpeg_complete(&trailer), Ok(()));
        // An EXIF thumbnail's end marker does not count for the main picture.
        let with_thumb = with_exif(&whole, 1, &two_colour_jpeg(50));
        assert_eq!(check_jpeg_complete(&with_thumb), Ok(()));
        let cut = with_thumb.len() - whole.len() / 2;
        assert!(check_jpeg_complete(&with_thumb[..cut]).is_err());
    }

    #[test]
    fn load_rgb_refuses_a_cut_jpeg_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let whole = two_colour_jpeg(90);
        let path = dir.path().join("cut.jpg");
        std::fs::write(&path, &whole[..whole.len() * 2 / 3]).unwrap();
        let err = load_rgb(&path).unwrap_err().to_string();
        assert!(
            err.contains("cut.jpg") && err.contains("truncated"),
            "{err}"
        );
        std::fs::write(&path, &whole).unwrap();
        assert_eq!(load_rgb(&path).unwrap().0, 32);
    }

    #[test]
    fn load_rgb_turns_a_still_upright_by_its_exif_orientation() {
        let dir = tempfile::tempdir().unwrap();
        let stored = two_colour_jpeg(90);
        // Orientation 6: turn 90 degrees clockwise to display. Red (stored left) goes to
        // the top, blue to the bottom; 32x16 becomes 16x32.
        let path = dir.path().join("turned.jpg");
        std::fs::write(&path, with_exif(&stored, 6, &[])).unwrap();
        let (w, h, rgb) = load_rgb(&path).unwrap();
        assert_eq!((w, h), (16, 32));
        assert_eq!(upright_dimensions(&path), Some((16, 32)));
        let px = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        };
        assert!(px(8, 4)[0] > 180 && px(8, 4)[2] < 60, "top {:?}", px(8, 4));
        assert!(
            px(8, 28)[2] > 180 && px(8, 28)[0] < 60,
            "bottom {:?}",
            px(8, 28)
        );
        // Orientation 1 (or none): as stored.
        std::fs::write(&path, with_exif(&stored, 1, &[])).unwrap();
        assert_eq!(load_rgb(&path).unwrap().0, 32);
        assert_eq!(upright_dimensions(&path), Some((32, 16)));
    }

    #[test]
    fn empty_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = ImageFolder::open(dir.path(), 30.0).err().unwrap();
        assert!(err.to_string().contains("no images"));
    }
}
