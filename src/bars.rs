//! Progress bars on the terminal (indicatif; this is the only file that imports it): the
//! binary's way of drawing the library's [`Progress`] reports. A bar shows the count, the
//! rate and the time left; lines worth keeping (an epoch's summary) print above it. When
//! stderr is not a terminal (CI, a batch job's log file) no bar is drawn, and those lines
//! are printed plainly.

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use facs::util::progress::Progress;

/// Draws [`Progress`] reports; one bar per running task.
pub(crate) struct Bars {
    /// No bars at all (`--quiet`); lines worth keeping still print.
    quiet: bool,
    bars: Mutex<HashMap<&'static str, ProgressBar>>,
}

fn style(total: Option<u64>) -> ProgressStyle {
    let template = if total.is_some() {
        "{prefix:>8} [{bar:30}] {pos}/{len}  {per_sec}  ETA {eta}  {msg}"
    } else {
        "{prefix:>8} {spinner} {pos}  {per_sec}  {msg}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Bars {
    pub(crate) fn new(quiet: bool) -> Self {
        Bars {
            quiet,
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one report; the library calls this from its worker threads.
    pub(crate) fn show(&self, p: Progress) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        match p {
            Progress::Step {
                task,
                done,
                total,
                detail,
            } => {
                if self.quiet {
                    return;
                }
                let bar = bars.entry(task).or_insert_with(|| {
                    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
                    bar.set_style(style(total));
                    bar.set_prefix(task);
                    bar
                });
                if let Some(t) = total {
                    bar.set_length(t);
                }
                bar.set_position(done);
                bar.set_message(detail);
            }
            Progress::Note(line) => match bars.values().find(|b| !b.is_hidden()) {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            },
            Progress::Done { task } => {
                if let Some(bar) = bars.remove(task) {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
