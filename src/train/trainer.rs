//! Training the AU + emotion network: class-balanced sampling, per-AU positive weights,
//! stable masked losses (focal optional), light augmentation, AdamW with a one-cycle
//! learning rate, validation macro-F1 each epoch with early stopping, and the best weights
//! saved as safetensors with a JSON config beside them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use super::faces::{Prepared, ALIGN_ZOOM};
use super::loss::{masked_bce, masked_cross_entropy, BceOptions};
use super::metrics::{evaluate, select_thresholds, EvalReport, EvalSample, ThresholdRule};
use super::sampler::WeightedSampler;
use super::synth::SplitMix64;
use crate::error::{Error, Result};
use crate::frame::{AU_NUMBERS, EMOTIONS, NUM_AUS};
use crate::model::au_net::{to_tensor, AuNet, AuNetConfig};

/// Training settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub net: AuNetConfig,
    pub epochs: usize,
    pub batch: usize,
    /// Peak learning rate of the one-cycle schedule.
    pub lr: f64,
    pub weight_decay: f64,
    /// Focal-loss gamma for the AU head; None = plain BCE.
    pub focal_gamma: Option<f64>,
    /// Stop after this many epochs without a better validation macro-F1.
    pub patience: usize,
    pub augment: bool,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            net: AuNetConfig::small(),
            epochs: 20,
            batch: 32,
            lr: 3e-3,
            weight_decay: 1e-4,
            focal_gamma: None,
            patience: 5,
            augment: true,
            seed: 0,
        }
    }
}

/// One epoch's figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_macro_f1: Option<f64>,
    pub seconds: f64,
}

/// What `facs train` writes beside the weights (`model.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelInfo {
    pub format: String,
    pub facs_version: String,
    pub config: TrainConfig,
    pub au_labels: Vec<String>,
    pub emotion_labels: Vec<String>,
    pub input: String,
    pub best_epoch: usize,
    pub history: Vec<EpochLog>,
}

const FORMAT: &str = "facs-au-net";
const WEIGHTS: &str = "model.safetensors";
const INFO: &str = "model.json";

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

/// Flip, brightness/contrast and a shift of up to 1/16 of the side, in place.
fn augment(crop: &mut [u8], side: usize, rng: &mut SplitMix64) {
    let flip = rng.chance(0.5);
    let gain = rng.range(0.75, 1.25);
    let bias = rng.range(-20.0, 20.0);
    let max_shift = (side / 16).max(1) as i32;
    let dx = rng.below(2 * max_shift as usize + 1) as i32 - max_shift;
    let dy = rng.below(2 * max_shift as usize + 1) as i32 - max_shift;
    let src = crop.to_vec();
    for y in 0..side as i32 {
        for x in 0..side as i32 {
            let sx = if flip { side as i32 - 1 - x } else { x } + dx;
            let sy = y + dy;
            let (sx, sy) = (
                sx.clamp(0, side as i32 - 1) as usize,
                sy.clamp(0, side as i32 - 1) as usize,
            );
            for c in 0..3 {
                let v = src[(sy * side + sx) * 3 + c] as f32 * gain + bias;
                crop[(y as usize * side + x as usize) * 3 + c] = v.clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Targets and masks for a batch.
struct Targets {
    au: Tensor,
    au_mask: Tensor,
    emotion: Tensor,
    emotion_mask: Tensor,
    happy: Tensor,
    happy_mask: Tensor,
}

/// Happy = AU6 and AU12 both present; not happy = both known and not both present.
pub fn happy_label(l: &[Option<bool>; NUM_AUS]) -> Option<bool> {
    let (au6, au12) = (l[4], l[6]);
    match (au6, au12) {
        (Some(a), Some(b)) => Some(a && b),
        (Some(false), None) | (None, Some(false)) => Some(false),
        _ => None,
    }
}

fn targets(data: &Prepared, idx: &[usize], dev: &Device) -> candle_core::Result<Targets> {
    let n = idx.len();
    let mut au = vec![0f32; n * NUM_AUS];
    let mut au_mask = vec![0f32; n * NUM_AUS];
    let mut emotion = vec![0u32; n];
    let mut emotion_mask = vec![0f32; n];
    let mut happy = vec![0f32; n];
    let mut happy_mask = vec![0f32; n];
    for (r, &i) in idx.iter().enumerate() {
        for k in 0..NUM_AUS {
            if let Some(v) = data.labels[i][k] {
                au[r * NUM_AUS + k] = v as u8 as f32;
                au_mask[r * NUM_AUS + k] = 1.0;
            }
        }
        if let Some(e) = data.emotions[i].filter(|&e| e < EMOTIONS.len()) {
            emotion[r] = e as u32;
            emotion_mask[r] = 1.0;
        }
        if let Some(h) = happy_label(&data.labels[i]) {
            happy[r] = h as u8 as f32;
            happy_mask[r] = 1.0;
        }
    }
    Ok(Targets {
        au: Tensor::from_vec(au, (n, NUM_AUS), dev)?,
        au_mask: Tensor::from_vec(au_mask, (n, NUM_AUS), dev)?,
        emotion: Tensor::from_vec(emotion, n, dev)?,
        emotion_mask: Tensor::from_vec(emotion_mask, n, dev)?,
        happy: Tensor::from_vec(happy, (n, 1), dev)?,
        happy_mask: Tensor::from_vec(happy_mask, (n, 1), dev)?,
    })
}

/// Re-initialises every variable from `seed` (candle's CPU initialiser cannot be seeded):
/// weights Kaiming-normal (sd = sqrt(2 / fan_in)), biases zero, in name order.
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
        let values: Vec<f32> = if name.ends_with("bias") {
            vec![0.0; n]
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

/// Per-AU positive weight: negatives / positives among known labels, clamped to [1, 50].
pub fn pos_weights(labels: &[[Option<bool>; NUM_AUS]]) -> [f32; NUM_AUS] {
    let mut w = [1f32; NUM_AUS];
    for (k, wk) in w.iter_mut().enumerate() {
        let pos = labels.iter().filter(|l| l[k] == Some(true)).count() as f32;
        let neg = labels.iter().filter(|l| l[k] == Some(false)).count() as f32;
        *wk = if pos > 0.0 {
            (neg / pos).clamp(1.0, 50.0)
        } else {
            1.0
        };
    }
    w
}

/// AU and emotion probabilities for every sample of `data`.
///
/// # Errors
/// A tensor operation failed.
pub fn predict(net: &AuNet, data: &Prepared, batch: usize) -> Result<Vec<EvalSample>> {
    let dev = Device::Cpu;
    let side = data.side as usize;
    let mut out = Vec::with_capacity(data.len());
    for start in (0..data.len()).step_by(batch.max(1)) {
        let idx: Vec<usize> = (start..(start + batch).min(data.len())).collect();
        let mut crops = Vec::with_capacity(idx.len() * side * side * 3);
        for &i in &idx {
            crops.extend_from_slice(data.crop(i));
        }
        let x = to_tensor(&crops, idx.len(), side, &dev)?;
        let o = net.forward(&x)?;
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
}

impl Session {
    fn new(cfg: &TrainConfig, train: &Prepared) -> Result<Self> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let net = AuNet::new(
            VarBuilder::from_varmap(&vm, DType::F32, &dev),
            cfg.net.clone(),
        )?;
        seeded_init(&vm, cfg.seed)?;
        let params = ParamsAdamW {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        };
        let opt = AdamW::new(vm.all_vars(), params)?;
        let (sampler, _) = WeightedSampler::balanced(&train.labels, cfg.seed).ok_or_else(|| {
            Error::config(
                "training labels",
                "all weights zero",
                "some labelled samples",
            )
        })?;
        let bce = BceOptions {
            pos_weight: Some(Tensor::new(&pos_weights(&train.labels), &dev)?),
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
        })
    }

    /// One optimiser step on the samples `idx` at learning rate `lr`; returns the loss.
    fn step(&mut self, data: &Prepared, idx: &[usize], lr: f64) -> Result<f64> {
        let dev = Device::Cpu;
        let side = data.side as usize;
        self.opt.set_learning_rate(lr);
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
        let o = self.net.forward(&x)?;
        let loss = (masked_bce(&o.au, &t.au, &t.au_mask, &self.bce)?
            + masked_cross_entropy(&o.emotion, &t.emotion, &t.emotion_mask)?
            + masked_bce(
                &o.happy.unsqueeze(1)?,
                &t.happy,
                &t.happy_mask,
                &BceOptions::default(),
            )?)?;
        self.opt.backward_step(&loss)?;
        Ok(loss.to_scalar::<f32>()? as f64)
    }
}

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

/// Sweeps the learning rate from `min_lr` to `max_lr` over `steps` batches of a fresh
/// network, recording the loss (exponentially smoothed, bias-corrected); stops when it
/// exceeds four times its minimum.
///
/// # Errors
/// Bad bounds, empty data, a tensor failure.
pub fn lr_find(
    cfg: &TrainConfig,
    train: &Prepared,
    min_lr: f64,
    max_lr: f64,
    steps: usize,
) -> Result<LrFind> {
    if !(min_lr > 0.0 && max_lr > min_lr && steps >= 3) {
        return Err(Error::config(
            "lr-find range",
            format!("{min_lr}..{max_lr} over {steps}"),
            "0 < min < max, steps >= 3",
        ));
    }
    if train.is_empty() {
        return Err(Error::config("training set", 0, "at least one face"));
    }
    let mut session = Session::new(cfg, train)?;
    let (mut avg, beta) = (0.0, 0.9);
    let mut best = f64::INFINITY;
    let mut points = Vec::new();
    for i in 0..steps {
        let lr = min_lr * (max_lr / min_lr).powf(i as f64 / (steps - 1) as f64);
        let idx = session.sampler.epoch(cfg.batch.max(1));
        let loss = session.step(train, &idx, lr)?;
        avg = beta * avg + (1.0 - beta) * loss;
        let smoothed = avg / (1.0 - beta.powi(i as i32 + 1));
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

/// Trains on `train`, validates on `val` after each epoch, keeps the best weights in
/// `out_dir` (model.safetensors + model.json) and returns the info written.
///
/// # Errors
/// Empty data, a tensor failure, or the output folder cannot be written.
pub fn train(
    cfg: &TrainConfig,
    train: &Prepared,
    val: &Prepared,
    out_dir: &Path,
    progress: bool,
) -> Result<ModelInfo> {
    cfg.net.validate()?;
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
    let mut session = Session::new(cfg, train)?;
    let steps_per_epoch = train.len().div_ceil(cfg.batch.max(1));
    let total_steps = steps_per_epoch * cfg.epochs;
    let mut history = Vec::new();
    let (mut best, mut best_epoch, mut since_best) = (f64::NEG_INFINITY, 0, 0);
    let started = Instant::now();
    for epoch in 1..=cfg.epochs {
        let t0 = Instant::now();
        let order = session.sampler.epoch(train.len());
        let mut loss_sum = 0.0;
        for (b, idx) in order.chunks(cfg.batch.max(1)).enumerate() {
            let step = (epoch - 1) * steps_per_epoch + b;
            let loss = session.step(train, idx, one_cycle(step, total_steps, cfg.lr))?;
            loss_sum += loss;
            if progress {
                let done = step + 1;
                let eta =
                    started.elapsed().as_secs_f64() / done as f64 * (total_steps - done) as f64;
                eprint!(
                    "\repoch {epoch}/{} batch {}/{steps_per_epoch} loss {:.4} eta {:.0}s   ",
                    cfg.epochs,
                    b + 1,
                    loss_sum / (b + 1) as f64,
                    eta
                );
            }
        }
        let val_f1 = if val.is_empty() {
            None
        } else {
            evaluate(&predict(&session.net, val, 64)?, &[0.5; NUM_AUS]).macro_f1
        };
        history.push(EpochLog {
            epoch,
            train_loss: loss_sum / steps_per_epoch as f64,
            val_macro_f1: val_f1,
            seconds: t0.elapsed().as_secs_f64(),
        });
        if progress {
            eprintln!(
                "\repoch {epoch}: train loss {:.4}, val macro-F1 {:?}            ",
                loss_sum / steps_per_epoch as f64,
                val_f1
            );
        }
        // Without validation data, the last epoch is kept.
        let score = val_f1.unwrap_or(epoch as f64);
        if score > best {
            best = score;
            best_epoch = epoch;
            since_best = 0;
            let path = out_dir.join(WEIGHTS);
            session.vm.save(&path).map_err(|e| Error::Model {
                path,
                reason: e.to_string(),
            })?;
        } else {
            since_best += 1;
            if since_best >= cfg.patience {
                break;
            }
        }
    }
    let info = ModelInfo {
        format: FORMAT.into(),
        facs_version: env!("CARGO_PKG_VERSION").into(),
        config: cfg.clone(),
        au_labels: AU_NUMBERS.iter().map(|a| format!("AU{a:02}")).collect(),
        emotion_labels: EMOTIONS.iter().map(|e| e.to_string()).collect(),
        input: format!(
            "{0}x{0} RGB face crop aligned to the 5-point template at zoom {ALIGN_ZOOM}, pixels (p/255 - 0.5)/0.25",
            cfg.net.input
        ),
        best_epoch,
        history,
    };
    let path = out_dir.join(INFO);
    let value = serde_json::to_value(&info).map_err(|e| Error::Json {
        path: path.clone(),
        source: e,
    })?;
    crate::log::write_json_atomic(&path, &value)?;
    Ok(info)
}

/// Loads a model written by [`train`].
///
/// # Errors
/// Missing files, another format, or weights that do not fit the config (named tensor).
pub fn load(model_dir: &Path) -> Result<(AuNet, ModelInfo)> {
    let info_path: PathBuf = model_dir.join(INFO);
    let text = std::fs::read_to_string(&info_path).map_err(|e| Error::io(&info_path, e))?;
    let info: ModelInfo = serde_json::from_str(&text).map_err(|e| Error::Json {
        path: info_path.clone(),
        source: e,
    })?;
    if info.format != FORMAT {
        return Err(Error::Model {
            path: info_path,
            reason: format!("format {:?}, expected {FORMAT:?}", info.format),
        });
    }
    let weights = model_dir.join(WEIGHTS);
    let bytes = std::fs::read(&weights).map_err(|e| Error::io(&weights, e))?;
    let vb =
        VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu).map_err(|e| {
            Error::Model {
                path: weights.clone(),
                reason: e.to_string(),
            }
        })?;
    let net = AuNet::new(vb, info.config.net.clone()).map_err(|e| Error::Model {
        path: weights,
        reason: e.to_string(),
    })?;
    Ok((net, info))
}

/// Per-AU decision thresholds chosen on validation data, as stored in the model folder
/// (`thresholds.json`) and in calibration/<model name>.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub format: String,
    /// `best-f1` or `precision>=P`.
    pub rule: String,
    pub au_labels: Vec<String>,
    pub thresholds: Vec<f32>,
    /// Validation faces they were chosen on.
    pub faces: usize,
}

const THRESHOLDS: &str = "thresholds.json";

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
    let (net, _) = load(model_dir)?;
    let samples = predict(&net, val, 64)?;
    let (rule, name) = match target_precision {
        Some(p) => (ThresholdRule::Precision(p), format!("precision>={p}")),
        None => (ThresholdRule::BestF1, "best-f1".to_string()),
    };
    let t = select_thresholds(&samples, rule);
    let out = Thresholds {
        format: "facs-au-thresholds".into(),
        rule: name,
        au_labels: AU_NUMBERS.iter().map(|a| format!("AU{a:02}")).collect(),
        thresholds: t.to_vec(),
        faces: val.len(),
    };
    let value = serde_json::to_value(&out).map_err(|e| Error::Json {
        path: model_dir.join(THRESHOLDS),
        source: e,
    })?;
    crate::log::write_json_atomic(&model_dir.join(THRESHOLDS), &value)?;
    if let Some(path) = calibration_file {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        crate::log::write_json_atomic(path, &value)?;
    }
    Ok(out)
}

/// The thresholds stored beside a model, or 0.5 for every AU when there are none.
///
/// # Errors
/// A thresholds file that cannot be read or has the wrong length.
pub fn load_thresholds(model_dir: &Path) -> Result<[f32; NUM_AUS]> {
    let path = model_dir.join(THRESHOLDS);
    if !path.is_file() {
        return Ok([0.5; NUM_AUS]);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let t: Thresholds = serde_json::from_str(&text).map_err(|e| Error::Json {
        path: path.clone(),
        source: e,
    })?;
    t.thresholds
        .try_into()
        .map_err(|v: Vec<f32>| Error::Calibration {
            path,
            reason: format!("{} thresholds, expected {NUM_AUS}", v.len()),
        })
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

    #[test]
    fn one_cycle_warms_up_then_anneals() {
        assert!((one_cycle(0, 100, 1.0) - 0.04).abs() < 1e-9);
        assert!((one_cycle(30, 100, 1.0) - 1.0).abs() < 1e-9);
        assert!((one_cycle(100, 100, 1.0) - 0.01).abs() < 1e-9);
        assert!(one_cycle(60, 100, 1.0) < one_cycle(40, 100, 1.0));
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

    #[test]
    fn happy_labels_and_pos_weights() {
        let mut l = [Some(false); NUM_AUS];
        assert_eq!(happy_label(&l), Some(false));
        l[4] = Some(true);
        l[6] = Some(true);
        assert_eq!(happy_label(&l), Some(true));
        l[6] = None;
        assert_eq!(happy_label(&l), None);
        // AU1: 1 positive, 3 negatives, 1 unknown -> weight 3.
        let mut rows = vec![[Some(false); NUM_AUS]; 4];
        rows[0][0] = Some(true);
        rows.push([None; NUM_AUS]);
        assert_eq!(pos_weights(&rows)[0], 3.0);
        // No positives: weight 1.
        assert_eq!(pos_weights(&rows)[1], 1.0);
    }
}
