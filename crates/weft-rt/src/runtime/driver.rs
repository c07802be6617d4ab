//! The pool's [`Driver`]: weft-io's reactor, which one idle worker sleeps in.

use std::fmt;
use std::time::Duration;
use weft_io::{Reactor, ReactorLock};
use weft_pool::raw::Driver;

/// The process's reactor, as a pool driver. The reactor lock taken in `try_lock` is
/// kept here until `unlock`, all on one worker thread (the `Driver` contract).
pub(crate) struct ReactorDriver {
    held: weft_sync::Mutex<Option<ReactorLock<'static>>>,
}

impl fmt::Debug for ReactorDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorDriver").finish_non_exhaustive()
    }
}

impl ReactorDriver {
    pub(crate) fn new() -> ReactorDriver {
        ReactorDriver {
            held: weft_sync::Mutex::new(None),
        }
    }

    fn react(&self, timeout: Option<Duration>) {
        let mut held = self.held.lock();
        let lock = held
            .as_mut()
            .expect("weft-rt: the pool used the driver without holding it");
        if let Err(error) = lock.react(timeout) {
            // The reactor's descriptors are the process's own: failing to wait on them
            // is a bug or resource exhaustion, never a caller's mistake. Report and go
            // on (the worker re-checks its queues and comes back).
            eprintln!("weft-rt: the reactor failed to wait for events: {error}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Driver for ReactorDriver {
    fn try_lock(&self) -> bool {
        match Reactor::get().try_lock() {
            Some(lock) => {
                *self.held.lock() = Some(lock);
                true
            }
            None => false,
        }
    }

    fn park(&self) {
        self.react(None);
    }

    fn poll(&self) {
        self.react(Some(Duration::ZERO));
    }

    fn unlock(&self) {
        drop(self.held.lock().take());
    }

    fn unpark(&self) {
        Reactor::get().notify();
    }
}
