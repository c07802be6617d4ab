//! Parking a thread that waits for a future: on the reactor if nobody drives it, else
//! on a futex.
//!
//! A thread in [`block_on`](crate::Runtime::block_on) (or a local executor with
//! nothing to run) has nothing to do until a waker fires. If no other thread is
//! driving the reactor, it drives it itself: it waits in `epoll_wait`, bounded by the
//! next timer, and wakes the wakers of whatever became ready, so a program whose only
//! thread is in `block_on` still gets its I/O and timers. Otherwise it sleeps on its
//! futex.
//!
//! # No lost wake-up
//!
//! The waker (`unpark`) sets `notified`, then, if the parker is in the reactor,
//! interrupts it (`Reactor::notify`); otherwise it hands the futex token. [`Parker::park`]
//! consumes `notified` first; before it waits in the reactor it stores `in_reactor`
//! and then reads `notified` again. Both sides use SeqCst, so of the two pairs
//! (store `notified`, load `in_reactor`) and (store `in_reactor`, load `notified`) at
//! least one load sees the other's store: either the parker sees the wake-up and
//! returns, or the unparker sees the parker in the reactor and interrupts it. A
//! `Reactor::notify` that arrives before the `epoll_wait` makes it return at once (an
//! eventfd stays readable).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Wake, Waker};
use weft_io::reactor::Reactor;

/// A parker for the current thread (not `Clone`: one thread parks).
#[derive(Debug)]
pub(crate) struct Parker {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    notified: AtomicBool,
    in_reactor: AtomicBool,
    futex: weft_sync::Parker,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            inner: Arc::new(Inner::default()),
        }
    }

    /// A waker that unparks this parker.
    pub(crate) fn waker(&self) -> Waker {
        Waker::from(Arc::clone(&self.inner))
    }

    /// Waits until unparked (returns at once if an unpark came since the last park).
    /// Drives the reactor meanwhile if no other thread does.
    pub(crate) fn park(&self) {
        let inner = &*self.inner;
        if inner.notified.swap(false, Ordering::SeqCst) {
            return;
        }
        if let Some(mut reactor) = Reactor::get().try_lock() {
            inner.in_reactor.store(true, Ordering::SeqCst);
            while !inner.notified.swap(false, Ordering::SeqCst) {
                if let Err(error) = reactor.react(None) {
                    // The reactor's descriptors are the process's own: an error here
                    // is a bug or resource exhaustion, not a caller's mistake.
                    panic!("weft-rt: the reactor failed: {error}");
                }
            }
            inner.in_reactor.store(false, Ordering::SeqCst);
            return;
        }
        // Someone else holds the reactor. It may stop driving (a runtime's worker that
        // goes busy, another `block_on` that returns): ask to be woken when it lets go,
        // and take over then, so events never wait for a holder that left.
        let released = Waker::from(Arc::new(Released(Arc::clone(&self.inner))));
        loop {
            Reactor::get().wake_when_unlocked(&released);
            if let Some(mut reactor) = Reactor::get().try_lock() {
                inner.in_reactor.store(true, Ordering::SeqCst);
                while !inner.notified.swap(false, Ordering::SeqCst) {
                    if let Err(error) = reactor.react(None) {
                        panic!("weft-rt: the reactor failed: {error}");
                    }
                }
                inner.in_reactor.store(false, Ordering::SeqCst);
                return;
            }
            inner.futex.park();
            if inner.notified.swap(false, Ordering::SeqCst) {
                return;
            }
        }
    }
}

/// Wakes the parked thread to retry the reactor lock, without a wake-up token.
struct Released(Arc<Inner>);

impl Wake for Released {
    fn wake(self: Arc<Self>) {
        self.0.futex.unpark();
    }
}

impl Inner {
    fn unpark(&self) {
        if self.notified.swap(true, Ordering::SeqCst) {
            return; // already pending: the parker will see it
        }
        if self.in_reactor.load(Ordering::SeqCst) {
            Reactor::get().notify();
        } else {
            self.futex.unpark();
        }
    }
}

impl Wake for Inner {
    fn wake(self: Arc<Self>) {
        self.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.unpark();
    }
}

/// Runs `future` to completion on this thread, sleeping on a futex between polls and
/// never driving the reactor: for a thread outside a multi-thread runtime whose
/// workers drive it (one sleeps in it when idle, busy ones poll it every 61 jobs).
/// Driving it from here too would make this thread wake tasks from outside the pool
/// (onto the injector, never a worker's LIFO slot) and take the reactor from the
/// workers, which measured 1.6x slower on TCP echo.
pub(crate) fn block_on_parked<F: std::future::Future>(future: F) -> F::Output {
    struct Thread {
        notified: AtomicBool,
        futex: weft_sync::Parker,
    }
    impl Wake for Thread {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            if !self.notified.swap(true, Ordering::SeqCst) {
                self.futex.unpark();
            }
        }
    }
    let thread = Arc::new(Thread {
        notified: AtomicBool::new(false),
        futex: weft_sync::Parker::new(),
    });
    let waker = Waker::from(Arc::clone(&thread));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) =
            weft_sync::coop::unconstrained(|| future.as_mut().poll(&mut cx))
        {
            return output;
        }
        while !thread.notified.swap(false, Ordering::SeqCst) {
            thread.futex.park();
        }
    }
}
