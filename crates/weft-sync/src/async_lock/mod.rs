//! Async locks on [`Event`](crate::Event): [`AsyncMutex`] and [`AsyncRwLock`], each with
//! blocking variants for threads.
//!
//! # Async lock or blocking lock?
//!
//! Hold a lock across an `.await` only with an async lock: a task that awaits while
//! holding a blocking lock can stall every other task of its worker that wants the
//! same lock. If the critical section contains no `.await`, a blocking lock is cheaper
//! and is fine even inside async code, since it is held for only a moment.
//!
//! # Cancel safety
//!
//! The acquire futures are `async fn`s whose every partial step is owned by a local
//! with a `Drop` that undoes it: dropping a pending `lock()`/`write()`/... future
//! leaves the lock as it found it, and a notification its listener had received is
//! passed on by the listener's drop, so the next waiter still wakes.
//!
//! # Deadlock detection
//!
//! The `*_blocking` methods call the [`deadlock`](crate::deadlock) hooks (wait,
//! acquire, release) like the blocking locks, as the acquiring thread's holds (drop
//! such a guard on the thread that took it, or pay a slower release). The async and
//! `try_*` methods record against the *task* being polled, when an executor has
//! entered a `deadlock::TaskScope` (weft-rt does, with its `deadlock-detection`
//! feature): the wait while the acquire future is pending, and the hold until the
//! guard drops, on whichever thread. Outside a scope they are not recorded. Every
//! guard remembers where its hold was recorded (zero-sized state without the
//! feature, beyond the one flag the blocking methods always kept).

mod mutex;
mod raw;
mod rwlock;

pub use mutex::{AsyncMutex, AsyncMutexGuard, AsyncMutexGuardArc, MappedAsyncMutexGuard};
pub use rwlock::{
    AsyncRwLock, AsyncRwLockReadGuard, AsyncRwLockReadGuardArc, AsyncRwLockUpgradableReadGuard,
    AsyncRwLockUpgradableReadGuardArc, AsyncRwLockWriteGuard, AsyncRwLockWriteGuardArc,
};
