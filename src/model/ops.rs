//! Small convolution kernels that candle's CPU backend runs slowly: depthwise 3x3 (candle
//! splits a grouped convolution into one convolution per channel) and 1x1 pointwise
//! (done as one matrix product instead of im2col).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

/// Depthwise 3x3 convolution of `x` [n, c, h, w] with `w` [c, 1, 3, 3], zero padding
/// (top, bottom, left, right), stride 1 or 2. On the CPU a direct kernel; elsewhere the
/// sum of nine shifted, per-channel-scaled copies of the padded input.
pub fn depthwise3x3(
    x: &Tensor,
    w: &Tensor,
    pad: (usize, usize, usize, usize),
    stride: usize,
) -> Result<Tensor> {
    if x.device().is_cpu() {
        let op = Depthwise3x3 { pad, stride };
        return x.contiguous()?.apply_op2_no_bwd(&w.contiguous()?, &op);
    }
    depthwise3x3_shifts(x, w, pad, stride)
}

/// The direct CPU kernel behind [`depthwise3x3`].
struct Depthwise3x3 {
    pad: (usize, usize, usize, usize),
    stride: usize,
}

impl CustomOp2 for Depthwise3x3 {
    fn name(&self) -> &'static str {
        "depthwise3x3"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let x = match l1.contiguous_offsets() {
            Some((a, b)) => &s1.as_slice::<f32>()?[a..b],
            None => candle_core::bail!("depthwise3x3: input not contiguous"),
        };
        let k = match l2.contiguous_offsets() {
            Some((a, b)) => &s2.as_slice::<f32>()?[a..b],
            None => candle_core::bail!("depthwise3x3: kernel not contiguous"),
        };
        if k.len() != c * 9 {
            candle_core::bail!(
                "depthwise3x3: kernel has {} values for {c} channels",
                k.len()
            );
        }
        let (t, b, l, r) = self.pad;
        let s = self.stride;
        let ho = (h + t + b - 3) / s + 1;
        let wo = (w + l + r - 3) / s + 1;
        let mut out = vec![0f32; n * c * ho * wo];
        let geometry = Geometry {
            c,
            h,
            w,
            ho,
            wo,
            t,
            l,
            s,
        };
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { depthwise_avx2(x, k, &mut out, &geometry) };
            return Ok((CpuStorage::F32(out), Shape::from((n, c, ho, wo))));
        }
        depthwise_kernel(x, k, &mut out, &geometry);
        Ok((CpuStorage::F32(out), Shape::from((n, c, ho, wo))))
    }
}

/// Sizes for the depthwise kernel.
struct Geometry {
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    t: usize,
    l: usize,
    s: usize,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn depthwise_avx2(x: &[f32], k: &[f32], out: &mut [f32], g: &Geometry) {
    depthwise_kernel(x, k, out, g)
}

/// Each channel is copied once into a zero-padded plane; then every output row is the sum of
/// three passes (one per kernel row), each `w0 * a[x] + w1 * a[x + 1] + w2 * a[x + 2]` over
/// a padded input row, with no bounds logic inside the loops, which the compiler vectorises.
#[inline(always)]
fn depthwise_kernel(x: &[f32], k: &[f32], out: &mut [f32], g: &Geometry) {
    let &Geometry {
        c,
        h,
        w,
        ho,
        wo,
        t,
        l,
        s,
    } = g;
    // Padded plane: wide enough for every tap of every output column.
    let pw = ((wo - 1) * s + 3).max(w + l);
    let ph = ((ho - 1) * s + 3).max(h + t);
    let mut padded = vec![0f32; pw * ph];
    for (plane, (src, dst)) in x
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(ho * wo))
        .enumerate()
    {
        for (y, row) in src.chunks_exact(w).enumerate() {
            padded[(y + t) * pw + l..(y + t) * pw + l + w].copy_from_slice(row);
        }
        let taps = &k[(plane % c) * 9..(plane % c) * 9 + 9];
        for (oy, o) in dst.chunks_exact_mut(wo).enumerate() {
            for ky in 0..3 {
                let r = &padded[(oy * s + ky) * pw..(oy * s + ky + 1) * pw];
                let (w0, w1, w2) = (taps[ky * 3], taps[ky * 3 + 1], taps[ky * 3 + 2]);
                if s == 1 {
                    for (((v, a), b), cc) in o
                        .iter_mut()
                        .zip(&r[..wo])
                        .zip(&r[1..wo + 1])
                        .zip(&r[2..wo + 2])
                    {
                        *v += w0 * a + w1 * b + w2 * cc;
                    }
                } else {
                    for (ox, v) in o.iter_mut().enumerate() {
                        let i = ox * s;
                        *v += w0 * r[i] + w1 * r[i + 1] + w2 * r[i + 2];
                    }
                }
            }
        }
    }
}

/// Depthwise 3x3 convolution from candle ops: nine shifted, scaled copies, summed.
fn depthwise3x3_shifts(
    x: &Tensor,
    w: &Tensor,
    pad: (usize, usize, usize, usize),
    stride: usize,
) -> Result<Tensor> {
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

/// Full 3x3 convolution of `x` [n, c, h, w] with `w` [o, c, 3, 3], zero padding
/// (top, bottom, left, right) and `stride`, as im2col + one matrix product (candle's own
/// CPU conv2d is several times slower at these sizes, and its backward pass far slower).
/// Differentiable in both `x` and `w`, so the training loop uses it too.
pub fn conv3x3(
    x: &Tensor,
    w: &Tensor,
    pad: (usize, usize, usize, usize),
    stride: usize,
) -> Result<Tensor> {
    if !x.device().is_cpu() {
        let xp = x
            .pad_with_zeros(2, pad.0, pad.1)?
            .pad_with_zeros(3, pad.2, pad.3)?;
        return xp.conv2d(w, 0, stride, 1, 1);
    }
    let (n, c, h, wd) = x.dims4()?;
    let o = w.dim(0)?;
    let g = Im2Col::new(c, h, wd, pad, stride)?;
    let cols = x.contiguous()?.apply_op1(g)?; // [n, c*9, ho*wo]
    let y = w.reshape((o, c * 9))?.broadcast_matmul(&cols)?; // [n, o, ho*wo]
    y.reshape((n, o, g.ho, g.wo))
}

/// The geometry of a 3x3 im2col: `cols[n][ci*9 + ky*3 + kx][oy*wo + ox]` is the input at
/// `(oy*stride + ky - top, ox*stride + kx - left)` of channel `ci`, zero outside.
#[derive(Clone, Copy, Debug)]
struct Im2Col {
    c: usize,
    h: usize,
    w: usize,
    top: usize,
    left: usize,
    stride: usize,
    ho: usize,
    wo: usize,
}

impl Im2Col {
    fn new(
        c: usize,
        h: usize,
        w: usize,
        (t, b, l, r): (usize, usize, usize, usize),
        stride: usize,
    ) -> Result<Self> {
        if stride == 0 || h + t + b < 3 || w + l + r < 3 {
            candle_core::bail!(
                "conv3x3: {h}x{w} input with padding {t},{b},{l},{r} stride {stride}"
            );
        }
        Ok(Im2Col {
            c,
            h,
            w,
            top: t,
            left: l,
            stride,
            ho: (h + t + b - 3) / stride + 1,
            wo: (w + l + r - 3) / stride + 1,
        })
    }

    /// For output coordinate `o` along an axis of input length `len` and padding `pad`
    /// at offset `k`: the input coordinate, or None in the padding.
    #[inline]
    fn src(&self, o: usize, k: usize, pad: usize, len: usize) -> Option<usize> {
        (o * self.stride + k).checked_sub(pad).filter(|&i| i < len)
    }

    /// Valid output range `[lo, hi)` along an axis where the source is inside the input.
    fn valid(&self, k: usize, pad: usize, len: usize, out: usize) -> (usize, usize) {
        let lo = (0..out)
            .find(|&o| self.src(o, k, pad, len).is_some())
            .unwrap_or(out);
        let hi = (lo..out)
            .rev()
            .find(|&o| self.src(o, k, pad, len).is_some())
            .map_or(lo, |o| o + 1);
        (lo, hi)
    }

    /// One image's columns from its planes.
    fn fill(&self, img: &[f32], cols: &mut [f32]) {
        let (plane, out) = (self.h * self.w, self.ho * self.wo);
        for ci in 0..self.c {
            let src = &img[ci * plane..(ci + 1) * plane];
            for ky in 0..3 {
                let (y0, y1) = self.valid(ky, self.top, self.h, self.ho);
                for kx in 0..3 {
                    let (x0, x1) = self.valid(kx, self.left, self.w, self.wo);
                    let dst = &mut cols[(ci * 9 + ky * 3 + kx) * out..][..out];
                    dst.fill(0.0);
                    for oy in y0..y1 {
                        let sy = oy * self.stride + ky - self.top;
                        let row = &src[sy * self.w..(sy + 1) * self.w];
                        let drow = &mut dst[oy * self.wo..(oy + 1) * self.wo];
                        if self.stride == 1 {
                            let sx0 = x0 + kx - self.left;
                            drow[x0..x1].copy_from_slice(&row[sx0..sx0 + (x1 - x0)]);
                        } else {
                            for ox in x0..x1 {
                                drow[ox] = row[ox * self.stride + kx - self.left];
                            }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of [`Im2Col::fill`]: adds each column value back onto its input pixel.
    fn scatter(&self, cols: &[f32], img: &mut [f32]) {
        let (plane, out) = (self.h * self.w, self.ho * self.wo);
        for ci in 0..self.c {
            let dst = &mut img[ci * plane..(ci + 1) * plane];
            for ky in 0..3 {
                let (y0, y1) = self.valid(ky, self.top, self.h, self.ho);
                for kx in 0..3 {
                    let (x0, x1) = self.valid(kx, self.left, self.w, self.wo);
                    let src = &cols[(ci * 9 + ky * 3 + kx) * out..][..out];
                    for oy in y0..y1 {
                        let sy = oy * self.stride + ky - self.top;
                        let row = &mut dst[sy * self.w..(sy + 1) * self.w];
                        let srow = &src[oy * self.wo..(oy + 1) * self.wo];
                        for ox in x0..x1 {
                            row[ox * self.stride + kx - self.left] += srow[ox];
                        }
                    }
                }
            }
        }
    }

    /// Runs `f(image_index, input_chunk, output_chunk)` over the images of a batch, split
    /// across up to two scoped threads when the batch is large enough to pay for them.
    fn per_image<F>(n: usize, src: &[f32], src_len: usize, dst: &mut [f32], dst_len: usize, f: F)
    where
        F: Fn(&[f32], &mut [f32]) + Sync,
    {
        let run = |s: &[f32], d: &mut [f32]| {
            for (a, b) in s.chunks_exact(src_len).zip(d.chunks_exact_mut(dst_len)) {
                f(a, b);
            }
        };
        if n < 4 {
            run(src, dst);
            return;
        }
        let half = n / 2;
        let (s1, s2) = src.split_at(half * src_len);
        let (d1, d2) = dst.split_at_mut(half * dst_len);
        std::thread::scope(|scope| {
            scope.spawn(|| run(s1, d1));
            run(s2, d2);
        });
    }
}

fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s.as_slice::<f32>()?[a..b]),
        None => candle_core::bail!("{what}: input not contiguous"),
    }
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col3x3"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        if (c, h, w) != (self.c, self.h, self.w) {
            candle_core::bail!(
                "im2col3x3: input {c}x{h}x{w}, planned {}x{}x{}",
                self.c,
                self.h,
                self.w
            );
        }
        let x = contiguous_f32(s, l, "im2col3x3")?;
        let k = c * 9 * self.ho * self.wo;
        let mut cols = vec![0f32; n * k];
        Im2Col::per_image(n, x, c * h * w, &mut cols, k, |img, dst| {
            self.fill(img, dst)
        });
        Ok((
            CpuStorage::F32(cols),
            Shape::from((n, c * 9, self.ho * self.wo)),
        ))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&Col2Im(*self))?))
    }
}

/// The backward pass of [`Im2Col`]: column gradients summed back onto the input.
struct Col2Im(Im2Col);

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im3x3"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = &self.0;
        let (n, k, hw) = l.shape().dims3()?;
        if (k, hw) != (g.c * 9, g.ho * g.wo) {
            candle_core::bail!(
                "col2im3x3: columns {k}x{hw}, planned {}x{}",
                g.c * 9,
                g.ho * g.wo
            );
        }
        let cols = contiguous_f32(s, l, "col2im3x3")?;
        let plane = g.c * g.h * g.w;
        let mut img = vec![0f32; n * plane];
        Im2Col::per_image(n, cols, k * hw, &mut img, plane, |c, d| g.scatter(c, d));
        Ok((CpuStorage::F32(img), Shape::from((n, g.c, g.h, g.w))))
    }
}

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
            candle_core::bail!("max_pool2x2_grad: gradient shape {:?}", l2.shape());
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

/// 1x1 convolution of `x` [n, c, h, w] with `w` [o, c, 1, 1], as a matrix product.
pub fn pointwise(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    let o = w.dim(0)?;
    let w2 = w.reshape((o, c))?;
    // One plain matrix product per image: a broadcast batched product was ~2x slower per face.
    let x = x.contiguous()?;
    let ys = (0..n)
        .map(|i| w2.matmul(&x.get(i)?.reshape((c, h * wd))?))
        .collect::<Result<Vec<_>>>()?; // n x [o, h*w]
    Tensor::stack(&ys, 0)?.reshape((n, o, h, wd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn close(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn depthwise_matches_candle_grouped_conv() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 5, 9, 8), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (5, 1, 3, 3), &dev).unwrap();
        // Stride 1, pad 1 all round: candle's own conv2d with groups = channels.
        let want = x.conv2d(&w, 1, 1, 1, 5).unwrap();
        let got = depthwise3x3(&x, &w, (1, 1, 1, 1), 1).unwrap();
        // Every comparison in this test: largest difference 2.9e-6 (3 float32 steps at the
        // outputs' size) over 1000 runs on fresh random inputs (candle's CPU randn is not
        // seeded; AMD EPYC, AVX-512); 1e-5 is 3.5x that, for a 9-term sum.
        assert_eq!(got.dims(), want.dims());
        assert!(close(&got, &want) < 1e-5);
        // Stride 2 with TF 'same' padding on an even size: pad (0,1,0,1), then a valid conv.
        let x2 = Tensor::randn(0f32, 1.0, (1, 3, 8, 8), &dev).unwrap();
        let w2 = Tensor::randn(0f32, 1.0, (3, 1, 3, 3), &dev).unwrap();
        let padded = x2
            .pad_with_zeros(2, 0, 1)
            .unwrap()
            .pad_with_zeros(3, 0, 1)
            .unwrap();
        let want = padded.conv2d(&w2, 0, 2, 1, 3).unwrap();
        let got = depthwise3x3(&x2, &w2, (0, 1, 0, 1), 2).unwrap();
        assert_eq!(got.dims(), &[1, 3, 4, 4]);
        assert!(close(&got, &want) < 1e-5);
        // The candle-ops fallback (used off the CPU) agrees with the direct kernel.
        let shifts = depthwise3x3_shifts(&x2, &w2, (0, 1, 0, 1), 2).unwrap();
        assert!(close(&shifts, &got) < 1e-5);
        let shifts = depthwise3x3_shifts(&x, &w, (1, 1, 1, 1), 1).unwrap();
        assert!(close(&shifts, &depthwise3x3(&x, &w, (1, 1, 1, 1), 1).unwrap()) < 1e-5);
        // Odd sizes and stride 2 with padding on both sides.
        let x3 = Tensor::randn(0f32, 1.0, (1, 2, 7, 5), &dev).unwrap();
        let w3 = Tensor::randn(0f32, 1.0, (2, 1, 3, 3), &dev).unwrap();
        let want = x3.conv2d(&w3, 1, 2, 1, 2).unwrap();
        let got = depthwise3x3(&x3, &w3, (1, 1, 1, 1), 2).unwrap();
        assert_eq!(got.dims(), want.dims());
        assert!(close(&got, &want) < 1e-5);
    }

    #[test]
    fn conv3x3_matches_candle_conv2d() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 3, 10, 9), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (4, 3, 3, 3), &dev).unwrap();
        for (pad, stride) in [
            ((1, 1, 1, 1), 1),
            ((0, 0, 0, 0), 1),
            ((0, 1, 0, 1), 2),
            ((1, 1, 1, 1), 2),
        ] {
            let xp = x
                .pad_with_zeros(2, pad.0, pad.1)
                .unwrap()
                .pad_with_zeros(3, pad.2, pad.3)
                .unwrap();
            let want = xp.conv2d(&w, 0, stride, 1, 1).unwrap();
            let got = conv3x3(&x, &w, pad, stride).unwrap();
            assert_eq!(got.dims(), want.dims(), "{pad:?} {stride}");
            // Largest difference 5.7e-6 over 1000 runs x 4 settings on fresh random inputs
            // (AMD EPYC, AVX-512), 17x under the bound.
            assert!(close(&got, &want) < 1e-4, "{pad:?} {stride}");
        }
    }

    #[test]
    fn conv3x3_gradients_match_candle_conv2d() {
        use candle_core::Var;
        let dev = Device::Cpu;
        // Batches of 1 and 5 (the second splits across threads), odd sizes, both strides.
        for (n, pad, stride) in [
            (1, (1, 1, 1, 1), 1),
            (5, (1, 1, 1, 1), 1),
            (5, (0, 1, 0, 1), 2),
        ] {
            let x =
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (n, 3, 9, 7), &dev).unwrap()).unwrap();
            let w =
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 3, 3, 3), &dev).unwrap()).unwrap();
            // A loss that weights every output differently, so each gradient entry matters.
            let probe = |y: &Tensor| {
                let r = Tensor::arange(0f32, y.elem_count() as f32, &dev)
                    .unwrap()
                    .reshape(y.shape())
                    .unwrap()
                    .sin()
                    .unwrap();
                (y * r).unwrap().sum_all().unwrap()
            };
            let ours = probe(&conv3x3(x.as_tensor(), w.as_tensor(), pad, stride).unwrap());
            let g1 = ours.backward().unwrap();
            let xp = x
                .pad_with_zeros(2, pad.0, pad.1)
                .unwrap()
                .pad_with_zeros(3, pad.2, pad.3)
                .unwrap();
            let theirs = probe(&xp.conv2d(w.as_tensor(), 0, stride, 1, 1).unwrap());
            let g2 = theirs.backward().unwrap();
            for v in [&x, &w] {
                let (a, b) = (g1.get(v).unwrap(), g2.get(v).unwrap());
                assert_eq!(a.dims(), b.dims());
                // Relative to the gradient's size: the weight gradient of the batch of 5 sums
                // 315 products and reaches |47| on random inputs, where a float32 step is 4e-6.
                // Measured over 400 runs on fresh random inputs (AMD EPYC, AVX-512): up to
                // 4.2e-5 absolute (42% of the former fixed 1e-4, too close on a draw with
                // larger values or another CPU's summation order), at most 1.2e-6 of the
                // largest |gradient|; 1e-5 of it is 8x that. A wrong index, padding or stride
                // is off by whole products (about 1) and still fails.
                let scale = b
                    .abs()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .max(0)
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    .max(1.0);
                assert!(
                    close(a, b) < 1e-5 * scale,
                    "{n} {pad:?} {stride}: {} (largest |gradient| {scale})",
                    close(a, b)
                );
            }
        }
    }

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

    #[test]
    fn pointwise_matches_conv2d() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 4, 3, 5), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (6, 4, 1, 1), &dev).unwrap();
        let want = x.conv2d(&w, 0, 1, 1, 1).unwrap();
        let got = pointwise(&x, &w).unwrap();
        // Measured 0 in 100 runs on fresh random inputs (AMD EPYC, AVX-512); 1e-5 allows
        // another summation order over the 4 input channels.
        assert!(close(&got, &want) < 1e-5);
        let _ = DType::F32;
    }
}
