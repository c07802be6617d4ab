//! The optional background thread that runs the wait-for check periodically and
//! reports each deadlock it finds once.

use super::detector;
use super::hook;
use super::report::Report;
use std::collections::HashSet;
use std::fmt;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Starts a thread that calls [`check`](super::check) every `interval` and passes each
/// deadlock it has not reported yet to the [hook](super::set_hook) as
/// [`Report::Deadlock`]. The thread stops when the returned [`Watchdog`] is dropped.
///
/// A deadlock is "the same" while its threads stay blocked in the same state; if
/// they recover (timed waits) and deadlock again, it is reported again.
///
/// # Panics
///
/// If the operating system cannot create the thread, like [`std::thread::spawn`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_sync::deadlock;
///
/// // Keep the handle alive for as long as the watchdog should run, e.g. in `main`.
/// let watchdog = deadlock::spawn_watchdog(Duration::from_secs(1));
/// // ... the program runs; deadlocks are reported through the hook ...
/// drop(watchdog);
/// ```
pub fn spawn_watchdog(interval: Duration) -> Watchdog {
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = thread::Builder::new()
        .name("weft-deadlock-watchdog".into())
        .spawn(move || run(interval, &stopped))
        .expect("weft deadlock detection: failed to spawn the watchdog thread");
    Watchdog {
        stop: Some(stop),
        thread: Some(thread),
    }
}

fn run(interval: Duration, stopped: &mpsc::Receiver<()>) {
    let mut reported: HashSet<detector::DeadlockKey> = HashSet::new();
    // Dropping the sender (the `Watchdog`) disconnects the channel: that is the stop.
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
        let found = detector::find_deadlocks();
        let mut current = HashSet::with_capacity(found.len());
        for (deadlock, key) in found {
            if !reported.contains(&key) {
                hook::dispatch(Report::Deadlock(deadlock));
            }
            current.insert(key);
        }
        // Forget deadlocks that are gone, so the set stays small.
        reported = current;
    }
}

/// The handle of a [watchdog thread](spawn_watchdog); dropping it stops the thread
/// and waits for it to finish its current check.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_sync::deadlock;
///
/// let watchdog = deadlock::spawn_watchdog(Duration::from_millis(100));
/// watchdog.stop();
/// ```
pub struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Stops the watchdog thread and waits for it (the same as dropping the handle).
    pub fn stop(self) {}
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A hook running on the watchdog thread may drop the handle: it cannot
            // wait for itself, and will stop once the hook returns.
            if thread.thread().id() != thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watchdog")
            .field("running", &self.thread.is_some())
            .finish()
    }
}
