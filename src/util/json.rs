//! JSON files written whole or not at all.

use std::path::Path;

use crate::error::{Error, Result};

/// Writes `value` as pretty JSON to `path` atomically (temp file + rename), so a reader
/// never sees half a file.
///
/// # Errors
/// The file cannot be written.
pub fn write_json_atomic(path: &Path, value: &serde_json::Value) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::json(path, e))?;
    std::fs::write(&tmp, text + "\n").map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// [`write_json_atomic`] for any serialisable value.
///
/// # Errors
/// The value cannot be serialised or the file cannot be written.
pub fn write_serialized<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let v = serde_json::to_value(value).map_err(|e| Error::json(path, e))?;
    write_json_atomic(path, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_serialized(&path, &serde_json::json!({"k": [1, 2]})).unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["k"][1], 2);
        assert!(!dir.path().join("a.json.tmp").exists());
        // A folder that does not exist: an error naming the temp file, nothing written.
        let err = write_json_atomic(&dir.path().join("no/b.json"), &back).unwrap_err();
        assert!(err.to_string().contains("b.json.tmp"), "{err}");
    }
}
