//! A one-token thread parker on one futex word: [`Parker::park`] consumes the token or
//! sleeps until [`Parker::unpark`] provides it.
//!
//! The token makes the order of `park` and `unpark` irrelevant: an `unpark` that comes
//! first is remembered, so "publish that I will sleep, re-check, sleep" cannot lose a
//! wake-up. This is the bottom layer of every blocking wait in weft.
//!
//! # State machine (one `AtomicU32`)
//!
//! | state      | meaning                                   | moves to                    |
//! |------------|-------------------------------------------|-----------------------------|
//! | `EMPTY`    | no token, nobody sleeping                 | `PARKED` (park), `NOTIFIED` (unpark) |
//! | `PARKED`   | the owner is in, or about to enter, futex wait | `NOTIFIED` (unpark), `EMPTY` (park times out) |
//! | `NOTIFIED` | a token is waiting to be consumed         | `EMPTY` (park consumes it)  |
//!
//! Only the owning thread parks; any thread may unpark.

use crate::futex;
use crate::primitive::atomic::{AtomicU32, Ordering};
use std::time::Instant;

const EMPTY: u32 = 0;
const NOTIFIED: u32 = 1;
const PARKED: u32 = u32::MAX;

/// A thread parker holding at most one wake-up token.
#[derive(Debug)]
pub struct Parker {
    state: AtomicU32,
}

impl Default for Parker {
    fn default() -> Self {
        Self::new()
    }
}

impl Parker {
    /// Creates a parker with no token.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            state: AtomicU32::new(EMPTY),
        }
    }

    /// Creates a parker with no token.
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            state: AtomicU32::new(EMPTY),
        }
    }

    /// Consumes the token, sleeping until one is available. May not be called from
    /// two threads at once on the same parker.
    pub fn park(&self) {
        self.park_until(None);
    }

    /// Like [`park`](Self::park), but gives up at `deadline`. Returns `true` if a token
    /// was consumed, `false` on timeout.
    pub fn park_until(&self, deadline: Option<Instant>) -> bool {
        // EMPTY -> PARKED, or NOTIFIED -> EMPTY (token consumed).
        // Acquire: pairs with the Release swap in `unpark`, so what the unparker wrote
        // before unparking is visible once the token is consumed.
        if self.state.fetch_sub(1, Ordering::Acquire) == NOTIFIED {
            return true;
        }
        loop {
            let woke = futex::wait(&self.state, PARKED, deadline);
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Acquire)
                .is_ok()
            {
                return true;
            }
            if !woke {
                // Timed out: withdraw unless a token arrived in between.
                return self.state.swap(EMPTY, Ordering::Acquire) == NOTIFIED;
            }
        }
    }

    /// Provides the token, waking the owner if it sleeps. Tokens do not accumulate.
    pub fn unpark(&self) {
        // Release: publishes the unparker's writes to the Acquire in `park_until`.
        if self.state.swap(NOTIFIED, Ordering::Release) == PARKED {
            futex::wake_one(&self.state);
        }
    }
}
