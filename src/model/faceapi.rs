//! face-api's face feature extractor (4 dense blocks of depthwise-separable convolutions)
//! with a fully connected head, ported to candle. The same network shape serves the
//! 68-point landmark net (136 outputs) and the 7-class expression net (7 outputs); each
//! has its own weights (models/face_landmark_68.safetensors, models/face_expression.safetensors).
//! tools/faceapi/ARCHITECTURE.md documents the original's forward pass.

use std::sync::{Mutex, PoisonError};

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Linear, VarBuilder};

use super::ops::fused::{self, Planes};
use super::ops::{conv3x3, depthwise3x3, pointwise};
use super::tensor_error;
use crate::error::{Error, Result};

/// Input side in pixels (RGB).
pub const INPUT: u32 = 112;
/// Per-channel means subtracted from RGB pixels before dividing by 255.
pub const MEAN_RGB: [f32; 3] = [122.782, 117.001, 104.298];
/// Channels of the trunk's last feature map ([`Trunk::forward`]).
pub const TRUNK_CHANNELS: usize = 256;
/// Side of the trunk's last feature map for a [`INPUT`] px crop (four stride-2 blocks).
pub const TRUNK_SIDE: u32 = INPUT / 16;

/// Labels of the expression net, in its output order.
pub const EXPRESSION_LABELS: [&str; 7] = [
    "neutral",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgusted",
    "surprised",
];

#[derive(Debug)]
enum Conv0 {
    /// dense0: a full 3x3 convolution.
    Full {
        w: Tensor,
        b: Tensor,
    },
    Separable(Separable),
}

/// Depthwise 3x3 (carrying the stride), pointwise 1x1, one bias.
#[derive(Debug)]
struct Separable {
    depthwise: Tensor,
    pointwise: Tensor,
    bias: Tensor,
}

fn add_bias(x: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    x.broadcast_add(&b.reshape((1, (), 1, 1))?)
}

impl Separable {
    fn load(vb: &VarBuilder, prefix: &str, cin: usize, cout: usize) -> Result<Self> {
        let get = |leaf: &str, s: &[usize]| {
            let name = format!("{prefix}.{leaf}");
            vb.get(s, &name).map_err(|e| tensor_error(&name, e))
        };
        Ok(Separable {
            depthwise: get("depthwise_filter", &[cin, 1, 3, 3])?,
            pointwise: get("pointwise_filter", &[cout, cin, 1, 1])?,
            bias: get("bias", &[cout])?,
        })
    }

    fn forward(&self, x: &Tensor, stride: usize) -> candle_core::Result<Tensor> {
        let x = if stride == 2 {
            depthwise3x3(x, &self.depthwise, (0, 1, 0, 1), 2)?
        } else {
            depthwise3x3(x, &self.depthwise, (1, 1, 1, 1), 1)?
        };
        add_bias(&pointwise(&x, &self.pointwise)?, &self.bias)
    }
}

#[derive(Debug)]
struct DenseBlock {
    conv0: Conv0,
    convs: [Separable; 3],
}

impl DenseBlock {
    fn load(vb: &VarBuilder, block: usize, cin: usize, cout: usize) -> Result<Self> {
        let p = format!("dense{block}");
        let conv0 = if block == 0 {
            let get = |leaf: &str, s: &[usize]| {
                let name = format!("{p}.conv0.{leaf}");
                vb.get(s, &name).map_err(|e| tensor_error(&name, e))
            };
            Conv0::Full {
                w: get("filters", &[cout, cin, 3, 3])?,
                b: get("bias", &[cout])?,
            }
        } else {
            Conv0::Separable(Separable::load(vb, &format!("{p}.conv0"), cin, cout)?)
        };
        let sep = |k: usize| Separable::load(vb, &format!("{p}.conv{k}"), cout, cout);
        Ok(DenseBlock {
            conv0,
            convs: [sep(1)?, sep(2)?, sep(3)?],
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let out1 = match &self.conv0 {
            Conv0::Full { w, b } => add_bias(&conv3x3(x, w, (0, 1, 0, 1), 2)?, b)?,
            Conv0::Separable(s) => s.forward(x, 2)?,
        }
        .relu()?;
        // Running sums (TF.js adds in another order; the difference is float rounding).
        let sum2 = (&out1 + self.convs[0].forward(&out1, 1)?)?;
        let sum3 = (&sum2 + self.convs[1].forward(&sum2.relu()?, 1)?)?;
        let sum4 = (&sum3 + self.convs[2].forward(&sum3.relu()?, 1)?)?;
        sum4.relu()
    }
}

/// The feature extractor: four dense blocks, 3 x 112 x 112 -> 256 x 7 x 7. Shared by the
/// two bundled networks and by AU networks fine-tuned from them
/// ([`crate::model::au_net::Backbone`]); differentiable, so it can be trained further.
#[derive(Debug)]
pub struct Trunk {
    blocks: Vec<DenseBlock>,
}

impl Trunk {
    /// Loads the four blocks' tensors (`dense0.conv0.filters` ... under `vb`'s prefix).
    ///
    /// # Errors
    /// [`Error::Weights`] naming the first missing or wrongly shaped tensor.
    pub fn load(vb: &VarBuilder) -> Result<Self> {
        let mut blocks = Vec::new();
        for (i, (cin, cout)) in [(3, 32), (32, 64), (64, 128), (128, 256)]
            .into_iter()
            .enumerate()
        {
            blocks.push(DenseBlock::load(vb, i, cin, cout)?);
        }
        Ok(Trunk { blocks })
    }

    /// The last feature map [n, 256, h/16, w/16] of normalised planar input [n, 3, h, w]
    /// (`(p - MEAN_RGB) / 255`).
    ///
    /// # Errors
    /// A tensor operation failed.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for b in &self.blocks {
            x = b.forward(&x)?; // 32x56, 64x28, 128x14, 256x7
        }
        Ok(x)
    }
}

/// A tensor's values, in order.
fn values(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1()
}

/// A [`Separable`]'s weights as plain values, for [`fused::separable`].
#[derive(Debug)]
struct SeparableValues {
    depthwise: Vec<f32>,
    pointwise: Vec<f32>,
    bias: Vec<f32>,
}

impl SeparableValues {
    fn of(s: &Separable) -> candle_core::Result<Self> {
        Ok(SeparableValues {
            depthwise: values(&s.depthwise)?,
            pointwise: values(&s.pointwise)?,
            bias: values(&s.bias)?,
        })
    }

    fn forward(
        &self,
        x: &Planes,
        relu_input: bool,
        stride: usize,
        add_input: bool,
        scratch: &mut Vec<f32>,
        out: &mut Planes,
    ) -> candle_core::Result<()> {
        let pad = if stride == 2 {
            (0, 1, 0, 1)
        } else {
            (1, 1, 1, 1)
        };
        fused::separable(
            x,
            relu_input,
            &self.depthwise,
            (pad, stride),
            &self.pointwise,
            &self.bias,
            add_input,
            scratch,
            out,
        )
    }
}

/// A [`DenseBlock`]'s weights as plain values.
#[derive(Debug)]
enum Conv0Values {
    Full { w: Vec<f32>, b: Vec<f32> },
    Separable(SeparableValues),
}

/// The feature maps of one pass, kept from pass to pass: a pass allocates nothing.
#[derive(Debug, Default)]
struct Buffers {
    x: Planes,
    a: Planes,
    b: Planes,
    scratch: Vec<f32>,
}

/// The network's weights as plain values: the CPU's inference path ([`fused`]), the same
/// computation as [`Trunk::forward`] and the head, without a pass or an allocation for each
/// bias, sum and ReLU (measured: `cargo bench --bench networks`).
#[derive(Debug)]
struct CpuNet {
    blocks: Vec<(Conv0Values, [SeparableValues; 3])>,
    fc_w: Vec<f32>,
    fc_b: Vec<f32>,
    /// One network runs on one thread; the lock is never contended there.
    buffers: Mutex<Buffers>,
}

impl CpuNet {
    fn of(trunk: &Trunk, fc_w: &Tensor, fc_b: &Tensor) -> candle_core::Result<Self> {
        let mut blocks = Vec::new();
        for b in &trunk.blocks {
            let conv0 = match &b.conv0 {
                Conv0::Full { w, b } => Conv0Values::Full {
                    w: values(w)?,
                    b: values(b)?,
                },
                Conv0::Separable(s) => Conv0Values::Separable(SeparableValues::of(s)?),
            };
            let [c1, c2, c3] = &b.convs;
            let convs = [
                SeparableValues::of(c1)?,
                SeparableValues::of(c2)?,
                SeparableValues::of(c3)?,
            ];
            blocks.push((conv0, convs));
        }
        let (fc_w, fc_b) = (values(fc_w)?, values(fc_b)?);
        if fc_w.len() != fc_b.len() * TRUNK_CHANNELS {
            candle_core::bail!(
                "head of {} weights for {TRUNK_CHANNELS} features",
                fc_w.len()
            );
        }
        Ok(CpuNet {
            blocks,
            fc_w,
            fc_b,
            buffers: Mutex::default(),
        })
    }

    /// The outputs for one 112 px crop (HWC RGB bytes).
    fn forward(&self, rgb: &[u8]) -> candle_core::Result<Vec<f32>> {
        let mut buffers = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
        let Buffers { x, a, b, scratch } = &mut *buffers;
        let side = INPUT as usize;
        (x.c, x.h, x.w) = (3, side, side);
        normalise_into(rgb, &mut x.data);
        for (conv0, [c1, c2, c3]) in &self.blocks {
            match conv0 {
                Conv0Values::Full { w, b: bias } => {
                    fused::conv3x3(x, w, ((0, 1, 0, 1), 2), bias, scratch, a)?
                }
                Conv0Values::Separable(s) => s.forward(x, false, 2, false, scratch, a)?,
            }
            a.relu(); // out1
            c1.forward(a, false, 1, true, scratch, b)?; // sum2 = out1 + conv1(out1)
            c2.forward(b, true, 1, true, scratch, a)?; // sum3
            c3.forward(a, true, 1, true, scratch, b)?; // sum4
            b.relu();
            std::mem::swap(x, b);
        }
        let features = x.plane_means();
        let k = features.len();
        if k != TRUNK_CHANNELS {
            candle_core::bail!("the trunk gave {k} features, not {TRUNK_CHANNELS}");
        }
        Ok(self
            .fc_w
            .chunks_exact(k)
            .zip(&self.fc_b)
            .map(|(row, b)| b + row.iter().zip(&features).map(|(w, f)| w * f).sum::<f32>())
            .collect())
    }
}

/// HWC RGB bytes of whole 112 px crops -> normalised planar floats (`(p - MEAN_RGB) / 255`),
/// crop after crop, into `x` (its old values replaced).
fn normalise_into(rgb: &[u8], x: &mut Vec<f32>) {
    let plane = (INPUT * INPUT) as usize;
    x.clear();
    x.resize(rgb.len(), 0.0);
    for (img, dst) in rgb
        .chunks_exact(3 * plane)
        .zip(x.chunks_exact_mut(3 * plane))
    {
        for (i, px) in img.chunks_exact(3).enumerate() {
            for ch in 0..3 {
                dst[ch * plane + i] = (px[ch] as f32 - MEAN_RGB[ch]) / 255.0;
            }
        }
    }
}

/// Feature extractor + fully connected head.
#[derive(Debug)]
pub struct FaceApiNet {
    trunk: Trunk,
    fc: Linear,
    /// The weights as values, for the CPU's inference path; None on other devices.
    cpu: Option<CpuNet>,
    outputs: usize,
    device: Device,
}

impl FaceApiNet {
    /// Builds the network with `outputs` results (136 landmarks or 7 expressions) from
    /// safetensors bytes (sha256-checked by the caller).
    ///
    /// # Errors
    /// [`Error::Weights`] naming the first missing or wrongly shaped tensor.
    pub fn from_bytes(bytes: Vec<u8>, outputs: usize, device: &Device) -> Result<Self> {
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, device)
            .map_err(|e| Error::Weights(format!("not a safetensors file: {e}")))?;
        let trunk = Trunk::load(&vb)?;
        let w = vb
            .get((outputs, 256), "fc.weights")
            .map_err(|e| tensor_error("fc.weights", e))?;
        let b = vb
            .get(outputs, "fc.bias")
            .map_err(|e| tensor_error("fc.bias", e))?;
        let cpu = if device.is_cpu() {
            Some(CpuNet::of(&trunk, &w, &b).map_err(|e| Error::Weights(e.to_string()))?)
        } else {
            None
        };
        Ok(FaceApiNet {
            trunk,
            fc: Linear::new(w, Some(b)),
            cpu,
            outputs,
            device: device.clone(),
        })
    }

    /// Raw outputs for a batch of 112x112 RGB crops (`n * 112 * 112 * 3` bytes, HWC).
    ///
    /// # Errors
    /// A tensor operation failed (wrong buffer length included).
    pub fn forward(&self, rgb: &[u8], n: usize) -> candle_core::Result<Vec<Vec<f32>>> {
        let per_image = (INPUT * INPUT * 3) as usize;
        if rgb.len() != n * per_image {
            candle_core::bail!(
                "expected {n} crops of {per_image} bytes, got {} bytes",
                rgb.len()
            );
        }
        let Some(cpu) = &self.cpu else {
            return self.forward_batch(rgb, n);
        };
        // On the CPU one image at a time is faster per face than a batch: one image's
        // activations stay in cache.
        rgb.chunks_exact(per_image)
            .map(|img| cpu.forward(img))
            .collect()
    }

    /// The candle path (any device, a batch at once). The CPU's path gives the same
    /// outputs to float rounding (tested).
    fn forward_batch(&self, rgb: &[u8], n: usize) -> candle_core::Result<Vec<Vec<f32>>> {
        let side = INPUT as usize;
        let mut x = Vec::new();
        normalise_into(rgb, &mut x);
        let x = Tensor::from_vec(x, (n, 3, side, side), &self.device)?; // [n, 3, 112, 112]
        let x = self.trunk.forward(&x)?; // [n, 256, 7, 7]
        let x = x.mean(D::Minus1)?.mean(D::Minus1)?; // [n, 256]
        let y = self.fc.forward(&x)?; // [n, outputs]
        debug_assert_eq!(y.dim(1)?, self.outputs);
        y.to_vec2::<f32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FACEAPI_EXPRESSION, FACEAPI_LANDMARKS};
    use crate::weights::{default_models_dir, read_verified};

    /// Crops of a real face (the single_face fixture, three windows of it) as HWC bytes.
    fn crops() -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/single_face/000030.jpg");
        let img = image::open(path).unwrap().into_rgb8();
        let mut out = Vec::new();
        for (x0, y0) in [(200, 60), (230, 90), (0, 0)] {
            for y in 0..112 {
                for x in 0..112 {
                    let p = img.get_pixel(
                        (x0 + x * 2).min(img.width() - 1),
                        (y0 + y * 2).min(img.height() - 1),
                    );
                    out.extend_from_slice(&p.0);
                }
            }
        }
        out
    }

    #[test]
    fn the_cpus_fused_path_gives_the_candle_paths_outputs() {
        let crops = crops();
        for (model, outputs) in [(&FACEAPI_EXPRESSION, 7), (&FACEAPI_LANDMARKS, 136)] {
            let bytes = read_verified(&default_models_dir(), model).unwrap();
            let net = FaceApiNet::from_bytes(bytes, outputs, &Device::Cpu).unwrap();
            assert!(net.cpu.is_some());
            let fused = net.forward(&crops, 3).unwrap();
            let candle = net.forward_batch(&crops, 3).unwrap();
            assert_eq!(fused.len(), 3);
            let mut worst = 0f32;
            for (f, c) in fused.iter().zip(&candle) {
                assert_eq!(f.len(), outputs);
                for (a, b) in f.iter().zip(c) {
                    worst = worst.max((a - b).abs() / b.abs().max(1.0));
                }
            }
            assert!(worst < 1e-4, "{}: {worst}", model.file);
        }
    }
}
