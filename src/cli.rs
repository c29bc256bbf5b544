//! The command line's words: every subcommand and flag, with its help text (clap derive).
//! `main.rs` turns them into library calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "facs",
    version,
    about = "Facial Action Units and emotions, live or from lab footage"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Cmd,
    /// No progress bars (they are drawn only on a terminal anyway).
    #[arg(long, short = 'q', global = true)]
    pub(crate) quiet: bool,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Run the live path on the bundled clip: window if a display exists, else headless.
    #[command(
        after_help = "Example:\n  facs demo\n  facs demo --log demo.csv --annotate demo_frames"
    )]
    Demo(DemoArgs),
    /// Analyse a camera live, with an overlay window.
    #[command(
        after_help = "Example:\n  facs live --camera 0 --size 640x480 --fps 30 --log session.csv"
    )]
    Live(LiveArgs),
    /// Analyse recorded footage (video, folder of images, one image); never drops a frame.
    #[command(
        after_help = "Example:\n  facs run --input participant01.mp4 --log participant01.csv\n  \
                            facs run --input frames/ --fps 25 --jsonl out.jsonl --annotate drawn/ --show"
    )]
    Run(RunArgs),
    /// Measure a person's neutral face from footage and save it as calibration/NAME.json.
    #[command(
        after_help = "Example:\n  facs calibrate --input alice_neutral.mp4 --name alice\n  \
                            facs run --input alice_task.mp4 --calibration alice --log alice.csv"
    )]
    Calibrate(CalibrateArgs),
    /// Measure the pipeline: throughput and live latency on the bundled clip and on a
    /// synthetic 640x480 source with 1 and 5 faces.
    #[command(
        after_help = "Example:\n  facs bench\n  facs bench --frames 600 --json bench.json --emotion fer"
    )]
    Bench(BenchArgs),
    /// Render synthetic faces with known AUs as an EmotioNet-style dataset (to check the
    /// training machinery; never a measure of real-world accuracy).
    #[command(
        after_help = "Example:\n  facs synth --out synth --count 2000 --seed 1\n  facs synth --out synth --count 500 --emotion"
    )]
    Synth(SynthArgs),
    /// A balanced, seeded subset of an EmotioNet-style CSV, split into train/val/test CSVs.
    #[command(
        after_help = "Example:\n  facs subset --csv emotionet.csv --images img/ --classes AU6,AU12 --per-class 200 --out subset/\n  \
                            facs subset --csv emotionet.csv --images img/ --happy --per-class 500 --out happy/"
    )]
    Subset(SubsetArgs),
    /// Train the AU + emotion network on an EmotioNet-style CSV (faces found, aligned and
    /// cached by the pipeline's own detector and landmarks).
    #[command(
        after_help = "Example:\n  facs train --csv subset/train.csv --val subset/val.csv --images img/ --out models/my-au-net --epochs 20"
    )]
    Train(TrainArgs),
    /// Learning-rate range test: the loss over an exponential sweep of rates, plotted, with
    /// a suggested peak rate for `facs train --lr`.
    #[command(
        name = "lr-find",
        after_help = "Example:\n  facs lr-find --csv subset/train.csv --images img/ --out lr/"
    )]
    LrFind(LrFindArgs),
    /// Class activation map galleries per AU: most uncertain, most incorrect and most correct
    /// faces, each with where the AU's logit comes from.
    #[command(
        after_help = "Example:\n  facs cam --au-model models/my-au-net --csv subset/val.csv --images img/ --out cam/"
    )]
    Cam(CamArgs),
    /// Score AUs and emotions against labels: a trained network on an EmotioNet-style CSV
    /// of images, or any facs log (or a run on footage) against labelled frame numbers.
    /// Per-AU precision, recall, F1, ROC-AUC, confusion matrices and plots.
    #[command(
        after_help = "Examples:\n  facs eval --au-model models/my-au-net --csv lab_frames.csv --images lab/ --out report/\n  facs eval --labels lab_labels.csv --log session.csv --out report/\n  facs eval --labels lab_labels.csv --video session.mp4 --au-model models/my-au-net --out report/\n\nLabels of frames: a CSV with a `frame` column (1-based, as in facs logs), AU columns\n(AU12 or AU01: 1 present, 0 absent, 999 or empty unknown), and optionally `face_id` and\n`emotion`. See the README, \"Checking facs on your own footage\"."
    )]
    Eval(EvalArgs),
    /// Draw a recording's AUs over time from its log: one lane per AU (present shaded,
    /// threshold dashed), happy and the top emotion.
    #[command(after_help = "Example:\n  facs plot session.csv --out session_aus.png")]
    Plot(PlotArgs),
    /// Log every recording of a folder (video files, folders of frames): one log and
    /// sidecar each; a rerun skips those already complete.
    #[command(
        after_help = "Examples:\n  facs batch --input study/ --out logs/\n  facs batch --input study/ --list > manifest.txt\n  facs batch --input study/ --out logs/ --task $SLURM_ARRAY_TASK_ID"
    )]
    Batch(BatchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  facs completions bash > ~/.local/share/bash-completion/completions/facs"
    )]
    Completions(CompletionsArgs),
    /// List the bundled weights and verify their sha256.
    #[command(after_help = "Example:\n  facs models")]
    Models(ModelsArgs),
}

#[derive(Args, Clone)]
pub(crate) struct AnalysisOptions {
    /// Per-frame CSV log (OpenFace-style columns); a FILE.meta.json sidecar goes beside it.
    #[arg(long, value_name = "FILE.csv")]
    pub(crate) log: Option<PathBuf>,
    /// The same rows as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub(crate) jsonl: Option<PathBuf>,
    /// The log's columns: `facs` (its own) or `openface` (OpenFace 2.2's columns in
    /// OpenFace's order, empty where facs estimates nothing, then facs's scores); needs
    /// --log (or facs batch), and --jsonl follows it.
    #[arg(
        long,
        value_name = "COLUMNS",
        default_value = "facs",
        value_parser = ["facs", "openface"]
    )]
    pub(crate) format: String,
    /// Draw every analysed frame: into a video (H.264 through ffmpeg) for a FILE ending in
    /// .mp4, .mkv or .mov, else as PNGs into the folder DIR.
    #[arg(long, value_name = "DIR|FILE.mp4")]
    pub(crate) annotate: Option<PathBuf>,
    /// With --annotate: draw only every Nth analysed frame (a video then plays at the
    /// source's frame rate divided by N).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "annotate",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) annotate_every: u32,
    /// Replace a log (and its sidecar) or drawn frames that already exist; without it facs
    /// refuses to write over them, as ffmpeg does without -y.
    #[arg(short = 'y', long)]
    pub(crate) overwrite: bool,
    /// Folder with the weights (default: $FACS_MODELS, ./models, or the source tree's).
    #[arg(long, value_name = "DIR")]
    pub(crate) models: Option<PathBuf>,
    /// Smallest face to find, in pixels (>= 20). Larger is faster.
    #[arg(long, value_name = "PX")]
    pub(crate) min_face: Option<u32>,
    /// Search the whole frame at full size every N frames (default 10); in between, only
    /// around known faces and (not live) the frame at a third of its size for faces of
    /// 120 px and up. 1: every frame at full size (slowest).
    #[arg(long, value_name = "N")]
    pub(crate) full_every: Option<u32>,
    /// A face whose pixels have not changed since its networks last ran, other than by a
    /// shift, reuses their landmarks and emotions (moved with it) for up to N frames in a
    /// row. Default 3 live (demo, camera, bench), 0 offline: every row of a log is the
    /// networks' own answer for that frame.
    #[arg(long, value_name = "N")]
    pub(crate) still_reuse: Option<u32>,
    /// Stop after N frames.
    #[arg(long, value_name = "N")]
    pub(crate) max_frames: Option<u64>,
    /// Expression head: faceapi (default), fer (fastest), facex, ensemble (faceapi and
    /// facex averaged: the most accurate on the labelled frames, several times faceapi's
    /// time per face), or none.
    #[arg(long, value_name = "MODEL", default_value = "faceapi")]
    pub(crate) emotion: String,
    /// Neutral baseline for every face: a file from `facs calibrate`, or its NAME in calibration/.
    #[arg(long, value_name = "NAME|FILE")]
    pub(crate) calibration: Option<String>,
    /// Take each face's first N seconds as its neutral baseline.
    #[arg(long, value_name = "N")]
    pub(crate) calibrate_secs: Option<f64>,
    /// AU network trained by `facs train` (its folder) for the AU columns, with its
    /// thresholds from calibration/<folder name>.json (default: <models>/au-net when
    /// present, else the geometric AU estimator).
    #[arg(long, value_name = "DIR")]
    pub(crate) au_model: Option<PathBuf>,
    /// Skip the landmark network (no head pose, no geometric AUs; faster).
    #[arg(long)]
    pub(crate) no_landmarks: bool,
    /// Start with landmarks drawn in the window and PNGs (toggle with l).
    #[arg(long)]
    pub(crate) draw_landmarks: bool,
    /// Draw this AU's class activation map over each face in the window and PNGs (key m
    /// cycles AU01 ... AU26, off); needs a trained AU network (--au-model).
    #[arg(long, value_name = "AU12", value_parser = facs::heatmap::parse_au)]
    pub(crate) cam: Option<usize>,
}

#[derive(Args)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    pub(crate) analysis: AnalysisOptions,
    /// Never open a window.
    #[arg(long)]
    pub(crate) headless: bool,
}

#[derive(Args)]
pub(crate) struct LiveArgs {
    /// Camera number (`/dev/videoN` on Linux; `facs live --list` names them).
    #[arg(long, default_value_t = 0)]
    pub(crate) camera: u32,
    /// An ffmpeg input instead of --camera: `/dev/video2`, `v4l2:/dev/video2`,
    /// `avfoundation:1`, `dshow:video=NAME`, or `lavfi:SOURCE` (e.g. `lavfi:movie=clip.mp4`
    /// plays a file as a camera would).
    #[arg(long, value_name = "DEVICE")]
    pub(crate) device: Option<String>,
    /// What reads the camera: `ffmpeg` (every build), `native` (nokhwa, builds with
    /// `--features camera`), or `auto`: native where built in and no --device, else ffmpeg.
    #[arg(
        long,
        value_name = "BACKEND",
        default_value = "auto",
        value_parser = ["auto", "ffmpeg", "native"]
    )]
    pub(crate) camera_backend: String,
    /// List the cameras the system reports and exit.
    #[arg(long)]
    pub(crate) list: bool,
    /// Capture size, WIDTHxHEIGHT.
    #[arg(long, default_value = "640x480")]
    pub(crate) size: String,
    /// Capture frame rate.
    #[arg(long, default_value_t = 30)]
    pub(crate) fps: u32,
    /// Never open a window.
    #[arg(long)]
    pub(crate) headless: bool,
    #[command(flatten)]
    pub(crate) analysis: AnalysisOptions,
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// Video file, folder of images (sorted by name), one image, or
    /// synthetic:faces=N,frames=M,size=WxH,fps=F.
    #[arg(long, short, value_name = "PATH")]
    pub(crate) input: String,
    /// Frame rate for timestamps of an image folder.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) fps: f64,
    /// How to read a folder of images: `sequence` (frames of one recording: faces tracked
    /// from frame to frame), `photos` (unrelated photos: each analysed on its own, face ids
    /// from 0 in each), or `auto`: a sequence when the names are numbered frames of one
    /// pattern (000001.jpg, frame_0001.png, ...) and the images all one size, else photos.
    #[arg(
        long,
        value_name = "HOW",
        default_value = "auto",
        value_parser = ["auto", "sequence", "photos"]
    )]
    pub(crate) stills: String,
    /// Open the overlay window.
    #[arg(long)]
    pub(crate) show: bool,
    /// Pace the input at its own frame rate, as a camera would deliver it.
    #[arg(long)]
    pub(crate) realtime: bool,
    #[command(flatten)]
    pub(crate) analysis: AnalysisOptions,
}

#[derive(Args)]
pub(crate) struct CalibrateArgs {
    /// Footage of the person with a neutral face (video, folder of images, one image).
    #[arg(long, short, value_name = "PATH")]
    pub(crate) input: String,
    /// Saved as calibration/NAME.json (see --out).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Write here instead.
    #[arg(long, value_name = "FILE.json")]
    pub(crate) out: Option<PathBuf>,
    /// Take the neutral face from the first N seconds only, as `--calibrate-secs` does
    /// in `run` (`--seconds` is an old name).
    #[arg(long, alias = "seconds", value_name = "N")]
    pub(crate) calibrate_secs: Option<f64>,
    /// Frame rate for timestamps of an image folder.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) fps: f64,
    /// Folder with the weights.
    #[arg(long, value_name = "DIR")]
    pub(crate) models: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Frames per synthetic scenario.
    #[arg(long, default_value_t = 300)]
    pub(crate) frames: u64,
    /// Also write the results as JSON.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) analysis: AnalysisOptions,
}

#[derive(Args)]
pub(crate) struct SynthArgs {
    /// Output folder: labels.csv and images/.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Number of faces to draw.
    #[arg(long, default_value_t = 1000)]
    pub(crate) count: usize,
    /// Random seed: the same seed and settings draw the same faces.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Image side in pixels (`--size` is an old name for it).
    #[arg(long, alias = "size", value_name = "PX", default_value_t = 128)]
    pub(crate) px: u32,
    /// AU frequencies, comma-separated in the order 1,2,4,5,6,9,12,17,20,25,26
    /// (default: EmotioNet's).
    #[arg(long, value_name = "F,F,...")]
    pub(crate) rates: Option<String>,
    /// Also label emotions (half the faces then come from emotion prototypes).
    /// `--emotion` is an old name.
    #[arg(long, alias = "emotion")]
    pub(crate) with_emotions: bool,
}

#[derive(Args)]
pub(crate) struct SubsetArgs {
    /// EmotioNet-style CSV: image path, then AU1..AU26 columns (1, 0, 999/empty unknown).
    #[arg(long, value_name = "FILE.csv")]
    pub(crate) csv: PathBuf,
    /// Folder the CSV's image paths are relative to.
    #[arg(long, value_name = "DIR")]
    pub(crate) images: PathBuf,
    /// Classes: AUs, conjunctions and `neither`, e.g. AU6,AU12 or AU6+AU12,neither.
    #[arg(long, conflicts_with = "happy")]
    pub(crate) classes: Option<String>,
    /// AU6 and AU12 both present vs neither present.
    #[arg(long)]
    pub(crate) happy: bool,
    /// Images per class in the subset (split 70/15/15 into train, val, test).
    #[arg(long, default_value_t = 200)]
    pub(crate) per_class: usize,
    /// Random seed of the draw: the same seed and data give the same subset.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Folder for train.csv, val.csv and test.csv.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
}

#[derive(Args)]
pub(crate) struct TrainArgs {
    /// Training CSV (image path, AU columns, optional emotion).
    #[arg(long, value_name = "FILE.csv")]
    pub(crate) csv: PathBuf,
    /// Validation CSV (early stopping on its macro-F1).
    #[arg(long, value_name = "FILE.csv")]
    pub(crate) val: Option<PathBuf>,
    /// Folder the CSVs' image paths are relative to.
    #[arg(long, value_name = "DIR")]
    pub(crate) images: PathBuf,
    /// Output folder: model.safetensors, model.json, crops cache.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// The trunk: faceapi-expression or faceapi-landmarks (face-api's feature extractor,
    /// pretrained on real faces, 112 px), facex-mobilenetv2 (facex's MobileNetV2, 200 px,
    /// grey), each then fine-tuned, or scratch (facs's small CNN).
    #[arg(long, default_value = "faceapi-expression", value_name = "NAME")]
    pub(crate) backbone: String,
    /// Epochs with every layer learning (on a backbone: after the frozen ones)
    /// [default: 20 from scratch, 5 on a backbone].
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    /// On a backbone: epochs first with the backbone frozen (only the heads learn, on its
    /// features computed once per face, without augmentation) [default: 10; 0 from scratch].
    #[arg(long, value_name = "N")]
    pub(crate) frozen_epochs: Option<usize>,
    /// On a backbone, once unfrozen: its learning rate is the heads' divided by this.
    #[arg(long, default_value_t = 10.0, value_name = "DIV")]
    pub(crate) backbone_lr_div: f64,
    /// Faces per training step.
    #[arg(long, default_value_t = 32)]
    pub(crate) batch: usize,
    /// Peak learning rate of the heads (one-cycle schedule; on a backbone the frozen
    /// phase's, half of it once unfrozen).
    #[arg(long, default_value_t = 3e-3)]
    pub(crate) lr: f64,
    /// Network input side in pixels (a multiple of 8) [default: 48 from scratch, 112 on a
    /// backbone, the only size it takes]. (`--input` is an old name for it).
    #[arg(long, alias = "input", value_name = "PX")]
    pub(crate) px: Option<u32>,
    /// The face crop the network learns on, kept in model.json for the pipeline, eval and
    /// cam: `aligned` (rotated and scaled on the eyes and nose tip, after the landmark
    /// network: the more accurate, see BENCHMARKS.md) or `box` (the expression net's crop of
    /// the detector's box: with the faceapi-expression backbone frozen, one pass beside the
    /// landmark network gives the AUs and the emotions at no extra latency).
    #[arg(long, default_value = "aligned", value_name = "KIND")]
    pub(crate) crop: String,
    /// Channels of the first block (from scratch).
    #[arg(long, default_value_t = 8)]
    pub(crate) width: usize,
    /// Focal loss gamma for the AU head.
    #[arg(long)]
    pub(crate) focal: Option<f64>,
    /// Stop after this many epochs without a better validation macro-F1.
    #[arg(long, default_value_t = 5)]
    pub(crate) patience: usize,
    /// Random seed (sampling, augmentation, initial weights): a run repeats exactly.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// No augmentation (flip, shift, brightness and contrast) in training.
    #[arg(long)]
    pub(crate) no_augment: bool,
    /// Continue the run whose checkpoint is in --out (same settings and data); Ctrl-C stops a
    /// run at the next batch and keeps the last epoch's checkpoint.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Choose per-AU thresholds on the validation set for this precision instead of best F1.
    #[arg(long, value_name = "P")]
    pub(crate) target_precision: Option<f64>,
    /// Folder with the detector and landmark weights.
    #[arg(long, value_name = "DIR")]
    pub(crate) models: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct LrFindArgs {
    /// Training CSV (image path, AU columns, optional emotion).
    #[arg(long, value_name = "FILE.csv")]
    pub(crate) csv: PathBuf,
    /// Folder the CSV's image paths are relative to.
    #[arg(long, value_name = "DIR")]
    pub(crate) images: PathBuf,
    /// Folder for lr_find.png, lr_find.json and the crops cache.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Lowest learning rate of the sweep.
    #[arg(long, default_value_t = 1e-5)]
    pub(crate) min: f64,
    /// Highest learning rate of the sweep (it stops earlier if the loss blows up).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) max: f64,
    /// Steps of the sweep, spaced evenly on a log scale.
    #[arg(long, default_value_t = 100)]
    pub(crate) steps: usize,
    /// Faces per step.
    #[arg(long, default_value_t = 32)]
    pub(crate) batch: usize,
    /// The trunk, as for `facs train`.
    #[arg(long, default_value = "faceapi-expression", value_name = "NAME")]
    pub(crate) backbone: String,
    /// 1: the heads on the frozen backbone; 2: every layer (on a backbone after the frozen
    /// epochs at --lr, as `facs train` runs them) [default: 1 on a backbone, 2 from scratch].
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub(crate) phase: Option<u8>,
    /// Phase 2 on a backbone: frozen epochs trained before the sweep.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub(crate) frozen_epochs: usize,
    /// Phase 2 on a backbone: peak rate of those frozen epochs.
    #[arg(long, default_value_t = 3e-3)]
    pub(crate) lr: f64,
    /// Phase 2 on a backbone: its rate is the swept rate divided by this.
    #[arg(long, default_value_t = 10.0, value_name = "DIV")]
    pub(crate) backbone_lr_div: f64,
    /// Network input side in pixels, as for `facs train` (`--input` is an old name).
    #[arg(long, alias = "input", value_name = "PX")]
    pub(crate) px: Option<u32>,
    /// Channels of the first block (from scratch), as for `facs train`.
    #[arg(long, default_value_t = 8)]
    pub(crate) width: usize,
    /// The face crop, as for `facs train`: aligned or box.
    #[arg(long, default_value = "aligned", value_name = "KIND")]
    pub(crate) crop: String,
    /// Random seed: the same seed and data give the same sweep.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Folder with the detector and landmark weights.
    #[arg(long, value_name = "DIR")]
    pub(crate) models: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct CamArgs {
    /// Folder written by `facs train` (`--model` is an old name).
    #[arg(long, alias = "model", value_name = "DIR")]
    pub(crate) au_model: PathBuf,
    /// EmotioNet-style CSV of the faces to draw maps for.
    #[arg(long, value_name = "FILE.csv")]
    pub(crate) csv: PathBuf,
    /// Folder the CSV's image paths are relative to.
    #[arg(long, value_name = "DIR")]
    pub(crate) images: PathBuf,
    /// Folder for AU01.png ... AU26.png.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Faces per row.
    #[arg(long, default_value_t = 6)]
    pub(crate) per_row: usize,
    /// Folder with the detector and landmark weights.
    #[arg(long, value_name = "DIR")]
    pub(crate) models: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct EvalArgs {
    /// Folder written by `facs train` (with --csv and --images, or with --video; without it
    /// --video is scored with the geometric AU estimator). `--model` is an old name.
    #[arg(long, alias = "model", value_name = "DIR")]
    pub(crate) au_model: Option<PathBuf>,
    /// EmotioNet-style CSV of labelled images (with --images and --au-model).
    #[arg(long, value_name = "FILE.csv", requires_all = ["images", "au_model"], conflicts_with = "labels")]
    pub(crate) csv: Option<PathBuf>,
    /// Folder the --csv image paths are relative to.
    #[arg(long, value_name = "DIR", requires = "csv")]
    pub(crate) images: Option<PathBuf>,
    /// Labels of frames: `frame` (1-based), AU columns, optional `face_id` and `emotion`
    /// (with --log or --video).
    #[arg(long, value_name = "FILE.csv")]
    pub(crate) labels: Option<PathBuf>,
    /// A facs log (CSV or JSONL) to score against --labels.
    #[arg(long, value_name = "FILE", requires = "labels", conflicts_with_all = ["video", "au_model"])]
    pub(crate) log: Option<PathBuf>,
    /// Footage (video file or frame folder) to run and score against --labels; its log is
    /// kept as run.csv in the report folder.
    #[arg(long, value_name = "PATH", requires = "labels")]
    pub(crate) video: Option<String>,
    /// Frame rate of a frame folder given to --video.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) fps: f64,
    /// Folder for report.md, report.json and the PNG plots (`--report` is an old name).
    #[arg(long, alias = "report", value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Folder with the detector and landmark weights.
    #[arg(long, value_name = "DIR")]
    pub(crate) models: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct BatchArgs {
    /// Folder of recordings: video files, folders of frames (and images, as one recording).
    #[arg(long, short, value_name = "DIR")]
    pub(crate) input: PathBuf,
    /// Folder for each recording's <name>.csv and <name>.meta.json.
    #[arg(long, value_name = "DIR", required_unless_present = "list")]
    pub(crate) out: Option<PathBuf>,
    /// Frame rate for timestamps of folders of frames.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) fps: f64,
    /// Also write each recording's rows as <name>.jsonl.
    #[arg(long)]
    pub(crate) with_jsonl: bool,
    /// Print the recordings' names in batch order, one per line (a manifest), and stop.
    #[arg(long)]
    pub(crate) list: bool,
    /// Run only the Kth recording of that order, counted from 1 (a cluster array task).
    #[arg(long, value_name = "K")]
    pub(crate) task: Option<usize>,
    #[command(flatten)]
    pub(crate) analysis: AnalysisOptions,
}

#[derive(Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Args)]
pub(crate) struct PlotArgs {
    /// A CSV log written by `facs run --log` (or demo, live).
    #[arg(value_name = "LOG.csv")]
    pub(crate) log: PathBuf,
    /// The PNG to write.
    #[arg(long, value_name = "FILE.png")]
    pub(crate) out: PathBuf,
    /// The face id to plot (default: the face in most frames).
    #[arg(long, value_name = "ID")]
    pub(crate) face: Option<u64>,
}

#[derive(Args)]
pub(crate) struct ModelsArgs {
    /// Folder with the weights.
    #[arg(long, value_name = "DIR")]
    pub(crate) models: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// One meaning per flag name: a flag that several commands take has the same kind of
    /// value in each (a path, or the same value name), so `--input` is footage everywhere
    /// and `--px` a size in pixels; the old names stay as hidden aliases.
    #[test]
    fn a_flag_name_means_one_thing_in_every_command() {
        use std::collections::BTreeMap;
        let cmd = Cli::command();
        let mut kinds: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                let value = if arg.get_action().takes_values() {
                    arg.get_value_names()
                        .and_then(|v| v.first())
                        .map_or(String::new(), |v| v.to_string())
                } else {
                    "(a switch)".to_string()
                };
                let path = ["PATH", "DIR", "FILE"].iter().any(|p| value.contains(p));
                let kind = if path { "a path".to_string() } else { value };
                kinds
                    .entry(long.to_string())
                    .or_default()
                    .entry(kind)
                    .or_default()
                    .push(sub.get_name().to_string());
            }
        }
        let mixed: Vec<_> = kinds.iter().filter(|(_, k)| k.len() > 1).collect();
        assert!(mixed.is_empty(), "flags with two meanings: {mixed:?}");
        // The renamed flags answer to their old names, which --help no longer shows.
        for (args, id) in [
            (
                &[
                    "facs", "train", "--csv", "a", "--images", "b", "--out", "c", "--input", "48",
                ][..],
                "px",
            ),
            (&["facs", "synth", "--out", "o", "--size", "64"], "px"),
            (
                &[
                    "facs", "eval", "--labels", "l", "--log", "g", "--report", "r",
                ],
                "out",
            ),
            (
                &[
                    "facs", "cam", "--model", "m", "--csv", "a", "--images", "b", "--out", "c",
                ],
                "au_model",
            ),
            (
                &[
                    "facs",
                    "calibrate",
                    "--input",
                    "v",
                    "--out",
                    "n.json",
                    "--seconds",
                    "2",
                ],
                "calibrate_secs",
            ),
        ] {
            let m = Cli::command().try_get_matches_from(args).unwrap();
            let (_, sub) = m.subcommand().unwrap();
            assert!(sub.contains_id(id), "{args:?}");
        }
        let mut help = Vec::new();
        Cli::command()
            .find_subcommand_mut("train")
            .unwrap()
            .write_long_help(&mut help)
            .unwrap();
        let help = String::from_utf8(help).unwrap();
        assert!(
            help.contains("--px <PX>") && !help.contains("--input <"),
            "{help}"
        );
    }

    /// Every `facs` command in the README's shell blocks parses: no flag the README shows has
    /// been renamed or removed. (`...` stands for a command's required options.)
    #[test]
    fn every_command_in_the_readme_parses() {
        use clap::Parser;
        let readme = include_str!("../README.md");
        let (mut in_sh, mut checked, mut bad) = (false, 0, Vec::new());
        for line in readme.lines() {
            if line.starts_with("```") {
                in_sh = line.starts_with("```sh");
                continue;
            }
            let cmd = line.split(" #").next().unwrap_or("");
            let cmd = cmd.split(" > ").next().unwrap_or("").trim();
            let Some(rest) = cmd.strip_prefix("facs ").filter(|_| in_sh) else {
                continue;
            };
            let rest = rest
                .replace(['[', ']'], "")
                .replace("\"$SLURM_ARRAY_TASK_ID\"", "1")
                .replace(" ...", " --csv a.csv --images img --out o");
            let args = std::iter::once("facs").chain(rest.split_whitespace());
            if let Err(e) = Cli::try_parse_from(args) {
                bad.push(format!("{cmd}\n{e}"));
            }
            checked += 1;
        }
        // 41 commands in the README on 2026-12-02.
        assert!(checked >= 30, "only {checked} commands found");
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    /// Every flag and argument of every command says what it is for in `--help`.
    #[test]
    fn every_flag_has_help_text() {
        let cmd = Cli::command();
        let mut missing = Vec::new();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && !arg.is_hide_set() && arg.get_help().is_none() {
                    missing.push(format!("facs {} --{}", sub.get_name(), arg.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "flags without help text: {missing:?}");
    }
}
