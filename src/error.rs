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
    /// backtrace).
    #[error("candle: {}", first_line(.0))]
    Candle(#[from] candle_core::Error),

    /// Image decoding or encoding failed.
    #[error("image {path}: {reason}")]
    Image { path: PathBuf, reason: String },

    /// The overlay window could not be opened.
    #[error("window: {0}")]
    Window(String),

    /// A stage thread panicked or stopped unexpectedly.
    #[error("stage {0} failed: {1}")]
    Stage(&'static str, String),

    /// File input/output with the path involved.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// JSON (sidecars, calibration, configs).
    #[error("json {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
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

/// The first line of an error's message, for errors (candle's) that append a backtrace.
pub(crate) fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}
