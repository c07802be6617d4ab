//! [`block_on`]: a minimal executor for one future on the current thread, for programs
//! and tests without weft-rt.
//!
//! The thread polls the future; while it is pending, the thread *drives the reactor*
//! if no other thread does ([`Reactor::try_lock`]), and otherwise parks until its
//! waker is called or the driver lock is released (then it tries to take over, so I/O
//! keeps flowing when the previous driver stops).
//!
//! # Handshake with the waker
//!
//! `woken` is set by the waker and consumed before each poll. While the thread drives
//! it sets `driving`; a waker called from another thread that sees `driving` also
//! notifies the reactor, since the thread is blocked in `epoll_wait`, not on its
//! parker. Both flags are SeqCst and each side writes its flag before reading the
//! other's (a Dekker pair), so either the thread sees `woken` before blocking or the
//! waker sees `driving` and interrupts the block.

use crate::reactor::Reactor;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};
use weft_sync::Parker;
use weft_sync::primitive::atomic::{AtomicBool, Ordering};

struct Signal {
    woken: AtomicBool,
    driving: AtomicBool,
    parker: Parker,
    owner: ThreadId,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // SeqCst (both): the Dekker pair with `driving`, see the module docs.
        self.woken.store(true, Ordering::SeqCst);
        if self.driving.load(Ordering::SeqCst) && thread::current().id() != self.owner {
            Reactor::get().notify();
        }
        self.parker.unpark();
    }
}

/// Wakes the thread to retry the driver lock, without marking the future woken.
struct LockReleased(Arc<Signal>);

impl Wake for LockReleased {
    fn wake(self: Arc<Self>) {
        self.0.parker.unpark();
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
        woken: AtomicBool::new(true),
        driving: AtomicBool::new(false),
        parker: Parker::new(),
        owner: thread::current().id(),
    });
    let waker = Waker::from(signal.clone());
    let lock_released = Waker::from(Arc::new(LockReleased(signal.clone())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if signal.woken.swap(false, Ordering::SeqCst) {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            continue;
        }
        let lock = match reactor.try_lock() {
            Some(lock) => Some(lock),
            None => {
                // Register before the second try: a release between the two tries
                // then either lets it succeed or finds us in the list.
                reactor.wake_when_unlocked(&lock_released);
                reactor.try_lock()
            }
        };
        match lock {
            Some(mut lock) => {
                signal.driving.store(true, Ordering::SeqCst);
                if !signal.woken.load(Ordering::SeqCst)
                    && let Err(e) = lock.react(None)
                {
                    panic!("weft-io: the reactor failed: {e}");
                }
                signal.driving.store(false, Ordering::SeqCst);
            }
            None => {
                if !signal.woken.load(Ordering::SeqCst) {
                    signal.parker.park();
                }
            }
        }
    }
}
