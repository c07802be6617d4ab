//! `Event`: a notification that blocking threads and async tasks can both wait on.
//!
//! Design in the spirit of smol's `event-listener` (listen, check, wait), written
//! afresh: a lazily allocated shared part holding a slab-backed FIFO of listeners
//! ([`list`]) under a small futex lock ([`lock`]), and an atomic hint so that notifying
//! an event nobody is listening to never takes the lock.
//!
//! # Why no wake-up is lost: the fence argument
//!
//! The protocol is: a waiter calls `listen()`, then checks its condition, then waits;
//! a notifier changes the condition, then calls `notify`. Each side writes one
//! location and then reads the other's (the waiter writes the list's hint and reads the
//! condition; the notifier writes the condition and reads the hint), the store-load
//! pattern of Dekker's algorithm, which no Acquire/Release pairing can order. So:
//!
//! - `listen` stores the new hint (under the lock), then executes `fence(SeqCst)` (F2),
//!   and only then returns, so the caller's check comes after F2;
//! - `notify` executes `fence(SeqCst)` (F1) first, then loads the hint.
//!
//! F1 and F2 are ordered in the single total order of SeqCst fences. If F1 comes first,
//! the waiter's condition load (after F2) sees the notifier's condition store (before
//! F1) or a later one: the check succeeds and the waiter does not wait. If F2 comes
//! first, the notifier's hint load (after F1) sees the listener's hint store (before F2)
//! or later: it takes the lock and notifies the listener. Either way the wake-up is
//! delivered, whatever orderings the caller used for its own condition. This is the
//! fence-fence rule of the C++20 memory model ([atomics.order] p. 4) that Rust adopts.
//! "Or later" is fine: a later hint value means some other listener got notified or the
//! listener went away, and `notify(n)` only promises that `n` listeners are notified.
//!
//! The hint itself is read and written `Relaxed`: it only decides whether to take the
//! lock, the fences order it, and the lock orders the list.
//!
//! # Why an idle `notify` is a fence and two loads, not one load
//!
//! - The fence cannot go: it is F1 above, and without it the notifier's hint load may
//!   be satisfied before its condition store is visible (store-load reordering, which
//!   x86 does too), losing the wake-up. Replacing it by a read-modify-write of the hint
//!   would cost as much and make every notifier write a shared line.
//! - The hint lives in the shared part, behind the `inner` pointer, because listeners
//!   must update it (consuming or dropping a notification lowers the count) and a
//!   listener can reach neither the `Event` (it may move, or be dropped first) nor
//!   anything but its `Arc`. A second hint inside the `Event`, kept only by `listen`
//!   and `notify`, would go stale when a listener consumes its notification; a stale
//!   count would make `notify(1)` skip a listener that still waits. (A stale "someone
//!   might be unnotified" flag would be safe, but then every `notify` while a notified
//!   listener has not yet woken takes the lock, the common case of a contended unlock.)
//! - The second load is cheap: `inner` never changes after the first `listen`, so it
//!   stays in every notifier's cache. Measured, an event never listened to (one load)
//!   and one listened to before (two) both cost 2.3–2.4 ns per `notify`: the fence is
//!   the cost.
//!
//! # Allocation
//!
//! `Event::new` allocates nothing. The first `listen` allocates the shared part (one
//! `Arc`), which listeners keep alive, so an [`EventListener`] is `'static` and can be
//! stored in a future or a `Stream` beside the `Arc` of the structure it listens to.
//! After that, `listen` allocates only when the slab must grow past its previous peak.
//!
//! # Dropping the event
//!
//! A listener can outlive its event, and nothing could ever notify it after the event
//! is gone, so `Drop for Event` notifies every listener still in the list. No listener
//! can be missed: the drop has `&mut Event`, so every `listen` happened before it (and
//! none can follow), and the notification goes through the list lock like any
//! `notify`, so a listener registering its waker concurrently either sees itself
//! notified or has its waker woken. No fence is involved: there is no caller condition
//! to order, only the list.

mod block;
mod list;
mod lock;

pub(crate) use block::{block_on, deadline_after};
pub(crate) use lock::Lock;

use crate::primitive::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll};
use list::{List, NONE, Notified, WakeBatch};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Times a blocking wait yields the CPU, watching `Inner::notifications`, before it
/// parks. Yielding lets a preempted notifier run instead of costing a futex sleep and
/// wake. Measured on 2 cores shared with other busy processes (medians of 5–7 runs
/// interleaved with a build that parks at once):
///
/// - two-thread ping-pong, per round trip: parking at once 5.0 us; 10 yields 3.4 us;
///   2 rounds of busy pauses then yields 3.7 us; 8 busy rounds 28.6 us (busy spinning
///   holds the core the notifier needs, so the wait only yields);
/// - one producer handing items to consumers (listen, check, wait), per item: 1 to 1
///   3–5x faster; 1 to 8 (more waiters than cores) between 7% slower and 2.7x faster
///   over four batches as the machine's load changed, so the yields do not turn into
///   churn;
/// - a two-thread `Barrier`: 5.7 -> 3.9 us per round. (Watching the hint instead cost
///   24 us: its count came back to the value the waiter had seen, so the waiter yielded
///   all 10 times though notified; see `Inner::notifications`.)
///
/// Under loom a yield is "run the others until they block", which would hide the
/// parking races the models exist to explore.
const SPIN_YIELDS: u32 = if cfg!(loom) { 0 } else { 10 };

/// A notification that blocking threads and async tasks can wait on, without losing a
/// wake-up.
///
/// To wait for a condition, [`listen`](Self::listen) first, *then* check the condition,
/// then wait on the listener; to signal, change the condition, *then*
/// [`notify`](Self::notify). A notification that lands between the check and the wait
/// is remembered by the listener, so the wait returns at once.
///
/// # Cost
///
/// - `notify*` on an event nobody listens to: one `SeqCst` fence and one atomic load
///   (two dependent loads once the event has ever been listened to; the module source
///   explains why it cannot be less). No lock, no read-modify-write.
/// - `listen`: an `Arc` clone, a short critical section on a futex lock, one fence;
///   allocation only on the very first listen and when the listener slab grows.
/// - Each notified waiter: its waker is woken outside the lock.
/// - A blocking [`wait`](EventListener::wait) that is not yet notified yields the CPU
///   a few times, watching for the notification, before it parks: a hand-off to a
///   thread that is about to notify then costs no futex sleep and wake.
///
/// # Event or Condvar?
///
/// A condition variable needs a mutex around the condition, and only threads can wait
/// on it. `Event` works with any condition (an atomic, a lock-free queue's emptiness),
/// and a task can `.await` a listener. Pick `Condvar` when the condition lives under a
/// mutex anyway and only threads wait; pick `Event` to build something that async code
/// waits on too (channels, async locks, [`Semaphore`](crate::Semaphore)).
///
/// # Notification kinds
///
/// - [`notify(n)`](Self::notify): make sure at least `n` listeners are notified
///   (counting those notified earlier that have not yet consumed it). Idempotent, right
///   for "the state changed, somebody look": an unlock, a new item.
/// - [`notify_additional(n)`](Self::notify_additional): notify `n` more, for when `n`
///   separate things became available (permits, items).
///
/// Listeners are notified in the order they called `listen`.
///
/// # Dropping
///
/// Dropping an `Event` notifies every listener it still has, as
/// [`notify_all`](Self::notify_all) would: a thread blocked in
/// [`EventListener::wait`] returns, a pending listener future completes, and
/// [`wait_timeout`](EventListener::wait_timeout) reports `true`. Nobody can listen to
/// the event any more, so a listener left waiting would wait forever; instead it wakes
/// and re-checks its condition as after any notification, and a structure built on
/// the event (a channel, say) reports there why the wait ended (disconnected, closed).
/// Listeners outlive their event safely: each holds a share of the listener list.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use weft_sync::Event;
///
/// let ready = Arc::new(AtomicBool::new(false));
/// let event = Arc::new(Event::new());
/// let (r, e) = (Arc::clone(&ready), Arc::clone(&event));
/// let t = std::thread::spawn(move || {
///     r.store(true, Ordering::Release);
///     e.notify(usize::MAX);
/// });
/// // listen, check, wait: the order that cannot lose the notification.
/// while !ready.load(Ordering::Acquire) {
///     let listener = event.listen();
///     if ready.load(Ordering::Acquire) {
///         break;
///     }
///     listener.wait();
/// }
/// t.join().unwrap();
/// ```
pub struct Event {
    /// Null until the first `listen`; then an `Arc<Inner>` turned into a raw pointer,
    /// owned by the event (one strong count) and never changed again.
    inner: AtomicPtr<Inner>,
}

struct Inner {
    /// `List::hint`, readable without the lock.
    hint: AtomicUsize,
    /// `List::notifications`, readable without the lock: a waiter spinning before it
    /// parks takes the lock only when this changes. (The hint would not do: its count
    /// falls when a notification is consumed and can return to the value the waiter
    /// saw, hiding the notification it waits for.)
    notifications: AtomicUsize,
    list: Lock<List>,
}

impl Inner {
    #[cold]
    fn notify_slow(&self, mut n: usize, additional: bool) -> usize {
        let mut total = 0;
        loop {
            let mut batch = WakeBatch::new();
            let count = {
                let mut list = self.list.lock();
                let count = list.notify(n, additional, &mut batch);
                self.hint.store(list.hint(), Ordering::Relaxed);
                self.notifications
                    .store(list.notifications(), Ordering::Relaxed);
                count
            };
            let more = batch.is_full();
            batch.wake();
            total += count;
            if additional {
                n -= count;
            }
            if !more || n == 0 {
                return total;
            }
        }
    }
}

// SAFETY: `Event` owns an `Arc<Inner>`; `Inner` is `Send + Sync` (its list is behind a
// lock and holds only `Waker`s, which are `Send + Sync`).
unsafe impl Send for Event {}
// SAFETY: as above; every method takes `&self` and synchronizes through `Inner`.
unsafe impl Sync for Event {}

impl Event {
    /// Creates an event with no listeners. Allocates nothing.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            inner: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Creates an event with no listeners. Allocates nothing.
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            inner: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Registers a listener. Check your condition after this and before waiting.
    pub fn listen(&self) -> EventListener {
        let inner = self.inner_or_init();
        let key = {
            let mut list = inner.list.lock();
            let key = list.insert();
            inner.hint.store(list.hint(), Ordering::Relaxed);
            key
        };
        // F2 of the module doc: the caller's condition check comes after this.
        fence(Ordering::SeqCst);
        EventListener { inner, key }
    }

    /// Makes sure at least `n` listeners are notified, counting those already notified
    /// that have not yet woken; returns how many it notified now.
    ///
    /// `notify(usize::MAX)` is [`notify_all`](Self::notify_all).
    #[inline]
    pub fn notify(&self, n: usize) -> usize {
        // F1 of the module doc.
        fence(Ordering::SeqCst);
        match self.inner_ref() {
            Some(inner) if inner.hint.load(Ordering::Relaxed) < n => inner.notify_slow(n, false),
            _ => 0,
        }
    }

    /// Notifies `n` listeners that are not yet notified, in listen order, whether or
    /// not others are already notified; returns how many it notified.
    #[inline]
    pub fn notify_additional(&self, n: usize) -> usize {
        // F1 of the module doc.
        fence(Ordering::SeqCst);
        match self.inner_ref() {
            Some(inner) if n > 0 && inner.hint.load(Ordering::Relaxed) != usize::MAX => {
                inner.notify_slow(n, true)
            }
            _ => 0,
        }
    }

    /// Notifies every current listener; returns how many it notified now.
    #[inline]
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }

    /// The number of live listeners (a snapshot, for diagnostics and tests).
    pub fn listener_count(&self) -> usize {
        self.inner_ref().map_or(0, |inner| inner.list.lock().len())
    }

    fn inner_ref(&self) -> Option<&Inner> {
        // Acquire: pairs with the AcqRel CAS in `inner_or_init` that publishes the
        // initialized `Inner`.
        let p = self.inner.load(Ordering::Acquire);
        // SAFETY: a non-null pointer came from `Arc::into_raw` and the event holds
        // that strong count until it is dropped, which cannot happen while `&self`.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    fn inner_or_init(&self) -> Arc<Inner> {
        let mut p = self.inner.load(Ordering::Acquire);
        if p.is_null() {
            let new = Arc::into_raw(Arc::new(Inner {
                hint: AtomicUsize::new(usize::MAX),
                notifications: AtomicUsize::new(0),
                list: Lock::new(List::new()),
            }))
            .cast_mut();
            // AcqRel: Release publishes the new `Inner` to `inner_ref`'s Acquire;
            // Acquire (also on failure) sees the winner's `Inner`.
            match self
                .inner
                .compare_exchange(p, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => p = new,
                Err(winner) => {
                    // SAFETY: `new` came from `Arc::into_raw` above and was never shared.
                    drop(unsafe { Arc::from_raw(new) });
                    p = winner;
                }
            }
        }
        // SAFETY: `p` is the event's own `Arc<Inner>` (see `inner_ref`); adding a strong
        // count and then taking it back as an `Arc` gives the listener its own share.
        unsafe {
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        }
    }
}

impl Drop for Event {
    /// Notifies every remaining listener (see "Dropping" in the type docs), then gives
    /// up the event's share of the listener list.
    fn drop(&mut self) {
        // Acquire: as in `inner_ref`.
        let p = self.inner.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: the event's own strong count, taken in `inner_or_init`.
            let inner = unsafe { Arc::from_raw(p) };
            // `&mut self` means no `listen` can run now or ever again, so this reaches
            // every listener there will be. It goes through the lock like any notify,
            // which orders it with a listener registering its waker (no fence needed:
            // there is no condition to race with, only the list).
            inner.notify_slow(usize::MAX, false);
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner_ref() {
            None => f.debug_struct("Event").field("listeners", &0).finish(),
            Some(inner) => {
                let list = inner.list.lock();
                f.debug_struct("Event")
                    .field("listeners", &list.len())
                    .field("notified", &inner.hint.load(Ordering::Relaxed))
                    .finish()
            }
        }
    }
}

/// A registration with an [`Event`]: wait on it (blocking), or `.await` it.
///
/// Waiting consumes the notification. A listener that is dropped (or
/// [`discard`](Self::discard)ed) after it was notified but before it consumed the
/// notification passes it on to the next listener, with the same kind (`notify` or
/// `notify_additional`), so cancelling a future that was about to wake never swallows
/// a wake-up.
///
/// If the [`Event`] is dropped, every listener it still has is notified (see
/// "Dropping" there): waiting returns and the future completes, never hangs. As after
/// any notification, re-check the condition you were waiting for.
///
/// As a future it is `Unpin`; polling it again with a different waker replaces the
/// stored one. Once it has returned `Ready`, further polls return `Ready` at once.
///
/// # Examples
///
/// ```
/// use weft_sync::Event;
///
/// let event = Event::new();
/// let listener = event.listen();
/// assert_eq!(event.notify(1), 1);
/// assert!(listener.is_notified());
/// listener.wait(); // returns at once: the notification was remembered
/// ```
#[must_use = "a listener does nothing unless waited on or awaited"]
pub struct EventListener {
    inner: Arc<Inner>,
    /// The slab key, or `NONE` once the notification was consumed.
    key: usize,
}

impl EventListener {
    /// Blocks the thread until notified.
    pub fn wait(self) {
        self.wait_until(None);
    }

    /// Blocks until notified or until `timeout` passes; returns whether notified.
    pub fn wait_timeout(self, timeout: Duration) -> bool {
        self.wait_until(deadline_after(timeout))
    }

    /// Blocks until notified or until `deadline`; returns whether notified.
    pub fn wait_deadline(self, deadline: Instant) -> bool {
        self.wait_until(Some(deadline))
    }

    fn wait_until(mut self, deadline: Option<Instant>) -> bool {
        // Relaxed: see `spin_until_notified`. Read before the check below, so that a
        // notification landing right after the check shows as a change.
        let seen = self.inner.notifications.load(Ordering::Relaxed);
        // Already notified (the notification landed between the caller's check and
        // this wait): consume it without touching the thread-local parker.
        if self.key == NONE || self.register(None) {
            return true;
        }
        if self.spin_until_notified(seen) {
            return true;
        }
        block::with_thread_waker(|waker, parker| {
            loop {
                if self.register(Some(waker)) {
                    return true;
                }
                if !parker.park_until(deadline) {
                    // Timed out: a notification that arrived in the meantime is
                    // consumed (we report it), not passed on.
                    return self.remove();
                }
            }
        })
    }

    /// Yields up to [`SPIN_YIELDS`] times, consuming the notification if it arrives
    /// meanwhile. `seen` is `Inner::notifications` as read before the last check: only
    /// a new notification (to us or to another listener) sends us to the lock to look,
    /// so spinning waiters do not contend for it.
    fn spin_until_notified(&mut self, mut seen: usize) -> bool {
        for _ in 0..SPIN_YIELDS {
            crate::primitive::thread::yield_now();
            // Relaxed: only decides whether to take the lock, which orders the list.
            let now = self.inner.notifications.load(Ordering::Relaxed);
            if now != seen {
                if self.register(None) {
                    return true;
                }
                seen = now;
            }
        }
        false
    }

    /// Whether this listener has been notified (and not yet consumed it), or has
    /// already completed.
    pub fn is_notified(&self) -> bool {
        self.key == NONE || self.inner.list.lock().is_notified(self.key)
    }

    /// Unregisters the listener; returns whether it had been notified, in which case the
    /// notification was passed on to another listener. Same as dropping it, plus the
    /// answer.
    pub fn discard(mut self) -> bool {
        self.cancel()
    }

    /// Whether `self` and `event` are the listener and the event of one registration.
    pub fn listens_to(&self, event: &Event) -> bool {
        event
            .inner_ref()
            .is_some_and(|inner| ptr::eq(inner, &*self.inner))
    }

    /// If notified, consumes the notification (and returns `true`); otherwise stores
    /// `waker`, if given, to be woken.
    fn register(&mut self, waker: Option<&core::task::Waker>) -> bool {
        let mut list = self.inner.list.lock();
        if !list.register(self.key, waker) {
            return false;
        }
        list.remove(self.key);
        self.inner.hint.store(list.hint(), Ordering::Relaxed);
        self.key = NONE;
        true
    }

    /// Unregisters after a timed-out wait; returns whether it had been notified. (The
    /// waker dropped under the lock is this thread's own, which the thread-local keeps
    /// alive.)
    fn remove(&mut self) -> bool {
        let mut list = self.inner.list.lock();
        let notified = list.remove(self.key).is_some();
        self.inner.hint.store(list.hint(), Ordering::Relaxed);
        self.key = NONE;
        notified
    }

    #[inline]
    fn cancel(&mut self) -> bool {
        self.key != NONE && self.cancel_slow()
    }

    /// `cancel` of a listener still registered (not the common consumed case).
    #[inline(never)]
    fn cancel_slow(&mut self) -> bool {
        let mut batch = WakeBatch::new();
        let (notified, waker) = {
            let mut list = self.inner.list.lock();
            // Possibly the last reference to some task: dropped after unlocking.
            let waker = list.take_waker(self.key);
            let notified = match list.remove(self.key) {
                Some(Notified { additional }) => {
                    // Pass it on; one notification never fills the batch.
                    list.notify(1, additional, &mut batch);
                    self.inner
                        .notifications
                        .store(list.notifications(), Ordering::Relaxed);
                    true
                }
                None => false,
            };
            self.inner.hint.store(list.hint(), Ordering::Relaxed);
            (notified, waker)
        };
        self.key = NONE;
        drop(waker);
        batch.wake();
        notified
    }
}

impl Future for EventListener {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.key == NONE || self.register(Some(cx.waker())) {
            Poll::Ready(())
        } else {
            crate::coop::waiting_on(&WAIT_EVENT);
            Poll::Pending
        }
    }
}

/// What a task waiting on an event (an async lock, a semaphore, a notification)
/// shows in a task dump.
static WAIT_EVENT: crate::coop::WaitSite =
    crate::coop::WaitSite::new("an event (async lock, semaphore or notification)");

impl Drop for EventListener {
    #[inline]
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for EventListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventListener")
            .field("notified", &self.is_notified())
            .finish()
    }
}
