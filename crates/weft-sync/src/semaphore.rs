//! `Semaphore`: counting permits, blocking and async, built on [`Event`].
//!
//! # State machine
//!
//! One `AtomicUsize`, `state`:
//!
//! | bits            | meaning                                                        |
//! |-----------------|----------------------------------------------------------------|
//! | `CLOSED` (top)  | `close` was called: every acquire fails from now on            |
//! | `STARVING`      | one waiter owns starvation mode: nobody else may take permits  |
//! | the rest        | free permits (at most [`Semaphore::MAX_PERMITS`])              |
//!
//! Taking permits is a CAS that subtracts from the count (`Acquire`, pairing with the
//! `Release` half of the `AcqRel` `fetch_add` in `release`, so what a permit holder did
//! before releasing is visible to the next holder). `CLOSED` is only ever set;
//! `STARVING` is set and cleared only by its owner (or by its owner's `Drop`).
//!
//! # Who is woken
//!
//! Waiters listen on `event`. A release of `k` permits:
//!
//! - wakes `k` more listeners (`notify_additional(k)`) when every waiter wants one
//!   permit: each woken waiter either takes a permit or finds none left, in which case
//!   somebody else took it and no free permit is left without a notified waiter;
//! - wakes every listener when some waiter wants several permits (`multi_waiters > 0`)
//!   or starvation mode is on: a woken waiter for `n` may find `0 < free < n` and go
//!   back to sleep, and then a waiter for fewer permits behind it must still be told.
//!   Mixed sizes pay a thundering herd; uniform single-permit use does not.
//!
//! The releaser's `fetch_add` and the waiter's `multi_waiters` increment are both
//! `SeqCst` and each side reads the other's location afterwards (`SeqCst` again):
//! either the waiter's check sees the permits, or the releaser sees the multi-waiter.
//!
//! # Fairness guarantee
//!
//! Not FIFO. Arrivals may barge past sleeping waiters. But a waiter that has been woken
//! [`STARVATION_WAKES`] times without getting its permits claims `STARVING` (if nobody
//! holds it): from then on no other acquire, `try_acquire` included, takes permits, so
//! released permits accumulate until it can take all `n`. Hence a waiter for many
//! permits is not starved forever by a stream of single-permit acquirers: once it owns
//! starvation mode it gets its permits as soon as `n` are released, provided `n` is no
//! more than the permits that exist. Only one waiter owns the mode at a time; others
//! wait for it to finish.

use crate::deadlock::{self, Access, AcquireSite, LockClass, PermitHold, WaitRecord};
use crate::event::{Event, EventListener, block_on, deadline_after};
use crate::primitive::atomic::{AtomicUsize, Ordering};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;
use std::time::Duration;

const CLOSED: usize = 1 << (usize::BITS - 1);
const STARVING: usize = 1 << (usize::BITS - 2);
const PERMITS: usize = STARVING - 1;

/// How many fruitless wake-ups a waiter suffers before it claims starvation mode.
const STARVATION_WAKES: u32 = 4;

/// A counting semaphore: at most N holders of a resource at once, for threads and
/// tasks alike.
///
/// # Cost
///
/// An uncontended acquire or release is one CAS (release: one `fetch_add` plus the
/// event's fence and load). A waiter parks (thread) or returns `Pending` (task) on an
/// [`Event`] listener.
///
/// # Semaphore or bounded channel?
///
/// A semaphore limits how many things happen at once (connections, in-flight
/// requests) and carries no data; a bounded channel limits how much work is queued
/// and carries it. If the permit holder must hand a value to someone, use a channel.
///
/// # Cancel safety
///
/// Dropping an `acquire*_async` future before it completes takes no permits (the CAS
/// that takes them is the last thing it does) and loses no wake-up (a notification it
/// had received is passed on by its listener's drop; if it owned starvation mode, it
/// gives the mode up and wakes everyone).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use weft_sync::Semaphore;
///
/// let sem = Arc::new(Semaphore::new(2));
/// let inside = Arc::new(AtomicUsize::new(0));
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let (sem, inside) = (Arc::clone(&sem), Arc::clone(&inside));
///         std::thread::spawn(move || {
///             let _permit = sem.acquire().unwrap();
///             assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
///             inside.fetch_sub(1, Ordering::SeqCst);
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(sem.available_permits(), 2);
/// ```
pub struct Semaphore {
    state: AtomicUsize,
    /// How many pending acquires want more than one permit.
    multi_waiters: AtomicUsize,
    event: Event,
    /// Where it was created, for deadlock reports (zero-sized without the feature).
    class: LockClass,
}

/// The semaphore was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcquireError {
    /// [`Semaphore::close`] was called.
    Closed,
}

/// Why a non-blocking (or timed) acquire failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryAcquireError {
    /// Not enough permits were free (or, for a timed acquire, became free in time).
    NoPermits,
    /// [`Semaphore::close`] was called.
    Closed,
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPermits => f.write_str("no permits available"),
            Self::Closed => f.write_str("semaphore closed"),
        }
    }
}

impl std::error::Error for AcquireError {}
impl std::error::Error for TryAcquireError {}

impl From<AcquireError> for TryAcquireError {
    fn from(_: AcquireError) -> Self {
        Self::Closed
    }
}

enum Take {
    Taken,
    NoPermits,
    Closed,
}

impl Semaphore {
    /// The most permits a semaphore can hold.
    pub const MAX_PERMITS: usize = PERMITS;

    /// A semaphore with `permits` free permits.
    ///
    /// # Panics
    ///
    /// If `permits > MAX_PERMITS`.
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new(permits: usize) -> Self {
        assert!(permits <= PERMITS, "too many permits");
        Self {
            state: AtomicUsize::new(permits),
            multi_waiters: AtomicUsize::new(0),
            event: Event::new(),
            class: LockClass::new(),
        }
    }

    /// A semaphore with `permits` free permits.
    ///
    /// # Panics
    ///
    /// If `permits > MAX_PERMITS`.
    #[cfg(loom)]
    #[track_caller]
    pub fn new(permits: usize) -> Self {
        assert!(permits <= PERMITS, "too many permits");
        Self {
            state: AtomicUsize::new(permits),
            multi_waiters: AtomicUsize::new(0),
            event: Event::new(),
            class: LockClass::new(),
        }
    }

    /// Free permits right now (a snapshot).
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Relaxed) & PERMITS
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// Closes the semaphore: every pending and future acquire fails with `Closed`.
    /// Permits already held stay valid and are still returned on drop.
    pub fn close(&self) {
        // SeqCst: the state change of the listen/check/notify protocol; `notify_all`'s
        // fence orders it against waiters' checks.
        self.state.fetch_or(CLOSED, Ordering::SeqCst);
        self.event.notify_all();
    }

    /// Adds `n` permits (beyond the initial count, or to replace forgotten ones).
    ///
    /// # Panics
    ///
    /// If the count would exceed [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }

    /// Takes a permit, blocking the thread until one is free.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is (or gets) closed.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, blocking until that many are free.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is (or gets) closed.
    ///
    /// # Panics
    ///
    /// If `n > MAX_PERMITS`.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        if let Some(permit) = self.try_fast(n, AcquireSite::caller())? {
            return Ok(permit);
        }
        block_on(self.acquire_many_async(n), None).expect("no deadline")
    }

    /// Takes a permit, blocking at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] on timeout, [`TryAcquireError::Closed`] if closed.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.acquire_many_timeout(1, timeout)
    }

    /// Takes `n` permits, blocking at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Panics
    ///
    /// If `n > MAX_PERMITS`.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn acquire_many_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        if let Some(permit) = self.try_fast(n, AcquireSite::caller())? {
            return Ok(permit);
        }
        match block_on(self.acquire_many_async(n), deadline_after(timeout)) {
            Some(result) => Ok(result?),
            None => Err(TryAcquireError::NoPermits),
        }
    }

    /// Takes a permit if one is free, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if none is free (or a starving waiter has priority),
    /// [`TryAcquireError::Closed`] if closed.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if that many are free, without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// # Panics
    ///
    /// If `n > MAX_PERMITS`.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        match self.try_take(n, false) {
            Take::Taken => Ok(self.permit(n, Access::TryShared, AcquireSite::caller())),
            Take::NoPermits => Err(TryAcquireError::NoPermits),
            Take::Closed => Err(TryAcquireError::Closed),
        }
    }

    /// Takes a permit, waiting asynchronously. Cancel-safe (see the type's docs).
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is (or gets) closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future takes no permit, and a wake-up it had received
    /// passes to the next waiter.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn acquire_async(&self) -> Acquire<'_> {
        self.acquire_many_async(1)
    }

    /// Takes `n` permits, waiting asynchronously. Cancel-safe.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is (or gets) closed.
    ///
    /// # Panics
    ///
    /// If `n > MAX_PERMITS` (when first polled).
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn acquire_many_async(&self, n: usize) -> Acquire<'_> {
        Acquire {
            waiter: Waiter::new(self, n, AcquireSite::caller()),
        }
    }

    /// Takes a permit that owns a share of the `Arc`, blocking; the permit can move
    /// into a task or thread.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is (or gets) closed.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn acquire_owned(self: &Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        let permit = self.acquire()?;
        Ok(self.own(permit))
    }

    /// Takes a permit that owns a share of the `Arc`, waiting asynchronously.
    /// Cancel-safe.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is (or gets) closed.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn acquire_owned_async(
        self: Arc<Self>,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        let site = AcquireSite::caller();
        async move {
            let mut acquire = self.acquire_async();
            acquire.waiter.site = site;
            let (n, tracked) = acquire.await?.into_parts();
            Ok(OwnedSemaphorePermit {
                sem: self,
                n,
                tracked,
            })
        }
    }

    /// Takes a permit that owns a share of the `Arc`, if one is free.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn try_acquire_owned(self: &Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        let permit = self.try_acquire()?;
        Ok(self.own(permit))
    }

    fn own(self: &Arc<Self>, permit: SemaphorePermit<'_>) -> OwnedSemaphorePermit {
        let (n, tracked) = permit.into_parts();
        OwnedSemaphorePermit {
            sem: Arc::clone(self),
            n,
            tracked,
        }
    }

    /// A permit for `n` just taken, recorded with the deadlock detector.
    #[inline]
    fn permit(&self, n: usize, access: Access, site: AcquireSite) -> SemaphorePermit<'_> {
        let tracked = deadlock::on_permit_acquire(self.addr(), &self.class, access, site);
        SemaphorePermit {
            sem: self,
            n,
            tracked,
        }
    }

    fn addr(&self) -> usize {
        self as *const Self as usize
    }

    fn try_fast(
        &self,
        n: usize,
        site: AcquireSite,
    ) -> Result<Option<SemaphorePermit<'_>>, AcquireError> {
        match self.try_take(n, false) {
            Take::Taken => Ok(Some(self.permit(n, Access::Shared, site))),
            Take::NoPermits => Ok(None),
            Take::Closed => Err(AcquireError::Closed),
        }
    }

    /// Takes `n` permits if free. `owner` says the caller owns starvation mode; then a
    /// successful take also leaves the mode.
    fn try_take(&self, n: usize, owner: bool) -> Take {
        assert!(n <= PERMITS, "cannot acquire more than MAX_PERMITS permits");
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Take::Closed;
            }
            if (state & STARVING != 0 && !owner) || state & PERMITS < n {
                return Take::NoPermits;
            }
            let new = (state - n) & !(if owner { STARVING } else { 0 });
            // Acquire: pairs with the release half of `release`'s fetch_add, so the
            // previous holder's writes happen before this holder's.
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => {
                    if owner {
                        // Leaving starvation mode: everyone it held back may try again.
                        self.event.notify_all();
                    }
                    return Take::Taken;
                }
                Err(actual) => state = actual,
            }
        }
    }

    fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        // SeqCst (so also Release, pairing with `try_take`'s Acquire): the state change
        // of the listen/check/notify protocol, and one half of the Dekker pair with
        // `multi_waiters` described in the module doc.
        assert!(n <= PERMITS, "semaphore permit count overflow");
        let old = self.state.fetch_add(n, Ordering::SeqCst);
        if (old & PERMITS) + n > PERMITS {
            // Undo before the carry is mistaken for a flag by anyone who reads it.
            self.state.fetch_sub(n, Ordering::SeqCst);
            panic!("semaphore permit count overflow");
        }
        if old & STARVING != 0 || self.multi_waiters.load(Ordering::SeqCst) > 0 {
            self.event.notify_all();
        } else {
            self.event.notify_additional(n);
        }
    }
}

impl Default for Semaphore {
    /// A semaphore with no permits.
    #[track_caller]
    fn default() -> Self {
        Self::new(0)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Semaphore")
            .field("permits", &(state & PERMITS))
            .field("closed", &(state & CLOSED != 0))
            .field("starving", &(state & STARVING != 0))
            .finish()
    }
}

/// The state of one pending acquire, shared by the blocking and async paths.
struct Waiter<'a> {
    sem: &'a Semaphore,
    n: usize,
    listener: Option<EventListener>,
    /// Counted in `multi_waiters` (only waiters for more than one permit are).
    counted: bool,
    /// Owns starvation mode.
    starving: bool,
    fruitless_wakes: u32,
    /// The current task's wait, for the deadlock detector (zero-sized without it).
    wait: WaitRecord,
    /// Where the acquire was called (zero-sized without deadlock detection).
    site: AcquireSite,
}

impl<'a> Waiter<'a> {
    fn new(sem: &'a Semaphore, n: usize, site: AcquireSite) -> Self {
        Self {
            sem,
            n,
            listener: None,
            counted: false,
            starving: false,
            fruitless_wakes: 0,
            wait: WaitRecord::new(),
            site,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), AcquireError>> {
        loop {
            match self.sem.try_take(self.n, self.starving) {
                Take::Taken => {
                    // `try_take` left starvation mode for us.
                    self.starving = false;
                    self.finish();
                    return Poll::Ready(Ok(()));
                }
                Take::Closed => {
                    self.finish();
                    return Poll::Ready(Err(AcquireError::Closed));
                }
                Take::NoPermits => {}
            }
            match &mut self.listener {
                None => {
                    if self.n > 1 && !self.counted {
                        // SeqCst: the Dekker pair with `release` (module doc).
                        self.sem.multi_waiters.fetch_add(1, Ordering::SeqCst);
                        self.counted = true;
                    }
                    // Listen, then loop to check again: no release can slip between.
                    self.listener = Some(self.sem.event.listen());
                }
                Some(listener) => {
                    if Pin::new(listener).poll(cx).is_pending() {
                        let sem = self.sem;
                        self.wait.pending(sem.addr(), &sem.class, self.site);
                        return Poll::Pending;
                    }
                    self.listener = None;
                    self.fruitless_wakes += 1;
                    if self.fruitless_wakes >= STARVATION_WAKES && !self.starving {
                        // SeqCst: a state change; releases after it see STARVING and
                        // wake everyone, so the owner is among the woken.
                        let old = self.sem.state.fetch_or(STARVING, Ordering::SeqCst);
                        self.starving = old & STARVING == 0;
                    }
                }
            }
        }
    }

    /// Gives back what a pending acquire holds besides permits.
    fn finish(&mut self) {
        if self.counted {
            self.sem.multi_waiters.fetch_sub(1, Ordering::SeqCst);
            self.counted = false;
        }
        if self.starving {
            // SeqCst: a state change followed by a notify, as in `close`.
            self.sem.state.fetch_and(!STARVING, Ordering::SeqCst);
            self.starving = false;
            self.sem.event.notify_all();
        }
        // A notification the listener received but did not consume is passed on.
        self.listener = None;
        self.wait.done();
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The future of [`Semaphore::acquire_async`] and
/// [`acquire_many_async`](Semaphore::acquire_many_async).
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    waiter: Waiter<'a>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let waiter = &mut self.waiter;
        let site = waiter.site;
        waiter
            .poll(cx)
            .map(|result| result.map(|()| waiter.sem.permit(waiter.n, Access::Shared, site)))
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.waiter.n)
            .field("starving", &self.waiter.starving)
            .finish_non_exhaustive()
    }
}

/// Permits borrowed from a [`Semaphore`]; they go back when this is dropped
/// (including during a panic's unwinding).
#[must_use = "if unused the permits are released at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
    tracked: PermitHold,
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Keeps the permits out of the semaphore for good (they are not returned).
    pub fn forget(self) {
        self.tracked.release(self.sem.addr());
        core::mem::forget(self);
    }

    fn into_parts(self) -> (usize, PermitHold) {
        let parts = (self.n, self.tracked);
        core::mem::forget(self);
        parts
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.tracked.release(self.sem.addr());
        self.sem.release(self.n);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}

/// Permits owned together with an `Arc<Semaphore>`, so they can move into a task.
#[must_use = "if unused the permits are released at once"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    n: usize,
    tracked: PermitHold,
}

impl OwnedSemaphorePermit {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// The semaphore the permits came from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.tracked.release(self.sem.addr());
        self.sem.release(self.n);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}
