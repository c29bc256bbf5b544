//! The training acceptance check, end to end through the command line: synthetic faces with
//! EmotioNet's imbalance, `facs train` with its defaults for sampling and loss, `facs eval`
//! on held-out faces, and where the class activation maps look. About 8 minutes on 2 cores
//! (release build).
//!
//! The training faces follow EmotioNet's AU frequencies (AU25 in 49%, AU12 in 31%, ... AU20
//! in 0.6%) except that no AU is rarer than [`RAREST`]: at 0.6%, the 4,000 faces a test can
//! afford would hold about 24 AU20 faces. The imbalance the sampler has to undo is still
//! 25:1 (EmotioNet's is 82:1). The validation and test faces have every AU at 25%, so that
//! every AU's F1 rests on about 100 held-out positives.
//!
//! The run is seeded and repeats exactly on one machine and build, but another CPU takes
//! other floating-point paths (gemm kernels with and without AVX-512, FMA) and ends
//! elsewhere, about as far as another seed does. So the bounds below are set from the seed
//! spread of this very configuration, measured over seeds and CPUs (BENCHMARKS.md, "Seed
//! spread"; `examples/seed_spread.rs` reproduces it), each at the lowest figure seen minus
//! a margin. The strict targets (macro-F1 0.9, every AU 0.8, AU1/AU2 maps at the brows for
//! 80% of faces) are reported there, not asserted here.

use std::path::Path;
use std::process::{Command, Output};

use facs::frame::{AU_NUMBERS, NUM_AUS};
use facs::train::synth::{EMOTIONET_IMAGES, EMOTIONET_POSITIVES};

/// The floor on the training faces' AU frequencies (see the module note).
const RAREST: f32 = 0.02;
const TRAIN_FACES: &str = "4000";
/// Bounds from the seed spread (module note; the figures each comes from are at its use):
/// the lowest figure seen minus a margin, and far above what a broken run scores.
const MACRO_F1_FLOOR: f64 = 0.85;
const AU_F1_FLOOR: f64 = 0.70;
const BROWS_FLOOR: f64 = 0.50;
const MOUTH_FLOOR: f64 = 0.35;
const EPOCHS: &str = "16";
/// Synthetic faces of the transfer check (CI-sized).
const TRANSFER_FACES: &str = "400";
/// Transfer bounds: AU12 right on the clearly smiling and neutral fixture frames (75 frames).
/// Measured 2026-12-02 (AMD EPYC, 2 shared cores): on the backbone 1.000 (75/75), from
/// scratch 0.213 (16/75: the neutral frames right, AU12 never seen on a real smile). The
/// floor is the goal, 90%; the ceiling is a coin toss, far above what scratch scored.
const BACKBONE_AU12_FLOOR: f64 = 0.90;
const SCRATCH_AU12_CEILING: f64 = 0.50;

fn facs(args: &[&str], calibration: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_facs"))
        .args(args)
        .env("FACS_CALIBRATION", calibration)
        .output()
        .expect("facs runs");
    assert!(
        out.status.success(),
        "facs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `facs synth` into `dir/name`, then its CSV rewritten with paths relative to `dir`.
fn synth(dir: &Path, name: &str, count: &str, seed: &str, rates: &str, cal: &Path) {
    let out = dir.join(name);
    facs(
        &[
            "synth",
            "--out",
            out.to_str().unwrap(),
            "--count",
            count,
            "--seed",
            seed,
            "--rates",
            rates,
        ],
        cal,
    );
    let text = std::fs::read_to_string(out.join("labels.csv")).unwrap();
    let mut lines = text.lines();
    let mut csv = format!("{}\n", lines.next().unwrap());
    for l in lines {
        csv.push_str(&format!("{name}/images/{l}\n"));
    }
    std::fs::write(dir.join(format!("{name}.csv")), csv).unwrap();
}

#[test]
fn learns_every_au_from_imbalanced_synthetic_faces_and_its_maps_look_where_the_au_acts() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cal = d.join("calibration");
    let rates: Vec<String> = EMOTIONET_POSITIVES
        .iter()
        .map(|&n| format!("{:.4}", (n as f32 / EMOTIONET_IMAGES as f32).max(RAREST)))
        .collect();
    let even = vec!["0.25"; NUM_AUS].join(",");
    synth(d, "train", TRAIN_FACES, "101", &rates.join(","), &cal);
    synth(d, "val", "400", "102", &even, &cal);
    synth(d, "test", "400", "103", &even, &cal);

    let model = d.join("model");
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let args = [
        "train".to_string(),
        "--csv".into(),
        p(&d.join("train.csv")),
        "--val".into(),
        p(&d.join("val.csv")),
        "--images".into(),
        p(d),
        "--out".into(),
        p(&model),
        "--backbone".into(),
        "scratch".into(),
        "--px".into(),
        "48".into(),
        "--width".into(),
        "8".into(),
        "--epochs".into(),
        EPOCHS.into(),
        "--seed".into(),
        "1".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    facs(&args, &cal);
    let report = d.join("report");
    facs(
        &[
            "eval",
            "--au-model",
            &p(&model),
            "--csv",
            &p(&d.join("test.csv")),
            "--images",
            &p(d),
            "--out",
            &p(&report),
        ],
        &cal,
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let f1: Vec<f64> = r["aus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["f1"].as_f64().unwrap())
        .collect();
    let table: Vec<String> = AU_NUMBERS
        .iter()
        .zip(&f1)
        .map(|(a, f)| format!("AU{a:02} {f:.3}"))
        .collect();
    eprintln!("test F1: {}", table.join(", "));
    let macro_f1 = r["macro_f1"].as_f64().unwrap();
    // Macro-F1 over the seed spread: 0.920-0.934 (lowest: AMD EPYC, seed 1 of the example);
    // a broken run (training labels shuffled among the faces) scores 0.400, and fails here.
    assert!(
        macro_f1 >= MACRO_F1_FLOOR,
        "macro-F1 {macro_f1:.3}: {table:?}"
    );
    // Lowest single-AU F1 over the seed spread: 0.805 (AU01, seed 2); broken run: at most 0.454.
    for (a, f) in AU_NUMBERS.iter().zip(&f1) {
        assert!(*f >= AU_F1_FLOOR, "AU{a:02} F1 {f:.3}: {table:?}");
    }

    // Where the maps look, on the held-out faces labelled with the AU (crops from the cache
    // `facs eval` filled).
    let (net, info) = facs::train::trainer::load(&model).unwrap();
    let ds = facs::train::dataset::load_csv(&d.join("test.csv"), d, false).unwrap();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let data = facs::train::faces::prepare(
        &ds.samples,
        &models,
        info.config.net.input,
        Some(&model.join("crops")),
    )
    .unwrap();
    use facs::train::cam::{peak_regions, peak_share_near, NEAR, REGIONS};
    let k = |au: u8| AU_NUMBERS.iter().position(|&a| a == au).unwrap();
    let region = |name: &str| REGIONS.iter().position(|&r| r == name).unwrap();
    for au in [1u8, 2, 12] {
        let counts = peak_regions(&net, &data, k(au)).unwrap();
        eprintln!("AU{au:02} map peaks by nearest feature: {counts:?} over {REGIONS:?}");
    }
    let near = |au: u8, name: &str| {
        peak_share_near(&net, &data, k(au), region(name), NEAR)
            .unwrap()
            .unwrap()
    };
    let (brows1, brows2, mouth12) = (near(1, "brows"), near(2, "brows"), near(12, "mouth"));
    eprintln!("map peaks within {NEAR} eye distances: AU01 brows {brows1:.2}, AU02 brows {brows2:.2}, AU12 mouth {mouth12:.2}");
    // AU1 and AU2 pooled: one run's share for one AU ranged from 0.54 to 0.85 over the seed
    // spread, the mean of the two from 0.63 to 0.835; broken run: 0.15.
    let brows = (brows1 + brows2) / 2.0;
    assert!(
        brows >= BROWS_FLOOR,
        "AU1/AU2 maps peak at the brows for {brows:.2} ({brows1:.2}, {brows2:.2})"
    );
    // AU12 maps peak at the mouth for a lower share (most of the rest at the nose wings,
    // where `facs synth` also deepens the nasolabial folds for AU12). Lowest over the seed
    // spread: 0.50 (broken run: 0.10); highest 0.83.
    assert!(
        mouth12 >= MOUTH_FLOOR,
        "AU12 maps peak at the mouth for {mouth12:.2}"
    );
}

/// Frames of the bundled real clips in tests/fixtures, labelled by eye (tests/expression.rs
/// and tests/au_geometry.rs use the same ranges): (group, files, AU6, AU12, AU25), 1 present,
/// 0 absent, empty unknown. The crying frames' cheeks are left unknown (the eyes are squeezed
/// shut, AU6 is hard to call).
fn real_groups() -> Vec<(
    &'static str,
    Vec<String>,
    &'static str,
    &'static str,
    &'static str,
)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let files = |dir: &str, keep: &dyn Fn(usize) -> bool| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".jpg"))
            .filter(|n| keep(n[..6].parse().unwrap()))
            .map(|n| format!("{dir}/{n}"))
            .collect();
        v.sort();
        v
    };
    vec![
        ("neutral", files("single_face", &|i| i <= 15), "0", "0", "0"),
        (
            "smiling",
            files("single_face", &|i| (25..=69).contains(&i)),
            "1",
            "1",
            "1",
        ),
        ("laughing", files("wolfgang", &|i| i >= 256), "1", "1", "1"),
        ("crying", files("wolfgang", &|i| i <= 56), "", "0", "0"),
    ]
}

/// Per group of [`real_groups`], how many frames `model` gets right for AU6, AU12 and AU25
/// (at the model's thresholds; 0.5 without a thresholds file) and how many are labelled.
fn real_scores(model: &Path, work: &Path, cal: &Path) -> Vec<(&'static str, [(u64, u64); 3])> {
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::create_dir_all(work).unwrap();
    let mut out = Vec::new();
    for (group, files, au6, au12, au25) in real_groups() {
        let csv = work.join(format!("{group}.csv"));
        // Every AU column, the others unknown.
        let mut text = "image,AU01,AU02,AU04,AU05,AU06,AU09,AU12,AU17,AU20,AU25,AU26\n".to_string();
        for f in &files {
            text.push_str(&format!("{f},,,,,{au6},,{au12},,,{au25},\n"));
        }
        std::fs::write(&csv, text).unwrap();
        let report = work.join(format!("report_{group}"));
        facs(
            &[
                "eval",
                "--au-model",
                &p(model),
                "--csv",
                &p(&csv),
                "--images",
                &p(&fixtures),
                "--out",
                &p(&report),
            ],
            cal,
        );
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
                .unwrap();
        let right = |au: u64| {
            let a = r["aus"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["au"].as_u64() == Some(au))
                .unwrap();
            let c = &a["counts"];
            let n = |k: &str| c[k].as_u64().unwrap();
            (n("tn") + n("tp"), n("tn") + n("tp") + n("fn") + n("fp"))
        };
        out.push((group, [right(6), right(12), right(25)]));
    }
    out
}

/// The users' problem in miniature: a network trained on synthetic faces only, run on real
/// footage. On face-api's backbone (pretrained on real faces, frozen: phase 1 only, to fit
/// CI) it reads the smiles of the bundled clips; from scratch, on the same faces with the same
/// seed, it does not. About 100 s of CPU time: 1.9 minutes of wall time on 2 cores, 4.5
/// when they were shared with other work (release build); the full-size comparison
/// (1,173 training faces, both phases, every frame of the clips) is in BENCHMARKS.md,
/// "Synthetic to real transfer".
#[test]
fn a_synthetic_only_model_transfers_to_real_smiles_on_the_backbone_and_not_from_scratch() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cal = d.join("calibration");
    // EmotioNet's AU frequencies, none under 5%, so 400 faces hold about 20 of each AU.
    let rates: Vec<String> = EMOTIONET_POSITIVES
        .iter()
        .map(|&n| format!("{:.4}", (n as f32 / EMOTIONET_IMAGES as f32).max(0.05)))
        .collect();
    synth(d, "train", TRANSFER_FACES, "31", &rates.join(","), &cal);
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let train = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "train".to_string(),
            "--csv".into(),
            p(&d.join("train.csv")),
            "--images".into(),
            p(d),
            "--out".into(),
            p(out),
            "--seed".into(),
            "1".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        facs(&args, &cal);
    };
    let backbone = d.join("backbone");
    train(&backbone, &["--frozen-epochs", "10", "--epochs", "0"]);
    let scratch = d.join("scratch");
    train(&scratch, &["--backbone", "scratch", "--epochs", "15"]);
    let on_backbone = real_scores(&backbone, &d.join("eval_backbone"), &cal);
    let from_scratch = real_scores(&scratch, &d.join("eval_scratch"), &cal);
    for (name, scores) in [("backbone", &on_backbone), ("scratch", &from_scratch)] {
        for (group, s) in scores.iter() {
            eprintln!(
                "{name:>8} {group:>8}: AU06 {}/{}, AU12 {}/{}, AU25 {}/{}",
                s[0].0, s[0].1, s[1].0, s[1].1, s[2].0, s[2].1
            );
        }
    }
    // AU12 right on the clearly smiling and clearly neutral frames (crying left out).
    let au12 = |scores: &[(&str, [(u64, u64); 3])]| {
        let (right, all) = scores
            .iter()
            .filter(|(g, _)| *g != "crying")
            .fold((0, 0), |(r, a), (_, s)| (r + s[1].0, a + s[1].1));
        right as f64 / all as f64
    };
    let (b, s) = (au12(&on_backbone), au12(&from_scratch));
    eprintln!("AU12 right on smiling + neutral frames: backbone {b:.3}, scratch {s:.3}");
    assert!(b >= BACKBONE_AU12_FLOOR, "backbone AU12 {b:.3}");
    assert!(s <= SCRATCH_AU12_CEILING, "scratch AU12 {s:.3}");
}
