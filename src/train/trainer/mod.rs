//! Training the AU + emotion network: class-balanced sampling, per-AU positive weights,
//! stable masked losses (focal optional), light augmentation, AdamW with a one-cycle
//! learning rate, validation macro-F1 each epoch with early stopping, and the best weights
//! saved as safetensors with a JSON config beside them. On a pretrained backbone, two
//! phases as fast.ai's `fine_tune`: the backbone frozen (the heads learn on its pooled
//! features, computed once per face), then everything with the backbone at a lower rate.
//! The batches' inputs and targets are in [`batch`], checkpoints in [`checkpoint`], the
//! backbone's weights and feature cache in [`backbone`], the learning-rate range test in
//! [`lr_find`].

mod backbone;
mod batch;
mod checkpoint;
mod lr_find;

pub use batch::{happy_label, pos_weights};
pub use lr_find::{lr_find, steepest_descent, validate_lr_range, LrFind, Phase};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::Var;
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::faces::Prepared;
use super::loss::{masked_bce, masked_cross_entropy, BceOptions};
use super::metrics::{evaluate, select_thresholds, EvalReport, EvalSample, ThresholdRule};
use super::optim::{AdamW, AdamWParams};
use super::sampler::{sample_weights, WeightedSampler};
use crate::align::ALIGN_ZOOM;
use crate::calibrate::thresholds::{Thresholds, DEFAULT_THRESHOLDS};
use crate::error::{Error, Result};
use crate::frame::{au_names, EMOTIONS, NUM_AUS};
use crate::model::au_net::{to_tensor, AuNet, Backbone, Outputs};
pub use crate::model::au_net_file::{
    load, load_with_sha256, validate_target_precision, EpochLog, ModelInfo, TrainConfig,
};
use crate::model::au_net_file::{FORMAT, INFO, WEIGHTS};
use crate::util::json::write_serialized;
use crate::util::progress::{report, Progress, ProgressFn};
use crate::util::rng::SplitMix64;
use backbone::{load_pretrained, pooled_features, Pooled};
use batch::{augment, targets, Targets};
use checkpoint::{Checkpoint, CHECKPOINT_FORMAT};

/// One-cycle learning rate at `step` of `total`: linear warm-up over the first 30% to
/// `peak`, then cosine down to `peak / 100`.
pub fn one_cycle(step: usize, total: usize, peak: f64) -> f64 {
    let total = total.max(1) as f64;
    let t = step as f64 / total;
    let warm = 0.3;
    if t < warm {
        peak * (0.04 + 0.96 * t / warm)
    } else {
        let p = (t - warm) / (1.0 - warm);
        peak / 100.0 + (peak - peak / 100.0) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
    }
}

/// The variables of a VarMap by name.
fn variables(vm: &VarMap) -> Result<std::collections::HashMap<String, Var>> {
    Ok(vm
        .data()
        .lock()
        .map_err(|_| Error::Stage("train", "variable map poisoned".into()))?
        .clone())
}

/// Re-initialises every variable from `seed` (candle's CPU initialiser cannot be seeded):
/// convolution and linear weights Kaiming-normal (sd = sqrt(2 / fan_in)), biases and
/// running means zero, batch-norm scales and running variances one, in name order.
fn seeded_init(vm: &VarMap, seed: u64) -> Result<()> {
    let vars = vm
        .data()
        .lock()
        .map_err(|_| Error::Stage("train", "variable map poisoned".into()))?
        .clone();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let mut rng = SplitMix64::new(seed);
    for name in names {
        let var = &vars[name];
        let dims = var.dims().to_vec();
        let n: usize = dims.iter().product();
        let values: Vec<f32> = if name.ends_with("bias") || name.ends_with("running_mean") {
            vec![0.0; n]
        } else if name.ends_with("running_var") || name.ends_with("bn.weight") {
            vec![1.0; n]
        } else {
            let fan_in: usize = dims.iter().skip(1).product::<usize>().max(1);
            let sd = (2.0 / fan_in as f32).sqrt();
            (0..n)
                .map(|_| {
                    // Box-Muller.
                    let (u1, u2) = (rng.unit().max(1e-7), rng.unit());
                    sd * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
                })
                .collect()
        };
        var.set(&Tensor::from_vec(values, dims, &Device::Cpu)?)?;
    }
    Ok(())
}
/// AU and emotion probabilities for every sample of `data`.
///
/// # Errors
/// A tensor operation failed.
pub fn predict(net: &AuNet, data: &Prepared, batch: usize) -> Result<Vec<EvalSample>> {
    predict_with(net, data, None, batch)
}

/// [`predict`], from the heads on cached pooled features when given.
fn predict_with(
    net: &AuNet,
    data: &Prepared,
    pooled: Option<&Pooled>,
    batch: usize,
) -> Result<Vec<EvalSample>> {
    predict_each(net, data, pooled, batch, |_, _| Ok(()))
}

/// [`predict_with`], also handing each batch's sample indices and the network's outputs
/// on them to `on_batch` (the validation loss, from the same forward pass).
fn predict_each(
    net: &AuNet,
    data: &Prepared,
    pooled: Option<&Pooled>,
    batch: usize,
    mut on_batch: impl FnMut(&[usize], &Outputs) -> Result<()>,
) -> Result<Vec<EvalSample>> {
    let dev = Device::Cpu;
    let side = data.side as usize;
    let mut out = Vec::with_capacity(data.len());
    for start in (0..data.len()).step_by(batch.max(1)) {
        let idx: Vec<usize> = (start..(start + batch).min(data.len())).collect();
        let o = match pooled {
            Some(p) => net.heads(&p.rows(&idx)?)?,
            None => {
                let mut crops = Vec::with_capacity(idx.len() * side * side * 3);
                for &i in &idx {
                    crops.extend_from_slice(data.crop(i));
                }
                net.forward(&to_tensor(&crops, idx.len(), side, &dev)?)?
            }
        };
        on_batch(&idx, &o)?;
        let au = candle_nn::ops::sigmoid(&o.au)?.to_vec2::<f32>()?;
        let emo = candle_nn::ops::softmax_last_dim(&o.emotion)?.to_vec2::<f32>()?;
        for (r, &i) in idx.iter().enumerate() {
            let mut au_probs = [0f32; NUM_AUS];
            au_probs.copy_from_slice(&au[r][..NUM_AUS]);
            let mut emotion_probs = [0f32; 7];
            emotion_probs.copy_from_slice(&emo[r][..7]);
            out.push(EvalSample {
                au_labels: data.labels[i],
                au_probs,
                emotion_label: data.emotions[i],
                emotion_probs,
            });
        }
    }
    Ok(out)
}
/// A network being trained: weights, optimiser, balanced sampler, loss settings.
struct Session {
    vm: VarMap,
    net: AuNet,
    opt: AdamW,
    sampler: WeightedSampler,
    bce: BceOptions,
    rng: SplitMix64,
    augment: bool,
    /// The sha256 of the bundled weights the backbone started from (None from scratch).
    backbone_sha256: Option<String>,
}

impl Session {
    fn new(cfg: &TrainConfig, train: &Prepared, models_dir: &Path) -> Result<Self> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let net = AuNet::new(
            VarBuilder::from_varmap(&vm, DType::F32, &dev),
            cfg.net.clone(),
        )?;
        seeded_init(&vm, cfg.seed)?;
        let backbone_sha256 = load_pretrained(&vm, cfg.net.backbone, models_dir)?;
        let params = AdamWParams {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        };
        let mut opt = AdamW::new(&variables(&vm)?, params)?;
        // Discriminative rates: the pretrained layers move `backbone_lr_div` times slower.
        let prefix = format!("{}.", Backbone::PREFIX);
        let div = cfg.backbone_lr_div;
        opt.set_lr_scales(|name| {
            if name.starts_with(&prefix) {
                1.0 / div
            } else {
                1.0
            }
        });
        let weights = sample_weights(&train.labels);
        let (sampler, _) = WeightedSampler::balanced(&train.labels, cfg.seed).ok_or_else(|| {
            Error::config(
                "training labels",
                "all weights zero",
                "some labelled samples",
            )
        })?;
        let bce = BceOptions {
            pos_weight: Some(Tensor::new(&pos_weights(&train.labels, &weights), &dev)?),
            focal_gamma: cfg.focal_gamma,
        };
        Ok(Session {
            vm,
            net,
            opt,
            sampler,
            bce,
            rng: SplitMix64::new(cfg.seed ^ 0x5eed),
            augment: cfg.augment,
            backbone_sha256,
        })
    }

    /// The masked loss of the three heads.
    fn loss(&self, o: &Outputs, t: &Targets) -> Result<Tensor> {
        Ok((masked_bce(&o.au, &t.au, &t.au_mask, &self.bce)?
            + masked_cross_entropy(&o.emotion, &t.emotion, &t.emotion_mask)?
            + masked_bce(
                &o.happy.unsqueeze(1)?,
                &t.happy,
                &t.happy_mask,
                &BceOptions::default(),
            )?)?)
    }

    /// One optimiser step on the samples `idx` at learning rate `lr`, every layer learning;
    /// returns the loss.
    fn step(&mut self, data: &Prepared, idx: &[usize], lr: f64) -> Result<f64> {
        let dev = Device::Cpu;
        let side = data.side as usize;
        self.opt.params.lr = lr;
        let mut crops = Vec::with_capacity(idx.len() * side * side * 3);
        for &i in idx {
            let start = crops.len();
            crops.extend_from_slice(data.crop(i));
            if self.augment {
                augment(&mut crops[start..], side, &mut self.rng);
            }
        }
        let x = to_tensor(&crops, idx.len(), side, &dev)?;
        let t = targets(data, idx, &dev)?;
        let o = self.net.forward_t(&x, true)?;
        let loss = self.loss(&o, &t)?;
        self.opt.backward_step(&loss)?;
        Ok(loss.to_scalar::<f32>()? as f64)
    }

    /// One optimiser step of the heads alone on the frozen backbone's cached features of
    /// the samples `idx` (no augmentation: the features were computed once per face).
    fn step_frozen(
        &mut self,
        data: &Prepared,
        pooled: &Pooled,
        idx: &[usize],
        lr: f64,
    ) -> Result<f64> {
        self.opt.params.lr = lr;
        let t = targets(data, idx, &Device::Cpu)?;
        let o = self.net.heads(&pooled.rows(idx)?)?;
        let loss = self.loss(&o, &t)?;
        self.opt.backward_step(&loss)?;
        Ok(loss.to_scalar::<f32>()? as f64)
    }

    /// The frozen backbone's pooled features of `data` (cached under `cache_dir`).
    fn pooled(
        &self,
        data: &Prepared,
        cache_dir: Option<&Path>,
        progress: Option<&ProgressFn>,
    ) -> Result<Pooled> {
        let sha = self.backbone_sha256.as_deref().unwrap_or("");
        pooled_features(&self.vm, &self.net, data, sha, cache_dir, progress)
    }
}

/// The peak learning rate of the heads in the phase after the frozen one: half the first
/// phase's, as fast.ai's `fine_tune` does (the backbone's is this over `backbone_lr_div`).
pub fn fine_tune_lr(cfg: &TrainConfig) -> f64 {
    if cfg.net.backbone == Backbone::Scratch {
        cfg.lr
    } else {
        cfg.lr / 2.0
    }
}

/// The folder of the backbone feature cache in a run's output folder.
pub const FEATURE_CACHE: &str = "features";

/// How a training run is driven (beyond what it trains).
#[derive(Default)]
pub struct RunControl<'a> {
    /// Where to report each batch and epoch.
    pub progress: Option<&'a ProgressFn>,
    /// Continue from the checkpoint in the output folder.
    pub resume: bool,
    /// When set (e.g. by Ctrl-C), stop at the next batch; the last epoch's checkpoint stays.
    pub stop: Option<&'a AtomicBool>,
    /// Run at most this many epochs in this call, then stop as if interrupted.
    pub max_epochs: Option<usize>,
    /// Folder with the backbone's bundled weights (default: the models folder).
    pub models: Option<PathBuf>,
}

impl RunControl<'_> {
    fn models_dir(&self) -> PathBuf {
        self.models
            .clone()
            .unwrap_or_else(crate::weights::default_models_dir)
    }
}

/// What a call to [`train`] did.
#[derive(Debug)]
pub struct TrainOutcome {
    pub info: ModelInfo,
    /// Stopped before the schedule ended (resume with [`RunControl::resume`]).
    pub interrupted: bool,
}
/// Trains on `train`, validates on `val` after each epoch, keeps the best weights in
/// `out_dir` (model.safetensors + model.json), checkpoints every epoch, and returns the
/// info written. On a backbone, epochs `1..=frozen_epochs` train the heads on the frozen
/// backbone's features (one-cycle at `lr`), the next `epochs` train everything (one-cycle
/// at [`fine_tune_lr`], the backbone at that over `backbone_lr_div`); early stopping
/// (`patience`) applies to the last phase only.
///
/// # Errors
/// Empty data, a tensor failure, a checkpoint that does not fit, missing backbone weights,
/// or the output folder cannot be written.
pub fn train(
    cfg: &TrainConfig,
    train: &Prepared,
    val: &Prepared,
    out_dir: &Path,
    run: &RunControl,
) -> Result<TrainOutcome> {
    cfg.validate()?;
    if train.is_empty() {
        return Err(Error::config("training set", 0, "at least one face"));
    }
    if train.side != cfg.net.input {
        return Err(Error::config(
            "crop size",
            train.side,
            "the network's input size",
        ));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut session = Session::new(cfg, train, &run.models_dir())?;
    let mut state = Checkpoint {
        format: CHECKPOINT_FORMAT.into(),
        config: cfg.clone(),
        train_faces: train.len(),
        epoch: 0,
        optimizer_steps: 0,
        sampler_rng: 0,
        augment_rng: 0,
        history: Vec::new(),
        best: f64::NEG_INFINITY,
        best_epoch: 0,
        since_best: 0,
    };
    let frozen_epochs = cfg.frozen_epochs;
    let all_epochs = frozen_epochs + cfg.epochs;
    if run.resume {
        state = session.resume(cfg, train, out_dir)?;
        report(
            run.progress,
            Progress::Note(format!(
                "resuming after epoch {} of {all_epochs}",
                state.epoch
            )),
        );
    }
    let backbone_sha256 = session.backbone_sha256.clone();
    let info = |state: &Checkpoint| {
        let input = match cfg.net.backbone {
            Backbone::Scratch => format!(
                "{0}x{0} RGB face crop aligned on the eyes and nose tip of the 5-point template at zoom {ALIGN_ZOOM}, pixels (p/255 - 0.5)/0.25",
                cfg.net.input
            ),
            Backbone::FacexMobilenetv2 => format!(
                "{0}x{0} RGB face crop aligned on the eyes and nose tip of the 5-point template at zoom {ALIGN_ZOOM}, pixels (p/255 - 0.5)/0.25 (mapped inside to the facex-mobilenetv2 backbone's grey input, BT.601 luma / 255)",
                cfg.net.input
            ),
            b => format!(
                "{0}x{0} RGB face crop aligned on the eyes and nose tip of the 5-point template at zoom {ALIGN_ZOOM}, pixels (p/255 - 0.5)/0.25 (mapped inside to the {b} backbone's (p - mean)/255)",
                cfg.net.input
            ),
        };
        ModelInfo {
            format: FORMAT.into(),
            facs_version: env!("CARGO_PKG_VERSION").into(),
            config: cfg.clone(),
            au_labels: au_names(),
            emotion_labels: EMOTIONS.iter().map(|e| e.to_string()).collect(),
            input,
            best_epoch: state.best_epoch,
            history: state.history.clone(),
            synthetic_training_data: train.synthetic > 0 && train.synthetic == train.len(),
            backbone_sha256: backbone_sha256.clone(),
        }
    };
    let steps_per_epoch = train.len().div_ceil(cfg.batch.max(1));
    let total_steps = steps_per_epoch * all_epochs;
    let first = state.epoch + 1;
    // Phase 1 needs the frozen backbone's features of every face (validation included).
    let mut frozen_features = None;
    if first <= frozen_epochs {
        let t0 = Instant::now();
        let cache = out_dir.join(FEATURE_CACHE);
        let f_train = session.pooled(train, Some(&cache), run.progress)?;
        let f_val = session.pooled(val, Some(&cache), run.progress)?;
        report(
            run.progress,
            Progress::Note(format!(
                "backbone features of {} faces ready in {:.1} s",
                train.len() + val.len(),
                t0.elapsed().as_secs_f64()
            )),
        );
        frozen_features = Some((f_train, f_val));
    }
    let stopped = |epochs_run: usize| {
        run.stop.is_some_and(|s| s.load(Ordering::SeqCst))
            || run.max_epochs.is_some_and(|m| epochs_run >= m)
    };
    let mut interrupted = false;
    let early_stopped = state.since_best >= cfg.patience && state.epoch > frozen_epochs;
    for epoch in first..=all_epochs {
        if early_stopped || stopped(epoch - first) {
            interrupted = !early_stopped;
            break;
        }
        let frozen = epoch <= frozen_epochs;
        if epoch == frozen_epochs + 1 && frozen_epochs > 0 {
            // Phase 2 starts: a fresh optimiser (and patience) for the unfrozen network.
            session.opt.reset()?;
            state.since_best = 0;
        }
        let (phase_epoch, phase_epochs, peak) = if frozen {
            (epoch - 1, frozen_epochs, cfg.lr)
        } else {
            (epoch - frozen_epochs - 1, cfg.epochs, fine_tune_lr(cfg))
        };
        let t0 = Instant::now();
        let order = session.sampler.epoch(train.len());
        let mut loss_sum = 0.0;
        for (b, idx) in order.chunks(cfg.batch.max(1)).enumerate() {
            if run.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                interrupted = true;
                break;
            }
            let phase_step = phase_epoch * steps_per_epoch + b;
            let lr = one_cycle(phase_step, phase_epochs * steps_per_epoch, peak);
            let loss = match (&frozen_features, frozen) {
                (Some((f, _)), true) => session.step_frozen(train, f, idx, lr)?,
                _ => session.step(train, idx, lr)?,
            };
            loss_sum += loss;
            let step = (epoch - 1) * steps_per_epoch + b;
            report(
                run.progress,
                Progress::Step {
                    task: "training",
                    done: (step + 1) as u64,
                    total: Some(total_steps as u64),
                    detail: format!(
                        "epoch {epoch}/{all_epochs}{} loss {:.4}",
                        if frozen { " (backbone frozen)" } else { "" },
                        loss_sum / (b + 1) as f64
                    ),
                },
            );
        }
        if interrupted {
            break;
        }
        let (val_f1, val_loss) = if val.is_empty() {
            (None, None)
        } else {
            let pooled = match (&frozen_features, frozen) {
                (Some((_, f)), true) => Some(f),
                _ => None,
            };
            // The training loss on each validation batch, weighted by its size (each batch's
            // loss is a mean over its labelled entries), from the forward pass that also
            // gives the F1: no second pass over the validation faces.
            let mut val_sum = 0.0;
            let samples = predict_each(&session.net, val, pooled, 64, |idx, o| {
                let t = targets(val, idx, &Device::Cpu)?;
                let l = session.loss(o, &t)?.to_scalar::<f32>()? as f64;
                val_sum += l * idx.len() as f64;
                Ok(())
            })?;
            (
                evaluate(&samples, &DEFAULT_THRESHOLDS).macro_f1,
                Some(val_sum / val.len() as f64),
            )
        };
        state.history.push(EpochLog {
            epoch,
            train_loss: loss_sum / steps_per_epoch as f64,
            val_loss,
            val_macro_f1: val_f1,
            seconds: t0.elapsed().as_secs_f64(),
        });
        report(
            run.progress,
            Progress::Note(format!(
                "epoch {epoch}{}: train loss {:.4}, val loss {}, val macro-F1 {}",
                if frozen { " (backbone frozen)" } else { "" },
                loss_sum / steps_per_epoch as f64,
                val_loss.map_or("-".into(), |l| format!("{l:.4}")),
                val_f1.map_or("-".into(), |f| format!("{f:.3}"))
            )),
        );
        // Without validation data, the last epoch is kept.
        let score = val_f1.unwrap_or(epoch as f64);
        state.epoch = epoch;
        if score > state.best {
            state.best = score;
            state.best_epoch = epoch;
            state.since_best = 0;
            session
                .vm
                .save(out_dir.join(WEIGHTS))
                .map_err(|e| Error::Model {
                    path: out_dir.join(WEIGHTS),
                    reason: e.to_string(),
                })?;
            write_serialized(&out_dir.join(INFO), &info(&state))?;
        } else if !frozen {
            state.since_best += 1;
        }
        state.optimizer_steps = session.opt.steps();
        state.sampler_rng = session.sampler.rng_state();
        state.augment_rng = session.rng.state();
        session.save_checkpoint(&state, out_dir)?;
        if !frozen && state.since_best >= cfg.patience {
            break;
        }
    }
    let info = info(&state);
    write_serialized(&out_dir.join(INFO), &info)?;
    Ok(TrainOutcome { info, interrupted })
}

/// Chooses per-AU thresholds for the model in `model_dir` on `val` (best F1, or the lowest
/// threshold reaching `target_precision`), writes them to `model_dir/thresholds.json` and to
/// `calibration_file` when given, and returns them. AUs without a validation positive keep 0.5.
///
/// # Errors
/// The model cannot be loaded or the files written.
pub fn calibrate_thresholds(
    model_dir: &Path,
    val: &Prepared,
    target_precision: Option<f64>,
    calibration_file: Option<&Path>,
) -> Result<Thresholds> {
    if let Some(p) = target_precision {
        validate_target_precision(p)?;
    }
    let (net, _, sha256) = load_with_sha256(model_dir)?;
    let samples = predict(&net, val, 64)?;
    let (rule, name) = match target_precision {
        Some(p) => (ThresholdRule::Precision(p), format!("precision>={p}")),
        None => (ThresholdRule::BestF1, "best-f1".to_string()),
    };
    let out = Thresholds::new(name, &select_thresholds(&samples, rule), val.len(), &sha256);
    out.save(model_dir, calibration_file)?;
    Ok(out)
}

/// Evaluates a loaded model on prepared data at the given AU thresholds.
///
/// # Errors
/// A tensor operation failed.
pub fn eval(net: &AuNet, data: &Prepared, thresholds: &[f32; NUM_AUS]) -> Result<EvalReport> {
    Ok(evaluate(&predict(net, data, 64)?, thresholds))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::au_net::AuNetConfig;
    #[test]
    fn one_cycle_warms_up_then_anneals() {
        assert!((one_cycle(0, 100, 1.0) - 0.04).abs() < 1e-9);
        assert!((one_cycle(30, 100, 1.0) - 1.0).abs() < 1e-9);
        assert!((one_cycle(100, 100, 1.0) - 0.01).abs() < 1e-9);
        assert!(one_cycle(60, 100, 1.0) < one_cycle(40, 100, 1.0));
    }
    /// Random crops with random labels: enough to check the machinery, not learning.
    fn noise(n: usize, side: u32, seed: u64) -> Prepared {
        let mut rng = SplitMix64::new(seed);
        Prepared {
            side,
            crops: (0..n * (side * side * 3) as usize)
                .map(|_| rng.below(256) as u8)
                .collect(),
            labels: (0..n)
                .map(|_| std::array::from_fn(|_| Some(rng.chance(0.3))))
                .collect(),
            emotions: vec![None; n],
            paths: vec![PathBuf::new(); n],
            skipped: Default::default(),
            synthetic: 0,
            landmarks: vec![None; n],
        }
    }

    /// Every tensor of a model folder's weights.
    fn weights_of(d: &Path) -> std::collections::HashMap<String, Tensor> {
        candle_core::safetensors::load(d.join(WEIGHTS), &Device::Cpu).unwrap()
    }

    fn same(a: &Tensor, b: &Tensor) -> bool {
        a.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            == b.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn a_backbone_run_resumed_in_phase_two_matches_an_uninterrupted_one() {
        let cfg = TrainConfig {
            net: AuNetConfig::faceapi(Backbone::FaceapiExpression),
            frozen_epochs: 2,
            epochs: 2,
            batch: 6,
            ..Default::default()
        };
        let data = noise(12, 112, 3);
        let none = Prepared::default();
        let straight = tempfile::tempdir().unwrap();
        let a = train(&cfg, &data, &none, straight.path(), &RunControl::default()).unwrap();
        assert_eq!(a.info.history.len(), 4);
        let bundled = crate::weights::FACEAPI_EXPRESSION;
        assert_eq!(a.info.backbone_sha256.as_deref(), Some(bundled.sha256));
        assert_eq!(a.info.config.net.backbone, Backbone::FaceapiExpression);
        // The features of phase 1 were cached beside the run.
        assert!(std::fs::read_dir(straight.path().join(FEATURE_CACHE))
            .unwrap()
            .next()
            .is_some());

        // Stopped after the first unfrozen epoch, then resumed.
        let split = tempfile::tempdir().unwrap();
        let first = RunControl {
            max_epochs: Some(3),
            ..Default::default()
        };
        assert!(
            train(&cfg, &data, &none, split.path(), &first)
                .unwrap()
                .interrupted
        );
        let resume = RunControl {
            resume: true,
            ..Default::default()
        };
        let c = train(&cfg, &data, &none, split.path(), &resume).unwrap();
        assert!(!c.interrupted);
        for (x, y) in a.info.history.iter().zip(&c.info.history) {
            assert_eq!(x.train_loss, y.train_loss, "epoch {}", x.epoch);
        }
        let (wa, wc) = (weights_of(straight.path()), weights_of(split.path()));
        assert_eq!(wa.len(), wc.len());
        for (name, t) in &wa {
            assert!(same(t, &wc[name]), "{name} differs after resuming");
        }

        // Phase 1 leaves the backbone as bundled; phase 2 moves it (at a tenth of the rate).
        let pretrained = candle_core::safetensors::load(
            crate::weights::default_models_dir().join(bundled.file),
            &Device::Cpu,
        )
        .unwrap();
        let key = "dense3.conv3.pointwise_filter";
        let tuned = &wa[&format!("{}.{key}", Backbone::PREFIX)];
        assert!(!same(tuned, &pretrained[key]));
        let frozen_only = TrainConfig {
            epochs: 0,
            ..cfg.clone()
        };
        let f = tempfile::tempdir().unwrap();
        train(&frozen_only, &data, &none, f.path(), &RunControl::default()).unwrap();
        let wf = weights_of(f.path());
        for (name, t) in &pretrained {
            if let Some(u) = wf.get(&format!("{}.{name}", Backbone::PREFIX)) {
                assert!(same(t, u), "{name} moved while frozen");
            }
        }
        // The model folder loads as a network on that backbone.
        let (net, info) = load(f.path()).unwrap();
        assert_eq!(net.config.cam_side(), 7);
        assert_eq!(info.backbone_sha256.as_deref(), Some(bundled.sha256));
    }

    #[test]
    fn an_interrupted_run_resumes_exactly() {
        let cfg = TrainConfig {
            net: AuNetConfig {
                input: 32,
                width: 4,
                ..AuNetConfig::small()
            },
            epochs: 3,
            batch: 16,
            ..Default::default()
        };
        let data = noise(40, 32, 1);
        let none = Prepared::default();
        let straight = tempfile::tempdir().unwrap();
        let a = train(&cfg, &data, &none, straight.path(), &RunControl::default()).unwrap();
        assert!(!a.interrupted);
        assert_eq!(a.info.history.len(), 3);

        let split = tempfile::tempdir().unwrap();
        let first = RunControl {
            max_epochs: Some(2),
            ..Default::default()
        };
        let b = train(&cfg, &data, &none, split.path(), &first).unwrap();
        assert!(b.interrupted);
        assert_eq!(b.info.history.len(), 2);
        let resume = RunControl {
            resume: true,
            ..Default::default()
        };
        let c = train(&cfg, &data, &none, split.path(), &resume).unwrap();
        assert!(!c.interrupted);
        assert_eq!(c.info.history.len(), 3);
        for (x, y) in a.info.history.iter().zip(&c.info.history) {
            assert_eq!(x.train_loss, y.train_loss, "epoch {}", x.epoch);
        }
        let weights =
            |d: &Path| candle_core::safetensors::load(d.join(WEIGHTS), &Device::Cpu).unwrap();
        let (wa, wc) = (weights(straight.path()), weights(split.path()));
        assert_eq!(wa.len(), wc.len());
        for (name, t) in &wa {
            let u = &wc[name];
            let same = t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
                == u.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(same, "{name} differs after resuming");
        }

        // Other settings, or other data, are refused by name.
        let other = TrainConfig {
            lr: 0.01,
            ..cfg.clone()
        };
        let e = train(&other, &data, &none, split.path(), &resume)
            .unwrap_err()
            .to_string();
        assert!(e.contains("lr") && e.contains("checkpoint.json"), "{e}");
        let e = train(&cfg, &noise(24, 32, 2), &none, split.path(), &resume)
            .unwrap_err()
            .to_string();
        assert!(e.contains("40 training faces, now 24"), "{e}");
        // Nothing to resume from.
        let empty = tempfile::tempdir().unwrap();
        assert!(train(&cfg, &data, &none, empty.path(), &resume).is_err());
    }
}
