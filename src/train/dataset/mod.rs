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
//!
//! `read` parses a file into a [`Dataset`], `write` writes samples back in the same format,
//! `summary` counts what a dataset holds, and `subset` draws balanced, stratified
//! train/val/test splits from it. This module holds the types they share and re-exports
//! their public items.

use std::path::PathBuf;

use crate::frame::{AU_NUMBERS, EMOTIONS, NUM_AUS};

mod read;
mod subset;
mod summary;
mod write;

pub use read::load_csv;
pub(crate) use read::{csv_error, separator};
pub use subset::{
    parse_classes, subset, subset_with_fractions, ClassExpr, ClassReport, SplitFractions, Splits,
    SubsetSpec,
};
pub use summary::{AuCount, DatasetSummary};
pub use write::{csv_header, write_csv};

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

/// The AU number in a header like `AU1`, `au01` or ` AU12 `; `None` for anything else.
pub(crate) fn au_number(header: &str) -> Option<u32> {
    let name = header.trim();
    let digits = name.get(..2).filter(|p| p.eq_ignore_ascii_case("au"))?;
    let digits = &name[digits.len()..];
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The position of `au` in [`AU_NUMBERS`].
pub(crate) fn au_index(au: u32) -> Option<usize> {
    AU_NUMBERS.iter().position(|&n| u32::from(n) == au)
}

/// The index in [`EMOTIONS`] of a name, any case.
pub fn emotion_index(name: &str) -> Option<usize> {
    let name = name.trim();
    EMOTIONS.iter().position(|e| e.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

/// Creates `dir/name` (and its parent directories) holding one byte, for tests that need an
/// image file to exist.
#[cfg(test)]
fn touch(dir: &std::path::Path, name: &str) {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(p, b"x").unwrap();
}
