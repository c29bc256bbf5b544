//! facs: facial Action Units and emotions from faces, live from a camera or from recorded
//! lab footage.
//!
//! The modules form layers; each imports only from layers below it (ARCHITECTURE.md, checked
//! by `tests/layers.rs`). A frame flows upward through them: [`source`] -> [`detect`] /
//! [`track`] -> [`align`] -> [`classify`] (networks in [`model`], baselines and thresholds
//! in [`calibrate`]) -> the sinks [`log`] / [`overlay`] / [`window`]. [`pipeline`] runs the
//! stages as named threads joined by bounded channels; [`session`] drives a whole run.
//! Training ([`train`]) sits beside inference on top: it imports inference, never the
//! reverse.

// Core: types and helpers every layer uses.
pub mod canvas;
pub mod config;
pub mod error;
pub mod font;
pub mod frame;
pub mod telemetry;
pub mod util;
pub mod weights;

// Input and geometry: frames in, faces found, followed and cropped.
pub mod align;
pub mod brows;
pub mod detect;
pub mod face_frame;
pub mod furrow;
pub mod geometry;
pub mod source;
pub mod still;
pub mod track;

// Networks and their weights.
pub mod model;

// Neutral baselines and AU thresholds.
pub mod calibrate;

// Scores for each face.
pub mod classify;

// Stage threads and channels.
pub mod pipeline;

// Sinks: per-frame log, drawing, window.
pub mod heatmap;
pub mod log;
pub mod overlay;
pub mod window;

// Whole runs: a session, the benchmark, a neutral-face measurement.
pub mod batch;
pub mod bench;
pub mod neutral;
pub mod session;

// Training and evaluation, on top of inference.
pub mod train;

pub use error::{Error, Result};
