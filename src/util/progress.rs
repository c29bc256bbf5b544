//! Progress of long library calls, reported to a callback the caller supplies (the command
//! line draws it); library code never prints.

/// One progress report.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// `done` units of `task` finished, of `total` when known; `detail` is a short status
    /// (e.g. the running loss or frame rate).
    Step {
        task: &'static str,
        done: u64,
        total: Option<u64>,
        detail: String,
    },
    /// A line worth keeping above the progress display (e.g. an epoch's summary).
    Note(String),
    /// `task` ended (normally or not): the display can be cleared.
    Done { task: &'static str },
}

/// Where a long call sends its [`Progress`]; shared with the threads that report.
pub type ProgressFn = dyn Fn(Progress) + Send + Sync;

/// Sends `p` to `sink` when there is one.
pub fn report(sink: Option<&ProgressFn>, p: Progress) {
    if let Some(f) = sink {
        f(p);
    }
}
