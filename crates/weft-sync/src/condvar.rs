//! `Condvar`: wait for a condition on data behind a [`Mutex`](crate::Mutex).
//!
//! # Design
//!
//! A futex sequence word, the design of Rust std's futex condvar, plus a waiter
//! count so that notifying with nobody waiting costs one load and no system call
//! (std always makes the `futex_wake` call).
//!
//! - `seq`: bumped by every notify that finds a waiter. A waiter reads it while still
//!   holding the mutex, releases the mutex, and sleeps in `futex::wait(seq, read)`;
//!   any bump after the read makes that wait return (at once if the waiter has not
//!   reached the kernel yet), so a notification cannot fall between unlocking and
//!   sleeping.
//! - `waiters`: threads between "about to read `seq`" and "back from `futex::wait`".
//!
//! # Why `Relaxed` is enough
//!
//! A notification is only promised to waiters that were waiting when the condition
//! changed, and the condition changes under the mutex. A waiter increments `waiters`
//! and reads `seq` inside the same critical section in which it saw the condition
//! false. Either that section comes before the notifier's change (so, through the
//! mutex's Release/Acquire, the increment and the read happen-before the notifier's
//! load of `waiters` and bump of `seq`: the notifier sees the waiter, and the bumped
//! value is newer than the one the waiter sleeps on), or it comes after (and the
//! waiter sees the condition true and does not wait). The data itself is published
//! by the mutex, never by these two words.
//!
//! # `notify_all` and the thundering herd
//!
//! `notify_all` wakes every waiter, and they then queue on the mutex one after the
//! other. Requeueing them from `seq` onto the mutex word (`FUTEX_CMP_REQUEUE`, as
//! glibc once did) would save those wake-ups, but needs the mutex's waiter count to
//! include the requeued threads, a second entry point into the mutex's slow path and
//! Linux-only code; the waiters spin briefly before sleeping on the mutex, which
//! absorbs most of the herd when critical sections are short. Left for when a
//! benchmark shows it matters.

use crate::futex;
use crate::mutex::{MutexGuard, RawMutex};
use crate::primitive::atomic::{AtomicU32, Ordering};
use core::fmt;
use std::time::{Duration, Instant};

/// A condition variable: threads sleep until another thread changes some data behind
/// a [`Mutex`](crate::Mutex) and notifies them.
///
/// Always wait in a loop that re-checks the condition ([`wait_while`](Self::wait_while)
/// does it for you): wake-ups can be spurious, and another thread may have changed the
/// data back before the waiter re-takes the lock.
///
/// Costs: a notify with nobody waiting is one atomic load; with waiters, one
/// `futex_wake` system call. A wait is one unlock, one sleep and one re-lock.
///
/// Pick a `Condvar` when a thread must sleep until *some predicate over shared state*
/// holds. For a one-shot signal or a counter of permits, weft's `Event` and
/// `Semaphore` say what they mean with less ceremony; for passing values between
/// threads, use a channel.
///
/// A `Condvar` should be used with one mutex at a time (this is not checked).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_sync::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// std::thread::spawn(move || {
///     let (ready, condvar) = &*pair2;
///     *ready.lock() = true;
///     condvar.notify_one();
/// });
///
/// let (ready, condvar) = &*pair;
/// let mut guard = ready.lock();
/// while !*guard {
///     condvar.wait(&mut guard);
/// }
/// ```
pub struct Condvar {
    seq: AtomicU32,
    waiters: AtomicU32,
}

/// Whether a timed wait on a [`Condvar`] returned because its time ran out.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_sync::{Condvar, Mutex};
///
/// let mutex = Mutex::new(());
/// let condvar = Condvar::new();
/// let mut guard = mutex.lock();
/// assert!(condvar.wait_for(&mut guard, Duration::from_millis(1)).timed_out());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// `true` if the wait ended because the timeout elapsed (for the `wait_while_*`
    /// forms: and the condition still held).
    #[inline]
    pub fn timed_out(self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A new condition variable with no waiters. Usable in `static`s.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::Condvar;
    ///
    /// static CHANGED: Condvar = Condvar::new();
    /// assert!(!CHANGED.notify_one());
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            seq: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
        }
    }

    /// A new condition variable with no waiters.
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            seq: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
        }
    }

    /// Releases the guard's mutex, sleeps until notified (or spuriously), and takes
    /// the mutex again before returning.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use weft_sync::{Condvar, Mutex};
    ///
    /// let state = Arc::new((Mutex::new(0), Condvar::new()));
    /// let state2 = Arc::clone(&state);
    /// let producer = std::thread::spawn(move || {
    ///     *state2.0.lock() = 42;
    ///     state2.1.notify_all();
    /// });
    /// let mut value = state.0.lock();
    /// while *value == 0 {
    ///     state.1.wait(&mut value);
    /// }
    /// assert_eq!(*value, 42);
    /// # drop(value);
    /// # producer.join().unwrap();
    /// ```
    #[track_caller]
    pub fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        self.wait_internal(MutexGuard::raw(guard), None);
    }

    /// Waits while `condition` returns `true`, re-checking it (with the lock held)
    /// after every wake-up.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use weft_sync::{Condvar, Mutex};
    ///
    /// let queue = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
    /// let queue2 = Arc::clone(&queue);
    /// std::thread::spawn(move || {
    ///     queue2.0.lock().push("job");
    ///     queue2.1.notify_one();
    /// });
    /// let mut jobs = queue.0.lock();
    /// queue.1.wait_while(&mut jobs, |jobs| jobs.is_empty());
    /// assert_eq!(jobs.pop(), Some("job"));
    /// ```
    #[track_caller]
    pub fn wait_while<T: ?Sized, F>(&self, guard: &mut MutexGuard<'_, T>, mut condition: F)
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            self.wait(guard);
        }
    }

    /// Like [`wait`](Self::wait), but gives up at `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use weft_sync::{Condvar, Mutex};
    ///
    /// let mutex = Mutex::new(());
    /// let condvar = Condvar::new();
    /// let mut guard = mutex.lock();
    /// let result = condvar.wait_until(&mut guard, Instant::now() + Duration::from_millis(1));
    /// assert!(result.timed_out());
    /// ```
    #[track_caller]
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        WaitTimeoutResult(!self.wait_internal(MutexGuard::raw(guard), Some(deadline)))
    }

    /// Like [`wait`](Self::wait), but gives up after `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft_sync::{Condvar, Mutex};
    ///
    /// let mutex = Mutex::new(());
    /// let condvar = Condvar::new();
    /// let mut guard = mutex.lock();
    /// assert!(condvar.wait_for(&mut guard, Duration::ZERO).timed_out());
    /// ```
    #[track_caller]
    pub fn wait_for<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_until(guard, deadline),
            None => {
                self.wait(guard);
                WaitTimeoutResult(false)
            }
        }
    }

    /// The same as [`wait_for`](Self::wait_for), under `std`'s name.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft_sync::{Condvar, Mutex};
    ///
    /// let mutex = Mutex::new(());
    /// let condvar = Condvar::new();
    /// let mut guard = mutex.lock();
    /// assert!(condvar.wait_timeout(&mut guard, Duration::ZERO).timed_out());
    /// ```
    #[track_caller]
    pub fn wait_timeout<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        self.wait_for(guard, timeout)
    }

    /// Waits while `condition` holds, giving up at `deadline`. The result is timed
    /// out only if the condition still held when time ran out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use weft_sync::{Condvar, Mutex};
    ///
    /// let mutex = Mutex::new(3);
    /// let condvar = Condvar::new();
    /// let mut guard = mutex.lock();
    /// let deadline = Instant::now() + Duration::from_millis(1);
    /// // Already false: returns at once, not timed out.
    /// assert!(!condvar.wait_while_until(&mut guard, |n| *n == 0, deadline).timed_out());
    /// assert!(condvar.wait_while_until(&mut guard, |n| *n == 3, deadline).timed_out());
    /// ```
    #[track_caller]
    pub fn wait_while_until<T: ?Sized, F>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        mut condition: F,
        deadline: Instant,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        let mut timed_out = false;
        while condition(&mut *guard) {
            if timed_out {
                return WaitTimeoutResult(true);
            }
            timed_out = self.wait_until(guard, deadline).timed_out();
        }
        WaitTimeoutResult(false)
    }

    /// Waits while `condition` holds, giving up after `timeout`. See
    /// [`wait_while_until`](Self::wait_while_until).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft_sync::{Condvar, Mutex};
    ///
    /// let mutex = Mutex::new(false);
    /// let condvar = Condvar::new();
    /// let mut done = mutex.lock();
    /// let result = condvar.wait_while_for(&mut done, |done| !*done, Duration::from_millis(1));
    /// assert!(result.timed_out());
    /// ```
    #[track_caller]
    pub fn wait_while_for<T: ?Sized, F>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        condition: F,
        timeout: Duration,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_while_until(guard, condition, deadline),
            None => {
                self.wait_while(guard, condition);
                WaitTimeoutResult(false)
            }
        }
    }

    /// Wakes one waiting thread, if any. Returns whether a sleeping thread was woken
    /// (a waiter that was just about to sleep also notices, without being counted;
    /// on platforms without a futex, `true` whenever a thread was waiting).
    ///
    /// # Examples
    ///
    /// ```
    /// let condvar = weft_sync::Condvar::new();
    /// assert!(!condvar.notify_one()); // nobody waits
    /// ```
    #[inline]
    pub fn notify_one(&self) -> bool {
        // Relaxed: see the module doc; the mutex orders this load after the
        // increment of any waiter the notification is owed to.
        if self.waiters.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.notify_slow(false) > 0
    }

    /// Wakes every waiting thread. Returns how many sleeping threads were woken (with
    /// the same caveats as [`notify_one`](Self::notify_one)).
    ///
    /// # Examples
    ///
    /// ```
    /// let condvar = weft_sync::Condvar::new();
    /// assert_eq!(condvar.notify_all(), 0);
    /// ```
    #[inline]
    pub fn notify_all(&self) -> usize {
        // Relaxed: as in `notify_one`.
        if self.waiters.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.notify_slow(true)
    }

    #[cold]
    #[inline(never)]
    fn notify_slow(&self, all: bool) -> usize {
        // Relaxed: the bump only has to change the word (futex compares values);
        // data is published by the mutex.
        self.seq.fetch_add(1, Ordering::Relaxed);
        if all {
            futex::wake_all_counted(&self.seq)
        } else {
            usize::from(futex::wake_one(&self.seq))
        }
    }

    /// Unlocks `raw`, sleeps on `seq`, re-locks. Returns `false` if `deadline` passed.
    #[track_caller]
    fn wait_internal(&self, raw: &RawMutex, deadline: Option<Instant>) -> bool {
        // Relaxed, both: done while holding the mutex, whose release below orders them
        // before any notifier that changes the condition afterwards (module doc).
        self.waiters.fetch_add(1, Ordering::Relaxed);
        let seq = self.seq.load(Ordering::Relaxed);
        // SAFETY: `raw` is the mutex of a live guard, so it is held; it is re-taken
        // below before the guard can be used or dropped.
        unsafe { raw.unlock() };
        let woken = futex::wait(&self.seq, seq, deadline);
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        raw.lock();
        woken
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiters", &self.waiters.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::Mutex;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn notify_one_wakes_a_waiter() {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = Arc::clone(&pair);
        let waiter = thread::spawn(move || {
            let mut ready = p.0.lock();
            while !*ready {
                p.1.wait(&mut ready);
            }
        });
        *pair.0.lock() = true;
        pair.1.notify_one();
        waiter.join().unwrap();
    }

    #[test]
    fn notify_all_wakes_every_waiter() {
        const WAITERS: usize = 4;
        let state = Arc::new((Mutex::new((0usize, false)), Condvar::new()));
        let handles: Vec<_> = (0..WAITERS)
            .map(|_| {
                let s = Arc::clone(&state);
                thread::spawn(move || {
                    let mut guard = s.0.lock();
                    guard.0 += 1;
                    s.1.wait_while(&mut guard, |(_, go)| !*go);
                })
            })
            .collect();
        // Wait until every waiter is inside `wait_while`, then release them all.
        loop {
            let guard = state.0.lock();
            if guard.0 == WAITERS {
                break;
            }
            drop(guard);
            thread::yield_now();
        }
        state.0.lock().1 = true;
        state.1.notify_all();
        for h in handles {
            h.join().unwrap();
        }
    }

    #[test]
    fn notify_without_waiters_reports_nobody() {
        let condvar = Condvar::new();
        assert!(!condvar.notify_one());
        assert_eq!(condvar.notify_all(), 0);
    }

    #[test]
    fn timed_waits_time_out_and_hold_the_lock_after() {
        let mutex = Mutex::new(0);
        let condvar = Condvar::new();
        let mut guard = mutex.lock();
        assert!(
            condvar
                .wait_for(&mut guard, Duration::from_millis(5))
                .timed_out()
        );
        assert!(mutex.is_locked());
        assert!(condvar.wait_until(&mut guard, Instant::now()).timed_out());
        let result = condvar.wait_while_for(&mut guard, |n| *n == 0, Duration::from_millis(5));
        assert!(result.timed_out());
        *guard += 1;
        let result = condvar.wait_while_for(&mut guard, |n| *n == 0, Duration::from_millis(5));
        assert!(!result.timed_out());
    }

    #[test]
    fn wait_while_for_succeeds_when_notified_in_time() {
        let pair = Arc::new((Mutex::new(0), Condvar::new()));
        let p = Arc::clone(&pair);
        let notifier = thread::spawn(move || {
            thread::sleep(Duration::from_millis(5));
            *p.0.lock() = 1;
            p.1.notify_one();
        });
        let mut guard = pair.0.lock();
        let result = pair
            .1
            .wait_while_for(&mut guard, |n| *n == 0, Duration::from_secs(60));
        assert!(!result.timed_out());
        assert_eq!(*guard, 1);
        drop(guard);
        notifier.join().unwrap();
    }

    /// Ping-pong: each side waits for its turn; any lost notification hangs the test.
    #[test]
    fn ping_pong_loses_no_notification() {
        const ROUNDS: usize = 2_000;
        let state = Arc::new((Mutex::new(0usize), Condvar::new()));
        let s = Arc::clone(&state);
        let pong = thread::spawn(move || {
            for round in 0..ROUNDS {
                let mut turn = s.0.lock();
                s.1.wait_while(&mut turn, |t| *t != 2 * round + 1);
                *turn += 1;
                s.1.notify_one();
            }
        });
        for round in 0..ROUNDS {
            let mut turn = state.0.lock();
            *turn += 1;
            state.1.notify_one();
            state.1.wait_while(&mut turn, |t| *t != 2 * round + 2);
        }
        pong.join().unwrap();
        assert_eq!(*state.0.lock(), 2 * ROUNDS);
    }
}
