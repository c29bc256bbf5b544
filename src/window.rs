//! The overlay window (the only file that imports minifb). Lives on the thread that created
//! it: minifb windows are not `Send`.

use minifb::{KeyRepeat, ScaleMode, WindowOptions};

use crate::error::{Error, Result};
use crate::overlay::Canvas;

/// What the user asked for with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// q or Esc.
    Quit,
    /// space.
    Pause,
    /// l: show or hide landmarks.
    Landmarks,
    /// c: take the current face as the neutral baseline.
    Calibrate,
    /// m: show the next AU's class activation map (AU01, AU02, ... AU26, off).
    Cam,
}

/// True if an X11 or Wayland display is there to open a window on.
pub fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// A window showing overlay canvases.
pub struct Window {
    inner: minifb::Window,
}

impl Window {
    /// Opens a window of `width` x `height`.
    ///
    /// # Errors
    /// [`Error::Window`] when there is no display or the window cannot be created.
    pub fn open(title: &str, width: u32, height: u32) -> Result<Self> {
        if !display_available() {
            return Err(Error::Window(
                "no display (DISPLAY is not set); run without --show, or under xvfb-run".into(),
            ));
        }
        let opts = WindowOptions {
            resize: true,
            scale_mode: ScaleMode::AspectRatioStretch,
            ..WindowOptions::default()
        };
        let mut inner = minifb::Window::new(title, width as usize, height as usize, opts)
            .map_err(|e| Error::Window(e.to_string()))?;
        // The sink paces itself on frames; the window must never make it wait.
        inner.set_target_fps(0);
        Ok(Window { inner })
    }

    /// Shows a canvas and processes window events.
    ///
    /// # Errors
    /// [`Error::Window`] if the window rejected the buffer.
    pub fn show(&mut self, canvas: &Canvas) -> Result<()> {
        self.inner
            .update_with_buffer(
                &canvas.pixels,
                canvas.width as usize,
                canvas.height as usize,
            )
            .map_err(|e| Error::Window(e.to_string()))
    }

    /// Processes window events without a new picture (while waiting for frames).
    pub fn poll(&mut self) {
        self.inner.update();
    }

    /// False once the user closed the window.
    pub fn is_open(&self) -> bool {
        self.inner.is_open()
    }

    /// Commands from keys pressed since the last update.
    pub fn commands(&self) -> Vec<Command> {
        self.inner
            .get_keys_pressed(KeyRepeat::No)
            .into_iter()
            .filter_map(|k| match k {
                minifb::Key::Q | minifb::Key::Escape => Some(Command::Quit),
                minifb::Key::Space => Some(Command::Pause),
                minifb::Key::L => Some(Command::Landmarks),
                minifb::Key::C => Some(Command::Calibrate),
                minifb::Key::M => Some(Command::Cam),
                _ => None,
            })
            .collect()
    }
}
