//! `facs plot`: a recording's AUs over time from its log, one lane per AU (score line,
//! present spans shaded, threshold dashed), then happy and the top emotion, titled with the
//! recording, where the AUs came from, the face and the date.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::dataset::csv_error as bad;
use super::plot::{save_png, timeline, ClassLane, Lane, PALETTE};
use crate::error::{Error, Result};
use crate::frame::{au_description, au_name, AU_NUMBERS, EMOTIONS};
use crate::util::time::utc_date;

/// Colours of the emotions in the top-emotion lane, in [`EMOTIONS`] order.
const EMOTION_COLOURS: [u32; 7] = [
    0xD62728, 0x8C564B, 0x9467BD, 0xFFBF00, 0x1F77B4, 0x17BECF, 0xBBBBBB,
];

/// One face's values in one frame.
#[derive(Clone, Debug, Default)]
struct Sample {
    au_p: [Option<f32>; 11],
    au_c: [Option<bool>; 11],
    happy: Option<f32>,
    emotions: Option<[f32; 7]>,
}

/// What `facs plot` drew.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotSummary {
    pub face_id: u64,
    /// Frames in the log.
    pub frames: usize,
    /// Frames with the plotted face.
    pub frames_with_face: usize,
    /// Unreadable rows, skipped: (line, reason).
    pub bad_rows: Vec<(usize, String)>,
    pub out: PathBuf,
}

/// The recording's name and the AU source from the log's sidecar, when it has one.
fn sidecar_facts(log: &Path) -> (Option<String>, Option<String>) {
    let side = crate::log::sidecar_path(log);
    let Some(v) = std::fs::read_to_string(&side)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    else {
        return (None, None);
    };
    let recording = v["source"]["name"].as_str().map(str::to_string);
    let au_source = v["au_source"]
        .as_str()
        .or_else(|| v["summary"]["au_source"].as_str())
        .map(str::to_string);
    (recording, au_source)
}

/// Draws `log` (a facs CSV log) into `out` (PNG). `face`: the face id to plot; by default
/// the one in most frames.
///
/// # Errors
/// The log cannot be read or lacks the columns (`frame`, `face_id`, `timestamp`, AU
/// columns); it has no face (or not `face`); the PNG cannot be written.
pub fn plot_log(log: &Path, out: &Path, face: Option<u64>) -> Result<PlotSummary> {
    let text = std::fs::read_to_string(log).map_err(|e| Error::io(log, e))?;
    let text = text.trim_start_matches('\u{feff}');
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = rdr
        .headers()
        .map_err(|e| bad(log, format!("header: {e}")))?
        .clone();
    let col = |name: &str| header.iter().position(|h| h == name);
    let need = |name: &str| {
        col(name).ok_or_else(|| {
            bad(
                log,
                format!("no `{name}` column: not a facs CSV log (facs run --log FILE.csv)"),
            )
        })
    };
    let (frame_col, face_col, ts_col) = (need("frame")?, need("face_id")?, need("timestamp")?);
    let p_cols: Vec<Option<usize>> = AU_NUMBERS
        .iter()
        .map(|n| col(&format!("AU{n:02}_p")))
        .collect();
    let c_cols: Vec<Option<usize>> = AU_NUMBERS
        .iter()
        .map(|n| col(&format!("AU{n:02}_c")))
        .collect();
    let happy_col = col("happy");
    let e_cols: Vec<Option<usize>> = EMOTIONS
        .iter()
        .map(|e| col(&format!("emotion_{e}")))
        .collect();
    // frame -> (timestamp, face id -> sample)
    let mut frames: BTreeMap<u64, (f32, BTreeMap<u64, Sample>)> = BTreeMap::new();
    let mut bad_rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                bad_rows.push((line, e.to_string()));
                continue;
            }
        };
        let num = |c: Option<usize>| -> Option<f32> {
            c.and_then(|c| rec.get(c))
                .and_then(|v| v.parse::<f32>().ok())
        };
        let (Some(frame), Some(ts)) = (
            rec.get(frame_col).and_then(|v| v.parse::<u64>().ok()),
            num(Some(ts_col)),
        ) else {
            bad_rows.push((line, "no frame number or timestamp".into()));
            continue;
        };
        let entry = frames.entry(frame).or_insert((ts, BTreeMap::new()));
        let Some(id) = rec.get(face_col).and_then(|v| v.parse::<u64>().ok()) else {
            continue; // a frame without a face
        };
        let mut s = Sample {
            happy: num(happy_col),
            ..Sample::default()
        };
        for k in 0..AU_NUMBERS.len() {
            s.au_p[k] = num(p_cols[k]);
            s.au_c[k] = num(c_cols[k]).map(|v| v >= 0.5);
        }
        let e: Vec<Option<f32>> = e_cols.iter().map(|c| num(*c)).collect();
        if e.iter().all(Option::is_some) {
            let mut arr = [0f32; 7];
            for (a, v) in arr.iter_mut().zip(&e) {
                *a = v.unwrap_or(0.0);
            }
            s.emotions = Some(arr);
        }
        entry.1.insert(id, s);
    }
    if frames.is_empty() {
        return Err(bad(log, "no frame rows".into()));
    }
    let face_id = match face {
        Some(id) => id,
        None => {
            let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
            for (_, faces) in frames.values() {
                for id in faces.keys() {
                    *counts.entry(*id).or_default() += 1;
                }
            }
            counts
                .into_iter()
                .max_by_key(|&(id, n)| (n, std::cmp::Reverse(id)))
                .map(|(id, _)| id)
                .ok_or_else(|| bad(log, "no face in any frame: nothing to plot".into()))?
        }
    };
    let series: Vec<(f32, Option<&Sample>)> = frames
        .values()
        .map(|(ts, faces)| (*ts, faces.get(&face_id)))
        .collect();
    let with_face = series.iter().filter(|s| s.1.is_some()).count();
    if with_face == 0 {
        return Err(bad(
            log,
            format!("face {face_id} is in no frame of the log"),
        ));
    }
    // A frame's span runs to the next frame's time; the last one gets the median step.
    let mut steps: Vec<f32> = series.windows(2).map(|w| w[1].0 - w[0].0).collect();
    steps.sort_by(f32::total_cmp);
    let last_step = steps
        .get(steps.len() / 2)
        .copied()
        .unwrap_or(0.04)
        .max(1e-3);
    let end_of = |i: usize| series.get(i + 1).map_or(series[i].0 + last_step, |n| n.0);
    let spans_where = |on: &dyn Fn(&Sample) -> bool| {
        let mut spans: Vec<(f32, f32)> = Vec::new();
        for (i, (t, s)) in series.iter().enumerate() {
            if s.is_some_and(on) {
                match spans.last_mut() {
                    Some(last) if (last.1 - t).abs() < 1e-6 => last.1 = end_of(i),
                    _ => spans.push((*t, end_of(i))),
                }
            }
        }
        spans
    };
    let mut lanes = Vec::new();
    for (k, &au) in AU_NUMBERS.iter().enumerate() {
        let points: Vec<(f32, f32)> = series
            .iter()
            .map(|(t, s)| (*t, s.and_then(|s| s.au_p[k]).unwrap_or(f32::NAN)))
            .collect();
        // The lowest score marked present: the threshold the run used.
        let threshold = series
            .iter()
            .filter_map(|(_, s)| {
                s.filter(|s| s.au_c[k] == Some(true))
                    .and_then(|s| s.au_p[k])
            })
            .reduce(f32::min);
        lanes.push(Lane {
            name: format!("{} {}", au_name(au), au_description(au)),
            colour: PALETTE[k % PALETTE.len()],
            points,
            present: spans_where(&|s: &Sample| s.au_c[k] == Some(true)),
            threshold,
        });
    }
    lanes.push(Lane {
        name: "happy".into(),
        colour: EMOTION_COLOURS[3],
        points: series
            .iter()
            .map(|(t, s)| (*t, s.and_then(|s| s.happy).unwrap_or(f32::NAN)))
            .collect(),
        present: spans_where(&|s: &Sample| s.happy.is_some_and(|h| h >= 0.5)),
        threshold: Some(0.5),
    });
    let top = |s: &Sample| {
        s.emotions.map(|e| {
            (0..e.len())
                .max_by(|&a, &b| e[a].total_cmp(&e[b]))
                .unwrap_or(0)
        })
    };
    let mut spans: Vec<(f32, f32, usize)> = Vec::new();
    for (i, (t, s)) in series.iter().enumerate() {
        if let Some(k) = s.and_then(top) {
            match spans.last_mut() {
                Some(last) if last.2 == k && (last.1 - t).abs() < 1e-6 => last.1 = end_of(i),
                _ => spans.push((*t, end_of(i), k)),
            }
        }
    }
    let classes = (!spans.is_empty()).then(|| ClassLane {
        name: "top emotion".into(),
        classes: EMOTIONS
            .iter()
            .zip(EMOTION_COLOURS)
            .map(|(e, c)| (e.to_string(), c))
            .collect(),
        spans,
    });
    let (recording, au_source) = sidecar_facts(log);
    let recording = recording.unwrap_or_else(|| log.display().to_string());
    let date = std::fs::metadata(log)
        .and_then(|m| m.modified())
        .map_or_else(
            |_| "date unknown".into(),
            |t| format!("logged {}", utc_date(t)),
        );
    let subtitle = format!(
        "face {face_id} in {with_face} of {} frames · AUs: {} · log {} · {date} · shaded: present, dashed: threshold",
        series.len(),
        au_source.as_deref().unwrap_or("see the log's sidecar"),
        log.display(),
    );
    let img = timeline(
        &format!("AUs over time: {recording}"),
        &subtitle,
        &lanes,
        classes.as_ref(),
    )?;
    save_png(&img, out)?;
    Ok(PlotSummary {
        face_id,
        frames: series.len(),
        frames_with_face: with_face,
        bad_rows,
        out: out.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log of `n` frames at 10 fps: face 0 smiles (AU12 0.9, present) in frames 10..20,
    /// is missing in frame 25, and a second face appears in frames 0..5 only.
    fn write_log(path: &Path, n: u64) {
        let mut h = vec!["frame", "face_id", "timestamp"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        h.extend(AU_NUMBERS.iter().map(|a| format!("AU{a:02}_p")));
        h.extend(AU_NUMBERS.iter().map(|a| format!("AU{a:02}_c")));
        h.push("happy".into());
        h.extend(EMOTIONS.iter().map(|e| format!("emotion_{e}")));
        let mut lines = vec![h.join(",")];
        for f in 1..=n {
            let ts = format!("{:.3}", (f - 1) as f64 / 10.0);
            let mut ids = vec![];
            if f != 25 {
                ids.push(0);
            }
            if f <= 5 {
                ids.push(1);
            }
            if ids.is_empty() {
                lines.push(format!("{f},,{ts}"));
            }
            for id in ids {
                let smile = (10..20).contains(&f) && id == 0;
                let mut r = vec![f.to_string(), id.to_string(), ts.clone()];
                for k in 0..11 {
                    r.push(if k == 6 && smile {
                        "0.9".into()
                    } else {
                        "0.1".into()
                    });
                }
                for k in 0..11 {
                    r.push(if k == 6 && smile {
                        "1".into()
                    } else {
                        "0".into()
                    });
                }
                r.push(if smile { "0.95" } else { "0.05" }.into());
                for e in 0..7 {
                    let on = if smile { e == 3 } else { e == 6 };
                    r.push(if on { "0.9" } else { "0.01" }.into());
                }
                lines.push(r.join(","));
            }
        }
        std::fs::write(path, lines.join("\n")).unwrap();
    }

    #[test]
    fn the_face_seen_most_is_plotted_with_its_smile_shaded() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("run.csv");
        write_log(&log, 40);
        let out = dir.path().join("fig.png");
        let s = plot_log(&log, &out, None).unwrap();
        assert_eq!((s.face_id, s.frames, s.frames_with_face), (0, 40, 39));
        let img = image::open(&out).unwrap().to_rgb8();
        assert_eq!(img.width(), super::super::plot::TIMELINE_WIDTH);
        // The AU12 lane (7th) is shaded between 0.9 s and 1.9 s and not elsewhere: compare
        // the number of non-background pixels inside and outside the smile in that lane.
        let lane = 6;
        let top = 40 + 26 + lane * super::super::plot::TIMELINE_LANE;
        let x0 = super::super::plot::TIMELINE_NAMES;
        let x1 = super::super::plot::TIMELINE_WIDTH as i32 - 20;
        // The axis runs from 0 s to the end of the last frame (3.9 s + one 0.1 s step).
        let x_of = |t: f32| x0 + (t / 4.0 * (x1 - x0) as f32) as i32;
        let coloured = |xa: i32, xb: i32| {
            (xa..xb)
                .filter(|&x| {
                    // Row 20 of the lane: below the threshold's dashes (0.9), above the line at 0.1.
                    let p = img.get_pixel(x as u32, (top + 20) as u32);
                    // Not white, not the light grey band.
                    p[0] < 235 || p[1] < 235 || p[2] < 235
                })
                .count() as f32
                / (xb - xa) as f32
        };
        let inside = coloured(x_of(1.0), x_of(1.8));
        let outside = coloured(x_of(2.2), x_of(3.5));
        assert!(
            inside > 0.9 && outside < 0.1,
            "inside {inside}, outside {outside}"
        );
        // Face 1 on request; a face that is not there is refused.
        assert_eq!(plot_log(&log, &out, Some(1)).unwrap().frames_with_face, 5);
        let e = plot_log(&log, &out, Some(7)).unwrap_err().to_string();
        assert!(e.contains("face 7 is in no frame"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_a_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, "image,AU12\na.jpg,1\n").unwrap();
        let e = plot_log(&p, &dir.path().join("o.png"), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no `frame` column") && e.contains("x.csv"),
            "{e}"
        );
        assert!(!dir.path().join("o.png").exists());
    }
}
