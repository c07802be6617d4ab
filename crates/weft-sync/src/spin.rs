//! `SpinLock<T>`: test-and-test-and-set with exponential backoff.

use crate::Backoff;
use crate::deadlock::{self, Access, LockClass};
use crate::primitive::UnsafeCell;
use crate::primitive::atomic::{AtomicBool, Ordering};
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

/// A spin lock: waiting threads burn CPU instead of sleeping.
///
/// Test-and-test-and-set: a waiter spins on a plain load (the line stays shared in
/// every waiter's cache) and only tries the atomic swap when the lock looks free, with
/// exponential [`Backoff`] after each failed attempt, then yields to the OS.
///
/// # When to pick it
///
/// Almost never over [`Mutex`](crate::Mutex), which already spins briefly before it
/// sleeps. A spin lock wins only when critical sections are a few instructions long,
/// threads are never preempted while holding it (as many threads as cores, or
/// interrupts off), and you cannot afford a syscall. With more threads than cores a
/// preempted holder makes every waiter spin out its time slice: `weft-lab run
/// lock-contention` shows the collapse.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_sync::SpinLock;
///
/// let lock = Arc::new(SpinLock::new(0));
/// let handles: Vec<_> = (0..2)
///     .map(|_| {
///         let lock = Arc::clone(&lock);
///         std::thread::spawn(move || {
///             for _ in 0..1000 {
///                 *lock.lock() += 1;
///             }
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*lock.lock(), 2000);
/// ```
pub struct SpinLock<T: ?Sized> {
    locked: AtomicBool,
    class: LockClass,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `T` to one thread at a time, so sharing the
// lock is sharing `T` by moving it between threads: `T: Send` suffices.
unsafe impl<T: ?Sized + Send> Sync for SpinLock<T> {}
// SAFETY: owning the lock is owning `T`.
unsafe impl<T: ?Sized + Send> Send for SpinLock<T> {}

/// Holds a [`SpinLock`] until dropped.
#[must_use = "if unused the SpinLock will immediately unlock"]
pub struct SpinLockGuard<'a, T: ?Sized> {
    lock: &'a SpinLock<T>,
    // A guard must be released by the thread that took it (deadlock bookkeeping is
    // per thread), so it is !Send like std's.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard only shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for SpinLockGuard<'_, T> {}

impl<T> SpinLock<T> {
    /// A new, unlocked spin lock.
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            class: LockClass::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// A new, unlocked spin lock.
    #[cfg(loom)]
    #[track_caller]
    pub fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            class: LockClass::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> SpinLock<T> {
    /// Spins until the lock is acquired.
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        deadlock::on_acquire(self.addr(), &self.class, Access::Exclusive);
        self.guard()
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self) {
        let backoff = Backoff::new();
        // A spinner is not parked, but it is waiting: the wait-for graph must see it.
        deadlock::on_wait(self.addr(), &self.class);
        loop {
            // Test: wait on a plain load so the line stays shared while it is held.
            while self.locked.load(Ordering::Relaxed) {
                backoff.snooze();
            }
            // Acquire: pairs with the Release store in `unlock`, so the previous
            // holder's writes to the value are visible.
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            backoff.spin();
        }
    }

    /// Acquires the lock if it is free, without spinning.
    #[inline]
    #[track_caller]
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        // Not `.ok().map(..)`: a closure would hide the caller from `#[track_caller]`.
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        deadlock::on_acquire(self.addr(), &self.class, Access::TryExclusive);
        Some(self.guard())
    }

    /// Whether some thread holds the lock (a snapshot, for diagnostics).
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }

    /// Mutable access without locking: `&mut self` proves nobody else holds it.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn guard(&self) -> SpinLockGuard<'_, T> {
        SpinLockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    fn addr(&self) -> usize {
        self as *const Self as *const () as usize
    }
}

impl<T: ?Sized> Drop for SpinLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        deadlock::on_release(self.lock.addr());
        // Release: publishes this holder's writes to the next holder's Acquire.
        self.lock.locked.store(false, Ordering::Release);
    }
}

impl<T: ?Sized> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock exclusively, and `&mut self` makes this the
        // only reference derived from it.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: Default> Default for SpinLock<T> {
    #[track_caller]
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SpinLock");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for SpinLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for SpinLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn try_lock_fails_while_held_and_succeeds_after() {
        let lock = SpinLock::new(1);
        let guard = lock.lock();
        assert!(lock.try_lock().is_none());
        assert!(lock.is_locked());
        drop(guard);
        assert_eq!(*lock.try_lock().unwrap(), 1);
    }

    #[test]
    fn stress_counts_every_increment() {
        const THREADS: usize = 4;
        const ITERS: usize = 20_000;
        let lock = Arc::new(SpinLock::new((0usize, 0usize)));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..ITERS {
                        let mut g = lock.lock();
                        // Two fields written together: a torn view means broken exclusion.
                        assert_eq!(g.0, g.1);
                        g.0 += 1;
                        g.1 += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let lock = Arc::try_unwrap(lock).unwrap();
        assert_eq!(lock.into_inner(), (THREADS * ITERS, THREADS * ITERS));
    }
}
