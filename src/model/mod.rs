//! The candle networks, the CPU kernels they run on ([`ops`]) and the AU network's file
//! format ([`au_net_file`]). The weights they load are listed, with their sha256, in
//! [`crate::weights`] (re-exported here).

pub mod au_net;
pub mod au_net_file;
pub mod emotion;
pub mod faceapi;
pub mod facex;
pub mod fer;
pub mod landmarks;
pub mod ops;
pub mod temperature;

pub use crate::weights::{
    default_models_dir, read_verified, sha256_hex, verify_all, BundledModel, ModelStatus, BUNDLED,
    FACEAPI_EXPRESSION, FACEAPI_LANDMARKS, FACEX_EMOTION, FER_EMOTION, SEETA_DETECTOR,
};

use crate::error::{first_line, Error};

/// [`Error::Weights`] for a candle error about tensor `name` (its first line: candle's
/// messages may carry a backtrace).
pub(crate) fn tensor_error(name: &str, e: candle_core::Error) -> Error {
    Error::Weights(format!("tensor `{name}`: {}", first_line(&e)))
}

/// The device networks run on: the first CUDA GPU when built with `cuda` and one is
/// present, else the CPU.
pub fn device() -> candle_core::Device {
    #[cfg(feature = "cuda")]
    if let Ok(d) = candle_core::Device::new_cuda(0) {
        return d;
    }
    candle_core::Device::Cpu
}
