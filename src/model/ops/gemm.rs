//! The matrix product of the fused inference path ([`super::fused`]): the only file that
//! calls the `gemm` crate directly (the crate candle's CPU backend multiplies with).

use candle_core::Result;

/// `dst += lhs · rhs` for row-major, contiguous `lhs` [m, k], `rhs` [k, n] and `dst`
/// [m, n], on the calling thread. Adding onto `dst` lets a caller start it from the bias
/// (and a residual) instead of adding them in passes of their own.
///
/// # Errors
/// A slice shorter than its shape.
pub(super) fn matmul_add(
    (m, n, k): (usize, usize, usize),
    lhs: &[f32],
    rhs: &[f32],
    dst: &mut [f32],
) -> Result<()> {
    if lhs.len() < m * k || rhs.len() < k * n || dst.len() < m * n {
        candle_core::bail!(
            "matmul_add: [{m}, {k}] x [{k}, {n}] -> [{m}, {n}] with {}, {} and {} values",
            lhs.len(),
            rhs.len(),
            dst.len()
        );
    }
    // SAFETY: the three buffers hold the shapes checked above, rows contiguous (column
    // stride 1, row stride = row length); `dst` does not alias the inputs (`&mut`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            true,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_the_product_onto_dst() {
        // [2, 3] x [3, 2] onto [[1, 1], [1, 1]].
        let lhs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let rhs = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let mut dst = [1.0f32; 4];
        matmul_add((2, 2, 3), &lhs, &rhs, &mut dst).unwrap();
        assert_eq!(dst, [59.0, 65.0, 140.0, 155.0]);
        assert!(matmul_add((2, 2, 3), &lhs[..5], &rhs, &mut dst).is_err());
    }
}
