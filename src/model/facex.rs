//! facex's MobileNetV2 7-emotion network (TFLite, PyPI facex 1.1.0), ported to candle.
//! Weights: models/facex_emotion_mobilenetv2.safetensors, dequantised from the TFLite file by
//! tools/convert_facex.py (see its model card). BatchNorm is already folded into every
//! convolution's bias, so inference is convolutions, ReLU6 and residual sums.
//!
//! The input is a grey face crop repeated into three channels; the three channels being equal,
//! the first convolution's weights are summed over them and the network takes the grey crop
//! directly (the same sums, in another order). The layers up to the last feature map are a
//! [`Trunk`] of their own, which facs's AU network also uses as a trainable backbone.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::ops::{conv3x3, depthwise3x3, pointwise};
use super::tensor_error;
use crate::error::{Error, Result};

/// Input side in pixels.
pub const INPUT: u32 = 200;
/// Class order of the network's output.
pub const LABELS: [&str; 7] = [
    "anger",
    "disgust",
    "fear",
    "happy",
    "neutral",
    "sadness",
    "surprised",
];
/// Channels of the last feature map, and its side for a 200x200 input.
pub const FEATURES: usize = 1280;
pub const FEATURE_SIDE: usize = 6;

/// Keras's ZeroPadding2D before a stride-2 3x3 convolution on an even side: one row and
/// one column, after (bottom, right).
const PAD_STRIDE2: (usize, usize, usize, usize) = (0, 1, 0, 1);
const PAD_SAME: (usize, usize, usize, usize) = (1, 1, 1, 1);

/// A convolution's weights and bias.
#[derive(Debug)]
struct Conv {
    w: Tensor,
    b: Tensor,
}

impl Conv {
    fn load(vb: &VarBuilder, name: &str, shape: (usize, usize, usize, usize)) -> Result<Self> {
        let get = |n: String, s: &[usize]| vb.get(s, &n).map_err(|e| tensor_error(&n, e));
        let w = get(
            format!("{name}.weight"),
            &[shape.0, shape.1, shape.2, shape.3],
        )?;
        let b = get(format!("{name}.bias"), &[shape.0])?;
        Ok(Conv { w, b })
    }

    fn bias(&self, y: Tensor) -> candle_core::Result<Tensor> {
        y.broadcast_add(&self.b.reshape((1, (), 1, 1))?)
    }

    fn pointwise(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.bias(pointwise(x, &self.w)?)
    }

    fn depthwise(&self, x: &Tensor, stride: usize) -> candle_core::Result<Tensor> {
        let pad = if stride == 2 { PAD_STRIDE2 } else { PAD_SAME };
        self.bias(depthwise3x3(x, &self.w, pad, stride)?)
    }
}

fn relu6(x: &Tensor) -> candle_core::Result<Tensor> {
    x.clamp(0f32, 6f32)
}

/// One inverted residual block: 1x1 expansion (absent in the first), 3x3 depthwise, 1x1
/// linear projection, and the block's input added back when shapes allow.
#[derive(Debug)]
struct Block {
    expand: Option<Conv>,
    depthwise: Conv,
    project: Conv,
    stride: usize,
    residual: bool,
}

impl Block {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = match &self.expand {
            Some(e) => relu6(&e.pointwise(x)?)?,
            None => x.clone(),
        };
        let y = relu6(&self.depthwise.depthwise(&y, self.stride)?)?;
        let y = self.project.pointwise(&y)?;
        if self.residual {
            y + x
        } else {
            Ok(y)
        }
    }
}

/// (output channels, stride) of blocks 1..=16; the expansion factor is 6 throughout.
const PLAN: [(usize, usize); 16] = [
    (24, 2),
    (24, 1),
    (32, 2),
    (32, 1),
    (32, 1),
    (64, 2),
    (64, 1),
    (64, 1),
    (64, 1),
    (96, 1),
    (96, 1),
    (96, 1),
    (160, 2),
    (160, 1),
    (160, 1),
    (320, 1),
];

/// The layers from Conv1 to Conv_1 (with its ReLU6): a grey crop [n, 1, 200, 200] in [0, 1]
/// to the [n, 1280, 6, 6] map that feeds facex's dense layer. Used by [`FacexNet`] for
/// inference and by facs's AU network as a trainable backbone (loaded from a `VarBuilder`
/// over the same tensor names, so its weights can be variables).
#[derive(Debug)]
pub struct Trunk {
    /// Conv1 as stored, [32, 3, 3, 3]: summed over its three input channels at each forward
    /// pass (the input's three channels are equal), so a variable behind it stays trainable.
    conv1: Conv,
    blocks: Vec<Block>,
    conv_last: Conv,
}

impl Trunk {
    /// Loads the trunk's tensors (facex's names: `Conv1`, `expanded_conv_*`, `block_N_*`,
    /// `Conv_1`) from `vb`.
    ///
    /// # Errors
    /// [`Error::Weights`] naming the first missing or wrongly shaped tensor.
    pub fn load(vb: &VarBuilder) -> Result<Self> {
        let conv1 = Conv::load(vb, "Conv1", (32, 3, 3, 3))?;
        let mut blocks = vec![Block {
            expand: None,
            depthwise: Conv::load(vb, "expanded_conv_depthwise", (32, 1, 3, 3))?,
            project: Conv::load(vb, "expanded_conv_project", (16, 32, 1, 1))?,
            stride: 1,
            residual: false,
        }];
        let mut cin = 16;
        for (i, &(cout, stride)) in PLAN.iter().enumerate() {
            let name = format!("block_{}", i + 1);
            let mid = cin * 6;
            blocks.push(Block {
                expand: Some(Conv::load(vb, &format!("{name}_expand"), (mid, cin, 1, 1))?),
                depthwise: Conv::load(vb, &format!("{name}_depthwise"), (mid, 1, 3, 3))?,
                project: Conv::load(vb, &format!("{name}_project"), (cout, mid, 1, 1))?,
                stride,
                residual: stride == 1 && cin == cout,
            });
            cin = cout;
        }
        let conv_last = Conv::load(vb, "Conv_1", (FEATURES, 320, 1, 1))?;
        Ok(Trunk {
            conv1,
            blocks,
            conv_last,
        })
    }

    /// The last feature map [n, 1280, 6, 6] (after Conv_1 and its ReLU6) of grey crops
    /// `grey` [n, 1, 200, 200] with pixels in [0, 1]. Differentiable in the input and every
    /// weight (each op has a backward pass), so fine-tuning trains through it.
    ///
    /// # Errors
    /// A tensor operation failed (a wrong input shape included).
    pub fn forward(&self, grey: &Tensor) -> candle_core::Result<Tensor> {
        let w1 = self.conv1.w.sum_keepdim(1)?; // [32, 1, 3, 3]
        let mut x = relu6(&self.conv1.bias(conv3x3(grey, &w1, PAD_STRIDE2, 2)?)?)?;
        for block in &self.blocks {
            x = block.forward(&x)?; // 16x100x100 ... 320x6x6
        }
        relu6(&self.conv_last.pointwise(&x)?)
    }
}

/// The MobileNetV2 network.
#[derive(Debug)]
pub struct FacexNet {
    trunk: Trunk,
    /// Dense layer weights [7, 1280 * 6 * 6] (NCHW flatten order), transposed for the product.
    dense_wt: Tensor,
    dense_b: Tensor,
    device: Device,
}

impl FacexNet {
    /// Builds the network from safetensors bytes (already sha256-checked by the caller).
    ///
    /// # Errors
    /// [`Error::Weights`] naming the first missing or wrongly shaped tensor.
    pub fn from_bytes(bytes: Vec<u8>, device: &Device) -> Result<Self> {
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, device)
            .map_err(|e| Error::Weights(format!("not a safetensors file: {e}")))?;
        let trunk = Trunk::load(&vb)?;
        let n_in = FEATURES * FEATURE_SIDE * FEATURE_SIDE;
        let dense_w = vb
            .get((7, n_in), "predictis.weight")
            .map_err(|e| tensor_error("predictis.weight", e))?;
        let dense_wt = dense_w
            .t()
            .and_then(|t| t.contiguous())
            .map_err(|e| tensor_error("predictis.weight", e))?;
        let dense_b = vb
            .get(7, "predictis.bias")
            .map_err(|e| tensor_error("predictis.bias", e))?;
        Ok(FacexNet {
            trunk,
            dense_wt,
            dense_b,
            device: device.clone(),
        })
    }

    /// The trunk (Conv1 .. Conv_1), for its last feature map.
    pub fn trunk(&self) -> &Trunk {
        &self.trunk
    }

    /// Logits for a batch of grey 200x200 crops (`n * 200 * 200` bytes), in the network's
    /// class order ([`LABELS`]).
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
        // One image at a time on the CPU: its activations stay in cache.
        let mut out = Vec::with_capacity(n);
        for img in grey.chunks_exact(per_image) {
            out.push(self.logits_one(img)?);
        }
        Ok(out)
    }

    /// A grey crop's bytes as the trunk's [1, 1, 200, 200] input in [0, 1].
    pub fn input_tensor(&self, grey: &[u8]) -> candle_core::Result<Tensor> {
        let side = INPUT as usize;
        let x: Vec<f32> = grey.iter().map(|&p| p as f32 / 255.0).collect();
        Tensor::from_vec(x, (1, 1, side, side), &self.device)
    }

    fn logits_one(&self, grey: &[u8]) -> candle_core::Result<[f32; 7]> {
        let x = self.trunk.forward(&self.input_tensor(grey)?)?; // [1, 1280, 6, 6]
        let x = x.flatten_all()?.unsqueeze(0)?; // NCHW flatten order, as the weights
        let y = x.matmul(&self.dense_wt)?.broadcast_add(&self.dense_b)?;
        let row = y.squeeze(0)?.to_vec1::<f32>()?;
        let mut a = [0f32; 7];
        a.copy_from_slice(&row[..7]);
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_gives_the_six_by_six_map() {
        // 200 -> 100 (Conv1) -> 50, 25, 12, 6 at the four stride-2 blocks, as in the TFLite
        // graph; the dense layer's 46,080 inputs are 1280 x 6 x 6.
        let mut side = 200usize;
        let down = |s: usize| (s + 1 - 3) / 2 + 1; // pad one after, 3x3, stride 2
        side = down(side);
        for &(_, stride) in &PLAN {
            if stride == 2 {
                side = down(side);
            }
        }
        assert_eq!(side, FEATURE_SIDE);
        assert_eq!(PLAN.iter().filter(|p| p.1 == 2).count(), 4);
    }
}
