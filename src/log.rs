//! The per-frame log: one row per face per frame (one `success=0` row for a frame without a
//! face), in OpenFace's column convention, as CSV and/or JSON lines. Each frame's rows are
//! written and flushed together, so a killed run keeps every frame before it intact. The
//! CSV goes through the `csv` crate; the cells are numbers or empty, except the last,
//! `file` (the image a row comes from; empty for video, camera and synthetic frames), which
//! the `csv` crate quotes when the name holds a comma, a quote or a line break. A JSON line
//! holds the CSV row's columns as keys, in the CSV's order, then `au_source`.
//!
//! Two sets of columns ([`LogFormat`]): facs's own ([`columns`]) and OpenFace 2.2's
//! ([`openface::columns`]).
//!
//! A log file is claimed before it is written ([`LogFiles::claim`]): locked (`flock`) for
//! the whole run, so a second run on the same file fails at once, and left as it was until
//! the run has started ([`LogWriter::start`] empties it), so a run that fails to start
//! changes no existing log.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::frame::{Analysed, AU_NUMBERS, EMOTIONS};

pub mod openface;

/// Which columns a log holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// facs's own columns ([`columns`]).
    #[default]
    Facs,
    /// OpenFace 2.2's columns, then facs's own scores ([`openface::columns`]).
    OpenFace,
}

impl LogFormat {
    /// The name the command line and the sidecar use.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Facs => "facs",
            LogFormat::OpenFace => "openface",
        }
    }

    /// The column names of a log in this format, in order.
    pub fn columns(self) -> Vec<String> {
        match self {
            LogFormat::Facs => columns(),
            LogFormat::OpenFace => openface::columns(),
        }
    }
}

impl std::str::FromStr for LogFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "facs" => Ok(LogFormat::Facs),
            "openface" => Ok(LogFormat::OpenFace),
            other => Err(Error::config("log format", other, "facs or openface")),
        }
    }
}

/// The column names of facs's own log format, in order.
pub fn columns() -> Vec<String> {
    let mut c: Vec<String> = [
        "frame",
        "face_id",
        "timestamp",
        "confidence",
        "success",
        "x",
        "y",
        "w",
        "h",
        "pose_Rx",
        "pose_Ry",
        "pose_Rz",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    c.extend(AU_NUMBERS.iter().map(|n| format!("AU{n:02}_p")));
    c.extend(AU_NUMBERS.iter().map(|n| format!("AU{n:02}_c")));
    c.push("happy".into());
    c.extend(EMOTIONS.iter().map(|e| format!("emotion_{e}")));
    c.extend((0..68).map(|i| format!("x_{i}")));
    c.extend((0..68).map(|i| format!("y_{i}")));
    c.push("file".into());
    c
}

/// One log value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cell<'a> {
    Int(i64),
    /// A value and the number of decimals to print.
    Float(f64, usize),
    Text(&'a str),
    Empty,
}

impl Cell<'_> {
    fn csv(&self, out: &mut String) {
        use std::fmt::Write as _;
        // Writing to a String cannot fail.
        let _ = match self {
            Cell::Int(v) => write!(out, "{v}"),
            Cell::Float(v, d) => write!(out, "{v:.d$}"),
            Cell::Text(t) => out.write_str(t),
            Cell::Empty => Ok(()),
        };
    }
    fn json(&self) -> serde_json::Value {
        match self {
            Cell::Int(v) => (*v).into(),
            Cell::Float(v, d) => {
                // The CSV text, read back: CSV and JSON carry the same number.
                let text = format!("{v:.d$}");
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
            Cell::Text(t) => (*t).into(),
            Cell::Empty => serde_json::Value::Null,
        }
    }
}

/// The rows for one analysed frame in `format`.
fn rows(a: &Analysed, format: LogFormat) -> Vec<Vec<Cell<'_>>> {
    match format {
        LogFormat::Facs => facs_rows(a),
        LogFormat::OpenFace => openface::rows(a),
    }
}

/// The rows for one analysed frame in facs's own columns.
fn facs_rows(a: &Analysed) -> Vec<Vec<Cell<'_>>> {
    let frame = Cell::Int(a.frame.index as i64 + 1);
    let ts = Cell::Float(a.frame.timestamp_s, 3);
    let file = a.frame.file.as_deref().map_or(Cell::Empty, Cell::Text);
    let n_cols = columns().len();
    if a.faces.is_empty() {
        let mut row = vec![frame, Cell::Empty, ts, Cell::Float(0.0, 2), Cell::Int(0)];
        row.resize(n_cols - 1, Cell::Empty);
        row.push(file);
        return vec![row];
    }
    a.faces
        .iter()
        .map(|r| {
            let b = r.face.bbox;
            let s = &r.scores;
            let mut row = Vec::with_capacity(n_cols);
            row.extend([
                frame,
                Cell::Int(r.face.id as i64),
                ts,
                Cell::Float(b.confidence as f64, 3),
                Cell::Int(1),
                Cell::Float(b.x as f64, 1),
                Cell::Float(b.y as f64, 1),
                Cell::Float(b.w as f64, 1),
                Cell::Float(b.h as f64, 1),
            ]);
            let angle = |v: Option<f32>| v.map_or(Cell::Empty, |a| Cell::Float(a as f64, 3));
            row.push(angle(s.pose.map(|p| p.rx)));
            row.push(angle(s.pose.map(|p| p.ry)));
            row.push(angle(s.pose.map(|p| p.rz)));
            let prob = |v: Option<f32>| v.map_or(Cell::Empty, |p| Cell::Float(p as f64, 4));
            for i in 0..AU_NUMBERS.len() {
                row.push(prob(s.au_prob.map(|p| p[i])));
            }
            for i in 0..AU_NUMBERS.len() {
                row.push(s.au_present.map_or(Cell::Empty, |c| Cell::Int(c[i] as i64)));
            }
            row.push(prob(s.happy));
            for i in 0..EMOTIONS.len() {
                row.push(prob(s.emotions.map(|e| e[i])));
            }
            let coord = |v: Option<f32>| v.map_or(Cell::Empty, |c| Cell::Float(c as f64, 1));
            for i in 0..68 {
                row.push(coord(s.landmarks.map(|l| l[i].0)));
            }
            for i in 0..68 {
                row.push(coord(s.landmarks.map(|l| l[i].1)));
            }
            row.push(file);
            row
        })
        .collect()
}

/// Tells why [`LogFiles::claim`] refused an existing file.
const OVERWRITE_HINT: &str = "pass --overwrite (-y) to replace it, or choose another file";

/// One log file, opened for a run and locked, its content not yet changed.
struct Claimed {
    path: PathBuf,
    file: File,
    /// A regular file (not a terminal or a pipe such as /dev/stdout): locked and emptied.
    regular: bool,
    /// This run created it: removed again if the run never starts.
    created: bool,
}

/// Takes an exclusive advisory lock on `file` without waiting; false if another process
/// holds one. The lock lasts as long as the file stays open.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock(2) on a descriptor `file` owns and keeps open for the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

impl Claimed {
    /// Opens `path` without changing what it holds (creating it, and its folder, if it does
    /// not exist), locks it, and refuses a file that already holds data unless `overwrite`.
    fn open(path: &Path, overwrite: bool) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let (file, created) = match File::options().write(true).create_new(true).open(path) {
            Ok(f) => (f, true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => (
                File::options()
                    .write(true)
                    .open(path)
                    .map_err(|e| Error::io(path, e))?,
                false,
            ),
            Err(e) => return Err(Error::io(path, e)),
        };
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        let mut claimed = Claimed {
            path: path.to_path_buf(),
            file,
            regular: meta.is_file(),
            created,
        };
        if !claimed.regular {
            return Ok(claimed);
        }
        if !try_lock(&claimed.file).map_err(|e| Error::io(path, e))? {
            // Not ours to remove: the other run may have just created it.
            claimed.created = false;
            return Err(Error::output(
                path,
                "another facs run is writing this log (it holds the file's lock); wait for it \
                 to end or choose another file",
            ));
        }
        if !created && !overwrite && meta.len() > 0 {
            return Err(Error::output(
                path,
                format!("already exists ({} bytes); {OVERWRITE_HINT}", meta.len()),
            ));
        }
        Ok(claimed)
    }

    /// Empties the file for this run's rows.
    fn into_empty(self) -> Result<(PathBuf, File)> {
        if self.regular {
            self.file.set_len(0).map_err(|e| Error::io(&self.path, e))?;
        }
        Ok((self.path, self.file))
    }
}

/// A run's log files, claimed by [`LogFiles::claim`]: locked against other runs, their content
/// unchanged. [`LogWriter::start`] empties them and writes the header; dropped before that
/// (the run failed to start), it removes the files it created and leaves the others as
/// they were.
pub struct LogFiles {
    csv: Option<Claimed>,
    jsonl: Option<Claimed>,
}

impl LogFiles {
    /// Claims the CSV and JSONL logs: creates a missing file (and its folder), takes an
    /// exclusive lock on each for as long as this value and then the [`LogWriter`] live,
    /// and refuses a log, or the sidecar beside the first, that already holds data unless
    /// `overwrite`. No existing file is changed.
    ///
    /// # Errors
    /// [`Error::Output`] for a log another run is writing or one that exists without
    /// `overwrite`; [`Error::Io`] when a file cannot be opened.
    pub fn claim(csv: Option<&Path>, jsonl: Option<&Path>, overwrite: bool) -> Result<Self> {
        let mut files = LogFiles {
            csv: None,
            jsonl: None,
        };
        // On an early return, `files` is dropped and removes what it created.
        if let Some(p) = csv {
            files.csv = Some(Claimed::open(p, overwrite)?);
        }
        if let Some(p) = jsonl {
            files.jsonl = Some(Claimed::open(p, overwrite)?);
        }
        if let Some(first) = files.paths().first() {
            let sidecar = sidecar_path(first);
            if !overwrite {
                if let Ok(meta) = std::fs::metadata(&sidecar) {
                    if meta.len() > 0 {
                        return Err(Error::output(
                            &sidecar,
                            format!(
                                "the sidecar of {} already exists (another run's record); \
                                 {OVERWRITE_HINT}",
                                first.display()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(files)
    }

    /// The claimed paths, CSV first.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.csv
            .iter()
            .chain(self.jsonl.iter())
            .map(|c| c.path.clone())
            .collect()
    }
}

impl Drop for LogFiles {
    fn drop(&mut self) {
        for c in self.csv.iter().chain(self.jsonl.iter()) {
            if c.created {
                // Best effort: a file left behind is empty and this run's own.
                let _ = std::fs::remove_file(&c.path);
            }
        }
    }
}

/// Writes the CSV and/or JSONL logs.
pub struct LogWriter {
    csv: Option<(PathBuf, csv::Writer<File>)>,
    jsonl: Option<(PathBuf, BufWriter<File>)>,
    format: LogFormat,
    /// The column names, JSON-quoted with their colon (`"x_0":`), in order.
    json_keys: Vec<String>,
    buf: String,
    /// One CSV row's cells, reused from row to row.
    record: csv::ByteRecord,
    rows_written: u64,
}

impl LogWriter {
    /// Claims the files ([`LogFiles::claim`], replacing existing ones) and starts them.
    ///
    /// # Errors
    /// As [`LogFiles::claim`] and [`LogWriter::start`].
    pub fn create(csv: Option<&Path>, jsonl: Option<&Path>, format: LogFormat) -> Result<Self> {
        Self::start(LogFiles::claim(csv, jsonl, true)?, format)
    }

    /// Empties the claimed files and writes the CSV header of `format`. The files stay
    /// locked until the writer is dropped.
    ///
    /// # Errors
    /// A file cannot be emptied or written.
    pub fn start(mut files: LogFiles, format: LogFormat) -> Result<Self> {
        let names = format.columns();
        let csv = match files.csv.take() {
            Some(c) => {
                let (p, file) = c.into_empty()?;
                // Buffered by the csv writer; lines end with `\n`.
                let mut w = csv::Writer::from_writer(file);
                w.write_record(&names)
                    .map_err(std::io::Error::from)
                    .and_then(|_| w.flush())
                    .map_err(|e| Error::io(&p, e))?;
                Some((p, w))
            }
            None => None,
        };
        let jsonl = match files.jsonl.take() {
            Some(c) => {
                let (p, file) = c.into_empty()?;
                Some((p, BufWriter::new(file)))
            }
            None => None,
        };
        let json_keys = names
            .iter()
            .map(|n| format!("{}:", serde_json::Value::from(n.as_str())))
            .collect();
        Ok(LogWriter {
            csv,
            jsonl,
            format,
            json_keys,
            buf: String::new(),
            record: csv::ByteRecord::new(),
            rows_written: 0,
        })
    }

    /// True if no log file was asked for.
    pub fn is_empty(&self) -> bool {
        self.csv.is_none() && self.jsonl.is_none()
    }

    /// Appends one frame's rows and flushes them.
    ///
    /// # Errors
    /// A write fails (disk full, file removed).
    pub fn write_frame(&mut self, a: &Analysed) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let rows = rows(a, self.format);
        if let Some((path, w)) = &mut self.csv {
            let write_error = |e: csv::Error| Error::io(path.as_path(), e.into());
            for row in &rows {
                self.record.clear();
                for cell in row {
                    self.buf.clear();
                    cell.csv(&mut self.buf);
                    self.record.push_field(self.buf.as_bytes());
                }
                w.write_byte_record(&self.record).map_err(write_error)?;
            }
            w.flush().map_err(|e| Error::io(path.as_path(), e))?;
        }
        if let Some((path, w)) = &mut self.jsonl {
            self.buf.clear();
            // The rows' AU source, in row order (a frame without a face has one row, no AUs).
            let sources = a.faces.iter().map(|f| f.scores.au_source.as_deref());
            let sources: Vec<Option<&str>> = if a.faces.is_empty() {
                vec![None]
            } else {
                sources.collect()
            };
            for (row, source) in rows.iter().zip(sources) {
                // Written key by key: the keys keep the CSV's column order (a JSON map
                // would sort them: x_10 before x_2).
                self.buf.push('{');
                for (key, cell) in self.json_keys.iter().zip(row) {
                    self.buf.push_str(key);
                    self.buf.push_str(&cell.json().to_string());
                    self.buf.push(',');
                }
                // JSONL only: the CSV keeps OpenFace's numeric columns; its sidecar says the
                // run's source.
                let source = source.map_or(serde_json::Value::Null, |s| s.into());
                self.buf.push_str(&format!("\"au_source\":{source}}}\n"));
            }
            w.write_all(self.buf.as_bytes())
                .and_then(|_| w.flush())
                .map_err(|e| Error::io(path.as_path(), e))?;
        }
        self.rows_written += rows.len() as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Paths written to.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.csv
            .iter()
            .map(|(p, _)| p)
            .chain(self.jsonl.iter().map(|(p, _)| p))
            .cloned()
            .collect()
    }
}

/// Where the sidecar of a log goes: `run.csv` -> `run.meta.json`.
pub fn sidecar_path(log: &Path) -> PathBuf {
    log.with_extension("meta.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FaceBox, FaceResult, Frame, Scores, StageTimes, TrackedFace};

    fn analysed(faces: Vec<FaceResult>) -> Analysed {
        Analysed {
            frame: Frame::new(4, 0.1333, 2, 2, vec![0; 12]).unwrap(),
            faces,
            times: StageTimes::default(),
        }
    }

    #[test]
    fn header_follows_openface_naming() {
        let c = columns();
        assert_eq!(c.len(), 12 + 11 + 11 + 1 + 7 + 136 + 1);
        assert_eq!(
            &c[..5],
            ["frame", "face_id", "timestamp", "confidence", "success"]
        );
        assert_eq!(c[9], "pose_Rx");
        assert_eq!(c[12], "AU01_p");
        assert_eq!(c[22], "AU26_p");
        assert_eq!(c[23], "AU01_c");
        assert_eq!(c[34], "happy");
        assert_eq!(c[41], "emotion_neutral");
        assert_eq!(c[42], "x_0");
        assert_eq!(c[110], "y_0");
        assert_eq!(c[177], "y_67");
        assert_eq!(c[178], "file");
    }

    #[test]
    fn rows_for_faces_and_for_no_face() {
        let dir = tempfile::tempdir().unwrap();
        let (csv, jsonl) = (dir.path().join("a.csv"), dir.path().join("a.jsonl"));
        let mut w = LogWriter::create(Some(&csv), Some(&jsonl), LogFormat::Facs).unwrap();
        w.write_frame(&analysed(vec![])).unwrap();
        let face = TrackedFace {
            id: 2,
            bbox: FaceBox {
                x: 1.0,
                y: 2.0,
                w: 30.0,
                h: 40.5,
                confidence: 0.75,
            },
        };
        let scores = Scores {
            au_prob: Some([0.25; 11]),
            au_present: Some([false; 11]),
            au_source: Some("geometric".into()),
            happy: Some(0.91234),
            emotions: Some([0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.1]),
            ..Default::default()
        };
        w.write_frame(&analysed(vec![FaceResult { face, scores }]))
            .unwrap();
        assert_eq!(w.rows_written(), 2);
        let text = std::fs::read_to_string(&csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        // Frame 5 (1-based), no face: success 0 and empty score columns, never zeros.
        assert!(
            lines[1].starts_with("5,,0.133,0.00,0,,,,,,,,"),
            "{}",
            lines[1]
        );
        let face_row: Vec<&str> = lines[2].split(',').collect();
        assert_eq!(face_row.len(), columns().len());
        assert_eq!(
            &face_row[..9],
            ["5", "2", "0.133", "0.750", "1", "1.0", "2.0", "30.0", "40.5"]
        );
        assert_eq!(face_row[9], ""); // no landmarks: no pose
        assert_eq!(face_row[12], "0.2500");
        assert_eq!(face_row[34], "0.9123");
        assert_eq!(face_row[38], "0.9000");
        assert_eq!(face_row[177], "");
        assert_eq!(face_row[178], ""); // not from an image file
        let json: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(json[0]["success"], 0);
        assert!(json[0]["face_id"].is_null());
        // Every row says where its AUs come from: nowhere for a frame without a face.
        assert!(json[0]["au_source"].is_null());
        assert_eq!(json[1]["au_source"], "geometric");
        assert_eq!(json[1]["happy"], 0.9123);
        assert_eq!(json[1]["AU12_p"], 0.25);
        // The CSV has no such column.
        assert!(!lines[0].contains("au_source"));
        assert!(json[1]["file"].is_null());
    }

    fn face(landmarks: bool) -> FaceResult {
        let mut pts = [(0.0f32, 0.0f32); 68];
        for (i, p) in pts.iter_mut().enumerate() {
            *p = (100.0 + i as f32, 200.0 + i as f32 / 2.0);
        }
        FaceResult {
            face: TrackedFace {
                id: 3,
                bbox: FaceBox {
                    x: 10.0,
                    y: 20.0,
                    w: 50.0,
                    h: 60.0,
                    confidence: 0.5,
                },
            },
            scores: Scores {
                landmarks: landmarks.then_some(pts),
                pose: landmarks.then_some(crate::frame::HeadPose {
                    rx: 0.1,
                    ry: -0.2,
                    rz: 0.3,
                }),
                au_prob: Some([0.75; 11]),
                // AU12 (the 7th of facs's AUs) present, the others absent.
                au_present: Some(std::array::from_fn(|i| i == 6)),
                au_source: Some("geometric".into()),
                happy: Some(0.5),
                emotions: Some([0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.5]),
                ..Default::default()
            },
        }
    }

    /// Each JSON line's keys are the CSV's columns in the CSV's order (x_2 before x_10),
    /// then `au_source`, in both formats.
    #[test]
    fn json_keys_follow_the_csv_columns_in_order() {
        for format in [LogFormat::Facs, LogFormat::OpenFace] {
            let dir = tempfile::tempdir().unwrap();
            let (csv, jsonl) = (dir.path().join("a.csv"), dir.path().join("a.jsonl"));
            let mut w = LogWriter::create(Some(&csv), Some(&jsonl), format).unwrap();
            w.write_frame(&analysed(vec![])).unwrap();
            w.write_frame(&analysed(vec![face(true)])).unwrap();
            drop(w);
            let header = std::fs::read_to_string(&csv).unwrap();
            let header: Vec<&str> = header.lines().next().unwrap().split(',').collect();
            assert_eq!(header, format.columns());
            for line in std::fs::read_to_string(&jsonl).unwrap().lines() {
                // Keys in the order the text holds them, read with a streaming parser.
                let mut keys = Vec::new();
                let mut de = serde_json::Deserializer::from_str(line);
                struct Keys<'a>(&'a mut Vec<String>);
                impl<'de> serde::de::Visitor<'de> for Keys<'_> {
                    type Value = ();
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<M: serde::de::MapAccess<'de>>(
                        self,
                        mut m: M,
                    ) -> std::result::Result<(), M::Error> {
                        while let Some((k, _)) = m.next_entry::<String, serde_json::Value>()? {
                            self.0.push(k);
                        }
                        Ok(())
                    }
                }
                serde::Deserializer::deserialize_map(&mut de, Keys(&mut keys)).unwrap();
                assert_eq!(keys.len(), header.len() + 1, "{}", format.as_str());
                assert_eq!(&keys[..header.len()], &header[..]);
                assert_eq!(keys.last().unwrap(), "au_source");
                let x2 = keys.iter().position(|k| k == "x_2").unwrap();
                let x10 = keys.iter().position(|k| k == "x_10").unwrap();
                assert!(x2 < x10);
            }
        }
    }

    /// In OpenFace's columns facs fills what it estimates and leaves the rest empty.
    #[test]
    fn openface_rows_fill_only_what_facs_estimates() {
        let dir = tempfile::tempdir().unwrap();
        let (csv, jsonl) = (dir.path().join("a.csv"), dir.path().join("a.jsonl"));
        let mut w = LogWriter::create(Some(&csv), Some(&jsonl), LogFormat::OpenFace).unwrap();
        w.write_frame(&analysed(vec![])).unwrap();
        w.write_frame(&analysed(vec![face(true), face(false)]))
            .unwrap();
        drop(w);
        let mut reader = csv::Reader::from_path(&csv).unwrap();
        let header = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 3);
        let get = |row: &csv::StringRecord, name: &str| -> String {
            let i = header.iter().position(|h| h == name).unwrap();
            row[i].to_string()
        };
        // No face: frame, timestamp, confidence 0, success 0; everything else empty.
        let none = &rows[0];
        assert_eq!(
            (get(none, "frame"), get(none, "success")),
            ("5".into(), "0".into())
        );
        assert!(none.iter().skip(5).all(str::is_empty), "{none:?}");
        let f = &rows[1];
        assert_eq!(get(f, "face_id"), "3");
        assert_eq!(get(f, "confidence"), "0.500");
        assert_eq!(get(f, "success"), "1");
        assert_eq!(get(f, "x_0"), "100.0");
        assert_eq!(get(f, "x_67"), "167.0");
        assert_eq!(get(f, "y_10"), "205.0");
        // facs's pitch 0.1 (chin up), yaw -0.2 (nose to the image's left), roll 0.3 in
        // OpenFace's signs (pitch down and yaw left positive).
        assert_eq!(get(f, "pose_Rx"), "-0.100");
        assert_eq!(get(f, "pose_Ry"), "0.200");
        assert_eq!(get(f, "pose_Rz"), "0.300");
        assert_eq!(get(f, "AU12_c"), "1");
        assert_eq!(get(f, "AU01_c"), "0");
        assert_eq!(get(f, "AU12_p"), "0.7500");
        assert_eq!(get(f, "happy"), "0.5000");
        assert_eq!(get(f, "w"), "50.0");
        // Never invented: gaze, eye landmarks, translation, 3D points, shape parameters,
        // intensities, and the AUs facs does not score.
        for name in [
            "gaze_0_x",
            "gaze_angle_y",
            "eye_lmk_x_0",
            "eye_lmk_Z_55",
            "pose_Tx",
            "pose_Tz",
            "X_0",
            "Z_67",
            "p_scale",
            "p_33",
            "AU01_r",
            "AU12_r",
            "AU45_r",
            "AU07_c",
            "AU28_c",
            "AU45_c",
        ] {
            assert_eq!(get(f, name), "", "{name}");
        }
        // A face without landmarks: no landmarks and no pose, AUs still decided.
        let g = &rows[2];
        assert_eq!(get(g, "x_0"), "");
        assert_eq!(get(g, "pose_Rx"), "");
        assert_eq!(get(g, "AU12_c"), "1");
        let json: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(json[1]["x_67"], 167.0);
        assert!(json[1]["gaze_0_x"].is_null());
        assert_eq!(json[1]["au_source"], "geometric");
    }

    #[test]
    fn rows_name_their_image_file_quoted_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let (csv, jsonl) = (dir.path().join("a.csv"), dir.path().join("a.jsonl"));
        let mut w = LogWriter::create(Some(&csv), Some(&jsonl), LogFormat::Facs).unwrap();
        let mut a = analysed(vec![]);
        a.frame.file = Some("000005.jpg".into());
        w.write_frame(&a).unwrap();
        a.frame.file = Some("smith, \"jo\".png".into());
        w.write_frame(&a).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].ends_with(",000005.jpg"), "{}", lines[1]);
        // A comma or quote in a name: the cell is quoted (quotes doubled), as CSV readers
        // expect, and the row keeps its column count.
        assert!(
            lines[2].ends_with(r#","smith, ""jo"".png""#),
            "{}",
            lines[2]
        );
        let mut reader = csv::Reader::from_path(&csv).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows[1].len(), columns().len());
        assert_eq!(&rows[1][178], "smith, \"jo\".png");
        let json: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(json[0]["file"], "000005.jpg");
        assert_eq!(json[1]["file"], "smith, \"jo\".png");
    }

    #[test]
    fn a_claimed_log_is_locked_and_an_existing_one_needs_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("a.csv");
        let files = LogFiles::claim(Some(&csv), None, false).unwrap();
        // A second claim (as by another run: another open file, another lock) fails at once.
        let busy = LogFiles::claim(Some(&csv), None, true).err().unwrap();
        assert!(busy.to_string().contains("another facs run"), "{busy}");
        let mut w = LogWriter::start(files, LogFormat::Facs).unwrap();
        w.write_frame(&analysed(vec![])).unwrap();
        let busy = LogFiles::claim(Some(&csv), None, true).err().unwrap();
        assert!(busy.to_string().contains("another facs run"), "{busy}");
        assert!(csv.exists(), "a refused claim removed the other run's file");
        drop(w);
        // Free again, but it holds a log now: replaced only when asked.
        let before = std::fs::read(&csv).unwrap();
        let exists = LogFiles::claim(Some(&csv), None, false).err().unwrap();
        assert!(exists.to_string().contains("--overwrite"), "{exists}");
        assert_eq!(std::fs::read(&csv).unwrap(), before);
        LogWriter::start(
            LogFiles::claim(Some(&csv), None, true).unwrap(),
            LogFormat::Facs,
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 1);
    }

    #[test]
    fn a_claim_never_started_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old.csv"), dir.path().join("new.jsonl"));
        std::fs::write(&old, "earlier rows\n").unwrap();
        let files = LogFiles::claim(Some(&old), Some(&new), true).unwrap();
        assert!(new.exists());
        drop(files);
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "earlier rows\n");
        assert!(!new.exists(), "a file this claim created was left behind");
        // A sidecar that exists is another run's record: kept unless asked.
        std::fs::write(sidecar_path(&new), "{}").unwrap();
        let err = LogFiles::claim(None, Some(&new), false).err().unwrap();
        assert!(err.to_string().contains("new.meta.json"), "{err}");
        assert!(!new.exists());
    }

    #[test]
    fn sidecar_name() {
        assert_eq!(
            sidecar_path(Path::new("out/run.csv")),
            PathBuf::from("out/run.meta.json")
        );
    }
}
