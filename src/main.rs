//! The `facs` command line: clap -> configuration -> run. anyhow lives only here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;

use facs::align::AuCrop;
use facs::calibrate::thresholds::calibration_file;
use facs::calibrate::{default_calibration_dir, resolve, CalibrationOptions};
use facs::classify::ClassifierOptions;
use facs::config::{parse_size, PipelineConfig, StillConfig};
use facs::log::LogFormat;
use facs::model::au_net::{AuNetConfig, Backbone};
use facs::model::emotion::EmotionModel;
use facs::model::{default_models_dir, verify_all};
use facs::neutral::measure_neutral;
use facs::pipeline::{Control, PipelineSpec};
use facs::session::{self, SessionOptions};
use facs::source::{list_cameras, CameraBackend, CameraSpec, SourceSpec, Stills};
use facs::train::dataset::SubsetSpec;
use facs::train::synth::SynthConfig;
use facs::util::progress::ProgressFn;
use facs::window::display_available;

mod bars;
mod cli;
mod signals;

use cli::{AnalysisOptions, Cli, Cmd};

/// How a command that did not fail ended; each has its exit code (README, "Exit codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Exit 0.
    Complete,
    /// The run completed but frames of the input were unreadable or missing: exit 3.
    InputDamaged,
    /// A signal stopped it: exit 128 + the signal (130 Ctrl-C, 143 SIGTERM).
    Interrupted,
}

/// Exit code of a run that completed on damaged input.
const EXIT_INPUT_DAMAGED: u8 = 3;

// Training allocates and frees batch-sized tensors (tens of MB) every step; glibc returns
// those to the kernel and the next step pays for fresh zeroed pages (a third of a step's
// time in a profile). mimalloc keeps them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn spec(
    config: PipelineConfig,
    source: SourceSpec,
    analysis: &AnalysisOptions,
    realtime: bool,
) -> anyhow::Result<PipelineSpec> {
    let emotion = match analysis.emotion.as_str() {
        "none" => None,
        name => Some(name.parse::<EmotionModel>()?),
    };
    let models_dir = analysis.models.clone().unwrap_or_else(default_models_dir);
    let au_model = analysis.au_model.clone().or_else(|| {
        let dir = models_dir.join(USER_AU_MODEL);
        dir.join("model.json").is_file().then_some(dir)
    });
    if analysis.cam.is_some() && au_model.is_none() {
        // A usage error (exit 2, as clap's own): the maps are a trained network's.
        use clap::CommandFactory;
        cli::Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--cam needs a trained AU network: the maps are its own; train one with \
                 `facs train` and pass its folder with --au-model (the geometric AU estimator \
                 has no activation maps)",
            )
            .exit();
    }
    Ok(PipelineSpec {
        config,
        source,
        models_dir,
        classifier: ClassifierOptions {
            emotion,
            emotion_margin: None,
            landmarks: !analysis.no_landmarks,
            calibration: CalibrationOptions {
                file: analysis
                    .calibration
                    .as_deref()
                    .map(|c| resolve(c, &default_calibration_dir())),
                calibrate_secs: analysis.calibrate_secs,
            },
            au_model,
            // The pipeline sets these from its mode and settings.
            carry_alignment: false,
            still: StillConfig::OFF,
        },
        realtime,
    })
}

fn apply(mut config: PipelineConfig, analysis: &AnalysisOptions) -> PipelineConfig {
    if let Some(px) = analysis.min_face {
        config.detect.min_face_px = px;
    }
    if let Some(n) = analysis.full_every {
        config.detect.full_every = n;
    }
    if let Some(n) = analysis.still_reuse {
        config.still.max_reuse = n;
    }
    config.max_frames = analysis.max_frames;
    config
}

fn run_session(
    pipeline: PipelineSpec,
    analysis: &AnalysisOptions,
    show: bool,
    interrupt: Arc<AtomicBool>,
    progress: &ProgressFn,
) -> anyhow::Result<Ending> {
    let log_format = log_format(analysis)?;
    if log_format == LogFormat::OpenFace && analysis.log.is_none() {
        bail!(
            "--format openface is OpenFace's CSV convention: give --log FILE.csv (a --jsonl \
             beside it gets the same columns)"
        );
    }
    let opts = SessionOptions {
        pipeline,
        log_csv: analysis.log.clone(),
        log_jsonl: analysis.jsonl.clone(),
        log_format,
        annotate: analysis.annotate.clone(),
        annotate_every: analysis.annotate_every,
        show_window: show,
        show_landmarks: analysis.draw_landmarks,
        cam: analysis.cam,
        overwrite: analysis.overwrite,
    };
    let summary = session::run(opts, Control::with_interrupt(interrupt), Some(progress))?;
    print!("{}", summary.render());
    if summary.interrupted {
        return Ok(Ending::Interrupted);
    }
    if summary.input_damaged() {
        let mut what = Vec::new();
        match summary.frames_skipped {
            0 => {}
            1 => what.push("1 frame skipped as unreadable".to_string()),
            n => what.push(format!("{n} frames skipped as unreadable")),
        }
        what.extend(summary.warnings.iter().cloned());
        eprintln!(
            "facs: warning: the run completed on damaged input ({}): exit code {EXIT_INPUT_DAMAGED}",
            what.join("; ")
        );
        return Ok(Ending::InputDamaged);
    }
    Ok(Ending::Complete)
}

/// The log format `--format` names.
fn log_format(analysis: &AnalysisOptions) -> anyhow::Result<LogFormat> {
    Ok(analysis.format.parse::<LogFormat>()?)
}

/// `facs batch`: every recording of a folder, one after the other.
fn run_batch(
    args: cli::BatchArgs,
    stop: Arc<AtomicBool>,
    progress: &ProgressFn,
) -> anyhow::Result<Ending> {
    let a = &args.analysis;
    if a.log.is_some() || a.jsonl.is_some() || a.annotate.is_some() {
        bail!(
            "facs batch names its logs itself (<out>/<recording>.csv, and .jsonl with \
             --with-jsonl); --log, --jsonl and --annotate are for facs run"
        );
    }
    let mut recordings = facs::batch::find_recordings(&args.input, args.fps)?;
    if args.list {
        for r in &recordings {
            println!("{}", r.name);
        }
        return Ok(Ending::Complete);
    }
    let Some(out_dir) = args.out.clone() else {
        bail!("give --out DIR for the logs");
    };
    if let Some(k) = args.task {
        if k == 0 || k > recordings.len() {
            bail!(
                "--task {k}: {} holds {} recordings, numbered 1 to {} (facs batch --list shows them)",
                args.input.display(),
                recordings.len(),
                recordings.len()
            );
        }
        recordings = vec![recordings.swap_remove(k - 1)];
    }
    let config = apply(PipelineConfig::offline(), a);
    // The source is replaced by each recording's.
    let placeholder = SourceSpec::Images {
        dir: args.input.clone(),
        fps: args.fps,
        stills: Stills::Auto,
    };
    let opts = facs::batch::BatchOptions {
        out_dir,
        template: spec(config, placeholder, a, false)?,
        jsonl: args.with_jsonl,
        log_format: log_format(a)?,
        redo: a.overwrite,
    };
    let n = recordings.len();
    let mut i = 0;
    let results = facs::batch::run(&recordings, &opts, &stop, Some(progress), &mut |r| {
        i += 1;
        let why = r
            .error
            .as_deref()
            .map_or_else(String::new, |e| format!(": {e}"));
        println!("[{i}/{n}] {}: {}{why}", r.name, r.status.as_str());
    })?;
    print!("\n{}", facs::batch::render_table(&results));
    use facs::batch::Status;
    if results.iter().any(|r| r.status == Status::Interrupted) {
        return Ok(Ending::Interrupted);
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.status == Status::Failed)
        .map(|r| r.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} recordings failed: {} (their errors are above; rerun to retry them)",
            failed.len(),
            results.len(),
            failed.join(", ")
        );
    }
    if results.iter().any(|r| r.status == Status::Damaged) {
        eprintln!(
            "facs: warning: some recordings had unreadable frames (see their sidecars): exit code {EXIT_INPUT_DAMAGED}"
        );
        return Ok(Ending::InputDamaged);
    }
    Ok(Ending::Complete)
}

/// The line under every figure and at the top of every report: what was scored on what,
/// when, and whether the model saw only synthetic faces.
fn figure_caption(model: &str, data: &str, synthetic_only: bool) -> String {
    let date = facs::util::time::utc_date(std::time::SystemTime::now());
    let warning = if synthetic_only {
        " · TRAINED ON SYNTHETIC FACES ONLY"
    } else {
        ""
    };
    format!("{model} · {data} · {date}{warning}")
}

/// `facs live --list`: the cameras the system reports, one a line.
fn print_cameras() {
    match list_cameras() {
        Ok(c) if c.is_empty() => println!("no cameras found"),
        Ok(c) => {
            for line in c {
                println!("{line}");
            }
        }
        Err(e) => println!("listing cameras failed: {e}"),
    }
}

fn folder_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn print_eval_result(report: &facs::train::metrics::EvalReport, dir: &Path) {
    let macro_f1 = report.macro_f1.map_or_else(
        || "n/a (no AU with a positive)".into(),
        |f| format!("{f:.3}"),
    );
    println!(
        "macro-F1 {macro_f1}, micro-F1 {:.3}; report in {}",
        report.micro_f1,
        dir.display()
    );
}

/// `facs eval --labels`: scores a log (given, or written by a run on `--video` into the
/// report folder) against labelled frames.
fn eval_frames(
    args: &cli::EvalArgs,
    labels_path: &Path,
    models_dir: PathBuf,
    stop: Arc<AtomicBool>,
    progress: &ProgressFn,
) -> anyhow::Result<Ending> {
    use facs::train::lab;
    // The labels are read first: a mistake in them is found before a long run.
    let labels = lab::load_labels(labels_path)?;
    let log_path = match (&args.log, &args.video) {
        (Some(log), _) => log.clone(),
        (None, Some(video)) => {
            std::fs::create_dir_all(&args.out)
                .with_context(|| format!("creating {}", args.out.display()))?;
            let log = args.out.join("run.csv");
            let opts = SessionOptions {
                pipeline: PipelineSpec {
                    config: PipelineConfig::offline(),
                    source: SourceSpec::from_input(video, args.fps)?,
                    models_dir,
                    classifier: ClassifierOptions {
                        au_model: args.au_model.clone(),
                        ..ClassifierOptions::default()
                    },
                    realtime: false,
                },
                log_csv: Some(log.clone()),
                log_jsonl: None,
                log_format: LogFormat::Facs,
                annotate: None,
                annotate_every: 1,
                show_window: false,
                show_landmarks: false,
                cam: None,
                // run.csv belongs to this report folder, as report.md does.
                overwrite: true,
            };
            let summary = session::run(opts, Control::with_interrupt(stop), Some(progress))?;
            print!("{}", summary.render());
            if summary.interrupted {
                return Ok(Ending::Interrupted);
            }
            log
        }
        (None, None) => bail!("--labels needs the results to score: --log FILE or --video PATH"),
    };
    let log = lab::load_log(&log_path)?;
    let scores = lab::score(&labels, &log, &log_path)?;
    for note in scores.matching.notes() {
        eprintln!("facs: {note}");
    }
    if !labels.ignored_aus.is_empty() {
        eprintln!(
            "facs: not scored (facs does not estimate them): {}",
            labels.ignored_aus.join(", ")
        );
    }
    let preamble = format!(
        "# Scores on labelled frames\n\n{}",
        scores.matching.to_markdown(labels_path, &log_path)
    );
    let caption = figure_caption(
        &format!("log {}", log_path.display()),
        &format!(
            "labels {} ({} frames)",
            labels_path.display(),
            scores.samples.len()
        ),
        false,
    );
    let report = facs::train::report::write_scores_report(
        &args.out,
        &preamble,
        &caption,
        &scores.samples,
        &scores.thresholds,
    )?;
    let matching = args.out.join("matching.json");
    facs::util::json::write_json_atomic(&matching, &serde_json::to_value(&scores.matching)?)?;
    print_eval_result(&report, &args.out);
    Ok(Ending::Complete)
}

/// The network's shape for `--backbone`, `--input` and `--width`: 48 px from scratch unless
/// given, a backbone's own input size (validated later) otherwise.
fn net_config(backbone: Backbone, input: Option<u32>, width: usize) -> AuNetConfig {
    let mut net = AuNetConfig::for_backbone(backbone);
    net.input = input.unwrap_or(net.input);
    net.width = width;
    net
}

/// The folder in models/ where a user's trained AU network is picked up without
/// `--au-model` (facs ships none: its only trainable data are synthetic faces).
const USER_AU_MODEL: &str = "au-net";

/// Loads an EmotioNet-style CSV and prepares its faces as the pipeline does (cached in
/// `cache`), printing the dataset summary and what could not be used.
fn load_faces(
    csv: &Path,
    images: &Path,
    models: &Path,
    side: u32,
    crop: AuCrop,
    cache: &Path,
    progress: &ProgressFn,
) -> anyhow::Result<facs::train::faces::Prepared> {
    let ds = facs::train::dataset::load_csv(csv, images, false)?;
    print!("{}: {}", csv.display(), ds.summary());
    let p = facs::train::faces::prepare_with_progress(
        &ds.samples,
        models,
        side,
        crop,
        Some(cache),
        Some(progress),
    )?;
    println!(
        "  {} faces ready ({} from cache), {} images without a face, {} unreadable",
        p.len(),
        p.skipped.from_cache,
        p.skipped.no_face.len(),
        p.skipped.unreadable.len()
    );
    for (path, why) in p.skipped.unreadable.iter().take(10) {
        println!("  unreadable {}: {why}", path.display());
    }
    Ok(p)
}

/// Makes candle run each network on the calling thread (unless RAYON_NUM_THREADS is set).
/// The pipeline already runs detection and classification on their own threads; candle's
/// default thread pool on top of that oversubscribes the cores and made a 112 px network
/// ~10x slower on 2 cores. Called before any tensor work (rayon reads the variable once).
fn use_one_thread_per_network() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // At start-up, before any other thread exists.
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
}

fn main() -> ExitCode {
    // Piped into `head` and friends, end quietly when the reader goes, as other command-line
    // tools do, instead of panicking on a failed print.
    #[cfg(unix)]
    // SAFETY: restoring the default action of one signal at start-up, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let result = real_main();
    let signal = signals::received();
    match result {
        Ok(Ending::Complete) => ExitCode::SUCCESS,
        Ok(Ending::InputDamaged) => ExitCode::from(EXIT_INPUT_DAMAGED),
        Ok(Ending::Interrupted) => {
            let sig = signal.unwrap_or(libc::SIGINT);
            eprintln!("facs: interrupted by {}", signal_name(sig));
            ExitCode::from(signals::exit_code(sig))
        }
        Err(e) => {
            eprintln!("facs: error: {e:#}");
            // A command stopped by a signal ends as one, even when stopping made it fail.
            ExitCode::from(signal.map_or(1, signals::exit_code))
        }
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT (Ctrl-C)".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

fn real_main() -> anyhow::Result<Ending> {
    let cli = Cli::parse();
    // The pipeline runs its networks on its own stage threads, one network per thread;
    // training and evaluation run one big batch at a time and want every core.
    if !matches!(
        cli.command,
        Cmd::Train(_) | Cmd::LrFind(_) | Cmd::Cam(_) | Cmd::Eval(_)
    ) {
        use_one_thread_per_network();
    }
    let stop = Arc::new(AtomicBool::new(false));
    signals::install(stop.clone()).context("installing the Ctrl-C and SIGTERM handlers")?;
    let bars = Arc::new(bars::Bars::new(cli.quiet));
    let progress = move |p| bars.show(p);
    match cli.command {
        Cmd::Demo(args) => {
            let config = apply(PipelineConfig::live(), &args.analysis);
            let show = !args.headless && display_available();
            // In a window the clip plays until q, Esc or closing the window; headless, once.
            let source = SourceSpec::Demo {
                fps: facs::source::DEMO_FPS,
                looping: show,
            };
            if !show {
                println!("facs demo: no display, running headless (the summary follows)");
            }
            run_session(
                spec(config, source, &args.analysis, true)?,
                &args.analysis,
                show,
                stop,
                &progress,
            )
        }
        Cmd::Live(args) => {
            if args.list {
                print_cameras();
                return Ok(Ending::Complete);
            }
            let (width, height) = parse_size(&args.size)?;
            if args.fps == 0 || args.fps > 1000 {
                bail!("invalid fps {} (expected 1..=1000)", args.fps);
            }
            let source = SourceSpec::Camera(CameraSpec {
                device: args.device.clone(),
                backend: args.camera_backend.parse::<CameraBackend>()?,
                ..CameraSpec::new(args.camera, width, height, args.fps)
            });
            let config = apply(PipelineConfig::live(), &args.analysis);
            let show = !args.headless && display_available();
            run_session(
                spec(config, source, &args.analysis, false)?,
                &args.analysis,
                show,
                stop,
                &progress,
            )
        }
        Cmd::Run(args) => {
            let source = SourceSpec::from_input(&args.input, args.fps)?
                .with_stills(args.stills.parse::<Stills>()?)?;
            let config = apply(PipelineConfig::offline(), &args.analysis);
            run_session(
                spec(config, source, &args.analysis, args.realtime)?,
                &args.analysis,
                args.show,
                stop,
                &progress,
            )
        }
        Cmd::Calibrate(args) => {
            let out = match (&args.out, &args.name) {
                (Some(p), _) => p.clone(),
                (None, Some(n)) => default_calibration_dir().join(format!("{n}.json")),
                (None, None) => {
                    bail!("give --name NAME (saved in calibration/) or --out FILE.json")
                }
            };
            let source = SourceSpec::from_input(&args.input, args.fps)?;
            let pipeline = PipelineSpec {
                config: PipelineConfig::offline(),
                source,
                models_dir: args.models.unwrap_or_else(default_models_dir),
                classifier: ClassifierOptions::default(),
                realtime: false,
            };
            let file = measure_neutral(pipeline, args.calibrate_secs, Some(&progress))?;
            file.save(&out)?;
            println!(
                "neutral baseline from {} frames of {} written to {}",
                file.frames,
                file.source,
                out.display()
            );
            for w in &file.warnings {
                eprintln!("warning: {w}");
            }
            Ok(Ending::Complete)
        }
        Cmd::Bench(args) => {
            // Bench shares the analysis options but writes no rows.
            let a = &args.analysis;
            for (flag, given) in [
                ("--log", a.log.is_some()),
                ("--jsonl", a.jsonl.is_some()),
                ("--annotate", a.annotate.is_some()),
            ] {
                if given {
                    use clap::CommandFactory;
                    Cli::command()
                        .error(
                            clap::error::ErrorKind::ArgumentConflict,
                            format!(
                                "facs bench writes no rows, so {flag} has nothing to write; \
                                 log a run with `facs run` or `facs demo {flag} ...`"
                            ),
                        )
                        .exit();
                }
            }
            let config = apply(PipelineConfig::live(), &args.analysis);
            let base = spec(
                config.clone(),
                SourceSpec::Demo {
                    fps: facs::source::DEMO_FPS,
                    looping: false,
                },
                &args.analysis,
                false,
            )?;
            let report = facs::bench::run(
                &facs::bench::default_scenarios(args.frames),
                base.models_dir,
                base.classifier,
                config,
            )?;
            print!("{}", report.render());
            if let Some(path) = &args.json {
                let value = serde_json::to_value(&report)?;
                facs::util::json::write_json_atomic(path, &value)?;
                println!("written to {}", path.display());
            }
            Ok(Ending::Complete)
        }
        Cmd::Synth(args) => {
            let mut cfg = SynthConfig {
                count: args.count,
                seed: args.seed,
                size: args.px,
                emotion: args.with_emotions,
                ..SynthConfig::default()
            };
            if let Some(text) = &args.rates {
                let rates: Vec<f32> = text
                    .split(',')
                    .map(|r| r.trim().parse::<f32>())
                    .collect::<Result<_, _>>()
                    .context("--rates: 11 numbers separated by commas")?;
                cfg.au_rates = rates.try_into().map_err(|v: Vec<f32>| {
                    anyhow::anyhow!("--rates: expected 11 rates, got {}", v.len())
                })?;
            }
            let summary = facs::train::synth::write_dataset(&cfg, &args.out)?;
            print!("{summary}");
            Ok(Ending::Complete)
        }
        Cmd::Subset(args) => {
            let ds = facs::train::dataset::load_csv(&args.csv, &args.images, false)?;
            print!("{}", ds.summary());
            let spec = if args.happy {
                SubsetSpec::Happy {
                    per_class: args.per_class,
                }
            } else {
                let text = args
                    .classes
                    .as_deref()
                    .context("give --classes AU6,AU12 (or --happy)")?;
                SubsetSpec::Classes {
                    classes: facs::train::dataset::parse_classes(text)?,
                    per_class: args.per_class,
                }
            };
            let splits = facs::train::dataset::subset(&ds, &spec, args.seed)?;
            let empty: Vec<&str> = [
                ("train", &splits.train),
                ("val", &splits.val),
                ("test", &splits.test),
            ]
            .iter()
            .filter(|(_, part)| part.is_empty())
            .map(|(name, _)| *name)
            .collect();
            if !empty.is_empty() {
                let why = match (ds.samples.is_empty(), ds.missing_images.first()) {
                    (true, Some((line, path))) => format!(
                        "no row of {} names an image that exists under {} ({} missing; first, \
                         line {line}: {}). The image column holds file paths relative to \
                         --images: download the images first (README, \"Your own labels and \
                         EmotioNet\")",
                        args.csv.display(),
                        args.images.display(),
                        ds.missing_images.len(),
                        path.display()
                    ),
                    (true, None) => format!("{} has no usable row", args.csv.display()),
                    (false, _) => format!(
                        "{} usable rows are too few for the classes and --per-class asked for",
                        ds.samples.len()
                    ),
                };
                let url = ds
                    .missing_images
                    .first()
                    .is_some_and(|(_, p)| p.to_string_lossy().contains("://"));
                let why = if url && ds.samples.is_empty() {
                    format!("{why}; the image column holds URLs, not files")
                } else {
                    why
                };
                let splits_word = if empty.len() > 1 {
                    "splits would be"
                } else {
                    "split would be"
                };
                bail!(
                    "nothing written: the {} {splits_word} empty: {why}",
                    empty.join(", ")
                );
            }
            for (name, part) in [
                ("train", &splits.train),
                ("val", &splits.val),
                ("test", &splits.test),
            ] {
                facs::train::dataset::write_csv(
                    part,
                    &args.images,
                    &args.out.join(format!("{name}.csv")),
                )?;
            }
            print!("{splits}");
            println!("written to {}", args.out.display());
            Ok(Ending::Complete)
        }
        Cmd::Train(args) => {
            let backbone: Backbone = args.backbone.parse()?;
            let scratch = backbone == Backbone::Scratch;
            let cfg = facs::train::trainer::TrainConfig {
                net: net_config(backbone, args.px, args.width),
                epochs: args.epochs.unwrap_or(if scratch { 20 } else { 5 }),
                frozen_epochs: args.frozen_epochs.unwrap_or(if scratch { 0 } else { 10 }),
                backbone_lr_div: args.backbone_lr_div,
                batch: args.batch,
                lr: args.lr,
                focal_gamma: args.focal,
                patience: args.patience,
                augment: !args.no_augment,
                seed: args.seed,
                crop: args.crop.parse()?,
                ..Default::default()
            };
            // Settings that cannot make a model are refused before any data is read.
            cfg.validate()?;
            if let Some(p) = args.target_precision {
                facs::train::trainer::validate_target_precision(p)?;
            }
            let models = args.models.clone().unwrap_or_else(default_models_dir);
            let cache = args.out.join("crops");
            let (input, crop) = (cfg.net.input, cfg.crop);
            let load = |csv: &PathBuf| {
                load_faces(csv, &args.images, &models, input, crop, &cache, &progress)
            };
            let train = load(&args.csv)?;
            let val = match &args.val {
                Some(v) => load(v)?,
                None => facs::train::faces::Prepared::default(),
            };
            if !scratch && cfg.epochs > 0 && train.synthetic > 0 && train.synthetic == train.len() {
                eprintln!(
                    "facs: note: every training face is synthetic, and phase 2 ({} epochs) \
                     fine-tunes the pretrained backbone on them: in BENCHMARKS.md (\"What the \
                     synthetic score hides\") that raised the score on synthetic faces and \
                     lowered it on real ones; --epochs 0 keeps the backbone frozen",
                    cfg.epochs
                );
            }
            let run = facs::train::trainer::RunControl {
                progress: Some(&progress),
                resume: args.resume,
                stop: Some(&stop),
                max_epochs: None,
                models: Some(models.clone()),
            };
            let outcome = facs::train::trainer::train(&cfg, &train, &val, &args.out, &run)?;
            if outcome.interrupted {
                eprintln!(
                    "facs: stopped after epoch {}; the best weights so far are in {}; continue with the same command and --resume",
                    outcome.info.history.last().map_or(0, |h| h.epoch),
                    args.out.display()
                );
                return Ok(Ending::Interrupted);
            }
            let info = outcome.info;
            println!(
                "best epoch {} of {}; model in {}",
                info.best_epoch,
                info.history.len(),
                args.out.display()
            );
            if !val.is_empty() {
                let cal = calibration_file(&args.out, &default_calibration_dir());
                let t = facs::train::trainer::calibrate_thresholds(
                    &args.out,
                    &val,
                    args.target_precision,
                    Some(&cal),
                )?;
                println!(
                    "thresholds ({}) on {} validation faces written to {}",
                    t.rule,
                    t.faces,
                    cal.display()
                );
            }
            Ok(Ending::Complete)
        }
        Cmd::LrFind(args) => {
            let backbone: Backbone = args.backbone.parse()?;
            let scratch = backbone == Backbone::Scratch;
            let cfg = facs::train::trainer::TrainConfig {
                net: net_config(backbone, args.px, args.width),
                frozen_epochs: if scratch { 0 } else { args.frozen_epochs },
                backbone_lr_div: args.backbone_lr_div,
                lr: args.lr,
                batch: args.batch,
                seed: args.seed,
                crop: args.crop.parse()?,
                ..Default::default()
            };
            cfg.validate()?;
            let phase = match args.phase.unwrap_or(if scratch { 2 } else { 1 }) {
                1 => facs::train::trainer::Phase::Frozen,
                _ => facs::train::trainer::Phase::Unfrozen,
            };
            facs::train::trainer::validate_lr_range(args.min, args.max, args.steps)?;
            let models = args.models.clone().unwrap_or_else(default_models_dir);
            let data = load_faces(
                &args.csv,
                &args.images,
                &models,
                cfg.net.input,
                cfg.crop,
                &args.out.join("crops"),
                &progress,
            )?;
            let r = facs::train::trainer::lr_find(
                &cfg,
                &data,
                args.min,
                args.max,
                args.steps,
                phase,
                &models,
                &args.out,
                Some(&progress),
            )?;
            let caption = figure_caption(
                &format!(
                    "range test, {} network, phase {}",
                    cfg.net.backbone,
                    if matches!(phase, facs::train::trainer::Phase::Frozen) {
                        1
                    } else {
                        2
                    }
                ),
                &format!("data {} ({} faces)", args.csv.display(), data.len()),
                false,
            );
            let png = facs::train::report::write_lr_find(&args.out, &r, &caption)?;
            match r.suggested {
                Some(lr) => println!(
                    "suggested learning rate {lr:.2e} (steepest fall of the loss); plot in {}",
                    png.display()
                ),
                None => println!(
                    "the loss never fell over this range; widen it (plot in {})",
                    png.display()
                ),
            }
            Ok(Ending::Complete)
        }
        Cmd::Cam(args) => {
            let models = args.models.clone().unwrap_or_else(default_models_dir);
            let (net, info, sha256) = facs::train::trainer::load_with_sha256(&args.au_model)?;
            let data = load_faces(
                &args.csv,
                &args.images,
                &models,
                info.config.net.input,
                info.config.crop,
                &args.au_model.join("crops"),
                &progress,
            )?;
            let samples = facs::train::trainer::predict(&net, &data, 64)?;
            let caption = figure_caption(
                &format!(
                    "model {} ({})",
                    folder_name(&args.au_model),
                    &sha256[..sha256.len().min(12)]
                ),
                &format!("data {} ({} faces)", args.csv.display(), data.len()),
                info.synthetic_training_data,
            );
            let files = facs::train::cam::write_galleries(
                &net,
                &data,
                &samples,
                &args.out,
                args.per_row.max(1),
                &caption,
            )?;
            println!(
                "{} galleries from {} faces written to {}",
                files.len(),
                data.len(),
                args.out.display()
            );
            print!("{}", facs::train::report::peak_table(&net, &data)?);
            Ok(Ending::Complete)
        }
        Cmd::Eval(args) => {
            let models = args.models.clone().unwrap_or_else(default_models_dir);
            if let Some(labels) = &args.labels {
                return eval_frames(&args, labels, models, stop, &progress);
            }
            let (Some(model), Some(csv), Some(images)) = (&args.au_model, &args.csv, &args.images)
            else {
                bail!(
                    "give --au-model DIR --csv FILE --images DIR (labelled images), or --labels FILE \
                     with --log FILE or --video PATH (labelled frames)"
                );
            };
            let (net, info, sha256) = facs::train::trainer::load_with_sha256(model)?;
            let data = load_faces(
                csv,
                images,
                &models,
                info.config.net.input,
                info.config.crop,
                &model.join("crops"),
                &progress,
            )?;
            let samples = facs::train::trainer::predict(&net, &data, 64)?;
            let thresholds = facs::calibrate::thresholds::load_thresholds(model, &sha256)?;
            let caption = figure_caption(
                &format!(
                    "model {} ({})",
                    folder_name(model),
                    &sha256[..sha256.len().min(12)]
                ),
                &format!("data {} ({} faces)", csv.display(), data.len()),
                info.synthetic_training_data,
            );
            let report = facs::train::report::write_eval_report(
                &args.out,
                &info,
                &samples,
                &thresholds,
                &caption,
            )?;
            print_eval_result(&report, &args.out);
            Ok(Ending::Complete)
        }
        Cmd::Batch(args) => run_batch(args, stop, &progress),
        Cmd::Completions(args) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(args.shell, &mut cmd, "facs", &mut std::io::stdout());
            Ok(Ending::Complete)
        }
        Cmd::Plot(args) => {
            let s = facs::train::timeline::plot_log(&args.log, &args.out, args.face)?;
            if let Some((line, why)) = s.bad_rows.first() {
                eprintln!(
                    "facs: {} unreadable row(s) of {} skipped (first: line {line}: {why})",
                    s.bad_rows.len(),
                    args.log.display()
                );
            }
            println!(
                "face {} ({} of {} frames) drawn in {}",
                s.face_id,
                s.frames_with_face,
                s.frames,
                s.out.display()
            );
            Ok(Ending::Complete)
        }
        Cmd::Models(args) => {
            let dir = args.models.unwrap_or_else(default_models_dir);
            println!(
                "models: files in {} override the copies built into facs",
                dir.display()
            );
            let mut bad = 0;
            for s in verify_all(&dir) {
                println!(
                    "{:<20} {:<4} {}  {}  [{}]",
                    s.name, s.status, s.sha256, s.role, s.origin
                );
                bad += usize::from(s.status != "ok");
            }
            match list_cameras() {
                Ok(c) if c.is_empty() => println!("cameras: none found"),
                Ok(c) => println!("cameras: {}", c.join(", ")),
                Err(e) => println!("cameras: listing failed: {e}"),
            }
            if bad > 0 {
                bail!("{bad} model file(s) failed verification");
            }
            Ok(Ending::Complete)
        }
    }
}
