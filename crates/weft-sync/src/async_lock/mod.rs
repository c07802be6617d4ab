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
//! acquire, release) like the blocking locks; the guard remembers that it was so
//! acquired and reports the release. The hooks keep per-thread bookkeeping, so drop a
//! guard from a blocking acquire on the thread that took it. Async and `try_*`
//! acquisitions are not reported: a task's guard may be released on another worker
//! thread, and a thread-keyed graph would then see a lock that is never released.
//! Task-aware tracking (keyed by task, not thread) belongs to the runtime, which knows
//! the current task.

mod mutex;
mod raw;
mod rwlock;

pub use mutex::{AsyncMutex, AsyncMutexGuard, AsyncMutexGuardArc, MappedAsyncMutexGuard};
pub use rwlock::{
    AsyncRwLock, AsyncRwLockReadGuard, AsyncRwLockReadGuardArc, AsyncRwLockUpgradableReadGuard,
    AsyncRwLockUpgradableReadGuardArc, AsyncRwLockWriteGuard, AsyncRwLockWriteGuardArc,
};
