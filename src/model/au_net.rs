//! facs's own AU + emotion network: a small CNN trunk and three linear heads on globally
//! average-pooled features (11 AU logits, 7 emotion logits, 1 happy logit). With pooling
//! directly before each linear head, the class activation map of a class is exactly the
//! head's weights applied to the last feature map, so `facs cam` shows what the logit sees.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{conv2d, linear, Conv2d, Conv2dConfig, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::frame::NUM_AUS;

/// Shape of the network; stored in the JSON beside the weights so inference never guesses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuNetConfig {
    /// Side of the square RGB input in pixels (a multiple of 8).
    pub input: u32,
    /// Channels of the first block; blocks double it (w, 2w, 4w, 8w).
    pub width: usize,
}

impl Default for AuNetConfig {
    fn default() -> Self {
        AuNetConfig::small()
    }
}

impl AuNetConfig {
    /// The default: 64 px input, width 16 (about 0.25 M parameters).
    pub fn small() -> Self {
        AuNetConfig {
            input: 64,
            width: 16,
        }
    }

    /// # Errors
    /// Sizes the network cannot take.
    pub fn validate(&self) -> crate::Result<()> {
        if self.input < 32 || self.input > 512 || self.input % 8 != 0 {
            return Err(crate::Error::config(
                "input size",
                self.input,
                "a multiple of 8 in 32..=512",
            ));
        }
        if self.width == 0 || self.width > 256 {
            return Err(crate::Error::config("width", self.width, "1..=256"));
        }
        Ok(())
    }

    /// Side of the last feature map (the CAM resolution).
    pub fn cam_side(&self) -> u32 {
        self.input / 8
    }
}

/// The three heads' outputs.
#[derive(Debug)]
pub struct Outputs {
    /// [n, 11]
    pub au: Tensor,
    /// [n, 7]
    pub emotion: Tensor,
    /// [n]
    pub happy: Tensor,
}

/// Which head a class activation map is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    Au(usize),
    Emotion(usize),
    Happy,
}

/// The network.
#[derive(Debug)]
pub struct AuNet {
    convs: Vec<Conv2d>,
    au: Linear,
    emotion: Linear,
    happy: Linear,
    pub config: AuNetConfig,
}

/// Normalisation of input pixels: `(p / 255 - 0.5) / 0.25`.
pub fn normalise(p: u8) -> f32 {
    (p as f32 / 255.0 - 0.5) / 0.25
}

impl AuNet {
    /// Builds (training: from a VarMap) or loads (from safetensors) the network.
    ///
    /// # Errors
    /// A tensor is missing or of the wrong shape (candle names it).
    pub fn new(vb: VarBuilder, config: AuNetConfig) -> Result<Self> {
        let w = config.width;
        let same = Conv2dConfig {
            padding: 1,
            ..Default::default()
        };
        // Three blocks of two convolutions then a 2x2 max-pool, and a last convolution.
        let plan = [
            (3, w),
            (w, w),
            (w, 2 * w),
            (2 * w, 2 * w),
            (2 * w, 4 * w),
            (4 * w, 4 * w),
            (4 * w, 8 * w),
        ];
        let mut convs = Vec::new();
        for (i, (cin, cout)) in plan.iter().enumerate() {
            convs.push(conv2d(*cin, *cout, 3, same, vb.pp(format!("conv{i}")))?);
        }
        let c = 8 * w;
        Ok(AuNet {
            convs,
            au: linear(c, NUM_AUS, vb.pp("au_head"))?,
            emotion: linear(c, 7, vb.pp("emotion_head"))?,
            happy: linear(c, 1, vb.pp("happy_head"))?,
            config,
        })
    }

    /// The last feature map, [n, 8w, input/8, input/8], for `x` [n, 3, input, input].
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for (i, conv) in self.convs.iter().enumerate() {
            x = conv.forward(&x)?.relu()?;
            if i % 2 == 1 && i < 6 {
                x = x.max_pool2d(2)?; // input/2, input/4, input/8
            }
        }
        Ok(x)
    }

    /// All three heads for a batch.
    pub fn forward(&self, x: &Tensor) -> Result<Outputs> {
        let f = self.features(x)?;
        let pooled = f.mean(D::Minus1)?.mean(D::Minus1)?; // [n, 8w]
        Ok(Outputs {
            au: self.au.forward(&pooled)?,
            emotion: self.emotion.forward(&pooled)?,
            happy: self.happy.forward(&pooled)?.squeeze(1)?,
        })
    }

    /// Class activation maps [n, input/8, input/8] for one head's class: the class's
    /// weights applied to each position of the last feature map. Their mean over positions
    /// plus the bias is exactly the class's logit.
    pub fn cam(&self, x: &Tensor, head: Head) -> Result<Tensor> {
        let f = self.features(x)?;
        let (linear, row) = match head {
            Head::Au(k) => (&self.au, k),
            Head::Emotion(k) => (&self.emotion, k),
            Head::Happy => (&self.happy, 0),
        };
        let w = linear.weight().get(row)?; // [c]
        let (n, c, h, wd) = f.dims4()?;
        let cam = w
            .reshape((1, 1, c))?
            .broadcast_matmul(&f.reshape((n, c, h * wd))?)?; // [n, 1, h*w]
        cam.reshape((n, h, wd))
    }

    /// The bias of a head's class (for checking CAMs against logits).
    pub fn bias(&self, head: Head) -> Result<f32> {
        let (linear, row) = match head {
            Head::Au(k) => (&self.au, k),
            Head::Emotion(k) => (&self.emotion, k),
            Head::Happy => (&self.happy, 0),
        };
        match linear.bias() {
            Some(b) => b.get(row)?.to_scalar::<f32>(),
            None => Ok(0.0),
        }
    }
}

/// RGB crops (HWC bytes, `n` of `side` x `side`) as a normalised [n, 3, side, side] tensor.
pub fn to_tensor(
    crops: &[u8],
    n: usize,
    side: usize,
    device: &candle_core::Device,
) -> Result<Tensor> {
    let plane = side * side;
    let mut x = vec![0f32; n * 3 * plane];
    for (img, dst) in crops
        .chunks_exact(3 * plane)
        .zip(x.chunks_exact_mut(3 * plane))
    {
        for (i, px) in img.chunks_exact(3).enumerate() {
            for ch in 0..3 {
                dst[ch * plane + i] = normalise(px[ch]);
            }
        }
    }
    Tensor::from_vec(x, (n, 3, side, side), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn shapes_and_cam_equals_logit() {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let cfg = AuNetConfig {
            input: 32,
            width: 4,
        };
        let net = AuNet::new(vb, cfg).unwrap();
        let x = Tensor::randn(0f32, 1.0, (2, 3, 32, 32), &dev).unwrap();
        let out = net.forward(&x).unwrap();
        assert_eq!(out.au.dims(), &[2, NUM_AUS]);
        assert_eq!(out.emotion.dims(), &[2, 7]);
        assert_eq!(out.happy.dims(), &[2]);
        // CAM exactness: mean of the map + bias = the logit, for every sample.
        let cam = net.cam(&x, Head::Au(6)).unwrap();
        assert_eq!(cam.dims(), &[2, 4, 4]);
        let from_cam = (cam.mean(D::Minus1).unwrap().mean(D::Minus1).unwrap()
            + net.bias(Head::Au(6)).unwrap() as f64)
            .unwrap();
        let logits = out.au.narrow(1, 6, 1).unwrap().squeeze(1).unwrap();
        let diff = (from_cam - logits)
            .unwrap()
            .abs()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-4, "{diff}");
    }

    #[test]
    fn config_validation() {
        assert!(AuNetConfig::small().validate().is_ok());
        assert!(AuNetConfig {
            input: 60,
            width: 16
        }
        .validate()
        .is_err());
        assert!(AuNetConfig {
            input: 64,
            width: 0
        }
        .validate()
        .is_err());
    }
}
