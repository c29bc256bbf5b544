//! Reading an EmotioNet-style CSV (see [the module docs](super)) into a [`Dataset`]: the
//! header locates the AU and emotion columns, each data row becomes a [`Sample`], a bad
//! row or a missing image is listed with its line number and skipped.
//!
//! The file is cut into lines first (at `\n`, dropping a `\r` before it, a UTF-8 byte-order
//! mark at the start, and blank lines); the `csv` crate then splits each line into fields,
//! with quoted fields holding separators and doubled quotes. A quoted field cannot span
//! lines: a quote left open spoils its own row only, instead of swallowing the rest of the
//! file, and every row keeps its line number.

use std::fs;
use std::io::{Cursor, SeekFrom};
use std::path::Path;

use csv::{ByteRecord, ReaderBuilder, Terminator};

use super::{au_index, au_number, emotion_index, Dataset, Sample};
use crate::error::{Error, Result};
use crate::frame::{AU_NUMBERS, EMOTIONS, NUM_AUS};

/// The lines of a file that hold something but whitespace, as (1-based line number, bytes
/// without the line end). A UTF-8 byte-order mark at the start of the file is dropped.
fn content_lines(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .collect()
}

/// The field separator: a comma, or a tab or semicolon when the header holds no comma.
pub(crate) fn separator(header: &str) -> u8 {
    if header.contains(',') {
        b','
    } else if header.contains('\t') {
        b'\t'
    } else if header.contains(';') {
        b';'
    } else {
        b','
    }
}

/// One line's fields, or why the line cannot be split.
type Fields<'r> = std::result::Result<Vec<&'r str>, String>;

/// Splits content lines into fields with the `csv` crate, one record per line.
struct LineRecords<'a> {
    /// The file, for error messages.
    csv: &'a Path,
    lines: Vec<(usize, &'a [u8])>,
    /// Where each line's record starts in the text the reader reads: the `\n` before it.
    starts: Vec<u64>,
    reader: csv::Reader<Cursor<Vec<u8>>>,
    record: ByteRecord,
    /// Index in `lines` of the next line to read.
    next: usize,
}

impl<'a> LineRecords<'a> {
    fn new(csv: &'a Path, lines: Vec<(usize, &'a [u8])>, sep: u8) -> Self {
        // Each line comes after a `\n`, which the reader skips as a blank line: a reader
        // started (or restarted) there never sees a byte-order mark at the start of its
        // input, which it would drop. One more `\n` ends the last line.
        let mut text =
            Vec::with_capacity(lines.iter().map(|(_, l)| l.len() + 1).sum::<usize>() + 1);
        let mut starts = Vec::with_capacity(lines.len());
        for (_, line) in &lines {
            starts.push(text.len() as u64);
            text.push(b'\n');
            text.extend_from_slice(line);
        }
        text.push(b'\n');
        // Only `\n` ends a record: a `\r` inside a line is text, as it was before the split.
        // No header handling, no trimming, rows of any length (checked by the caller).
        let reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(sep)
            .terminator(Terminator::Any(b'\n'))
            .from_reader(Cursor::new(text));
        LineRecords {
            csv,
            lines,
            starts,
            reader,
            record: ByteRecord::new(),
            next: 0,
        }
    }

    /// The next line's number and fields; `None` after the last line.
    ///
    /// # Errors
    /// [`Error::Source`] if the `csv` reader fails, which reading from memory does not.
    fn next_line(&mut self) -> Result<Option<(usize, Fields<'_>)>> {
        let Some(&(line_no, raw)) = self.lines.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let read_error = |e: csv::Error| csv_error(self.csv, format!("line {line_no}: {e}"));
        let found = self
            .reader
            .read_byte_record(&mut self.record)
            .map_err(read_error)?;
        // A line holds no `\n`, so a field that does had a quote left open: the reader went
        // on into the next lines. Restart it on the next line.
        let unterminated = self.record.iter().any(|f| f.contains(&b'\n'));
        if unterminated {
            if let Some(&start) = self.starts.get(self.next) {
                self.reader
                    .seek_raw(SeekFrom::Start(start), csv::Position::new())
                    .map_err(read_error)?;
            }
        }
        let fields = if std::str::from_utf8(raw).is_err() {
            Err("not valid UTF-8".to_string())
        } else if unterminated {
            Err("unterminated quoted field".to_string())
        } else if !found {
            Err("no record on this line".to_string())
        } else {
            // Fields of a valid UTF-8 line (less some quotes) are valid UTF-8.
            self.record
                .iter()
                .map(|f| std::str::from_utf8(f).map_err(|_| "not valid UTF-8".to_string()))
                .collect()
        };
        Ok(Some((line_no, fields)))
    }
}

/// Where the labels are in a row.
struct Columns {
    fields: usize,
    /// Column of each AU, in [`AU_NUMBERS`] order; `None` when the file lacks it.
    au: [Option<usize>; NUM_AUS],
    emotion: Option<usize>,
}

pub(crate) fn csv_error(csv: &Path, reason: String) -> Error {
    Error::Source {
        source_name: csv.display().to_string(),
        reason,
    }
}

/// Reads the header row's column names.
fn parse_header(names: &[&str], csv: &Path, allow_missing_columns: bool) -> Result<Columns> {
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
                "missing AU column(s) {} (headers AU1 or AU01 style, any case); add them, with \
                 empty cells or 999 where an AU was not coded, to mark it unknown",
                missing.join(", ")
            ),
        ));
    }
    Ok(Columns {
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

/// Parses one data row into (relative image path, AUs, emotion).
type RowLabels = (String, [Option<bool>; NUM_AUS], Option<usize>);

fn parse_row(fields: &[&str], cols: &Columns) -> std::result::Result<RowLabels, String> {
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
            aus[i] = parse_value(fields[col]).ok_or_else(|| {
                format!(
                    "AU{} value \"{}\" is not 0, 1, 999 or empty",
                    AU_NUMBERS[i], fields[col]
                )
            })?;
        }
    }
    let emotion = match cols.emotion {
        Some(col) if !fields[col].trim().is_empty() => {
            Some(emotion_index(fields[col]).ok_or_else(|| {
                format!(
                    "unknown emotion \"{}\" (expected one of {} or empty)",
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
    let lines = content_lines(bytes);
    let &(header_line, header) = lines
        .first()
        .ok_or_else(|| csv_error(csv, "empty file: expected a header row".into()))?;
    let header = std::str::from_utf8(header).map_err(|_| {
        csv_error(
            csv,
            format!("header (line {header_line}) is not valid UTF-8"),
        )
    })?;
    let mut records = LineRecords::new(csv, lines, separator(header));
    let cols = match records.next_line()? {
        Some((_, Ok(names))) => parse_header(&names, csv, allow_missing_columns)?,
        Some((_, Err(reason))) => return Err(csv_error(csv, format!("header: {reason}"))),
        None => return Err(csv_error(csv, "empty file: expected a header row".into())),
    };
    let mut ds = Dataset::default();
    while let Some((line_no, fields)) = records.next_line()? {
        match fields.and_then(|fields| parse_row(&fields, &cols)) {
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

#[cfg(test)]
mod tests {
    use super::super::{touch, write::csv_header, AuCount};
    use super::*;
    use crate::util::rng::SplitMix64;

    /// Every content line of `text`, split into fields or with the reason it cannot be.
    fn split(text: &str, sep: u8) -> Vec<(usize, std::result::Result<Vec<String>, String>)> {
        let mut records = LineRecords::new(Path::new("t.csv"), content_lines(text.as_bytes()), sep);
        let mut out = Vec::new();
        while let Some((line, fields)) = records.next_line().unwrap() {
            out.push((
                line,
                fields.map(|f| f.iter().map(|s| s.to_string()).collect()),
            ));
        }
        out
    }

    #[test]
    fn records_split_with_quotes() {
        let one = |line: &str, sep: u8| split(line, sep).remove(0).1;
        assert_eq!(one("a,b,,c", b',').unwrap(), ["a", "b", "", "c"]);
        assert_eq!(
            one("\"x,y\",\"say \"\"hi\"\"\",z", b',').unwrap(),
            ["x,y", "say \"hi\"", "z"]
        );
        assert_eq!(one("a\"b,c", b',').unwrap(), ["a\"b", "c"]);
        assert_eq!(
            one("\"open,b", b',').unwrap_err(),
            "unterminated quoted field"
        );
        // Text after a closing quote stays in the field; a `\r` inside a line is text.
        assert_eq!(one("\"ab\"c,d\re", b',').unwrap(), ["abc", "d\re"]);
        assert_eq!(one("a;\"b;c\";d,e", b';').unwrap(), ["a", "b;c", "d,e"]);
        assert_eq!(one("a\t \tb", b'\t').unwrap(), ["a", " ", "b"]);
    }

    #[test]
    fn an_open_quote_spoils_its_own_line_only() {
        // Line 2 opens a quote that line 4 would close; line 3 is blank; line 4 starts with
        // a byte-order mark, which is text there (only the file's first one is dropped);
        // line 5 leaves a quote open at the end of the file.
        let text = "\u{feff}a,b\r\n\"open,b\n \r\n\u{feff}c,\"d\"\r\n\"last";
        let open = Err("unterminated quoted field".to_string());
        let fields = |f: &[&str]| Ok(f.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            split(text, b','),
            [
                (1, fields(&["a", "b"])),
                (2, open.clone()),
                (4, fields(&["\u{feff}c", "d"])),
                (5, open)
            ]
        );
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
    /// `good` with 1 to 4 of the ways real label files go wrong: cut short, a random byte,
    /// an extra or a missing comma, a stray quote, a byte-order mark, CRLF line ends, bytes
    /// that are not UTF-8, a line break inside a row, a changed byte.
    fn mutate(rng: &mut SplitMix64, good: &[u8]) -> Vec<u8> {
        let mut b = good.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(b.len() + 1);
            let next = |b: &[u8], byte: u8| b[at..].iter().position(|&c| c == byte).map(|i| at + i);
            match rng.below(10) {
                0 => b.truncate(at),
                1 => b.insert(at, rng.next_u64() as u8),
                2 => b.insert(at, b','),
                3 => {
                    if let Some(i) = next(&b, b',') {
                        b.remove(i);
                    }
                }
                4 => b.insert(at, b'"'),
                5 => drop(b.splice(at..at, *b"\xEF\xBB\xBF")),
                6 => {
                    if let Some(i) = next(&b, b'\n') {
                        b.insert(i, b'\r');
                    }
                }
                7 => drop(b.splice(at..at, *b"\xC3\x28\xFF")),
                8 => b.insert(at, b'\n'),
                _ => {
                    let bytes = b"0129,\"\t; \r\nAUa";
                    if at < b.len() {
                        b[at] = bytes[rng.below(bytes.len())];
                    }
                }
            }
        }
        b
    }

    /// Each row of `ds` by line: the sample, the reason it is bad, or the missing image.
    fn outcomes(ds: &Dataset) -> Vec<(usize, String)> {
        let mut rows: Vec<(usize, String)> = ds
            .samples
            .iter()
            .map(|s| (s.line, format!("{s:?}")))
            .collect();
        rows.extend(ds.bad_rows.iter().cloned());
        rows.extend(
            ds.missing_images
                .iter()
                .map(|(l, p)| (*l, format!("missing {p:?}"))),
        );
        rows.sort();
        rows
    }

    /// What any input must give: an error that names the file, or a dataset in which every
    /// line that holds something after the header is accounted for exactly once (sample,
    /// bad row or missing image), and exactly as that line reads on its own under the same
    /// header: a bad line never changes how the next ones read.
    fn check(bytes: &[u8], result: Result<Dataset>, parse: impl Fn(&[u8]) -> Result<Dataset>) {
        let ds = match result {
            Ok(ds) => ds,
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains("fuzz-labels.csv"), "{text}");
                return;
            }
        };
        let file = String::from_utf8_lossy(bytes);
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
        let content: Vec<usize> = (1..=lines.len())
            .filter(|&n| !lines[n - 1].iter().all(u8::is_ascii_whitespace))
            .collect();
        let rows = outcomes(&ds);
        let numbers: Vec<usize> = rows.iter().map(|(l, _)| *l).collect();
        assert_eq!(numbers, content[1..], "{file:?}");
        let header = content[0];
        for (row, &n) in rows.iter().zip(&content[1..]) {
            // The header line, blank lines up to line n, then line n: the same line number.
            let alone: Vec<&[u8]> = (1..=n)
                .map(|i| {
                    if i <= header || i == n {
                        lines[i - 1]
                    } else {
                        &[]
                    }
                })
                .collect();
            let alone = parse(&alone.join(&b'\n')).expect("the header reads as before");
            assert_eq!(outcomes(&alone), [row.clone()], "line {n} of {file:?}");
        }
        let _ = ds.summary().to_string();
    }

    /// A bounded property test: 4,000 mutated or random files never panic the reader, and
    /// each gives a dataset with every row accounted for or an error naming the file. One
    /// round in 200 goes through `load_csv` and a real file (file writes are the slow part).
    #[test]
    fn mutated_files_never_panic() {
        let tmp = tempfile::tempdir().unwrap();
        let csv = tmp.path().join("fuzz-labels.csv");
        for name in ["a.jpg", "d.jpg", "b\"q\".jpg", "x.png"] {
            touch(tmp.path(), name);
        }
        let row = |image: &str, values: &str, emotion: &str| {
            format!("{image},{}{emotion}", format!("{values},").repeat(11))
        };
        let goods = [
            format!(
                "{}\r\n{}\r\n{}\r\n{}\r\n",
                csv_header(),
                row("a.jpg", "1", "fear"),
                row("\"b, c.jpg\"", "999", ""),
                row("d.jpg", "0", "Happiness")
            ),
            "\u{feff}path\tAU12\tAU6\temotion\n a.jpg \t1\t\tsad\n\"b\"\"q\".jpg\t0\t1\t\n"
                .to_string(),
            "image;AU01;AU12\nx.png;1;0\ny.png;999;1\n".to_string(),
        ];
        let alphabet = b"AU01,2569\"\n\r\t;999 emotionhappy\xEF\xBB\xBF\xFFa.jpg";
        let mut rng = SplitMix64::new(7);
        for round in 0..4000 {
            let bytes: Vec<u8> = if round % 4 == 0 {
                (0..rng.below(300))
                    .map(|_| {
                        if rng.chance(0.2) {
                            rng.next_u64() as u8
                        } else {
                            alphabet[rng.below(alphabet.len())]
                        }
                    })
                    .collect()
            } else {
                mutate(&mut rng, goods[round % goods.len()].as_bytes())
            };
            let allow_missing_columns = round % 3 != 0;
            let parse = |bytes: &[u8]| {
                parse_bytes(
                    bytes,
                    &csv,
                    tmp.path(),
                    allow_missing_columns,
                    Path::is_file,
                )
            };
            let result = if round % 200 == 1 {
                fs::write(&csv, &bytes).unwrap();
                load_csv(&csv, tmp.path(), allow_missing_columns)
            } else {
                parse(&bytes)
            };
            check(&bytes, result, parse);
        }
    }
}
