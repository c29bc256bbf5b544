//! Temperature scaling: one number per network that makes its probabilities mean what they
//! say. Dividing a network's logits by a temperature `t` softens (`t > 1`) or sharpens
//! (`t < 1`) every output alike and leaves its top class unchanged; `t` is fitted by
//! minimising the negative log-likelihood of labelled faces ([`fit`]). An ensemble that
//! averages probabilities is where this matters: a head that is sure and wrong outvotes one
//! that is unsure and right. `examples/ensemble_calibration.rs` fits face-api's and facex's
//! temperatures on the bundled clips' labelled frames and measures them on a held-out clip;
//! there they made the ensemble worse, so `--emotion ensemble` averages the heads' own
//! probabilities (BENCHMARKS.md, "Calibrating the ensemble's heads").

use crate::error::{Error, Result};

/// Softmax of `logits / t`, stable for large logits.
pub fn softmax_t<const N: usize>(logits: &[f32; N], t: f32) -> [f32; N] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut out = logits.map(|v| ((v - max) / t).exp());
    let sum: f32 = out.iter().sum();
    out.iter_mut().for_each(|v| *v /= sum);
    out
}

/// Mean negative log-likelihood (natural log) of `labels` under `softmax(logits / t)`,
/// computed in f64 from the log-sum-exp so that a confident miss costs its full amount
/// instead of an overflowed infinity.
pub fn nll<const N: usize>(logits: &[[f32; N]], labels: &[usize], t: f32) -> f64 {
    let t = f64::from(t);
    let total: f64 = logits
        .iter()
        .zip(labels)
        .map(|(z, &y)| {
            let scaled: Vec<f64> = z.iter().map(|&v| f64::from(v) / t).collect();
            let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + scaled.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            lse - scaled[y]
        })
        .sum();
    total / logits.len().max(1) as f64
}

/// Expected calibration error of the top class: faces binned by the top probability into
/// `bins` equal-width bins, then the mean over faces of |accuracy - confidence| of their bin.
pub fn ece<const N: usize>(probs: &[[f32; N]], labels: &[usize], bins: usize) -> f64 {
    let bins = bins.max(1);
    let mut acc = vec![(0usize, 0usize, 0f64); bins]; // (faces, right, sum of confidence)
    for (p, &y) in probs.iter().zip(labels) {
        let (top, conf) =
            p.iter().enumerate().fold(
                (0, f32::NEG_INFINITY),
                |b, (i, &v)| if v > b.1 { (i, v) } else { b },
            );
        let k = ((conf * bins as f32) as usize).min(bins - 1);
        acc[k].0 += 1;
        acc[k].1 += usize::from(top == y);
        acc[k].2 += f64::from(conf);
    }
    let n: usize = acc.iter().map(|b| b.0).sum();
    acc.iter()
        .filter(|b| b.0 > 0)
        .map(|&(_, right, conf)| (right as f64 - conf).abs())
        .sum::<f64>()
        / n.max(1) as f64
}

/// Smallest and largest temperature [`fit`] considers.
pub const RANGE: (f32, f32) = (0.05, 50.0);

/// The temperature in [`RANGE`] that minimises [`nll`] on labelled logits. The likelihood is
/// searched on a grid of log t, then refined by golden-section search around the best
/// point (the mean NLL is smooth in log t and has a single minimum in practice).
///
/// # Errors
/// [`Error::InvalidConfig`] for no faces, logits and labels of different lengths, a label
/// that is not a class, or a logit that is not finite.
pub fn fit<const N: usize>(logits: &[[f32; N]], labels: &[usize]) -> Result<f32> {
    fit_in(logits, labels, RANGE)
}

/// [`fit`] within `range` (low, high), both positive: e.g. `(1.0, RANGE.1)` only ever
/// softens a network's probabilities, never sharpens them.
///
/// # Errors
/// As [`fit`]; also a range that is empty or not positive.
pub fn fit_in<const N: usize>(
    logits: &[[f32; N]],
    labels: &[usize],
    range: (f32, f32),
) -> Result<f32> {
    if !(range.0 > 0.0 && range.0 < range.1 && range.1.is_finite()) {
        return Err(Error::config(
            "temperature range",
            format!("{range:?}"),
            "0 < low < high",
        ));
    }
    if logits.is_empty() || logits.len() != labels.len() {
        return Err(Error::config(
            "temperature fit",
            format!("{} logit rows, {} labels", logits.len(), labels.len()),
            "as many labels as logit rows, at least one",
        ));
    }
    if let Some(y) = labels.iter().find(|&&y| y >= N) {
        return Err(Error::config("temperature fit label", y, "a class index"));
    }
    if logits.iter().flatten().any(|v| !v.is_finite()) {
        return Err(Error::config(
            "temperature fit",
            "a logit that is not finite",
            "finite logits",
        ));
    }
    let (lo, hi) = (range.0.ln(), range.1.ln());
    let f = |u: f32| nll(logits, labels, u.exp());
    const STEPS: usize = 40;
    let step = (hi - lo) / STEPS as f32;
    let best = (0..=STEPS)
        .map(|i| lo + step * i as f32)
        .min_by(|a, b| f(*a).total_cmp(&f(*b)))
        .unwrap_or(0.0);
    let (mut a, mut b) = ((best - step).max(lo), (best + step).min(hi));
    let g = (5f32.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let c = b - g * (b - a);
        let d = a + g * (b - a);
        if f(c) <= f(d) {
            b = d;
        } else {
            a = c;
        }
    }
    Ok(((a + b) / 2.0).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::SplitMix64;

    /// Faces whose labels are drawn from softmax(z / t_true): the fit must find t_true.
    fn drawn(t_true: f32, n: usize, seed: u64) -> (Vec<[f32; 7]>, Vec<usize>) {
        let mut rng = SplitMix64::new(seed);
        let mut logits = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let z: [f32; 7] = std::array::from_fn(|_| rng.range(-4.0, 4.0));
            let p = softmax_t(&z, t_true);
            let u = rng.unit();
            let mut cum = 0.0;
            let y = p
                .iter()
                .position(|&v| {
                    cum += v;
                    u < cum
                })
                .unwrap_or(6);
            logits.push(z);
            labels.push(y);
        }
        (logits, labels)
    }

    #[test]
    fn fit_recovers_the_temperature_labels_were_drawn_with() {
        for (t_true, seed) in [(0.5f32, 1), (1.0, 2), (3.0, 3)] {
            let (z, y) = drawn(t_true, 20_000, seed);
            let t = fit(&z, &y).unwrap();
            // 20,000 draws: the fitted value moved by up to 4% across seeds in trials; 10%
            // allows for that and fails a search that stops at the grid's spacing (21%).
            assert!((t / t_true - 1.0).abs() < 0.10, "{t} vs {t_true}");
            // And it is the minimum: its neighbours fit worse.
            assert!(nll(&z, &y, t) <= nll(&z, &y, t * 1.1));
            assert!(nll(&z, &y, t) <= nll(&z, &y, t / 1.1));
        }
    }

    #[test]
    fn sure_and_wrong_is_softened_and_the_top_class_kept() {
        // Right with logit margin 10 on 8 faces, wrong with margin 10 on 2: t = 1 puts
        // 0.9999 on every answer; the fit softens until confidence matches 80% right.
        let mut z = Vec::new();
        let mut y = Vec::new();
        for i in 0..10 {
            let mut row = [0f32; 7];
            row[0] = 10.0;
            z.push(row);
            y.push(if i < 8 { 0 } else { 1 });
        }
        let t = fit(&z, &y).unwrap();
        assert!(t > 2.0, "{t}");
        let p = softmax_t(&z[0], t);
        let top = (0..7).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert_eq!(top, 0);
        assert!((p[0] - 0.8).abs() < 0.02, "{p:?}");
        assert!(nll(&z, &y, t) < nll(&z, &y, 1.0));
        // Calibrated confidence matches the accuracy: the error falls to near zero.
        let before: Vec<[f32; 7]> = z.iter().map(|r| softmax_t(r, 1.0)).collect();
        let after: Vec<[f32; 7]> = z.iter().map(|r| softmax_t(r, t)).collect();
        assert!(ece(&before, &y, 10) > 0.19);
        assert!(ece(&after, &y, 10) < 0.02);
    }

    #[test]
    fn softmax_t_at_one_is_the_softmax_and_large_logits_stay_finite() {
        let z = [1000.0f32, 0.0, -1000.0, 999.0, 0.0, 0.0, 0.0];
        let p = softmax_t(&z, 1.0);
        assert!((p[0] - 0.731_058_6).abs() < 1e-6);
        assert!(p.iter().all(|v| v.is_finite()));
        assert!(nll(&[z], &[2], 1.0).is_finite());
        assert!((nll(&[z], &[2], 1.0) - 2000.313).abs() < 1e-2);
    }

    #[test]
    fn bad_input_is_refused_by_name() {
        assert!(fit::<7>(&[], &[]).is_err());
        assert!(fit(&[[0f32; 7]], &[7]).is_err());
        assert!(fit(&[[0f32; 7]], &[0, 1]).is_err());
        let e = fit(&[[f32::NAN; 7]], &[0]).unwrap_err().to_string();
        assert!(e.contains("not finite"), "{e}");
    }
}
