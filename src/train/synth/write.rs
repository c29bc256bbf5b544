//! Writing a synthetic data set: the images, an EmotioNet-style `labels.csv` and the marker
//! that says the faces are drawn.

use std::fs;
use std::path::Path;

use super::{face_seed, render, sample_labels, SynthConfig, SynthSummary};
use super::{SYNTH_MARKER, SYNTH_MARKER_FORMAT};
use crate::error::{Error, Result};
use crate::frame::{EMOTIONS, NUM_AUS};
use crate::train::dataset::{write_csv, Sample};

/// Renders `cfg.count` faces to `out_dir/images/000000.png`... and writes
/// `out_dir/labels.csv` (EmotioNet-style, see [`crate::train::dataset`]). Uses all cores; the
/// output depends only on `cfg`.
///
/// # Errors
/// Invalid settings; [`Error::Io`] or [`Error::Image`] when a file cannot be written.
pub fn write_dataset(cfg: &SynthConfig, out_dir: &Path) -> Result<SynthSummary> {
    cfg.validate()?;
    let images_dir = out_dir.join("images");
    fs::create_dir_all(&images_dir).map_err(|e| Error::io(&images_dir, e))?;
    let labels: Vec<([bool; NUM_AUS], Option<usize>)> = (0..cfg.count as u64)
        .map(|i| sample_labels(cfg, i))
        .collect();
    let name = |i: usize| format!("{i:06}.png");
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16);
    let chunk = cfg.count.div_ceil(threads).max(1);
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::new();
        for (t, part) in labels.chunks(chunk).enumerate() {
            let images_dir = &images_dir;
            let handle = std::thread::Builder::new()
                .name(format!("synth-{t}"))
                .spawn_scoped(scope, move || -> Result<()> {
                    for (k, (aus, _)) in part.iter().enumerate() {
                        let i = t * chunk + k;
                        let img = render(face_seed(cfg, i as u64), aus, cfg.size);
                        let path = images_dir.join(name(i));
                        img.save(&path).map_err(|e| Error::Image {
                            path: path.clone(),
                            reason: e.to_string(),
                        })?;
                    }
                    Ok(())
                })
                .map_err(|e| Error::Stage("synth", e.to_string()))?;
            handles.push(handle);
        }
        for h in handles {
            h.join()
                .map_err(|_| Error::Stage("synth", "a render thread panicked".into()))??;
        }
        Ok(())
    })?;
    let samples: Vec<Sample> = labels
        .iter()
        .enumerate()
        .map(|(i, (aus, emotion))| Sample {
            path: images_dir.join(name(i)),
            line: i + 2,
            aus: aus.map(Some),
            emotion: *emotion,
        })
        .collect();
    let csv = out_dir.join("labels.csv");
    write_csv(&samples, &images_dir, &csv)?;
    // The marker that tells `facs train` (and every model it writes) these faces are drawn.
    let marker = serde_json::json!({
        "format": SYNTH_MARKER_FORMAT,
        "note": "synthetic faces from `facs synth`: for checking the training machinery, never a measure of real-world accuracy",
        "count": cfg.count,
        "seed": cfg.seed,
        "size": cfg.size,
        "au_rates": cfg.au_rates,
        "emotion": cfg.emotion,
    });
    crate::util::json::write_json_atomic(&out_dir.join(SYNTH_MARKER), &marker)?;
    let mut summary = SynthSummary {
        count: cfg.count,
        au_positives: [0; NUM_AUS],
        emotions: [0; EMOTIONS.len()],
        emotion_unlabelled: 0,
        csv,
        images_dir,
    };
    for (aus, emotion) in &labels {
        for (n, &a) in summary.au_positives.iter_mut().zip(aus) {
            *n += usize::from(a);
        }
        match emotion {
            Some(e) => summary.emotions[*e] += 1,
            None => summary.emotion_unlabelled += 1,
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_dataset_that_loads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = SynthConfig {
            count: 12,
            seed: 3,
            size: 64,
            emotion: true,
            ..Default::default()
        };
        let summary = write_dataset(&cfg, tmp.path()).unwrap();
        assert_eq!(summary.count, 12);
        assert!(tmp.path().join("images/000011.png").is_file());
        let ds = crate::train::dataset::load_csv(&summary.csv, &summary.images_dir, false).unwrap();
        assert_eq!(ds.samples.len(), 12);
        assert!(ds.bad_rows.is_empty());
        for (i, s) in ds.samples.iter().enumerate() {
            let (aus, emotion) = sample_labels(&cfg, i as u64);
            assert_eq!(s.aus, aus.map(Some));
            assert_eq!(s.emotion, emotion);
        }
        let positives: usize = summary.au_positives.iter().sum();
        let from_csv: usize = ds.summary().aus.iter().map(|c| c.positive).sum();
        assert_eq!(positives, from_csv);
        let img = image::open(tmp.path().join("images/000000.png"))
            .unwrap()
            .to_rgb8();
        assert_eq!(img.dimensions(), (64, 64));
        assert_eq!(
            img.as_raw(),
            render(face_seed(&cfg, 0), &sample_labels(&cfg, 0).0, 64).as_raw()
        );
        assert!(write_dataset(
            &SynthConfig {
                size: 8,
                ..Default::default()
            },
            tmp.path()
        )
        .is_err());
    }
}
