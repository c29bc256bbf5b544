//! Small helpers every layer may use: they import nothing from the rest of the crate but
//! [`crate::error`].

pub mod json;
pub mod png;
pub mod progress;
pub mod rng;
pub mod time;
pub mod worker;
