//! `BargingMutex<T>`: [`Mutex`](crate::Mutex)'s state machine without its
//! starvation rule (`RawMutex<false>`), for locks whose callers bound their own waits.

use super::RawMutex;
use crate::primitive::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

/// A mutual exclusion lock that never hands itself to a waiter: every unlock lets a
/// running thread take it ahead of the sleepers.
///
/// Same one-word state machine and cost as [`Mutex`](crate::Mutex) when it is free or
/// lightly contended; two things differ under heavy contention on an oversubscribed
/// machine:
///
/// - No starvation rule. `Mutex`'s (a waiter that lost for a millisecond switches the
///   lock to handoff mode) turns every unlock into a hand-over to a thread that is
///   asleep or descheduled: the lock sits reserved, no running thread may take it,
///   and throughput falls to one context switch per critical section. A
///   `BargingMutex` stays with whichever thread is running: the best throughput, and
///   the risk of a waiter losing for a long time (as with `std::sync::Mutex`, which
///   has no fairness rule either).
/// - No yielding. A thread that finds it held spins for a few hundred nanoseconds and
///   then sleeps; `Mutex` yields its time slice a few times in between, which helps
///   long sections and hurts tiny ones, where a holder still holding after the spin
///   was most likely preempted and a yield only hands the core to another contender.
///
/// # When to pick it
///
/// For short critical sections inside a data structure whose own protocol bounds how
/// long anyone waits: the waiter lists of weft's channels are the motivating case (a
/// thread takes the lock to register or to wake, a few dozen instructions, and the
/// channel's progress does not depend on who gets the lock next). For shared state in
/// application code prefer [`Mutex`](crate::Mutex): its bounded unfairness costs
/// nothing until a waiter has lost for a millisecond, and then saves it. There is no
/// `unlock_fair` here: a lock that must sometimes hand off is a `Mutex`.
///
/// Like `Mutex`: no poisoning, not reentrant, guards are not `Send`, and with the
/// `deadlock-detection` feature it takes part in lock-order and wait-for checking.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_sync::BargingMutex;
///
/// let waiters = Arc::new(BargingMutex::new(Vec::new()));
/// let handles: Vec<_> = (0..4)
///     .map(|id| {
///         let waiters = Arc::clone(&waiters);
///         std::thread::spawn(move || waiters.lock().push(id))
///     })
///     .collect();
/// for handle in handles {
///     handle.join().unwrap();
/// }
/// let mut ids = waiters.lock().clone();
/// ids.sort();
/// assert_eq!(ids, [0, 1, 2, 3]);
/// ```
pub struct BargingMutex<T: ?Sized> {
    raw: RawMutex<false>,
    data: UnsafeCell<T>,
}

// SAFETY: as for `Mutex`: the lock hands `&mut T` to one thread at a time.
unsafe impl<T: ?Sized + Send> Sync for BargingMutex<T> {}
// SAFETY: owning the lock is owning `T`.
unsafe impl<T: ?Sized + Send> Send for BargingMutex<T> {}

/// Proof that a [`BargingMutex`] is held; unlocks it when dropped. Not `Send`, like
/// [`MutexGuard`](crate::MutexGuard).
#[must_use = "if unused the BargingMutex will immediately unlock"]
pub struct BargingMutexGuard<'a, T: ?Sized> {
    mutex: &'a BargingMutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard only shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for BargingMutexGuard<'_, T> {}

impl<T> BargingMutex<T> {
    /// A new, unlocked mutex holding `value`. Usable in `static`s.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::BargingMutex;
    ///
    /// static QUEUE: BargingMutex<Vec<u32>> = BargingMutex::new(Vec::new());
    /// QUEUE.lock().push(7);
    /// assert_eq!(QUEUE.lock().pop(), Some(7));
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    #[inline]
    pub const fn new(value: T) -> Self {
        Self {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// A new, unlocked mutex holding `value`.
    #[cfg(loom)]
    #[track_caller]
    pub fn new(value: T) -> Self {
        Self {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the data.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::BargingMutex::new(3);
    /// assert_eq!(mutex.into_inner(), 3);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> BargingMutex<T> {
    /// Acquires the lock, blocking the thread until it is free. Not reentrant.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::BargingMutex::new(1);
    /// *mutex.lock() += 1;
    /// assert_eq!(*mutex.lock(), 2);
    /// ```
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> BargingMutexGuard<'_, T> {
        self.raw.lock();
        self.guard()
    }

    /// Acquires the lock if it is free right now, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::BargingMutex::new(0);
    /// let guard = mutex.lock();
    /// assert!(mutex.try_lock().is_none());
    /// drop(guard);
    /// assert!(mutex.try_lock().is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_lock(&self) -> Option<BargingMutexGuard<'_, T>> {
        self.raw.try_lock().then(|| self.guard())
    }

    /// Acquires the lock, waiting at most `timeout`; `None` if it stayed held.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mutex = weft_sync::BargingMutex::new(0);
    /// let _held = mutex.lock();
    /// assert!(mutex.try_lock_for(Duration::from_millis(1)).is_none());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<BargingMutexGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_lock_until(deadline),
            // Too far away to represent: wait without a deadline.
            None => Some(self.lock()),
        }
    }

    /// Acquires the lock, waiting until `deadline` at the latest; `None` if it
    /// stayed held until then.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let mutex = weft_sync::BargingMutex::new(0);
    /// assert!(mutex.try_lock_until(Instant::now() + Duration::from_millis(10)).is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<BargingMutexGuard<'_, T>> {
        self.raw.try_lock_until(deadline).then(|| self.guard())
    }

    /// Whether some thread holds the lock: a snapshot, for diagnostics only.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::BargingMutex::new(());
    /// let guard = mutex.lock();
    /// assert!(mutex.is_locked());
    /// drop(guard);
    /// assert!(!mutex.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Mutable access without locking: `&mut self` proves nobody holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mutex = weft_sync::BargingMutex::new(1);
    /// *mutex.get_mut() = 2;
    /// assert_eq!(*mutex.lock(), 2);
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    #[inline]
    fn guard(&self) -> BargingMutexGuard<'_, T> {
        BargingMutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }
}

impl<'a, T: ?Sized> BargingMutexGuard<'a, T> {
    /// The mutex this guard holds (an associated function, so it never shadows a
    /// method of `T`).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{BargingMutex, BargingMutexGuard};
    ///
    /// let mutex = BargingMutex::new(0);
    /// let guard = mutex.lock();
    /// assert!(std::ptr::eq(BargingMutexGuard::mutex(&guard), &mutex));
    /// ```
    #[inline]
    pub fn mutex(guard: &Self) -> &'a BargingMutex<T> {
        guard.mutex
    }
}

impl<T: ?Sized> Drop for BargingMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a live guard holds the lock, and this is its only release.
        unsafe { self.mutex.raw.unlock() };
    }
}

impl<T: ?Sized> Deref for BargingMutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for BargingMutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock exclusively, and `&mut self` makes this the
        // only reference derived from it.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: Default> Default for BargingMutex<T> {
    #[track_caller]
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for BargingMutex<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for BargingMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("BargingMutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for BargingMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for BargingMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::Mutex;
    use std::sync::Arc;
    use std::sync::mpsc;
    use std::thread;

    #[test]
    fn lock_try_lock_and_timeouts() {
        let mutex = Arc::new(BargingMutex::new(0));
        let (locked_tx, locked_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let m = Arc::clone(&mutex);
        let holder = thread::spawn(move || {
            let mut guard = m.lock();
            *guard += 1;
            locked_tx.send(()).unwrap();
            done_rx.recv().unwrap();
        });
        locked_rx.recv().unwrap();
        assert!(mutex.is_locked());
        assert!(mutex.try_lock().is_none());
        assert!(mutex.try_lock_for(Duration::from_millis(5)).is_none());
        // A deadline already passed: one look, then give up (the lock is held, so
        // the answer does not depend on how fast the look is).
        let passed = Instant::now();
        let late = mutex.try_lock_until(passed);
        assert!(late.is_none());
        done_tx.send(()).unwrap();
        holder.join().unwrap();
        // The timed-out waiters left no trace in the word.
        assert!(!mutex.is_locked());
        assert_eq!(mutex.raw.waiter_count(), 0);
        assert_eq!(*mutex.try_lock().expect("free"), 1);
        assert_eq!(*mutex.try_lock_for(Duration::MAX).expect("free"), 1);
    }

    #[test]
    fn a_sleeping_waiter_is_woken_and_gets_the_lock() {
        let mutex = Arc::new(BargingMutex::new(Vec::new()));
        let guard = mutex.lock();
        let m = Arc::clone(&mutex);
        let waiter = thread::spawn(move || m.lock().push("waiter"));
        // Wait (by polls, not time) until the waiter has counted itself in.
        while mutex.raw.waiter_count() == 0 {
            thread::yield_now();
        }
        drop(guard);
        waiter.join().unwrap();
        assert_eq!(*mutex.lock(), ["waiter"]);
        assert_eq!(mutex.raw.waiter_count(), 0);
    }

    #[test]
    fn no_poisoning_after_a_panic_while_locked() {
        let mutex = Arc::new(BargingMutex::new(1));
        let m = Arc::clone(&mutex);
        let result = thread::spawn(move || {
            let mut guard = m.lock();
            *guard = 2;
            panic!("inside the lock");
        })
        .join();
        assert!(result.is_err());
        assert!(!mutex.is_locked());
        assert_eq!(*mutex.lock(), 2);
    }

    #[test]
    fn debug_default_from_get_mut_into_inner() {
        let mutex = BargingMutex::new(5);
        assert_eq!(format!("{mutex:?}"), "BargingMutex { data: 5, .. }");
        let guard = mutex.lock();
        assert_eq!(format!("{mutex:?}"), "BargingMutex { data: <locked>, .. }");
        assert_eq!(format!("{guard:?} {guard}"), "5 5");
        assert!(std::ptr::eq(BargingMutexGuard::mutex(&guard), &mutex));
        drop(guard);
        let mut mutex = BargingMutex::<String>::default();
        mutex.get_mut().push('x');
        assert_eq!(mutex.into_inner(), "x");
        assert_eq!(BargingMutex::from(3).into_inner(), 3);
    }

    /// The one difference from `Mutex`: a waiter that has waited for longer than
    /// `Mutex`'s starvation threshold, is woken, and finds the lock taken again does
    /// not switch the lock to handoff mode. The holder waits (by polling the word)
    /// until the waiter is counted, holds on for twice the threshold, then leaves the
    /// word as an unlock and a barger's instant re-lock would (`WOKEN` set, the
    /// sleeper woken, the lock held: made directly, because a real unlock lets the
    /// kernel run the woken waiter first), and waits until `WOKEN` is clear, which is
    /// the waiter's look at the word. The same run on a `Mutex` must leave it
    /// starving, so the check has teeth.
    #[test]
    fn never_enters_starvation_mode_where_mutex_does() {
        // Whether the lock is starving after the waiter's look.
        macro_rules! run {
            ($lock:expr) => {{
                let lock = Arc::new($lock);
                let guard = lock.lock();
                let waiter = {
                    let lock = Arc::clone(&lock);
                    thread::spawn(move || drop(lock.lock()))
                };
                while lock.raw.waiter_count() == 0 {
                    thread::yield_now();
                }
                thread::sleep(2 * crate::mutex::raw::STARVATION_THRESHOLD);
                lock.raw.wake_into_a_barged_lock();
                // Bounded: ten seconds of polls for the woken waiter to look.
                let mut polls = 0u32;
                while lock.raw.is_woken() {
                    polls += 1;
                    assert!(polls < 10_000, "the woken waiter never looked");
                    thread::sleep(Duration::from_millis(1));
                }
                let starving = lock.raw.is_starving();
                drop(guard);
                waiter.join().unwrap();
                assert!(!lock.is_locked());
                assert_eq!(lock.raw.waiter_count(), 0);
                starving
            }};
        }
        assert!(
            !run!(BargingMutex::new(())),
            "a BargingMutex entered starvation mode"
        );
        assert!(
            run!(Mutex::new(())),
            "the control: a Mutex waiter past the threshold starves"
        );
    }
}
