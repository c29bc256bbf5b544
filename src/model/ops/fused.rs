//! Inference on plain f32 planes, one image at a time, for the bundled face-api networks on
//! the CPU: each convolution's output starts from its bias (and the residual it is added
//! to) and the matrix product is added onto it, and a ReLU before a depthwise convolution
//! is applied as the kernel copies its input. The candle path ran a pass (and an
//! allocation) for each bias, sum and ReLU, and zeroed each product's output first.
//! No gradients: training keeps the candle ops.

use candle_core::Result;

use super::conv3x3::Im2Col;
use super::depthwise::depthwise3x3_planes;
use super::gemm::matmul_add;

/// One image's feature map: `c` planes of `h` x `w`, channel after channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Planes {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Planes {
    /// Sets every value to its ReLU.
    pub fn relu(&mut self) {
        for v in &mut self.data {
            *v = v.max(0.0);
        }
    }

    /// The mean of each plane.
    pub fn plane_means(&self) -> Vec<f32> {
        let n = (self.h * self.w).max(1);
        self.data
            .chunks_exact(n)
            .map(|p| p.iter().sum::<f32>() / n as f32)
            .collect()
    }
}

/// `out` = bias (+ `residual`) + `weights` [o, k] · `cols` [k, hw], as planes of `h` x `w`.
fn project(
    weights: &[f32],
    bias: &[f32],
    cols: &[f32],
    (k, h, w): (usize, usize, usize),
    residual: Option<&Planes>,
    out: &mut Planes,
) -> Result<()> {
    let (o, hw) = (bias.len(), h * w);
    out.data.clear();
    out.data.reserve(o * hw);
    match residual {
        Some(r) if r.data.len() == o * hw => {
            for (plane, &b) in r.data.chunks_exact(hw).zip(bias) {
                out.data.extend(plane.iter().map(|v| v + b));
            }
        }
        Some(r) => candle_core::bail!(
            "residual of {} values for {o} planes of {h}x{w}",
            r.data.len()
        ),
        None => {
            for &b in bias {
                out.data.extend(std::iter::repeat_n(b, hw));
            }
        }
    }
    (out.c, out.h, out.w) = (o, h, w);
    matmul_add((o, hw, k), weights, cols, &mut out.data)
}

/// Depthwise 3x3 (`dw`, nine taps a channel; `pad` top, bottom, left, right; `stride`) of
/// `x`, or of its ReLU with `relu_input`, then pointwise 1x1 (`pw` [o, c]) plus `bias`
/// [o]; with `add_input`, `x` itself is added (a residual sum: same shape in and out).
/// `scratch` holds the depthwise output.
#[allow(clippy::too_many_arguments)]
pub fn separable(
    x: &Planes,
    relu_input: bool,
    dw: &[f32],
    (pad, stride): ((usize, usize, usize, usize), usize),
    pw: &[f32],
    bias: &[f32],
    add_input: bool,
    scratch: &mut Vec<f32>,
    out: &mut Planes,
) -> Result<()> {
    if dw.len() != x.c * 9 || pw.len() != bias.len() * x.c {
        candle_core::bail!(
            "separable: {} taps and {} pointwise weights for {} channels in, {} out",
            dw.len(),
            pw.len(),
            x.c,
            bias.len()
        );
    }
    let (h, w) = depthwise3x3_planes(
        &x.data,
        dw,
        (x.c, x.h, x.w),
        pad,
        stride,
        relu_input,
        scratch,
    );
    project(pw, bias, scratch, (x.c, h, w), add_input.then_some(x), out)
}

/// Full 3x3 convolution (`k` [o, c, 3, 3]) of `x` plus `bias` [o], through im2col
/// (`cols`).
pub fn conv3x3(
    x: &Planes,
    k: &[f32],
    (pad, stride): ((usize, usize, usize, usize), usize),
    bias: &[f32],
    cols: &mut Vec<f32>,
    out: &mut Planes,
) -> Result<()> {
    if k.len() != bias.len() * x.c * 9 || x.data.len() != x.c * x.h * x.w {
        candle_core::bail!(
            "conv3x3: {} weights for {} channels in, {} out",
            k.len(),
            x.c,
            bias.len()
        );
    }
    let g = Im2Col::new(x.c, x.h, x.w, pad, stride)?;
    cols.clear();
    cols.resize(x.c * 9 * g.ho * g.wo, 0.0);
    g.fill(&x.data, cols);
    project(k, bias, cols, (x.c * 9, g.ho, g.wo), None, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::{close, conv3x3 as conv3x3_op, depthwise3x3, pointwise};
    use candle_core::{Device, Tensor};

    fn planes(t: &Tensor) -> Planes {
        let (_, c, h, w) = t.dims4().unwrap();
        Planes {
            c,
            h,
            w,
            data: values(t),
        }
    }

    fn tensor(p: &Planes) -> Tensor {
        Tensor::from_vec(p.data.clone(), (1, p.c, p.h, p.w), &Device::Cpu).unwrap()
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn separable_equals_the_candle_ops() {
        let dev = Device::Cpu;
        for (c, o, side, pad, stride, relu, add) in [
            (8, 8, 14, (1, 1, 1, 1), 1, true, true),
            (8, 16, 14, (0, 1, 0, 1), 2, false, false),
            (5, 5, 9, (1, 1, 1, 1), 1, false, true),
        ] {
            let x = Tensor::randn(0f32, 1.0, (1, c, side, side), &dev).unwrap();
            let dw = Tensor::randn(0f32, 1.0, (c, 1, 3, 3), &dev).unwrap();
            let pw = Tensor::randn(0f32, 1.0, (o, c, 1, 1), &dev).unwrap();
            let b = Tensor::randn(0f32, 1.0, o, &dev).unwrap();
            let input = if relu { x.relu().unwrap() } else { x.clone() };
            let mut want = pointwise(&depthwise3x3(&input, &dw, pad, stride).unwrap(), &pw)
                .unwrap()
                .broadcast_add(&b.reshape((1, o, 1, 1)).unwrap())
                .unwrap();
            if add {
                want = (want + &x).unwrap();
            }
            let (mut scratch, mut out) = (Vec::new(), Planes::default());
            separable(
                &planes(&x),
                relu,
                &values(&dw),
                (pad, stride),
                &values(&pw),
                &values(&b),
                add,
                &mut scratch,
                &mut out,
            )
            .unwrap();
            assert_eq!(tensor(&out).dims(), want.dims());
            let err = close(&tensor(&out), &want);
            assert!(err < 1e-4, "c {c} o {o} stride {stride}: {err}");
        }
    }

    #[test]
    fn conv3x3_equals_the_candle_op_and_bad_shapes_are_refused() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (1, 3, 16, 16), &dev).unwrap();
        let k = Tensor::randn(0f32, 1.0, (8, 3, 3, 3), &dev).unwrap();
        let b = Tensor::randn(0f32, 1.0, 8, &dev).unwrap();
        let want = conv3x3_op(&x, &k, (0, 1, 0, 1), 2)
            .unwrap()
            .broadcast_add(&b.reshape((1, 8, 1, 1)).unwrap())
            .unwrap();
        let (mut cols, mut out) = (Vec::new(), Planes::default());
        let (kv, bv) = (values(&k), values(&b));
        conv3x3(
            &planes(&x),
            &kv,
            ((0, 1, 0, 1), 2),
            &bv,
            &mut cols,
            &mut out,
        )
        .unwrap();
        assert_eq!((out.c, out.h, out.w), (8, 8, 8));
        assert!(close(&tensor(&out), &want) < 1e-4);
        let short = &kv[..kv.len() - 1];
        assert!(conv3x3(
            &planes(&x),
            short,
            ((0, 1, 0, 1), 2),
            &bv,
            &mut cols,
            &mut out
        )
        .is_err());
        let (mut scratch, dw) = (Vec::new(), vec![0.0; 3 * 9]);
        let wrong_residual = separable(
            &planes(&x),
            false,
            &dw,
            ((0, 1, 0, 1), 2),
            &[0.0; 3],
            &[0.0],
            true,
            &mut scratch,
            &mut out,
        );
        assert!(wrong_residual.is_err());
    }

    #[test]
    fn relu_and_plane_means() {
        let mut p = Planes {
            c: 2,
            h: 1,
            w: 2,
            data: vec![-1.0, 3.0, 2.0, 4.0],
        };
        p.relu();
        assert_eq!(p.data, [0.0, 3.0, 2.0, 4.0]);
        assert_eq!(p.plane_means(), [1.5, 3.0]);
    }
}
