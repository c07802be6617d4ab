//! Blocking on the event machinery from a plain thread: a per-thread [`Parker`]
//! wrapped as a [`Waker`], and a small `block_on` for weft-sync's own futures.
//!
//! Blocking waits register the thread's waker in the listener list exactly like a
//! task does, so one list and one wake path serve threads and tasks alike. The
//! per-thread parker is created once per thread (one allocation for the thread's
//! life), so a blocking wait allocates nothing.
//!
//! A stale token (left by a notification that arrived after the thread stopped
//! waiting) only causes one spurious wake-up of the next wait, which re-checks and
//! parks again.

use crate::Parker;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use std::sync::Arc;
use std::task::Wake;
use std::time::Instant;

struct ThreadWaker {
    parker: Parker,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.parker.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.parker.unpark();
    }
}

struct Current {
    thread: Arc<ThreadWaker>,
    waker: Waker,
}

impl Current {
    fn new() -> Self {
        let thread = Arc::new(ThreadWaker {
            parker: Parker::new(),
        });
        let waker = Waker::from(Arc::clone(&thread));
        Self { thread, waker }
    }
}

// loom runs its threads as coroutines on one OS thread, so it needs its own
// thread-locals to give each modelled thread its own parker.
#[cfg(loom)]
loom::thread_local! {
    static CURRENT: Current = Current::new();
}
#[cfg(not(loom))]
std::thread_local! {
    static CURRENT: Current = Current::new();
}

/// Runs `f` with this thread's waker and the parker it unparks.
pub(crate) fn with_thread_waker<R>(f: impl FnOnce(&Waker, &Parker) -> R) -> R {
    CURRENT.with(|current| f(&current.waker, &current.thread.parker))
}

/// Polls `future` to completion on this thread, parking between polls; gives up at
/// `deadline` and then drops the future (so only cancel-safe futures belong here:
/// weft-sync's own acquire and lock futures are). One last poll after the deadline
/// means a wake-up that raced with the timeout is not thrown away.
pub(crate) fn block_on<F: Future>(future: F, deadline: Option<Instant>) -> Option<F::Output> {
    let mut future = pin!(future);
    with_thread_waker(|waker, parker| {
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return Some(output);
            }
            if !parker.park_until(deadline) {
                return match future.as_mut().poll(&mut cx) {
                    Poll::Ready(output) => Some(output),
                    Poll::Pending => None,
                };
            }
        }
    })
}

/// `Instant::now() + timeout`, or `None` (no deadline) if that overflows.
pub(crate) fn deadline_after(timeout: core::time::Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}
