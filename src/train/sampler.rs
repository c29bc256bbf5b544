//! Balanced sampling for multi-label data, with weights per class rather than per sample:
//! every sample belongs to the classes of its present AUs (or to "no AU" when none is
//! present), each class gets the same total weight, and a sample's weight is the largest
//! share among its classes, so one image with a rare AU is drawn as often as that AU needs.
//! The sampler reports the per-class frequencies it will produce, so they can be checked.

use serde::Serialize;

use crate::frame::NUM_AUS;
use crate::util::rng::SplitMix64;

/// Index of the "no AU present" class after the 11 AUs.
pub const NO_AU: usize = NUM_AUS;

/// Classes of a sample: its present AUs, or [`NO_AU`].
fn classes(labels: &[Option<bool>; NUM_AUS]) -> Vec<usize> {
    let present: Vec<usize> = (0..NUM_AUS).filter(|&k| labels[k] == Some(true)).collect();
    if present.is_empty() {
        vec![NO_AU]
    } else {
        present
    }
}

/// Per-class sample counts (11 AUs + no-AU).
pub fn class_counts(labels: &[[Option<bool>; NUM_AUS]]) -> [usize; NUM_AUS + 1] {
    let mut n = [0usize; NUM_AUS + 1];
    for l in labels {
        for c in classes(l) {
            n[c] += 1;
        }
    }
    n
}

/// Sample weights: `max over the sample's classes of 1 / count(class)`.
pub fn sample_weights(labels: &[[Option<bool>; NUM_AUS]]) -> Vec<f64> {
    let n = class_counts(labels);
    labels
        .iter()
        .map(|l| {
            classes(l)
                .into_iter()
                .map(|c| 1.0 / n[c].max(1) as f64)
                .fold(0.0, f64::max)
        })
        .collect()
}

/// The fraction of draws that will contain each class (11 AUs + no-AU) under `weights`.
pub fn expected_frequencies(
    labels: &[[Option<bool>; NUM_AUS]],
    weights: &[f64],
) -> [f64; NUM_AUS + 1] {
    let total: f64 = weights.iter().sum();
    let mut f = [0f64; NUM_AUS + 1];
    for (l, w) in labels.iter().zip(weights) {
        for c in classes(l) {
            f[c] += w / total.max(f64::MIN_POSITIVE);
        }
    }
    f
}

/// Draws sample indices with replacement in proportion to their weights.
#[derive(Debug)]
pub struct WeightedSampler {
    cumulative: Vec<f64>,
    rng: SplitMix64,
}

/// What a sampler will do, for the training log.
#[derive(Clone, Debug, Serialize)]
pub struct SamplerReport {
    pub class_counts: Vec<usize>,
    /// Fraction of samples with each class in the data.
    pub data_frequency: Vec<f64>,
    /// Fraction of draws with each class.
    pub sampled_frequency: Vec<f64>,
}

impl WeightedSampler {
    /// A sampler over `weights` (all must be finite and >= 0, not all 0).
    pub fn new(weights: &[f64], seed: u64) -> Option<Self> {
        let mut acc = 0.0;
        let mut cumulative = Vec::with_capacity(weights.len());
        for &w in weights {
            if !(w.is_finite() && w >= 0.0) {
                return None;
            }
            acc += w;
            cumulative.push(acc);
        }
        (acc > 0.0).then(|| WeightedSampler {
            cumulative,
            rng: SplitMix64::new(seed),
        })
    }

    /// Balanced sampling for these labels.
    pub fn balanced(
        labels: &[[Option<bool>; NUM_AUS]],
        seed: u64,
    ) -> Option<(Self, SamplerReport)> {
        let w = sample_weights(labels);
        let counts = class_counts(labels);
        let report = SamplerReport {
            class_counts: counts.to_vec(),
            data_frequency: counts
                .iter()
                .map(|&c| c as f64 / labels.len().max(1) as f64)
                .collect(),
            sampled_frequency: expected_frequencies(labels, &w).to_vec(),
        };
        Some((Self::new(&w, seed)?, report))
    }

    /// One index.
    pub fn draw(&mut self) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }

    /// The random stream's state, for a checkpoint.
    pub fn rng_state(&self) -> u64 {
        self.rng.state()
    }

    /// Continues the random stream from a checkpoint's state.
    pub fn set_rng_state(&mut self, state: u64) {
        self.rng = SplitMix64::new(state);
    }

    /// `n` indices.
    pub fn epoch(&mut self, n: usize) -> Vec<usize> {
        (0..n).map(|_| self.draw()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels with EmotioNet's AU frequencies (per 25,000), drawn independently.
    fn emotionet_like(n: usize, seed: u64) -> Vec<[Option<bool>; NUM_AUS]> {
        let per_25k = [
            1562.0, 753.0, 3292.0, 951.0, 4933.0, 570.0, 7869.0, 521.0, 150.0, 12358.0, 2209.0,
        ];
        let mut rng = SplitMix64::new(seed);
        (0..n)
            .map(|_| {
                let mut l = [Some(false); NUM_AUS];
                for (k, f) in per_25k.iter().enumerate() {
                    l[k] = Some(rng.unit() < (f / 25_000.0) as f32);
                }
                // A few unknowns, which must not count as absent or present.
                if rng.unit() < 0.05 {
                    l[3] = None;
                }
                l
            })
            .collect()
    }

    #[test]
    fn weights_by_hand() {
        let y = Some(true);
        let n = Some(false);
        let mut a = [n; NUM_AUS];
        a[0] = y; // AU1
        let mut b = [n; NUM_AUS];
        b[0] = y;
        b[8] = y; // AU1 + AU20
        let none = [n; NUM_AUS];
        // AU1 in 2 samples, AU20 in 1, no-AU in 2 (the two `none`).
        let labels = [a, b, none, none];
        let w = sample_weights(&labels);
        assert_eq!(w, vec![0.5, 1.0, 0.5, 0.5]);
        let f = expected_frequencies(&labels, &w);
        // Total weight 2.5: AU1 drawn with (0.5 + 1) / 2.5, AU20 1 / 2.5, no-AU 1 / 2.5.
        assert!(
            (f[0] - 0.6).abs() < 1e-12
                && (f[8] - 0.4).abs() < 1e-12
                && (f[NO_AU] - 0.4).abs() < 1e-12
        );
    }

    #[test]
    fn sampled_frequencies_match_the_targets() {
        let labels = emotionet_like(5000, 1);
        let (mut s, report) = WeightedSampler::balanced(&labels, 7).unwrap();
        let draws = 200_000;
        let mut seen = [0usize; NUM_AUS + 1];
        for _ in 0..draws {
            for c in classes(&labels[s.draw()]) {
                seen[c] += 1;
            }
        }
        for c in 0..=NUM_AUS {
            let got = seen[c] as f64 / draws as f64;
            // Binomial sd at 200k draws is at most 0.0011: 0.006 is > 5 sd.
            assert!(
                (got - report.sampled_frequency[c]).abs() < 0.006,
                "class {c}: {got} vs {}",
                report.sampled_frequency[c]
            );
        }
        // The rarest AU (AU20, 0.6% of the data) is drawn in about a tenth of the samples, as
        // is every other class at least; the common ones are not drawn more often than in the
        // data (AU25, in half the images, rides along with rare AUs but is not boosted).
        assert!(report.data_frequency[8] < 0.01);
        assert!(
            report.sampled_frequency.iter().all(|&f| f > 0.09),
            "{:?}",
            report.sampled_frequency
        );
        for c in [6, 9] {
            assert!(
                report.sampled_frequency[c] <= report.data_frequency[c],
                "{c}: {:?}",
                report
            );
        }
    }

    #[test]
    fn same_seed_same_draws_and_bad_weights_refused() {
        let w = [1.0, 2.0, 3.0];
        let a = WeightedSampler::new(&w, 3).unwrap().epoch(100);
        let b = WeightedSampler::new(&w, 3).unwrap().epoch(100);
        assert_eq!(a, b);
        assert!(a.iter().all(|&i| i < 3));
        assert!(WeightedSampler::new(&[0.0, 0.0], 1).is_none());
        assert!(WeightedSampler::new(&[1.0, f64::NAN], 1).is_none());
    }
}
