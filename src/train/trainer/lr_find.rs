//! The learning-rate range test behind `facs lr-find`.

use serde::Serialize;

use std::path::Path;

use super::{one_cycle, Session, TrainConfig, FEATURE_CACHE};
use crate::error::{Error, Result};
use crate::model::au_net::Backbone;
use crate::train::faces::Prepared;
use crate::util::progress::{report, Progress, ProgressFn};

/// A learning-rate range test: the loss, smoothed, at each rate of an exponential sweep.
#[derive(Clone, Debug, Serialize)]
pub struct LrFind {
    /// (learning rate, smoothed loss) per step, until the loss blew up.
    pub points: Vec<(f64, f64)>,
    /// The rate where the smoothed loss fell fastest (per log-rate step), or None when it
    /// never fell.
    pub suggested: Option<f64>,
}

/// The rate at the steepest fall of `loss` over `log(lr)`: central differences over a window
/// of a tenth of the sweep each side (at least one point), so that step-to-step noise does
/// not decide.
pub fn steepest_descent(points: &[(f64, f64)]) -> Option<f64> {
    let k = (points.len() / 10).max(1);
    (k..points.len().saturating_sub(k))
        .map(|i| {
            let (a, b) = (points[i - k], points[i + k]);
            let slope = (b.1 - a.1) / (b.0.ln() - a.0.ln());
            (slope, points[i].0)
        })
        .filter(|(slope, _)| *slope < 0.0)
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .map(|(_, lr)| lr)
}

/// Checks the bounds of a learning-rate sweep.
///
/// # Errors
/// [`Error::InvalidConfig`] unless 0 < `min_lr` < `max_lr` (both finite) and `steps` >= 3.
pub fn validate_lr_range(min_lr: f64, max_lr: f64, steps: usize) -> Result<()> {
    if !(min_lr > 0.0 && max_lr > min_lr && max_lr.is_finite() && steps >= 3) {
        return Err(Error::config(
            "lr-find range",
            format!("{min_lr}..{max_lr} over {steps}"),
            "0 < min < max, steps >= 3",
        ));
    }
    Ok(())
}

/// Which part of training a sweep is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The heads on the frozen backbone's features.
    Frozen,
    /// Every layer (from scratch: the only phase), the backbone at the heads' rate over
    /// `backbone_lr_div`.
    Unfrozen,
}

/// Sweeps the learning rate from `min_lr` to `max_lr` over `steps` batches, recording the
/// loss (exponentially smoothed, bias-corrected); stops when it exceeds four times its
/// minimum. [`Phase::Frozen`] sweeps the heads of a fresh network on the frozen backbone's
/// features (cached under `out_dir`); [`Phase::Unfrozen`] sweeps every layer, on a backbone
/// after the heads have trained for `cfg.frozen_epochs` as `facs train` trains them (so the
/// sweep starts where phase 2 starts), from scratch on a fresh network. The rates swept are
/// the heads'; the backbone's are those over `backbone_lr_div`.
///
/// # Errors
/// Bad bounds, empty data, phase 1 from scratch, missing backbone weights, a tensor failure.
#[allow(clippy::too_many_arguments)]
pub fn lr_find(
    cfg: &TrainConfig,
    train: &Prepared,
    min_lr: f64,
    max_lr: f64,
    steps: usize,
    phase: Phase,
    models_dir: &Path,
    out_dir: &Path,
    progress: Option<&ProgressFn>,
) -> Result<LrFind> {
    let result = sweep(
        cfg, train, min_lr, max_lr, steps, phase, models_dir, out_dir, progress,
    );
    report(progress, Progress::Done { task: "lr-find" });
    result
}

/// [`lr_find`]'s body; the caller clears the progress display whatever the outcome.
#[allow(clippy::too_many_arguments)]
fn sweep(
    cfg: &TrainConfig,
    train: &Prepared,
    min_lr: f64,
    max_lr: f64,
    steps: usize,
    phase: Phase,
    models_dir: &Path,
    out_dir: &Path,
    progress: Option<&ProgressFn>,
) -> Result<LrFind> {
    validate_lr_range(min_lr, max_lr, steps)?;
    cfg.validate()?;
    if train.is_empty() {
        return Err(Error::config("training set", 0, "at least one face"));
    }
    let scratch = cfg.net.backbone == Backbone::Scratch;
    if scratch && phase == Phase::Frozen {
        return Err(Error::config(
            "phase",
            1,
            "2 from scratch (there is no backbone to freeze)",
        ));
    }
    let mut session = Session::new(cfg, train, models_dir)?;
    let batch = cfg.batch.max(1);
    let pooled = if scratch {
        None
    } else {
        Some(session.pooled(train, Some(&out_dir.join(FEATURE_CACHE)), progress)?)
    };
    if let (Phase::Unfrozen, Some(f)) = (phase, &pooled) {
        let per_epoch = train.len().div_ceil(batch);
        let total = per_epoch * cfg.frozen_epochs;
        for epoch in 0..cfg.frozen_epochs {
            let order = session.sampler.epoch(train.len());
            for (b, idx) in order.chunks(batch).enumerate() {
                let lr = one_cycle(epoch * per_epoch + b, total, cfg.lr);
                session.step_frozen(train, f, idx, lr)?;
                report(
                    progress,
                    Progress::Step {
                        task: "heads",
                        done: (epoch * per_epoch + b + 1) as u64,
                        total: Some(total as u64),
                        detail: "training the heads before the phase-2 sweep".into(),
                    },
                );
            }
        }
        session.opt.reset()?;
    }
    let (mut avg, beta) = (0.0, 0.9);
    let mut best = f64::INFINITY;
    let mut points = Vec::new();
    for i in 0..steps {
        let lr = min_lr * (max_lr / min_lr).powf(i as f64 / (steps - 1) as f64);
        let idx = session.sampler.epoch(batch);
        let loss = match (phase, &pooled) {
            (Phase::Frozen, Some(f)) => session.step_frozen(train, f, &idx, lr)?,
            _ => session.step(train, &idx, lr)?,
        };
        avg = beta * avg + (1.0 - beta) * loss;
        let smoothed = avg / (1.0 - beta.powi(i as i32 + 1));
        report(
            progress,
            Progress::Step {
                task: "lr-find",
                done: i as u64 + 1,
                total: Some(steps as u64),
                detail: format!("lr {lr:.2e}  loss {smoothed:.3}"),
            },
        );
        if !smoothed.is_finite() || smoothed > 4.0 * best {
            break;
        }
        best = best.min(smoothed);
        points.push((lr, smoothed));
    }
    Ok(LrFind {
        suggested: steepest_descent(&points),
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_phases_sweep_on_a_backbone_and_phase_one_needs_one() {
        use crate::model::au_net::AuNetConfig;
        use crate::util::rng::SplitMix64;
        let mut rng = SplitMix64::new(5);
        let n = 12;
        let data = Prepared {
            side: 112,
            crops: (0..n * 112 * 112 * 3)
                .map(|_| rng.below(256) as u8)
                .collect(),
            labels: (0..n)
                .map(|_| std::array::from_fn(|_| Some(rng.chance(0.3))))
                .collect(),
            emotions: vec![None; n],
            paths: vec![Default::default(); n],
            skipped: Default::default(),
            synthetic: 0,
            landmarks: vec![None; n],
        };
        let cfg = TrainConfig {
            net: AuNetConfig::faceapi(Backbone::FaceapiExpression),
            frozen_epochs: 1,
            batch: 6,
            ..Default::default()
        };
        let models = crate::weights::default_models_dir();
        let out = tempfile::tempdir().unwrap();
        for phase in [Phase::Frozen, Phase::Unfrozen] {
            let steps = std::sync::Arc::new(std::sync::Mutex::new(0u64));
            let into = std::sync::Arc::clone(&steps);
            let sink = move |p: Progress| {
                if let Progress::Step {
                    task: "lr-find",
                    done,
                    ..
                } = p
                {
                    *into.lock().unwrap() = done;
                }
            };
            let r = lr_find(
                &cfg,
                &data,
                1e-4,
                1e-1,
                5,
                phase,
                &models,
                out.path(),
                Some(&sink),
            )
            .unwrap();
            // Each point swept was reported (the sweep may stop early on a diverging loss,
            // after reporting the step that diverged).
            let reported = *steps.lock().unwrap() as usize;
            assert!(reported >= r.points.len() && reported <= 5, "{reported}");
            // Noise labels: the loss may not fall, but the first rates are always kept (a
            // blow-up needs 4x the best loss).
            assert!(r.points.len() >= 2, "{phase:?}: {:?}", r.points);
            assert!((r.points[0].0 - 1e-4).abs() < 1e-12);
        }
        // The features were cached once, under the output folder.
        assert_eq!(
            std::fs::read_dir(out.path().join(FEATURE_CACHE))
                .unwrap()
                .count(),
            1
        );
        let scratch = TrainConfig {
            frozen_epochs: 0,
            net: AuNetConfig {
                input: 32,
                width: 4,
                ..AuNetConfig::small()
            },
            ..cfg
        };
        let e = lr_find(
            &scratch,
            &data,
            1e-4,
            1e-1,
            5,
            Phase::Frozen,
            &models,
            out.path(),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("invalid phase"), "{e}");
    }

    #[test]
    fn steepest_descent_is_found() {
        // Loss flat, then falling fastest between 1e-3 and 1e-2, then rising.
        let pts = [
            (1e-5, 2.0),
            (1e-4, 1.95),
            (1e-3, 1.7),
            (1e-2, 0.9),
            (1e-1, 0.8),
            (1.0, 3.0),
        ];
        // Central slopes: at 1e-4: -0.15, at 1e-3: -0.525, at 1e-2: -0.45, at 1e-1: +1.05 (per ln 10).
        assert_eq!(steepest_descent(&pts), Some(1e-3));
        assert_eq!(
            steepest_descent(&[(1e-3, 1.0), (1e-2, 1.1), (1e-1, 1.2)]),
            None
        );
        assert_eq!(steepest_descent(&[]), None);
    }
}
