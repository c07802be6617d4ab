//! Owned (`Arc`) guards of an [`AsyncRwLock`]: `'static`, so a task can keep one in
//! a struct or move it into a spawned future, like [`AsyncMutex::lock_arc`]'s guard.
//!
//! Each owned guard is a borrowed guard's state (`tracked`) plus the `Arc` that keeps
//! the lock alive. Every operation builds the borrowed guard it needs from that state,
//! runs the borrowed guard's code, and turns the result back into an owned guard, so
//! the state machine and its orderings live in one place (`rwlock.rs`).
//!
//! `Send`/`Sync` are left to the compiler: an owned guard holds an
//! `Arc<AsyncRwLock<T>>`, which is both only when `T: Send + Sync`, and that is also
//! what the guard needs (it gives `&T`, or `&mut T`, on whichever thread holds it, and
//! may drop the last `Arc`, dropping `T` there).
//!
//! [`AsyncMutex::lock_arc`]: crate::AsyncMutex::lock_arc

use super::{
    AsyncRwLock, AsyncRwLockReadGuard, AsyncRwLockUpgradableReadGuard, AsyncRwLockWriteGuard,
};
use crate::deadlock::{AcquireSite, Tracked};
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use std::sync::Arc;

impl<T: ?Sized> AsyncRwLock<T> {
    /// [`read`](Self::read) on an `Arc`ed lock, returning a guard that owns a share of
    /// the `Arc`. Cancel-safe.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn read_arc(self: &Arc<Self>) -> impl Future<Output = AsyncRwLockReadGuardArc<T>> {
        self.read_arc_at(AcquireSite::caller())
    }

    async fn read_arc_at(self: &Arc<Self>, site: AcquireSite) -> AsyncRwLockReadGuardArc<T> {
        let tracked = ManuallyDrop::new(self.read_at(site).await).tracked;
        AsyncRwLockReadGuardArc::new(Arc::clone(self), tracked)
    }

    /// [`read_arc`](Self::read_arc), blocking the thread.
    #[track_caller]
    pub fn read_arc_blocking(self: &Arc<Self>) -> AsyncRwLockReadGuardArc<T> {
        let tracked = ManuallyDrop::new(self.read_blocking()).tracked;
        AsyncRwLockReadGuardArc::new(Arc::clone(self), tracked)
    }

    /// [`read_arc`](Self::read_arc) if no writer holds or waits, without waiting.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn try_read_arc(self: &Arc<Self>) -> Option<AsyncRwLockReadGuardArc<T>> {
        let tracked = ManuallyDrop::new(self.try_read()?).tracked;
        Some(AsyncRwLockReadGuardArc::new(Arc::clone(self), tracked))
    }

    /// [`write`](Self::write) on an `Arc`ed lock, returning a guard that owns a share
    /// of the `Arc`. Cancel-safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use weft_sync::{AsyncRwLock, AsyncRwLockWriteGuardArc};
    ///
    /// let lock = Arc::new(AsyncRwLock::new(0));
    /// let mut guard = lock.try_write_arc().unwrap();
    /// // `'static`: the guard can move to another thread (or task) on its own.
    /// let guard = std::thread::spawn(move || {
    ///     *guard += 1;
    ///     AsyncRwLockWriteGuardArc::downgrade(guard)
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(*guard, 1);
    /// assert!(lock.try_write_arc().is_none(), "still read-locked");
    /// ```
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn write_arc(self: &Arc<Self>) -> impl Future<Output = AsyncRwLockWriteGuardArc<T>> {
        self.write_arc_at(AcquireSite::caller())
    }

    async fn write_arc_at(self: &Arc<Self>, site: AcquireSite) -> AsyncRwLockWriteGuardArc<T> {
        let tracked = ManuallyDrop::new(self.write_at(site).await).tracked;
        AsyncRwLockWriteGuardArc::new(Arc::clone(self), tracked)
    }

    /// [`write_arc`](Self::write_arc), blocking the thread.
    #[track_caller]
    pub fn write_arc_blocking(self: &Arc<Self>) -> AsyncRwLockWriteGuardArc<T> {
        let tracked = ManuallyDrop::new(self.write_blocking()).tracked;
        AsyncRwLockWriteGuardArc::new(Arc::clone(self), tracked)
    }

    /// [`write_arc`](Self::write_arc) if nobody holds any lock, without waiting.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn try_write_arc(self: &Arc<Self>) -> Option<AsyncRwLockWriteGuardArc<T>> {
        let tracked = ManuallyDrop::new(self.try_write()?).tracked;
        Some(AsyncRwLockWriteGuardArc::new(Arc::clone(self), tracked))
    }

    /// [`upgradable_read`](Self::upgradable_read) on an `Arc`ed lock, returning a guard
    /// that owns a share of the `Arc`. Cancel-safe.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn upgradable_read_arc(
        self: &Arc<Self>,
    ) -> impl Future<Output = AsyncRwLockUpgradableReadGuardArc<T>> {
        self.upgradable_read_arc_at(AcquireSite::caller())
    }

    async fn upgradable_read_arc_at(
        self: &Arc<Self>,
        site: AcquireSite,
    ) -> AsyncRwLockUpgradableReadGuardArc<T> {
        let tracked = ManuallyDrop::new(self.upgradable_read_at(site).await).tracked;
        AsyncRwLockUpgradableReadGuardArc::new(Arc::clone(self), tracked)
    }

    /// [`upgradable_read_arc`](Self::upgradable_read_arc), blocking the thread.
    #[track_caller]
    pub fn upgradable_read_arc_blocking(self: &Arc<Self>) -> AsyncRwLockUpgradableReadGuardArc<T> {
        let tracked = ManuallyDrop::new(self.upgradable_read_blocking()).tracked;
        AsyncRwLockUpgradableReadGuardArc::new(Arc::clone(self), tracked)
    }

    /// [`upgradable_read_arc`](Self::upgradable_read_arc) if available, without
    /// waiting.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn try_upgradable_read_arc(
        self: &Arc<Self>,
    ) -> Option<AsyncRwLockUpgradableReadGuardArc<T>> {
        let tracked = ManuallyDrop::new(self.try_upgradable_read()?).tracked;
        Some(AsyncRwLockUpgradableReadGuardArc::new(
            Arc::clone(self),
            tracked,
        ))
    }
}

/// Defines an owned guard type: the struct, its constructor, `into_parts`, `source`,
/// `Deref`, `Debug`, and a `Drop` that releases through the borrowed guard.
macro_rules! owned_guard {
    ($(#[$doc:meta])* $owned:ident, $borrowed:ident) => {
        $(#[$doc])*
        #[must_use = "if unused the AsyncRwLock will immediately unlock"]
        pub struct $owned<T: ?Sized> {
            /// Never `None` except inside `into_parts`, which consumes the guard.
            lock: Option<Arc<AsyncRwLock<T>>>,
            tracked: Tracked,
        }

        impl<T: ?Sized> $owned<T> {
            fn new(lock: Arc<AsyncRwLock<T>>, tracked: Tracked) -> Self {
                Self {
                    lock: Some(lock),
                    tracked,
                }
            }

            /// The lock this guard holds.
            pub fn source(this: &Self) -> &Arc<AsyncRwLock<T>> {
                this.lock()
            }

            fn lock(&self) -> &Arc<AsyncRwLock<T>> {
                self.lock.as_ref().expect("an owned guard always has its lock")
            }

            /// Takes the `Arc` and the deadlock-tracking flag out without releasing.
            #[allow(dead_code, reason = "a read guard converts into nothing")]
            fn into_parts(mut this: Self) -> (Arc<AsyncRwLock<T>>, Tracked) {
                let lock = this.lock.take().expect("an owned guard always has its lock");
                (lock, this.tracked)
            }

            /// The borrowed guard with this guard's state, on `lock`. The caller must
            /// either let it release (drop it) or hand its state on to an owned guard,
            /// never both.
            fn borrowed(lock: &AsyncRwLock<T>, tracked: Tracked) -> $borrowed<'_, T> {
                $borrowed {
                    lock,
                    tracked,
                    _marker: PhantomData,
                }
            }
        }

        impl<T: ?Sized> Drop for $owned<T> {
            fn drop(&mut self) {
                if let Some(lock) = &self.lock {
                    drop(Self::borrowed(lock, self.tracked));
                }
            }
        }

        impl<T: ?Sized> Deref for $owned<T> {
            type Target = T;
            fn deref(&self) -> &T {
                // SAFETY: the guard holds the lock in the same mode as its borrowed
                // counterpart (same state, same invariant).
                unsafe { &*self.lock().value.get() }
            }
        }

        impl<T: ?Sized + fmt::Debug> fmt::Debug for $owned<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }
    };
}

owned_guard!(
    /// An owned shared guard of an `Arc<AsyncRwLock<T>>`, from
    /// [`AsyncRwLock::read_arc`]. `Send` and `Sync` when `T: Send + Sync`.
    AsyncRwLockReadGuardArc,
    AsyncRwLockReadGuard
);

owned_guard!(
    /// An owned exclusive guard of an `Arc<AsyncRwLock<T>>`, from
    /// [`AsyncRwLock::write_arc`]. `Send` and `Sync` when `T: Send + Sync`.
    AsyncRwLockWriteGuardArc,
    AsyncRwLockWriteGuard
);

owned_guard!(
    /// An owned upgradable read guard of an `Arc<AsyncRwLock<T>>`, from
    /// [`AsyncRwLock::upgradable_read_arc`]. `Send` and `Sync` when `T: Send + Sync`.
    AsyncRwLockUpgradableReadGuardArc,
    AsyncRwLockUpgradableReadGuard
);

impl<T: ?Sized> DerefMut for AsyncRwLockWriteGuardArc<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the writer holds the lock exclusively; `&mut self` is unique.
        unsafe { &mut *self.lock().value.get() }
    }
}

impl<T: ?Sized> AsyncRwLockWriteGuardArc<T> {
    /// [`AsyncRwLockWriteGuard::downgrade`] for the owned guard.
    pub fn downgrade(this: Self) -> AsyncRwLockReadGuardArc<T> {
        let (lock, tracked) = Self::into_parts(this);
        let read = AsyncRwLockWriteGuard::downgrade(Self::borrowed(&lock, tracked));
        let tracked = ManuallyDrop::new(read).tracked;
        AsyncRwLockReadGuardArc::new(lock, tracked)
    }
}

impl<T: ?Sized> AsyncRwLockUpgradableReadGuardArc<T> {
    /// [`AsyncRwLockUpgradableReadGuard::upgrade`] for the owned guard. Cancel-safe in
    /// the same sense: dropping the future releases the lock entirely.
    pub async fn upgrade(this: Self) -> AsyncRwLockWriteGuardArc<T> {
        let (lock, tracked) = Self::into_parts(this);
        // Declared after `lock`, so dropped (releasing) before it if cancelled.
        let write = AsyncRwLockUpgradableReadGuard::upgrade(Self::borrowed(&lock, tracked)).await;
        let tracked = ManuallyDrop::new(write).tracked;
        AsyncRwLockWriteGuardArc::new(lock, tracked)
    }

    /// [`upgrade`](Self::upgrade), blocking the thread.
    pub fn upgrade_blocking(this: Self) -> AsyncRwLockWriteGuardArc<T> {
        let (lock, tracked) = Self::into_parts(this);
        let write =
            AsyncRwLockUpgradableReadGuard::upgrade_blocking(Self::borrowed(&lock, tracked));
        let tracked = ManuallyDrop::new(write).tracked;
        AsyncRwLockWriteGuardArc::new(lock, tracked)
    }

    /// [`AsyncRwLockUpgradableReadGuard::try_upgrade`] for the owned guard.
    ///
    /// # Errors
    ///
    /// Returns `Err(this)` while other readers hold the lock.
    pub fn try_upgrade(this: Self) -> Result<AsyncRwLockWriteGuardArc<T>, Self> {
        let (lock, tracked) = Self::into_parts(this);
        let result = AsyncRwLockUpgradableReadGuard::try_upgrade(Self::borrowed(&lock, tracked))
            .map(|write| ManuallyDrop::new(write).tracked)
            .map_err(|upgradable| ManuallyDrop::new(upgradable).tracked);
        match result {
            Ok(tracked) => Ok(AsyncRwLockWriteGuardArc::new(lock, tracked)),
            Err(tracked) => Err(Self::new(lock, tracked)),
        }
    }

    /// [`AsyncRwLockUpgradableReadGuard::downgrade`] for the owned guard.
    pub fn downgrade(this: Self) -> AsyncRwLockReadGuardArc<T> {
        let (lock, tracked) = Self::into_parts(this);
        let read = AsyncRwLockUpgradableReadGuard::downgrade(Self::borrowed(&lock, tracked));
        let tracked = ManuallyDrop::new(read).tracked;
        AsyncRwLockReadGuardArc::new(lock, tracked)
    }
}
