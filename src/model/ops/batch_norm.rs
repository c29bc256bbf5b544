//! Training-mode batch normalisation (the batch's own statistics) as one fused CPU kernel
//! each way.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::contiguous_f32;

/// Batch normalisation of `x` [n, c, h, w] with the batch's own per-channel statistics (as
/// in training), scaled by `weight` [c] and shifted by `bias` [c]; differentiable in all
/// three. Returns the output and the batch's mean and (biased) variance per channel, for
/// the running statistics. On the CPU one fused kernel each way: candle's own batch norm
/// makes about ten full-size temporaries per layer in a training step.
pub fn batch_norm_train(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> Result<(Tensor, Vec<f32>, Vec<f32>)> {
    let (_, c, _, _) = x.dims4()?;
    if !x.device().is_cpu() {
        let m = x.mean_keepdim(0)?.mean_keepdim(2)?.mean_keepdim(3)?;
        let centred = x.broadcast_sub(&m)?;
        let v = centred
            .sqr()?
            .mean_keepdim(0)?
            .mean_keepdim(2)?
            .mean_keepdim(3)?;
        let y = centred
            .broadcast_div(&(&v + eps)?.sqrt()?)?
            .broadcast_mul(&weight.reshape((1, c, 1, 1))?)?
            .broadcast_add(&bias.reshape((1, c, 1, 1))?)?;
        return Ok((y, m.flatten_all()?.to_vec1()?, v.flatten_all()?.to_vec1()?));
    }
    let stats = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), Vec::new())));
    let op = BatchNorm {
        eps,
        stats: stats.clone(),
    };
    let y = x
        .contiguous()?
        .apply_op3(&weight.contiguous()?, &bias.contiguous()?, op)?;
    let (mean, var) =
        std::mem::take(&mut *stats.lock().map_err(|_| {
            candle_core::Error::Msg("batch_norm_train: statistics poisoned".into())
        })?);
    Ok((y, mean, var))
}

/// Per-channel mean and biased variance of contiguous [n, c, h, w] data.
fn channel_stats(x: &[f32], (n, c, h, w): (usize, usize, usize, usize)) -> (Vec<f32>, Vec<f32>) {
    let plane = h * w;
    let count = (n * plane) as f64;
    let mut mean = vec![0f32; c];
    let mut var = vec![0f32; c];
    for ch in 0..c {
        let planes = (0..n).map(|i| &x[(i * c + ch) * plane..(i * c + ch + 1) * plane]);
        let m = planes.clone().flatten().map(|&v| v as f64).sum::<f64>() / count;
        let v = planes
            .flatten()
            .map(|&v| (v as f64 - m) * (v as f64 - m))
            .sum::<f64>()
            / count;
        mean[ch] = m as f32;
        var[ch] = v as f32;
    }
    (mean, var)
}

/// The forward kernel of [`batch_norm_train`]; leaves the batch statistics in `stats`.
struct BatchNorm {
    eps: f64,
    stats: std::sync::Arc<std::sync::Mutex<(Vec<f32>, Vec<f32>)>>,
}

impl CustomOp3 for BatchNorm {
    fn name(&self) -> &'static str {
        "batch_norm_train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = l1.shape().dims4()?;
        let (n, c, h, w) = dims;
        let x = contiguous_f32(s1, l1, "batch_norm_train")?;
        let g = contiguous_f32(s2, l2, "batch_norm_train")?;
        let b = contiguous_f32(s3, l3, "batch_norm_train")?;
        if g.len() != c || b.len() != c {
            candle_core::bail!(
                "batch_norm_train: {} scales and {} shifts for {c} channels",
                g.len(),
                b.len()
            );
        }
        let (mean, var) = channel_stats(x, dims);
        let plane = h * w;
        let mut y = vec![0f32; x.len()];
        for i in 0..n {
            for ch in 0..c {
                let k = g[ch] / (var[ch] as f64 + self.eps).sqrt() as f32;
                let off = b[ch] - mean[ch] * k;
                let at = (i * c + ch) * plane;
                for (o, &v) in y[at..at + plane].iter_mut().zip(&x[at..at + plane]) {
                    *o = v * k + off;
                }
            }
        }
        if let Ok(mut s) = self.stats.lock() {
            *s = (mean, var);
        }
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, c, h, w) = x.dims4()?;
        let total = n * c * h * w;
        let packed = x.apply_op3_no_bwd(
            weight,
            &grad.contiguous()?,
            &BatchNormGrad { eps: self.eps },
        )?;
        let dx = packed.narrow(0, 0, total)?.reshape((n, c, h, w))?;
        let dw = packed.narrow(0, total, c)?;
        let db = packed.narrow(0, total + c, c)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// The backward pass of [`BatchNorm`]: (x, weight, dy) -> [dx (flattened), dweight, dbias].
struct BatchNormGrad {
    eps: f64,
}

impl CustomOp3 for BatchNormGrad {
    fn name(&self) -> &'static str {
        "batch_norm_train_grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = l1.shape().dims4()?;
        let (n, c, h, w) = dims;
        let x = contiguous_f32(s1, l1, "batch_norm_train_grad")?;
        let g = contiguous_f32(s2, l2, "batch_norm_train_grad")?;
        let dy = contiguous_f32(s3, l3, "batch_norm_train_grad")?;
        let (mean, var) = channel_stats(x, dims);
        let plane = h * w;
        let count = (n * plane) as f64;
        let mut out = vec![0f32; x.len() + 2 * c];
        for ch in 0..c {
            let inv = 1.0 / (var[ch] as f64 + self.eps).sqrt();
            let (mut sum_dy, mut sum_dy_xhat) = (0f64, 0f64);
            for i in 0..n {
                let at = (i * c + ch) * plane;
                for (&v, &d) in x[at..at + plane].iter().zip(&dy[at..at + plane]) {
                    sum_dy += d as f64;
                    sum_dy_xhat += d as f64 * (v as f64 - mean[ch] as f64) * inv;
                }
            }
            let k = g[ch] as f64 * inv;
            let (a, b) = (sum_dy / count, sum_dy_xhat / count);
            for i in 0..n {
                let at = (i * c + ch) * plane;
                for j in at..at + plane {
                    let xhat = (x[j] as f64 - mean[ch] as f64) * inv;
                    out[j] = (k * (dy[j] as f64 - a - xhat * b)) as f32;
                }
            }
            out[x.len() + ch] = sum_dy_xhat as f32;
            out[x.len() + c + ch] = sum_dy as f32;
        }
        Ok((CpuStorage::F32(out), Shape::from(x.len() + 2 * c)))
    }
}
