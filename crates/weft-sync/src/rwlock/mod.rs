//! `RwLock<T>`: many readers or one writer, writer-preferring, with eventual fairness
//! for readers.
//!
//! The public types live here; the state machine, with every bit, transition and
//! memory ordering written down, is in [`raw`](self::raw).

mod raw;

use crate::primitive::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::mem;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use raw::RawRwLock;
use std::time::{Duration, Instant};

/// A reader-writer lock: any number of readers, or one writer, at a time.
///
/// Like `parking_lot::RwLock`: guards instead of poisoning (a panic while holding
/// the lock simply releases it), `try_*` forms, timeouts, and an *upgradable* read
/// that can later become a write without letting another writer in between.
///
/// # Policy
///
/// - **Writers are preferred.** Once a writer waits, new readers (and new upgradable
///   readers) wait behind it, so a steady stream of readers cannot starve a writer.
/// - **Readers are not starved either, eventually.** A write release normally lets a
///   waiting writer go next (or, if none waits, wakes the waiting readers). But once a
///   waiting reader has waited for more than about a millisecond, the next write
///   release (or downgrade) lets every waiting reader in, all at once, before any
///   other writer. So a reader waits at most about that long plus one write section,
///   and under heavy contention read and write phases still alternate, without
///   handing the lock to sleeping readers on every release (which would make every
///   writer wait for them to be scheduled).
/// - An upgradable read coexists with plain readers but excludes writers and other
///   upgradable reads. While [`upgrade`](RwLockUpgradableReadGuard::upgrade) waits for
///   the readers to leave, new readers wait: an upgrade counts as a waiting writer.
/// - Among writers the order is not fair: a running thread may take a free lock before
///   a sleeping writer that was just woken ("barging"), which keeps throughput up.
///   There is no `unlock_fair`: a writer-to-writer hand-off would need a queue of
///   parked threads (parking_lot's design), and this lock keeps only counts in one
///   word.
///
/// Because writers are preferred, taking a read lock *again* on a thread that already
/// holds one can deadlock: if a writer arrives in between, the second `read` waits for
/// the writer, which waits for the first read guard.
///
/// # Cost, and when to pick it over [`Mutex`](crate::Mutex)
///
/// Uncontended, `read` is one load and one compare-and-swap and a read unlock one
/// `fetch_sub`, the same as a `Mutex` lock and unlock. The catch is that every reader
/// still *writes* the lock's cache line: on many cores, readers that take the lock
/// for a few nanoseconds spend their time moving that line between caches, and a
/// read-mostly workload with tiny sections is often no faster than a `Mutex` (on two
/// cores it usually is not). An `RwLock` pays when read sections are long enough
/// (microseconds: a search, a copy, a formatted print) that readers really do
/// overlap. For tiny sections prefer a `Mutex`; for read-only data swapped
/// occasionally, consider an atomic pointer or epoch scheme from `weft-lockfree`.
///
/// The lock takes 24 bytes (a 64-bit state word and three 32-bit futex words, so
/// readers, writers and the upgrader each sleep on their own word and a wake-up
/// targets only the threads that can proceed). Blocked threads spin briefly, then
/// yield the CPU a few times, then sleep in the kernel (`futex(2)` on Linux); a
/// released lock may be taken by a running thread before a sleeping one wakes up.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_sync::RwLock;
///
/// let config = Arc::new(RwLock::new(vec![1, 2, 3]));
///
/// let reader = {
///     let config = Arc::clone(&config);
///     std::thread::spawn(move || config.read().iter().sum::<i32>())
/// };
/// config.write().push(4);
///
/// let sum = reader.join().unwrap();
/// assert!(sum == 6 || sum == 10);
/// assert_eq!(*config.read(), [1, 2, 3, 4]);
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    data: UnsafeCell<T>,
}

// SAFETY: owning the lock is owning `T`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: sharing the lock lets writers move `T`'s contents between threads (`Send`)
// and lets readers on several threads hold `&T` at once (`Sync`).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to the data of an [`RwLock`], released when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    // Deadlock bookkeeping is per thread: a guard is released where it was taken.
    _not_send: PhantomData<*const ()>,
}

/// Exclusive access to the data of an [`RwLock`], released when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

/// Shared access that excludes writers and other upgradable readers, and can be
/// [upgraded](Self::upgrade) to a write lock without releasing it.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockUpgradableReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

/// A read guard narrowed to part of the data by [`RwLockReadGuard::map`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct MappedRwLockReadGuard<'a, T: ?Sized> {
    raw: &'a RawRwLock,
    data: NonNull<T>,
    _marker: PhantomData<(&'a T, *const ())>,
}

/// A write guard narrowed to part of the data by [`RwLockWriteGuard::map`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct MappedRwLockWriteGuard<'a, T: ?Sized> {
    raw: &'a RawRwLock,
    data: NonNull<T>,
    _marker: PhantomData<(&'a mut T, *const ())>,
}

// SAFETY: sharing a read guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: sharing a write guard's reference shares `&T` only (`&mut` needs the guard).
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}
// SAFETY: as for the read guard.
unsafe impl<T: ?Sized + Sync> Sync for RwLockUpgradableReadGuard<'_, T> {}
// SAFETY: as for the read guard.
unsafe impl<T: ?Sized + Sync> Sync for MappedRwLockReadGuard<'_, T> {}
// SAFETY: as for the write guard.
unsafe impl<T: ?Sized + Sync> Sync for MappedRwLockWriteGuard<'_, T> {}

/// `Instant::now() + timeout`, or `None` (wait forever) if that overflows.
fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

impl<T> RwLock<T> {
    /// A new, unlocked lock holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::RwLock;
    ///
    /// static NAMES: RwLock<Vec<&str>> = RwLock::new(Vec::new());
    /// NAMES.write().push("weft");
    /// assert_eq!(NAMES.read().len(), 1);
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    #[inline]
    pub const fn new(value: T) -> Self {
        Self {
            raw: RawRwLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// A new, unlocked lock holding `value`.
    #[cfg(loom)]
    #[track_caller]
    pub fn new(value: T) -> Self {
        Self {
            raw: RawRwLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the data.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = weft_sync::RwLock::new(String::from("x"));
    /// assert_eq!(lock.into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Blocks until no writer holds or waits for the lock, then takes shared access.
    ///
    /// # Panics
    ///
    /// If about 268 million read locks are already held.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = weft_sync::RwLock::new(5);
    /// let a = lock.read();
    /// let b = lock.read(); // readers share
    /// assert_eq!(*a + *b, 10);
    /// ```
    #[inline]
    #[track_caller]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.raw.lock_shared();
        RwLockReadGuard::new(self)
    }

    /// Takes shared access if that is possible without waiting.
    ///
    /// Fails while a writer holds the lock *or waits for it*.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = weft_sync::RwLock::new(5);
    /// let w = lock.write();
    /// assert!(lock.try_read().is_none());
    /// drop(w);
    /// assert_eq!(*lock.try_read().unwrap(), 5);
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.raw
            .try_lock_shared()
            .then(|| RwLockReadGuard::new(self))
    }

    /// Like [`read`](Self::read), but gives up after `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = weft_sync::RwLock::new(5);
    /// let w = lock.write();
    /// assert!(lock.try_read_for(Duration::from_millis(1)).is_none());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_read_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        self.raw
            .try_lock_shared_until(deadline_after(timeout))
            .then(|| RwLockReadGuard::new(self))
    }

    /// Like [`read`](Self::read), but gives up at `deadline`.
    #[inline]
    #[track_caller]
    pub fn try_read_until(&self, deadline: Instant) -> Option<RwLockReadGuard<'_, T>> {
        self.raw
            .try_lock_shared_until(Some(deadline))
            .then(|| RwLockReadGuard::new(self))
    }

    /// Blocks until no one holds the lock, then takes exclusive access.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = weft_sync::RwLock::new(5);
    /// *lock.write() += 1;
    /// assert_eq!(*lock.read(), 6);
    /// ```
    #[inline]
    #[track_caller]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.raw.lock_exclusive();
        RwLockWriteGuard::new(self)
    }

    /// Takes exclusive access if no one holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = weft_sync::RwLock::new(5);
    /// let r = lock.read();
    /// assert!(lock.try_write().is_none());
    /// drop(r);
    /// assert!(lock.try_write().is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw
            .try_lock_exclusive()
            .then(|| RwLockWriteGuard::new(self))
    }

    /// Like [`write`](Self::write), but gives up after `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = weft_sync::RwLock::new(5);
    /// let r = lock.read();
    /// assert!(lock.try_write_for(Duration::from_millis(1)).is_none());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_write_for(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw
            .try_lock_exclusive_until(deadline_after(timeout))
            .then(|| RwLockWriteGuard::new(self))
    }

    /// Like [`write`](Self::write), but gives up at `deadline`.
    #[inline]
    #[track_caller]
    pub fn try_write_until(&self, deadline: Instant) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw
            .try_lock_exclusive_until(Some(deadline))
            .then(|| RwLockWriteGuard::new(self))
    }

    /// Blocks until no writer and no other upgradable reader holds or waits for the
    /// lock, then takes upgradable shared access.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let cache = RwLock::new(None);
    /// let guard = cache.upgradable_read();
    /// if guard.is_none() {
    ///     // No writer can slip in between the check and the write.
    ///     let mut guard = RwLockUpgradableReadGuard::upgrade(guard);
    ///     *guard = Some(42);
    /// }
    /// assert_eq!(*cache.read(), Some(42));
    /// ```
    #[inline]
    #[track_caller]
    pub fn upgradable_read(&self) -> RwLockUpgradableReadGuard<'_, T> {
        self.raw.lock_upgradable();
        RwLockUpgradableReadGuard::new(self)
    }

    /// Takes upgradable shared access if that is possible without waiting.
    #[inline]
    #[track_caller]
    pub fn try_upgradable_read(&self) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        self.raw
            .try_lock_upgradable()
            .then(|| RwLockUpgradableReadGuard::new(self))
    }

    /// Like [`upgradable_read`](Self::upgradable_read), but gives up after `timeout`.
    #[inline]
    #[track_caller]
    pub fn try_upgradable_read_for(
        &self,
        timeout: Duration,
    ) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        self.raw
            .try_lock_upgradable_until(deadline_after(timeout))
            .then(|| RwLockUpgradableReadGuard::new(self))
    }

    /// Like [`upgradable_read`](Self::upgradable_read), but gives up at `deadline`.
    #[inline]
    #[track_caller]
    pub fn try_upgradable_read_until(
        &self,
        deadline: Instant,
    ) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        self.raw
            .try_lock_upgradable_until(Some(deadline))
            .then(|| RwLockUpgradableReadGuard::new(self))
    }

    /// Whether any thread holds the lock, in any mode (a snapshot, for diagnostics).
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether a writer holds the lock (a snapshot, for diagnostics).
    pub fn is_locked_exclusive(&self) -> bool {
        self.raw.is_locked_exclusive()
    }

    /// Mutable access without locking: `&mut self` proves nobody else holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = weft_sync::RwLock::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(*lock.read(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// A raw pointer to the data. Dereferencing it is up to the caller, who must
    /// respect the lock (hold a guard, or know that no one else can).
    pub fn data_ptr(&self) -> *mut T {
        self.data.get()
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

// ---- RwLockReadGuard ----

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    fn new(lock: &'a RwLock<T>) -> Self {
        Self {
            lock,
            _not_send: PhantomData,
        }
    }

    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    /// Narrows the guard to a part of the data, keeping the read lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{RwLock, RwLockReadGuard};
    ///
    /// let lock = RwLock::new((1, String::from("one")));
    /// let name = RwLockReadGuard::map(lock.read(), |pair| &pair.1);
    /// assert_eq!(&*name, "one");
    /// ```
    pub fn map<U: ?Sized>(s: Self, f: impl FnOnce(&T) -> &U) -> MappedRwLockReadGuard<'a, U> {
        // If `f` panics, `s` is dropped and releases the lock.
        let data = NonNull::from(f(&*s));
        let raw = &s.lock.raw;
        mem::forget(s);
        MappedRwLockReadGuard {
            raw,
            data,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), but `f` may decline, giving the guard back.
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returns `None`.
    pub fn try_map<U: ?Sized>(
        s: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<MappedRwLockReadGuard<'a, U>, Self> {
        let Some(data) = f(&*s).map(NonNull::from) else {
            return Err(s);
        };
        let raw = &s.lock.raw;
        mem::forget(s);
        Ok(MappedRwLockReadGuard {
            raw,
            data,
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read lock, so no `&mut T` exists until it drops.
        unsafe { &*self.lock.data.with(|p| p) }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this guard's existence is the read lock being held by this thread.
        unsafe { self.lock.raw.unlock_shared() }
    }
}

// ---- RwLockWriteGuard ----

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    fn new(lock: &'a RwLock<T>) -> Self {
        Self {
            lock,
            _not_send: PhantomData,
        }
    }

    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    /// Turns the write lock into a read lock without letting a writer in between.
    /// Readers waiting for the lock are let in at the same moment.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let mut w = lock.write();
    /// *w = 2;
    /// let r = RwLockWriteGuard::downgrade(w);
    /// assert_eq!(*r, 2);
    /// assert!(lock.try_read().is_some());
    /// ```
    #[track_caller]
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let lock = s.lock;
        mem::forget(s);
        // SAFETY: `s` held the write lock; it was forgotten, so it will not unlock it.
        unsafe { lock.raw.downgrade() };
        RwLockReadGuard::new(lock)
    }

    /// Turns the write lock into an upgradable read lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let u = RwLockWriteGuard::downgrade_to_upgradable(lock.write());
    /// assert!(lock.try_read().is_some());
    /// assert!(lock.try_upgradable_read().is_none());
    /// # drop(u);
    /// ```
    #[track_caller]
    pub fn downgrade_to_upgradable(s: Self) -> RwLockUpgradableReadGuard<'a, T> {
        let lock = s.lock;
        mem::forget(s);
        // SAFETY: `s` held the write lock; it was forgotten, so it will not unlock it.
        unsafe { lock.raw.downgrade_to_upgradable() };
        RwLockUpgradableReadGuard::new(lock)
    }

    /// Narrows the guard to a part of the data, keeping the write lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new((1, 2));
    /// *RwLockWriteGuard::map(lock.write(), |pair| &mut pair.1) = 5;
    /// assert_eq!(*lock.read(), (1, 5));
    /// ```
    pub fn map<U: ?Sized>(
        mut s: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> MappedRwLockWriteGuard<'a, U> {
        let data = NonNull::from(f(&mut *s));
        let raw = &s.lock.raw;
        mem::forget(s);
        MappedRwLockWriteGuard {
            raw,
            data,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), but `f` may decline, giving the guard back.
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returns `None`.
    pub fn try_map<U: ?Sized>(
        mut s: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedRwLockWriteGuard<'a, U>, Self> {
        let Some(data) = f(&mut *s).map(NonNull::from) else {
            return Err(s);
        };
        let raw = &s.lock.raw;
        mem::forget(s);
        Ok(MappedRwLockWriteGuard {
            raw,
            data,
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock; `&self` allows only shared use.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock, and `&mut self` makes this the only
        // reference derived from it.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this guard's existence is the write lock being held by this thread.
        unsafe { self.lock.raw.unlock_exclusive() }
    }
}

// ---- RwLockUpgradableReadGuard ----

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    fn new(lock: &'a RwLock<T>) -> Self {
        Self {
            lock,
            _not_send: PhantomData,
        }
    }

    /// The lock this guard holds.
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    /// Waits for the other readers to leave, then turns this into a write lock. No
    /// writer can get in between. New readers wait while the upgrade waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let u = lock.upgradable_read();
    /// let mut w = RwLockUpgradableReadGuard::upgrade(u);
    /// *w += 1;
    /// drop(w);
    /// assert_eq!(*lock.read(), 2);
    /// ```
    #[track_caller]
    pub fn upgrade(s: Self) -> RwLockWriteGuard<'a, T> {
        let lock = s.lock;
        mem::forget(s);
        // SAFETY: `s` held the upgradable lock and was forgotten; with no deadline the
        // upgrade cannot fail, so the write guard below owns the result.
        let upgraded = unsafe { lock.raw.upgrade_until(None) };
        debug_assert!(upgraded);
        RwLockWriteGuard::new(lock)
    }

    /// Turns this into a write lock if no other reader holds the lock.
    ///
    /// # Errors
    ///
    /// The original guard, if other readers hold the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let u = lock.upgradable_read();
    /// let r = lock.read();
    /// let u = RwLockUpgradableReadGuard::try_upgrade(u).unwrap_err();
    /// drop(r);
    /// assert!(RwLockUpgradableReadGuard::try_upgrade(u).is_ok());
    /// ```
    #[track_caller]
    pub fn try_upgrade(s: Self) -> Result<RwLockWriteGuard<'a, T>, Self> {
        // SAFETY: `s` holds the upgradable lock; on success it is forgotten below, so
        // only the write guard releases the lock.
        if unsafe { s.lock.raw.try_upgrade() } {
            let lock = s.lock;
            mem::forget(s);
            Ok(RwLockWriteGuard::new(lock))
        } else {
            Err(s)
        }
    }

    /// Like [`upgrade`](Self::upgrade), but gives up after `timeout`.
    ///
    /// # Errors
    ///
    /// The original guard, still holding the upgradable lock, on timeout.
    #[track_caller]
    pub fn try_upgrade_for(s: Self, timeout: Duration) -> Result<RwLockWriteGuard<'a, T>, Self> {
        Self::upgrade_until(s, deadline_after(timeout))
    }

    /// Like [`upgrade`](Self::upgrade), but gives up at `deadline`.
    ///
    /// # Errors
    ///
    /// The original guard, still holding the upgradable lock, on timeout.
    #[track_caller]
    pub fn try_upgrade_until(s: Self, deadline: Instant) -> Result<RwLockWriteGuard<'a, T>, Self> {
        Self::upgrade_until(s, Some(deadline))
    }

    #[track_caller]
    fn upgrade_until(s: Self, deadline: Option<Instant>) -> Result<RwLockWriteGuard<'a, T>, Self> {
        // SAFETY: `s` holds the upgradable lock; on success it is forgotten below, and
        // on failure the upgradable lock is still held, as `s` says.
        if unsafe { s.lock.raw.upgrade_until(deadline) } {
            let lock = s.lock;
            mem::forget(s);
            Ok(RwLockWriteGuard::new(lock))
        } else {
            Err(s)
        }
    }

    /// Turns this into a plain read lock, letting another upgradable reader in.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let r = RwLockUpgradableReadGuard::downgrade(lock.upgradable_read());
    /// assert!(lock.try_upgradable_read().is_some());
    /// # drop(r);
    /// ```
    #[track_caller]
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let lock = s.lock;
        mem::forget(s);
        // SAFETY: `s` held the upgradable lock; it was forgotten, so it will not
        // unlock it.
        unsafe { lock.raw.downgrade_upgradable() };
        RwLockReadGuard::new(lock)
    }
}

impl<T: ?Sized> Deref for RwLockUpgradableReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read lock, so no `&mut T` exists until it drops.
        unsafe { &*self.lock.data.with(|p| p) }
    }
}

impl<T: ?Sized> Drop for RwLockUpgradableReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this guard's existence is the upgradable lock being held.
        unsafe { self.lock.raw.unlock_upgradable() }
    }
}

// ---- mapped guards ----

impl<'a, T: ?Sized> MappedRwLockReadGuard<'a, T> {
    /// Narrows the guard further.
    pub fn map<U: ?Sized>(s: Self, f: impl FnOnce(&T) -> &U) -> MappedRwLockReadGuard<'a, U> {
        let data = NonNull::from(f(&*s));
        let raw = s.raw;
        mem::forget(s);
        MappedRwLockReadGuard {
            raw,
            data,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), but `f` may decline, giving the guard back.
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returns `None`.
    pub fn try_map<U: ?Sized>(
        s: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<MappedRwLockReadGuard<'a, U>, Self> {
        let Some(data) = f(&*s).map(NonNull::from) else {
            return Err(s);
        };
        let raw = s.raw;
        mem::forget(s);
        Ok(MappedRwLockReadGuard {
            raw,
            data,
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for MappedRwLockReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `data` points into the locked data, and this guard holds a read lock
        // on it for `'a`.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> Drop for MappedRwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard was made from a read guard, whose read lock it now owns.
        unsafe { self.raw.unlock_shared() }
    }
}

impl<'a, T: ?Sized> MappedRwLockWriteGuard<'a, T> {
    /// Narrows the guard further.
    pub fn map<U: ?Sized>(
        mut s: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> MappedRwLockWriteGuard<'a, U> {
        let data = NonNull::from(f(&mut *s));
        let raw = s.raw;
        mem::forget(s);
        MappedRwLockWriteGuard {
            raw,
            data,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](Self::map), but `f` may decline, giving the guard back.
    ///
    /// # Errors
    ///
    /// The original guard, if `f` returns `None`.
    pub fn try_map<U: ?Sized>(
        mut s: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedRwLockWriteGuard<'a, U>, Self> {
        let Some(data) = f(&mut *s).map(NonNull::from) else {
            return Err(s);
        };
        let raw = s.raw;
        mem::forget(s);
        Ok(MappedRwLockWriteGuard {
            raw,
            data,
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for MappedRwLockWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `data` points into the locked data, held exclusively for `'a`.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for MappedRwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized> Drop for MappedRwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard was made from a write guard, whose lock it now owns.
        unsafe { self.raw.unlock_exclusive() }
    }
}

// ---- formatting ----

macro_rules! forward_fmt {
    ($($guard:ident),*) => {$(
        impl<T: ?Sized + fmt::Debug> fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + fmt::Display> fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    )*};
}

forward_fmt!(
    RwLockReadGuard,
    RwLockWriteGuard,
    RwLockUpgradableReadGuard,
    MappedRwLockReadGuard,
    MappedRwLockWriteGuard
);

#[cfg(all(test, not(loom)))]
mod tests;
