//! The upper face: cheeks (AU6), forehead lines (AU1, AU2), eye sockets, brows (AU1, AU2,
//! AU4) and eyes (AU4, AU5, AU6).

use super::face::{Expression, DEEP, LIGHT, SHADOW};
use super::identity::Identity;
use super::{AU1, AU2, AU4, AU5, AU6};
use crate::canvas::{bezier, ellipse_sdf, mix, scale, Blend, Canvas, Rgb};

/// Draws the upper face, back to front.
pub(super) fn draw(cv: &mut Canvas<Rgb>, id: &Identity, ex: &Expression) {
    let (a1, a2, a4) = (ex.level(AU1), ex.level(AU2), ex.level(AU4));
    let (a5, a6) = (ex.level(AU5), ex.level(AU6));
    draw_cheeks(cv, id, a6);
    draw_forehead_lines(cv, id, a1, a2);
    draw_eye_sockets(cv, id, a4);
    draw_brows(cv, id, a1, a2, a4);
    // Eyes: AU5 raises the upper lid (white above the iris), AU6 raises the lower lid and
    // narrows the eye, AU4 lowers the upper lid a little.
    for side in [-1.0f32, 1.0] {
        draw_eye(cv, id, side, a4, a5, a6);
    }
}

/// Cheeks: AU6 raises them (they move up and bulge).
fn draw_cheeks(cv: &mut Canvas<Rgb>, id: &Identity, a6: f32) {
    let fw = id.face_w;
    for side in [-1.0f32, 1.0] {
        let cx = side * 0.48 * fw;
        let cy = 0.22 - 0.1 * a6;
        cv.soft(
            (cx, cy),
            (0.22, 0.15),
            LIGHT,
            0.12 + 0.35 * a6,
            Blend::Multiply,
        );
        cv.soft(
            (cx * 0.95, 0.42),
            (0.18, 0.14),
            SHADOW,
            0.15,
            Blend::Multiply,
        );
        if a6 > 0.0 {
            // The bulge casts a soft shadow below it.
            cv.soft(
                (side * 0.5 * fw, cy + 0.19),
                (0.2, 0.07),
                SHADOW,
                0.35 * a6,
                Blend::Multiply,
            );
        }
    }
}

/// Forehead lines: AU1 in the middle, AU2 at the sides.
fn draw_forehead_lines(cv: &mut Canvas<Rgb>, id: &Identity, a1: f32, a2: f32) {
    for k in 0..3 {
        let y = id.brow_y - 0.2 - 0.09 * k as f32;
        if a1 > 0.0 {
            let pts = bezier((-0.28, y + 0.02), (0.0, y - 0.04), (0.28, y + 0.02), 8);
            cv.stroke(&pts, (0.012, 0.012), SHADOW, 0.75 * a1, Blend::Multiply);
        }
        if a2 > 0.0 {
            for side in [-1.0f32, 1.0] {
                let pts = bezier(
                    (side * 0.3, y + 0.02),
                    (side * 0.5, y - 0.05),
                    (side * 0.68, y + 0.04),
                    8,
                );
                cv.stroke(&pts, (0.012, 0.012), SHADOW, 0.75 * a2, Blend::Multiply);
            }
        }
    }
}

/// Shadowed eye sockets, deeper with AU4.
fn draw_eye_sockets(cv: &mut Canvas<Rgb>, id: &Identity, a4: f32) {
    for side in [-1.0f32, 1.0] {
        let ex = side * id.eye_dx;
        cv.soft(
            (ex * 0.95, id.eye_y - 0.04),
            (0.3, 0.2),
            SHADOW,
            0.5 + 0.2 * a4,
            Blend::Multiply,
        );
    }
}

/// Brows: AU1 lifts the inner ends, AU2 the outer ends, AU4 lowers them and draws them
/// together (with vertical furrows between them).
fn draw_brows(cv: &mut Canvas<Rgb>, id: &Identity, a1: f32, a2: f32, a4: f32) {
    let (skin, fw) = (id.skin, id.face_w);
    // Fair or grey hair goes with darker brows than the hair itself.
    let luma = |c: Rgb| 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2];
    let fair = luma(id.hair) > 0.6 * luma(skin);
    let brow_col = mix(id.hair, scale(skin, 0.3), if fair { 0.6 } else { 0.35 });
    for side in [-1.0f32, 1.0] {
        let by = id.brow_y;
        let inner = (side * (0.12 - 0.05 * a4), by + 0.02 - 0.17 * a1 + 0.09 * a4);
        let peak = (side * 0.40, by - 0.05 - 0.02 * a1 - 0.07 * a2 + 0.05 * a4);
        let outer = (side * 0.64 * fw, by + 0.04 - 0.17 * a2 + 0.04 * a4);
        let pts = bezier(inner, (peak.0, peak.1 - 0.03), outer, 12);
        cv.stroke(
            &pts,
            (id.brow_w, id.brow_w * 0.45),
            brow_col,
            0.92,
            Blend::Over,
        );
    }
    if a4 > 0.0 {
        // Vertical furrows and a shadow between the brows.
        cv.soft(
            (0.0, id.brow_y + 0.05),
            (0.12, 0.12),
            SHADOW,
            0.45 * a4,
            Blend::Multiply,
        );
        for side in [-1.0f32, 1.0] {
            let pts = [
                (side * 0.05, id.brow_y - 0.06),
                (side * 0.04, id.brow_y + 0.1),
            ];
            cv.stroke(&pts, (0.014, 0.01), DEEP, 0.8 * a4, Blend::Multiply);
        }
    }
}

/// One eye on `side` (-1 left, 1 right in face space): white, iris, pupil, highlight, lids,
/// lashes and crease; with AU6 a lower-lid bulge and crow's feet.
fn draw_eye(cv: &mut Canvas<Rgb>, id: &Identity, side: f32, a4: f32, a5: f32, a6: f32) {
    let ex = side * id.eye_dx;
    let ey = id.eye_y;
    let ew = id.eye_w;
    let hu = (id.eye_hu + 0.08 * a5 - 0.015 * a6 - 0.012 * a4).max(0.02);
    let hl = (id.eye_hl - 0.03 * a6).max(0.012);
    // The upper lid peaks a little toward the inner corner.
    let upper = move |x: f32| {
        let t = ((x - ex) / ew).clamp(-1.0, 1.0);
        let skew = 1.0 - 0.12 * side * t;
        ey - hu * (1.0 - t * t).max(0.0).powf(0.75) * skew
    };
    let lower = move |x: f32| {
        let t = ((x - ex) / ew).clamp(-1.0, 1.0);
        ey + hl * (1.0 - t * t).max(0.0).powf(0.9)
    };
    let eye_sdf = move |x: f32, y: f32| (upper(x) - y).max(y - lower(x)).max((x - ex).abs() - ew);
    let bounds = [ex - ew, ey - hu - 0.02, ex + ew, ey + hl + 0.02];
    let sclera = [0.9, 0.87, 0.84];
    let lit = id.shade(ex, ey);
    cv.fill(bounds, Blend::Over, eye_sdf, |x, _| {
        let t = (x - ex) / ew;
        (scale(sclera, lit * (1.0 - 0.3 * t * t)), 1.0)
    });
    let ic = (ex + id.gaze.0 * 0.03, ey + 0.005 + id.gaze.1 * 0.02);
    let ir = id.iris_r;
    let iris = id.iris;
    cv.fill(
        [ic.0 - ir, ic.1 - ir, ic.0 + ir, ic.1 + ir],
        Blend::Over,
        |x, y| ellipse_sdf(x, y, ic.0, ic.1, ir, ir).max(eye_sdf(x, y)),
        |x, y| {
            let r = ((x - ic.0).powi(2) + (y - ic.1).powi(2)).sqrt() / ir;
            let rim = if r > 0.8 { 0.55 } else { 1.0 };
            (scale(iris, rim * lit), 1.0)
        },
    );
    cv.fill(
        [ic.0 - ir, ic.1 - ir, ic.0 + ir, ic.1 + ir],
        Blend::Over,
        |x, y| ellipse_sdf(x, y, ic.0, ic.1, 0.42 * ir, 0.42 * ir).max(eye_sdf(x, y)),
        |_, _| ([0.03, 0.03, 0.03], 1.0),
    );
    cv.ellipse(
        (ic.0 - 0.3 * ir, ic.1 - 0.3 * ir),
        (0.18 * ir, 0.18 * ir),
        [1.0, 1.0, 1.0],
        0.8,
        Blend::Over,
    );
    // Lash line along the upper lid (a little past the outer corner), a thin lower lid, and
    // the lid crease above.
    let steps = 12;
    let lid: Vec<(f32, f32)> = (0..=steps)
        .map(|i| {
            let x = ex - ew + 2.0 * ew * i as f32 / steps as f32;
            (x, upper(x))
        })
        .collect();
    cv.stroke(&lid, (0.016, 0.022), [0.08, 0.06, 0.05], 0.9, Blend::Over);
    let low: Vec<(f32, f32)> = (0..=steps)
        .map(|i| {
            let x = ex - ew + 2.0 * ew * i as f32 / steps as f32;
            (x, lower(x) + 0.005)
        })
        .collect();
    cv.stroke(&low, (0.008, 0.008), [0.5, 0.4, 0.38], 0.6, Blend::Multiply);
    let crease_h = 0.05 + 0.03 * a5;
    let crease: Vec<(f32, f32)> = lid[1..steps]
        .iter()
        .map(|&(x, y)| (x, y - crease_h * (1.0 - ((x - ex) / ew).powi(2)).sqrt()))
        .collect();
    cv.stroke(
        &crease,
        (0.01, 0.012),
        [0.55, 0.45, 0.42],
        0.5,
        Blend::Multiply,
    );
    if a6 > 0.0 {
        // Lower-lid bulge and crow's feet at the outer corner.
        let bulge: Vec<(f32, f32)> = low[3..steps - 2]
            .iter()
            .map(|&(x, y)| (x, y + 0.04))
            .collect();
        cv.stroke(
            &bulge,
            (0.012, 0.012),
            [0.55, 0.45, 0.42],
            0.5 * a6,
            Blend::Multiply,
        );
        let corner = (ex + side * (ew + 0.035), ey + 0.01);
        for k in [-1.0f32, 0.0, 1.0] {
            let ang = k * 0.4 + 0.1;
            let end = (
                corner.0 + side * 0.08 * ang.cos(),
                corner.1 + 0.08 * ang.sin(),
            );
            cv.stroke(
                &[corner, end],
                (0.011, 0.008),
                [0.5, 0.4, 0.38],
                0.7 * a6,
                Blend::Multiply,
            );
        }
    }
}
