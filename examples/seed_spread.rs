//! How much the training acceptance figures move with the seed: synthetic faces with
//! EmotioNet's imbalance (no AU rarer than `--rarest`), trained once per seed with the
//! defaults of `facs train`, scored on held-out faces with every AU at 25%, as
//! `tests/au_training.rs` does. One line per seed: test macro-F1, per-AU F1, and where the
//! AU1 / AU2 / AU12 class activation maps peak.
//!
//! ```sh
//! cargo run --release --example seed_spread -- --faces 2000 --epochs 10 --seeds 1,2,3,4,5
//! RAYON_NUM_THREADS=1 cargo run --release --example seed_spread -- --seeds 1,2
//! ```
//!
//! `--shuffle-labels` trains on the same faces with their label rows shuffled among them
//! (a deliberately broken run: the acceptance test's bounds must reject it).
//!
//! The data (seeds 101, 102, 103) and their face crops are made once in `--work` and reused
//! by later calls; each seed's model is written to `--work/model-s<seed>-t<threads>`.
//! Lines are printed and appended, tab-separated, to `--work/spread.tsv`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use facs::calibrate::thresholds::load_thresholds;
use facs::frame::{AU_NUMBERS, NUM_AUS};
use facs::train::cam::{peak_share_near, NEAR, REGIONS};
use facs::train::faces::{prepare, Prepared};
use facs::train::synth::{write_dataset, SynthConfig, EMOTIONET_IMAGES, EMOTIONET_POSITIVES};
use facs::train::trainer::{calibrate_thresholds, load_with_sha256, RunControl, TrainConfig};

struct Opts {
    faces: usize,
    epochs: usize,
    seeds: Vec<u64>,
    rarest: f32,
    work: PathBuf,
    shuffle_labels: bool,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        faces: 4000,
        epochs: 16,
        seeds: vec![1],
        rarest: 0.02,
        work: std::env::temp_dir().join("facs-seed-spread"),
        shuffle_labels: false,
    };
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--shuffle-labels") {
        o.shuffle_labels = true;
        args.remove(i);
    }
    for pair in args.chunks(2) {
        let [k, v] = pair else {
            return Err(format!("{} needs a value", pair[0]));
        };
        let bad = |e: &dyn std::fmt::Display| format!("{k} {v}: {e}");
        match k.as_str() {
            "--faces" => o.faces = v.parse().map_err(|e| bad(&e))?,
            "--epochs" => o.epochs = v.parse().map_err(|e| bad(&e))?,
            "--rarest" => o.rarest = v.parse().map_err(|e| bad(&e))?,
            "--work" => o.work = PathBuf::from(v),
            "--seeds" => {
                o.seeds = v
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| bad(&e)))
                    .collect::<Result<_, _>>()?
            }
            _ => return Err(format!("unknown option {k}")),
        }
    }
    Ok(o)
}

/// `facs synth` into `work/name` unless it is there, then its faces prepared (cached).
fn data(
    o: &Opts,
    name: &str,
    count: usize,
    seed: u64,
    rates: [f32; NUM_AUS],
) -> facs::Result<Prepared> {
    let dir = o.work.join(name);
    if !dir.join("labels.csv").is_file() {
        let cfg = SynthConfig {
            count,
            seed,
            au_rates: rates,
            ..SynthConfig::default()
        };
        write_dataset(&cfg, &dir)?;
    }
    let ds = facs::train::dataset::load_csv(&dir.join("labels.csv"), &dir.join("images"), false)?;
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    prepare(&ds.samples, &models, 48, Some(&o.work.join("crops")))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = parse()?;
    std::fs::create_dir_all(&o.work)?;
    // Rounded to 4 decimals, as tests/au_training.rs passes them to `facs synth --rates`, so
    // that both draw the same faces.
    let rates = EMOTIONET_POSITIVES.map(|n| {
        let r = (n as f32 / EMOTIONET_IMAGES as f32).max(o.rarest);
        format!("{r:.4}").parse::<f32>().unwrap_or(r)
    });
    let train_name = format!("train-{}-r{}-4dp", o.faces, o.rarest);
    let mut train = data(&o, &train_name, o.faces, 101, rates)?;
    if o.shuffle_labels {
        // Fisher-Yates with a fixed xorshift: every face keeps a real label row, not its own.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for i in (1..train.labels.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let j = (s % (i as u64 + 1)) as usize;
            train.labels.swap(i, j);
            train.emotions.swap(i, j);
        }
    }
    let val = data(&o, "val", 400, 102, [0.25; NUM_AUS])?;
    let test = data(&o, "test", 400, 103, [0.25; NUM_AUS])?;
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .to_string()
    });
    let cpu = facs::bench::cpu_model();
    let k = |au: u8| AU_NUMBERS.iter().position(|&a| a == au).unwrap_or(0);
    let region = |name: &str| REGIONS.iter().position(|&r| r == name).unwrap_or(0);
    let mut tsv = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(o.work.join("spread.tsv"))?;
    for &seed in &o.seeds {
        let broken = if o.shuffle_labels { "-shuffled" } else { "" };
        let out = o.work.join(format!("model-s{seed}-t{threads}{broken}"));
        if out.exists() {
            std::fs::remove_dir_all(&out)?;
        }
        let cfg = TrainConfig {
            epochs: o.epochs,
            seed,
            ..TrainConfig::default()
        };
        let start = Instant::now();
        facs::train::trainer::train(&cfg, &train, &val, &out, &RunControl::default())?;
        let secs = start.elapsed().as_secs_f64();
        calibrate_thresholds(&out, &val, None, None)?;
        let (net, _, sha256) = load_with_sha256(&out)?;
        let report = facs::train::trainer::eval(&net, &test, &load_thresholds(&out, &sha256)?)?;
        let near = |au: u8, name: &str| -> facs::Result<f64> {
            Ok(peak_share_near(&net, &test, k(au), region(name), NEAR)?.unwrap_or(f64::NAN))
        };
        let f1: Vec<String> = report.aus.iter().map(|a| format!("{:.3}", a.f1)).collect();
        let line = format!(
            "{}{broken}\t{}\t{}\t{seed}\t{threads}\t{:.3}\t{}\t{:.2}\t{:.2}\t{:.2}\t{secs:.0}\t{cpu}",
            o.faces,
            o.epochs,
            o.rarest,
            report.macro_f1.unwrap_or(f64::NAN),
            f1.join("\t"),
            near(1, "brows")?,
            near(2, "brows")?,
            near(12, "mouth")?,
        );
        println!("{line}");
        writeln!(tsv, "{line}")?;
    }
    Ok(())
}
