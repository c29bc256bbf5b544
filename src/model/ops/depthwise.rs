//! Depthwise 3x3 convolution: a direct CPU kernel with its own backward pass (candle splits a
//! grouped convolution into one convolution per channel), and a fallback from candle ops
//! for other devices.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use super::contiguous_f32;

/// Depthwise 3x3 convolution of `x` [n, c, h, w] with `w` [c, 1, 3, 3], zero padding
/// (top, bottom, left, right), stride 1 or 2. On the CPU a direct kernel; elsewhere the
/// sum of nine shifted, per-channel-scaled copies of the padded input. Differentiable in
/// both `x` and `w` (the backward pass is a direct kernel too), so fine-tuning a network
/// built on it trains through it.
pub fn depthwise3x3(
    x: &Tensor,
    w: &Tensor,
    pad: (usize, usize, usize, usize),
    stride: usize,
) -> Result<Tensor> {
    if x.device().is_cpu() {
        let op = Depthwise3x3 { pad, stride };
        return x.contiguous()?.apply_op2(&w.contiguous()?, op);
    }
    depthwise3x3_shifts(x, w, pad, stride)
}

/// The direct CPU kernel on plain planes: `x` holds `planes` planes of `h` x `w` (any
/// number of images, channel after channel; `k` has nine taps a channel, cycled when
/// `planes` is a multiple of its channels). `out` is overwritten with the result; returns
/// its height and width. `relu_input`: convolve the ReLU of `x`.
pub(crate) fn depthwise3x3_planes(
    x: &[f32],
    k: &[f32],
    (planes, h, w): (usize, usize, usize),
    (t, b, l, r): (usize, usize, usize, usize),
    s: usize,
    relu_input: bool,
    out: &mut Vec<f32>,
) -> (usize, usize) {
    let ho = (h + t + b - 3) / s + 1;
    let wo = (w + l + r - 3) / s + 1;
    out.clear();
    out.resize(planes * ho * wo, 0.0);
    let geometry = Geometry {
        c: k.len() / 9,
        h,
        w,
        ho,
        wo,
        t,
        l,
        s,
    };
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { depthwise_avx2(&x[..planes * h * w], k, out, &geometry, relu_input) };
        return (ho, wo);
    }
    depthwise_kernel(&x[..planes * h * w], k, out, &geometry, relu_input);
    (ho, wo)
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
        let mut out = Vec::new();
        let (ho, wo) =
            depthwise3x3_planes(x, k, (n * c, h, w), self.pad, self.stride, false, &mut out);
        Ok((CpuStorage::F32(out), Shape::from((n, c, ho, wo))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (n, c, h, wd) = x.dims4()?;
        let total = n * c * h * wd;
        let packed = x.contiguous()?.apply_op3_no_bwd(
            &w.contiguous()?,
            &grad.contiguous()?,
            &Depthwise3x3Grad {
                pad: self.pad,
                stride: self.stride,
            },
        )?;
        let dx = packed.narrow(0, 0, total)?.reshape((n, c, h, wd))?;
        let dw = packed.narrow(0, total, c * 9)?.reshape((c, 1, 3, 3))?;
        Ok((Some(dx), Some(dw)))
    }
}

/// The backward pass of [`Depthwise3x3`]: (x, w, dy) -> [dx (flattened), dw (flattened)].
struct Depthwise3x3Grad {
    pad: (usize, usize, usize, usize),
    stride: usize,
}

impl CustomOp3 for Depthwise3x3Grad {
    fn name(&self) -> &'static str {
        "depthwise3x3_grad"
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
        let (n, c, h, w) = l1.shape().dims4()?;
        let x = contiguous_f32(s1, l1, "depthwise3x3_grad")?;
        let k = contiguous_f32(s2, l2, "depthwise3x3_grad")?;
        let dy = contiguous_f32(s3, l3, "depthwise3x3_grad")?;
        let (t, b, l, r) = self.pad;
        let s = self.stride;
        let ho = (h + t + b - 3) / s + 1;
        let wo = (w + l + r - 3) / s + 1;
        if k.len() != c * 9 || dy.len() != n * c * ho * wo {
            candle_core::bail!("depthwise3x3_grad: kernel or gradient of the wrong size");
        }
        let g = Geometry {
            c,
            h,
            w,
            ho,
            wo,
            t,
            l,
            s,
        };
        let mut out = vec![0f32; x.len() + c * 9];
        let (dx, dw) = out.split_at_mut(x.len());
        depthwise_grad_kernel(x, k, dy, dx, dw, &g);
        Ok((CpuStorage::F32(out), Shape::from(x.len() + c * 9)))
    }
}

/// The adjoint of [`depthwise_kernel`], plane by plane over a zero-padded copy of the input
/// and a zero-padded input gradient: for every output pixel and tap, the output gradient
/// times the tap goes to the input pixel under the tap, and times that pixel to the tap.
fn depthwise_grad_kernel(
    x: &[f32],
    k: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    g: &Geometry,
) {
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
    let pw = ((wo - 1) * s + 3).max(w + l);
    let ph = ((ho - 1) * s + 3).max(h + t);
    let mut padded = vec![0f32; pw * ph];
    let mut dpadded = vec![0f32; pw * ph];
    for (plane, ((src, grad), dsrc)) in x
        .chunks_exact(h * w)
        .zip(dy.chunks_exact(ho * wo))
        .zip(dx.chunks_exact_mut(h * w))
        .enumerate()
    {
        for (y, row) in src.chunks_exact(w).enumerate() {
            padded[(y + t) * pw + l..(y + t) * pw + l + w].copy_from_slice(row);
        }
        dpadded.fill(0.0);
        let ch = plane % c;
        let taps = &k[ch * 9..ch * 9 + 9];
        let mut dtaps = [0f32; 9];
        for (oy, go) in grad.chunks_exact(wo).enumerate() {
            for ky in 0..3 {
                let at = (oy * s + ky) * pw;
                let r = &padded[at..at + pw];
                let dr = &mut dpadded[at..at + pw];
                for kx in 0..3 {
                    let tap = taps[ky * 3 + kx];
                    let mut acc = 0f32;
                    for (ox, &gv) in go.iter().enumerate() {
                        let i = ox * s + kx;
                        acc += gv * r[i];
                        dr[i] += gv * tap;
                    }
                    dtaps[ky * 3 + kx] += acc;
                }
            }
        }
        for (d, v) in dw[ch * 9..ch * 9 + 9].iter_mut().zip(dtaps) {
            *d += v;
        }
        for (y, row) in dsrc.chunks_exact_mut(w).enumerate() {
            row.copy_from_slice(&dpadded[(y + t) * pw + l..(y + t) * pw + l + w]);
        }
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
unsafe fn depthwise_avx2(x: &[f32], k: &[f32], out: &mut [f32], g: &Geometry, relu_input: bool) {
    depthwise_kernel(x, k, out, g, relu_input)
}

/// Each channel is copied once into a zero-padded plane. Stride 1: the whole plane in one
/// run over the padded grid, nine taps a value. Stride 2: every output row is the sum of
/// three passes (one per kernel row), each `w0 * a[2x] + w1 * a[2x + 1] + w2 * a[2x + 2]`
/// over a padded input row. Both add the kernel rows in the same order, with no bounds
/// logic inside the loops, which the compiler vectorises.
/// `relu_input`: convolve the ReLU of `x` (applied as it is copied, so a network needs no
/// separate ReLU pass before the block).
#[inline(always)]
fn depthwise_kernel(x: &[f32], k: &[f32], out: &mut [f32], g: &Geometry, relu_input: bool) {
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
    // Stride 1: the outputs on the padded grid, before the valid columns are copied out.
    let mut flat = if s == 1 {
        vec![0f32; ho * pw]
    } else {
        Vec::new()
    };
    for (plane, (src, dst)) in x
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(ho * wo))
        .enumerate()
    {
        for (y, row) in src.chunks_exact(w).enumerate() {
            let dst = &mut padded[(y + t) * pw + l..(y + t) * pw + l + w];
            if relu_input {
                for (d, &v) in dst.iter_mut().zip(row) {
                    *d = v.max(0.0);
                }
            } else {
                dst.copy_from_slice(row);
            }
        }
        let taps = &k[(plane % c) * 9..(plane % c) * 9 + 9];
        if s == 1 {
            // The whole plane in one run over the padded grid (its last two columns of each
            // row are thrown away), nine taps a value and one store, then the valid columns
            // copied out: long vectorised runs even for the 7 px planes of the last block.
            // The same sums in the same order as the row-by-row form.
            let len = (ho - 1) * pw + wo;
            let run = |ky: usize, kx: usize| &padded[ky * pw + kx..ky * pw + kx + len];
            let (a0, a1, a2) = (run(0, 0), run(0, 1), run(0, 2));
            let (b0, b1, b2) = (run(1, 0), run(1, 1), run(1, 2));
            let (c0, c1, c2) = (run(2, 0), run(2, 1), run(2, 2));
            let grid = &mut flat[..len];
            for i in 0..len {
                let mut v = 0f32;
                v += taps[0] * a0[i] + taps[1] * a1[i] + taps[2] * a2[i];
                v += taps[3] * b0[i] + taps[4] * b1[i] + taps[5] * b2[i];
                v += taps[6] * c0[i] + taps[7] * c1[i] + taps[8] * c2[i];
                grid[i] = v;
            }
            for (oy, o) in dst.chunks_exact_mut(wo).enumerate() {
                o.copy_from_slice(&flat[oy * pw..oy * pw + wo]);
            }
            continue;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::close;
    use candle_core::Device;

    #[test]
    fn depthwise_gradients_match_finite_differences_and_candle_ops() {
        use candle_core::Var;
        let dev = Device::Cpu;
        // Batches of 1 and 3, odd sizes, both strides and both paddings the networks use.
        for (n, pad, stride) in [
            (1, (1, 1, 1, 1), 1),
            (3, (1, 1, 1, 1), 1),
            (3, (0, 1, 0, 1), 2),
            (2, (1, 1, 1, 1), 2),
        ] {
            let x =
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (n, 4, 9, 7), &dev).unwrap()).unwrap();
            let w =
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 1, 3, 3), &dev).unwrap()).unwrap();
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
            let loss = |x: &Tensor, w: &Tensor| {
                probe(&depthwise3x3(x, w, pad, stride).unwrap())
                    .to_scalar::<f32>()
                    .unwrap() as f64
            };
            let grads = probe(&depthwise3x3(x.as_tensor(), w.as_tensor(), pad, stride).unwrap())
                .backward()
                .unwrap();
            let (gx, gw) = (grads.get(&x).unwrap(), grads.get(&w).unwrap());
            assert_eq!(gx.dims(), x.dims());
            assert_eq!(gw.dims(), w.dims());
            // Finite differences: the loss is linear in each argument, so a central
            // difference with step 0.5 is exact but for float32 rounding (measured up to
            // 7.1e-5 over 200 runs x 4 settings on fresh random inputs, AMD EPYC, AVX-512);
            // 5e-3 leaves 70x, and a wrong index or tap is off by a whole product (about 1).
            let fd = |v: &Var, grad: &Tensor, picks: &[usize]| {
                let flat = grad.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                let base = v.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                for &i in picks {
                    let at = |d: f32| {
                        let mut p = base.clone();
                        p[i] += d;
                        Tensor::from_vec(p, v.shape(), &dev).unwrap()
                    };
                    let (plus, minus) = if std::ptr::eq(v, &x) {
                        (
                            loss(&at(0.5), w.as_tensor()),
                            loss(&at(-0.5), w.as_tensor()),
                        )
                    } else {
                        (
                            loss(x.as_tensor(), &at(0.5)),
                            loss(x.as_tensor(), &at(-0.5)),
                        )
                    };
                    let numeric = plus - minus;
                    assert!(
                        (numeric - flat[i] as f64).abs() < 5e-3,
                        "{n} {pad:?} {stride} entry {i}: numeric {numeric}, analytic {}",
                        flat[i]
                    );
                }
            };
            let nx = x.elem_count();
            // Corners, edges and the middle of the first and last planes, and every tap.
            fd(&x, gx, &[0, 6, 31, 62, nx / 2, nx - 63, nx - 7, nx - 1]);
            fd(&w, gw, &(0..36).collect::<Vec<_>>());
            // The same gradients from candle's autograd through the shifted-copies version.
            let theirs =
                probe(&depthwise3x3_shifts(x.as_tensor(), w.as_tensor(), pad, stride).unwrap())
                    .backward()
                    .unwrap();
            // Measured up to 1.7e-5 (the weight gradient sums up to 3 x 63 x 9 products in
            // another order) over 200 runs x 4 settings on fresh random inputs (AMD EPYC,
            // AVX-512); 1e-4 is 6x that, and a wrong tap is off by about 1.
            assert!(close(gx, theirs.get(&x).unwrap()) < 1e-4);
            assert!(close(gw, theirs.get(&w).unwrap()) < 1e-4);
        }
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

    /// The kernel's sums written out tap by tap, in its order (row by row of the kernel,
    /// three taps each), on the zero-padded ReLU'd or plain input.
    fn depthwise_reference(
        x: &[f32],
        k: &[f32],
        (planes, h, w): (usize, usize, usize),
        (t, b, l, r): (usize, usize, usize, usize),
        s: usize,
        relu: bool,
    ) -> Vec<f32> {
        let (ho, wo) = ((h + t + b - 3) / s + 1, (w + l + r - 3) / s + 1);
        let c = k.len() / 9;
        let at = |p: usize, y: usize, xx: usize| -> f32 {
            let (y, xx) = (y as isize - t as isize, xx as isize - l as isize);
            if y < 0 || xx < 0 || y >= h as isize || xx >= w as isize {
                return 0.0;
            }
            let v = x[p * h * w + y as usize * w + xx as usize];
            if relu {
                v.max(0.0)
            } else {
                v
            }
        };
        let mut out = vec![0f32; planes * ho * wo];
        for p in 0..planes {
            let taps = &k[(p % c) * 9..(p % c) * 9 + 9];
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut v = 0f32;
                    for ky in 0..3 {
                        let (y, x0) = (oy * s + ky, ox * s);
                        v += taps[ky * 3] * at(p, y, x0)
                            + taps[ky * 3 + 1] * at(p, y, x0 + 1)
                            + taps[ky * 3 + 2] * at(p, y, x0 + 2);
                    }
                    out[(p * ho + oy) * wo + ox] = v;
                }
            }
        }
        out
    }

    #[test]
    fn the_plane_kernel_equals_its_sums_written_out_bit_for_bit() {
        let dev = Device::Cpu;
        let cases = [
            ((6, 9, 8), (0, 1, 0, 1), 2),
            ((6, 9, 8), (1, 1, 1, 1), 2),
            ((4, 7, 5), (1, 1, 1, 1), 2),
            ((4, 7, 5), (1, 1, 1, 1), 1),
            ((3, 14, 14), (0, 1, 0, 1), 2),
        ];
        for (shape, pad, stride) in cases {
            let (planes, h, w) = shape;
            let x: Vec<f32> = Tensor::randn(0f32, 1.0, planes * h * w, &dev)
                .unwrap()
                .to_vec1()
                .unwrap();
            let k: Vec<f32> = Tensor::randn(0f32, 1.0, 3 * 9, &dev)
                .unwrap()
                .to_vec1()
                .unwrap();
            for relu in [false, true] {
                let mut out = Vec::new();
                depthwise3x3_planes(&x, &k, shape, pad, stride, relu, &mut out);
                let want = depthwise_reference(&x, &k, shape, pad, stride, relu);
                assert!(
                    out == want,
                    "{shape:?} pad {pad:?} stride {stride} relu {relu}"
                );
            }
        }
    }
}
