//! facs's own AU + emotion network: a trunk, then three linear heads on globally
//! average-pooled features (11 AU logits, 7 emotion logits, 1 happy logit). The trunk is
//! either a small CNN trained from scratch (3x3 convolutions with batch normalisation) or a
//! backbone pretrained on real faces: face-api's feature extractor or facex's MobileNetV2
//! ([`Backbone`]). With
//! pooling directly before each linear head, the class activation map of a class is exactly
//! the head's weights applied to the last feature map, so `facs cam` shows what the logit
//! sees.

use std::str::FromStr;

use candle_core::Var;
use candle_core::{Module, Result, Tensor, D};
use candle_nn::{linear, Init, Linear, VarBuilder};

use super::faceapi::{self, Trunk};
use super::facex;
use super::ops::{batch_norm_train, conv3x3, max_pool2x2};
use serde::{Deserialize, Serialize};

use crate::frame::NUM_AUS;
use crate::weights::{BundledModel, FACEAPI_EXPRESSION, FACEAPI_LANDMARKS, FACEX_EMOTION};

/// Where the network's trunk comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backbone {
    /// facs's small CNN, trained from scratch (the only kind before backbones existed, so
    /// model files without the field are this).
    #[default]
    Scratch,
    /// face-api's feature extractor as trained for its 7 expressions (real faces).
    FaceapiExpression,
    /// face-api's feature extractor as trained for its 68 landmarks (real faces).
    FaceapiLandmarks,
    /// facex's MobileNetV2 (ImageNet-style, fine-tuned on faces for 7 emotions), up to its
    /// last 1280-channel map; 200 px input, seen in grey.
    FacexMobilenetv2,
}

impl FromStr for Backbone {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "scratch" => Ok(Backbone::Scratch),
            "faceapi-expression" => Ok(Backbone::FaceapiExpression),
            "faceapi-landmarks" => Ok(Backbone::FaceapiLandmarks),
            "facex-mobilenetv2" => Ok(Backbone::FacexMobilenetv2),
            _ => Err(crate::Error::config(
                "backbone",
                s,
                "faceapi-expression, faceapi-landmarks, facex-mobilenetv2 or scratch",
            )),
        }
    }
}

impl std::fmt::Display for Backbone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backbone::Scratch => "scratch",
            Backbone::FaceapiExpression => "faceapi-expression",
            Backbone::FaceapiLandmarks => "faceapi-landmarks",
            Backbone::FacexMobilenetv2 => "facex-mobilenetv2",
        })
    }
}

impl Backbone {
    /// The bundled weight file a pretrained backbone starts from (None from scratch).
    pub fn bundled(&self) -> Option<&'static BundledModel> {
        match self {
            Backbone::Scratch => None,
            Backbone::FaceapiExpression => Some(&FACEAPI_EXPRESSION),
            Backbone::FaceapiLandmarks => Some(&FACEAPI_LANDMARKS),
            Backbone::FacexMobilenetv2 => Some(&FACEX_EMOTION),
        }
    }

    /// Every backbone, in the order `--backbone` lists them.
    pub const ALL: [Backbone; 4] = [
        Backbone::FaceapiExpression,
        Backbone::FaceapiLandmarks,
        Backbone::FacexMobilenetv2,
        Backbone::Scratch,
    ];

    /// The input side in pixels a pretrained backbone takes (None from scratch: any).
    pub fn input(&self) -> Option<u32> {
        match self {
            Backbone::Scratch => None,
            Backbone::FaceapiExpression | Backbone::FaceapiLandmarks => Some(faceapi::INPUT),
            Backbone::FacexMobilenetv2 => Some(facex::INPUT),
        }
    }

    /// Prefix of the backbone's tensors in a model's weights (and its variables in training).
    pub const PREFIX: &'static str = "backbone";
}

/// Shape of the network; stored in the JSON beside the weights so inference never guesses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuNetConfig {
    /// Side of the square RGB input in pixels (a multiple of 8; 112 for a face-api backbone,
    /// 200 for facex's).
    pub input: u32,
    /// Channels of the first block; blocks double it (w, 2w, 4w, 8w). From scratch only.
    pub width: usize,
    /// The trunk.
    #[serde(default)]
    pub backbone: Backbone,
}

impl Default for AuNetConfig {
    fn default() -> Self {
        AuNetConfig::small()
    }
}

impl AuNetConfig {
    /// The network from scratch: 48 px input, width 8 (38,091 trained parameters). Its
    /// speed and its accuracy on synthetic faces are in BENCHMARKS.md.
    pub fn small() -> Self {
        AuNetConfig {
            input: 48,
            width: 8,
            backbone: Backbone::Scratch,
        }
    }

    /// A face-api backbone at its own input size (112 px) with the heads on its 256 x 7 x 7
    /// map.
    pub fn faceapi(backbone: Backbone) -> Self {
        AuNetConfig {
            input: faceapi::INPUT,
            width: 8,
            backbone,
        }
    }

    /// A pretrained backbone at its own input size (112 px for face-api's, heads on a
    /// 256 x 7 x 7 map; 200 px for facex's, heads on a 1280 x 6 x 6 map); from scratch,
    /// [`AuNetConfig::small`].
    pub fn for_backbone(backbone: Backbone) -> Self {
        match backbone.input() {
            None => AuNetConfig::small(),
            Some(input) => AuNetConfig {
                input,
                width: 8,
                backbone,
            },
        }
    }

    /// # Errors
    /// Sizes the network cannot take.
    pub fn validate(&self) -> crate::Result<()> {
        if let Some(input) = self.backbone.input() {
            if self.input != input {
                return Err(crate::Error::config(
                    "input size",
                    self.input,
                    if input == facex::INPUT {
                        "200 on the facex-mobilenetv2 backbone"
                    } else {
                        "112 on a face-api backbone"
                    },
                ));
            }
            return Ok(());
        }
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
        match self.backbone {
            Backbone::Scratch => self.input / 4,
            Backbone::FaceapiExpression | Backbone::FaceapiLandmarks => self.input / 16,
            // 200 -> 100 -> 50 -> 25 -> 12 -> 6: five stride-2 steps, each padded one pixel
            // after, so a side s becomes ceil(s / 2) ... floor at odd sides (25 -> 12).
            Backbone::FacexMobilenetv2 => facex::FEATURE_SIDE as u32,
        }
    }

    /// Channels of the last feature map (the heads' inputs).
    pub fn channels(&self) -> usize {
        match self.backbone {
            Backbone::Scratch => 8 * self.width,
            Backbone::FaceapiExpression | Backbone::FaceapiLandmarks => faceapi::TRUNK_CHANNELS,
            Backbone::FacexMobilenetv2 => facex::FEATURES,
        }
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

/// Batch normalisation: the batch's statistics in training (and a running average of them
/// kept, momentum 0.1), the running ones in inference. Tensor names as candle's BatchNorm.
#[derive(Debug)]
struct Norm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Var,
    running_var: Var,
}

const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

impl Norm {
    fn new(c: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Norm {
            weight: vb.get_with_hints(c, "weight", Init::Const(1.0))?,
            bias: vb.get_with_hints(c, "bias", Init::Const(0.0))?,
            running_mean: Var::from_tensor(&vb.get_with_hints(
                c,
                "running_mean",
                Init::Const(0.0),
            )?)?,
            running_var: Var::from_tensor(&vb.get_with_hints(
                c,
                "running_var",
                Init::Const(1.0),
            )?)?,
        })
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let c = self.weight.dim(0)?;
        if train {
            let (y, mean, var) = batch_norm_train(x, &self.weight, &self.bias, BN_EPS)?;
            // The running variance is the unbiased one, as in candle and PyTorch.
            let (n, _, h, w) = x.dims4()?;
            let m = (n * h * w) as f64;
            let unbias = m / (m - 1.0).max(1.0);
            let dev = x.device();
            let mean = Tensor::from_vec(mean, c, dev)?;
            let var = (Tensor::from_vec(var, c, dev)? * unbias)?;
            let rm =
                ((self.running_mean.as_tensor() * (1.0 - BN_MOMENTUM))? + (mean * BN_MOMENTUM)?)?;
            let rv =
                ((self.running_var.as_tensor() * (1.0 - BN_MOMENTUM))? + (var * BN_MOMENTUM)?)?;
            self.running_mean.set(&rm)?;
            self.running_var.set(&rv)?;
            return Ok(y);
        }
        // y = x * k + (bias - mean * k), k = weight / sqrt(var + eps).
        let k = (&self.weight / (self.running_var.as_tensor() + BN_EPS)?.sqrt()?)?;
        let off = (&self.bias - (self.running_mean.as_tensor() * &k)?)?;
        x.broadcast_mul(&k.reshape((1, c, 1, 1))?)?
            .broadcast_add(&off.reshape((1, c, 1, 1))?)
    }
}

/// A 3x3 convolution with zero padding 1 (facs's own im2col kernel on the CPU, candle's
/// conv2d elsewhere), batch normalisation, then ReLU.
#[derive(Debug)]
struct Conv {
    weight: Tensor,
    bn: Norm,
}

impl Conv {
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = conv3x3(x, &self.weight, (1, 1, 1, 1), 1)?;
        self.bn.forward(&y, train)?.relu()
    }
}

/// The layers before the pooling.
#[derive(Debug)]
enum TrunkLayers {
    Scratch(Vec<Conv>),
    /// face-api's extractor and the per-channel affine map from this network's input
    /// normalisation to face-api's (`(p - mean) / 255 = x / 4 + 0.5 - mean / 255`).
    FaceApi {
        trunk: Trunk,
        offset: Tensor,
    },
    /// facex's MobileNetV2 up to its last map. Its input is a grey crop in [0, 1]; this
    /// network's normalised RGB `x = (p/255 - 0.5)/0.25` becomes facs's BT.601 luma
    /// ([`crate::align::luma`]'s weights) over 255: `grey = sum_c k_c (x_c / 4 + 0.5)
    /// = sum_c (k_c / 4) x_c + 0.5` (the weights sum to 1), computed before Conv1 pads.
    Facex {
        trunk: facex::Trunk,
        /// `k_c / 4` as [1, 3, 1, 1].
        luma: Tensor,
    },
}

/// facs's luma weights (BT.601, as [`crate::align::luma`]), red, green, blue.
pub const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

/// The network.
#[derive(Debug)]
pub struct AuNet {
    trunk: TrunkLayers,
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
    /// Builds (training: from a VarMap) or loads (from safetensors) the network. A
    /// backbone's tensors are under [`Backbone::PREFIX`].
    ///
    /// # Errors
    /// A tensor is missing or of the wrong shape (candle names it).
    pub fn new(vb: VarBuilder, config: AuNetConfig) -> Result<Self> {
        let trunk = match config.backbone {
            Backbone::Scratch => TrunkLayers::Scratch(Self::scratch_convs(&vb, config.width)?),
            Backbone::FacexMobilenetv2 => {
                let trunk = facex::Trunk::load(&vb.pp(Backbone::PREFIX))
                    .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                let luma: Vec<f32> = LUMA.iter().map(|k| k / 4.0).collect();
                TrunkLayers::Facex {
                    trunk,
                    luma: Tensor::from_vec(luma, (1, 3, 1, 1), vb.device())?,
                }
            }
            Backbone::FaceapiExpression | Backbone::FaceapiLandmarks => {
                let trunk = Trunk::load(&vb.pp(Backbone::PREFIX))
                    .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                let offset: Vec<f32> = faceapi::MEAN_RGB.iter().map(|m| 0.5 - m / 255.0).collect();
                TrunkLayers::FaceApi {
                    trunk,
                    offset: Tensor::from_vec(offset, (1, 3, 1, 1), vb.device())?,
                }
            }
        };
        let c = config.channels();
        Ok(AuNet {
            trunk,
            au: linear(c, NUM_AUS, vb.pp("au_head"))?,
            emotion: linear(c, 7, vb.pp("emotion_head"))?,
            happy: linear(c, 1, vb.pp("happy_head"))?,
            config,
        })
    }

    fn scratch_convs(vb: &VarBuilder, w: usize) -> Result<Vec<Conv>> {
        // Three blocks of two convolutions (2x2 max-pools after the first two), then a last
        // convolution.
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
            let vb = vb.pp(format!("conv{i}"));
            convs.push(Conv {
                weight: vb.get((*cout, *cin, 3, 3), "weight")?,
                bn: Norm::new(*cout, vb.pp("bn"))?,
            });
        }
        Ok(convs)
    }

    /// The last feature map for `x` [n, 3, input, input] (normalised by [`to_tensor`]):
    /// [n, 8w, input/4, input/4] from scratch, [n, 256, 7, 7] on a face-api backbone,
    /// [n, 1280, 6, 6] on facex's;
    /// `train` normalises with the batch's statistics (and updates the running ones).
    pub fn features_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        match &self.trunk {
            TrunkLayers::Scratch(convs) => {
                let mut x = x.clone();
                for (i, conv) in convs.iter().enumerate() {
                    x = conv.forward(&x, train)?;
                    // Two poolings only: the last maps stay at a quarter of the input, so a
                    // class activation map tells a brow from an eye (4 input pixels per cell).
                    if i == 1 || i == 3 {
                        x = max_pool2x2(&x)?; // input/2, input/4
                    }
                }
                Ok(x)
            }
            TrunkLayers::FaceApi { trunk, offset } => {
                trunk.forward(&(x * 0.25)?.broadcast_add(offset)?)
            }
            TrunkLayers::Facex { trunk, luma } => {
                trunk.forward(&(x.broadcast_mul(luma)?.sum_keepdim(1)? + 0.5)?)
            }
        }
    }

    /// The last feature map for inference.
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        self.features_t(x, false)
    }

    /// The globally average-pooled features [n, channels] for inference: all the heads see.
    pub fn pooled(&self, x: &Tensor) -> Result<Tensor> {
        self.features(x)?.mean(D::Minus1)?.mean(D::Minus1)
    }

    /// All three heads for a batch, for inference.
    pub fn forward(&self, x: &Tensor) -> Result<Outputs> {
        self.forward_t(x, false)
    }

    /// All three heads for a batch; `train` as in [`AuNet::features_t`].
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Outputs> {
        let f = self.features_t(x, train)?;
        let pooled = f.mean(D::Minus1)?.mean(D::Minus1)?; // [n, channels]
        self.heads(&pooled)
    }

    /// The three heads on pooled features [n, channels] (as [`AuNet::pooled`] gives).
    pub fn heads(&self, pooled: &Tensor) -> Result<Outputs> {
        Ok(Outputs {
            au: self.au.forward(pooled)?,
            emotion: self.emotion.forward(pooled)?,
            happy: self.happy.forward(pooled)?.squeeze(1)?,
        })
    }

    /// Class activation maps [n, side, side] ([`AuNetConfig::cam_side`]) for one head's class: the class's
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

    /// Every AU's class activation map from a last feature map `f` [n, c, h, w] (as
    /// [`AuNet::features`] gives): [n, 11, h * w], the AU head's weights dotted with the
    /// channels at each position. Lets one forward pass give both the AU scores and the maps.
    pub fn au_cams(&self, f: &Tensor) -> Result<Tensor> {
        let (n, c, h, w) = f.dims4()?;
        self.au
            .weight()
            .unsqueeze(0)?
            .broadcast_matmul(&f.reshape((n, c, h * w))?)
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
            backbone: Backbone::Scratch,
        };
        let net = AuNet::new(vb, cfg).unwrap();
        let x = Tensor::randn(0f32, 1.0, (2, 3, 32, 32), &dev).unwrap();
        let out = net.forward(&x).unwrap();
        assert_eq!(out.au.dims(), &[2, NUM_AUS]);
        assert_eq!(out.emotion.dims(), &[2, 7]);
        assert_eq!(out.happy.dims(), &[2]);
        // CAM exactness: mean of the map + bias = the logit, for every sample.
        let cam = net.cam(&x, Head::Au(6)).unwrap();
        assert_eq!(cam.dims(), &[2, 8, 8]);
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
        // Measured 0 (AMD EPYC, AVX-512) in 100 runs on fresh random inputs (candle's CPU
        // randn is not seeded): the map and the logit add up the same products. 1e-4 allows
        // another summation order.
        assert!(diff < 1e-4, "{diff}");
    }

    #[test]
    fn batch_norm_matches_candle_in_training_and_inference() {
        use candle_core::Var;
        use candle_nn::ModuleT;
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(1f32, 2.0, (3, 4, 5, 6), &dev).unwrap()).unwrap();
        let r = Tensor::randn(0f32, 1.0, (3, 4, 5, 6), &dev).unwrap();
        let ours_vm = VarMap::new();
        let theirs_vm = VarMap::new();
        let ours = Norm::new(4, VarBuilder::from_varmap(&ours_vm, DType::F32, &dev)).unwrap();
        let theirs = candle_nn::batch_norm(
            4,
            candle_nn::BatchNormConfig::default(),
            VarBuilder::from_varmap(&theirs_vm, DType::F32, &dev),
        )
        .unwrap();
        // A non-trivial scale and shift, the same in both.
        for vm in [&ours_vm, &theirs_vm] {
            let data = vm.data().lock().unwrap();
            data["weight"]
                .set(&Tensor::new(&[0.5f32, 2.0, -1.0, 1.5], &dev).unwrap())
                .unwrap();
            data["bias"]
                .set(&Tensor::new(&[0.1f32, -0.2, 0.3, 0.0], &dev).unwrap())
                .unwrap();
        }
        let max_diff = crate::model::ops::close;
        // Largest differences from candle measured over 500 runs on fresh random inputs (AMD
        // EPYC, AVX-512): training forward 1.4e-6, input gradient 9.5e-7, weight/bias
        // gradients 9.5e-6 / 7.6e-6, running mean/var 6.0e-8 / 2.4e-7, inference 2.9e-6; the
        // bounds below are 35x or more above those.
        let y1 = ours.forward(&x, true).unwrap();
        let y2 = theirs.forward_t(&x, true).unwrap();
        assert!(max_diff(&y1, &y2) < 1e-4);
        let g1 = (&y1 * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (&y2 * &r).unwrap().sum_all().unwrap().backward().unwrap();
        assert!(max_diff(g1.get(&x).unwrap(), g2.get(&x).unwrap()) < 1e-3);
        for name in ["weight", "bias"] {
            let a = g1
                .get(&ours_vm.data().lock().unwrap()[name])
                .unwrap()
                .clone();
            let b = g2
                .get(&theirs_vm.data().lock().unwrap()[name])
                .unwrap()
                .clone();
            assert!(max_diff(&a, &b) < 1e-3, "{name}");
        }
        // Running statistics moved the same way, so inference agrees too.
        for name in ["running_mean", "running_var"] {
            let a = ours_vm.data().lock().unwrap()[name].as_tensor().clone();
            let b = theirs_vm.data().lock().unwrap()[name].as_tensor().clone();
            assert!(max_diff(&a, &b) < 1e-4, "{name}");
        }
        let e1 = ours.forward(&x, false).unwrap();
        let e2 = theirs.forward_t(&x, false).unwrap();
        assert!(max_diff(&e1, &e2) < 1e-4);
    }

    #[test]
    fn a_faceapi_backbone_sees_what_the_expression_net_sees_and_its_cam_is_exact() {
        use crate::model::faceapi::FaceApiNet;
        use crate::weights::{default_models_dir, read_verified};
        let dev = Device::Cpu;
        let bytes = read_verified(&default_models_dir(), &FACEAPI_EXPRESSION).unwrap();
        let reference = FaceApiNet::from_bytes(bytes.clone(), 7, &dev).unwrap();
        // The expression net's tensors under `backbone.`, its fc as the emotion head.
        let mut tensors = candle_core::safetensors::load_buffer(&bytes, &dev).unwrap();
        let fc_w = tensors.remove("fc.weights").unwrap();
        let fc_b = tensors.remove("fc.bias").unwrap();
        let mut named: std::collections::HashMap<String, Tensor> = tensors
            .into_iter()
            .map(|(k, v)| (format!("{}.{k}", Backbone::PREFIX), v))
            .collect();
        named.insert("emotion_head.weight".into(), fc_w);
        named.insert("emotion_head.bias".into(), fc_b);
        for (head, rows) in [("au_head", NUM_AUS), ("happy_head", 1)] {
            named.insert(
                format!("{head}.weight"),
                Tensor::randn(0f32, 0.1, (rows, 256), &dev).unwrap(),
            );
            named.insert(
                format!("{head}.bias"),
                Tensor::zeros(rows, DType::F32, &dev).unwrap(),
            );
        }
        let vb = VarBuilder::from_tensors(named, DType::F32, &dev);
        let net = AuNet::new(vb, AuNetConfig::faceapi(Backbone::FaceapiExpression)).unwrap();
        // Two crops of smooth, face-sized structure (not noise), as HWC bytes.
        let crops: Vec<u8> = (0..2 * 112 * 112 * 3)
            .map(|i| {
                let (img, px, ch) = (i / (112 * 112 * 3), (i / 3) % (112 * 112), i % 3);
                let (y, x) = ((px / 112) as f32, (px % 112) as f32);
                (128.0 + 90.0 * ((x + 7.0 * img as f32) / 9.0).sin() * (y / 13.0).cos()
                    - 20.0 * ch as f32) as u8
            })
            .collect();
        let want = reference.forward(&crops, 2).unwrap();
        let x = to_tensor(&crops, 2, 112, &dev).unwrap();
        let out = net.forward(&x).unwrap();
        let got = out.emotion.to_vec2::<f32>().unwrap();
        for (a, b) in got.iter().zip(&want) {
            for (u, v) in a.iter().zip(b) {
                // The same products in the same order, but the input is normalised by another
                // route ((p/255 - 0.5)/0.25 mapped back): measured up to 7.6e-6 over the 14
                // logits (AMD EPYC, AVX-512); 1e-4 leaves 13x.
                assert!((u - v).abs() < 1e-4, "{a:?} vs {b:?}");
            }
        }
        // CAM on the 7x7 map: its mean plus the bias is the logit.
        assert_eq!(net.config.cam_side(), 7);
        let cam = net.cam(&x, Head::Au(6)).unwrap();
        assert_eq!(cam.dims(), &[2, 7, 7]);
        let from_cam = (cam.mean(D::Minus1).unwrap().mean(D::Minus1).unwrap()
            + net.bias(Head::Au(6)).unwrap() as f64)
            .unwrap();
        let logits = out.au.narrow(1, 6, 1).unwrap().squeeze(1).unwrap();
        // Measured 2.5e-7 (AMD EPYC, AVX-512): 49 positions x 256 channels summed in another
        // order; 1e-4 leaves 400x.
        assert!(crate::model::ops::close(&from_cam, &logits) < 1e-4);
    }

    /// The facex trunk inside an AuNet loaded the way training loads it (its tensors under
    /// `backbone.`, random heads), and the reference network.
    fn facex_pair() -> (AuNet, crate::model::facex::FacexNet) {
        use crate::model::facex::FacexNet;
        use crate::weights::{default_models_dir, read_verified};
        let dev = Device::Cpu;
        let bytes = read_verified(&default_models_dir(), &FACEX_EMOTION).unwrap();
        let reference = FacexNet::from_bytes(bytes.clone(), &dev).unwrap();
        let tensors = candle_core::safetensors::load_buffer(&bytes, &dev).unwrap();
        let mut named: std::collections::HashMap<String, Tensor> = tensors
            .into_iter()
            .filter(|(k, _)| !k.starts_with("predictis."))
            .map(|(k, v)| (format!("{}.{k}", Backbone::PREFIX), v))
            .collect();
        for (head, rows) in [("au_head", NUM_AUS), ("emotion_head", 7), ("happy_head", 1)] {
            named.insert(
                format!("{head}.weight"),
                Tensor::randn(0f32, 0.05, (rows, 1280), &dev).unwrap(),
            );
            named.insert(
                format!("{head}.bias"),
                Tensor::randn(0f32, 0.1, rows, &dev).unwrap(),
            );
        }
        let vb = VarBuilder::from_tensors(named, DType::F32, &dev);
        let cfg = AuNetConfig::for_backbone(Backbone::FacexMobilenetv2);
        (AuNet::new(vb, cfg).unwrap(), reference)
    }

    /// Grey-looking RGB crops (r = g = b) of smooth, face-sized structure, as HWC bytes,
    /// and the same crops as one grey channel.
    fn grey_crops(n: usize, side: usize) -> (Vec<u8>, Vec<u8>) {
        let grey: Vec<u8> = (0..n * side * side)
            .map(|i| {
                let (img, px) = (i / (side * side), i % (side * side));
                let (y, x) = ((px / side) as f32, (px % side) as f32);
                (128.0 + 90.0 * ((x + 7.0 * img as f32) / 15.0).sin() * (y / 21.0).cos()) as u8
            })
            .collect();
        let rgb = grey.iter().flat_map(|&g| [g, g, g]).collect();
        (rgb, grey)
    }

    #[test]
    fn the_facex_backbone_sees_what_facex_sees_and_its_cam_is_exact() {
        let dev = Device::Cpu;
        let (net, reference) = facex_pair();
        let (rgb, grey) = grey_crops(2, 200);
        let x = to_tensor(&rgb, 2, 200, &dev).unwrap();
        let f = net.features(&x).unwrap();
        assert_eq!(f.dims(), &[2, 1280, 6, 6]);
        for i in 0..2 {
            let g = reference
                .input_tensor(&grey[i * 200 * 200..(i + 1) * 200 * 200])
                .unwrap();
            let want = reference.trunk().forward(&g).unwrap();
            let got = f.narrow(0, i, 1).unwrap();
            // The same layers on the same weights; only the input arrives by another route
            // (normalised RGB mapped back to luma / 255 in float32). Measured up to 6.2e-6
            // on maps whose values reach 6 (AMD EPYC, AVX-512, load 15); 1e-4 leaves 16x,
            // and a wrong luma weight, offset or layer is off by far more.
            let d = crate::model::ops::close(&got, &want);
            eprintln!("facex trunk, grey crop {i}: largest difference {d:e}");
            assert!(d < 1e-4, "image {i}: {d}");
            assert!(crate::model::ops::largest_abs(&want) > 0.5, "a live map");
        }
        // A coloured crop is seen as its luma: the same map as the grey crop of its luma.
        let coloured: Vec<u8> = rgb
            .chunks_exact(3)
            .enumerate()
            .flat_map(|(i, p)| {
                let r = p[0];
                let g = (p[1] as usize + i % 37) as u8 / 2 + 40;
                let b = 255 - p[2];
                [r, g, b]
            })
            .take(200 * 200 * 3)
            .collect();
        // The luma weights are facs's (align::luma, which rounds to a byte).
        for (k, rgb) in [(0, [255, 0, 0]), (1, [0, 255, 0]), (2, [0, 0, 255])] {
            let want = crate::align::luma(rgb[0], rgb[1], rgb[2]);
            assert_eq!((LUMA[k] * 255.0).round() as u8, want);
        }
        let luma: Vec<f32> = coloured
            .chunks_exact(3)
            .map(|p| {
                (LUMA[0] * p[0] as f32 + LUMA[1] * p[1] as f32 + LUMA[2] * p[2] as f32) / 255.0
            })
            .collect();
        let got = net
            .features(&to_tensor(&coloured, 1, 200, &dev).unwrap())
            .unwrap();
        let want = reference
            .trunk()
            .forward(&Tensor::from_vec(luma, (1, 1, 200, 200), &dev).unwrap())
            .unwrap();
        // Measured 3.8e-6 (AMD EPYC, AVX-512); 1e-4 leaves 26x. Luma rounded to a byte (as
        // align::luma gives it) instead of kept in float moved this map by 0.044.
        let d = crate::model::ops::close(&got, &want);
        eprintln!("facex trunk, coloured crop vs its luma: largest difference {d:e}");
        assert!(d < 1e-4, "{d}");
        // CAM on the 6x6 map: its mean plus the bias is the logit.
        assert_eq!(net.config.cam_side(), 6);
        let out = net.forward(&x).unwrap();
        for head in [Head::Au(6), Head::Emotion(3), Head::Happy] {
            let cam = net.cam(&x, head).unwrap();
            assert_eq!(cam.dims(), &[2, 6, 6]);
            let from_cam = (cam.mean(D::Minus1).unwrap().mean(D::Minus1).unwrap()
                + net.bias(head).unwrap() as f64)
                .unwrap();
            let logits = match head {
                Head::Au(k) => out.au.narrow(1, k, 1).unwrap().squeeze(1).unwrap(),
                Head::Emotion(k) => out.emotion.narrow(1, k, 1).unwrap().squeeze(1).unwrap(),
                Head::Happy => out.happy.clone(),
            };
            // 36 positions x 1280 channels summed in another order: measured up to 6.0e-8
            // (AMD EPYC, AVX-512); 1e-4 leaves 1,600x (the logits are of size 1).
            let d = crate::model::ops::close(&from_cam, &logits);
            eprintln!("facex CAM {head:?}: mean + bias vs logit {d:e}");
            assert!(d < 1e-4, "{head:?}: {d}");
        }
    }

    #[test]
    fn the_facex_backbone_trains_every_layer() {
        use candle_nn::VarMap;
        // Every trunk tensor as a variable (as in phase 2), a loss on the heads: each variable
        // gets a gradient, nonzero, through conv3x3 (stride 2, padding after), the
        // depthwise kernels (strides 1 and 2), the pointwise products and ReLU6.
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let net = AuNet::new(vb, AuNetConfig::for_backbone(Backbone::FacexMobilenetv2)).unwrap();
        let bytes =
            crate::weights::read_verified(&crate::weights::default_models_dir(), &FACEX_EMOTION)
                .unwrap();
        let tensors = candle_core::safetensors::load_buffer(&bytes, &dev).unwrap();
        let vars = vm.data().lock().unwrap().clone();
        for (name, var) in &vars {
            match name.strip_prefix("backbone.") {
                Some(leaf) => var.set(&tensors[leaf]).unwrap(),
                None => var
                    .set(&Tensor::randn(0f32, 0.05, var.shape(), &dev).unwrap())
                    .unwrap(),
            }
        }
        let (rgb, _) = grey_crops(2, 200);
        let x = to_tensor(&rgb, 2, 200, &dev).unwrap();
        let out = net.forward_t(&x, true).unwrap();
        let loss =
            (out.au.sum_all().unwrap() + out.emotion.sqr().unwrap().sum_all().unwrap()).unwrap();
        let grads = loss.backward().unwrap();
        let trunk: Vec<_> = vars.keys().filter(|k| k.starts_with("backbone.")).collect();
        // 52 convolutions (Conv1, 17 blocks' expansion (16), depthwise and projection, Conv_1),
        // a weight and a bias each.
        assert_eq!(trunk.len(), 2 * (1 + 16 + 17 + 17 + 1));
        for name in trunk {
            let g = grads
                .get(&vars[name])
                .unwrap_or_else(|| panic!("{name}: no gradient"));
            assert_eq!(g.dims(), vars[name].dims(), "{name}");
            assert!(
                crate::model::ops::largest_abs(g) > 0.0,
                "{name}: zero gradient"
            );
        }
        // Finite differences on Conv1's weights (the first layer: its gradient has come back
        // through every other one): d loss / d w for a few entries.
        let w1 = &vars["backbone.Conv1.weight"];
        let g1 = grads
            .get(w1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let base = w1
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let loss_at = |w: &[f32]| -> f64 {
            w1.set(&Tensor::from_vec(w.to_vec(), w1.shape(), &dev).unwrap())
                .unwrap();
            let o = net.forward_t(&x, true).unwrap();
            let l =
                (o.au.sum_all().unwrap() + o.emotion.sqr().unwrap().sum_all().unwrap()).unwrap();
            l.to_scalar::<f32>().unwrap() as f64
        };
        let mut checked = 0;
        for i in [0usize, 13, 40, 100, 250, 431, 700, 863] {
            let h = 1e-2f32;
            let mut w = base.clone();
            w[i] += h;
            let up = loss_at(&w);
            w[i] -= 2.0 * h;
            let down = loss_at(&w);
            let numeric = (up - down) / (2.0 * h as f64);
            let analytic = g1[i] as f64;
            // float32 losses differenced over 0.02, and ReLU6 kinks crossed by the step (the
            // heads are random, so each run differs): measured gaps up to 0.0048 in two
            // runs (-0.0272 numeric against -0.0320 analytic; entry 100 zero both ways; AMD
            // EPYC, AVX-512). 25% of the larger magnitude plus 0.01 leaves 3x on that entry
            // and still fails a wrong backward pass, off by whole factors or in sign (a
            // factor of 2 on entry 40, about -0.07, is off by 0.07 against a bound of 0.03).
            let tol = 0.25 * numeric.abs().max(analytic.abs()) + 0.01;
            eprintln!("Conv1 weight {i}: numeric {numeric:.5}, analytic {analytic:.5}");
            assert!(
                (numeric - analytic).abs() < tol,
                "Conv1 weight {i}: numeric {numeric}, analytic {analytic}"
            );
            checked += 1;
        }
        assert_eq!(checked, 8);
    }

    #[test]
    fn config_validation() {
        assert!(AuNetConfig::faceapi(Backbone::FaceapiLandmarks)
            .validate()
            .is_ok());
        let mut wrong = AuNetConfig::faceapi(Backbone::FaceapiExpression);
        wrong.input = 48;
        assert!(wrong.validate().is_err());
        assert_eq!(
            "faceapi-landmarks".parse::<Backbone>().unwrap(),
            Backbone::FaceapiLandmarks
        );
        assert!("resnet".parse::<Backbone>().is_err());
        // Every backbone's name parses back to it, and a pretrained one takes only its own
        // input size.
        for b in Backbone::ALL {
            assert_eq!(b.to_string().parse::<Backbone>().unwrap(), b);
            let cfg = AuNetConfig::for_backbone(b);
            assert!(cfg.validate().is_ok(), "{b}");
            if b != Backbone::Scratch {
                assert!(b.bundled().is_some(), "{b}");
                let mut wrong = cfg.clone();
                wrong.input = if b == Backbone::FacexMobilenetv2 {
                    112
                } else {
                    200
                };
                assert!(wrong.validate().is_err(), "{b} at {}", wrong.input);
            }
        }
        let facex = AuNetConfig::for_backbone(Backbone::FacexMobilenetv2);
        assert_eq!(
            (facex.input, facex.cam_side(), facex.channels()),
            (200, 6, 1280)
        );
        assert_eq!(
            "facex-mobilenetv2".parse::<Backbone>().unwrap(),
            Backbone::FacexMobilenetv2
        );
        let err = "mobilenet".parse::<Backbone>().unwrap_err().to_string();
        assert!(err.contains("facex-mobilenetv2"), "{err}");
        // Model files written before backbones existed are from scratch.
        let old: AuNetConfig = serde_json::from_str(r#"{"input": 48, "width": 8}"#).unwrap();
        assert_eq!(old, AuNetConfig::small());
        assert!(AuNetConfig::small().validate().is_ok());
        assert!(AuNetConfig {
            input: 60,
            width: 16,
            backbone: Backbone::Scratch,
        }
        .validate()
        .is_err());
        assert!(AuNetConfig {
            input: 64,
            width: 0,
            backbone: Backbone::Scratch,
        }
        .validate()
        .is_err());
    }
}
