//! The pool's [`Driver`]: weft-io's reactor, which one idle worker sleeps in.

use std::cell::RefCell;
use std::fmt;
use std::time::Duration;
use weft_io::reactor::{Reactor, ReactorLock};
use weft_pool::raw::Driver;

/// The process's reactor, as a pool driver. The reactor lock taken in `try_lock` is
/// kept in a thread-local until `unlock`: the `Driver` contract has one thread take,
/// use and release it.
pub(crate) struct ReactorDriver(());

std::thread_local! {
    static HELD: RefCell<Option<ReactorLock<'static>>> = const { RefCell::new(None) };
}

impl fmt::Debug for ReactorDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorDriver").finish_non_exhaustive()
    }
}

impl ReactorDriver {
    pub(crate) fn new() -> ReactorDriver {
        ReactorDriver(())
    }

    fn react(&self, timeout: Option<Duration>) {
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            let lock = held
                .as_mut()
                .expect("weft-rt: the pool used the driver without holding it");
            if let Err(error) = lock.react(timeout) {
                // The reactor's descriptors are the process's own: failing to wait on
                // them is a bug or resource exhaustion, never a caller's mistake.
                // Report and go on (the worker re-checks its queues and comes back).
                eprintln!("weft-rt: the reactor failed to wait for events: {error}");
                std::thread::sleep(Duration::from_millis(1));
            }
        });
    }
}

impl Driver for ReactorDriver {
    fn try_lock(&self) -> bool {
        match Reactor::get().try_lock() {
            Some(lock) => {
                HELD.with(|held| *held.borrow_mut() = Some(lock));
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
        drop(HELD.with(|held| held.borrow_mut().take()));
    }

    fn unpark(&self) {
        Reactor::get().notify();
    }

    fn wake_when_free(&self, waker: &std::task::Waker) {
        Reactor::get().wake_when_unlocked(waker);
    }
}
