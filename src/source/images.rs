//! A folder of still images or a single image, decoded with `image`, turned upright by
//! their EXIF orientation. A JPEG cut short is refused rather than decoded: the decoder
//! would fill the missing part with grey and say nothing.
//!
//! A folder is read either as one frame sequence (frames of one recording, in frame order:
//! faces are tracked from frame to frame) or as a set of unrelated photos (in name order,
//! each analysed on its own). [`Stills::Auto`] tells them apart by [`read_folder_as`]'s
//! rule: numbered names of one pattern, all of one size, are a sequence.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use super::{FrameSource, Next, SourceInfo};
use crate::error::{Error, Result};
use crate::frame::Frame;

/// Extensions treated as images, lower case.
pub fn image_extensions() -> &'static [&'static str] {
    &["jpg", "jpeg", "png"]
}

/// How to read a folder of stills (`facs run --stills`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stills {
    /// Decide by the folder's file names and image sizes ([`read_folder_as`]).
    #[default]
    Auto,
    /// One frame sequence, whatever the names.
    Sequence,
    /// A set of unrelated photos, whatever the names.
    Photos,
}

impl FromStr for Stills {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Stills::Auto),
            "sequence" => Ok(Stills::Sequence),
            "photos" => Ok(Stills::Photos),
            _ => Err(Error::config("stills", s, "auto, sequence or photos")),
        }
    }
}

/// What a folder of stills was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadAs {
    /// Frames of one recording: faces tracked from frame to frame.
    Sequence,
    /// Unrelated photos: each analysed on its own, face ids from 0 in each.
    Photos,
}

impl ReadAs {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadAs::Sequence => "sequence",
            ReadAs::Photos => "photos",
        }
    }
}

/// How stills were read and why; the sidecar's `source.stills`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StillsReading {
    pub read_as: ReadAs,
    /// `auto` (the rule of [`read_folder_as`] decided) or `forced` (`--stills`).
    pub chosen: &'static str,
    /// What decided it: the rule's finding, or the flag.
    pub reason: String,
}

/// Frames from image files; a file that fails to decode is skipped and named.
pub struct ImageFolder {
    name: String,
    kind: &'static str,
    files: Vec<PathBuf>,
    /// Each file's name, as the log's `file` column gives it.
    names: Vec<Arc<str>>,
    reading: StillsReading,
    fps: f64,
    next: usize,
    first_size: Option<(u32, u32)>,
}

/// A file name's parts when it is a numbered frame name: (prefix, number, extension), e.g.
/// `frame_0012.png` -> ("frame_", 12, "png"), `000001.jpg` -> ("", 1, "jpg").
fn numbered_name(name: &str) -> Option<(&str, u128, &str)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let prefix = stem.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &stem[prefix.len()..];
    Some((prefix, digits.parse().ok()?, ext))
}

/// The rule behind [`Stills::Auto`]: a folder is one frame sequence when it holds at least
/// two images, every file name is a numbered frame name of one pattern (one prefix, a
/// number, one extension: `000001.jpg`, `frame_0001.png`) with no number twice, and every
/// image that can be read has the same size; otherwise it is a set of photos. `names` are
/// the files' names in name order and `sizes` their upright sizes (None where a header
/// cannot be read: that file is skipped later, it decides nothing). Returns the reading,
/// the reason, and for a sequence the files' order by number (the same as name order when
/// the numbers are zero-padded).
pub fn read_folder_as(
    names: &[&str],
    sizes: &[Option<(u32, u32)>],
) -> (ReadAs, String, Vec<usize>) {
    let in_name_order = || (0..names.len()).collect::<Vec<usize>>();
    let photos = |reason: String| (ReadAs::Photos, reason, in_name_order());
    if names.len() < 2 {
        return photos("a single image".into());
    }
    let mut numbered = Vec::with_capacity(names.len());
    for name in names {
        match numbered_name(name) {
            Some(parts) => numbered.push(parts),
            None => {
                return photos(format!(
                    "{name} is not a numbered frame name (prefix, number, extension, as in \
                     000001.jpg or frame_0001.png)"
                ))
            }
        }
    }
    let (prefix, _, ext) = numbered[0];
    if let Some(i) = numbered
        .iter()
        .position(|&(p, _, e)| p != prefix || e != ext)
    {
        return photos(format!(
            "{} and {} are not numbered frames of one pattern",
            names[0], names[i]
        ));
    }
    let mut order = in_name_order();
    order.sort_by_key(|&i| numbered[i].1);
    if let Some(w) = order
        .windows(2)
        .find(|w| numbered[w[0]].1 == numbered[w[1]].1)
    {
        return photos(format!(
            "{} and {} carry the same number",
            names[w[0]], names[w[1]]
        ));
    }
    let mut known = names
        .iter()
        .zip(sizes)
        .filter_map(|(n, s)| s.map(|s| (n, s)));
    let first = known.next();
    if let Some((first_name, first_size)) = first {
        if let Some((name, size)) = known.find(|(_, s)| *s != first_size) {
            return photos(format!(
                "{first_name} is {}x{} but {name} is {}x{}",
                first_size.0, first_size.1, size.0, size.1
            ));
        }
    }
    let size = first.map_or(String::new(), |(_, s)| format!(", all {}x{}", s.0, s.1));
    (
        ReadAs::Sequence,
        format!("{} files numbered {prefix}N.{ext}{size}", names.len()),
        order,
    )
}

/// The name a file goes by in the log: its file name.
fn file_name(path: &Path) -> Arc<str> {
    path.file_name()
        .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy())
        .into()
}

impl ImageFolder {
    /// Lists the images in `dir` and decides how to read them ([`Stills`]): a sequence in
    /// the order of the numbers in their names, or photos in name order.
    ///
    /// # Errors
    /// The folder cannot be read or holds no images.
    pub fn open(dir: &Path, fps: f64, stills: Stills) -> Result<Self> {
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
        let names: Vec<Arc<str>> = files.iter().map(|f| file_name(f)).collect();
        let (reading, order) = match stills {
            Stills::Auto => {
                let sizes: Vec<Option<(u32, u32)>> =
                    files.iter().map(|f| upright_dimensions(f)).collect();
                let plain: Vec<&str> = names.iter().map(|n| &**n).collect();
                let (read_as, reason, order) = read_folder_as(&plain, &sizes);
                let reading = StillsReading {
                    read_as,
                    chosen: "auto",
                    reason,
                };
                (reading, order)
            }
            Stills::Sequence | Stills::Photos => {
                let read_as = if stills == Stills::Sequence {
                    ReadAs::Sequence
                } else {
                    ReadAs::Photos
                };
                let plain: Vec<&str> = names.iter().map(|n| &**n).collect();
                // Forced, a sequence still goes by the numbers in the names where they
                // make one pattern; otherwise by name.
                let order = match read_folder_as(&plain, &vec![None; plain.len()]) {
                    (ReadAs::Sequence, _, order) if read_as == ReadAs::Sequence => order,
                    _ => (0..plain.len()).collect(),
                };
                let reading = StillsReading {
                    read_as,
                    chosen: "forced",
                    reason: format!("--stills {}", read_as.as_str()),
                };
                (reading, order)
            }
        };
        let files: Vec<PathBuf> = order.iter().map(|&i| files[i].clone()).collect();
        let names = order.iter().map(|&i| names[i].clone()).collect();
        let first_size = upright_dimensions(&files[0]);
        Ok(ImageFolder {
            name: dir.display().to_string(),
            kind: "images",
            files,
            names,
            reading,
            fps,
            next: 0,
            first_size,
        })
    }

    /// One still image as a one-frame source: a set of one photo.
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
            names: vec![file_name(path)],
            reading: StillsReading {
                read_as: ReadAs::Photos,
                chosen: "auto",
                reason: "a single image".into(),
            },
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

/// What went wrong with a file, without the file's name: the caller names it once.
fn cause(e: Error) -> String {
    match e {
        Error::Image { reason, .. } => reason,
        Error::Io { cause, .. } => cause.to_string(),
        other => other.to_string(),
    }
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
            stills: Some(self.reading.clone()),
        }
    }

    fn next_frame(&mut self) -> Result<Next> {
        let Some(path) = self.files.get(self.next) else {
            return Ok(Next::End);
        };
        let index = self.next as u64;
        let name = self.names[self.next].clone();
        self.next += 1;
        let what = path.display().to_string();
        match load_rgb(path) {
            Ok((w, h, rgb)) => {
                self.first_size.get_or_insert((w, h));
                let ts = index as f64 / self.fps;
                match Frame::new(index, ts, w, h, rgb) {
                    Some(mut f) => {
                        f.file = Some(name);
                        f.independent = self.reading.read_as == ReadAs::Photos;
                        Ok(Next::Frame(f))
                    }
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
                reason: cause(e),
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
        let mut src = ImageFolder::open(dir.path(), 10.0, Stills::Photos).unwrap();
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
    fn numbered_names_of_one_pattern_and_size_are_a_sequence() {
        let size = |n: usize| vec![Some((640, 360)); n];
        let decide = |names: &[&str], sizes: &[Option<(u32, u32)>]| {
            let (read_as, reason, order) = read_folder_as(names, sizes);
            (read_as, reason, order)
        };
        let (read_as, reason, order) =
            decide(&["000000.jpg", "000008.jpg", "000016.jpg"], &size(3));
        assert_eq!(read_as, ReadAs::Sequence);
        assert_eq!(reason, "3 files numbered N.jpg, all 640x360");
        assert_eq!(order, [0, 1, 2]);
        // Numbers without padding: name order puts 10 before 2; a sequence goes by number.
        let (read_as, reason, order) =
            decide(&["frame_1.png", "frame_10.png", "frame_2.png"], &size(3));
        assert_eq!(read_as, ReadAs::Sequence);
        assert!(reason.contains("frame_N.png"), "{reason}");
        assert_eq!(order, [0, 2, 1]);
        // A header that cannot be read decides nothing (the frame is skipped later).
        let sizes = [Some((640, 360)), None, Some((640, 360))];
        assert_eq!(
            decide(&["1.jpg", "2.jpg", "3.jpg"], &sizes).0,
            ReadAs::Sequence
        );

        let photos = |names: &[&str], sizes: &[Option<(u32, u32)>]| {
            let (read_as, reason, order) = decide(names, sizes);
            assert_eq!(read_as, ReadAs::Photos, "{names:?}: {reason}");
            assert_eq!(order, (0..names.len()).collect::<Vec<_>>(), "name order");
            reason
        };
        assert_eq!(photos(&["000001.jpg"], &size(1)), "a single image");
        assert!(photos(&["alice.jpg", "bob.jpg"], &size(2)).starts_with("alice.jpg is not"));
        assert!(photos(&["0001.jpg", "0002_left.jpg"], &size(2)).starts_with("0002_left.jpg"));
        assert_eq!(
            photos(&["a_1.jpg", "b_2.jpg"], &size(2)),
            "a_1.jpg and b_2.jpg are not numbered frames of one pattern"
        );
        assert_eq!(
            photos(&["1.jpg", "2.png"], &size(2)),
            "1.jpg and 2.png are not numbered frames of one pattern"
        );
        assert_eq!(
            photos(&["f_01.jpg", "f_1.jpg"], &size(2)),
            "f_01.jpg and f_1.jpg carry the same number"
        );
        assert_eq!(
            photos(&["1.jpg", "2.jpg"], &[Some((640, 360)), Some((1000, 667))]),
            "1.jpg is 640x360 but 2.jpg is 1000x667"
        );
    }

    #[test]
    fn a_folder_is_read_as_decided_and_its_frames_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let img = image::RgbImage::from_pixel(8, 6, image::Rgb([10, 20, 30]));
        for name in ["frame_2.png", "frame_10.png"] {
            img.save(dir.path().join(name)).unwrap();
        }
        let mut src = ImageFolder::open(dir.path(), 10.0, Stills::Auto).unwrap();
        let reading = src.info().stills.unwrap();
        assert_eq!(
            (reading.read_as, reading.chosen),
            (ReadAs::Sequence, "auto")
        );
        let Next::Frame(f) = src.next_frame().unwrap() else {
            panic!()
        };
        assert_eq!(
            (f.file.as_deref(), f.independent),
            (Some("frame_2.png"), false)
        );

        let mut src = ImageFolder::open(dir.path(), 10.0, Stills::Photos).unwrap();
        let reading = src.info().stills.unwrap();
        assert_eq!(reading.read_as, ReadAs::Photos);
        assert_eq!(
            (reading.chosen, reading.reason.as_str()),
            ("forced", "--stills photos")
        );
        let Next::Frame(f) = src.next_frame().unwrap() else {
            panic!()
        };
        // Photos go by name: frame_10 first.
        assert_eq!(
            (f.file.as_deref(), f.independent),
            (Some("frame_10.png"), true)
        );

        img.save(dir.path().join("group.png")).unwrap();
        let src = ImageFolder::open(dir.path(), 10.0, Stills::Auto).unwrap();
        let reading = src.info().stills.unwrap();
        assert_eq!(reading.read_as, ReadAs::Photos);
        assert!(
            reading
                .reason
                .starts_with("group.png is not a numbered frame name"),
            "{}",
            reading.reason
        );
    }

    #[test]
    fn a_skipped_file_is_named_by_the_caller_not_in_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.jpg"), b"not a jpeg").unwrap();
        let mut src = ImageFolder::open(dir.path(), 10.0, Stills::Auto).unwrap();
        match src.next_frame().unwrap() {
            Next::Skipped { what, reason, .. } => {
                assert!(what.ends_with("bad.jpg"), "{what}");
                assert!(!reason.contains("bad.jpg"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = ImageFolder::open(dir.path(), 30.0, Stills::Auto)
            .err()
            .unwrap();
        assert!(err.to_string().contains("no images"));
    }
}
