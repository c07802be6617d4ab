//! `AsyncMutex<T>`: a mutex whose guard may be held across `.await`.

use super::raw::RawMutex;
use crate::deadlock::{self, Access, AcquireSite, LockClass, Tracked};
use crate::event::block_on;
use crate::primitive::UnsafeCell;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use std::sync::Arc;

/// A mutual-exclusion lock for async code (and threads), whose guard may be held
/// across `.await` and moved between threads.
///
/// # Cost
///
/// Uncontended `lock().await`: one CAS; unlock: one store plus [`Event::notify`]'s
/// fence and load. A contended waiter listens on an [`Event`](crate::Event). Not fair:
/// an arriving task may barge ahead of a woken one.
///
/// Pick a blocking `Mutex` instead when no `.await` happens while the lock is held:
/// it is cheaper, spins briefly before sleeping, and a moment's hold does not stall
/// a worker. Hold a lock across `.await` only with an async lock.
///
/// With the `deadlock-detection` feature, `lock_blocking` reports to the deadlock
/// detector as the acquiring thread's hold; `lock().await` and `try_lock` inside a
/// task (see [`deadlock`](crate::deadlock)'s async section) as the task's hold,
/// whichever worker thread drops the guard; elsewhere they are not recorded.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_sync::AsyncMutex;
///
/// let counter = Arc::new(AsyncMutex::new(0));
/// let c = Arc::clone(&counter);
/// // A thread takes it with the blocking variant...
/// std::thread::spawn(move || *c.lock_blocking() += 1).join().unwrap();
/// // ...and a task would write `*counter.lock().await += 1;`.
/// assert_eq!(*counter.try_lock().unwrap(), 1);
/// ```
///
/// [`Event::notify`]: crate::Event::notify
pub struct AsyncMutex<T: ?Sized> {
    raw: RawMutex,
    class: LockClass,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives one holder at a time access to `T`; sharing it is moving `T`.
unsafe impl<T: ?Sized + Send> Sync for AsyncMutex<T> {}
// SAFETY: owning the lock is owning `T`.
unsafe impl<T: ?Sized + Send> Send for AsyncMutex<T> {}

impl<T> AsyncMutex<T> {
    /// A new, unlocked mutex.
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new(value: T) -> Self {
        Self {
            raw: RawMutex::new(),
            class: LockClass::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// A new, unlocked mutex.
    #[cfg(loom)]
    #[track_caller]
    pub fn new(value: T) -> Self {
        Self {
            raw: RawMutex::new(),
            class: LockClass::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> AsyncMutex<T> {
    /// Locks, waiting asynchronously.
    ///
    /// Cancel-safe: dropping the future before it completes leaves the lock untouched
    /// and passes on any wake-up it had received.
    ///
    /// With the `deadlock-detection` feature, inside a task (a
    /// [`TaskScope`](crate::deadlock)) the wait and the hold are recorded against the
    /// task, with this call's location as the acquisition site.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future before it has the lock leaves the lock untouched,
    /// and a wake-up it had received passes to the next waiter.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn lock(&self) -> impl Future<Output = AsyncMutexGuard<'_, T>> {
        let site = AcquireSite::caller();
        async move {
            deadlock::tracked_wait(
                self.addr(),
                self.class,
                Access::Exclusive,
                site,
                self.raw.lock(),
            )
            .await;
            self.guard(deadlock::on_task_acquire(
                self.addr(),
                &self.class,
                Access::Exclusive,
                site,
            ))
        }
    }

    /// Locks, blocking the thread. For threads only: inside a task this blocks the
    /// worker.
    #[track_caller]
    pub fn lock_blocking(&self) -> AsyncMutexGuard<'_, T> {
        if !self.raw.try_lock() {
            deadlock::on_wait(self.addr(), &self.class);
            block_on(self.raw.lock(), None).expect("no deadline");
        }
        deadlock::on_acquire(self.addr(), &self.class, Access::Exclusive);
        self.guard(Tracked::THREAD)
    }

    /// Locks if free, without waiting. Inside a task, the hold is recorded against
    /// it (with the `deadlock-detection` feature), as a try-acquisition.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn try_lock(&self) -> Option<AsyncMutexGuard<'_, T>> {
        let site = AcquireSite::caller();
        self.raw.try_lock().then(|| {
            self.guard(deadlock::on_task_acquire(
                self.addr(),
                &self.class,
                Access::TryExclusive,
                site,
            ))
        })
    }

    /// Whether the mutex is locked right now (a snapshot, for diagnostics).
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Mutable access without locking: `&mut self` proves nobody holds it.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Locks an `Arc`ed mutex, returning a guard that owns a share of the `Arc`
    /// (`'static`, so it can be kept in a task or a struct). Cancel-safe.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn lock_arc(self: &Arc<Self>) -> impl Future<Output = AsyncMutexGuardArc<T>> {
        let site = AcquireSite::caller();
        async move {
            deadlock::tracked_wait(
                self.addr(),
                self.class,
                Access::Exclusive,
                site,
                self.raw.lock(),
            )
            .await;
            AsyncMutexGuardArc {
                mutex: Arc::clone(self),
                tracked: deadlock::on_task_acquire(
                    self.addr(),
                    &self.class,
                    Access::Exclusive,
                    site,
                ),
            }
        }
    }

    /// [`lock_arc`](Self::lock_arc), blocking the thread.
    #[track_caller]
    pub fn lock_arc_blocking(self: &Arc<Self>) -> AsyncMutexGuardArc<T> {
        let guard = ManuallyDrop::new(self.lock_blocking());
        AsyncMutexGuardArc {
            mutex: Arc::clone(self),
            tracked: guard.tracked,
        }
    }

    /// [`lock_arc`](Self::lock_arc) if free, without waiting.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn try_lock_arc(self: &Arc<Self>) -> Option<AsyncMutexGuardArc<T>> {
        let site = AcquireSite::caller();
        self.raw.try_lock().then(|| AsyncMutexGuardArc {
            mutex: Arc::clone(self),
            tracked: deadlock::on_task_acquire(
                self.addr(),
                &self.class,
                Access::TryExclusive,
                site,
            ),
        })
    }

    fn guard(&self, tracked: Tracked) -> AsyncMutexGuard<'_, T> {
        AsyncMutexGuard {
            mutex: self,
            tracked,
            _marker: PhantomData,
        }
    }

    fn addr(&self) -> usize {
        self as *const Self as *const () as usize
    }

    fn unlock(&self, tracked: Tracked) {
        tracked.release(self.addr());
        self.raw.unlock();
    }
}

impl<T: Default> Default for AsyncMutex<T> {
    #[track_caller]
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for AsyncMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AsyncMutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Holds an [`AsyncMutex`] until dropped. `Send` when `T: Send`, so a task may hold
/// it across an `.await` and resume on another thread.
#[must_use = "if unused the AsyncMutex will immediately unlock"]
pub struct AsyncMutexGuard<'a, T: ?Sized> {
    mutex: &'a AsyncMutex<T>,
    /// Where the deadlock detector recorded the hold: the release goes there.
    tracked: Tracked,
    // `&mut T` gives the guard `T`'s own Send/Sync (a `&AsyncMutex<T>` alone would be
    // `Sync` for any `T: Send`, but the guard hands out `&T`).
    _marker: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> AsyncMutexGuard<'a, T> {
    /// The mutex this guard holds.
    pub fn source(this: &Self) -> &'a AsyncMutex<T> {
        this.mutex
    }

    /// Narrows the guard to a part of the value (a field, an element), keeping the
    /// lock held.
    pub fn map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> MappedAsyncMutexGuard<'a, U> {
        let this = ManuallyDrop::new(this);
        // SAFETY: the guard holds the lock exclusively; the `&mut T` lives as long
        // as the mapped guard, which keeps the lock held until it drops.
        let value: *mut U = f(unsafe { &mut *this.mutex.value.get() });
        MappedAsyncMutexGuard {
            raw: &this.mutex.raw,
            addr: this.mutex.addr(),
            tracked: this.tracked,
            value,
            _marker: PhantomData,
        }
    }
}

impl<T: ?Sized> Drop for AsyncMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock(self.tracked);
    }
}

impl<T: ?Sized> Deref for AsyncMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for AsyncMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock exclusively and `&mut self` makes this the
        // only reference derived from it.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for AsyncMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A guard from [`AsyncMutexGuard::map`]: holds the mutex, derefs to a part of it.
#[must_use = "if unused the AsyncMutex will immediately unlock"]
pub struct MappedAsyncMutexGuard<'a, T: ?Sized> {
    raw: &'a RawMutex,
    addr: usize,
    tracked: Tracked,
    value: *mut T,
    _marker: PhantomData<&'a mut T>,
}

// SAFETY: the mapped guard is a `&mut T` plus a held lock: `Send` like `&mut T`.
unsafe impl<T: ?Sized + Send> Send for MappedAsyncMutexGuard<'_, T> {}
// SAFETY: sharing it only shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MappedAsyncMutexGuard<'_, T> {}

impl<T: ?Sized> Drop for MappedAsyncMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.tracked.release(self.addr);
        self.raw.unlock();
    }
}

impl<T: ?Sized> Deref for MappedAsyncMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `value` points into the locked data (see `AsyncMutexGuard::map`) and
        // the lock is held while `self` lives.
        unsafe { &*self.value }
    }
}

impl<T: ?Sized> DerefMut for MappedAsyncMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference.
        unsafe { &mut *self.value }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MappedAsyncMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// An owned guard of an `Arc<AsyncMutex<T>>`, from [`AsyncMutex::lock_arc`].
#[must_use = "if unused the AsyncMutex will immediately unlock"]
pub struct AsyncMutexGuardArc<T: ?Sized> {
    mutex: Arc<AsyncMutex<T>>,
    tracked: Tracked,
}

// SAFETY: owning the guard is holding exclusive access to `T`: `Send` when `T: Send`
// (the `Arc<AsyncMutex<T>>` alone is `Send` for `T: Send` too).
unsafe impl<T: ?Sized + Send> Send for AsyncMutexGuardArc<T> {}
// SAFETY: sharing the guard only shares `&T`.
unsafe impl<T: ?Sized + Send + Sync> Sync for AsyncMutexGuardArc<T> {}

impl<T: ?Sized> AsyncMutexGuardArc<T> {
    /// The mutex this guard holds.
    pub fn source(this: &Self) -> &Arc<AsyncMutex<T>> {
        &this.mutex
    }
}

impl<T: ?Sized> Drop for AsyncMutexGuardArc<T> {
    fn drop(&mut self) {
        self.mutex.unlock(self.tracked);
    }
}

impl<T: ?Sized> Deref for AsyncMutexGuardArc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for AsyncMutexGuardArc<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock exclusively; `&mut self` is unique.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for AsyncMutexGuardArc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
