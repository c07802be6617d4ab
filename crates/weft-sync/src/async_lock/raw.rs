//! `RawMutex`: a lock bit plus an [`Event`], the core of [`AsyncMutex`](super::AsyncMutex)
//! and the writer gate of [`AsyncRwLock`](super::AsyncRwLock).
//!
//! Unfair: an arriving locker may take the lock before a woken waiter gets to it
//! (barging keeps the lock busy instead of idle while the waiter is scheduled). A
//! waiter that loses re-listens at the back.

use crate::event::Event;
use crate::primitive::atomic::{AtomicBool, Ordering};

pub(super) struct RawMutex {
    locked: AtomicBool,
    event: Event,
}

impl RawMutex {
    #[cfg(not(loom))]
    pub(super) const fn new() -> Self {
        Self {
            locked: AtomicBool::new(false),
            event: Event::new(),
        }
    }

    #[cfg(loom)]
    pub(super) fn new() -> Self {
        Self {
            locked: AtomicBool::new(false),
            event: Event::new(),
        }
    }

    #[inline]
    pub(super) fn try_lock(&self) -> bool {
        // Acquire: pairs with the Release store in `unlock`, so the previous holder's
        // writes are visible to this one.
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Locks, waiting asynchronously. Cancel-safe: it holds nothing but a listener
    /// until the final successful CAS.
    pub(super) async fn lock(&self) {
        loop {
            if self.try_lock() {
                return;
            }
            let listener = self.event.listen();
            if self.try_lock() {
                // Dropping the listener passes on a notification it may have got.
                return;
            }
            listener.await;
        }
    }

    /// Only the current holder may unlock (a logic error otherwise, not UB: the data
    /// this protects is guarded by the types above it).
    #[inline]
    pub(super) fn unlock(&self) {
        // Release: publishes the holder's writes to the next `try_lock`'s Acquire.
        self.locked.store(false, Ordering::Release);
        // One waiter is enough: whoever gets the lock will notify again on unlock.
        self.event.notify(1);
    }

    pub(super) fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }
}
