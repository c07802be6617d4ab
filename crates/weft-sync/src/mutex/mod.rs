//! `Mutex<T>`: a one-word, spin-then-park mutual exclusion lock without poisoning.
//!
//! The public type and its guards live here; the state machine (one `AtomicU32`,
//! its bits, transitions, orderings and the fairness argument) is in `raw.rs`.

mod barging;
mod raw;

pub use barging::{BargingMutex, BargingMutexGuard};
pub(crate) use raw::RawMutex;

use crate::primitive::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use std::time::{Duration, Instant};

/// A mutual exclusion lock: one thread at a time gets `&mut T`.
///
/// The lock is one 32-bit word next to the data (no allocation, no global table).
/// Taking a free lock is one compare-and-swap, and releasing it with nobody waiting is
/// another: about 5 ns for the pair on the 2-core x86 machine weft is developed on,
/// level with `parking_lot` and `std`. A thread that finds the lock held spins for a
/// few hundred nanoseconds, then yields its time slice a few times, then sleeps in the
/// kernel (`futex`) until an unlock wakes it; unlock makes the wake-up system call
/// only when someone is counted as sleeping and no wake-up is already on its way.
///
/// Unlike `std::sync::Mutex` there is no poisoning: a panic while the lock is held
/// releases it, and the next thread sees the data as the panicking thread left it.
///
/// # Fairness
///
/// By default an unlock lets a running thread take the lock ahead of sleeping
/// waiters (barging), which gives the best throughput. No waiter starves, though: a
/// waiter that has lost for more than about a millisecond switches the lock into a
/// mode where every unlock hands it directly to a waiter, until the queue drains
/// (Go's `sync.Mutex` rule). [`MutexGuard::unlock_fair`] forces one such handoff.
///
/// # Which lock?
///
/// - [`Mutex`]: the default for shared mutable state; sections of any length.
/// - [`BargingMutex`]: no starvation rule, for short sections inside structures
///   that bound their own waits (throughput under oversubscription).
/// - [`RwLock`](crate::RwLock): many readers at once, when read sections are long
///   enough to pay for the extra bookkeeping; for short sections a `Mutex` is faster.
/// - [`SpinLock`](crate::SpinLock): never sleeps; only for sections of a few
///   instructions with no more threads than cores.
/// - [`ReentrantMutex`](crate::ReentrantMutex): code that must re-lock on the same
///   thread (gives `&T` only).
/// - atomics: when the shared state is one word.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_sync::Mutex;
///
/// let counter = Arc::new(Mutex::new(0));
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         std::thread::spawn(move || {
///             for _ in 0..1000 {
///                 *counter.lock() += 1;
///             }
///         })
///     })
///     .collect();
/// for handle in handles {
///     handle.join().unwrap();
/// }
/// assert_eq!(*counter.lock(), 4000);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands `&mut T` to one thread at a time, which is moving `T`
// between threads: `T: Send` suffices, as for std's Mutex.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: owning the lock is owning `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

/// Proof that a [`Mutex`] is held; unlocks it when dropped.
///
/// Not `Send`: a lock is released by the thread that took it (the deadlock detector
/// keeps per-thread state, and so does [`ReentrantMutex`](crate::ReentrantMutex)).
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard only shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

/// A held [`Mutex`] narrowed to part of its data by [`MutexGuard::map`]; unlocks the
/// mutex when dropped.
///
/// It cannot be used with a [`Condvar`](crate::Condvar) or temporarily unlocked: the
/// mapping closure might have made a reference that would dangle across the unlock.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MappedMutexGuard<'a, T: ?Sized> {
    raw: &'a RawMutex,
    data: NonNull<T>,
    // Invariant over `T` and `!Send`, like `&'a mut T` behind a lock.
    _marker: PhantomData<(&'a mut T, *const ())>,
}

// SAFETY: sharing the guard only shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MappedMutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`. Usable in `static`s.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::Mutex;
    ///
    /// static LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    /// LOG.lock().push("hello");
    /// assert_eq!(LOG.lock().len(), 1);
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

    /// Consumes the mutex, returning the data. No locking is needed: owning the
    /// mutex proves nobody holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::Mutex::new(String::from("data"));
    /// assert_eq!(mutex.into_inner(), "data");
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the lock, blocking the thread until it is free.
    ///
    /// Not reentrant: locking again on the thread that holds the lock deadlocks
    /// (use [`ReentrantMutex`](crate::ReentrantMutex) if you need that).
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::Mutex::new(1);
    /// *mutex.lock() += 1;
    /// assert_eq!(*mutex.lock(), 2);
    /// ```
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock();
        self.guard()
    }

    /// Acquires the lock if it is free right now, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::Mutex::new(0);
    /// let guard = mutex.lock();
    /// assert!(mutex.try_lock().is_none());
    /// drop(guard);
    /// assert!(mutex.try_lock().is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.raw.try_lock().then(|| self.guard())
    }

    /// Acquires the lock, waiting at most `timeout` for it.
    ///
    /// Returns `None` if the lock stayed held for the whole `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mutex = weft_sync::Mutex::new(0);
    /// assert!(mutex.try_lock_for(Duration::from_millis(10)).is_some());
    /// let _held = mutex.lock();
    /// assert!(mutex.try_lock_for(Duration::from_millis(1)).is_none());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_lock_until(deadline),
            // Too far away to represent: wait without a deadline.
            None => Some(self.lock()),
        }
    }

    /// Acquires the lock, waiting until `deadline` at the latest.
    ///
    /// Returns `None` if the lock stayed held until `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let mutex = weft_sync::Mutex::new(0);
    /// let deadline = Instant::now() + Duration::from_millis(10);
    /// assert!(mutex.try_lock_until(deadline).is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        self.raw.try_lock_until(deadline).then(|| self.guard())
    }

    /// Whether some thread holds the lock. A snapshot that may be stale by the time
    /// it is read: use it for diagnostics and assertions, never for synchronization.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::Mutex::new(());
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
    /// let mut mutex = weft_sync::Mutex::new(1);
    /// *mutex.get_mut() = 2;
    /// assert_eq!(*mutex.lock(), 2);
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// A raw pointer to the data, without locking. Dereferencing it is up to the
    /// caller: it is sound only while the caller holds the lock (for instance after
    /// [`mem::forget`](core::mem::forget)ting a guard) or otherwise excludes others.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::Mutex::new(5);
    /// let guard = mutex.lock();
    /// // SAFETY: `guard` holds the lock for as long as the pointer is used.
    /// assert_eq!(unsafe { *mutex.data_ptr() }, 5);
    /// drop(guard);
    /// ```
    #[inline]
    pub fn data_ptr(&self) -> *mut T {
        self.data.get()
    }

    /// Releases the lock without a guard (for one that was
    /// [`mem::forget`](core::mem::forget)ten, e.g. across an FFI boundary).
    ///
    /// # Safety
    ///
    /// The lock must be held, by a guard that was forgotten (or the equivalent), and
    /// no reference obtained through that guard may be used afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::Mutex::new(0);
    /// std::mem::forget(mutex.lock());
    /// assert!(mutex.is_locked());
    /// // SAFETY: the lock is held by the guard forgotten above, and nothing uses it.
    /// unsafe { mutex.force_unlock() };
    /// assert!(!mutex.is_locked());
    /// ```
    #[inline]
    pub unsafe fn force_unlock(&self) {
        // SAFETY: the caller guarantees the lock is held and abandoned by its guard.
        unsafe { self.raw.unlock() }
    }

    /// Like [`force_unlock`](Self::force_unlock), but hands the lock to a waiting
    /// thread if there is one (see [`MutexGuard::unlock_fair`]).
    ///
    /// # Safety
    ///
    /// As for [`force_unlock`](Self::force_unlock).
    #[inline]
    pub unsafe fn force_unlock_fair(&self) {
        // SAFETY: the caller guarantees the lock is held and abandoned by its guard.
        unsafe { self.raw.unlock_fair() }
    }

    #[inline]
    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds.
    ///
    /// An associated function (`MutexGuard::mutex(&guard)`) so that it never shadows
    /// a method of `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(0);
    /// let guard = mutex.lock();
    /// assert!(std::ptr::eq(MutexGuard::mutex(&guard), &mutex));
    /// ```
    #[inline]
    pub fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }

    /// Narrows the guard to a part of the data, keeping the lock held.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{MappedMutexGuard, Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new((1, String::from("a")));
    /// let mut name: MappedMutexGuard<'_, String> = MutexGuard::map(mutex.lock(), |pair| &mut pair.1);
    /// name.push('b');
    /// drop(name);
    /// assert_eq!(mutex.lock().1, "ab");
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F>(guard: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let mutex = guard.mutex;
        // SAFETY: the guard holds the lock, and the mapped guard that keeps this
        // reference holds it on. `guard` is forgotten only after `f` returns, so if
        // `f` panics it is dropped while unwinding and unlocks.
        let data = NonNull::from(f(unsafe { &mut *mutex.data.get() }));
        core::mem::forget(guard);
        MappedMutexGuard {
            raw: &mutex.raw,
            data,
            _marker: PhantomData,
        }
    }

    /// Narrows the guard to a part of the data if `f` finds one; otherwise gives the
    /// original guard back.
    ///
    /// # Errors
    ///
    /// Returns the unchanged guard if `f` returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(vec![1, 2, 3]);
    /// let first = MutexGuard::try_map(mutex.lock(), |v| v.first_mut());
    /// assert_eq!(*first.ok().unwrap(), 1);
    /// let tenth = MutexGuard::try_map(mutex.lock(), |v| v.get_mut(10));
    /// assert!(tenth.is_err());
    /// ```
    #[inline]
    pub fn try_map<U: ?Sized, F>(guard: Self, f: F) -> Result<MappedMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let mutex = guard.mutex;
        // SAFETY: as in `map`; on `None` no reference survives and the guard is
        // returned still holding the lock.
        match f(unsafe { &mut *mutex.data.get() }).map(NonNull::from) {
            Some(data) => {
                core::mem::forget(guard);
                Ok(MappedMutexGuard {
                    raw: &mutex.raw,
                    data,
                    _marker: PhantomData,
                })
            }
            None => Err(guard),
        }
    }

    /// Releases the lock while `f` runs, then takes it again (waiting if needed).
    ///
    /// The lock is re-taken even if `f` panics, so the guard stays valid.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(0);
    /// let mut guard = mutex.lock();
    /// MutexGuard::unlocked(&mut guard, || {
    ///     // Others may take the lock here.
    ///     *mutex.lock() += 1;
    /// });
    /// assert_eq!(*guard, 1);
    /// ```
    #[track_caller]
    pub fn unlocked<F, U>(guard: &mut Self, f: F) -> U
    where
        F: FnOnce() -> U,
    {
        /// Re-locks on scope exit, including unwinding out of `f`.
        struct Relock<'r>(&'r RawMutex);
        impl Drop for Relock<'_> {
            #[track_caller]
            fn drop(&mut self) {
                self.0.lock();
            }
        }
        // SAFETY: the guard holds the lock; `Relock` takes it again before the guard
        // (borrowed mutably, so unusable meanwhile) can be used or dropped.
        unsafe { guard.mutex.raw.unlock() };
        let _relock = Relock(&guard.mutex.raw);
        f()
    }

    /// Releases the lock and, if a thread is waiting, hands the lock directly to it:
    /// no thread running meanwhile can take it first.
    ///
    /// A plain unlock (dropping the guard) lets a running thread barge in, which is
    /// faster; use this when a waiter must get its turn now (for strict alternation,
    /// or to bound latency). It costs a wake-up and a context switch per handoff.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(0);
    /// let mut guard = mutex.lock();
    /// *guard += 1;
    /// MutexGuard::unlock_fair(guard);
    /// assert!(!mutex.is_locked());
    /// ```
    #[inline]
    pub fn unlock_fair(guard: Self) {
        let guard = ManuallyDrop::new(guard);
        // SAFETY: the guard holds the lock and is not dropped (ManuallyDrop).
        unsafe { guard.mutex.raw.unlock_fair() };
    }

    /// The raw lock, for `Condvar`.
    #[inline]
    pub(crate) fn raw(guard: &Self) -> &'a RawMutex {
        &guard.mutex.raw
    }
}

impl<'a, T: ?Sized> MappedMutexGuard<'a, T> {
    /// Narrows the guard further. See [`MutexGuard::map`].
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{MappedMutexGuard, Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(((1, 2), 3));
    /// let inner = MutexGuard::map(mutex.lock(), |t| &mut t.0);
    /// let mut second = MappedMutexGuard::map(inner, |p| &mut p.1);
    /// *second = 20;
    /// drop(second);
    /// assert_eq!(*mutex.lock(), ((1, 20), 3));
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F>(guard: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let raw = guard.raw;
        // SAFETY: as in `MutexGuard::map`: `data` points into the locked data, and
        // `guard` is forgotten only after `f` returns (so a panic in `f` unlocks).
        let data = NonNull::from(f(unsafe { &mut *guard.data.as_ptr() }));
        core::mem::forget(guard);
        MappedMutexGuard {
            raw,
            data,
            _marker: PhantomData,
        }
    }

    /// Narrows the guard further if `f` finds a part. See [`MutexGuard::try_map`].
    ///
    /// # Errors
    ///
    /// Returns the unchanged guard if `f` returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{MappedMutexGuard, Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new((vec![1], 0));
    /// let list = MutexGuard::map(mutex.lock(), |t| &mut t.0);
    /// assert!(MappedMutexGuard::try_map(list, |v| v.get_mut(5)).is_err());
    /// ```
    #[inline]
    pub fn try_map<U: ?Sized, F>(guard: Self, f: F) -> Result<MappedMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let raw = guard.raw;
        // SAFETY: as in `map`; on `None` the guard is returned still holding the lock.
        match f(unsafe { &mut *guard.data.as_ptr() }).map(NonNull::from) {
            Some(data) => {
                core::mem::forget(guard);
                Ok(MappedMutexGuard {
                    raw,
                    data,
                    _marker: PhantomData,
                })
            }
            None => Err(guard),
        }
    }

    /// Releases the lock, handing it to a waiting thread if there is one. See
    /// [`MutexGuard::unlock_fair`].
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{MappedMutexGuard, Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new((0, 0));
    /// let first = MutexGuard::map(mutex.lock(), |t| &mut t.0);
    /// MappedMutexGuard::unlock_fair(first);
    /// assert!(!mutex.is_locked());
    /// ```
    #[inline]
    pub fn unlock_fair(guard: Self) {
        let guard = ManuallyDrop::new(guard);
        // SAFETY: the guard holds the lock and is not dropped (ManuallyDrop).
        unsafe { guard.raw.unlock_fair() };
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a live guard holds the lock, and this is its only release.
        unsafe { self.mutex.raw.unlock() };
    }
}

impl<T: ?Sized> Drop for MappedMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a live guard holds the lock, and this is its only release.
        unsafe { self.raw.unlock() };
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock exclusively, and `&mut self` makes this the
        // only reference derived from it.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Deref for MappedMutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `data` points into the locked data (made from the `&mut` a guard
        // handed out) and the lock is held for as long as this guard lives.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for MappedMutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only live reference.
        unsafe { self.data.as_mut() }
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MappedMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MappedMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
