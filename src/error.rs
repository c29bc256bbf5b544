//! The crate's one error type. Library code returns [`Result`]; only `main.rs` uses anyhow.

use std::path::PathBuf;

/// Everything that can go wrong inside facs, with enough context to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is out of range; the message says what was expected.
    #[error("invalid {name} {value} (expected {expected})")]
    InvalidConfig {
        name: &'static str,
        value: String,
        expected: &'static str,
    },

    /// An input path does not exist or cannot be read.
    #[error("input not found: {0}")]
    InputNotFound(PathBuf),

    /// A frame source could not be opened or has failed for good.
    #[error("source {source_name}: {reason}")]
    Source { source_name: String, reason: String },

    /// An external tool (ffmpeg, ffprobe) is missing or failed.
    #[error("{tool}: {reason}")]
    Tool { tool: &'static str, reason: String },

    /// A camera problem; the message lists the cameras found.
    #[error("camera: {0}")]
    Camera(String),

    /// A model file failed its checksum: it is not the file the model card describes.
    #[error(
        "model file {path} has sha256 {actual}, expected {expected}: the file was changed or \
         corrupted; restore it from the repository (git checkout -- {path})"
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    /// A model file is missing, malformed, or lacks a tensor.
    #[error("model {path}: {reason}")]
    Model { path: PathBuf, reason: String },

    /// Calibration data does not fit the model or version in use.
    #[error("calibration {path}: {reason}")]
    Calibration { path: PathBuf, reason: String },

    /// A network could not be built from its weights; the message names the tensor.
    #[error("{0}")]
    Weights(String),

    /// A tensor operation failed (the first line of candle's message: it may carry a
    /// backtrace). Its message is said here, so it is not also this error's `source()`:
    /// a printer that walks the chain would say it twice.
    #[error("candle: {}", first_line(.0))]
    Candle(candle_core::Error),

    /// Image decoding or encoding failed.
    #[error("image {path}: {reason}")]
    Image { path: PathBuf, reason: String },

    /// The overlay window could not be opened.
    #[error("window: {0}")]
    Window(String),

    /// A stage thread panicked or stopped unexpectedly.
    #[error("stage {0} failed: {1}")]
    Stage(&'static str, String),

    /// File input/output with the path involved. The cause is part of the message and not
    /// also a `source()`, so a chain printer (`{:#}` of anyhow) says it once.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// JSON (sidecars, calibration, configs); the cause is in the message, as for `Io`.
    #[error("json {path}: {cause}")]
    Json {
        path: PathBuf,
        cause: serde_json::Error,
    },

    /// An output path that would destroy data or mix two runs: it is the input, another
    /// output, a log another run is writing, or an existing log without `overwrite`.
    #[error("{path}: {reason}")]
    Output { path: PathBuf, reason: String },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }

    /// Wraps a JSON error with the file it concerns.
    pub fn json(path: impl Into<PathBuf>, cause: serde_json::Error) -> Self {
        Error::Json {
            path: path.into(),
            cause,
        }
    }

    /// Shorthand for [`Error::Output`].
    pub fn output(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Output {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::InvalidConfig`].
    pub fn config(name: &'static str, value: impl ToString, expected: &'static str) -> Self {
        Error::InvalidConfig {
            name,
            value: value.to_string(),
            expected,
        }
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Candle(e)
    }
}

/// The first line of an error's message, for errors (candle's) that append a backtrace.
pub(crate) fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `facs: error: {e:#}` prints: each message of the chain, joined by ": ".
    fn chain(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut next = e.source();
        while let Some(cause) = next {
            text.push_str(&format!(": {cause}"));
            next = cause.source();
        }
        text
    }

    #[test]
    fn a_cause_is_said_once_with_its_path() {
        let io = std::io::Error::from_raw_os_error(21);
        let cause = io.to_string();
        let e = Error::io("/data/out.csv", io);
        let text = chain(&e);
        assert_eq!(text, format!("/data/out.csv: {cause}"));
        let bad = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let cause = bad.to_string();
        let text = chain(&Error::json("a.json", bad));
        assert_eq!(text.matches(&cause).count(), 1, "{text}");
        let candle = candle_core::Error::Msg("shape mismatch".into());
        let text = chain(&Error::from(candle));
        assert_eq!(text.matches("shape mismatch").count(), 1, "{text}");
    }
}
