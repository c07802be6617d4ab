//! weft: a multitasking runtime for Rust.
//!
//! *Threading is for working in parallel, async is for waiting in parallel.* weft aims
//! to do both in one scheduler, with the locks, lock-free structures and channels
//! underneath written from the futex up. This facade re-exports each room:
//!
//! | module | crate | status |
//! |---|---|---|
//! | [`sync`] | `weft-sync` | locks, parking, events, semaphores, deadlock detection |
//! | [`lockfree`] | `weft-lockfree` | epoch and hazard-pointer reclamation, lock-free stack and queues, work-stealing deque |
//! | [`channel`] | `weft-channel` | bounded, unbounded and rendezvous MPMC channels, `select!`, timers, oneshot, broadcast; blocking and async |
//! | [`pool`] | `weft-pool` | work-stealing thread pool: `join`, `scope`, `spawn`, `ThreadPoolBuilder`, parallel iterators and parallel sort |
//! | [`io`] | `weft-io` | the `Poller` (epoll, poll), the timer wheel, the reactor, `Async<T>` |
//! | [`rt`] | `weft-rt` | the async runtime on the pool's workers: tasks, `block_on`, `spawn`, `time`, `net`; `#[weft::main]`, `#[weft::test]` |
//! | [`process`] | `weft-process` | process pool: registered tasks in re-executed, crash-isolated workers; `submit`, `map`, `as_completed`, `wait`; `#[weft::process::task]` |
//!
//! # Examples
//!
//! ```
//! use weft::sync::Mutex;
//!
//! let counter = Mutex::new(0);
//! std::thread::scope(|s| {
//!     for _ in 0..4 {
//!         s.spawn(|| *counter.lock() += 1);
//!     }
//! });
//! assert_eq!(*counter.lock(), 4);
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

/// Locks, parking, notification events and deadlock detection (`weft-sync`).
pub mod sync {
    pub use weft_sync::*;
}

/// Lock-free data structures and the memory reclamation they stand on (`weft-lockfree`).
pub mod lockfree {
    pub use weft_lockfree::*;
}

/// CSP channels for threads and async tasks: `bounded`, `unbounded`, `select!`,
/// timers, `oneshot`, `broadcast` (`weft-channel`).
pub mod channel {
    pub use weft_channel::*;
}

/// The work-stealing thread pool: fork-join `join` and `scope`, `spawn`,
/// `ThreadPoolBuilder`, parallel iterators and parallel sort (`weft-pool`).
pub mod pool {
    pub use weft_pool::*;
}

/// I/O multiplexing: the `Poller` over epoll or poll(2), the hierarchical timer
/// wheel, the reactor and `Async<T>` (`weft-io`).
pub mod io {
    pub use weft_io::*;
}

/// The async runtime: `Runtime`, `spawn`, `block_on`, `JoinHandle`, `LocalSet`,
/// `compute`, `spawn_blocking`, `time`, `net` (`weft-rt`).
pub mod rt {
    pub use weft_rt::*;
}

/// The process pool: registered tasks run in worker processes re-executed from this
/// binary, crash-isolated, with the `concurrent.futures` vocabulary (`weft-process`).
///
/// **`main` must call [`process::init()`] first** (in a worker it never returns).
/// Tasks are declared with `#[weft::process::task]`:
///
/// ```no_run
/// #[weft::process::task]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn main() {
///     weft::process::init();
///     let pool = weft::process::ProcessPool::builder().workers(2).build().unwrap();
///     assert_eq!(pool.submit(square, 7).wait().unwrap(), 49);
/// }
/// ```
pub mod process {
    pub use weft_process::*;

    /// Declares a process task (the attribute, with `::weft::process` as its path):
    /// see `weft_process::task`.
    pub use weft_macros::task;
}

/// Runs `async fn main` on a weft runtime (multi-thread by default): see
/// `weft-macros`. Options: `flavor = "current_thread" | "thread_per_core"`,
/// `worker_threads = N`.
///
/// ```
/// #[weft::main]
/// async fn main() {
///     let answer = weft::rt::spawn(async { 42 }).await.unwrap();
///     assert_eq!(answer, 42);
/// }
/// ```
pub use weft_macros::main;

/// Runs an `async fn` test on a weft runtime (current-thread by default): see
/// `weft-macros`.
///
/// ```
/// #[weft::test]
/// async fn spawns() {
///     assert_eq!(weft::rt::spawn(async { 1 }).await.unwrap(), 1);
/// }
/// ```
pub use weft_macros::test;
