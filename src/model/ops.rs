//! Small convolution kernels that candle's CPU backend runs slowly: depthwise 3x3 (candle
//! splits a grouped convolution into one convolution per channel) and 1x1 pointwise
//! (done as one matrix product instead of im2col).

use candle_core::{Result, Tensor};

/// Depthwise 3x3 convolution of `x` [n, c, h, w] with `w` [c, 1, 3, 3], zero padding
/// (top, bottom, left, right), stride 1 or 2. Computed as the sum of nine shifted,
/// per-channel-scaled copies of the padded input.
pub fn depthwise3x3(x: &Tensor, w: &Tensor, pad: (usize, usize, usize, usize), stride: usize) -> Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    let xp = x
        .pad_with_zeros(2, pad.0, pad.1)?
        .pad_with_zeros(3, pad.2, pad.3)?;
    let (hp, wp) = (h + pad.0 + pad.1, wd + pad.2 + pad.3);
    // Stride-1 "valid" output size over the padded input.
    let (ho, wo) = (hp - 2, wp - 2);
    let taps = w.reshape((c, 9))?;
    let mut acc: Option<Tensor> = None;
    for i in 0..3 {
        let rows = xp.narrow(2, i, ho)?;
        for j in 0..3 {
            let tap = taps.narrow(1, i * 3 + j, 1)?.reshape((1, c, 1, 1))?;
            let term = rows.narrow(3, j, wo)?.broadcast_mul(&tap)?;
            acc = Some(match acc {
                None => term,
                Some(a) => (a + term)?,
            });
        }
    }
    let y = match acc {
        Some(y) => y,
        None => return Tensor::zeros((n, c, ho, wo), x.dtype(), x.device()),
    };
    if stride == 1 {
        return Ok(y);
    }
    // Keep every `stride`-th row and column, starting at 0.
    let pick = |len: usize| -> Result<Tensor> {
        let idx: Vec<u32> = (0..len).step_by(stride).map(|v| v as u32).collect();
        Tensor::new(idx.as_slice(), x.device())
    };
    y.index_select(&pick(ho)?, 2)?.index_select(&pick(wo)?, 3)
}

/// 1x1 convolution of `x` [n, c, h, w] with `w` [o, c, 1, 1], as a matrix product.
pub fn pointwise(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    let o = w.dim(0)?;
    let w2 = w.reshape((o, c))?;
    let y = w2.broadcast_matmul(&x.reshape((n, c, h * wd))?)?; // [n, o, h*w]
    y.reshape((n, o, h, wd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn close(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    #[test]
    fn depthwise_matches_candle_grouped_conv() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 5, 9, 8), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (5, 1, 3, 3), &dev).unwrap();
        // Stride 1, pad 1 all round: candle's own conv2d with groups = channels.
        let want = x.conv2d(&w, 1, 1, 1, 5).unwrap();
        let got = depthwise3x3(&x, &w, (1, 1, 1, 1), 1).unwrap();
        assert_eq!(got.dims(), want.dims());
        assert!(close(&got, &want) < 1e-5);
        // Stride 2 with TF 'same' padding on an even size: pad (0,1,0,1), then a valid conv.
        let x2 = Tensor::randn(0f32, 1.0, (1, 3, 8, 8), &dev).unwrap();
        let w2 = Tensor::randn(0f32, 1.0, (3, 1, 3, 3), &dev).unwrap();
        let padded = x2.pad_with_zeros(2, 0, 1).unwrap().pad_with_zeros(3, 0, 1).unwrap();
        let want = padded.conv2d(&w2, 0, 2, 1, 3).unwrap();
        let got = depthwise3x3(&x2, &w2, (0, 1, 0, 1), 2).unwrap();
        assert_eq!(got.dims(), &[1, 3, 4, 4]);
        assert!(close(&got, &want) < 1e-5);
    }

    #[test]
    fn pointwise_matches_conv2d() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 4, 3, 5), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (6, 4, 1, 1), &dev).unwrap();
        let want = x.conv2d(&w, 0, 1, 1, 1).unwrap();
        let got = pointwise(&x, &w).unwrap();
        assert!(close(&got, &want) < 1e-5);
        let _ = DType::F32;
    }
}
