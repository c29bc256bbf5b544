// This file is part of the open-source port of SeetaFace engine, which originally includes three modules:
//      SeetaFace Detection, SeetaFace Alignment, and SeetaFace Identification.
//
// This file is part of the SeetaFace Detection module, containing codes implementing the face detection method described in the following paper:
//
//      Funnel-structured cascade for multi-view face detection with alignment awareness,
//      Shuzhe Wu, Meina Kan, Zhenliang He, Shiguang Shan, Xilin Chen.
//      In Neurocomputing (under review)
//
// Copyright (C) 2016, Visual Information Processing and Learning (VIPL) group,
// Institute of Computing Technology, Chinese Academy of Sciences, Beijing, China.
//
// As an open-source face recognition engine: you can redistribute SeetaFace source codes
// and/or modify it under the terms of the BSD 2-Clause License.
//
// You should have received a copy of the BSD 2-Clause License along with the software.
// If not, see < https://opensource.org/licenses/BSD-2-Clause>.

use std::cmp;

#[derive(Debug)]
pub struct ImageData<'a> {
    data: &'a [u8],
    width: u32,
    height: u32,
    num_channels: u32,
}

impl<'a> ImageData<'a> {
    #[inline]
    pub fn new(data: &'a [u8], width: u32, height: u32) -> Self {
        assert_eq!(data.len(), width as usize * height as usize);
        ImageData {
            data,
            width,
            height,
            num_channels: 1,
        }
    }

    #[inline]
    pub fn width(&self) -> u32 {
        self.width
    }

    #[inline]
    pub fn height(&self) -> u32 {
        self.height
    }

    #[inline]
    pub fn num_channels(&self) -> u32 {
        self.num_channels
    }

    #[inline]
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

pub struct ImagePyramid {
    max_scale: f32,
    min_scale: f32,
    scale_factor: f32,
    scale_step: f32,
    width1x: u32,
    height1x: u32,
    width_scaled: u32,
    height_scaled: u32,
    img_buf: Vec<u8>,
    img_buf_scaled: Vec<u8>,
    img_buf_scaled_width: u32,
    img_buf_scaled_height: u32,
}

impl ImagePyramid {
    pub fn new() -> Self {
        let img_buf_scaled_width: u32 = 2;
        let img_buf_scaled_height: u32 = 2;

        ImagePyramid {
            max_scale: 1.0,
            min_scale: 1.0,
            scale_factor: 1.0,
            scale_step: 0.8,
            width1x: 0,
            height1x: 0,
            width_scaled: 0,
            height_scaled: 0,
            img_buf: Vec::new(),
            img_buf_scaled: Vec::with_capacity(
                (img_buf_scaled_width * img_buf_scaled_height) as usize,
            ),
            img_buf_scaled_width,
            img_buf_scaled_height,
        }
    }

    #[allow(dead_code)]
    pub fn set_max_scale(&mut self, max_scale: f32) {
        self.max_scale = max_scale;
        self.scale_factor = max_scale;
        self.update_buf_scaled();
    }

    #[inline]
    pub fn set_min_scale(&mut self, min_scale: f32) {
        self.min_scale = min_scale;
    }

    pub fn set_scale_step(&mut self, scale_step: f32) {
        if scale_step > 0.0 && scale_step <= 1.0 {
            self.scale_step = scale_step;
        }
    }

    #[inline]
    pub fn get_image_1x(&self) -> ImageData {
        ImageData::new(&self.img_buf, self.width1x, self.height1x)
    }

    pub fn set_image_1x(&mut self, img_data: &[u8], width: u32, height: u32) {
        self.width1x = width;
        self.height1x = height;

        self.img_buf.clear();
        self.img_buf.extend_from_slice(img_data);

        self.scale_factor = self.max_scale;
        self.update_buf_scaled();
    }

    fn update_buf_scaled(&mut self) {
        if self.width1x == 0 || self.height1x == 0 {
            return;
        }

        let max_width = (self.width1x as f32 * self.max_scale + 0.5) as u32;
        let max_height = (self.height1x as f32 * self.max_scale + 0.5) as u32;

        if max_width > self.img_buf_scaled_width || max_height > self.img_buf_scaled_height {
            self.img_buf_scaled_width = max_width;
            self.img_buf_scaled_height = max_height;
            self.img_buf_scaled = Vec::with_capacity((max_width * max_height) as usize);
        }
    }

    pub fn get_next_scale_image(&mut self) -> Option<(ImageData, f32)> {
        if self.scale_factor < self.min_scale {
            return None;
        }

        let scale_factor = self.scale_factor;
        self.width_scaled = (self.width1x as f32 * scale_factor) as u32;
        self.height_scaled = (self.height1x as f32 * scale_factor) as u32;

        let src = ImageData::new(&self.img_buf, self.width1x, self.height1x);
        resize_image(
            &src,
            &mut self.img_buf_scaled,
            self.width_scaled,
            self.height_scaled,
        );
        let img_scaled = ImageData::new(
            &self.img_buf_scaled,
            self.width_scaled,
            self.height_scaled,
        );
        self.scale_factor *= self.scale_step;

        Some((img_scaled, scale_factor))
    }
}

pub fn resize_image(src: &ImageData, dest: &mut Vec<u8>, width: u32, height: u32) {
    dest.clear();

    if src.width() == width && src.height() == height {
        dest.extend_from_slice(src.data());
        return;
    }

    let src_width = src.width() as usize;
    let data = src.data();
    let lf_x_scl = f64::from(src.width()) / f64::from(width);
    let lf_y_scl = f64::from(src.height()) / f64::from(height);

    // The same bilinear sample as before for every pixel, bit for bit: each column's source
    // index and weight are computed once rather than once a row, and each source row's
    // horizontal blend once for the output rows that use it (`(1 - wx) * left + wx * right`,
    // the very operations of the first form, kept in f64), then blended vertically.
    let columns: Vec<(usize, f64)> = (0..width)
        .map(|x| {
            let lf_x_s = lf_x_scl * f64::from(x);
            let n_x_s = cmp::min(lf_x_s as u32, src.width() - 2);
            (n_x_s as usize, lf_x_s - f64::from(n_x_s))
        })
        .collect();
    let blend = |row: usize, out: &mut Vec<f64>| {
        let pixels = &data[row * src_width..][..src_width];
        out.clear();
        out.extend(columns.iter().map(|&(n_x_s, lf_weight_x)| {
            (1.0 - lf_weight_x) * f64::from(pixels[n_x_s])
                + lf_weight_x * f64::from(pixels[n_x_s + 1])
        }));
    };
    let (mut top, mut bottom) = (Vec::new(), Vec::new());
    // The source row `top` holds, if any.
    let mut top_row = None;
    dest.resize(width as usize * height as usize, 0);
    for (y, out) in dest.chunks_exact_mut(width as usize).enumerate() {
        let lf_y_s = lf_y_scl * y as f64;
        let n_y_s = cmp::min(lf_y_s as u32, src.height() - 2) as usize;
        let lf_weight_y = lf_y_s - n_y_s as f64;
        match top_row {
            Some(r) if r == n_y_s => {}
            Some(r) if r + 1 == n_y_s => std::mem::swap(&mut top, &mut bottom),
            _ => blend(n_y_s, &mut top),
        }
        if top_row != Some(n_y_s) {
            blend(n_y_s + 1, &mut bottom);
            top_row = Some(n_y_s);
        }
        vertical(&top, &bottom, lf_weight_y, out);
    }
}

/// `out[x] = ((1 - wy) * top[x] + wy * bottom[x]) as u8`; with AVX2 where the CPU has it.
fn vertical(top: &[f64], bottom: &[f64], wy: f64, out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above); the function is otherwise safe.
        unsafe { vertical_avx2(top, bottom, wy, out) };
        return;
    }
    vertical_any(top, bottom, wy, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn vertical_avx2(top: &[f64], bottom: &[f64], wy: f64, out: &mut [u8]) {
    vertical_any(top, bottom, wy, out);
}

#[inline(always)]
fn vertical_any(top: &[f64], bottom: &[f64], wy: f64, out: &mut [u8]) {
    for ((o, &t), &b) in out.iter_mut().zip(top).zip(bottom) {
        *o = ((1.0 - wy) * t + wy * b) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The upstream form of `resize_image`: every pixel's source position and weights
    /// computed in the pixel loop.
    fn resize_first_form(src: &ImageData, width: u32, height: u32) -> Vec<u8> {
        let data = src.data();
        let lf_x_scl = f64::from(src.width()) / f64::from(width);
        let lf_y_scl = f64::from(src.height()) / f64::from(height);
        let mut dest = vec![0u8; (width * height) as usize];
        for y in 0..height {
            for x in 0..width {
                let lf_x_s = lf_x_scl * f64::from(x);
                let lf_y_s = lf_y_scl * f64::from(y);
                let n_x_s = cmp::min(lf_x_s as u32, src.width() - 2);
                let n_y_s = cmp::min(lf_y_s as u32, src.height() - 2);
                let lf_weight_x = lf_x_s - f64::from(n_x_s);
                let lf_weight_y = lf_y_s - f64::from(n_y_s);
                let at = |yy: u32, xx: u32| f64::from(data[(yy * src.width() + xx) as usize]);
                let d1 = at(n_y_s, n_x_s);
                let d2 = at(n_y_s, n_x_s + 1);
                let d3 = at(n_y_s + 1, n_x_s);
                let d4 = at(n_y_s + 1, n_x_s + 1);
                let dest_val = (1.0 - lf_weight_y)
                    * ((1.0 - lf_weight_x) * d1 + lf_weight_x * d2)
                    + lf_weight_y * ((1.0 - lf_weight_x) * d3 + lf_weight_x * d4);
                dest[(y * width + x) as usize] = dest_val as u8;
            }
        }
        dest
    }

    #[test]
    fn resizing_equals_its_first_form_byte_for_byte() {
        let sizes = [(640, 360), (97, 53), (40, 40), (23, 31)];
        let targets = [(512, 288), (40, 40), (61, 33), (20, 20), (120, 90), (97, 53)];
        for (i, &(w, h)) in sizes.iter().enumerate() {
            let data = crate::common::test_bytes((w * h) as usize, 3 + i as u32);
            let src = ImageData::new(&data, w, h);
            for &(tw, th) in &targets {
                let mut got = Vec::new();
                resize_image(&src, &mut got, tw, th);
                assert_eq!(got, resize_first_form(&src, tw, th), "{w}x{h} -> {tw}x{th}");
            }
        }
    }
}
