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

#[inline]
pub fn copy_u8_to_i32(src: &[u8], dest: &mut [i32]) {
    let dest = &mut dest[0..src.len()]; // eliminates a branch from the loop
    for (value, dest) in src.iter().copied().zip(dest.iter_mut()) {
        *dest = i32::from(value);
    }
}

pub fn square(src: &[i32], dest: &mut [u32]) {
    for (value, dest) in src.iter().copied().zip(dest.iter_mut()) {
        *dest = i32::pow(value, 2) as u32;
    }
}

pub unsafe fn abs(src: *const i32, dest: *mut i32, length: usize) {
    for i in 0..length as isize {
        let value = *src.offset(i);
        *dest.offset(i) = if value >= 0 { value } else { -value };
    }
}

pub unsafe fn vector_add(left: *const i32, right: *const i32, dest: *mut i32, length: usize) {
    for i in 0..length as isize {
        *dest.offset(i) = *left.offset(i) + *right.offset(i);
    }
}

pub unsafe fn vector_sub(left: *const i32, right: *const i32, dest: *mut i32, length: usize) {
    for i in 0..length as isize {
        *dest.offset(i) = *left.offset(i) - *right.offset(i);
    }
}

pub fn vector_inner_product(left: &[f32], right: &[f32]) -> f32 {
    // Eight partial sums, so that the compiler keeps them in vector registers and the
    // additions do not wait on each other (one running sum was the MLP stage's bottleneck).
    const LANES: usize = 8;
    let n = left.len().min(right.len());
    let (left, right) = (&left[..n], &right[..n]);
    let mut acc = [0.0f32; LANES];
    let (lc, rc) = (left.chunks_exact(LANES), right.chunks_exact(LANES));
    let (lt, rt) = (lc.remainder(), rc.remainder());
    for (l, r) in lc.zip(rc) {
        for i in 0..LANES {
            acc[i] += l[i] * r[i];
        }
    }
    let mut tail = 0.0;
    for (l, r) in lt.iter().zip(rt) {
        tail += l * r;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn test_square() {
        let mut vec = vec![1, 2, 3];
        square(&[1, 2, 3], &mut vec);
        assert_eq!(vec![1, 4, 9], vec);
    }

    #[test]
    fn test_abs() {
        let mut vec = vec![-1, 2, -3];
        unsafe { abs(vec.as_ptr(), vec.as_mut_ptr(), vec.len()) };
        assert_eq!(vec![1, 2, 3], vec);
    }

    #[test]
    fn test_vector_add() {
        let mut vec = vec![1, 2, 3];
        unsafe { vector_add(vec.as_ptr(), vec.as_ptr(), vec.as_mut_ptr(), vec.len()) };
        assert_eq!(vec![2, 4, 6], vec);
    }

    #[test]
    fn test_vector_sub() {
        let mut vec = vec![1, 2, 3];
        unsafe { vector_sub(vec.as_ptr(), vec.as_ptr(), vec.as_mut_ptr(), vec.len()) };
        assert_eq!(vec![0, 0, 0], vec);
    }

    /// Deterministic pseudo-random values in [-1, 1).
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    #[test]
    fn inner_product_matches_one_running_sum() {
        // The upstream form: one running sum, left to right.
        let first_form =
            |l: &[f32], r: &[f32]| -> f32 { l.iter().zip(r).map(|(a, b)| a * b).sum() };
        for n in [0, 1, 7, 8, 9, 31, 64, 100, 1_000, 2_048] {
            let (l, r) = (values(n, 1 + n as u32), values(n, 7 + n as u32));
            let (got, want) = (vector_inner_product(&l, &r), first_form(&l, &r));
            let scale: f32 = l.iter().zip(&r).map(|(a, b)| (a * b).abs()).sum();
            assert!(
                (got - want).abs() <= 1e-5 * scale.max(1.0),
                "n {}: {} vs {}",
                n,
                got,
                want
            );
        }
        // Small integers sum exactly in any order.
        let l: Vec<f32> = (0..37).map(|i| (i % 5) as f32).collect();
        let r: Vec<f32> = (0..37).map(|i| (i % 3) as f32 - 1.0).collect();
        assert_eq!(vector_inner_product(&l, &r), first_form(&l, &r));
    }

    #[test]
    fn test_vector_inner_product() {
        let vec = vec![1.0, 2.0, 3.0];
        let result = vector_inner_product(&vec, &vec);
        assert_eq!(14.0, result);
    }
}
