//! Small convolution kernels that candle's CPU backend runs slowly, as candle custom ops: one
//! file per operation ([`depthwise3x3`], [`conv3x3`], [`max_pool2x2`], [`batch_norm_train`],
//! [`pointwise`]); the fused inference path of the bundled face-api networks ([`fused`]);
//! this module holds the helpers they share.

mod batch_norm;
mod conv3x3;
mod depthwise;
pub(crate) mod fused;
mod gemm;
mod max_pool;
mod pointwise;

pub use batch_norm::batch_norm_train;
pub use conv3x3::conv3x3;
pub use depthwise::depthwise3x3;
pub use max_pool::max_pool2x2;
pub use pointwise::pointwise;

use candle_core::{CpuStorage, Layout, Result};

/// The f32 values of a contiguous CPU tensor; `what` names the op in the error.
fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s.as_slice::<f32>()?[a..b]),
        None => candle_core::bail!("{what}: input not contiguous"),
    }
}

/// Largest absolute difference between two tensors of the same shape.
#[cfg(test)]
pub(crate) fn close(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    largest_abs(&(a - b).unwrap())
}

/// Largest absolute value in a tensor.
#[cfg(test)]
pub(crate) fn largest_abs(t: &candle_core::Tensor) -> f32 {
    t.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}
