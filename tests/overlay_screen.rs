//! The overlay as a person sees it: `facs demo` in a window on a virtual X display
//! (xvfb-run), a screenshot of the whole screen (ImageMagick's `import`), and checks that the
//! panel beside the video is drawn where its layout says: its background (not the video's
//! pixels), the AU names' text, and each AU's bar with its threshold tick.

mod common;

use std::process::Command;

use common::root;
use facs::overlay::{Layout, ABSENT, PANEL_BG, PRESENT, TICK, TRACK};

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

fn rgb(p: &image::Rgb<u8>) -> u32 {
    (p[0] as u32) << 16 | (p[1] as u32) << 8 | p[2] as u32
}

#[test]
fn the_demo_window_shows_the_panel_with_au_names_and_threshold_ticks_under_xvfb() {
    if !on_path("xvfb-run") {
        eprintln!(
            "SKIPPED: xvfb-run is not installed, so no window can be opened \
             (apt-get install xvfb xauth imagemagick, as .ci/run does)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let shot = tmp.path().join("shot.png");
    let csv = tmp.path().join("demo.csv");
    // facs demo opens a window when there is a display and plays the bundled clip until it
    // is stopped. Wait until it has logged (and shown) 20 frames, take a screenshot of the
    // whole screen, then stop facs with SIGTERM (a clean stop: the script exits 143).
    let script = r#"
        "$FACS" demo --log "$CSV" &
        pid=$!
        i=0
        while [ "$(wc -l < "$CSV" 2>/dev/null || echo 0)" -lt 21 ]; do  # header + 20 rows
            i=$((i + 1))
            if [ $i -gt 600 ]; then echo "no frames after 60 s" >&2; kill $pid; exit 90; fi
            sleep 0.1
        done
        sleep 1
        import -window root "$SHOT" || { echo "import failed" >&2; kill $pid; exit 91; }
        kill -TERM $pid
        wait $pid
    "#;
    let out = Command::new("timeout")
        .args(["180", "xvfb-run", "-a", "-s", "-screen 0 1280x800x24"])
        .args(["sh", "-c", script])
        .env("FACS", env!("CARGO_BIN_EXE_facs"))
        .env("CSV", &csv)
        .env("SHOT", &shot)
        .current_dir(root())
        .output()
        .expect("xvfb-run starts");
    let said = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(143), "{said}");
    let img = image::open(&shot)
        .unwrap_or_else(|e| panic!("{}: {e}\n{said}", shot.display()))
        .into_rgb8();
    let (w, h) = img.dimensions();
    // FACS_KEEP_SHOT=PATH keeps the screenshot for a person to look at.
    if let Some(keep) = std::env::var_os("FACS_KEEP_SHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    let at = |x: i32, y: i32| rgb(img.get_pixel(x as u32, y as u32));

    // The panel: the columns, then the rows, mostly of its background colour (a few pixels
    // of the video, e.g. a black shirt, may have that colour too).
    let is_bg = |x: u32, y: u32| rgb(img.get_pixel(x, y)) == PANEL_BG;
    let cols: Vec<u32> = (0..w)
        .filter(|&x| (0..h).filter(|&y| is_bg(x, y)).count() >= 200)
        .collect();
    assert!(
        !cols.is_empty(),
        "no panel background in the screenshot\n{said}"
    );
    let (x0, x1) = (cols[0], cols[cols.len() - 1]);
    let rows: Vec<u32> = (0..h)
        .filter(|&y| (x0..=x1).filter(|&x| is_bg(x, y)).count() * 2 > (x1 - x0 + 1) as usize)
        .collect();
    let (y0, y1) = (rows[0], rows[rows.len() - 1]);
    // The demo clip is 640x360: a canvas 360 px high, the panel as wide as its layout.
    let l = Layout::for_height(360);
    assert_eq!(
        (x1 - x0 + 1, y1 - y0 + 1),
        (l.panel_w, 360),
        "panel background spans ({x0},{y0})-({x1},{y1})"
    );
    let (x0, y0) = (x0 as i32, y0 as i32);
    // Most of the panel is background (the rest is text and bars: measured 77.7%, at least
    // 60% expected), and the video beside it is not (measured 0 pixels of that colour, fewer
    // than 5% allowed): the panel is drawn, not the clip's pixels.
    let area = (l.panel_w * 360) as usize;
    let panel_bg = (y0..y0 + 360)
        .flat_map(|y| (x0..x0 + l.panel_w as i32).map(move |x| (x, y)))
        .filter(|&(x, y)| at(x, y) == PANEL_BG)
        .count();
    assert!(panel_bg * 100 > area * 60, "{panel_bg} of {area}");
    let in_video = (y0..y0 + 360)
        .flat_map(|y| ((x0 - 640).max(0)..x0).map(move |x| (x, y)))
        .filter(|&(x, y)| at(x, y) == PANEL_BG)
        .count();
    assert!(
        in_video * 100 < 640 * 360 * 5,
        "{in_video} panel-coloured pixels in the video"
    );

    let bar_x = l.bar_x(x0);
    for i in 0..11 {
        let top = y0 + l.au_row_y(i);
        // The AU's code and name: light text in the label column (measured 142-221 pixels
        // above 0xA0 per label at 13 px; at least 60 expected).
        let light = (top..top + l.line)
            .flat_map(|y| (x0 + l.pad..bar_x - l.gap).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let p = at(x, y);
                [16, 8, 0].iter().all(|s| (p >> s) & 0xFF > 0xA0)
            })
            .count();
        assert!(light > 60, "AU row {i}: {light} text pixels");
        // Along the middle of the bar only its own colours, and one threshold tick.
        let mid = l.bar_y(top) + l.bar_h / 2;
        let colours: Vec<u32> = (bar_x..bar_x + l.bar_w).map(|x| at(x, mid)).collect();
        assert!(
            colours
                .iter()
                .all(|c| [TRACK, PRESENT, ABSENT, TICK].contains(c)),
            "AU row {i}: bar colours {colours:x?}"
        );
        let ticks = colours.iter().filter(|&&c| c == TICK).count();
        assert_eq!(ticks, l.tick_w as usize, "AU row {i}: tick pixels");
    }
}
