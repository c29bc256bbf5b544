//! The log in OpenFace 2.2's columns (`--format openface`): every column OpenFace's
//! `FeatureExtraction` writes for a video, in its order, so that scripts and tools made for
//! OpenFace output (py-feat's `read_openface`, lab analysis code) read a facs log by name.
//! facs fills the columns it estimates and leaves the others empty, never invented:
//!
//! | columns | facs writes |
//! |---|---|
//! | `frame`, `face_id`, `timestamp`, `confidence`, `success` | as in its own log |
//! | `gaze_*`, `eye_lmk_*` | empty: facs has no gaze or eye landmarks |
//! | `pose_Tx`, `pose_Ty`, `pose_Tz` | empty: facs's head pose is a rotation only |
//! | `pose_Rx`, `pose_Ry`, `pose_Rz` | facs's head pose (radians) in OpenFace's signs |
//! | `x_0` … `y_67` | facs's 68 landmarks, frame pixels |
//! | `X_*`, `Y_*`, `Z_*`, `p_*` | empty: no 3D landmarks, no shape model |
//! | `AUxx_r` | empty: facs estimates no AU intensity (its score is in `AUxx_p`) |
//! | `AUxx_c` | facs's present / absent for its 11 AUs; empty for the others |
//!
//! After OpenFace's 714 columns come facs's own that OpenFace has no name for: the AU
//! scores `AUxx_p`, `happy`, `emotion_*`, the face box `x`, `y`, `w`, `h` (named as in
//! facs's own log) and `file`.

use super::Cell;
use crate::frame::{Analysed, HeadPose, AU_NUMBERS, EMOTIONS};

/// OpenFace's AUs with an intensity column (`AUxx_r`), in its order.
pub const OPENFACE_AU_R: [u8; 17] = [1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45];
/// OpenFace's AUs with a presence column (`AUxx_c`): those and AU28, in its order.
pub const OPENFACE_AU_C: [u8; 18] = [
    1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45,
];
/// Eye landmarks per coordinate in OpenFace's gaze output.
const EYE_LANDMARKS: usize = 56;
/// Non-rigid shape parameters `p_0` … `p_33`.
const SHAPE_PARAMS: usize = 34;
/// How many of [`columns`] are OpenFace's (the rest are facs's own).
pub const OPENFACE_COLUMNS: usize = 714;
/// All the columns: OpenFace's, then `AUxx_p`, `happy`, the emotions, the box and `file`.
const N_COLUMNS: usize = OPENFACE_COLUMNS + AU_NUMBERS.len() + 1 + EMOTIONS.len() + 5;

/// The columns of an OpenFace-format log, in order: OpenFace 2.2's, then facs's own.
pub fn columns() -> Vec<String> {
    let mut c: Vec<String> = ["frame", "face_id", "timestamp", "confidence", "success"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for eye in 0..2 {
        c.extend(["x", "y", "z"].iter().map(|a| format!("gaze_{eye}_{a}")));
    }
    c.extend(["gaze_angle_x".to_string(), "gaze_angle_y".to_string()]);
    for axis in ["x", "y", "X", "Y", "Z"] {
        c.extend((0..EYE_LANDMARKS).map(|i| format!("eye_lmk_{axis}_{i}")));
    }
    c.extend(
        ["Tx", "Ty", "Tz", "Rx", "Ry", "Rz"]
            .iter()
            .map(|p| format!("pose_{p}")),
    );
    for axis in ["x", "y", "X", "Y", "Z"] {
        c.extend((0..68).map(|i| format!("{axis}_{i}")));
    }
    c.extend(
        ["scale", "rx", "ry", "rz", "tx", "ty"]
            .iter()
            .map(|p| format!("p_{p}")),
    );
    c.extend((0..SHAPE_PARAMS).map(|i| format!("p_{i}")));
    c.extend(OPENFACE_AU_R.iter().map(|n| format!("AU{n:02}_r")));
    c.extend(OPENFACE_AU_C.iter().map(|n| format!("AU{n:02}_c")));
    debug_assert_eq!(c.len(), OPENFACE_COLUMNS);
    c.extend(AU_NUMBERS.iter().map(|n| format!("AU{n:02}_p")));
    c.push("happy".into());
    c.extend(EMOTIONS.iter().map(|e| format!("emotion_{e}")));
    c.extend(["x", "y", "w", "h", "file"].map(String::from));
    c
}

/// facs's head pose (pitch, yaw, roll) in OpenFace's signs: OpenFace's `pose_Rx` is positive
/// for a head pitched down and its `pose_Ry` for a nose turned towards the image's left,
/// the opposite of facs's pitch and yaw; both take a clockwise roll as positive. Measured on
/// OpenFace's own output (py-feat 2.1.5, `feat/tests/data/OpenFace_Test.csv`, 100 frames):
/// the face's forward direction from its 3D landmarks (eye corners 36, 45; nose root 27;
/// chin 8) against its pose columns: `pose_Rx` vs nose down r = 0.996, `pose_Ry` vs nose
/// towards image right r = -0.997, `pose_Rz` vs the eye line's clockwise slope r = 0.82.
pub fn openface_pose(p: HeadPose) -> [f32; 3] {
    [-p.rx, -p.ry, p.rz]
}

/// The rows for one analysed frame, one per face (one `success=0` row without a face).
pub(super) fn rows(a: &Analysed) -> Vec<Vec<Cell<'_>>> {
    let frame = Cell::Int(a.frame.index as i64 + 1);
    let ts = Cell::Float(a.frame.timestamp_s, 3);
    let file = a.frame.file.as_deref().map_or(Cell::Empty, Cell::Text);
    let n_cols = N_COLUMNS;
    if a.faces.is_empty() {
        let mut row = vec![frame, Cell::Empty, ts, Cell::Float(0.0, 2), Cell::Int(0)];
        row.resize(n_cols - 1, Cell::Empty);
        row.push(file);
        return vec![row];
    }
    let empty = |row: &mut Vec<Cell>, n: usize| row.extend(std::iter::repeat(Cell::Empty).take(n));
    a.faces
        .iter()
        .map(|r| {
            let b = r.face.bbox;
            let s = &r.scores;
            let mut row = Vec::with_capacity(n_cols);
            row.extend([
                frame,
                Cell::Int(r.face.id as i64),
                ts,
                Cell::Float(b.confidence as f64, 3),
                Cell::Int(1),
            ]);
            // Gaze vectors and angles, then the eye landmarks.
            empty(&mut row, 8 + 5 * EYE_LANDMARKS);
            // Translation.
            empty(&mut row, 3);
            let pose = s.pose.map(openface_pose);
            for i in 0..3 {
                row.push(pose.map_or(Cell::Empty, |p| Cell::Float(p[i] as f64, 3)));
            }
            let coord = |v: Option<f32>| v.map_or(Cell::Empty, |c| Cell::Float(c as f64, 1));
            for i in 0..68 {
                row.push(coord(s.landmarks.map(|l| l[i].0)));
            }
            for i in 0..68 {
                row.push(coord(s.landmarks.map(|l| l[i].1)));
            }
            // 3D landmarks, rigid and non-rigid shape parameters, AU intensities.
            empty(&mut row, 3 * 68 + 6 + SHAPE_PARAMS + OPENFACE_AU_R.len());
            for n in OPENFACE_AU_C {
                let present = AU_NUMBERS
                    .iter()
                    .position(|&m| m == n)
                    .and_then(|i| s.au_present.map(|c| c[i]));
                row.push(present.map_or(Cell::Empty, |c| Cell::Int(c as i64)));
            }
            let prob = |v: Option<f32>| v.map_or(Cell::Empty, |p| Cell::Float(p as f64, 4));
            for i in 0..AU_NUMBERS.len() {
                row.push(prob(s.au_prob.map(|p| p[i])));
            }
            row.push(prob(s.happy));
            for i in 0..EMOTIONS.len() {
                row.push(prob(s.emotions.map(|e| e[i])));
            }
            for v in [b.x, b.y, b.w, b.h] {
                row.push(Cell::Float(v as f64, 1));
            }
            row.push(file);
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openface_columns_come_first_in_openface_order() {
        let c = columns();
        assert_eq!(c.len(), N_COLUMNS);
        assert_eq!(c.len(), OPENFACE_COLUMNS + 11 + 1 + 7 + 5);
        assert_eq!(c[5], "gaze_0_x");
        assert_eq!(c[12], "gaze_angle_y");
        assert_eq!(c[13], "eye_lmk_x_0");
        assert_eq!(c[292], "eye_lmk_Z_55");
        assert_eq!(c[293], "pose_Tx");
        assert_eq!(c[299], "x_0");
        assert_eq!(c[367], "y_0");
        assert_eq!(c[435], "X_0");
        assert_eq!(c[639], "p_scale");
        assert_eq!(c[645], "p_0");
        assert_eq!(c[679], "AU01_r");
        assert_eq!(c[695], "AU45_r");
        assert_eq!(c[696], "AU01_c");
        assert_eq!(c[712], "AU28_c");
        assert_eq!(c[713], "AU45_c");
        assert_eq!(c[714], "AU01_p");
        assert_eq!(c.last().map(String::as_str), Some("file"));
        let unique: std::collections::HashSet<&String> = c.iter().collect();
        assert_eq!(unique.len(), c.len(), "a column name is repeated");
    }
}
