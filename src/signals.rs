//! Ctrl-C (SIGINT), SIGTERM and SIGHUP: each sets the flag a run or a training loop polls,
//! so it stops cleanly, and the first signal's number is kept for the exit code (128 +
//! signal, as shells report it; the `ctrlc` crate cannot tell the signals apart). The
//! handler only stores a number and writes one byte to a pipe (both async-signal-safe); a
//! named thread reads the pipe and sets the flag. A second signal ends the process at once
//! (for a command that does not poll the flag, or a stop that hangs): every frame logged so
//! far is whole, and the sidecar still says `running`.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

/// The write end of the pipe the handler wakes the "signals" thread with (-1: none yet).
#[cfg(unix)]
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The first signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signals that stop a run.
#[cfg(unix)]
const STOPPING: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    let _ = RECEIVED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; one byte from a live stack variable to a
        // descriptor that stays open for the life of the process.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

/// Installs the handlers; `stop` is set when one of the signals arrives.
///
/// # Errors
/// The pipe, the thread or a handler could not be set up.
#[cfg(unix)]
pub(crate) fn install(stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2(2) fills the two-element array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let [read_fd, write_fd] = fds;
    WAKE_FD.store(write_fd, Ordering::SeqCst);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut byte = 0u8;
            let mut signals = 0;
            loop {
                // SAFETY: read(2) of one byte into a live stack variable from the pipe's
                // read end, which this thread owns.
                let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
                if n == 1 {
                    signals += 1;
                    stop.store(true, Ordering::SeqCst);
                    if signals >= 2 {
                        let sig = received().unwrap_or(libc::SIGINT);
                        eprintln!("\nfacs: second signal: exiting now");
                        std::process::exit(i32::from(exit_code(sig)));
                    }
                } else if n == 0
                    || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                {
                    return;
                }
            }
        })?;
    for sig in STOPPING {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler
        // is an `extern "C" fn(c_int)` that only does async-signal-safe work.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Elsewhere, the `ctrlc` crate's console handler; any stop counts as SIGINT.
#[cfg(not(unix))]
pub(crate) fn install(stop: Arc<AtomicBool>) -> std::io::Result<()> {
    ctrlc::set_handler(move || {
        let _ = RECEIVED.compare_exchange(0, 2, Ordering::SeqCst, Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
    })
    .map_err(std::io::Error::other)
}

/// The first stopping signal received, if any.
pub(crate) fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// The exit code after `sig`: 128 + its number (130 for SIGINT, 143 for SIGTERM).
pub(crate) fn exit_code(sig: i32) -> u8 {
    u8::try_from(128 + sig).unwrap_or(u8::MAX)
}
