//! weft's synchronization primitives, built from the futex up.
//!
//! The notes (sections 1.2 and 1.3) list the ways threads coordinate over shared
//! memory: mutual exclusion, spinning versus blocking, reader-writer locks, reentrant
//! locks, condition variables, semaphores and barriers. This crate implements each on
//! one small parking layer of its own: futex-style wait/wake on a 32-bit word (Linux
//! `futex(2)`; an emulated fallback elsewhere and under loom), and a one-token
//! [`Parker`] per waiting thread. No global parking table: each lock sleeps on its own
//! word, so an uncontended lock is one compare-and-swap and a contended unlock makes a
//! system call only when a waiter is really asleep.
//!
//! # Which lock?
//!
//! | type | waits by | pick it when |
//! |---|---|---|
//! | [`Mutex`] | spinning briefly, then sleeping | the default for shared mutable state |
//! | [`BargingMutex`] | same, never handing off | short sections in a structure that bounds its own waits, where throughput under oversubscription matters more than fairness |
//! | [`RwLock`] | same | reads far outnumber writes and read sections are long enough to amortize the extra bookkeeping |
//! | [`ReentrantMutex`] | same | a thread must re-enter code that already holds the lock (gives `&T` only) |
//! | [`SpinLock`] | spinning only | tiny sections, never more threads than cores |
//! | [`AsyncMutex`], [`AsyncRwLock`] | yielding the task (or sleeping, from a thread) | the guard must be held across an `.await` |
//! | atomics | not at all | the shared state is one word (a counter, a flag) |
//!
//! # Waiting for something other than a lock
//!
//! | type | for |
//! |---|---|
//! | [`Condvar`] | a thread waiting for a predicate over state a [`Mutex`] guards |
//! | [`Event`] | threads *and* async tasks waiting for any condition you check yourself (listen, check, wait); what weft's channels and async locks are built on |
//! | [`Semaphore`] | at most N holders of a resource, blocking or `async`, with a typed `Closed` error |
//! | [`Barrier`] | N threads or tasks meeting at a point, one of them elected leader |
//!
//! There is no `Once`/`OnceLock` here: `std::sync::OnceLock` (and `LazyLock`) are
//! already futex-based, cannot deadlock silently in ways a weft version could report,
//! and would add nothing but a second name for the same thing.
//!
//! # Deadlock detection
//!
//! With the `deadlock-detection` feature, every lock records the order in which a
//! thread takes locks (a cycle in that order is reported the first time it appears,
//! before it ever deadlocks) and who waits for whom (a cycle there is a deadlock,
//! found by `deadlock::check`). Async locks and semaphores do the same for the task
//! being polled, when the executor marks it (weft-rt does, with its own
//! `deadlock-detection` feature), so cycles among tasks are found too. Off by default,
//! and then free: the hooks compile to nothing.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use weft_sync::{Condvar, Mutex};
//!
//! // A one-slot mailbox: the classic mutex + condition variable hand-off.
//! let pair = Arc::new((Mutex::new(None), Condvar::new()));
//! let producer = {
//!     let pair = Arc::clone(&pair);
//!     std::thread::spawn(move || {
//!         let (slot, ready) = &*pair;
//!         *slot.lock() = Some(42);
//!         ready.notify_one();
//!     })
//! };
//! let (slot, ready) = &*pair;
//! let mut guard = slot.lock();
//! ready.wait_while(&mut guard, |value| value.is_none());
//! assert_eq!(*guard, Some(42));
//! drop(guard);
//! producer.join().unwrap();
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
// Under loom the spin budgets are zero (a model explores interleavings, not spins), so
// comparisons against them are constant there; they are not constant in real builds.
#![cfg_attr(
    loom,
    allow(clippy::absurd_extreme_comparisons, clippy::reversed_empty_ranges)
)]

mod backoff;
mod cache_padded;
pub mod coop;
pub mod deadlock;
pub(crate) mod futex;
mod parker;
#[doc(hidden)]
pub mod primitive;
mod spin;

pub use backoff::Backoff;
pub use cache_padded::CachePadded;
pub use parker::Parker;
pub use spin::{SpinLock, SpinLockGuard};

// Each room of the crate adds its modules and re-exports inside its own block.

// ---- [mutex] Mutex, Condvar, ReentrantMutex ----
mod condvar;
mod mutex;
mod reentrant;
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{BargingMutex, BargingMutexGuard, MappedMutexGuard, Mutex, MutexGuard};
pub use reentrant::{ReentrantMutex, ReentrantMutexGuard};

// ---- end [mutex] ----

// ---- [rwlock] RwLock ----
mod rwlock;
pub use rwlock::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLock, RwLockReadGuard,
    RwLockUpgradableReadGuard, RwLockWriteGuard,
};
// ---- end [rwlock] ----

// ---- [event] Event, Semaphore, Barrier, AsyncMutex, AsyncRwLock ----

mod event;
pub use event::{Event, EventListener};

mod semaphore;
pub use semaphore::{
    Acquire, AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};

mod barrier;
pub use barrier::{Barrier, BarrierWaitResult};

mod async_lock;
pub use async_lock::{
    AsyncMutex, AsyncMutexGuard, AsyncMutexGuardArc, AsyncRwLock, AsyncRwLockReadGuard,
    AsyncRwLockReadGuardArc, AsyncRwLockUpgradableReadGuard, AsyncRwLockUpgradableReadGuardArc,
    AsyncRwLockWriteGuard, AsyncRwLockWriteGuardArc, MappedAsyncMutexGuard,
};

// ---- end [event] ----
