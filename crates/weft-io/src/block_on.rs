//! [`block_on`]: a minimal executor for one future on the current thread, for programs
//! and tests without weft-rt.
//!
//! The thread polls the future; while it is pending, the thread *drives the reactor*
//! if no other thread does ([`Reactor::try_lock`]), and otherwise parks until its
//! waker is called or the driver lock is released (then it tries to take over, so I/O
//! keeps flowing when the previous driver stops). It releases the lock after each
//! `react`, and does not take it again while a thread waits in [`Reactor::lock`], so
//! a runtime that wants to drive is never starved by a `block_on` thread.
//!
//! The handshake between the waker and a thread blocked in the reactor is in
//! `signal.rs`.

use crate::reactor::Reactor;
use crate::signal::WakeSignal;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};

struct Signal {
    state: WakeSignal,
    owner: ThreadId,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let from_owner = thread::current().id() == self.owner;
        self.state.wake(from_owner, || Reactor::get().notify());
    }
}

/// Wakes the thread to retry the driver lock, without marking the future woken.
struct LockReleased(Arc<Signal>);

impl Wake for LockReleased {
    fn wake(self: Arc<Self>) {
        self.0.state.unpark();
    }
}

/// Runs `future` to completion on the current thread, driving the reactor while it
/// waits, and returns its output.
///
/// The thread polls the future; while it is pending, the thread drives the reactor if
/// no other thread does, and otherwise parks until its waker is called or the driver
/// lock is released (then it tries to take over, so I/O keeps flowing when the
/// previous driver stops). A waker called from another thread while this thread is
/// blocked in the reactor notifies the reactor.
///
/// It may be called from many threads at once (one drives, the others park) and from
/// inside a future that another `block_on` polls.
///
/// # Panics
///
/// If the future panics, or if the reactor's `epoll_wait` fails (it cannot, short of
/// a corrupted descriptor table).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_io::{block_on, Timer};
///
/// let answer = block_on(async {
///     Timer::after(Duration::from_millis(1)).await;
///     42
/// });
/// assert_eq!(answer, 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let reactor = Reactor::get();
    let signal = Arc::new(Signal {
        state: WakeSignal::new(),
        owner: thread::current().id(),
    });
    let waker = Waker::from(signal.clone());
    let lock_released = Waker::from(Arc::new(LockReleased(signal.clone())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if signal.state.take_woken() {
            if let Poll::Ready(output) =
                weft_sync::coop::unconstrained(|| future.as_mut().poll(&mut cx))
            {
                return output;
            }
            continue;
        }
        // Someone blocked in `Reactor::lock` wants to drive: let them.
        let lock = match (!reactor.lock_requested())
            .then(|| reactor.try_lock())
            .flatten()
        {
            Some(lock) => Some(lock),
            None if reactor.lock_requested() => {
                reactor.wake_when_unlocked(&lock_released);
                None
            }
            None => {
                // Register before the second try: a release between the two tries
                // then either lets it succeed or finds us in the list.
                reactor.wake_when_unlocked(&lock_released);
                reactor.try_lock()
            }
        };
        match lock {
            Some(mut lock) => {
                if signal.state.begin_driving()
                    && let Err(e) = lock.react(None)
                {
                    panic!("weft-io: the reactor failed: {e}");
                }
                signal.state.end_driving();
            }
            None => signal.state.park(),
        }
    }
}
