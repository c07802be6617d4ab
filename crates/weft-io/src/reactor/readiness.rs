//! The per-direction readiness state of a registered source, and the handshake between
//! the reactor (which learns of edges) and tasks (which consume them).
//!
//! # Protocol
//!
//! Each direction (read, write) of a source holds, under one lock:
//!
//! | field    | written by | meaning |
//! |----------|------------|---------|
//! | `tick`   | reactor    | counts the edges the reactor delivered for this direction |
//! | `ready`  | both       | an edge arrived that no I/O attempt has yet consumed |
//! | `wakers` | tasks      | tasks to wake on the next edge, deduplicated by `will_wake` |
//!
//! 1. The reactor, on an edge: `tick += 1`, `ready = true`, takes the wakers, and wakes
//!    them after dropping the lock ([`Readiness::set_ready`]).
//! 2. A task, before an I/O attempt: [`Readiness::poll_ready`]. If `ready`, it gets the
//!    current `tick` and tries the syscall; otherwise its waker is stored and it
//!    returns `Pending`. The check and the store happen under the same lock as step 1,
//!    so an edge either is seen by the check or finds the waker: none is lost.
//! 3. When the syscall says `WouldBlock`, the task calls
//!    [`Readiness::clear_ready`] with the tick it saw, which clears `ready` *only if no
//!    new edge arrived since* (`tick` unchanged). An edge that landed between the
//!    syscall and the clear keeps `ready` set, so the task retries instead of sleeping
//!    on data that is already there. This is what makes edge-triggered registration
//!    safe: the kernel reports each edge once, and this state remembers it until an
//!    I/O attempt proves it consumed.
//!
//! `ready` starts false: epoll reports a descriptor that is already ready at
//! registration as an edge on the next wait.

use std::task::{Context, Poll, Waker};
use weft_sync::Mutex;

/// Readiness of one direction of one source; see the [module docs](self).
#[derive(Debug, Default)]
pub struct Readiness {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    tick: u64,
    ready: bool,
    wakers: Vec<Waker>,
}

impl Readiness {
    /// Not ready, with no waiters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Step 2: `Ready(tick)` if an unconsumed edge is there; else stores the task's
    /// waker for the next edge.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<u64> {
        let mut state = self.state.lock();
        if state.ready {
            return Poll::Ready(state.tick);
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Step 3: the I/O attempt after `poll_ready` returned `tick` would block.
    pub fn clear_ready(&self, tick: u64) {
        let mut state = self.state.lock();
        if state.tick == tick {
            state.ready = false;
        }
    }

    /// Step 1: an edge arrived. Appends the wakers to wake to `out` (the caller wakes
    /// them once no lock is held).
    pub fn set_ready(&self, out: &mut Vec<Waker>) {
        let mut state = self.state.lock();
        state.tick = state.tick.wrapping_add(1);
        state.ready = true;
        out.append(&mut state.wakers);
    }

    /// Whether an unconsumed edge is recorded (for tests and debugging).
    pub fn is_ready(&self) -> bool {
        self.state.lock().ready
    }
}
