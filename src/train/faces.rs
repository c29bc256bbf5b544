//! Faces for training and evaluation, prepared exactly as the live pipeline prepares them:
//! the pipeline's detector finds the largest face, the landmark network places it, and the
//! crop is the network's ([`AuCrop`]): aligned to the 5-point template (a box crop when
//! landmarks fail), or the expression net's box crop. Crops are cached as PNG so later
//! epochs and runs skip detection.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use candle_core::Device;
use serde::Serialize;

use super::dataset::Sample;
use super::synth::is_synthetic;
use crate::align::{au_net_crop_and_landmarks, AuCrop};
use crate::config::DetectConfig;
use crate::detect::Detector;
use crate::error::{Error, Result};
use crate::frame::{Frame, Landmarks, NUM_AUS};
use crate::model::landmarks::LandmarkNet;
use crate::source::{decode_rgb, load_rgb};
use crate::util::png::save_rgb_png;
use crate::util::progress::{report, Progress, ProgressFn};
use crate::weights::{sha256_hex, FACEAPI_LANDMARKS};

/// Crops and labels ready for the network.
#[derive(Debug, Default)]
pub struct Prepared {
    pub side: u32,
    /// `side * side * 3` bytes per sample, RGB.
    pub crops: Vec<u8>,
    pub labels: Vec<[Option<bool>; NUM_AUS]>,
    pub emotions: Vec<Option<usize>>,
    pub paths: Vec<PathBuf>,
    /// What could not be used, for the report.
    pub skipped: PrepareReport,
    /// How many of the samples are synthetic faces from `facs synth`.
    pub synthetic: usize,
    /// Each sample's 68 landmarks in crop pixels (None for a box crop).
    pub landmarks: Vec<Option<Landmarks>>,
}

/// Images that produced no training sample, and why.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PrepareReport {
    pub no_face: Vec<PathBuf>,
    pub unreadable: Vec<(PathBuf, String)>,
    pub from_cache: usize,
}

impl Prepared {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The crop of sample `i`.
    pub fn crop(&self, i: usize) -> &[u8] {
        let n = (self.side * self.side * 3) as usize;
        &self.crops[i * n..(i + 1) * n]
    }
}

/// The face crop of one image, as the pipeline would make it.
pub struct FacePreparer {
    detector: Detector,
    landmarks: LandmarkNet,
    side: u32,
    crop: AuCrop,
    scratch: Vec<u8>,
}

impl FacePreparer {
    /// # Errors
    /// The detector or landmark weights cannot be loaded.
    pub fn new(models_dir: &Path, side: u32, crop: AuCrop) -> Result<Self> {
        Ok(FacePreparer {
            detector: Detector::new(models_dir, &DetectConfig::default())?,
            landmarks: LandmarkNet::load(models_dir, &Device::Cpu)?,
            side,
            crop,
            scratch: Vec::new(),
        })
    }

    /// The crop of the largest face in `frame` and its landmarks in crop pixels (found for
    /// either crop: augmentation and the report use them), or None without a face.
    ///
    /// # Errors
    /// The landmark network failed.
    pub fn crop_frame(&mut self, frame: &Frame) -> Result<Option<(Vec<u8>, Option<Landmarks>)>> {
        let Some(face) = self.detector.detect(frame).first().copied() else {
            return Ok(None);
        };
        let marks = self.landmarks.detect(frame, &[face], &mut self.scratch)?;
        Ok(Some(au_net_crop_and_landmarks(
            frame,
            &face,
            marks[0].as_ref(),
            self.side,
            self.crop,
        )))
    }
}

/// The crop kind in a cache name, bumped whenever [`crate::align::au_net_crop`] changes that
/// kind, so that a cache never serves crops of another kind.
fn crop_version(crop: AuCrop) -> &'static str {
    match crop {
        AuCrop::Aligned => "rigid3",
        AuCrop::Box => "box1",
    }
}

/// The cache file name of an image's crop: a digest of the image's bytes (so a changed
/// image is prepared again, and a moved one is still found), the crop size, the crop kind
/// and the landmark weights that placed the face.
fn cache_name(image_bytes: &[u8], side: u32, crop: AuCrop) -> String {
    let digest = sha256_hex(image_bytes);
    let marks = FACEAPI_LANDMARKS.sha256.get(..8).unwrap_or("");
    let kind = crop_version(crop);
    format!("{}_{side}_{kind}_{marks}", &digest[..32])
}

/// What became of one image.
enum Outcome {
    Crop {
        rgb: Vec<u8>,
        landmarks: Option<Landmarks>,
        from_cache: bool,
    },
    NoFace,
    Unreadable(String),
}

/// One sample: its cached crop, or detection + landmarks + alignment (then cached).
fn prepare_one(
    s: &Sample,
    preparer: &mut Option<FacePreparer>,
    models_dir: &Path,
    side: u32,
    crop: AuCrop,
    cache: Option<&Path>,
) -> Result<Outcome> {
    // The image is read once: its bytes name the cache entry and, on a miss, are decoded.
    let bytes = match std::fs::read(&s.path) {
        Ok(b) => b,
        Err(e) => return Ok(Outcome::Unreadable(Error::io(&s.path, e).to_string())),
    };
    let cached = cache.map(|d| d.join(cache_name(&bytes, side, crop)));
    if let Some(c) = &cached {
        if c.with_extension("png").is_file() {
            return Ok(match load_rgb(&c.with_extension("png")) {
                Ok((_, _, rgb)) if rgb.len() == (side * side * 3) as usize => Outcome::Crop {
                    rgb,
                    landmarks: read_landmarks(&c.with_extension("landmarks")),
                    from_cache: true,
                },
                _ => Outcome::Unreadable(format!("cached crop {} unreadable", c.display())),
            });
        }
        if c.with_extension("noface").is_file() {
            return Ok(Outcome::NoFace);
        }
    }
    let (w, h, rgb) = match decode_rgb(&bytes, &s.path) {
        Ok(v) => v,
        Err(e) => return Ok(Outcome::Unreadable(e.to_string())),
    };
    let Some(frame) = Frame::new(0, 0.0, w, h, rgb) else {
        return Ok(Outcome::Unreadable("empty image".into()));
    };
    let p = match preparer.as_mut() {
        Some(p) => p,
        None => preparer.insert(FacePreparer::new(models_dir, side, crop)?),
    };
    let crop = p.crop_frame(&frame)?;
    if let Some(c) = &cached {
        match &crop {
            Some((rgb, pts)) => {
                if let Some(pts) = pts {
                    let text: Vec<String> =
                        pts.iter().map(|(x, y)| format!("{x:.2} {y:.2}")).collect();
                    std::fs::write(c.with_extension("landmarks"), text.join("\n"))
                        .map_err(|e| Error::io(c, e))?;
                }
                // The crop last: its presence marks the entry complete.
                save_rgb_png(&c.with_extension("png"), side, side, rgb)?
            }
            None => std::fs::write(c.with_extension("noface"), b"").map_err(|e| Error::io(c, e))?,
        }
    }
    Ok(match crop {
        Some((rgb, landmarks)) => Outcome::Crop {
            rgb,
            landmarks,
            from_cache: false,
        },
        None => Outcome::NoFace,
    })
}

/// Landmarks cached beside a crop (68 lines of "x y"), or None when absent or malformed.
fn read_landmarks(path: &Path) -> Option<Landmarks> {
    let text = std::fs::read_to_string(path).ok()?;
    let pts: Vec<(f32, f32)> = text
        .lines()
        .map(|l| {
            let mut it = l.split_whitespace().map(str::parse::<f32>);
            Some((it.next()?.ok()?, it.next()?.ok()?))
        })
        .collect::<Option<Vec<_>>>()?;
    pts.try_into().ok()
}

/// Prepares every sample (see [`prepare_one`]) on one worker thread per core, each with its
/// own detector and landmark network; the result is in sample order whatever the threads.
/// Images that cannot be read or show no face are listed, not fatal. The crop is
/// [`AuCrop::Aligned`] ([`prepare_with_progress`] takes either).
///
/// # Errors
/// Models cannot be loaded, or the cache folder cannot be written.
pub fn prepare(
    samples: &[Sample],
    models_dir: &Path,
    side: u32,
    cache: Option<&Path>,
) -> Result<Prepared> {
    prepare_with_progress(samples, models_dir, side, AuCrop::Aligned, cache, None)
}

/// [`prepare`] with the crop `crop`, reporting each face prepared to `progress` (task
/// `faces`).
///
/// # Errors
/// As [`prepare`].
pub fn prepare_with_progress(
    samples: &[Sample],
    models_dir: &Path,
    side: u32,
    crop: AuCrop,
    cache: Option<&Path>,
    progress: Option<&ProgressFn>,
) -> Result<Prepared> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let result = prepare_on(samples, models_dir, side, crop, cache, threads, progress);
    report(progress, Progress::Done { task: "faces" });
    result
}

/// [`prepare`] on `threads` worker threads (at most 8, at most one per sample).
fn prepare_on(
    samples: &[Sample],
    models_dir: &Path,
    side: u32,
    crop: AuCrop,
    cache: Option<&Path>,
    threads: usize,
    progress: Option<&ProgressFn>,
) -> Result<Prepared> {
    let mut out = Prepared {
        side,
        ..Default::default()
    };
    if let Some(dir) = cache {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let threads = threads.clamp(1, 8).min(samples.len().max(1));
    let done = AtomicU64::new(0);
    let total = samples.len() as u64;
    let done = &done;
    // Thread t takes samples t, t + threads, ... so slow and fast images spread evenly.
    let outcomes: Vec<Vec<Outcome>> = std::thread::scope(|scope| -> Result<Vec<Vec<Outcome>>> {
        let handles = (0..threads)
            .map(|t| {
                std::thread::Builder::new()
                    .name(format!("prepare-{t}"))
                    .spawn_scoped(scope, move || -> Result<Vec<Outcome>> {
                        let mut preparer = None;
                        samples
                            .iter()
                            .skip(t)
                            .step_by(threads)
                            .map(|s| {
                                let outcome =
                                    prepare_one(s, &mut preparer, models_dir, side, crop, cache);
                                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                                report(
                                    progress,
                                    Progress::Step {
                                        task: "faces",
                                        done: n,
                                        total: Some(total),
                                        detail: "faces found and aligned".into(),
                                    },
                                );
                                outcome
                            })
                            .collect()
                    })
                    .map_err(|e| Error::Stage("prepare", e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| Error::Stage("prepare", "a worker panicked".into()))?
            })
            .collect()
    })?;
    let mut per_thread: Vec<_> = outcomes.into_iter().map(Vec::into_iter).collect();
    // The last image folder seen and whether it is a `facs synth` one (one check per folder).
    let mut synthetic_dir: Option<(PathBuf, bool)> = None;
    for (i, s) in samples.iter().enumerate() {
        let Some(outcome) = per_thread[i % threads].next() else {
            return Err(Error::Stage(
                "prepare",
                "a worker returned too few crops".into(),
            ));
        };
        match outcome {
            Outcome::Crop {
                rgb,
                landmarks,
                from_cache,
            } => {
                out.skipped.from_cache += usize::from(from_cache);
                out.crops.extend_from_slice(&rgb);
                out.landmarks.push(landmarks);
                out.labels.push(s.aus);
                out.emotions.push(s.emotion);
                out.paths.push(s.path.clone());
                let dir = s.path.parent();
                if synthetic_dir.as_ref().map(|(d, _)| d.as_path()) != dir {
                    synthetic_dir = dir.map(|d| (d.to_path_buf(), is_synthetic(&s.path)));
                }
                out.synthetic += usize::from(synthetic_dir.as_ref().is_some_and(|(_, y)| *y));
            }
            Outcome::NoFace => out.skipped.no_face.push(s.path.clone()),
            Outcome::Unreadable(why) => out.skipped.unreadable.push((s.path.clone(), why)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> (PathBuf, Vec<Sample>) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join("tests/fixtures/wolfgang"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
            .take(7)
            .collect();
        paths.sort();
        // One image that cannot be read, in the middle, to check that skips keep the order.
        paths.insert(3, root.join("tests/fixtures/README.md"));
        let samples = paths
            .into_iter()
            .enumerate()
            .map(|(i, path)| Sample {
                path,
                line: i + 2,
                aus: [Some(i % 2 == 0); NUM_AUS],
                emotion: None,
            })
            .collect();
        (root.join("models"), samples)
    }

    #[test]
    fn crops_are_the_same_whatever_the_number_of_threads() {
        let (models, samples) = fixtures();
        let one = prepare_on(&samples, &models, 48, AuCrop::Aligned, None, 1, None).unwrap();
        for threads in [2, 3] {
            // Every sample is reported once, whatever thread prepared it.
            let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let into = std::sync::Arc::clone(&seen);
            let sink = move |p: Progress| {
                if let Progress::Step { done, total, .. } = p {
                    into.lock().unwrap().push((done, total));
                }
            };
            let many = prepare_on(
                &samples,
                &models,
                48,
                AuCrop::Aligned,
                None,
                threads,
                Some(&sink),
            )
            .unwrap();
            let mut seen = seen.lock().unwrap().clone();
            seen.sort();
            let n = samples.len() as u64;
            assert_eq!(seen, (1..=n).map(|d| (d, Some(n))).collect::<Vec<_>>());
            assert_eq!(many.paths, one.paths, "{threads} threads");
            assert_eq!(many.labels, one.labels, "{threads} threads");
            assert!(many.crops == one.crops, "{threads} threads: crops differ");
            assert_eq!(many.landmarks, one.landmarks, "{threads} threads");
            assert_eq!(many.skipped.unreadable.len(), 1);
        }
        assert_eq!(one.len(), samples.len() - 1);
        // The crops are in sample order: the first crop is the first image's.
        let first = prepare_on(&samples[..1], &models, 48, AuCrop::Aligned, None, 1, None).unwrap();
        assert!(first.crop(0) == one.crop(0));
    }

    #[test]
    fn the_cache_follows_the_image_bytes_not_the_path() {
        let (models, samples) = fixtures();
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("crops");
        let image = tmp.path().join("face.jpg");
        let sample = |path: &Path| Sample {
            path: path.to_path_buf(),
            ..samples[0].clone()
        };
        std::fs::copy(&samples[0].path, &image).unwrap();
        let first = prepare_on(
            &[sample(&image)],
            &models,
            48,
            AuCrop::Aligned,
            Some(&cache),
            1,
            None,
        )
        .unwrap();
        assert_eq!(first.skipped.from_cache, 0);
        let again = prepare_on(
            &[sample(&image)],
            &models,
            48,
            AuCrop::Aligned,
            Some(&cache),
            1,
            None,
        )
        .unwrap();
        assert_eq!(again.skipped.from_cache, 1);
        // Another picture under the same name: prepared afresh, its own crop.
        std::fs::copy(&samples[5].path, &image).unwrap();
        let changed = prepare_on(
            &[sample(&image)],
            &models,
            48,
            AuCrop::Aligned,
            Some(&cache),
            1,
            None,
        )
        .unwrap();
        let fresh = prepare_on(
            &[sample(&samples[5].path)],
            &models,
            48,
            AuCrop::Aligned,
            None,
            1,
            None,
        )
        .unwrap();
        assert_eq!(changed.skipped.from_cache, 0);
        assert!(changed.crops == fresh.crops && changed.crops != first.crops);
        // The same bytes under another name: served from the cache.
        let moved = tmp.path().join("moved.jpg");
        std::fs::copy(&samples[5].path, &moved).unwrap();
        let found = prepare_on(
            &[sample(&moved)],
            &models,
            48,
            AuCrop::Aligned,
            Some(&cache),
            1,
            None,
        )
        .unwrap();
        assert_eq!(found.skipped.from_cache, 1);
        assert!(found.crops == fresh.crops);
    }

    #[test]
    fn a_box_crop_is_the_expression_nets_crop_of_the_detected_face_and_cached_apart() {
        let (models, samples) = fixtures();
        let tmp = tempfile::tempdir().unwrap();
        let cache = Some(tmp.path().join("crops"));
        let one = &samples[..1];
        let prep = |crop| prepare_on(one, &models, 112, crop, cache.as_deref(), 1, None).unwrap();
        let boxed = prep(AuCrop::Box);
        // The other kind is never served from the cache.
        let aligned = prep(AuCrop::Aligned);
        assert_eq!(
            (boxed.skipped.from_cache, aligned.skipped.from_cache),
            (0, 0)
        );
        assert!(boxed.crops != aligned.crops);
        let again = prep(AuCrop::Box);
        assert_eq!(again.skipped.from_cache, 1);
        assert!(again.crops == boxed.crops);
        // Cached landmarks are written to 0.01 px.
        let (a, b) = (again.landmarks[0].unwrap(), boxed.landmarks[0].unwrap());
        assert!(a
            .iter()
            .zip(&b)
            .all(|(p, q)| (p.0 - q.0).abs() <= 0.006 && (p.1 - q.1).abs() <= 0.006));
        // The crop face-api's expression net takes of the face the pipeline's detector finds.
        let (w, h, rgb) = load_rgb(&one[0].path).unwrap();
        let frame = Frame::new(0, 0.0, w, h, rgb).unwrap();
        let face = Detector::new(&models, &DetectConfig::default())
            .unwrap()
            .detect(&frame)[0];
        let margin = crate::model::emotion::EmotionModel::FaceApi.crop_margin();
        let want = crate::align::box_crop(&frame, &face, margin, 112);
        assert!(boxed.crop(0) == want.as_slice());
        // The landmarks are still found, in the box crop's pixels: the eyes in its upper half.
        let pts = boxed.landmarks[0].unwrap();
        assert!(
            pts[36..48].iter().all(|p| p.1 > 0.0 && p.1 < 56.0),
            "{pts:?}"
        );
    }
}
