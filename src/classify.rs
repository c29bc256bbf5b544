//! The classification stage's work: crop each face, run the networks present in models/ on
//! the batch of crops, and turn outputs into [`Scores`]. A face with no model to score it
//! passes through with empty scores.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::align::{
    au_net_crop, au_net_crop_transform, box_crop, carry_landmarks, AuCrop, BOX_CROP_MARGIN,
};
use crate::brows::medial_brow_slope;
use crate::calibrate::thresholds::{load_thresholds_for, ThresholdSource};
use crate::calibrate::{default_calibration_dir, Baselines, CalibrationOptions};
use crate::config::StillConfig;
use crate::error::{Error, Result};
use crate::frame::{
    AuCam, BaselineSource, FaceBox, Features, Frame, Landmarks, Scores, TrackedFace, HAPPINESS,
    NUM_AUS,
};
use crate::furrow::glabella_furrows;
use crate::geometry::{geometric_au_scores, head_pose, ImageCues};
use crate::model::au_net::{to_tensor, AuNet, Backbone};
use crate::model::au_net_file::{backbone_matches, load_with_sha256, WEIGHTS};
use crate::model::emotion::{average, faceapi_probs, EmotionHead, EmotionModel};
use crate::model::landmarks::{LandmarkNet, MIN_FACE_PX};
use crate::model::{device, read_verified, BundledModel, FACEAPI_EXPRESSION, FACEAPI_LANDMARKS};
use crate::still::{Outputs, StillFaces};
use crate::util::worker::Worker;

/// Which models to run.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierOptions {
    /// The expression network; None runs none (emotion and happy columns stay empty).
    pub emotion: Option<EmotionModel>,
    /// Crop margin for the expression network; None uses the model's measured best.
    pub emotion_margin: Option<f32>,
    /// Run the landmark network (head pose, geometric AUs).
    pub landmarks: bool,
    /// Neutral baselines for the geometric AUs.
    pub calibration: CalibrationOptions,
    /// A network trained by `facs train` (its folder): when given, it fills the AU columns
    /// instead of the geometric estimator.
    pub au_model: Option<PathBuf>,
    /// Align an aligned-crop AU network's crop of a tracked face with its landmarks of the
    /// previous frame, carried with its box, so that the network runs beside the landmark
    /// network instead of after it (a face's first frame waits for its own landmarks). The
    /// pipeline sets this in live mode; offline runs align every face on its own landmarks.
    pub carry_alignment: bool,
    /// When a tracked face that has not changed, other than by a shift, reuses its landmarks
    /// and emotions from the frame its networks last ran on (moved by the shift) instead of
    /// running them again. The pipeline sets it from its settings (live mode only, by
    /// default). Not used with a trained AU network.
    pub still: StillConfig,
}

impl Default for ClassifierOptions {
    fn default() -> Self {
        ClassifierOptions {
            emotion: Some(EmotionModel::default()),
            emotion_margin: None,
            landmarks: true,
            calibration: CalibrationOptions::default(),
            au_model: None,
            carry_alignment: false,
            still: StillConfig::OFF,
        }
    }
}

/// Geometric AU scores at or above this count as present (`AUxx_c`).
pub const GEOMETRIC_PRESENT: f32 = 0.5;
/// Confidence logged for a face too small for landmarks (its scores are empty).
pub const SMALL_FACE_CONFIDENCE: f32 = 0.1;

impl ClassifierOptions {
    /// # Errors
    /// A margin outside [0, 1].
    pub fn validate(&self) -> Result<()> {
        if let Some(m) = self.emotion_margin {
            if !(0.0..=1.0).contains(&m) {
                return Err(Error::config("emotion crop margin", m, "0..=1"));
            }
        }
        Ok(())
    }
}

/// Where a run's AU columns come from: the landmark geometry, or a network trained by
/// `facs train`. Recorded in the sidecar, on every JSONL row and in the overlay, so that an
/// estimate is never mistaken for a trained model's output, nor the reverse.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AuSource {
    /// `"geometric"` or `"trained"`.
    pub kind: &'static str,
    /// `"geometric"`, or the trained network's folder name.
    pub name: String,
    /// sha256 of the trained network's weights.
    pub sha256: Option<String>,
    /// The trained network saw synthetic faces only (its model.json says so).
    pub synthetic_only: bool,
}

/// Characters of the sha256 shown in [`AuSource::label`].
const SHA_PREFIX: usize = 12;

impl AuSource {
    /// The landmark-geometry estimator.
    pub fn geometric() -> Self {
        AuSource {
            kind: "geometric",
            name: "geometric".into(),
            sha256: None,
            synthetic_only: false,
        }
    }

    /// Short text for the log rows: `geometric`, or `NAME sha256:PREFIX`.
    pub fn label(&self) -> String {
        match &self.sha256 {
            Some(sha) => format!(
                "{} sha256:{}",
                self.name,
                sha.get(..SHA_PREFIX).unwrap_or(sha)
            ),
            None => self.name.clone(),
        }
    }

    /// Text for the overlay.
    pub fn overlay_text(&self) -> String {
        match self.kind {
            "geometric" => "AUs: geometric estimate".into(),
            _ => format!("AUs: {}", self.name),
        }
    }

    /// The warning a run with this source carries, if any.
    pub fn warning(&self) -> Option<String> {
        self.synthetic_only.then(|| {
            format!(
                "the AU network {} was trained on synthetic faces only: its AU columns are not \
                 measurements of real faces",
                self.name
            )
        })
    }
}

/// A model taking part in a run, for the log's sidecar.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ModelUse {
    pub name: String,
    pub file: String,
    pub sha256: String,
    pub role: String,
}

impl From<&BundledModel> for ModelUse {
    fn from(m: &BundledModel) -> Self {
        ModelUse {
            name: m.name.into(),
            file: m.file.into(),
            sha256: m.sha256.into(),
            role: m.role.into(),
        }
    }
}

/// The expression head's crops and forward pass for one frame's faces.
fn expression_probs(
    head: &EmotionHead,
    margin: f32,
    frame: &Frame,
    boxes: &[FaceBox],
    crops: &mut Vec<u8>,
) -> Result<Vec<[f32; 7]>> {
    let size = head.kind().input_size();
    crops.clear();
    for b in boxes {
        crops.extend_from_slice(&box_crop(frame, b, margin, size));
    }
    head.predict(crops, boxes.len())
}

/// The expression head on its own named thread, so that it runs while the classify thread
/// runs the landmark network on the same faces (the two networks take about the same time).
type ExpressionWorker = Worker<(Frame, Vec<FaceBox>), Result<Vec<[f32; 7]>>>;

fn spawn_expression(head: EmotionHead, margin: f32) -> Result<ExpressionWorker> {
    let name = match head.kind() {
        EmotionModel::FaceX => "classify-facex",
        _ => "classify-expression",
    };
    Worker::spawn(name, move || {
        let mut crops = Vec::new();
        Ok(move |(frame, boxes): (Frame, Vec<FaceBox>)| {
            expression_probs(&head, margin, &frame, &boxes, &mut crops)
        })
    })
}

/// face-api's expression head (its fully connected layer, [256] -> 7 logits) applied to the
/// pooled features of an AU network whose backbone is, bit for bit, face-api's expression
/// extractor: the pass that gives the AUs then gives the bundled net's emotions too.
struct SharedExpression {
    /// [256, 7]: `fc.weights` transposed.
    weight_t: candle_core::Tensor,
    /// [7]
    bias: candle_core::Tensor,
}

impl SharedExpression {
    /// The bundled expression net's fully connected layer, from its (sha256-checked) bytes.
    fn load(bundled: &[u8]) -> Result<Self> {
        let bad = |e: candle_core::Error| {
            Error::Weights(format!(
                "{}: {}",
                FACEAPI_EXPRESSION.file,
                crate::error::first_line(&e)
            ))
        };
        let t = candle_core::safetensors::load_buffer(bundled, &candle_core::Device::Cpu)
            .map_err(bad)?;
        let get = |name: &str| {
            t.get(name).cloned().ok_or_else(|| {
                Error::Weights(format!("{}: no tensor `{name}`", FACEAPI_EXPRESSION.file))
            })
        };
        Ok(SharedExpression {
            weight_t: get("fc.weights")?
                .t()
                .map_err(bad)?
                .contiguous()
                .map_err(bad)?,
            bias: get("fc.bias")?,
        })
    }
}

/// How a trained AU network and the expression net share (or not) one backbone pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sharing {
    /// The AU network's backbone is not face-api's expression extractor, or the run uses
    /// another expression head (or none): nothing to share.
    None,
    /// The backbone is the bundled expression extractor, unchanged: one pass per face.
    OnePass,
    /// The backbone started from the expression extractor but was fine-tuned: the bundled
    /// expression head was trained on the original features, so the emotions keep their
    /// own pass through the bundled net.
    FineTuned,
}

/// A trained network's forward pass on one frame's faces: its crops (the ones it was
/// trained on), one batch, and from that pass the AU probabilities, every AU's class
/// activation map and, in one-pass mode, the emotions. It runs on the classify thread, or
/// (a box crop, which needs no landmarks) on a worker thread beside the landmark network.
struct AuPass {
    net: AuNet,
    crop: AuCrop,
    /// The bundled expression head on this network's features (one pass per face).
    shared: Option<SharedExpression>,
    crops: Vec<u8>,
}

/// What one pass of the trained network gives for a face.
struct TrainedFace {
    au: [f32; NUM_AUS],
    /// Emotion probabilities in facs order (one-pass mode only).
    emotions: Option<[f32; 7]>,
    cam: Arc<AuCam>,
}

impl AuPass {
    /// One pass over `boxes`; `marks[i]` are face i's landmarks when known (an aligned crop
    /// uses them; a box crop does not need them, and `marks` may be empty).
    fn predict(
        &mut self,
        frame: &Frame,
        boxes: &[FaceBox],
        marks: &[Option<&Landmarks>],
    ) -> Result<Vec<TrainedFace>> {
        let side = self.net.config.input;
        let cells = self.net.config.cam_side() as usize;
        let k = cells as f32 / side as f32;
        self.crops.clear();
        let mut to_cell = Vec::with_capacity(boxes.len());
        for (i, b) in boxes.iter().enumerate() {
            let m = marks.get(i).copied().flatten();
            self.crops
                .extend_from_slice(&au_net_crop(frame, b, m, side, self.crop));
            let t = au_net_crop_transform(frame, b, m, side, self.crop);
            to_cell.push([t.a * k, t.b * k, t.tx * k, t.ty * k]);
        }
        // One face at a time, as face-api's expression net runs on the CPU: one image's
        // activations stay in cache, faster per face than a batch.
        let per_image = (side * side * 3) as usize;
        type Pass = (Vec<Vec<f32>>, Option<Vec<Vec<f32>>>, Vec<f32>);
        let run = |crop: &[u8]| -> candle_core::Result<Pass> {
            let x = to_tensor(crop, 1, side as usize, &candle_core::Device::Cpu)?;
            let f = self.net.features(&x)?;
            let pooled = f
                .mean(candle_core::D::Minus1)?
                .mean(candle_core::D::Minus1)?;
            let au = candle_nn::ops::sigmoid(&self.net.heads(&pooled)?.au)?.to_vec2::<f32>()?;
            let emotions = match &self.shared {
                Some(e) => Some(
                    pooled
                        .matmul(&e.weight_t)?
                        .broadcast_add(&e.bias)?
                        .to_vec2::<f32>()?,
                ),
                None => None,
            };
            let cams = self.net.au_cams(&f)?.flatten_all()?.to_vec1::<f32>()?;
            Ok((au, emotions, cams))
        };
        let (mut au, mut emotions, mut cams) = (
            Vec::new(),
            self.shared.as_ref().map(|_| Vec::new()),
            Vec::new(),
        );
        for crop in self.crops.chunks_exact(per_image) {
            let (a, e, c) =
                run(crop).map_err(|e| Error::Stage("classify", format!("AU network: {e}")))?;
            au.extend(a);
            if let (Some(all), Some(e)) = (emotions.as_mut(), e) {
                all.extend(e);
            }
            cams.extend(c);
        }
        let per_face = NUM_AUS * cells * cells;
        Ok(au
            .into_iter()
            .enumerate()
            .zip(to_cell)
            .map(|((i, row), to_cell)| {
                let mut p = [0f32; NUM_AUS];
                p.copy_from_slice(&row[..NUM_AUS]);
                let emotions = emotions.as_ref().and_then(|e| e.get(i)).map(|l| {
                    let mut a = [0f32; 7];
                    a.copy_from_slice(&l[..7]);
                    faceapi_probs(&a)
                });
                let maps = cams
                    .get(i * per_face..(i + 1) * per_face)
                    .map(<[f32]>::to_vec)
                    .unwrap_or_default();
                TrainedFace {
                    au: p,
                    emotions,
                    cam: Arc::new(AuCam {
                        side: cells,
                        maps,
                        to_cell,
                    }),
                }
            })
            .collect())
    }
}

/// One frame's job for the pass on its own thread: the faces' boxes and, for an aligned
/// crop, the landmarks to align each with.
type AuJob = (Frame, Vec<FaceBox>, Vec<Option<Landmarks>>);

/// The trained network's pass on its own named thread, overlapping the landmark network as
/// the expression net's does (in one-pass mode it takes that net's place).
type AuWorker = Worker<AuJob, Result<Vec<TrainedFace>>>;

fn spawn_au_pass(mut pass: AuPass) -> Result<AuWorker> {
    Worker::spawn("classify-au-net", move || {
        Ok(move |(frame, boxes, marks): AuJob| {
            let marks: Vec<Option<&Landmarks>> = marks.iter().map(Option::as_ref).collect();
            pass.predict(&frame, &boxes, &marks)
        })
    })
}

/// Where the trained network's pass runs.
enum AuRunner {
    /// On the classify thread, after the landmark network (an aligned crop needs the
    /// landmarks; without the landmark network there is nothing to overlap).
    Inline(AuPass),
    /// On a worker thread beside the landmark network: a box crop, or an aligned crop whose
    /// faces' landmarks are carried from the previous frame.
    Worker(AuWorker),
}

/// A network trained by `facs train`: AU probabilities from the crops it was trained on,
/// presence from its calibrated per-AU thresholds, and every AU's class activation map from
/// the same pass.
struct TrainedAus {
    runner: AuRunner,
    thresholds: [f32; NUM_AUS],
    source: AuSource,
    /// [`AuSource::label`], shared by every face's scores.
    label: Arc<str>,
    /// One pass per face gives the emotions too.
    one_pass: bool,
    /// Live mode, aligned crop: each tracked face's box and landmarks in the previous frame.
    carried: Option<HashMap<u32, (FaceBox, Landmarks)>>,
    /// The worker has this frame's job.
    submitted: bool,
    /// Frames whose pass started before the landmark network (aligned on carried landmarks).
    early_passes: u64,
}

impl TrainedAus {
    /// Loads the network in `dir` and its thresholds; describes both for the sidecar. With
    /// `expression` (the run asks for face-api's expression net, whose weights are in
    /// `models_dir`, at this crop margin) and a backbone that is that net's extractor
    /// unchanged, the network also gives the emotions ([`Sharing::OnePass`]); for a box-crop
    /// network only when the margin is the expression net's own, so that its crop is the
    /// expression net's. With `overlap` (the landmark network runs) a box-crop network
    /// runs on a worker thread of its own, and so does an aligned-crop network with `carry`
    /// ([`ClassifierOptions::carry_alignment`]).
    fn load(
        dir: &Path,
        models_dir: &Path,
        expression: Option<f32>,
        overlap: bool,
        carry: bool,
    ) -> Result<(Self, ModelUse, Sharing)> {
        let (net, info, sha256) = load_with_sha256(dir)?;
        let (thresholds, source) = load_thresholds_for(dir, &default_calibration_dir(), &sha256)?;
        let weights = dir.join(WEIGHTS);
        let crop = info.config.crop;
        let same_crop = |m: f32| crop == AuCrop::Aligned || m == BOX_CROP_MARGIN;
        let mut shared = None;
        let sharing = match expression {
            Some(m) if same_crop(m) && info.config.net.backbone == Backbone::FaceapiExpression => {
                let bundled = read_verified(models_dir, &FACEAPI_EXPRESSION)?;
                let own = std::fs::read(&weights).map_err(|e| Error::io(&weights, e))?;
                if backbone_matches(&own, &bundled)? {
                    shared = Some(SharedExpression::load(&bundled)?);
                    Sharing::OnePass
                } else {
                    Sharing::FineTuned
                }
            }
            _ => Sharing::None,
        };
        let thresholds_from = match &source {
            ThresholdSource::File(p) => p.display().to_string(),
            ThresholdSource::Default => "0.5 for every AU (no thresholds file)".into(),
        };
        let mut role = format!(
            "AU probabilities and presence (AUxx_p, AUxx_c) on the {crop} crop; thresholds: \
             {thresholds_from}"
        );
        if info.synthetic_training_data {
            role.push_str("; trained on synthetic faces only: not a model for real footage");
        }
        match sharing {
            Sharing::OnePass => role.push_str(
                "; its backbone is the bundled expression net's, unchanged: one backbone pass \
                 per face gives the AUs and, through the bundled expression head, the emotions",
            ),
            Sharing::FineTuned => role.push_str(
                "; its backbone was fine-tuned (it differs from the bundled expression net's): \
                 the emotions come from the bundled expression net in a pass of its own, as \
                 the bundled expression head was trained on the original features",
            ),
            Sharing::None => {}
        }
        let carry = overlap && carry && crop == AuCrop::Aligned;
        if carry {
            role.push_str(
                "; live: a tracked face's crop is aligned with its landmarks of the previous \
                 frame, carried with its box, so that the pass runs beside the landmark network \
                 (a face's first frame waits for its own)",
            );
        }
        let folder = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let source = AuSource {
            kind: "trained",
            name: folder.clone(),
            sha256: Some(sha256.clone()),
            synthetic_only: info.synthetic_training_data,
        };
        let usage = ModelUse {
            name: format!("facs-au-net {folder}"),
            file: weights.display().to_string(),
            sha256,
            role,
        };
        let pass = AuPass {
            net,
            crop,
            shared,
            crops: Vec::new(),
        };
        let runner = if overlap && (crop == AuCrop::Box || carry) {
            AuRunner::Worker(spawn_au_pass(pass)?)
        } else {
            AuRunner::Inline(pass)
        };
        Ok((
            TrainedAus {
                runner,
                thresholds,
                label: source.label().into(),
                source,
                one_pass: sharing == Sharing::OnePass,
                carried: carry.then(HashMap::new),
                submitted: false,
                early_passes: 0,
            },
            usage,
            sharing,
        ))
    }

    /// Starts the pass on the worker thread before the landmark network, when it can: a box
    /// crop always; an aligned crop when every face has landmarks carried from the previous
    /// frame (or is too small to get any).
    fn submit(&mut self, frame: &Frame, faces: &[TrackedFace], boxes: &[FaceBox]) -> Result<()> {
        self.submitted = false;
        let AuRunner::Worker(w) = &mut self.runner else {
            return Ok(());
        };
        let marks = match &self.carried {
            None => Vec::new(),
            Some(carried) => {
                let mut marks = Vec::with_capacity(faces.len());
                for f in faces {
                    match carried.get(&f.id) {
                        Some((from, pts)) => marks.push(Some(carry_landmarks(pts, from, &f.bbox))),
                        None if f.bbox.w.min(f.bbox.h) < MIN_FACE_PX => marks.push(None),
                        // A new face: the pass waits for its landmarks.
                        None => return Ok(()),
                    }
                }
                self.early_passes += 1;
                marks
            }
        };
        w.submit((frame.clone(), boxes.to_vec(), marks))?;
        self.submitted = true;
        Ok(())
    }

    /// The pass's results: the worker's (started now, on this frame's landmarks, when
    /// [`Self::submit`] could not start it), or one pass now on the classify thread, from
    /// each face's landmarks when it has them. Keeps this frame's landmarks for the next.
    fn results(
        &mut self,
        frame: &Frame,
        faces: &[TrackedFace],
        boxes: &[FaceBox],
        scores: &[Scores],
    ) -> Result<Vec<TrainedFace>> {
        let out = match &mut self.runner {
            AuRunner::Worker(w) => {
                if !self.submitted {
                    let marks = scores.iter().map(|s| s.landmarks).collect();
                    w.submit((frame.clone(), boxes.to_vec(), marks))?;
                }
                self.submitted = false;
                w.wait()?
            }
            AuRunner::Inline(pass) => {
                let marks: Vec<Option<&Landmarks>> =
                    scores.iter().map(|s| s.landmarks.as_ref()).collect();
                pass.predict(frame, boxes, &marks)
            }
        };
        if let Some(carried) = &mut self.carried {
            // Only this frame's faces: a face that left is forgotten.
            carried.clear();
            for (f, s) in faces.iter().zip(scores) {
                if let Some(pts) = s.landmarks {
                    carried.insert(f.id, (f.bbox, pts));
                }
            }
        }
        out
    }
}

enum Expression {
    /// Run on the classify thread (no landmark network to overlap with).
    Inline {
        head: EmotionHead,
        margin: f32,
        crops: Vec<u8>,
    },
    /// Run on worker threads, one per network (the ensemble has two), overlapping the
    /// landmark network; their probabilities are averaged.
    Workers(Vec<ExpressionWorker>),
}

/// Runs the loaded networks on face crops.
pub struct Classifier {
    models: Vec<ModelUse>,
    expression: Option<Expression>,
    landmarks: Option<(LandmarkNet, Baselines)>,
    trained: Option<TrainedAus>,
    crops: Vec<u8>,
    /// [`AuSource::label`] of the geometric estimator, shared by every face's scores.
    geometric_label: Arc<str>,
    /// Still faces' kept outputs (None: every face's networks run on every frame).
    still: Option<StillFaces>,
}

impl Classifier {
    /// Loads the models `opts` asks for from `models_dir` (each sha256-checked).
    ///
    /// # Errors
    /// A requested model is missing, altered or malformed.
    pub fn load(models_dir: &Path, opts: &ClassifierOptions) -> Result<Self> {
        opts.validate()?;
        let dev = device();
        let mut models = Vec::new();
        // The trained network first: whether it gives the emotions decides whether the
        // expression net runs at all.
        let trained = match &opts.au_model {
            Some(dir) => {
                let faceapi = (opts.emotion == Some(EmotionModel::FaceApi)).then(|| {
                    opts.emotion_margin
                        .unwrap_or(EmotionModel::FaceApi.crop_margin())
                });
                Some(TrainedAus::load(
                    dir,
                    models_dir,
                    faceapi,
                    opts.landmarks,
                    opts.carry_alignment,
                )?)
            }
            None => None,
        };
        let one_pass = matches!(&trained, Some((_, _, Sharing::OnePass)));
        let emotion = match opts.emotion {
            Some(kind) if one_pass => {
                let mut usage = ModelUse::from(kind.bundled());
                usage.role.push_str(
                    "; its expression head only, on the AU network's backbone features \
                     (one pass per face, on the AU network's crop)",
                );
                models.push(usage);
                Vec::new()
            }
            // One network, or the ensemble's members, each with its own crop margin.
            Some(kind) => kind
                .members()
                .iter()
                .map(|&k| {
                    let head = EmotionHead::load(models_dir, k, &dev)?;
                    models.push(ModelUse::from(k.bundled()));
                    Ok((head, opts.emotion_margin.unwrap_or(k.crop_margin())))
                })
                .collect::<Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        let mut emotion = emotion;
        let expression = match emotion.len() {
            0 => None,
            // One network without landmarks to overlap: on the classify thread itself.
            1 if !opts.landmarks => emotion.pop().map(|(head, margin)| Expression::Inline {
                head,
                margin,
                crops: Vec::new(),
            }),
            // Else one worker thread per network, overlapping the landmark network.
            _ => Some(Expression::Workers(
                emotion
                    .into_iter()
                    .map(|(head, margin)| spawn_expression(head, margin))
                    .collect::<Result<_>>()?,
            )),
        };
        let landmarks = if opts.landmarks {
            let net = LandmarkNet::load(models_dir, &dev)?;
            models.push(ModelUse::from(&FACEAPI_LANDMARKS));
            Some((net, Baselines::new(&opts.calibration)?))
        } else {
            None
        };
        let trained = trained.map(|(t, usage, _)| {
            models.push(usage);
            t
        });
        Ok(Classifier {
            models,
            expression,
            landmarks,
            trained,
            crops: Vec::new(),
            geometric_label: AuSource::geometric().label().into(),
            still: (opts.still.max_reuse > 0 && opts.au_model.is_none())
                .then(|| StillFaces::new(opts.still)),
        })
    }

    /// Where the AU columns come from: the trained network when one is loaded, else the
    /// geometric estimator when landmarks run; None when nothing fills them.
    pub fn au_source(&self) -> Option<AuSource> {
        match (&self.trained, &self.landmarks) {
            (Some(t), _) => Some(t.source.clone()),
            (None, Some(_)) => Some(AuSource::geometric()),
            (None, None) => None,
        }
    }

    /// The baseline faces get until they have their own (None without landmarks).
    pub fn default_baseline(&self) -> Option<&BaselineSource> {
        self.landmarks.as_ref().map(|(_, b)| b.default_source())
    }

    /// Takes each face's recent frames as its neutral baseline; returns how many faces.
    pub fn calibrate_now(&mut self) -> usize {
        self.landmarks
            .as_mut()
            .map_or(0, |(_, b)| b.calibrate_now())
    }

    /// The models in use.
    pub fn models(&self) -> &[ModelUse] {
        &self.models
    }

    /// True when one backbone pass per face gives both the AUs and the emotions (a trained
    /// AU network whose backbone is the bundled expression net's, unchanged).
    pub fn one_pass(&self) -> bool {
        self.trained.as_ref().is_some_and(|t| t.one_pass)
    }

    /// Faces whose networks ran and faces that reused a still face's outputs, since the
    /// start ((0, 0) when outputs are never reused).
    pub fn still_counts(&self) -> (u64, u64) {
        self.still.as_ref().map_or((0, 0), StillFaces::counts)
    }

    /// Scores for each face, in order.
    ///
    /// # Errors
    /// A network failed on this batch.
    /// A face too small for landmarks keeps empty AU columns and has its confidence lowered
    /// to [`SMALL_FACE_CONFIDENCE`].
    pub fn classify(&mut self, frame: &Frame, faces: &mut [TrackedFace]) -> Result<Vec<Scores>> {
        let mut scores = vec![Scores::default(); faces.len()];
        if faces.is_empty() {
            return Ok(scores);
        }
        let boxes: Vec<FaceBox> = faces.iter().map(|f| f.bbox).collect();
        // Still faces' outputs, kept from an earlier frame; the networks run on the others.
        let reused = match &mut self.still {
            Some(still) => still.look(frame, faces),
            None => vec![None; faces.len()],
        };
        let to_run: Vec<FaceBox> = boxes
            .iter()
            .zip(&reused)
            .filter(|(_, r)| r.is_none())
            .map(|(b, _)| *b)
            .collect();
        if let Some(Expression::Workers(ws)) = &mut self.expression {
            if !to_run.is_empty() {
                for w in ws.iter_mut() {
                    w.submit((frame.clone(), to_run.clone()))?;
                }
            }
        }
        if let Some(t) = &mut self.trained {
            t.submit(frame, faces, &boxes)?;
        }
        if let Some((net, baselines)) = &mut self.landmarks {
            let mut run = if to_run.is_empty() {
                Vec::new()
            } else {
                net.detect(frame, &to_run, &mut self.crops)?
            }
            .into_iter();
            let marks = reused.iter().map(|r| match r {
                Some(kept) => kept.landmarks,
                None => run.next().flatten(),
            });
            for ((s, f), m) in scores.iter_mut().zip(faces.iter_mut()).zip(marks) {
                let Some(pts) = m else {
                    debug_assert!(f.bbox.w.min(f.bbox.h) < MIN_FACE_PX);
                    f.bbox.confidence = f.bbox.confidence.min(SMALL_FACE_CONFIDENCE);
                    continue;
                };
                s.pose = head_pose(&pts);
                let cues = ImageCues {
                    // A black glabella (no light to see furrows by) reads as a smooth one.
                    glabella_furrows: glabella_furrows(frame, &pts).unwrap_or(0.0),
                    medial_brow_slope: medial_brow_slope(frame, &pts),
                };
                s.features = Features::from_landmarks(&pts, &cues);
                if let Some(feat) = &s.features {
                    let (neutral, source) = baselines.observe(f.id, frame.timestamp_s, feat);
                    let au = geometric_au_scores(feat, &neutral, &source);
                    s.au_present = Some(au.map(|p| p >= GEOMETRIC_PRESENT));
                    s.au_prob = Some(au);
                    s.au_source = Some(self.geometric_label.clone());
                    s.baseline = Some(source);
                }
                s.landmarks = Some(pts);
            }
        }
        if let Some(t) = &mut self.trained {
            let passes = t.results(frame, faces, &boxes, &scores)?;
            for (s, p) in scores.iter_mut().zip(passes) {
                s.au_present = Some(std::array::from_fn(|k| p.au[k] >= t.thresholds[k]));
                s.au_prob = Some(p.au);
                s.au_source = Some(t.label.clone());
                s.au_cam = Some(p.cam);
                if let Some(e) = p.emotions {
                    s.happy = Some(e[HAPPINESS]);
                    s.emotions = Some(e);
                }
            }
        }
        let probs = match &mut self.expression {
            Some(_) if to_run.is_empty() => Some(Vec::new()),
            Some(Expression::Workers(ws)) => {
                let mut heads = Vec::with_capacity(ws.len());
                for w in ws.iter_mut() {
                    heads.push(w.wait()??);
                }
                Some(average(&heads)?)
            }
            Some(Expression::Inline {
                head,
                margin,
                crops,
            }) => Some(expression_probs(head, *margin, frame, &to_run, crops)?),
            None => None,
        };
        if let Some(probs) = probs {
            let mut run = probs.into_iter();
            for (s, r) in scores.iter_mut().zip(&reused) {
                let p = match r {
                    Some(kept) => kept.emotions,
                    None => run.next(),
                };
                s.happy = p.map(|p| p[HAPPINESS]);
                s.emotions = p;
            }
        }
        if let Some(still) = &mut self.still {
            let landmarks = self.landmarks.is_some();
            for ((f, s), r) in faces.iter().zip(&scores).zip(&reused) {
                // A face too small for landmarks is not kept: it runs on every frame.
                if r.is_none() && (s.landmarks.is_some() || !landmarks) {
                    let outputs = Outputs {
                        landmarks: s.landmarks,
                        emotions: s.emotions,
                    };
                    still.keep(frame, f, outputs);
                }
            }
        }
        Ok(scores)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;
    use crate::config::DetectConfig;
    use crate::detect::Detector;
    use crate::model::au_net::AuNetConfig;
    use crate::model::au_net_file::{load, write_fixed_head_model};
    use crate::track::Tracker;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    /// A one-pass model folder with fixed heads ([`write_fixed_head_model`]), marked as
    /// trained on synthetic faces.
    fn model(dir: &Path, crop: AuCrop, fine_tuned: bool) {
        write_fixed_head_model(dir, &root().join("models"), crop, fine_tuned, true).unwrap();
    }

    /// Real frames (neutral and smiling, two posed photos) and their detected faces: the
    /// first frame twice over (two faces per batch) to check the order of a batch.
    fn frames() -> Vec<(Frame, Vec<TrackedFace>)> {
        let d = root().join("tests/fixtures");
        let mut det = Detector::new(&root().join("models"), &DetectConfig::default()).unwrap();
        [
            "single_face/000000.jpg",
            "single_face/000060.jpg",
            "posed/0-f1-su-ph.jpg",
            "posed/45-m7-di-ph.jpg",
        ]
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (w, h, rgb) = crate::source::load_rgb(&d.join(f)).unwrap();
            let frame = Frame::new(0, 0.0, w, h, rgb).unwrap();
            let mut boxes = det.detect(&frame);
            assert!(!boxes.is_empty(), "no face in {f}");
            boxes.truncate(1);
            if i == 0 {
                // A second, smaller face in the same frame.
                let mut b = boxes[0];
                b.w *= 0.8;
                b.h *= 0.8;
                boxes.push(b);
            }
            (frame, Tracker::new(Default::default()).update(&boxes))
        })
        .collect()
    }

    fn with_model(dir: Option<PathBuf>) -> ClassifierOptions {
        ClassifierOptions {
            au_model: dir,
            ..ClassifierOptions::default()
        }
    }

    #[test]
    fn a_box_crop_network_gives_the_default_runs_emotions_from_its_one_pass_beside_the_landmarks() {
        let tmp = tempfile::tempdir().unwrap();
        std::env::set_var("FACS_CALIBRATION", tmp.path().join("calibration"));
        let models = root().join("models");
        let (boxed, tuned) = (tmp.path().join("box"), tmp.path().join("box-tuned"));
        model(&boxed, AuCrop::Box, false);
        model(&tuned, AuCrop::Box, true);
        let mut one = Classifier::load(&models, &with_model(Some(boxed.clone()))).unwrap();
        let mut two = Classifier::load(&models, &with_model(Some(tuned))).unwrap();
        let mut today = Classifier::load(&models, &with_model(None)).unwrap();
        assert!(one.one_pass() && !two.one_pass());
        // The pass runs on its own thread (the landmarks run), and the expression net is
        // not loaded: one backbone pass per face.
        let t = one.trained.as_ref().unwrap();
        assert!(matches!(t.runner, AuRunner::Worker(_)));
        assert!(one.expression.is_none());
        assert!(one.models().iter().any(|m| m.role.contains("box crop")));
        // Asked for another margin, the box-crop network's crop is not the expression net's:
        // the emotions keep their own pass.
        let other = ClassifierOptions {
            emotion_margin: Some(0.1),
            ..with_model(Some(boxed.clone()))
        };
        assert!(!Classifier::load(&models, &other).unwrap().one_pass());
        // The direct forward pass of the same network on the same crops.
        let (net, _) = load(&boxed).unwrap();
        let mut worst = 0f32;
        for (frame, faces) in frames() {
            let s1 = one.classify(&frame, &mut faces.clone()).unwrap();
            let s2 = two.classify(&frame, &mut faces.clone()).unwrap();
            let s0 = today.classify(&frame, &mut faces.clone()).unwrap();
            assert_eq!(s1.len(), faces.len());
            for (i, f) in faces.iter().enumerate() {
                // The emotions: the default run's (same crop, same weights, the input
                // normalised by another route).
                let (got, want) = (s1[i].emotions.unwrap(), s0[i].emotions.unwrap());
                for (a, b) in got.iter().zip(&want) {
                    worst = worst.max((a - b).abs());
                }
                assert_eq!(s1[i].happy, Some(got[HAPPINESS]));
                // A fine-tuned box-crop network: today's emotions, bit for bit.
                assert_eq!(s2[i].emotions, s0[i].emotions);
                // Landmarks and pose still come from the landmark net, as by default.
                assert_eq!(s1[i].landmarks, s0[i].landmarks);
                // The AU probabilities: the network's own on the expression net's crop.
                let crop = box_crop(&frame, &f.bbox, EmotionModel::FaceApi.crop_margin(), 112);
                let x = to_tensor(&crop, 1, 112, &Device::Cpu).unwrap();
                let feat = net.features(&x).unwrap();
                let pooled = feat.mean(candle_core::D::Minus1).unwrap();
                let pooled = pooled.mean(candle_core::D::Minus1).unwrap();
                let au = candle_nn::ops::sigmoid(&net.heads(&pooled).unwrap().au).unwrap();
                let au = au.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                let p = s1[i].au_prob.unwrap();
                for (a, b) in p.iter().zip(&au) {
                    assert!((a - b).abs() < 1e-6, "AU probabilities {p:?} vs {au:?}");
                }
                assert!(s1[i].au_cam.is_some() && s0[i].au_cam.is_none());
            }
        }
        // Measured 3.0e-7 over these 5 faces (AMD EPYC, 2 cores): the same products, the input
        // normalised by another route; 1e-5 leaves 30x.
        eprintln!("largest box one-pass vs default emotion difference: {worst:e}");
        assert!(worst < 1e-5, "one-pass emotions differ by {worst}");
    }

    #[test]
    fn a_box_crop_networks_maps_lie_on_the_face_box() {
        let tmp = tempfile::tempdir().unwrap();
        std::env::set_var("FACS_CALIBRATION", tmp.path().join("calibration"));
        let dir = tmp.path().join("box");
        model(&dir, AuCrop::Box, false);
        let models = root().join("models");
        let mut cls = Classifier::load(&models, &with_model(Some(dir))).unwrap();
        for (frame, faces) in frames() {
            let scores = cls.classify(&frame, &mut faces.clone()).unwrap();
            for (f, s) in faces.iter().zip(&scores) {
                let cam = s.au_cam.as_ref().unwrap();
                let [a, b, tx, ty] = cam.to_cell;
                let side = cam.side as f32;
                // The face box's corners are the map's corners (margin 0, the box inside the
                // frame): the transform is the box crop's, not an alignment.
                let b0 = f.bbox;
                let cell = |x: f32, y: f32| (a * x - b * y + tx, b * x + a * y + ty);
                let inside = b0.x >= 0.0
                    && b0.y >= 0.0
                    && b0.x + b0.w <= frame.width as f32
                    && b0.y + b0.h <= frame.height as f32;
                if inside && (b0.w - b0.h).abs() < 1.0 {
                    let (x0, y0) = cell(b0.x, b0.y);
                    let (x1, y1) = cell(b0.x + b0.w, b0.y + b0.h);
                    for (got, want) in [(x0, 0.0), (y0, 0.0), (x1, side), (y1, side)] {
                        assert!((got - want).abs() < 0.1, "corner at {got}, want {want}");
                    }
                }
                assert_eq!(b, 0.0);
                // Each AU's peak cell, mapped back to the frame, lies in the face box.
                let n = cam.side * cam.side;
                for k in 0..NUM_AUS {
                    let m = &cam.maps[k * n..(k + 1) * n];
                    let peak = (0..n).max_by(|&i, &j| m[i].total_cmp(&m[j])).unwrap();
                    let (cx, cy) = (
                        (peak % cam.side) as f32 + 0.5,
                        (peak / cam.side) as f32 + 0.5,
                    );
                    let (x, y) = ((cx - tx) / a, (cy - ty) / a);
                    // Slack: half a cell, and the square crop's overhang of a box that is
                    // not square.
                    let sx = 0.5 / a + (b0.h - b0.w).max(0.0) / 2.0;
                    let sy = 0.5 / a + (b0.w - b0.h).max(0.0) / 2.0;
                    assert!(
                        x >= b0.x - sx
                            && x <= b0.x + b0.w + sx
                            && y >= b0.y - sy
                            && y <= b0.y + b0.h + sy,
                        "AU {k}: peak at ({x}, {y}), face box {b0:?}"
                    );
                }
            }
        }
    }

    /// Live mode's aligned crop on carried landmarks, against every face aligned on its own
    /// landmarks, over the 72 consecutive frames of the bundled single_face clip (neutral,
    /// then a smile: the mouth moves while the head holds still).
    #[test]
    fn live_alignment_on_carried_landmarks_runs_beside_the_landmarks_and_reads_as_the_exact() {
        let tmp = tempfile::tempdir().unwrap();
        std::env::set_var("FACS_CALIBRATION", tmp.path().join("calibration"));
        let models = root().join("models");
        let dir = tmp.path().join("aligned");
        model(&dir, AuCrop::Aligned, false);
        let live_opts = ClassifierOptions {
            carry_alignment: true,
            ..with_model(Some(dir.clone()))
        };
        let mut live = Classifier::load(&models, &live_opts).unwrap();
        let mut exact = Classifier::load(&models, &with_model(Some(dir))).unwrap();
        assert!(live.one_pass() && exact.one_pass());
        let runner = |c: &Classifier| match c.trained.as_ref().map(|t| &t.runner) {
            Some(AuRunner::Worker(_)) => "worker",
            Some(AuRunner::Inline(_)) => "inline",
            None => "none",
        };
        assert_eq!((runner(&live), runner(&exact)), ("worker", "inline"));
        assert!(live
            .models()
            .iter()
            .any(|m| m.role.contains("previous frame")));
        assert!(!exact
            .models()
            .iter()
            .any(|m| m.role.contains("previous frame")));
        let early = |c: &Classifier| c.trained.as_ref().map_or(0, |t| t.early_passes);

        let dir = root().join("tests/fixtures/single_face");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
            .collect();
        files.sort();
        assert_eq!(files.len(), 72);
        let mut det = Detector::new(&models, &DetectConfig::default()).unwrap();
        let mut tracker = Tracker::new(Default::default());
        let (mut worst_au, mut worst_emotion, mut top_differ) = (0f32, 0f32, 0);
        let mut again_calls = 0;
        let mut first_id = None;
        let (mut prev_exact, mut frame_step): (Option<([f32; NUM_AUS], [f32; 7])>, f32) =
            (None, 0.0);
        for (i, f) in files.iter().enumerate() {
            let (w, h, rgb) = crate::source::load_rgb(f).unwrap();
            let frame = Frame::new(i as u64, i as f64 / 30.0, w, h, rgb).unwrap();
            let faces = tracker.update(&det.detect(&frame));
            assert_eq!(faces.len(), 1, "frame {i}");
            let id = *first_id.get_or_insert(faces[0].id);
            assert_eq!(faces[0].id, id, "frame {i}: the face keeps its track");
            let a = live.classify(&frame, &mut faces.clone()).unwrap();
            let b = exact.classify(&frame, &mut faces.clone()).unwrap();
            // From the second frame on, the pass starts before the landmark network.
            assert_eq!(early(&live), i as u64 + again_calls, "frame {i}");
            if i == 0 {
                // The face's first frame waits for its own landmarks: the exact pass.
                assert_eq!(a[0].au_prob, b[0].au_prob);
                assert_eq!(a[0].emotions, b[0].emotions);
            }
            let (pa, pb) = (a[0].au_prob.unwrap(), b[0].au_prob.unwrap());
            for (x, y) in pa.iter().zip(&pb) {
                worst_au = worst_au.max((x - y).abs());
            }
            // How much the exact pass itself changes from one frame to the next.
            if let Some((p, e)) = &prev_exact {
                let e: &[f32; 7] = e;
                for (x, y) in p
                    .iter()
                    .zip(&pb)
                    .chain(e.iter().zip(&b[0].emotions.unwrap()))
                {
                    frame_step = frame_step.max((x - y).abs());
                }
            }
            prev_exact = Some((pb, b[0].emotions.unwrap()));
            let (ea, eb) = (a[0].emotions.unwrap(), b[0].emotions.unwrap());
            for (x, y) in ea.iter().zip(&eb) {
                worst_emotion = worst_emotion.max((x - y).abs());
            }
            let top = |e: &[f32; 7]| (0..7).max_by(|&i, &j| e[i].total_cmp(&e[j])).unwrap();
            top_differ += usize::from(top(&ea) != top(&eb));
            // Landmarks, pose and the rest do not depend on the AU network's alignment.
            assert_eq!(a[0].landmarks, b[0].landmarks);
            // The same frame again, the face in the same box: its carried landmarks are its
            // own, and the pass is the exact one, bit for bit.
            if i % 24 == 0 {
                let again = live.classify(&frame, &mut faces.clone()).unwrap();
                assert_eq!(again[0].au_prob, b[0].au_prob, "frame {i}");
                assert_eq!(again[0].emotions, b[0].emotions, "frame {i}");
                again_calls += 1;
            }
        }
        // Measured (AMD EPYC, 2 cores): AU probabilities within 0.066 and emotion
        // probabilities within 0.060 of the exact pass, the top emotion the same on all 72
        // frames; the exact pass itself moves by up to 0.93 from one frame to the next (the
        // smile's onset). The AU heads here are fixed, not trained: their probabilities sit
        // near 0.5, so their present calls are not compared (BENCHMARKS.md compares a
        // trained network's).
        eprintln!(
            "carried vs exact alignment over 72 frames: AU probabilities within {worst_au:.4}, \
             emotions within {worst_emotion:.4}, top emotion differs on {top_differ}"
        );
        eprintln!("the exact pass from one frame to the next: within {frame_step:.4}");
        assert!(worst_au < 0.15, "AU probabilities differ by {worst_au}");
        assert!(worst_emotion < 0.15, "emotions differ by {worst_emotion}");
        assert!(
            top_differ <= 1,
            "top emotion differs on {top_differ} frames"
        );
    }

    #[test]
    fn the_box_crop_is_the_expression_nets_crop() {
        assert_eq!(BOX_CROP_MARGIN, EmotionModel::FaceApi.crop_margin());
        assert_eq!(
            AuNetConfig::faceapi(Backbone::FaceapiExpression).input,
            EmotionModel::FaceApi.input_size()
        );
    }

    /// `frame` moved `dx` pixels to the right (the left edge's column repeated).
    fn shifted(frame: &Frame, dx: usize) -> Frame {
        let (w, row) = (frame.width as usize, frame.width as usize * 3);
        let mut rgb = Vec::with_capacity(frame.rgb.len());
        for line in frame.rgb.chunks_exact(row) {
            for x in 0..w {
                let from = x.saturating_sub(dx) * 3;
                rgb.extend_from_slice(&line[from..from + 3]);
            }
        }
        Frame::new(1, 0.04, frame.width, frame.height, rgb).unwrap()
    }

    #[test]
    fn a_still_face_reuses_its_outputs_moved_with_it_and_a_changed_one_runs_again() {
        let models = root().join("models");
        let opts = ClassifierOptions {
            still: StillConfig::LIVE,
            ..ClassifierOptions::default()
        };
        let mut still = Classifier::load(&models, &opts).unwrap();
        let mut every = Classifier::load(&models, &ClassifierOptions::default()).unwrap();
        let frames = frames();
        let (frame, faces) = &frames[0];
        let first = still.classify(frame, &mut faces.clone()).unwrap();
        assert_eq!(first, every.classify(frame, &mut faces.clone()).unwrap());
        assert_eq!(still.still_counts(), (2, 0));

        // The same faces 3 px to the right: both reuse their outputs, moved 3 px.
        let moved = shifted(frame, 3);
        let mut boxes = faces.clone();
        for f in &mut boxes {
            f.bbox.x += 3.0;
        }
        let second = still.classify(&moved, &mut boxes).unwrap();
        assert_eq!(still.still_counts(), (2, 2));
        for (a, b) in first.iter().zip(&second) {
            let (pa, pb) = (a.landmarks.unwrap(), b.landmarks.unwrap());
            for (p, q) in pa.iter().zip(&pb) {
                assert_eq!((p.0 + 3.0, p.1), *q);
            }
            assert_eq!(a.emotions, b.emotions);
            // The geometric AUs, measured again on the moved landmarks: the same.
            let (ua, ub) = (a.au_prob.unwrap(), b.au_prob.unwrap());
            assert!(ua.iter().zip(&ub).all(|(x, y)| (x - y).abs() < 1e-4));
            assert_eq!(a.au_present, b.au_present);
        }
        // The networks' own answer on the moved frame is near the reused one.
        let own = every.classify(&moved, &mut boxes.clone()).unwrap();
        let (pa, pb) = (own[0].landmarks.unwrap(), second[0].landmarks.unwrap());
        let eyes = (pa[36].0 - pa[45].0).hypot(pa[36].1 - pa[45].1);
        let mean = pa
            .iter()
            .zip(&pb)
            .map(|(p, q)| (p.0 - q.0).hypot(p.1 - q.1))
            .sum::<f32>()
            / 68.0;
        assert!(
            mean < 0.05 * eyes,
            "{mean} px against {eyes} px between the eyes"
        );

        // Another frame of the clip (she smiles): the pixels changed, so the face runs
        // again (and the second face, gone, is forgotten).
        let (smile, faces) = &frames[1];
        let third = still.classify(smile, &mut faces.clone()).unwrap();
        assert_eq!(still.still_counts(), (3, 2));
        assert_eq!(third, every.classify(smile, &mut faces.clone()).unwrap());
    }
}
