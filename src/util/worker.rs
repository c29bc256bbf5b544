//! A one-slot worker on its own named thread: the owner hands it one job at a time and
//! collects the result later, so that two pieces of work overlap. Used by the classifier
//! (expression net beside the landmark net) and the detector (whole-frame searches in live
//! mode).
//!
//! Failures reach the owner: a worker whose set-up fails (weights that do not load) is
//! reported by [`Worker::spawn`] itself, and a worker that panics or stops is reported, with
//! its panic message, by the next [`Worker::wait`], [`Worker::poll`], [`Worker::submit`] or
//! [`Worker::join`].

use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError, TrySendError};

use crate::error::{Error, Result};

/// A named thread that turns jobs `J` into results `R`, one at a time.
pub struct Worker<J, R> {
    name: &'static str,
    jobs: Option<Sender<J>>,
    results: Receiver<R>,
    handle: Option<JoinHandle<()>>,
}

impl<J: Send + 'static, R: Send + 'static> Worker<J, R> {
    /// Starts thread `name`, runs `setup` on it (objects that are not `Send`, such as the
    /// detector, are built there), then feeds each job to the function `setup` returned.
    ///
    /// # Errors
    /// The thread cannot be started, or `setup` failed (its error is returned).
    pub fn spawn<S, F>(name: &'static str, setup: S) -> Result<Self>
    where
        S: FnOnce() -> Result<F> + Send + 'static,
        F: FnMut(J) -> R,
    {
        let (jobs, job_rx) = bounded::<J>(1);
        let (result_tx, results) = bounded::<R>(1);
        let (ready_tx, ready_rx) = bounded::<Result<()>>(1);
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut work = match setup() {
                    Ok(f) => {
                        // The owner waits for this message; it cannot be gone yet.
                        let _ = ready_tx.send(Ok(()));
                        f
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                for job in job_rx.iter() {
                    if result_tx.send(work(job)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| Error::Stage(name, format!("cannot start thread: {e}")))?;
        let mut worker = Worker {
            name,
            jobs: Some(jobs),
            results,
            handle: Some(handle),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(worker),
            Ok(Err(e)) => {
                worker.jobs.take();
                let _ = worker.join();
                Err(e)
            }
            Err(_) => Err(worker.stopped()),
        }
    }
}

impl<J, R> Worker<J, R> {
    /// Hands over a job, waiting for the slot if the previous result was not collected.
    ///
    /// # Errors
    /// The worker has stopped (its panic message when it panicked).
    pub fn submit(&mut self, job: J) -> Result<()> {
        match self.jobs.as_ref().map(|j| j.send(job)) {
            Some(Ok(())) => Ok(()),
            _ => Err(self.stopped()),
        }
    }

    /// Hands over a job if the worker is idle; false if it is busy.
    ///
    /// # Errors
    /// The worker has stopped.
    pub fn offer(&mut self, job: J) -> Result<bool> {
        match self.jobs.as_ref().map(|j| j.try_send(job)) {
            Some(Ok(())) => Ok(true),
            Some(Err(TrySendError::Full(_))) => Ok(false),
            _ => Err(self.stopped()),
        }
    }

    /// The next result, waiting for it.
    ///
    /// # Errors
    /// The worker has stopped.
    pub fn wait(&mut self) -> Result<R> {
        self.results.recv().map_err(|_| self.stopped())
    }

    /// The next result if one is ready.
    ///
    /// # Errors
    /// The worker has stopped.
    pub fn poll(&mut self) -> Result<Option<R>> {
        match self.results.try_recv() {
            Ok(r) => Ok(Some(r)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(self.stopped()),
        }
    }

    /// Closes the job queue, drops any result not collected, and waits for the thread to
    /// end. The worker may be holding a finished result with the slot still full: with the
    /// results' end dropped, its send fails and it stops instead of waiting forever.
    ///
    /// # Errors
    /// The thread panicked (with its message).
    pub fn join(&mut self) -> Result<()> {
        self.jobs.take();
        let (_, closed) = bounded(0);
        drop(std::mem::replace(&mut self.results, closed));
        match self.handle.take().map(JoinHandle::join) {
            Some(Err(panic)) => Err(Error::Stage(self.name, panic_message(&*panic))),
            _ => Ok(()),
        }
    }

    /// The error for a worker that is gone: joins it to learn whether it panicked.
    fn stopped(&mut self) -> Error {
        match self.join() {
            Err(e) => e,
            Ok(()) => Error::Stage(self.name, "the worker thread stopped".into()),
        }
    }
}

impl<J, R> Drop for Worker<J, R> {
    fn drop(&mut self) {
        // An owner that is itself unwinding or returning an error has reported already.
        let _ = self.join();
    }
}

/// The text of a thread's panic payload.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .map_or_else(|| "panicked".into(), |m| format!("panicked: {m}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_work_and_returns_results_in_order() {
        let mut w = Worker::spawn("double", || Ok(|x: u32| x * 2)).unwrap();
        w.submit(1).unwrap();
        assert_eq!(w.wait().unwrap(), 2);
        assert!(w.offer(5).unwrap());
        let mut got = None;
        while got.is_none() {
            got = w.poll().unwrap();
        }
        assert_eq!(got, Some(10));
        w.join().unwrap();
    }

    #[test]
    fn join_returns_while_a_result_waits_uncollected() {
        let mut w = Worker::spawn("uncollected", || Ok(|x: u32| x)).unwrap();
        w.submit(1).unwrap();
        // The first result fills the slot; the second job's result has nowhere to go.
        while w.results.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        w.submit(2).unwrap();
        let (done, joined) = bounded(1);
        std::thread::spawn(move || {
            let _ = done.send(w.join().is_ok());
        });
        // A hang guard, not a timing check: join used to wait forever here.
        assert_eq!(
            joined.recv_timeout(std::time::Duration::from_secs(60)),
            Ok(true)
        );
    }

    #[test]
    fn a_failed_setup_is_the_spawn_error() {
        let r = Worker::<u32, u32>::spawn("bad", || -> Result<fn(u32) -> u32> {
            Err(Error::Window("no weights".into()))
        });
        assert!(r.err().unwrap().to_string().contains("no weights"));
    }

    #[test]
    fn a_panic_reaches_the_owner_with_its_message() {
        let mut w = Worker::spawn("boom", || {
            Ok(|x: u32| {
                assert!(x < 3, "job {x} too large");
                x
            })
        })
        .unwrap();
        w.submit(7).unwrap();
        let err = w.wait().unwrap_err().to_string();
        assert!(
            err.contains("boom") && err.contains("job 7 too large"),
            "{err}"
        );
        // Later calls say it stopped rather than hang.
        assert!(w.submit(1).is_err());
    }
}
