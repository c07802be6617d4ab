//! weft's work-stealing thread pool: fork-join ([`join`], [`scope`]), fire-and-forget
//! [`spawn`], with rayon's vocabulary, on workers that will also run weft's async
//! tasks.
//!
//! # The shape
//!
//! - Each worker thread owns a Chase–Lev deque of jobs (newest first for its owner,
//!   oldest first for thieves); jobs from outside enter through a global injector.
//! - [`join`]`(a, b)` pushes `b` (a job in the caller's stack frame), runs `a`, and
//!   pops `b` back: one push and one pop when nobody stole it. If `b` was stolen, the
//!   caller runs other jobs until `b` is done.
//! - Idle workers search a few rounds, then sleep on a futex; a new job wakes one of
//!   them. The protocol, and why it cannot lose a wake-up, is written down in the
//!   `sleep` module.
//! - A job is a `JobRef`, a data pointer plus an execute function; the scheduler does
//!   not know job kinds. The async runtime's tasks will be one more kind (`job` module).
//!
//! Outside any pool, the free functions use the *global pool*, built on first use
//! with one thread per core ([`std::thread::available_parallelism`], or the
//! `WEFT_NUM_THREADS` environment variable), or explicitly with
//! [`ThreadPoolBuilder::build_global`].
//!
//! # Panics
//!
//! A panic never aborts and never loses its payload: in `join` it is re-thrown to the
//! caller once both halves are done; in `scope` the first one is re-thrown after every
//! task finished; in `spawn` it goes to the pool's `panic_handler` (default: a line on
//! stderr), and the worker keeps running.
//!
//! # Nested pools and fork
//!
//! [`ThreadPool::install`] from a worker of another pool keeps that worker running its
//! own pool's jobs while it waits, so pools may call into each other freely. A forked
//! child rebuilds the global pool on first use; a non-global pool inherited across
//! `fork()` panics with a clear message when used.
//!
//! # Examples
//!
//! ```
//! fn sum(values: &[u64]) -> u64 {
//!     if values.len() <= 1024 {
//!         return values.iter().sum();
//!     }
//!     let (left, right) = values.split_at(values.len() / 2);
//!     let (a, b) = weft_pool::join(|| sum(left), || sum(right));
//!     a + b
//! }
//! let values: Vec<u64> = (1..=100_000).collect();
//! assert_eq!(sum(&values), 100_000 * 100_001 / 2);
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod builder;
pub mod iter;
mod job;
mod join;
mod lifo;
// `pub` items here are reachable only under loom (the models' `__loom` door below).
#[cfg_attr(not(loom), allow(unreachable_pub))]
mod latch;
mod monitor;
pub mod prelude;
mod primitive;
pub mod raw;
mod registry;
mod scope;
#[cfg_attr(not(loom), allow(unreachable_pub))]
mod sleep;
pub mod slice;
mod spawn;
mod thread_pool;
mod unwind;

pub use builder::{ErrorKind, ThreadPoolBuildError, ThreadPoolBuilder};
pub use join::{FnContext, join, join_context};
pub use scope::{Scope, ScopeFifo, scope, scope_fifo};
pub use spawn::{spawn, spawn_fifo};
pub use thread_pool::ThreadPool;

/// A worker the blocking monitor found stuck in one job (see
/// [`ThreadPoolBuilder::blocking_threshold`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BlockedWorker {
    /// The worker's index (spare workers come after the pool's own).
    pub index: usize,
    /// How long it had been in the job when the monitor acted.
    pub blocked_for: std::time::Duration,
    /// Where the job was spawned, if its kind records it (weft-rt's tasks do).
    pub location: Option<&'static std::panic::Location<'static>>,
}

impl std::fmt::Display for BlockedWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "worker {} has been running one job for {:.1} ms",
            self.index,
            self.blocked_for.as_secs_f64() * 1e3
        )?;
        if let Some(location) = self.location {
            write!(f, " (spawned at {location})")?;
        }
        f.write_str("; its queued work moved to a spare worker")
    }
}

/// What [`yield_now`] did.
#[derive(Debug, Copy, Clone, PartialEq, Eq)]
pub enum Yield {
    /// It ran a job.
    Executed,
    /// There was no job to run.
    Idle,
}

/// Runs one pending job of the current pool, if there is one. `None` outside any
/// pool.
///
/// # Examples
///
/// ```
/// assert_eq!(weft_pool::yield_now(), None); // not on a worker
/// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
/// let outcome = pool.install(weft_pool::yield_now);
/// assert!(outcome.is_some());
/// ```
pub fn yield_now() -> Option<Yield> {
    registry::WorkerThread::current().map(registry::WorkerThread::yield_now)
}

/// The index of the current worker thread in its pool, or `None` outside any pool.
///
/// # Examples
///
/// ```
/// assert_eq!(weft_pool::current_thread_index(), None);
/// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
/// assert!(pool.install(weft_pool::current_thread_index).unwrap() < 2);
/// ```
pub fn current_thread_index() -> Option<usize> {
    registry::WorkerThread::current().map(registry::WorkerThread::index)
}

/// The number of worker threads of the current pool (the global pool outside any
/// pool).
///
/// # Examples
///
/// ```
/// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
/// assert_eq!(pool.install(weft_pool::current_num_threads), 3);
/// assert!(weft_pool::current_num_threads() >= 1);
/// ```
pub fn current_num_threads() -> usize {
    match registry::WorkerThread::current() {
        Some(thread) => thread.registry().num_threads(),
        None => registry::global_registry().num_threads(),
    }
}

/// The loom models' view of the protocol types (not an API).
#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    pub use crate::latch::{CoreLatch, LockLatch};
    pub use crate::sleep::{IdleState, Sleep};

    /// The LIFO slot, with the raw job type.
    #[derive(Default)]
    pub struct LifoSlot(Option<crate::lifo::LifoSlot>);

    impl std::fmt::Debug for LifoSlot {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("LifoSlot").finish_non_exhaustive()
        }
    }

    impl LifoSlot {
        pub fn new() -> Self {
            LifoSlot(Some(crate::lifo::LifoSlot::new()))
        }
        fn slot(&self) -> &crate::lifo::LifoSlot {
            self.0.as_ref().expect("built with new")
        }
        pub fn put(&self, job: crate::raw::JobRef) -> Option<crate::raw::JobRef> {
            self.slot().put(job.0).map(crate::raw::JobRef)
        }
        pub fn take(&self) -> Option<crate::raw::JobRef> {
            self.slot().take().map(crate::raw::JobRef)
        }
    }
}
