//! The per-direction readiness state of a registered source, and the handshake between
//! the reactor (which learns of edges) and tasks (which consume them).
//!
//! # Protocol
//!
//! Each direction (read, write) of a source holds
//!
//! | field    | written by | meaning |
//! |----------|------------|---------|
//! | `state` bit 0 (`READY`) | both | an edge arrived that no I/O attempt has yet consumed |
//! | `state` bits 1.. (tick) | reactor | counts the edges the reactor delivered |
//! | `wakers` (mutex) | tasks | tasks to wake on the next edge, deduplicated by `will_wake` |
//!
//! 1. The reactor, on an edge: adds one to the tick and sets `READY` in one atomic
//!    step, then takes the wakers under the mutex, and wakes them after dropping it
//!    ([`Readiness::set_ready`]).
//! 2. A task, before an I/O attempt: [`Readiness::poll_ready`]. If `READY` is set it
//!    gets the tick and tries the syscall: one atomic load, no lock, on the hot path.
//!    Otherwise it takes the mutex, stores its waker, and loads `state` again before
//!    returning `Pending`. No edge is lost: if the reactor took the mutex after the
//!    task released it, it finds the waker; if before, its update of `state` happened
//!    before that release and the task's second load sees it.
//! 3. When the syscall says `WouldBlock`, the task calls
//!    [`Readiness::clear_ready`] with the tick it saw, which clears `READY` by a
//!    compare-and-swap that fails if a new edge arrived since (the tick changed). An
//!    edge that landed between the syscall and the clear keeps `READY` set, so the task
//!    retries instead of sleeping on data that is already there. This is what makes
//!    edge-triggered registration safe: the kernel reports each edge once, and this
//!    state remembers it until an I/O attempt proves it consumed.
//!
//! `READY` starts clear: epoll reports a descriptor that is already ready at
//! registration as an edge on the next wait. Orderings are SeqCst for simplicity: the
//! lost-wake-up argument rests on the mutex, and readiness guards kernel state, not
//! memory, so nothing else needs publishing.
//!
//! # Examples
//!
//! ```
//! use std::task::{Context, Poll, Waker};
//! use weft_io::reactor::readiness::Readiness;
//!
//! let readiness = Readiness::new();
//! let mut cx = Context::from_waker(Waker::noop());
//! assert!(readiness.poll_ready(&mut cx).is_pending()); // waker stored
//!
//! let mut to_wake = Vec::new();
//! readiness.set_ready(&mut to_wake); // the reactor saw an edge
//! assert_eq!(to_wake.len(), 1);
//! let Poll::Ready(tick) = readiness.poll_ready(&mut cx) else { unreachable!() };
//!
//! readiness.set_ready(&mut to_wake); // a second edge lands before the clear ...
//! readiness.clear_ready(tick); // ... so the stale clear keeps it ready
//! assert!(readiness.is_ready());
//! ```

use std::task::{Context, Poll, Waker};
use weft_sync::Mutex;
use weft_sync::primitive::atomic::{AtomicU64, Ordering};

const READY: u64 = 1;
/// One tick, above the `READY` bit.
const TICK: u64 = 2;

/// Readiness of one direction of one source; see the [module docs](self).
#[derive(Debug)]
pub struct Readiness {
    state: AtomicU64,
    wakers: Mutex<Vec<Waker>>,
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

impl Readiness {
    /// Not ready, with no waiters.
    pub fn new() -> Self {
        Self {
            state: AtomicU64::new(0),
            wakers: Mutex::new(Vec::new()),
        }
    }

    /// Step 2: `Ready(tick)` if an unconsumed edge is there; else stores the task's
    /// waker for the next edge.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<u64> {
        let state = self.state.load(Ordering::SeqCst);
        if state & READY != 0 {
            return Poll::Ready(state >> 1);
        }
        self.poll_ready_slow(cx)
    }

    #[cold]
    fn poll_ready_slow(&self, cx: &mut Context<'_>) -> Poll<u64> {
        let mut wakers = self.wakers.lock();
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        // Under the mutex: see step 2 in the module docs.
        let state = self.state.load(Ordering::SeqCst);
        drop(wakers);
        if state & READY != 0 {
            // The waker stays registered; the next edge wakes it spuriously.
            return Poll::Ready(state >> 1);
        }
        Poll::Pending
    }

    /// Step 3: the I/O attempt after `poll_ready` returned `tick` would block.
    pub fn clear_ready(&self, tick: u64) {
        let seen = (tick << 1) | READY;
        // Fails, leaving READY set, if the tick moved on (a new edge) or another task
        // already cleared it.
        let _ = self
            .state
            .compare_exchange(seen, tick << 1, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Step 1: an edge arrived. Appends the wakers to wake to `out` (the caller wakes
    /// them once no lock is held).
    pub fn set_ready(&self, out: &mut Vec<Waker>) {
        // One RMW for tick and bit, so a clear with the old tick cannot slip between.
        let _ = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                Some(s.wrapping_add(TICK) | READY)
            });
        out.append(&mut self.wakers.lock());
    }

    /// Whether an unconsumed edge is recorded (for tests and debugging).
    pub fn is_ready(&self) -> bool {
        self.state.load(Ordering::SeqCst) & READY != 0
    }
}
