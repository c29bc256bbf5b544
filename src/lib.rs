//! facs: facial Action Units and emotions from faces, live from a camera or from recorded
//! lab footage.
//!
//! Data flows through the modules in this order: [`source`] (camera, video, images,
//! synthetic) -> [`detect`] (rustface) -> [`track`] (stable ids) -> [`align`] (crops) ->
//! [`classify`] (candle networks in [`model`]) -> [`log`] / [`overlay`] / [`window`].
//! [`pipeline`] runs these as named threads joined by bounded channels; [`session`] drives a
//! whole run with its sinks and summary.

pub mod align;
pub mod bench;
pub mod calibrate;
pub mod canvas;
pub mod classify;
pub mod config;
pub mod detect;
pub mod error;
pub mod font;
pub mod frame;
pub mod geometry;
pub mod log;
pub mod model;
pub mod overlay;
pub mod pipeline;
pub mod session;
pub mod source;
pub mod telemetry;
pub mod track;
pub mod train;
pub mod util;
pub mod window;

pub use error::{Error, Result};
