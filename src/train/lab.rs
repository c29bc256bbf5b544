//! Scoring a per-frame log against labels of frames: how a lab checks whatever filled the
//! AU columns (a trained network or the geometric estimator) on its own footage.
//!
//! The labels are a CSV with a `frame` column (1-based, as in facs's logs), AU columns in
//! the dataset's style (`AU12` or `AU01`; `1` present, `0` absent, `999` or empty unknown),
//! and optionally `face_id` (which face of the frame is meant) and `emotion` (a name from
//! [`EMOTIONS`]). Other columns (notes, states) are ignored.
//!
//! Each labelled frame is matched with the log's rows of that frame: the face with the
//! label's `face_id`, or the only face, or else the largest face. A labelled frame in which
//! the log found no face counts as "AU absent" for every AU (a positive there is a miss,
//! as it would be in the log) and has no emotion prediction. The log's own decisions
//! (`AUxx_c`) are what precision, recall and F1 count; its scores (`AUxx_p`) give the
//! ranking measures (PR curves, ROC-AUC).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::dataset::{au_index, au_number, csv_error as bad, emotion_index, separator};
use super::metrics::{EvalSample, NUM_EMOTIONS};
use crate::error::{Error, Result};
use crate::frame::{AU_NUMBERS, EMOTIONS, NUM_AUS};

/// One labelled frame.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameLabel {
    /// 1-based line in the labels file.
    pub line: usize,
    /// 1-based frame number, as in the log.
    pub frame: u64,
    /// Which face of the frame, when the file says.
    pub face_id: Option<u64>,
    /// Per AU in [`AU_NUMBERS`] order; `None` unknown (or not a column of the file).
    pub aus: [Option<bool>; NUM_AUS],
    /// Index into [`EMOTIONS`].
    pub emotion: Option<usize>,
}

/// A labels file, read.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameLabels {
    pub path: PathBuf,
    pub rows: Vec<FrameLabel>,
    /// AU columns of the file that facs does not score (e.g. `AU15`), as written.
    pub ignored_aus: Vec<String>,
}

/// A CSV reader over `text` (a UTF-8 byte-order mark already removed).
fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(separator(text.lines().next().unwrap_or("")))
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// The 1-based line where a record starts, counted from its byte offset: the reader's own
/// line count skips blank lines, and its offset points at any blank lines before a record.
fn line_at(text: &str, pos: Option<&csv::Position>) -> usize {
    let bytes = text.as_bytes();
    let mut byte = pos.map_or(0, |p| p.byte() as usize).min(bytes.len());
    while byte < bytes.len() && matches!(bytes[byte], b'\n' | b'\r') {
        byte += 1;
    }
    bytes[..byte].iter().filter(|&&b| b == b'\n').count() + 1
}

fn parse_au_value(v: &str) -> std::result::Result<Option<bool>, ()> {
    match v {
        "1" => Ok(Some(true)),
        "0" => Ok(Some(false)),
        "" | "999" => Ok(None),
        _ => Err(()),
    }
}

/// Reads a labels file (see the module docs).
///
/// # Errors
/// The file cannot be read; it has no `frame` column or no AU or emotion column facs
/// scores; a row has a bad frame number, AU value or emotion name (the message names the
/// line and column); two rows label the same face of the same frame (both lines named).
pub fn load_labels(path: &Path) -> Result<FrameLabels> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let text = text.trim_start_matches('\u{feff}');
    let mut rdr = reader(text);
    let header = rdr
        .headers()
        .map_err(|e| bad(path, format!("header: {e}")))?
        .clone();
    let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let frame_col = find("frame").ok_or_else(|| {
        bad(
            path,
            "no `frame` column: the labels need the 1-based frame number of each row, as in \
             facs's logs"
                .into(),
        )
    })?;
    let face_col = find("face_id");
    let emotion_col = find("emotion");
    let mut au_cols = Vec::new();
    let mut ignored_aus = Vec::new();
    for (col, name) in header.iter().enumerate() {
        if let Some(n) = au_number(name) {
            match au_index(n) {
                Some(i) => au_cols.push((col, i, name.to_string())),
                None => ignored_aus.push(name.to_string()),
            }
        }
    }
    if au_cols.is_empty() && emotion_col.is_none() {
        return Err(bad(
            path,
            format!(
                "no label column facs scores: give AU columns ({}) or an `emotion` column",
                AU_NUMBERS
                    .iter()
                    .map(|n| format!("AU{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let mut rows: Vec<FrameLabel> = Vec::new();
    let mut seen: HashMap<(u64, Option<u64>), usize> = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| bad(path, e.to_string()))?;
        let line = line_at(text, rec.position());
        let at = |what: String| bad(path, format!("line {line}: {what}"));
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let cell = |col: usize| rec.get(col).unwrap_or("");
        let frame_text = cell(frame_col);
        let frame = frame_text
            .parse::<u64>()
            .ok()
            .filter(|&f| f >= 1)
            .ok_or_else(|| {
                at(format!(
                    "frame \"{frame_text}\" is not a frame number (1, 2, ... as in the log)"
                ))
            })?;
        let face_id = match face_col.map(cell).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(
                s.parse::<u64>()
                    .map_err(|_| at(format!("face_id \"{s}\" is not a face id (0, 1, ...)")))?,
            ),
        };
        let mut aus = [None; NUM_AUS];
        for (col, i, name) in &au_cols {
            let v = cell(*col);
            aus[*i] = parse_au_value(v)
                .map_err(|()| at(format!("{name} value \"{v}\" is not 0, 1, 999 or empty")))?;
        }
        let emotion = match emotion_col.map(cell).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(emotion_index(s).ok_or_else(|| {
                at(format!(
                    "emotion \"{s}\" is not one of {}",
                    EMOTIONS.join(", ")
                ))
            })?),
        };
        if let Some(first) = seen.insert((frame, face_id), line) {
            return Err(at(format!(
                "frame {frame} is labelled twice (lines {first} and {line})"
            )));
        }
        rows.push(FrameLabel {
            line,
            frame,
            face_id,
            aus,
            emotion,
        });
    }
    if rows.is_empty() {
        return Err(bad(path, "no labelled frame".into()));
    }
    Ok(FrameLabels {
        path: path.to_path_buf(),
        rows,
        ignored_aus,
    })
}

/// One face row of a log, as far as scoring needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct LogFace {
    pub face_id: u64,
    /// Box area in pixels (0 when the log has no box).
    pub area: f64,
    /// `AUxx_p` per AU; `None` when empty.
    pub au_p: [Option<f32>; NUM_AUS],
    /// `AUxx_c` per AU; `None` when empty.
    pub au_c: [Option<bool>; NUM_AUS],
    /// `emotion_*` in [`EMOTIONS`] order, when the log has them for this face.
    pub emotions: Option<[f32; NUM_EMOTIONS]>,
}

/// The faces of a log by frame number (a frame where nothing was found has no entry's
/// faces but is known to the log).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogFrames {
    pub frames: HashMap<u64, Vec<LogFace>>,
    /// Rows that could not be read: (1-based line, reason).
    pub bad_rows: Vec<(usize, String)>,
    /// Whether the log has AU score columns at all.
    pub has_aus: bool,
}

/// Named columns of a log row: a CSV record or a JSON object.
trait Row {
    fn get(&self, key: &str) -> Option<String>;
}

struct CsvRow<'a> {
    index: &'a HashMap<String, usize>,
    rec: &'a csv::StringRecord,
}

impl Row for CsvRow<'_> {
    fn get(&self, key: &str) -> Option<String> {
        let v = self.rec.get(*self.index.get(key)?)?;
        (!v.is_empty()).then(|| v.to_string())
    }
}

impl Row for serde_json::Map<String, serde_json::Value> {
    fn get(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) if s.is_empty() => None,
            serde_json::Value::String(s) => Some(s.clone()),
            v => Some(v.to_string()),
        }
    }
}

/// Reads one row: `Ok(None)` for a frame with no face.
fn read_row(row: &dyn Row) -> std::result::Result<(u64, Option<LogFace>), String> {
    let number = |key: &str| -> std::result::Result<Option<f64>, String> {
        row.get(key)
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| format!("{key} \"{v}\" is not a number"))
            })
            .transpose()
    };
    let frame = number("frame")?
        .filter(|f| *f >= 1.0 && f.fract() == 0.0)
        .ok_or("no frame number")? as u64;
    let Some(face_id) = number("face_id")? else {
        return Ok((frame, None));
    };
    let area = number("w")?.unwrap_or(0.0) * number("h")?.unwrap_or(0.0);
    let mut au_p = [None; NUM_AUS];
    let mut au_c = [None; NUM_AUS];
    for (i, n) in AU_NUMBERS.iter().enumerate() {
        au_p[i] = number(&format!("AU{n:02}_p"))?.map(|v| v as f32);
        au_c[i] = number(&format!("AU{n:02}_c"))?.map(|v| v >= 0.5);
    }
    let mut emotions = [0f32; NUM_EMOTIONS];
    let mut any = false;
    for (i, e) in EMOTIONS.iter().enumerate() {
        if let Some(v) = number(&format!("emotion_{e}"))? {
            emotions[i] = v as f32;
            any = true;
        }
    }
    Ok((
        frame,
        Some(LogFace {
            face_id: face_id as u64,
            area,
            au_p,
            au_c,
            emotions: any.then_some(emotions),
        }),
    ))
}

fn add_row(
    out: &mut LogFrames,
    line: usize,
    row: std::result::Result<(u64, Option<LogFace>), String>,
) {
    match row {
        Ok((frame, face)) => {
            let faces = out.frames.entry(frame).or_default();
            if let Some(f) = face {
                out.has_aus |= f.au_p.iter().any(Option::is_some);
                faces.push(f);
            }
        }
        Err(reason) => out.bad_rows.push((line, reason)),
    }
}

/// Reads a facs log: CSV (with its header) or JSON lines (told by the first character).
/// A row that cannot be read is listed in [`LogFrames::bad_rows`] and skipped.
///
/// # Errors
/// The file cannot be read, or its CSV header lacks `frame` or `face_id`.
pub fn load_log(path: &Path) -> Result<LogFrames> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = LogFrames::default();
    if text.trim_start().starts_with('{') {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line)
                .map_err(|e| format!("not a JSON object: {e}"))
                .and_then(|obj| read_row(&obj));
            add_row(&mut out, i + 1, row);
        }
        return Ok(out);
    }
    let text = text.trim_start_matches('\u{feff}');
    let mut rdr = reader(text);
    let header = rdr
        .headers()
        .map_err(|e| bad(path, format!("header: {e}")))?
        .clone();
    let index: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.to_string(), i))
        .collect();
    for key in ["frame", "face_id"] {
        if !index.contains_key(key) {
            return Err(bad(
                path,
                format!("no `{key}` column: not a facs log (facs run --log FILE.csv writes one)"),
            ));
        }
    }
    for rec in rdr.records() {
        match rec {
            Ok(rec) => {
                let row = read_row(&CsvRow {
                    index: &index,
                    rec: &rec,
                });
                add_row(&mut out, line_at(text, rec.position()), row);
            }
            Err(e) => {
                let line = line_at(text, e.position());
                out.bad_rows.push((line, e.to_string()));
            }
        }
    }
    Ok(out)
}

/// How the labelled frames met the log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Matching {
    /// Labelled frames (rows of the labels file).
    pub labelled: usize,
    /// Matched with a face of the log.
    pub with_face: usize,
    /// The log has the frame but found no face in it (AUs count as predicted absent).
    pub no_face: usize,
    /// The frame has several faces and the label names none: the largest was taken.
    pub largest_of_several: usize,
    /// The label names a face id the frame does not have (counted as no face).
    pub face_id_not_found: usize,
    /// Frame numbers the log does not reach; left out of the scores.
    pub not_in_log: Vec<u64>,
    /// Log rows that could not be read, skipped: (line, reason).
    pub bad_log_rows: Vec<(usize, String)>,
    /// Per AU: matched faces whose score and decision disagree with the threshold read
    /// from the log (rounding in the log's 4 decimals), adjusted to the decision.
    pub rounding_adjusted: usize,
}

/// The samples to score, the thresholds the log's decisions imply, and how they matched.
#[derive(Clone, Debug, PartialEq)]
pub struct LabScores {
    pub samples: Vec<EvalSample>,
    pub thresholds: [f32; NUM_AUS],
    pub matching: Matching,
}

/// Per AU, the threshold the log's decisions imply: the lowest score marked present (1.0
/// above every score when none is).
fn implied_thresholds(log: &LogFrames) -> [f32; NUM_AUS] {
    let mut t = [f32::INFINITY; NUM_AUS];
    for face in log.frames.values().flatten() {
        for i in 0..NUM_AUS {
            if let (Some(p), Some(true)) = (face.au_p[i], face.au_c[i]) {
                t[i] = t[i].min(p);
            }
        }
    }
    t.map(|v| if v.is_finite() { v } else { 1.0 + 1e-3 })
}

/// Matches labels with a log (see the module docs).
///
/// # Errors
/// No labelled frame is in the log (the wrong log, or labels counted from 0), or the log
/// has no AU scores while the labels have AU columns.
pub fn score(labels: &FrameLabels, log: &LogFrames, log_path: &Path) -> Result<LabScores> {
    let labels_have_aus = labels
        .rows
        .iter()
        .any(|r| r.aus.iter().any(Option::is_some));
    if labels_have_aus && !log.has_aus {
        return Err(bad(
            log_path,
            "the log has no AU scores (it was run with --no-landmarks and no --au-model)".into(),
        ));
    }
    let thresholds = implied_thresholds(log);
    let mut m = Matching {
        labelled: labels.rows.len(),
        bad_log_rows: log.bad_rows.clone(),
        ..Matching::default()
    };
    let mut samples = Vec::new();
    for label in &labels.rows {
        let Some(faces) = log.frames.get(&label.frame) else {
            m.not_in_log.push(label.frame);
            continue;
        };
        let face = match label.face_id {
            Some(id) => {
                let f = faces.iter().find(|f| f.face_id == id);
                if f.is_none() && !faces.is_empty() {
                    m.face_id_not_found += 1;
                }
                f
            }
            None if faces.len() > 1 => {
                m.largest_of_several += 1;
                faces.iter().max_by(|a, b| a.area.total_cmp(&b.area))
            }
            None => faces.first(),
        };
        let mut s = EvalSample {
            au_labels: label.aus,
            au_probs: [0.0; NUM_AUS],
            emotion_label: None,
            emotion_probs: [0.0; NUM_EMOTIONS],
        };
        match face {
            None => m.no_face += 1,
            Some(f) => {
                m.with_face += 1;
                for i in 0..NUM_AUS {
                    let p = f.au_p[i].unwrap_or(0.0);
                    let present = f.au_c[i].unwrap_or(p >= thresholds[i]);
                    // The log keeps 4 decimals: a score printed at the threshold may sit on
                    // either side of it. The decision in the log is what counts.
                    s.au_probs[i] = match (present, p >= thresholds[i]) {
                        (true, false) => thresholds[i],
                        (false, true) => f32::from_bits(thresholds[i].to_bits() - 1).max(0.0),
                        _ => p,
                    };
                    if s.au_probs[i] != p && label.aus[i].is_some() {
                        m.rounding_adjusted += 1;
                    }
                }
                if let Some(e) = f.emotions {
                    s.emotion_label = label.emotion;
                    s.emotion_probs = e;
                }
            }
        }
        samples.push(s);
    }
    if samples.is_empty() {
        return Err(bad(
            &labels.path,
            format!(
                "none of its {} frames is in the log {} (frames are counted from 1, as in the \
                 log's `frame` column)",
                labels.rows.len(),
                log_path.display()
            ),
        ));
    }
    Ok(LabScores {
        samples,
        thresholds,
        matching: m,
    })
}

impl Matching {
    /// A Markdown paragraph for the report.
    pub fn to_markdown(&self, labels: &Path, log: &Path) -> String {
        let mut s = format!(
            "Labels: `{}` ({} frames). Log: `{}`.\n\n",
            labels.display(),
            self.labelled,
            log.display()
        );
        s.push_str(&format!(
            "| labelled frames | with a face | no face found | largest of several faces | face id not in frame | not in the log | unreadable log rows |\n\
             |---:|---:|---:|---:|---:|---:|---:|\n\
             | {} | {} | {} | {} | {} | {} | {} |\n\n",
            self.labelled,
            self.with_face,
            self.no_face,
            self.largest_of_several,
            self.face_id_not_found,
            self.not_in_log.len(),
            self.bad_log_rows.len()
        ));
        s.push_str(
            "A labelled frame where no face was found counts as every AU predicted absent. \
             Precision, recall and F1 count the log's own decisions (AUxx_c); the thresholds \
             below are the lowest score the log marked present (1.001: never marked \
             present). AUs the labels do not cover have no known samples.\n\n",
        );
        s
    }

    /// Lines for the terminal about what did not match cleanly.
    pub fn notes(&self) -> Vec<String> {
        let mut n = Vec::new();
        if !self.not_in_log.is_empty() {
            let shown: Vec<String> = self.not_in_log.iter().take(5).map(u64::to_string).collect();
            n.push(format!(
                "{} labelled frame(s) are not in the log and were left out (frames {}{})",
                self.not_in_log.len(),
                shown.join(", "),
                if self.not_in_log.len() > 5 {
                    ", ..."
                } else {
                    ""
                }
            ));
        }
        if self.no_face > 0 {
            n.push(format!(
                "{} labelled frame(s) had no face in the log: scored as every AU absent",
                self.no_face
            ));
        }
        if self.largest_of_several > 0 {
            n.push(format!(
                "{} labelled frame(s) had several faces and no face_id: the largest face was scored",
                self.largest_of_several
            ));
        }
        if self.face_id_not_found > 0 {
            n.push(format!(
                "{} label(s) name a face id their frame does not have: scored as no face",
                self.face_id_not_found
            ));
        }
        if let Some((line, why)) = self.bad_log_rows.first() {
            n.push(format!(
                "{} log row(s) could not be read and were skipped (first: line {line}: {why})",
                self.bad_log_rows.len()
            ));
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A facs-style CSV log header with the columns scoring reads.
    fn log_header() -> String {
        let mut h = vec![
            "frame".to_string(),
            "face_id".into(),
            "w".into(),
            "h".into(),
        ];
        h.extend(AU_NUMBERS.iter().map(|n| format!("AU{n:02}_p")));
        h.extend(AU_NUMBERS.iter().map(|n| format!("AU{n:02}_c")));
        h.extend(EMOTIONS.iter().map(|e| format!("emotion_{e}")));
        h.join(",")
    }

    /// A face row: AU12 (index 6) at `p12` with decision `c12`, others 0; happy emotion.
    fn log_row(frame: u64, id: u64, side: f64, p12: f32, c12: u8) -> String {
        let mut r = vec![
            frame.to_string(),
            id.to_string(),
            side.to_string(),
            side.to_string(),
        ];
        for i in 0..NUM_AUS {
            r.push(if i == 6 {
                format!("{p12:.4}")
            } else {
                "0.0000".into()
            });
        }
        for i in 0..NUM_AUS {
            r.push(if i == 6 { c12.to_string() } else { "0".into() });
        }
        for i in 0..NUM_EMOTIONS {
            r.push(if i == 3 {
                "0.9".into()
            } else {
                "0.0167".into()
            });
        }
        r.join(",")
    }

    #[test]
    fn labels_read_au_styles_unknowns_emotions_and_ignore_other_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "l.csv",
            "\u{feff}frame,AU12,au06,AU15,emotion,note\n1,1,0,1,happiness,laugh\n2,999,,0,,\n\n3,0,1,1,SADNESS,x\n",
        );
        let l = load_labels(&p).unwrap();
        assert_eq!(l.rows.len(), 3);
        assert_eq!(l.ignored_aus, vec!["AU15".to_string()]);
        assert_eq!(l.rows[0].aus[6], Some(true)); // AU12
        assert_eq!(l.rows[0].aus[4], Some(false)); // AU6
        assert_eq!(l.rows[0].aus[0], None); // AU1 not a column
        assert_eq!(l.rows[0].emotion, Some(3));
        assert_eq!(l.rows[1].aus[6], None);
        assert_eq!(l.rows[1].line, 3);
        assert_eq!(l.rows[2].line, 5, "blank lines keep line numbers");
        assert_eq!(l.rows[2].emotion, emotion_index("sadness"));
    }

    #[test]
    fn bad_labels_name_the_file_line_and_cause() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("image,AU12\na.jpg,1\n", "no `frame` column"),
            ("frame,note\n1,x\n", "no label column"),
            ("frame,AU12\n0,1\n", "line 2: frame \"0\""),
            ("frame,AU12\n1,2\n", "line 2: AU12 value \"2\""),
            ("frame,AU12\n1,1\nx,1\n", "line 3: frame \"x\""),
            ("frame,emotion\n1,joy\n", "emotion \"joy\""),
            (
                "frame,AU12\n4,1\n5,0\n4,0\n",
                "frame 4 is labelled twice (lines 2 and 4)",
            ),
            ("frame,AU12\n", "no labelled frame"),
        ];
        for (text, want) in cases {
            let p = write(dir.path(), "l.csv", text);
            let e = load_labels(&p).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(e.contains("l.csv"), "{e}");
        }
        // The same frame for two faces is not a duplicate.
        let p = write(dir.path(), "l.csv", "frame,face_id,AU12\n4,0,1\n4,1,0\n");
        assert_eq!(load_labels(&p).unwrap().rows.len(), 2);
    }

    #[test]
    fn scores_use_the_logs_decisions_and_count_missed_faces() {
        let dir = tempfile::tempdir().unwrap();
        let log = write(
            dir.path(),
            "run.csv",
            &[
                log_header(),
                log_row(1, 0, 100.0, 0.8, 1), // smile found
                log_row(2, 0, 100.0, 0.3, 0), // smile missed
                "3,,,".into(),                // no face
                log_row(4, 0, 40.0, 0.9, 1),  // a small face (a false detection)
                log_row(4, 1, 100.0, 0.1, 0), // the person: no smile
                log_row(5, 0, 100.0, 0.6, 1), // false positive
                "6,0,oops".into(),            // damaged row
            ]
            .join("\n"),
        );
        let labels = write(
            dir.path(),
            "l.csv",
            "frame,AU12,emotion\n1,1,happiness\n2,1,happiness\n3,1,\n4,0,neutral\n5,0,\n99,1,\n",
        );
        let l = load_labels(&labels).unwrap();
        let g = load_log(&log).unwrap();
        assert_eq!(g.bad_rows.len(), 1);
        let s = score(&l, &g, &log).unwrap();
        let m = &s.matching;
        assert_eq!(m.labelled, 6);
        assert_eq!(m.with_face, 4);
        assert_eq!(m.no_face, 1);
        assert_eq!(m.largest_of_several, 1);
        assert_eq!(m.not_in_log, vec![99]);
        assert_eq!(m.bad_log_rows.len(), 1);
        assert_eq!(s.samples.len(), 5);
        // Lowest score marked present: 0.6.
        assert!((s.thresholds[6] - 0.6).abs() < 1e-6);
        let report = super::super::metrics::evaluate(&s.samples, &s.thresholds);
        let au12 = &report.aus[6];
        // Positives: frames 1 (hit), 2 (miss), 3 (no face: miss). Negatives: 4 (largest face
        // 0.1: right), 5 (false positive).
        assert_eq!(
            (
                au12.counts.tp,
                au12.counts.fp,
                au12.counts.fn_,
                au12.counts.tn
            ),
            (1, 1, 2, 1)
        );
        // Emotions only where the log has a face: frames 1, 2, 4.
        let e = report.emotion.unwrap();
        assert_eq!(e.confusion.counts.iter().flatten().sum::<u64>(), 3);
    }

    #[test]
    fn a_score_rounded_onto_the_threshold_keeps_its_decision() {
        let dir = tempfile::tempdir().unwrap();
        // Both print 0.5000; one was just under the threshold, one at it.
        let log = write(
            dir.path(),
            "run.csv",
            &[
                log_header(),
                log_row(1, 0, 50.0, 0.5, 1),
                log_row(2, 0, 50.0, 0.5, 0),
            ]
            .join("\n"),
        );
        let labels = write(dir.path(), "l.csv", "frame,AU12\n1,1\n2,0\n");
        let s = score(
            &load_labels(&labels).unwrap(),
            &load_log(&log).unwrap(),
            &log,
        )
        .unwrap();
        let r = super::super::metrics::evaluate(&s.samples, &s.thresholds);
        assert_eq!((r.aus[6].counts.tp, r.aus[6].counts.tn), (1, 1));
        assert_eq!(s.matching.rounding_adjusted, 1);
    }

    #[test]
    fn jsonl_logs_read_like_csv_logs() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = vec![r#"{"frame":1,"face_id":null,"success":0}"#.to_string()];
        let mut face = serde_json::Map::new();
        face.insert("frame".into(), 2.into());
        face.insert("face_id".into(), 0.into());
        for n in AU_NUMBERS {
            face.insert(format!("AU{n:02}_p"), serde_json::json!(0.7));
            face.insert(format!("AU{n:02}_c"), serde_json::json!(1));
        }
        lines.push(serde_json::Value::Object(face).to_string());
        let p = write(dir.path(), "run.jsonl", &lines.join("\n"));
        let g = load_log(&p).unwrap();
        assert!(g.has_aus);
        assert!(g.frames[&1].is_empty());
        assert_eq!(g.frames[&2][0].au_c[0], Some(true));
        assert_eq!(g.frames[&2][0].emotions, None);
    }

    #[test]
    fn wrong_logs_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let labels = write(dir.path(), "l.csv", "frame,AU12\n7,1\n");
        let l = load_labels(&labels).unwrap();
        let not_log = write(dir.path(), "x.csv", "image,AU12\na.jpg,1\n");
        let e = load_log(&not_log).unwrap_err().to_string();
        assert!(e.contains("no `frame` column"), "{e}");
        // A log without AU scores (run with --no-landmarks).
        let no_aus = write(dir.path(), "n.csv", "frame,face_id,AU12_p,AU12_c\n7,0,,\n");
        let e = score(&l, &load_log(&no_aus).unwrap(), &no_aus)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no AU scores"), "{e}");
        // Labels counted from another origin: nothing matches.
        let other = write(
            dir.path(),
            "o.csv",
            &[log_header(), log_row(1, 0, 9.0, 0.1, 0)].join("\n"),
        );
        let e = score(&l, &load_log(&other).unwrap(), &other)
            .unwrap_err()
            .to_string();
        assert!(e.contains("none of its 1 frames is in the log"), "{e}");
    }
}
