//! EmotioNet-style label files: reading and writing the CSV (image path, one column per AU,
//! an optional emotion), a summary of what a file holds, and balanced train/val/test subsets.
//!
//! The format: a header row; the first column is an image path relative to an images
//! directory (any column name); one column per AU named `AU1` or `AU01` (any case, any order);
//! other columns are ignored except an optional `emotion` column holding one of
//! [`EMOTIONS`] (any case) or nothing. AU values are `1` (present), `0` (absent), `999` or
//! empty (unknown). Fields are separated by commas (or by tabs or semicolons when the header
//! holds no comma) and may be quoted with `"`. A bad row is reported with its 1-based line
//! number and skipped; only a file that cannot be read or a header that lacks AU columns
//! stops the load.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::frame::{AU_NUMBERS, EMOTIONS, NUM_AUS};
use crate::util::rng::SplitMix64;

/// The value written for an unknown AU label (EmotioNet's convention).
pub const UNKNOWN_VALUE: &str = "999";

/// One usable row: an image that exists and its labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The image, joined with the images directory.
    pub path: PathBuf,
    /// 1-based line of the row in its CSV (0 for samples that did not come from a file).
    pub line: usize,
    /// Per AU in [`AU_NUMBERS`] order: `Some(true)` present, `Some(false)` absent, `None`
    /// unknown.
    pub aus: [Option<bool>; NUM_AUS],
    /// Index into [`EMOTIONS`], if labelled.
    pub emotion: Option<usize>,
}

/// What [`load_csv`] found: usable samples, and the rows it skipped with the reason.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    pub samples: Vec<Sample>,
    /// (1-based line, reason) for rows that could not be parsed.
    pub bad_rows: Vec<(usize, String)>,
    /// (1-based line, path) for rows whose image does not exist.
    pub missing_images: Vec<(usize, PathBuf)>,
}

/// Label counts for one AU over the usable samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuCount {
    pub positive: usize,
    pub negative: usize,
    pub unknown: usize,
}

/// Counts over a [`Dataset`]; `Display` renders them as a human-readable report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DatasetSummary {
    /// Data rows read: samples + bad rows + rows with a missing image.
    pub rows: usize,
    pub samples: usize,
    pub bad_rows: usize,
    pub missing_images: usize,
    /// Per AU in [`AU_NUMBERS`] order.
    pub aus: [AuCount; NUM_AUS],
    /// Samples per emotion in [`EMOTIONS`] order.
    pub emotions: [usize; EMOTIONS.len()],
    /// Samples without an emotion label.
    pub emotion_unknown: usize,
    /// The first few bad rows, for the report.
    pub first_bad_rows: Vec<(usize, String)>,
    /// The first few missing images, for the report.
    pub first_missing_images: Vec<(usize, PathBuf)>,
}

/// How many bad rows and missing images the summary quotes.
const QUOTED_PROBLEMS: usize = 5;

impl Dataset {
    /// Counts rows, problems, labels per AU and emotions.
    pub fn summary(&self) -> DatasetSummary {
        let mut s = DatasetSummary {
            rows: self.samples.len() + self.bad_rows.len() + self.missing_images.len(),
            samples: self.samples.len(),
            bad_rows: self.bad_rows.len(),
            missing_images: self.missing_images.len(),
            first_bad_rows: self
                .bad_rows
                .iter()
                .take(QUOTED_PROBLEMS)
                .cloned()
                .collect(),
            first_missing_images: self
                .missing_images
                .iter()
                .take(QUOTED_PROBLEMS)
                .cloned()
                .collect(),
            ..Default::default()
        };
        for sample in &self.samples {
            for (count, label) in s.aus.iter_mut().zip(sample.aus) {
                match label {
                    Some(true) => count.positive += 1,
                    Some(false) => count.negative += 1,
                    None => count.unknown += 1,
                }
            }
            match sample.emotion {
                Some(e) if e < EMOTIONS.len() => s.emotions[e] += 1,
                _ => s.emotion_unknown += 1,
            }
        }
        s
    }
}

/// `part` as a percentage of `whole`, 0 for an empty whole.
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

impl fmt::Display for DatasetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} rows: {} usable, {} bad, {} with a missing image",
            self.rows, self.samples, self.bad_rows, self.missing_images
        )?;
        for (line, reason) in &self.first_bad_rows {
            writeln!(f, "  bad row, line {line}: {reason}")?;
        }
        if self.bad_rows > self.first_bad_rows.len() {
            writeln!(
                f,
                "  ... and {} more bad rows",
                self.bad_rows - self.first_bad_rows.len()
            )?;
        }
        for (line, path) in &self.first_missing_images {
            writeln!(f, "  missing image, line {line}: {}", path.display())?;
        }
        if self.missing_images > self.first_missing_images.len() {
            writeln!(
                f,
                "  ... and {} more missing images",
                self.missing_images - self.first_missing_images.len()
            )?;
        }
        writeln!(f, "AU     positive            negative            unknown")?;
        for (au, c) in AU_NUMBERS.iter().zip(&self.aus) {
            writeln!(
                f,
                "AU{au:02}   {:>7} ({:>5.1}%)   {:>7} ({:>5.1}%)   {:>7} ({:>5.1}%)",
                c.positive,
                percent(c.positive, self.samples),
                c.negative,
                percent(c.negative, self.samples),
                c.unknown,
                percent(c.unknown, self.samples),
            )?;
        }
        write!(f, "emotions:")?;
        for (name, n) in EMOTIONS.iter().zip(&self.emotions) {
            write!(f, " {name} {n},")?;
        }
        writeln!(f, " unlabelled {}", self.emotion_unknown)
    }
}

/// The AU number in a header like `AU1`, `au01` or ` AU12 `; `None` for anything else.
fn au_number(header: &str) -> Option<u32> {
    let name = header.trim();
    let digits = name.get(..2).filter(|p| p.eq_ignore_ascii_case("au"))?;
    let digits = &name[digits.len()..];
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The position of `au` in [`AU_NUMBERS`].
fn au_index(au: u32) -> Option<usize> {
    AU_NUMBERS.iter().position(|&n| u32::from(n) == au)
}

/// Splits one CSV record. Quoted fields may hold the separator and doubled quotes; a quote
/// inside an unquoted field is kept as text.
fn split_record(line: &str, sep: char) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut at_field_start = true;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
        } else if c == sep {
            fields.push(std::mem::take(&mut field));
            at_field_start = true;
            continue;
        } else if c == '"' && at_field_start && field.trim().is_empty() {
            field.clear();
            in_quotes = true;
        } else {
            field.push(c);
        }
        at_field_start = false;
    }
    if in_quotes {
        return Err("unterminated quoted field".to_string());
    }
    fields.push(field);
    Ok(fields)
}

/// Where the labels are in a row.
struct Columns {
    sep: char,
    fields: usize,
    /// Column of each AU, in [`AU_NUMBERS`] order; `None` when the file lacks it.
    au: [Option<usize>; NUM_AUS],
    emotion: Option<usize>,
}

fn csv_error(csv: &Path, reason: String) -> Error {
    Error::Source {
        source_name: csv.display().to_string(),
        reason,
    }
}

/// Reads the header row.
fn parse_header(header: &str, csv: &Path, allow_missing_columns: bool) -> Result<Columns> {
    let sep = if header.contains(',') {
        ','
    } else if header.contains('\t') {
        '\t'
    } else if header.contains(';') {
        ';'
    } else {
        ','
    };
    let names = split_record(header, sep).map_err(|e| csv_error(csv, format!("header: {e}")))?;
    let mut au = [None; NUM_AUS];
    let mut emotion = None;
    // The first column is the image path, whatever its name.
    for (col, name) in names.iter().enumerate().skip(1) {
        if let Some(i) = au_number(name).and_then(au_index) {
            if let Some(first) = au[i] {
                return Err(csv_error(
                    csv,
                    format!(
                        "AU{} appears twice in the header (columns {} and {})",
                        AU_NUMBERS[i],
                        first + 1,
                        col + 1
                    ),
                ));
            }
            au[i] = Some(col);
        } else if name.trim().eq_ignore_ascii_case("emotion") {
            if emotion.is_some() {
                return Err(csv_error(csv, "two emotion columns in the header".into()));
            }
            emotion = Some(col);
        }
    }
    let missing: Vec<String> = AU_NUMBERS
        .iter()
        .zip(&au)
        .filter(|(_, col)| col.is_none())
        .map(|(n, _)| format!("AU{n}"))
        .collect();
    if !missing.is_empty() && !allow_missing_columns {
        return Err(csv_error(
            csv,
            format!(
                "missing AU column(s) {} (headers AU1 or AU01 style, any case); allow missing \
                 columns to treat them as unknown",
                missing.join(", ")
            ),
        ));
    }
    Ok(Columns {
        sep,
        fields: names.len(),
        au,
        emotion,
    })
}

/// Parses one AU value.
fn parse_value(text: &str) -> Option<Option<bool>> {
    match text.trim() {
        "1" => Some(Some(true)),
        "0" => Some(Some(false)),
        "999" | "" => Some(None),
        _ => None,
    }
}

/// The index in [`EMOTIONS`] of a name, any case.
pub fn emotion_index(name: &str) -> Option<usize> {
    let name = name.trim();
    EMOTIONS.iter().position(|e| e.eq_ignore_ascii_case(name))
}

/// Parses one data row into (relative image path, AUs, emotion).
type RowLabels = (String, [Option<bool>; NUM_AUS], Option<usize>);

fn parse_row(line: &str, cols: &Columns) -> std::result::Result<RowLabels, String> {
    let fields = split_record(line, cols.sep)?;
    if fields.len() != cols.fields {
        return Err(format!(
            "expected {} fields, found {}",
            cols.fields,
            fields.len()
        ));
    }
    let image = fields[0].trim().to_string();
    if image.is_empty() {
        return Err("empty image path".into());
    }
    let mut aus = [None; NUM_AUS];
    for (i, col) in cols.au.iter().enumerate() {
        if let Some(col) = *col {
            aus[i] = parse_value(&fields[col]).ok_or_else(|| {
                format!(
                    "AU{} value {:?} is not 0, 1, 999 or empty",
                    AU_NUMBERS[i], fields[col]
                )
            })?;
        }
    }
    let emotion = match cols.emotion {
        Some(col) if !fields[col].trim().is_empty() => {
            Some(emotion_index(&fields[col]).ok_or_else(|| {
                format!(
                    "unknown emotion {:?} (expected one of {} or empty)",
                    fields[col],
                    EMOTIONS.join(", ")
                )
            })?)
        }
        _ => None,
    };
    Ok((image, aus, emotion))
}

/// Parses CSV bytes; `exists` says whether an image file is there.
fn parse_bytes(
    bytes: &[u8],
    csv: &Path,
    images_dir: &Path,
    allow_missing_columns: bool,
    exists: impl Fn(&Path) -> bool,
) -> Result<Dataset> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut lines = bytes
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace));
    let (header_line, header) = lines
        .next()
        .ok_or_else(|| csv_error(csv, "empty file: expected a header row".into()))?;
    let header = std::str::from_utf8(header).map_err(|_| {
        csv_error(
            csv,
            format!("header (line {header_line}) is not valid UTF-8"),
        )
    })?;
    let cols = parse_header(header, csv, allow_missing_columns)?;
    let mut ds = Dataset::default();
    for (line_no, raw) in lines {
        let parsed = std::str::from_utf8(raw)
            .map_err(|_| "not valid UTF-8".to_string())
            .and_then(|line| parse_row(line, &cols));
        match parsed {
            Err(reason) => ds.bad_rows.push((line_no, reason)),
            Ok((image, aus, emotion)) => {
                let path = images_dir.join(image);
                if exists(&path) {
                    ds.samples.push(Sample {
                        path,
                        line: line_no,
                        aus,
                        emotion,
                    });
                } else {
                    ds.missing_images.push((line_no, path));
                }
            }
        }
    }
    Ok(ds)
}

/// Reads an EmotioNet-style CSV (see the module docs). Image paths are joined with
/// `images_dir`; rows whose image does not exist are listed in `missing_images` and
/// skipped, rows that cannot be parsed are listed in `bad_rows` and skipped.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Source`] for an empty file, a
/// header that is not UTF-8, a duplicated AU or emotion column, or missing AU columns (named
/// in the message) unless `allow_missing_columns`, in which case they are all unknown.
pub fn load_csv(csv: &Path, images_dir: &Path, allow_missing_columns: bool) -> Result<Dataset> {
    let bytes = fs::read(csv).map_err(|e| Error::io(csv, e))?;
    parse_bytes(
        &bytes,
        csv,
        images_dir,
        allow_missing_columns,
        Path::is_file,
    )
}

/// Quotes a CSV field when it needs it.
fn csv_field(text: &str) -> String {
    let needs = text.contains([',', '"', '\n', '\r', '\t', ';'])
        || text.starts_with(' ')
        || text.ends_with(' ');
    if needs {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The header [`write_csv`] writes: `image,AU01,...,AU26,emotion`.
pub fn csv_header() -> String {
    let mut header = String::from("image");
    for au in AU_NUMBERS {
        header.push_str(&format!(",AU{au:02}"));
    }
    header.push_str(",emotion");
    header
}

/// Writes samples in the format [`load_csv`] reads: paths relative to `images_dir` (a path
/// outside it is written whole), `AU01`-style headers, `999` for unknown AUs, an `emotion`
/// column (empty when unlabelled). Creates the parent directory. Paths that are not UTF-8
/// are written lossily.
///
/// # Errors
/// [`Error::Io`] when the file cannot be created or written.
pub fn write_csv(samples: &[Sample], images_dir: &Path, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = BufWriter::new(file);
    let mut text = csv_header();
    text.push('\n');
    for s in samples {
        let rel = s.path.strip_prefix(images_dir).unwrap_or(&s.path);
        text.push_str(&csv_field(&rel.to_string_lossy()));
        for label in s.aus {
            text.push(',');
            text.push_str(match label {
                Some(true) => "1",
                Some(false) => "0",
                None => UNKNOWN_VALUE,
            });
        }
        text.push(',');
        if let Some(name) = s.emotion.and_then(|e| EMOTIONS.get(e)) {
            text.push_str(name);
        }
        text.push('\n');
        if text.len() > 1 << 16 {
            out.write_all(text.as_bytes())
                .map_err(|e| Error::io(path, e))?;
            text.clear();
        }
    }
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    out.flush().map_err(|e| Error::io(path, e))
}

/// One class of a balanced subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassExpr {
    /// All these AUs (indices into [`AU_NUMBERS`]) known present.
    AllOf(Vec<usize>),
    /// None of the AUs named by the other classes present: all of them known absent.
    Neither,
}

const CLASS_EXPECTED: &str =
    "AUs among 1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26 joined by '+' (AU6+AU12), or neither/none";

impl ClassExpr {
    /// Parses `AU6`, `AU6+AU12` (a conjunction; `au06`, `6` also accepted), `neither` or
    /// `none`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for anything else, including AUs that are not annotated.
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("neither") || t.eq_ignore_ascii_case("none") {
            return Ok(ClassExpr::Neither);
        }
        let mut aus = Vec::new();
        for part in t.split('+') {
            let part = part.trim();
            let number = if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
                part.parse().ok()
            } else {
                au_number(part)
            };
            let index = number
                .and_then(au_index)
                .ok_or_else(|| Error::config("class", text, CLASS_EXPECTED))?;
            if !aus.contains(&index) {
                aus.push(index);
            }
        }
        aus.sort_unstable();
        Ok(ClassExpr::AllOf(aus))
    }

    /// `AU6+AU12` or `neither`.
    pub fn name(&self) -> String {
        match self {
            ClassExpr::Neither => "neither".into(),
            ClassExpr::AllOf(aus) => aus
                .iter()
                .map(|&i| format!("AU{}", AU_NUMBERS[i]))
                .collect::<Vec<_>>()
                .join("+"),
        }
    }
}

impl FromStr for ClassExpr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ClassExpr::parse(s)
    }
}

impl fmt::Display for ClassExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Parses a comma-separated class list such as `AU6,AU12,neither` or `AU6+AU12,neither`.
///
/// # Errors
/// [`Error::InvalidConfig`] for a bad class, a repeated class, an empty list, or `neither`
/// without any AU class.
pub fn parse_classes(text: &str) -> Result<Vec<ClassExpr>> {
    let mut classes: Vec<ClassExpr> = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let class = ClassExpr::parse(part)?;
        if classes.contains(&class) {
            return Err(Error::config("classes", text, "each class once"));
        }
        classes.push(class);
    }
    check_classes(&classes, text)?;
    Ok(classes)
}

fn check_classes(classes: &[ClassExpr], text: &str) -> Result<()> {
    if !classes.iter().any(|c| matches!(c, ClassExpr::AllOf(_))) {
        return Err(Error::config(
            "classes",
            text,
            "at least one AU class (neither alone selects nothing)",
        ));
    }
    Ok(())
}

/// What a subset holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubsetSpec {
    /// Up to `per_class` samples of each class.
    Classes {
        classes: Vec<ClassExpr>,
        per_class: usize,
    },
    /// AU6 and AU12 present ("happy") vs. both absent ("neither"); samples with either
    /// unknown, or with only one of them, are excluded.
    Happy { per_class: usize },
}

/// Train/validation/test fractions; they sum to 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitFractions {
    pub train: f64,
    pub val: f64,
    pub test: f64,
}

impl Default for SplitFractions {
    fn default() -> Self {
        SplitFractions {
            train: 0.7,
            val: 0.15,
            test: 0.15,
        }
    }
}

impl SplitFractions {
    /// # Errors
    /// [`Error::InvalidConfig`] unless all three are finite, >= 0 and sum to 1.
    pub fn validate(&self) -> Result<()> {
        let all = [self.train, self.val, self.test];
        let sum: f64 = all.iter().sum();
        if all.iter().any(|f| !f.is_finite() || *f < 0.0) || (sum - 1.0).abs() > 1e-6 {
            return Err(Error::config(
                "split fractions",
                format!("{}/{}/{}", self.train, self.val, self.test),
                "three fractions >= 0 summing to 1",
            ));
        }
        Ok(())
    }
}

/// How one class fared in a subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassReport {
    pub name: String,
    /// Samples of the dataset in this class.
    pub available: usize,
    /// Samples picked for this class (at most `per_class`).
    pub picked: usize,
    pub train: usize,
    pub val: usize,
    pub test: usize,
}

/// A balanced subset split three ways, with a report per class.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    pub train: Vec<Sample>,
    pub val: Vec<Sample>,
    pub test: Vec<Sample>,
    /// One per class, in the order of the spec.
    pub classes: Vec<ClassReport>,
    pub per_class: usize,
}

impl Splits {
    /// Classes that got fewer than `per_class` samples.
    pub fn short_classes(&self) -> Vec<&ClassReport> {
        self.classes
            .iter()
            .filter(|c| c.picked < self.per_class)
            .collect()
    }
}

impl fmt::Display for Splits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} train, {} val, {} test ({} per class requested)",
            self.train.len(),
            self.val.len(),
            self.test.len(),
            self.per_class
        )?;
        for c in &self.classes {
            write!(
                f,
                "  {:<20} available {:>7}  picked {:>6}  (train {}, val {}, test {})",
                c.name, c.available, c.picked, c.train, c.val, c.test
            )?;
            if c.picked < self.per_class {
                write!(f, "  SHORT by {}", self.per_class - c.picked)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Whether a sample belongs to a class; `listed` holds every AU named by the AU classes.
fn is_member(sample: &Sample, class: &ClassExpr, listed: &[usize]) -> bool {
    match class {
        ClassExpr::AllOf(aus) => aus.iter().all(|&i| sample.aus[i] == Some(true)),
        ClassExpr::Neither => listed.iter().all(|&i| sample.aus[i] == Some(false)),
    }
}

/// [`subset_with_fractions`] with the default 0.7 / 0.15 / 0.15 split.
///
/// # Errors
/// As [`subset_with_fractions`].
pub fn subset(ds: &Dataset, spec: &SubsetSpec, seed: u64) -> Result<Splits> {
    subset_with_fractions(ds, spec, &SplitFractions::default(), seed)
}

/// Picks up to `per_class` samples per class, without replacement and seeded, then splits
/// each class's picks into train/val/test by `fractions` (stratified by class).
///
/// A sample may belong to several classes (an image with AU6 and AU12 is in both classes of
/// `AU6,AU12`) but is picked at most once: classes are filled from the rarest up, and a
/// sample picked for one class is not picked again, so the subset has no duplicates. A class
/// then holds exactly its `picked` samples as picks, though the subset may contain more of
/// its members (picked for other classes). Classes with fewer than `per_class` samples
/// available take all they can and are listed by [`Splits::short_classes`]. Samples with an
/// unknown label for an AU a class needs are never members of it.
///
/// # Errors
/// [`Error::InvalidConfig`] for `per_class` 0, bad fractions, no AU class, or a repeated
/// class.
pub fn subset_with_fractions(
    ds: &Dataset,
    spec: &SubsetSpec,
    fractions: &SplitFractions,
    seed: u64,
) -> Result<Splits> {
    fractions.validate()?;
    let (classes, per_class, names) = match spec {
        SubsetSpec::Classes { classes, per_class } => {
            let text = classes
                .iter()
                .map(ClassExpr::name)
                .collect::<Vec<_>>()
                .join(",");
            check_classes(classes, &text)?;
            let unique: BTreeSet<String> = classes.iter().map(ClassExpr::name).collect();
            if unique.len() != classes.len() {
                return Err(Error::config("classes", text, "each class once"));
            }
            (
                classes.clone(),
                *per_class,
                classes.iter().map(ClassExpr::name).collect::<Vec<_>>(),
            )
        }
        SubsetSpec::Happy { per_class } => {
            let happy = ClassExpr::AllOf(vec![4, 6]);
            debug_assert_eq!(happy.name(), "AU6+AU12");
            (
                vec![happy, ClassExpr::Neither],
                *per_class,
                vec!["happy (AU6+AU12)".to_string(), "neither".to_string()],
            )
        }
    };
    if per_class == 0 {
        return Err(Error::config("per_class", per_class, ">= 1"));
    }
    let listed: Vec<usize> = classes
        .iter()
        .flat_map(|c| match c {
            ClassExpr::AllOf(aus) => aus.clone(),
            ClassExpr::Neither => Vec::new(),
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let members: Vec<Vec<usize>> = classes
        .iter()
        .enumerate()
        .map(|(c, class)| {
            let mut m: Vec<usize> = ds
                .samples
                .iter()
                .enumerate()
                .filter(|(_, s)| is_member(s, class, &listed))
                .map(|(i, _)| i)
                .collect();
            // Each class has its own stream, so adding a class leaves the others' order be.
            SplitMix64::new(SplitMix64::derive(seed, c as u64)).shuffle(&mut m);
            m
        })
        .collect();
    let mut order: Vec<usize> = (0..classes.len()).collect();
    order.sort_by_key(|&c| (members[c].len(), c));
    let mut taken = vec![false; ds.samples.len()];
    let mut picks: Vec<Vec<usize>> = vec![Vec::new(); classes.len()];
    for &c in &order {
        for &i in &members[c] {
            if picks[c].len() >= per_class {
                break;
            }
            if !taken[i] {
                taken[i] = true;
                picks[c].push(i);
            }
        }
    }
    let mut splits = Splits {
        train: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
        classes: Vec::new(),
        per_class,
    };
    for (c, picked) in picks.iter().enumerate() {
        let n = picked.len();
        // Cumulative rounding: the three parts always add up to n.
        let train_end = ((n as f64 * fractions.train).round() as usize).min(n);
        let val_end =
            ((n as f64 * (fractions.train + fractions.val)).round() as usize).clamp(train_end, n);
        let take = |range: std::ops::Range<usize>| -> Vec<Sample> {
            picked[range]
                .iter()
                .map(|&i| ds.samples[i].clone())
                .collect()
        };
        splits.train.extend(take(0..train_end));
        splits.val.extend(take(train_end..val_end));
        splits.test.extend(take(val_end..n));
        splits.classes.push(ClassReport {
            name: names[c].clone(),
            available: members[c].len(),
            picked: n,
            train: train_end,
            val: val_end - train_end,
            test: n - val_end,
        });
    }
    let mut rng = SplitMix64::new(SplitMix64::derive(seed, u64::MAX));
    rng.shuffle(&mut splits.train);
    rng.shuffle(&mut splits.val);
    rng.shuffle(&mut splits.test);
    Ok(splits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(p, b"x").unwrap();
    }

    /// A sample with the given AUs present, the rest absent.
    fn sample(i: usize, present: &[u8]) -> Sample {
        let mut aus = [Some(false); NUM_AUS];
        for au in present {
            aus[au_index(u32::from(*au)).unwrap()] = Some(true);
        }
        Sample {
            path: PathBuf::from(format!("img/{i}.jpg")),
            line: i + 2,
            aus,
            emotion: None,
        }
    }

    fn dataset(samples: Vec<Sample>) -> Dataset {
        Dataset {
            samples,
            ..Default::default()
        }
    }

    #[test]
    fn au_headers_in_both_styles_and_any_case() {
        assert_eq!(au_number("AU1"), Some(1));
        assert_eq!(au_number("au01"), Some(1));
        assert_eq!(au_number(" Au26 "), Some(26));
        assert_eq!(au_number("AU"), None);
        assert_eq!(au_number("AUx"), None);
        assert_eq!(au_number("image"), None);
        assert_eq!(au_number("AU1é"), None);
        assert_eq!(au_number("é"), None);
    }

    #[test]
    fn records_split_with_quotes() {
        assert_eq!(split_record("a,b,,c", ',').unwrap(), ["a", "b", "", "c"]);
        assert_eq!(
            split_record("\"x,y\",\"say \"\"hi\"\"\",z", ',').unwrap(),
            ["x,y", "say \"hi\"", "z"]
        );
        assert_eq!(split_record("a\"b,c", ',').unwrap(), ["a\"b", "c"]);
        assert!(split_record("\"open,b", ',').is_err());
    }

    #[test]
    fn loads_a_small_file_with_every_kind_of_row() {
        let tmp = tempfile::tempdir().unwrap();
        let images = tmp.path().join("images");
        for name in ["a.jpg", "b.jpg", "sub/c.jpg", "e.jpg", "f.jpg", "g.jpg"] {
            touch(&images, name);
        }
        // AU columns in a shuffled order, mixed header styles, an extra column, emotion.
        let header = "File,au26,AU1,AU02,Au4,AU05,AU6,AU9,AU12,AU17,AU20,AU25,notes,Emotion";
        let rows = [
            "a.jpg,0,1,0,0,0,1,0,1,0,0,1,smile,Happiness", // 2: fine
            "b.jpg,999,,0,1,0,0,0,0,0,0,0,,",              // 3: unknowns
            "sub/c.jpg,1,0,0,0,0,0,0,0,0,0,1,,surprise",   // 4: subdirectory
            "d.jpg,0,0,0,0,0,0,0,0,0,0,0,,neutral",        // 5: missing image
            "e.jpg,0,0,0,0,0,0,0,0,0,0,0,",                // 6: one field short
            "f.jpg,0,2,0,0,0,0,0,0,0,0,0,,",               // 7: bad value
            "g.jpg,0,0,0,0,0,0,0,0,0,0,0,,angry",          // 8: unknown emotion
            "",                                            // 9: blank, ignored
            "\"g.jpg\",0,0,0,0,0,0,0,0,0,0,0,\"a, b\",",   // 10: quoted
        ];
        let csv = tmp.path().join("labels.csv");
        fs::write(&csv, format!("{header}\r\n{}\n", rows.join("\n"))).unwrap();
        let ds = load_csv(&csv, &images, false).unwrap();

        let lines: Vec<usize> = ds.samples.iter().map(|s| s.line).collect();
        assert_eq!(lines, [2, 3, 4, 10]);
        let a = &ds.samples[0];
        assert_eq!(a.path, images.join("a.jpg"));
        // AU_NUMBERS order: 1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26.
        let t = Some(true);
        let f = Some(false);
        assert_eq!(a.aus, [t, f, f, f, t, f, t, f, f, t, f]);
        assert_eq!(a.emotion, Some(3));
        let b = &ds.samples[1];
        assert_eq!(b.aus[10], None, "999 is unknown");
        assert_eq!(b.aus[0], None, "empty is unknown");
        assert_eq!(b.aus[2], Some(true));
        assert_eq!(b.emotion, None);
        assert_eq!(ds.samples[2].path, images.join("sub/c.jpg"));
        assert_eq!(ds.samples[2].emotion, Some(5));

        assert_eq!(ds.missing_images, vec![(5, images.join("d.jpg"))]);
        let bad: Vec<usize> = ds.bad_rows.iter().map(|(l, _)| *l).collect();
        assert_eq!(bad, [6, 7, 8]);
        assert!(ds.bad_rows[0].1.contains("expected 14 fields, found 13"));
        assert!(ds.bad_rows[1].1.contains("AU1 value \"2\""));
        assert!(ds.bad_rows[2].1.contains("unknown emotion \"angry\""));

        let s = ds.summary();
        assert_eq!(
            (s.rows, s.samples, s.bad_rows, s.missing_images),
            (8, 4, 3, 1)
        );
        assert_eq!(
            s.aus[9],
            AuCount {
                positive: 2,
                negative: 2,
                unknown: 0
            }
        );
        assert_eq!(s.aus[0].unknown, 1);
        assert_eq!(s.emotions[3], 1);
        assert_eq!(s.emotion_unknown, 2);
        let text = s.to_string();
        assert!(text.contains("line 6: expected 14 fields"), "{text}");
        assert!(text.contains("missing image, line 5"), "{text}");
        assert!(text.contains("AU25"), "{text}");
    }

    #[test]
    fn missing_au_columns_are_named_unless_allowed() {
        let tmp = tempfile::tempdir().unwrap();
        touch(tmp.path(), "a.jpg");
        let csv = tmp.path().join("few.csv");
        fs::write(
            &csv,
            "image,AU1,AU2,AU4,AU6,AU9,AU12,AU20,AU25,AU26\na.jpg,1,0,0,0,0,1,0,0,0\n",
        )
        .unwrap();
        let err = load_csv(&csv, tmp.path(), false).unwrap_err().to_string();
        assert!(err.contains("AU5, AU17"), "{err}");
        assert!(err.contains("few.csv"), "{err}");
        let ds = load_csv(&csv, tmp.path(), true).unwrap();
        assert_eq!(ds.samples.len(), 1);
        assert_eq!(ds.samples[0].aus[3], None, "AU5 unknown");
        assert_eq!(ds.samples[0].aus[7], None, "AU17 unknown");
        assert_eq!(ds.samples[0].aus[6], Some(true));
    }

    #[test]
    fn header_problems_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let csv = tmp.path().join("x.csv");
        fs::write(&csv, "").unwrap();
        assert!(load_csv(&csv, tmp.path(), true)
            .unwrap_err()
            .to_string()
            .contains("header"));
        fs::write(&csv, "image,AU1,au01\n").unwrap();
        assert!(load_csv(&csv, tmp.path(), true)
            .unwrap_err()
            .to_string()
            .contains("AU1 appears twice"));
        let missing = tmp.path().join("nope.csv");
        assert!(matches!(
            load_csv(&missing, tmp.path(), true),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn tab_separated_files_are_read() {
        let tmp = tempfile::tempdir().unwrap();
        touch(tmp.path(), "a.jpg");
        let csv = tmp.path().join("t.tsv");
        fs::write(&csv, "path\tAU12\n a.jpg \t1\n").unwrap();
        let ds = load_csv(&csv, tmp.path(), true).unwrap();
        assert_eq!(ds.samples.len(), 1);
        assert_eq!(ds.samples[0].aus[6], Some(true));
    }

    #[test]
    fn write_then_load_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let images = tmp.path().join("images");
        let mut samples = Vec::new();
        for (i, name) in ["a.png", "with, comma.png", "sub/b.png"].iter().enumerate() {
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
        assert!(text.starts_with("image,AU01,AU02,AU04,"), "{text}");
        assert!(text.contains("999"), "{text}");
        let ds = load_csv(&csv, &images, false).unwrap();
        assert!(ds.bad_rows.is_empty() && ds.missing_images.is_empty());
        assert_eq!(ds.samples, samples);
    }

    #[test]
    fn random_bytes_never_panic() {
        let tmp = tempfile::tempdir().unwrap();
        let mut rng = SplitMix64::new(7);
        let alphabet = b"AU01,2569\"\n\r\t;999 emotionhappy\xEF\xBB\xBF\xFFa.jpg";
        let good = format!("{}\na.jpg{}\n", csv_header(), ",1".repeat(11) + ",fear");
        for round in 0..400 {
            let bytes: Vec<u8> = if round % 2 == 0 {
                let n = rng.below(300);
                (0..n)
                    .map(|_| {
                        if rng.chance(0.2) {
                            rng.next_u64() as u8
                        } else {
                            alphabet[rng.below(alphabet.len())]
                        }
                    })
                    .collect()
            } else {
                // A valid file with a few bytes changed, inserted or cut.
                let mut b = good.as_bytes().to_vec();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(b.len());
                    match rng.below(3) {
                        0 => b[at] = alphabet[rng.below(alphabet.len())],
                        1 => b.insert(at, rng.next_u64() as u8),
                        _ => b.truncate(at),
                    }
                    if b.is_empty() {
                        break;
                    }
                }
                b
            };
            let csv = tmp.path().join("fuzz.csv");
            if let Ok(ds) = parse_bytes(&bytes, &csv, tmp.path(), round % 4 < 2, |_| true) {
                let _ = ds.summary().to_string();
            }
        }
    }

    #[test]
    fn class_expressions_parse() {
        assert_eq!(
            ClassExpr::parse("AU6+AU12").unwrap(),
            ClassExpr::AllOf(vec![4, 6])
        );
        assert_eq!(
            ClassExpr::parse(" au12 + 6 ").unwrap(),
            ClassExpr::AllOf(vec![4, 6])
        );
        assert_eq!(ClassExpr::parse("None").unwrap(), ClassExpr::Neither);
        assert_eq!(ClassExpr::parse("AU6+AU12").unwrap().name(), "AU6+AU12");
        assert!(ClassExpr::parse("AU15").is_err());
        assert!(ClassExpr::parse("smile").is_err());
        assert!(ClassExpr::parse("AU6+").is_err());
        let list = parse_classes("AU6,AU12,neither").unwrap();
        assert_eq!(
            list,
            [
                ClassExpr::AllOf(vec![4]),
                ClassExpr::AllOf(vec![6]),
                ClassExpr::Neither
            ]
        );
        assert!(parse_classes("neither").is_err());
        assert!(parse_classes("AU6,au06").is_err());
        assert!(parse_classes("").is_err());
    }

    /// 300 samples: every 3rd has AU6, every 2nd AU12, every 5th has unknown AU6.
    fn mixed() -> Dataset {
        let mut samples = Vec::new();
        for i in 0..300 {
            let mut present = Vec::new();
            if i % 3 == 0 {
                present.push(6);
            }
            if i % 2 == 0 {
                present.push(12);
            }
            let mut s = sample(i, &present);
            if i % 5 == 0 {
                s.aus[4] = None;
            }
            samples.push(s);
        }
        dataset(samples)
    }

    #[test]
    fn subset_is_balanced_deterministic_and_without_duplicates() {
        let ds = mixed();
        let spec = SubsetSpec::Classes {
            classes: parse_classes("AU6,AU12,neither").unwrap(),
            per_class: 20,
        };
        let a = subset(&ds, &spec, 1).unwrap();
        let b = subset(&ds, &spec, 1).unwrap();
        let c = subset(&ds, &spec, 2).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.train, c.train);
        for class in &a.classes {
            assert_eq!(class.picked, 20, "{a}");
        }
        let all: Vec<&Sample> = a.train.iter().chain(&a.val).chain(&a.test).collect();
        assert_eq!(all.len(), 60);
        let unique: BTreeSet<&PathBuf> = all.iter().map(|s| &s.path).collect();
        assert_eq!(unique.len(), 60, "no sample twice");
        // "neither" = AU6 and AU12 both known absent.
        let neither = all
            .iter()
            .filter(|s| s.aus[4] == Some(false) && s.aus[6] == Some(false))
            .count();
        assert!(neither >= 20);
        assert!(a.short_classes().is_empty());
    }

    #[test]
    fn short_classes_are_reported() {
        let ds = mixed();
        // AU6+AU12 known: i % 6 == 0 and i % 5 != 0: 50 - 10 = 40 samples.
        let spec = SubsetSpec::Classes {
            classes: parse_classes("AU6+AU12,AU25").unwrap(),
            per_class: 45,
        };
        let s = subset(&ds, &spec, 3).unwrap();
        assert_eq!(s.classes[0].available, 40);
        assert_eq!(s.classes[0].picked, 40);
        assert_eq!(s.classes[1].picked, 0);
        let short: Vec<&str> = s.short_classes().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(short, ["AU6+AU12", "AU25"]);
        assert!(s.to_string().contains("SHORT by 5"), "{s}");
        let zero = SubsetSpec::Classes {
            classes: parse_classes("AU6").unwrap(),
            per_class: 0,
        };
        assert!(subset(&ds, &zero, 0).is_err());
    }

    #[test]
    fn splits_follow_the_fractions_per_class() {
        let ds = mixed();
        let spec = SubsetSpec::Classes {
            classes: parse_classes("AU12").unwrap(),
            per_class: 100,
        };
        let s = subset(&ds, &spec, 4).unwrap();
        // 100 picks: 70 / 15 / 15.
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (70, 15, 15));
        let f = SplitFractions {
            train: 0.5,
            val: 0.0,
            test: 0.5,
        };
        let s = subset_with_fractions(&ds, &spec, &f, 4).unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (50, 0, 50));
        let bad = SplitFractions {
            train: 0.8,
            val: 0.15,
            test: 0.15,
        };
        assert!(subset_with_fractions(&ds, &spec, &bad, 4).is_err());
        // Two classes: each is split on its own (stratified).
        let spec = SubsetSpec::Classes {
            classes: parse_classes("AU6,neither").unwrap(),
            per_class: 20,
        };
        let s = subset(&ds, &spec, 5).unwrap();
        for c in &s.classes {
            assert_eq!((c.train, c.val, c.test), (14, 3, 3), "{s}");
        }
    }

    #[test]
    fn happy_subset_excludes_unknowns_and_single_aus() {
        let ds = mixed();
        let s = subset(&ds, &SubsetSpec::Happy { per_class: 1000 }, 6).unwrap();
        let all: Vec<&Sample> = s.train.iter().chain(&s.val).chain(&s.test).collect();
        for x in &all {
            let both = x.aus[4] == Some(true) && x.aus[6] == Some(true);
            let neither = x.aus[4] == Some(false) && x.aus[6] == Some(false);
            assert!(both || neither, "{x:?}");
        }
        // Happy: i % 6 == 0, i % 5 != 0 -> 40. Neither: i odd, i % 3 != 0, i % 5 != 0:
        // odd numbers below 300 not divisible by 3 or 5: 150 * (2/3) * (4/5) = 80.
        assert_eq!(s.classes[0].picked, 40);
        assert_eq!(s.classes[1].picked, 80);
        assert_eq!(s.short_classes().len(), 2);
    }
}
