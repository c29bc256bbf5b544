//! fer's mini-Xception 7-emotion network (Keras, FER2013), ported to candle.
//! Weights: models/fer_minixception.safetensors (see its model card). BatchNorm layers are
//! folded into the convolutions before them at load time, so inference is convs only.
//!
//! Keras 'same' padding puts any odd pixel on the bottom/right, and max-pooling pads with
//! -inf; both are reproduced exactly (tests/emotion_golden.rs checks against the original).

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;

use super::ops::{conv3x3, depthwise3x3, pointwise};
use super::tensor_error;
use crate::error::{Error, Result};

/// Input side in pixels.
pub const INPUT: u32 = 64;
/// BatchNorm epsilon used by every BN layer of the original.
const BN_EPS: f64 = 1e-3;

/// A convolution with its following BatchNorm folded in: `y = conv(x, w) + b`.
#[derive(Debug)]
struct Folded {
    w: Tensor,
    b: Tensor,
}

impl Folded {
    /// 3x3 convolution with `pad` on every side, stride 1.
    fn conv3x3(&self, x: &Tensor, pad: usize) -> candle_core::Result<Tensor> {
        let y = conv3x3(x, &self.w, (pad, pad, pad, pad), 1)?;
        y.broadcast_add(&self.b.reshape((1, (), 1, 1))?)
    }

    /// 1x1 convolution with stride 2 (Keras 'same' needs no padding here).
    fn conv1x1_stride2(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let pick = |len: usize| -> candle_core::Result<Tensor> {
            let idx: Vec<u32> = (0..len).step_by(2).map(|v| v as u32).collect();
            Tensor::new(idx.as_slice(), x.device())
        };
        let x = x.index_select(&pick(h)?, 2)?.index_select(&pick(w)?, 3)?;
        pointwise(&x, &self.w)?.broadcast_add(&self.b.reshape((1, (), 1, 1))?)
    }
}

/// Loads `conv` weights of `shape` and folds BatchNorm `bn` (over `out` channels) into them.
fn conv_bn(
    vb: &VarBuilder,
    conv: &str,
    shape: (usize, usize, usize, usize),
    bn: &str,
) -> Result<Folded> {
    let get = |name: String, s: &[usize]| vb.get(s, &name).map_err(|e| tensor_error(&name, e));
    let w = get(
        format!("{conv}.weight"),
        &[shape.0, shape.1, shape.2, shape.3],
    )?;
    let c = shape.0;
    let gamma = get(format!("{bn}.weight"), &[c])?;
    let beta = get(format!("{bn}.bias"), &[c])?;
    let mean = get(format!("{bn}.running_mean"), &[c])?;
    let var = get(format!("{bn}.running_var"), &[c])?;
    let fold = || -> candle_core::Result<Folded> {
        let scale = gamma.div(&(var + BN_EPS)?.sqrt()?)?;
        let b = beta.sub(&mean.mul(&scale)?)?;
        let w = w.broadcast_mul(&scale.reshape((c, 1, 1, 1))?)?;
        Ok(Folded { w, b })
    };
    fold().map_err(|e| tensor_error(conv, e))
}

/// Depthwise 3x3 then pointwise 1x1 (BN folded into the pointwise).
#[derive(Debug)]
struct Separable {
    depthwise: Tensor,
    pointwise: Folded,
}

impl Separable {
    fn load(vb: &VarBuilder, name: &str, cin: usize, cout: usize, bn: &str) -> Result<Self> {
        let dw_name = format!("{name}.depthwise.weight");
        let depthwise = vb
            .get((cin, 1, 3, 3), &dw_name)
            .map_err(|e| tensor_error(&dw_name, e))?;
        let pointwise = conv_bn(vb, &format!("{name}.pointwise"), (cout, cin, 1, 1), bn)?;
        Ok(Separable {
            depthwise,
            pointwise,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = depthwise3x3(x, &self.depthwise, (1, 1, 1, 1), 1)?;
        let y = pointwise(&x, &self.pointwise.w)?;
        y.broadcast_add(&self.pointwise.b.reshape((1, (), 1, 1))?)
    }
}

#[derive(Debug)]
struct Block {
    sep_a: Separable,
    sep_b: Separable,
    shortcut: Folded,
}

/// Pads `dim` with -inf, `before` and `after` entries.
fn pad_neg_inf(x: &Tensor, dim: usize, before: usize, after: usize) -> candle_core::Result<Tensor> {
    if before == 0 && after == 0 {
        return Ok(x.clone());
    }
    let mut parts = Vec::with_capacity(3);
    let mut shape = x.dims().to_vec();
    if before > 0 {
        shape[dim] = before;
        parts.push(Tensor::full(
            f32::NEG_INFINITY,
            shape.as_slice(),
            x.device(),
        )?);
    }
    parts.push(x.clone());
    if after > 0 {
        shape[dim] = after;
        parts.push(Tensor::full(
            f32::NEG_INFINITY,
            shape.as_slice(),
            x.device(),
        )?);
    }
    Tensor::cat(&parts, dim)
}

/// Keras MaxPooling2D(3, strides 2, padding 'same').
fn max_pool_same(x: &Tensor) -> candle_core::Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let pads = |n: usize| {
        let out = n.div_ceil(2);
        let total = ((out - 1) * 2 + 3).saturating_sub(n);
        (total / 2, total - total / 2)
    };
    let (top, bottom) = pads(h);
    let (left, right) = pads(w);
    let x = pad_neg_inf(x, 2, top, bottom)?;
    let x = pad_neg_inf(&x, 3, left, right)?;
    x.max_pool2d_with_stride((3, 3), (2, 2))
}

impl Block {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        // 1x1 stride-2 'same' needs no padding: it samples rows/columns 0, 2, 4, ...
        let residual = self.shortcut.conv1x1_stride2(x)?;
        let y = self.sep_a.forward(x)?.relu()?;
        let y = self.sep_b.forward(&y)?;
        let y = max_pool_same(&y)?;
        y + residual
    }
}

/// The mini-Xception network.
#[derive(Debug)]
pub struct FerNet {
    conv1: Folded,
    conv2: Folded,
    blocks: Vec<Block>,
    head_w: Tensor,
    head_b: Tensor,
    device: Device,
}

impl FerNet {
    /// Builds the network from safetensors bytes (already sha256-checked by the caller).
    ///
    /// # Errors
    /// [`Error::Weights`] naming the first missing or wrongly shaped tensor.
    pub fn from_bytes(bytes: Vec<u8>, device: &Device) -> Result<Self> {
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, device)
            .map_err(|e| Error::Weights(format!("not a safetensors file: {e}")))?;
        let conv1 = conv_bn(&vb, "conv2d_1", (8, 1, 3, 3), "batch_normalization_1")?;
        let conv2 = conv_bn(&vb, "conv2d_2", (8, 8, 3, 3), "batch_normalization_2")?;
        // (sepA, bnA, sepB, bnB, shortcut conv, shortcut bn, in, out) per the Keras graph.
        let plan = [
            (1, 4, 2, 5, 3, 3, 8, 16),
            (3, 7, 4, 8, 4, 6, 16, 32),
            (5, 10, 6, 11, 5, 9, 32, 64),
            (7, 13, 8, 14, 6, 12, 64, 128),
        ];
        let mut blocks = Vec::new();
        for (sa, bna, sb, bnb, sc, bnsc, cin, cout) in plan {
            let bn = |i: usize| format!("batch_normalization_{i}");
            blocks.push(Block {
                sep_a: Separable::load(
                    &vb,
                    &format!("separable_conv2d_{sa}"),
                    cin,
                    cout,
                    &bn(bna),
                )?,
                sep_b: Separable::load(
                    &vb,
                    &format!("separable_conv2d_{sb}"),
                    cout,
                    cout,
                    &bn(bnb),
                )?,
                shortcut: conv_bn(&vb, &format!("conv2d_{sc}"), (cout, cin, 1, 1), &bn(bnsc))?,
            });
        }
        let head_w = vb
            .get((7, 128, 3, 3), "conv2d_7.weight")
            .map_err(|e| tensor_error("conv2d_7.weight", e))?;
        let head_b = vb
            .get(7, "conv2d_7.bias")
            .map_err(|e| tensor_error("conv2d_7.bias", e))?;
        Ok(FerNet {
            conv1,
            conv2,
            blocks,
            head_w,
            head_b,
            device: device.clone(),
        })
    }

    /// Logits for a batch of grey 64x64 crops (`n * 64 * 64` bytes), in fer's class order
    /// (angry, disgust, fear, happy, sad, surprise, neutral).
    ///
    /// # Errors
    /// A tensor operation failed (wrong buffer length included).
    pub fn logits(&self, grey: &[u8], n: usize) -> candle_core::Result<Vec<[f32; 7]>> {
        let per_image = (INPUT * INPUT) as usize;
        if grey.len() != n * per_image {
            candle_core::bail!(
                "expected {n} crops of {per_image} bytes, got {} bytes",
                grey.len()
            );
        }
        if !self.device.is_cpu() {
            return self.logits_batch(grey, n);
        }
        // On the CPU one image at a time is faster per face (its activations stay in cache).
        let mut out = Vec::with_capacity(n);
        for img in grey.chunks_exact(per_image) {
            out.extend(self.logits_batch(img, 1)?);
        }
        Ok(out)
    }

    fn logits_batch(&self, grey: &[u8], n: usize) -> candle_core::Result<Vec<[f32; 7]>> {
        let side = INPUT as usize;
        let x: Vec<f32> = grey.iter().map(|&p| p as f32 / 127.5 - 1.0).collect();
        let x = Tensor::from_vec(x, (n, 1, side, side), &self.device)?;
        let x = self.conv1.conv3x3(&x, 0)?.relu()?; // [n, 8, 62, 62]
        let mut x = self.conv2.conv3x3(&x, 0)?.relu()?; // [n, 8, 60, 60]
        for block in &self.blocks {
            x = block.forward(&x)?; // 16x30x30, 32x15x15, 64x8x8, 128x4x4
        }
        let x = conv3x3(&x, &self.head_w, (1, 1, 1, 1), 1)?; // [n, 7, 4, 4]
        let x = x.broadcast_add(&self.head_b.reshape((1, 7, 1, 1))?)?;
        let x = x.mean(D::Minus1)?.mean(D::Minus1)?; // [n, 7]
        let rows = x.to_vec2::<f32>()?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut a = [0f32; 7];
                a.copy_from_slice(&r[..7]);
                a
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_max_pool_matches_keras_sizes() {
        // 60 -> 30, 30 -> 15, 15 -> 8, 8 -> 4, as in the original graph.
        for (n, out) in [(60, 30), (30, 15), (15, 8), (8, 4)] {
            let x = Tensor::zeros((1, 1, n, n), DType::F32, &Device::Cpu).unwrap();
            assert_eq!(max_pool_same(&x).unwrap().dims(), &[1, 1, out, out]);
        }
        // -inf padding: a negative map keeps its values (zero padding would give 0).
        let x = Tensor::full(-5f32, (1, 1, 8, 8), &Device::Cpu).unwrap();
        let y = max_pool_same(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(y.iter().all(|&v| v == -5.0));
    }
}
