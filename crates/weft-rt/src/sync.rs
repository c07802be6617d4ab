//! Runtime-neutral synchronisation for tasks: [`Notify`] here, and re-exports of
//! weft-sync's async locks and semaphore and weft-channel's channels, which work in
//! any executor (their futures only use the `Waker` they are polled with).

pub use weft_channel::{Receiver, Sender, bounded, oneshot, unbounded};
pub use weft_sync::{
    AsyncMutex as Mutex, AsyncMutexGuard as MutexGuard, AsyncRwLock as RwLock,
    AsyncRwLockReadGuard as RwLockReadGuard, AsyncRwLockWriteGuard as RwLockWriteGuard, Barrier,
    Event, EventListener, OwnedSemaphorePermit, Semaphore, SemaphorePermit,
};

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Wakes one task, or all waiting tasks, without data: tokio's `Notify`.
///
/// [`notify_one`](Notify::notify_one) wakes one waiter, or, if none waits, stores a
/// *permit* so that the next [`notified`](Notify::notified) completes at once (at most
/// one permit is stored). [`notify_waiters`](Notify::notify_waiters) wakes every task
/// waiting at that moment and stores no permit.
///
/// Built on weft-sync's [`Event`] (listen, check, wait), so no wake-up is lost between
/// a waiter's check and its sleep.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_rt::sync::Notify;
///
/// let rt = weft_rt::Runtime::new().unwrap();
/// let notify = Arc::new(Notify::new());
/// rt.block_on(async {
///     let waiter = {
///         let notify = Arc::clone(&notify);
///         weft_rt::spawn(async move { notify.notified().await; "woken" })
///     };
///     notify.notify_one();
///     assert_eq!(waiter.await.unwrap(), "woken");
/// });
/// ```
#[derive(Default)]
pub struct Notify {
    event: Event,
    permit: AtomicBool,
    /// Bumped by `notify_waiters`: a waiter that saw an older value is released.
    generation: AtomicU64,
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify")
            .field("permit", &self.permit.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Notify {
    /// A `Notify` with no permit.
    pub fn new() -> Notify {
        Notify::default()
    }

    /// Waits for a notification: a stored permit (consumed), a `notify_one`, or a
    /// `notify_waiters` that comes after this call.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe for `notify_one`: a permit it did not take stays stored for the next
    /// waiter. A `notify_waiters` it was owed is lost with it (that call is for the waiters
    /// of its moment).
    pub async fn notified(&self) {
        // The generation is read when `notified` is called, as tokio does: a
        // `notify_waiters` after the call releases the waiter even if it was not yet
        // polled.
        let generation = self.generation.load(Ordering::SeqCst);
        loop {
            if self.take_permit() || self.generation.load(Ordering::SeqCst) != generation {
                return;
            }
            let listener = self.event.listen();
            if self.take_permit() || self.generation.load(Ordering::SeqCst) != generation {
                return;
            }
            listener.await;
        }
    }

    fn take_permit(&self) -> bool {
        self.permit.swap(false, Ordering::SeqCst)
    }

    /// Wakes one waiting task, or stores a permit for the next `notified` if none
    /// waits.
    pub fn notify_one(&self) {
        self.permit.store(true, Ordering::SeqCst);
        self.event.notify(1);
    }

    /// Wakes every task waiting now (not later ones); stores no permit.
    pub fn notify_waiters(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.event.notify_all();
    }
}
