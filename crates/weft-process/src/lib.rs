//! weft's process pool: registered tasks run in worker processes re-executed from
//! the current binary, crash-isolated, with the vocabulary of Python's
//! `concurrent.futures` (`submit`, `map` with `chunksize`, `as_completed`, `wait`,
//! `shutdown`, a "pool broken" error, worker recycling).
//!
//! The notes' *ten kitchens, ten chefs*: processes for CPU-bound work that must not
//! share a heap, where a crash (a segfault in a C library, an abort, the OOM killer)
//! takes one worker down, not the program.
//!
//! # What `main` must do
//!
//! **Call [`init()`] first thing in `main`**, before threads, runtimes or argument
//! parsing:
//!
//! ```no_run
//! fn main() {
//!     weft_process::init(); // in a worker, this never returns
//!     // ... the program, which may build ProcessPools ...
//! }
//! ```
//!
//! Workers are the program itself: the pool starts `/proc/self/exe` again with a
//! marker argument, and `init()` sees the marker and runs the worker loop instead of
//! returning (it exits the process when the pool is done with it). Without `init()`
//! the worker would run your `main` again; [`Builder::build`] notices that (the
//! worker's own pool refuses to build, and the parent reports
//! [`ProcessError::PoolBroken`] after three silent starts), but your `main`'s side
//! effects before that are yours. Workers are never a bare `fork` of the parent (a
//! forked copy of a multi-threaded process can deadlock on any lock another thread
//! held): they are a fresh `exec`, with their own clean runtime.
//!
//! With `#[weft::main]`, the runtime is built before the body runs: prefer a plain
//! `fn main` that calls `init()` and then builds the runtime (a worker has no use for
//! one); `init()` as the body's first statement works too, with idle runtime threads
//! in every worker.
//!
//! For tests, a `#[test]` cannot re-execute into a worker: use an integration test
//! target with `harness = false` and a `main` that calls `init()` first (the
//! `libtest-mimic` crate gives such a target the usual test runner).
//!
//! # Tasks
//!
//! A task is a function `fn(Args..) -> Result<Out, E>` (or `-> Out`) whose arguments,
//! output and error are `serde` types; [`#[task]`](macro@task) registers it and
//! turns its name into a zero-sized handle implementing [`Task`], passed to
//! [`ProcessPool::submit`] and [`ProcessPool::map`], which check the argument and
//! result types at compile time:
//!
//! ```no_run
//! use weft_process::ProcessPool;
//!
//! /// Counts the primes below `n`, the slow way.
//! #[weft_process::task]
//! fn count_primes(n: u64) -> u64 {
//!     (2..n).filter(|&k| (2..k).take_while(|d| d * d <= k).all(|d| k % d != 0)).count() as u64
//! }
//!
//! #[weft_process::task]
//! fn parse(text: String, radix: u32) -> Result<u64, String> {
//!     u64::from_str_radix(&text, radix).map_err(|error| error.to_string())
//! }
//!
//! fn main() -> Result<(), weft_process::ProcessError> {
//!     weft_process::init();
//!     let pool = ProcessPool::builder().workers(4).build()?;
//!
//!     let future = pool.submit(count_primes, 100_000);
//!     println!("{} primes", future.wait().unwrap());
//!
//!     let parsed = pool.submit(parse, ("ff".to_string(), 16)).wait();
//!     assert_eq!(parsed.unwrap(), 255);
//!
//!     let counts: Vec<u64> = pool
//!         .map(count_primes, (0..1000).map(|k| k * 10))
//!         .chunksize(50)
//!         .map(|result| result.unwrap())
//!         .collect();
//!     assert_eq!(counts.len(), 1000);
//!     Ok(())
//! }
//! ```
//!
//! Through the facade the attribute is `#[weft::process::task]`; with `weft-process`
//! alone it is `#[weft_process::task]` (both know their own paths; `crate = ".."`
//! names another re-export). A task's name is its module path
//! and function name: define tasks at module level (two tasks of one name in
//! different function bodies are ambiguous, and the worker refuses both with
//! [`ProcessError::NotRegistered`]). Without the attribute, implement [`Task`] by hand
//! and register it with [`register!`], or pass [`Registration::of`] to [`init_with`].
//!
//! # Failures
//!
//! Every way a task can fail is a [`ProcessError`] variant, the task's own error
//! typed inside [`ProcessError::Task`]:
//!
//! | what happened | the task gets | the pool |
//! |---|---|---|
//! | the task returned `Err(e)` | `Task(e)` | carries on |
//! | it panicked | `Panicked { message }` | carries on (the worker catches it; under `panic = "abort"` it is a death) |
//! | the worker died (SIGKILL, OOM, `abort`, `process::exit`, segfault) | `WorkerDied { task, signal, exit_code }` | replaces the worker; other tasks are untouched |
//! | it ran past [`submit_with_timeout`](ProcessPool::submit_with_timeout)'s limit | `Timeout` | kills and replaces the worker |
//! | cancelled, or still queued at `shutdown(_, true)`/`terminate`/`kill` | `Cancelled` | — |
//! | name unknown to the worker | `NotRegistered` | carries on |
//! | arguments or results do not (de)serialize | `Serde` | carries on |
//! | arguments or results over [`Builder::max_frame_size`] | `FrameTooLarge` | carries on |
//! | the binary cannot be re-executed, workers die at start-up 3 times in a row, the initializer failed | `PoolBroken` | broken: every queued and later task gets it |
//! | submitted after `shutdown` | `Shutdown` | — |
//!
//! Nothing is lost (every submitted task gets exactly one result) and nothing runs
//! twice, unless [`Builder::retries`] asks for a job whose worker died to be run
//! again.
//!
//! # Lifetimes of processes
//!
//! Workers exit when the parent dies: each asks for `PR_SET_PDEATHSIG` (SIGKILL)
//! first thing, checks its parent is still the one that started it, and exits on EOF
//! of its socket. Every worker is reaped by the pool thread that started it, whether
//! it retired, crashed, timed out or was terminated: no zombies.
//!
//! # Costs
//!
//! `examples/roundtrip.rs` measures them on your machine: the round trip of a trivial
//! task (a few microseconds: three wake-ups, the worker's, a pool thread's and the
//! caller's), many submits in flight, a large payload, and `map` over a million small
//! inputs. For small tasks use `map` with a `chunksize` in the hundreds or thousands:
//! a chunk costs one round trip whatever its size.
//!
//! # IPC
//!
//! One Unix socket pair per worker (the worker's end is its stdin at `exec`, moved
//! to a private descriptor at start-up), length-prefixed frames, postcard payloads.
//! A `map` chunk is one frame each way whatever its size, items laid back to back
//! without an allocation per item; results are decoded on the caller's thread.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![forbid(unsafe_code)]
// The crate docs are about what goes into `main`, so their examples spell it out.
#![allow(clippy::needless_doctest_main)]

mod error;
mod future;
mod map;
mod pool;
mod protocol;
mod registry;
mod slot;
mod worker;

pub use error::{NoError, Payload, ProcessError};
pub use future::{AsCompleted, Done, ReturnWhen, TaskFuture, as_completed, wait, wait_timeout};
pub use map::{Map, MapUnordered};
pub use pool::{Builder, DEFAULT_MAX_FRAME_SIZE, ProcessPool};
pub use registry::{Registration, Task, TaskResult};

/// Declares a task: `#[weft_process::task] fn name(args..) -> Result<Out, E>`.
///
/// Replaces the function by a zero-sized value of the same name that implements
/// [`Task`] (pass it to [`ProcessPool::submit`]); the body stays callable in this
/// process as `name::run(args..)`. Several parameters become a tuple of arguments:
/// `fn add(a: u64, b: u64)` is submitted as `pool.submit(add, (1, 2))`. A return type
/// that is not spelled `Result<Out, E>` is an infallible output (error type
/// [`NoError`]).
///
/// Options: `crate = "path"`, the path to this crate's API (default `::weft_process`
/// here, `::weft::process` through the facade's `#[weft::process::task]`);
/// `name = "..."`, the registered name, instead of the module path and function name.
pub use weft_macros::task_in_weft_process as task;

/// Runs the worker loop if this process was started as a pool's worker; returns at
/// once otherwise. **Call it first thing in `main`** (see the
/// [crate docs](crate#what-main-must-do)).
///
/// In a worker it never returns: it serves the pool until the pool closes the
/// connection or dies, then exits the process.
pub fn init() {
    init_with(&[]);
}

/// [`init()`] with extra tasks beyond the ones `#[task]` and [`register!`]
/// registered: hand-written [`Task`]s made known with [`Registration::of`].
pub fn init_with(tasks: &[Registration]) {
    let mut args = std::env::args_os();
    let _program = args.next();
    if args.next().is_none_or(|arg| arg != protocol::WORKER_MARKER) {
        return;
    }
    let parent = args
        .next()
        .and_then(|arg| arg.to_str()?.parse::<u32>().ok());
    let limit = args
        .next()
        .and_then(|arg| arg.to_str()?.parse::<usize>().ok());
    match (parent, limit) {
        (Some(parent), Some(limit)) => worker::run(parent, limit, tasks),
        _ => {
            eprintln!("weft-process worker: malformed worker arguments");
            std::process::exit(worker::EXIT_BAD_START);
        }
    }
}

/// Whether this process is a pool's worker (true inside a task).
pub fn is_worker() -> bool {
    worker::is_worker()
}

/// Registers a hand-written [`Task`] so workers can find it by its name:
/// `weft_process::register!(MyTask);` at module level.
#[macro_export]
macro_rules! register {
    ($task:ty) => {
        $crate::__private::inventory::submit! {
            $crate::Registration::of::<$task>()
        }
    };
}

/// What `#[task]` and `register!` expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
}
