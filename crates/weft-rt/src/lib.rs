//! weft's async runtime: tasks, `block_on`, `spawn`, timers and networking, scheduled
//! on the same workers as weft-pool's fork-join jobs.
//!
//! *Threading is for working in parallel, async is for waiting in parallel*: a weft
//! [`Runtime`] does both with one set of threads. An async task is one job kind of the
//! work-stealing pool, next to `join`'s halves and parallel iterators' pieces, so CPU
//! work called from a task ([`compute`], `weft_pool::join`, `par_iter`) runs on the
//! same workers, and one idle worker sleeps in the reactor (epoll and the timer wheel,
//! from weft-io) so I/O and timers need no thread of their own.
//!
//! # The pieces
//!
//! | item | what |
//! |---|---|
//! | [`Runtime`], [`Builder`], [`Handle`] | multi-thread (default), current-thread, thread-per-core |
//! | [`spawn`], [`JoinHandle`], [`JoinError`], [`AbortHandle`] | tasks: one allocation each, panics contained |
//! | [`spawn_local`], [`LocalSet`] | tasks that are not `Send`, on one thread |
//! | [`TaskGroup`], [`GroupError`], [`TaskFailure`] | structured concurrency: tasks joined and cancelled together ([`group`]) |
//! | [`deadline`] | a scope cancelled, with the groups inside it, when its deadline passes |
//! | [`Spawner`], [`TrySpawnError`] | admission control: at most `n` live tasks ([`admission`]) |
//! | [`MapConcurrentExt`] | `stream.map_concurrent(n, f)`: at most `n` in flight, in order or as completed |
//! | [`compute`] | a CPU-bound closure on the pool, as a future |
//! | [`spawn_blocking`] | a blocking call on an elastic pool of extra threads |
//! | [`yield_now`] | let other tasks run |
//! | [`time`] | `sleep`, `timeout`, `interval` |
//! | [`net`] | TCP, UDP and Unix sockets (`futures-io` traits) |
//! | [`sim`] | deterministic simulation: a seeded scheduler and a virtual clock |
//!
//! Free functions use the current runtime: the one whose task or `block_on` the
//! caller is in, or the one entered with [`Runtime::enter`]; anywhere else, a global
//! multi-thread runtime on weft-pool's global pool, built on first use.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! let rt = weft_rt::Runtime::new().unwrap();
//! let total = rt.block_on(async {
//!     let tasks: Vec<_> = (0..10u64)
//!         .map(|i| weft_rt::spawn(async move {
//!             weft_rt::time::sleep(Duration::from_millis(1)).await;
//!             i * i
//!         }))
//!         .collect();
//!     let mut total = 0;
//!     for task in tasks {
//!         total += task.await.unwrap();
//!     }
//!     total
//! });
//! assert_eq!(total, 285);
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod admission;
mod blocking;
mod context;
pub mod group;
mod park;
pub mod runtime;
#[cfg(not(loom))]
mod signal;
pub mod sim;
pub mod sync;
pub mod task;
pub mod time;

/// Networking: TCP, UDP and Unix-domain sockets on the reactor (`weft-io`), with the
/// `futures-io` traits.
pub mod net {
    pub use weft_io::net::*;
}

pub use admission::{MapConcurrentExt, Spawner, TrySpawnError};
pub use context::EnterGuard;
pub use group::{Deadline, GroupError, TaskFailure, TaskGroup, deadline};
pub use runtime::{
    BlockedHook, BlockedTask, Builder, DEFAULT_BLOCKING_THRESHOLD, Handle, LocalSet, RunUntil,
    Runtime, RuntimeFlavor, TryCurrentError,
};
pub use task::{AbortHandle, Id, JoinError, JoinHandle, try_current_id, yield_now};

#[cfg(loom)]
#[doc(hidden)]
pub use task::loom_door as __loom;

use std::future::Future;
use task::TaskMeta;

/// Spawns a task on the current runtime (or the global one) and returns its handle.
/// The task starts running without being awaited; dropping the handle detaches it.
///
/// # Examples
///
/// ```
/// let rt = weft_rt::Runtime::new().unwrap();
/// rt.block_on(async {
///     let handle = weft_rt::spawn(async { "done" });
///     assert_eq!(handle.await.unwrap(), "done");
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let meta = TaskMeta::here();
    context::with_current(move |handle| match handle {
        Some(handle) => handle.spawn_with_meta(future, meta),
        None => runtime::global().spawn_with_meta(future, meta),
    })
}

/// Spawns a task that is not `Send` on the current thread's local executor: the
/// [`LocalSet`] being driven, the core of a thread-per-core runtime, or a
/// [`sim::Runtime`].
///
/// # Panics
///
/// Outside those, with a message that says so.
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let Some(queue) = runtime::local::current_local() else {
        panic!(
            "weft-rt: spawn_local called outside a local executor; run it inside \
             LocalSet::run_until / LocalSet::block_on, or on a thread-per-core runtime"
        );
    };
    // SAFETY: `current_local` is set only on the thread that owns and runs the queue
    // (a LocalSet's thread, a core's thread), which drains it before it stops.
    unsafe { runtime::local::spawn_local_onto(&queue, future, TaskMeta::here()) }
}

/// Runs `future` to completion on the current thread, on the current runtime if the
/// thread entered one, else on the global runtime.
///
/// # Panics
///
/// As [`Runtime::block_on`]: not from a thread that runs a runtime's tasks.
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    let handle = context::with_current(|handle| handle.cloned())
        .unwrap_or_else(|| runtime::global().clone());
    handle.block_on(future)
}

/// Runs a blocking closure (file I/O, a C library, a long computation that must not
/// hold a worker) on the runtime's blocking pool: extra threads, started on demand up
/// to a cap (default 512) and stopped after 10 s idle. Like Python's
/// `asyncio.to_thread`.
///
/// # Examples
///
/// ```
/// let rt = weft_rt::Runtime::new().unwrap();
/// let contents = rt.block_on(async {
///     weft_rt::spawn_blocking(|| std::fs::read_to_string("Cargo.toml")).await.unwrap()
/// });
/// assert!(contents.unwrap().contains("weft-rt"));
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    context::with_current(move |handle| match handle {
        Some(handle) => handle.spawn_blocking(f),
        None => runtime::global().spawn_blocking(f),
    })
}

/// Runs a CPU-bound closure on the thread pool and returns a handle to await its
/// result. Inside it, `weft_pool::join`, `scope` and parallel iterators split the work
/// over the same workers. On a multi-thread runtime it runs on that runtime's workers;
/// elsewhere on the global runtime's (a current-thread or thread-per-core loop must
/// not be held by a long computation).
///
/// # Examples
///
/// ```
/// use weft_pool::prelude::*;
///
/// let rt = weft_rt::Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     weft_rt::compute(|| (1..=1_000_000u64).into_par_iter().sum::<u64>()).await.unwrap()
/// });
/// assert_eq!(sum, 500_000_500_000);
/// ```
#[track_caller]
pub fn compute<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let meta = TaskMeta::here();
    let future = async move { f() };
    context::with_current(move |handle| match handle {
        Some(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            handle.spawn_with_meta(future, meta)
        }
        _ => runtime::global().spawn_with_meta(future, meta),
    })
}
