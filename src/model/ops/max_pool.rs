//! 2x2 max-pooling with stride 2 and a backward pass that routes each window's gradient to
//! its first maximum.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::contiguous_f32;

/// 2x2 max-pooling with stride 2 of `x` [n, c, h, w] (even `h` and `w`), differentiable:
/// the gradient goes to the first maximum of each window. On the CPU a direct kernel
/// (candle's backward pass for max-pooling builds several full-size temporaries).
pub fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        return x.max_pool2d(2);
    }
    x.contiguous()?.apply_op1(MaxPool2x2)
}

struct MaxPool2x2;

/// Index within a 2x2 window (0..4, row-major) of its first maximum, for `plane` of width
/// `w` at output `(oy, ox)`.
#[inline]
fn window_argmax(plane: &[f32], w: usize, oy: usize, ox: usize) -> (usize, f32) {
    let i = 2 * oy * w + 2 * ox;
    let v = [plane[i], plane[i + 1], plane[i + w], plane[i + w + 1]];
    let mut best = (0, v[0]);
    for (k, &x) in v.iter().enumerate().skip(1) {
        if x > best.1 {
            best = (k, x);
        }
    }
    best
}

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "max_pool2x2"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        if h % 2 != 0 || w % 2 != 0 {
            candle_core::bail!("max_pool2x2: odd size {h}x{w}");
        }
        let x = contiguous_f32(s, l, "max_pool2x2")?;
        let (ho, wo) = (h / 2, w / 2);
        let mut out = Vec::with_capacity(n * c * ho * wo);
        for plane in x.chunks_exact(h * w) {
            for oy in 0..ho {
                for ox in 0..wo {
                    out.push(window_argmax(plane, w, oy, ox).1);
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((n, c, ho, wo))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            arg.apply_op2_no_bwd(&grad.contiguous()?, &MaxPool2x2Grad)?,
        ))
    }
}

/// The backward pass of [`MaxPool2x2`]: (input, output gradient) -> input gradient.
struct MaxPool2x2Grad;

impl CustomOp2 for MaxPool2x2Grad {
    fn name(&self) -> &'static str {
        "max_pool2x2_grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let (ho, wo) = (h / 2, w / 2);
        if l2.shape().dims4()? != (n, c, ho, wo) {
            candle_core::bail!(
                "max_pool2x2_grad: gradient shape {}, expected {n}x{c}x{ho}x{wo}",
                l2.shape()
                    .dims()
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("x")
            );
        }
        let x = contiguous_f32(s1, l1, "max_pool2x2_grad")?;
        let g = contiguous_f32(s2, l2, "max_pool2x2_grad")?;
        let mut out = vec![0f32; n * c * h * w];
        for ((plane, gp), op) in x
            .chunks_exact(h * w)
            .zip(g.chunks_exact(ho * wo))
            .zip(out.chunks_exact_mut(h * w))
        {
            for oy in 0..ho {
                for ox in 0..wo {
                    let (k, _) = window_argmax(plane, w, oy, ox);
                    op[(2 * oy + k / 2) * w + 2 * ox + k % 2] = gp[oy * wo + ox];
                }
            }
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::close;
    use candle_core::{DType, Device};

    #[test]
    fn max_pool_matches_candle_and_routes_gradient_to_the_maximum() {
        use candle_core::Var;
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 2, 6, 8), &dev).unwrap()).unwrap();
        let r = Tensor::randn(0f32, 1.0, (3, 2, 3, 4), &dev).unwrap();
        let ours = max_pool2x2(x.as_tensor()).unwrap();
        // A maximum picks one input: measured 0 in 100 runs; 1e-6 is only slack.
        assert!(close(&ours, &x.max_pool2d(2).unwrap()) < 1e-6);
        // d/dx sum(pool(x) * r): r at each window's maximum, zero elsewhere, by hand.
        // (candle 0.11.1's own max_pool2d backward gives a quarter of this.)
        let g = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let got = g
            .get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let xs = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let rs = r.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mut want = vec![0f32; xs.len()];
        for p in 0..6 {
            for oy in 0..3 {
                for ox in 0..4 {
                    let at = |dy: usize, dx: usize| p * 48 + (2 * oy + dy) * 8 + 2 * ox + dx;
                    let best = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)]
                        .into_iter()
                        .max_by(|&i, &j| xs[i].total_cmp(&xs[j]))
                        .unwrap();
                    want[best] = rs[p * 12 + oy * 4 + ox];
                }
            }
        }
        assert_eq!(got, want);
        assert!(max_pool2x2(&Tensor::zeros((1, 1, 3, 4), DType::F32, &dev).unwrap()).is_err());
    }
}
