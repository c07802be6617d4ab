//! The runtime: [`Builder`], [`Runtime`] and [`Handle`], in three flavours.
//!
//! - **Multi-thread** (the default): tasks run on a `weft-pool` thread pool, the same
//!   workers that run `join`, `scope` and parallel iterators. A task is one job kind
//!   among the pool's: spawned tasks go to the back of the spawning worker's task
//!   queue, a task woken by the task running on the same worker goes into that
//!   worker's LIFO slot (it runs next, while the data it was woken about is in cache;
//!   at most three in a row), tasks woken from outside go to the pool's injector, and
//!   idle workers steal. One idle worker sleeps in the reactor (epoll plus timers)
//!   instead of on its futex; busy workers poll it every 61 jobs. See
//!   `weft_pool::raw` for the queues and the driver protocol.
//! - **Current-thread**: no worker threads; tasks run inside [`Runtime::block_on`] on
//!   the thread that calls it, which also drives the reactor.
//! - **Thread-per-core**: one thread per core (pinned to it), each running its own
//!   single-threaded loop. Tasks stay on the core they were spawned on, so they may
//!   be `!Send` ([`spawn_local`](crate::spawn_local), [`Runtime::spawn_on`]).
//!
//! CPU-bound work from async code: [`compute`](crate::compute) runs a closure on the
//! pool and returns a future for its result; `weft_pool::join` and parallel iterators
//! called inside a multi-thread runtime's task run on the runtime's own workers.
//! Blocking calls belong in [`spawn_blocking`](crate::spawn_blocking), an elastic
//! pool of extra threads.

mod driver;
pub(crate) mod local;
mod multi;
mod per_core;

pub use local::{LocalSet, RunUntil};

use crate::blocking::BlockingPool;
use crate::context;
use crate::task::{JoinHandle, TaskMeta};
use local::LocalQueue;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// The default cap on `spawn_blocking` threads (as tokio's).
const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;
/// How long an idle `spawn_blocking` thread waits for work before it exits.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Which scheduler a runtime uses (module docs).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuntimeFlavor {
    /// Tasks on a work-stealing pool of worker threads.
    MultiThread,
    /// Tasks on the thread that calls `block_on`.
    CurrentThread,
    /// One pinned single-threaded loop per core.
    ThreadPerCore,
    /// A deterministic simulation ([`sim::Runtime`](crate::sim::Runtime)).
    Sim,
}

type ThreadNameFn = dyn Fn(usize) -> String + Send + Sync;

/// Configures and builds a [`Runtime`].
///
/// # Examples
///
/// ```
/// let rt = weft_rt::Builder::new_multi_thread()
///     .worker_threads(2)
///     .thread_name("my-worker")
///     .enable_all()
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 6 * 7 }), 42);
/// ```
pub struct Builder {
    flavor: RuntimeFlavor,
    worker_threads: Option<usize>,
    thread_name: Arc<ThreadNameFn>,
    max_blocking_threads: usize,
    keep_alive: Duration,
    enable_io: bool,
    enable_time: bool,
    blocking_threshold: Option<Duration>,
    on_blocked: Option<Arc<BlockedHook>>,
}

/// A hook for the blocking monitor's reports (see [`Builder::blocking_threshold`]).
pub type BlockedHook = dyn Fn(&BlockedTask) + Send + Sync;

/// A task (or pool job) the blocking monitor found holding a worker too long.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BlockedTask {
    /// The worker it holds.
    pub worker: usize,
    /// How long it had been running in one poll when the monitor acted.
    pub blocked_for: Duration,
    /// Where the task was spawned (`None` for a pool job that is not a task).
    pub location: Option<&'static std::panic::Location<'static>>,
}

impl fmt::Display for BlockedTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(location) => write!(f, "a task spawned at {location}")?,
            None => f.write_str("a job")?,
        }
        write!(
            f,
            " has blocked worker {} for {:.1} ms in one poll; the tasks queued behind it \
             moved to a spare worker. Blocking calls belong in weft_rt::spawn_blocking, \
             long computations in weft_rt::compute",
            self.worker,
            self.blocked_for.as_secs_f64() * 1e3
        )
    }
}

/// The default blocking threshold (as the notes' and Go's monitors use).
pub const DEFAULT_BLOCKING_THRESHOLD: Duration = Duration::from_millis(10);

/// The default report: one line on stderr per spawn location (repeats are counted,
/// not printed).
fn default_blocked_hook() -> Arc<BlockedHook> {
    let seen: std::sync::Mutex<std::collections::HashMap<String, u64>> = Default::default();
    Arc::new(move |report: &BlockedTask| {
        let key = report
            .location
            .map_or_else(|| "(a pool job)".to_owned(), ToString::to_string);
        let mut seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = seen.entry(key).or_insert(0);
        *count += 1;
        if *count == 1 {
            eprintln!("weft-rt: {report}");
        }
    })
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("flavor", &self.flavor)
            .field("worker_threads", &self.worker_threads)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("keep_alive", &self.keep_alive)
            .field("enable_io", &self.enable_io)
            .field("enable_time", &self.enable_time)
            .finish_non_exhaustive()
    }
}

impl Builder {
    fn with_flavor(flavor: RuntimeFlavor, prefix: &'static str) -> Builder {
        Builder {
            flavor,
            worker_threads: None,
            thread_name: Arc::new(move |index| format!("{prefix}-{index}")),
            max_blocking_threads: DEFAULT_MAX_BLOCKING_THREADS,
            keep_alive: DEFAULT_KEEP_ALIVE,
            enable_io: true,
            enable_time: true,
            blocking_threshold: Some(DEFAULT_BLOCKING_THRESHOLD),
            on_blocked: None,
        }
    }

    /// A multi-thread runtime: tasks on a work-stealing pool (one worker per core by
    /// default).
    pub fn new_multi_thread() -> Builder {
        Builder::with_flavor(RuntimeFlavor::MultiThread, "weft-rt-worker")
    }

    /// A current-thread runtime: tasks run inside `block_on`, on its caller's thread.
    pub fn new_current_thread() -> Builder {
        Builder::with_flavor(RuntimeFlavor::CurrentThread, "weft-rt")
    }

    /// A thread-per-core runtime: one pinned single-threaded loop per core, running
    /// tasks that need not be `Send`.
    pub fn thread_per_core() -> Builder {
        Builder::with_flavor(RuntimeFlavor::ThreadPerCore, "weft-rt-core")
    }

    /// The number of worker threads (multi-thread) or cores used (thread-per-core);
    /// default: one per core (`std::thread::available_parallelism`). Ignored by the
    /// current-thread flavour.
    ///
    /// # Panics
    ///
    /// If `count` is 0.
    pub fn worker_threads(&mut self, count: usize) -> &mut Self {
        assert!(count > 0, "weft-rt: worker_threads must be at least 1");
        self.worker_threads = Some(count);
        self
    }

    /// Names worker threads `"{name}-{index}"`.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        let name: String = name.into();
        self.thread_name = Arc::new(move |index| format!("{name}-{index}"));
        self
    }

    /// Names worker threads with a function of their index.
    pub fn thread_name_fn<F>(&mut self, name: F) -> &mut Self
    where
        F: Fn(usize) -> String + Send + Sync + 'static,
    {
        self.thread_name = Arc::new(name);
        self
    }

    /// The most threads [`spawn_blocking`](crate::spawn_blocking) may start (default
    /// 512); further calls queue.
    ///
    /// # Panics
    ///
    /// If `count` is 0.
    pub fn max_blocking_threads(&mut self, count: usize) -> &mut Self {
        assert!(
            count > 0,
            "weft-rt: max_blocking_threads must be at least 1"
        );
        self.max_blocking_threads = count;
        self
    }

    /// How long an idle blocking thread waits for work before it exits (default 10 s).
    pub fn thread_keep_alive(&mut self, duration: Duration) -> &mut Self {
        self.keep_alive = duration;
        self
    }

    /// The blocking monitor's threshold (multi-thread flavour; default 10 ms): a task
    /// that holds a worker in one poll for longer is reported (with its spawn
    /// location) and the tasks queued behind it move to a spare worker, so timers,
    /// I/O and the other tasks keep going. `None` turns the monitor off.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = weft_rt::Builder::new_multi_thread()
    ///     .worker_threads(1)
    ///     .blocking_threshold(Some(Duration::from_millis(10)))
    ///     .on_blocked(|report| eprintln!("slow task: {report}"))
    ///     .build()
    ///     .unwrap();
    /// let answer = rt.block_on(async {
    ///     // Blocks its worker; the other task still runs, on a spare.
    ///     let stuck = weft_rt::spawn(async { std::thread::sleep(Duration::from_millis(100)) });
    ///     let quick = weft_rt::spawn(async { 42 });
    ///     let answer = quick.await.unwrap();
    ///     stuck.await.unwrap();
    ///     answer
    /// });
    /// assert_eq!(answer, 42);
    /// ```
    pub fn blocking_threshold(&mut self, threshold: Option<Duration>) -> &mut Self {
        self.blocking_threshold = threshold;
        self
    }

    /// Where the blocking monitor's reports go (default: one line on stderr per spawn
    /// location).
    pub fn on_blocked<F>(&mut self, hook: F) -> &mut Self
    where
        F: Fn(&BlockedTask) + Send + Sync + 'static,
    {
        self.on_blocked = Some(Arc::new(hook));
        self
    }

    /// Enables I/O and timers (both are on by default; kept for tokio's vocabulary).
    pub fn enable_all(&mut self) -> &mut Self {
        self.enable_io = true;
        self.enable_time = true;
        self
    }

    /// Enables the I/O driver (on by default: weft's reactor is process-wide, and the
    /// workers drive it when idle).
    pub fn enable_io(&mut self) -> &mut Self {
        self.enable_io = true;
        self
    }

    /// Enables timers (on by default; see [`enable_io`](Self::enable_io)).
    pub fn enable_time(&mut self) -> &mut Self {
        self.enable_time = true;
        self
    }

    /// Builds the runtime.
    ///
    /// # Errors
    ///
    /// The OS error if a thread could not be started.
    pub fn build(&mut self) -> io::Result<Runtime> {
        let threads = self.worker_threads.unwrap_or_else(default_threads);
        let blocking = {
            let name = Arc::clone(&self.thread_name);
            BlockingPool::new(
                self.max_blocking_threads,
                self.keep_alive,
                Arc::new(move || format!("{}-blocking", name(0))),
            )
        };
        match self.flavor {
            RuntimeFlavor::MultiThread => multi::build(
                threads,
                Arc::clone(&self.thread_name),
                blocking,
                self.blocking_threshold.map(|threshold| {
                    let hook = self.on_blocked.clone().unwrap_or_else(default_blocked_hook);
                    (threshold, hook)
                }),
            ),
            RuntimeFlavor::CurrentThread => Ok(Runtime {
                handle: Handle {
                    shared: Arc::new(Shared {
                        id: next_runtime_id(),
                        kind: Kind::CurrentThread(LocalQueue::new()),
                        blocking,
                        shutdown: AtomicBool::new(false),
                        graveyard: weft_sync::Mutex::new(Vec::new()),
                    }),
                },
                owned: Owned::None,
            }),
            RuntimeFlavor::ThreadPerCore => {
                per_core::build(threads, Arc::clone(&self.thread_name), blocking)
            }
            RuntimeFlavor::Sim => unreachable!("no Builder makes a simulation"),
        }
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// What a runtime's handles share.
pub(crate) struct Shared {
    /// Tags the tasks this runtime spawns, for `Handle::dump`.
    pub(crate) id: u64,
    pub(crate) kind: Kind,
    pub(crate) blocking: BlockingPool,
    pub(crate) shutdown: AtomicBool,
    /// Tasks woken after shutdown, cancelled later on a thread of our choosing.
    pub(crate) graveyard: weft_sync::Mutex<Vec<crate::task::Runnable>>,
}

/// A fresh runtime id (never 0).
pub(crate) fn next_runtime_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Shared {
    /// Cancels the tasks woken after shutdown (drops their futures here).
    pub(crate) fn bury_the_dead(&self) {
        let dead = std::mem::take(&mut *self.graveyard.lock());
        drop(dead);
    }
}

pub(crate) enum Kind {
    MultiThread(weft_pool::raw::PoolHandle),
    CurrentThread(Arc<LocalQueue>),
    ThreadPerCore(per_core::Cores),
    Sim(Arc<crate::sim::World>),
}

/// What only the [`Runtime`] (not its handles) owns.
enum Owned {
    None,
    Pool(weft_pool::ThreadPool),
    Cores(Vec<std::thread::JoinHandle<()>>),
}

/// An async runtime: a scheduler, with the process's reactor and timers, and a pool
/// for blocking calls.
///
/// Dropping a runtime stops it: new tasks are cancelled on arrival, tasks queued on a
/// current-thread or thread-per-core runtime are cancelled (their futures dropped),
/// and the worker threads exit once they finish what they are running. Tasks of a
/// multi-thread runtime that are idle at that moment (waiting for a waker) are
/// cancelled when next woken.
///
/// # Examples
///
/// ```
/// let rt = weft_rt::Runtime::new().unwrap();
/// let answer = rt.block_on(async {
///     let task = weft_rt::spawn(async { 40 + 2 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    handle: Handle,
    owned: Owned,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("flavor", &self.handle.runtime_flavor())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A multi-thread runtime with the default settings.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::new_multi_thread().build()
    }

    /// A handle to this runtime, which can spawn onto it from anywhere.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `future` to completion on the current thread and returns its output; the
    /// runtime is current meanwhile (free [`spawn`](crate::spawn) uses it).
    ///
    /// # Panics
    ///
    /// If called from a thread that runs a weft runtime's tasks (a worker, a
    /// thread-per-core core, or inside another `block_on` that drives a local
    /// executor): blocking there would stall every task queued behind the caller. The
    /// message names the fix. Re-throws a panic of `future`.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task onto this runtime (see [`spawn`](crate::spawn)).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on the runtime's blocking pool (see
    /// [`spawn_blocking`](crate::spawn_blocking)).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// Thread-per-core only: runs `make()` on core `core` (modulo the core count) and
    /// spawns the future it returns there; that future need not be `Send`. On other
    /// flavours, `make()` runs on the runtime's scheduler and its future is spawned
    /// with [`spawn_local`](crate::spawn_local) semantics on a local set of that
    /// thread, so the call behaves the same.
    #[track_caller]
    pub fn spawn_on<M, F>(&self, core: usize, make: M) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn_on(core, make)
    }

    /// Makes this runtime current on this thread until the guard is dropped.
    pub fn enter(&self) -> context::EnterGuard {
        self.handle.enter()
    }

    /// Stops the runtime, waiting up to `timeout` for blocking-pool threads to finish.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(timeout);
    }

    /// Stops the runtime without waiting for blocking-pool threads.
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }

    fn shutdown(&mut self, timeout: Duration) {
        let shared = &self.handle.shared;
        if shared.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        match &shared.kind {
            Kind::MultiThread(_) => {}
            Kind::CurrentThread(queue) => {
                queue.close();
                queue.drain();
            }
            Kind::ThreadPerCore(cores) => cores.close(),
            Kind::Sim(_) => {} // never inside a `Runtime`
        }
        match std::mem::replace(&mut self.owned, Owned::None) {
            Owned::None => {}
            Owned::Pool(pool) => drop(pool),
            Owned::Cores(threads) => {
                for thread in threads {
                    // A core thread catches its tasks' panics; an error here means the
                    // loop itself failed, which the thread already reported.
                    let _ = thread.join();
                }
            }
        }
        shared.blocking.shutdown(timeout);
        shared.bury_the_dead();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if context::in_runtime_thread() {
            // Dropping a runtime from one of its own threads cannot wait for them.
            self.shutdown(Duration::ZERO);
        } else {
            self.shutdown(Duration::from_secs(10));
        }
    }
}

/// A handle to a runtime: clonable, `Send`, usable from any thread to spawn tasks or
/// enter the runtime.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("flavor", &self.runtime_flavor())
            .finish_non_exhaustive()
    }
}

/// The error of [`Handle::try_current`]: the thread is not inside a runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "this thread is not inside a weft runtime (call it from a task, inside \
             Runtime::block_on, or after Runtime::enter)",
        )
    }
}

impl std::error::Error for TryCurrentError {}

impl Handle {
    /// The current runtime's handle.
    ///
    /// # Panics
    ///
    /// Outside every runtime, with the message of [`TryCurrentError`]. The free
    /// functions ([`spawn`](crate::spawn) and the others) do not panic there: they use
    /// the global runtime.
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(handle) => handle,
            Err(error) => panic!("weft-rt: Handle::current(): {error}"),
        }
    }

    /// The current runtime's handle, or an error outside every runtime.
    ///
    /// # Errors
    ///
    /// [`TryCurrentError`] outside a runtime.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::with_current(|handle| handle.cloned()).ok_or(TryCurrentError(()))
    }

    /// The runtime's flavour.
    pub fn runtime_flavor(&self) -> RuntimeFlavor {
        match self.shared.kind {
            Kind::MultiThread(_) => RuntimeFlavor::MultiThread,
            Kind::CurrentThread(_) => RuntimeFlavor::CurrentThread,
            Kind::ThreadPerCore(_) => RuntimeFlavor::ThreadPerCore,
            Kind::Sim(_) => RuntimeFlavor::Sim,
        }
    }

    /// Makes the runtime current on this thread until the guard is dropped.
    pub fn enter(&self) -> context::EnterGuard {
        context::enter(self.clone())
    }

    /// The number of threads that run tasks: the pool's workers, the cores, or 1 for
    /// the current-thread flavour.
    pub fn num_workers(&self) -> usize {
        match &self.shared.kind {
            Kind::MultiThread(pool) => pool.num_threads(),
            Kind::CurrentThread(_) | Kind::Sim(_) => 1,
            Kind::ThreadPerCore(cores) => cores.len(),
        }
    }

    /// Threads of the blocking pool now alive (running a call or idle).
    pub fn num_blocking_threads(&self) -> usize {
        self.shared.blocking.thread_count()
    }

    /// Blocking calls waiting for a thread of the blocking pool.
    pub fn blocking_queue_depth(&self) -> usize {
        self.shared.blocking.queued()
    }

    /// Spawns a task (see [`spawn`](crate::spawn)).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with_meta(future, TaskMeta::here())
    }

    pub(crate) fn spawn_with_meta<F>(&self, future: F, mut meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        meta.runtime = self.shared.id;
        match &self.shared.kind {
            Kind::MultiThread(_) => multi::spawn(&self.shared, future, meta),
            Kind::CurrentThread(queue) => local::spawn_onto(queue, future, meta),
            Kind::ThreadPerCore(cores) => local::spawn_onto(&cores.pick(), future, meta),
            Kind::Sim(world) => world.spawn(future, meta),
        }
    }

    /// Spawns a task with a name, which task dumps show.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_rt::Runtime::new().unwrap();
    /// let handle = rt.handle().spawn_named("poller", std::future::pending::<()>());
    /// let dump = rt.handle().dump();
    /// assert!(dump.tasks.iter().any(|task| task.name.as_deref() == Some("poller")));
    /// handle.abort();
    /// ```
    #[track_caller]
    pub fn spawn_named<F>(&self, name: &str, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut meta = TaskMeta::here();
        meta.name = Some(Arc::from(name));
        self.spawn_with_meta(future, meta)
    }

    /// Every live task of this runtime: id, name, spawn location, state, polls, time
    /// since the last poll, and what it waits on when that is a weft resource. Taken
    /// without stopping the runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = weft_rt::Runtime::new().unwrap();
    /// let sleeper = rt.spawn(weft_rt::time::sleep(Duration::from_secs(3600)));
    /// rt.block_on(weft_rt::time::sleep(Duration::from_millis(20)));
    /// let dump = rt.handle().dump();
    /// println!("{dump}");
    /// let task = dump.tasks.iter().find(|task| task.id == sleeper.id()).unwrap();
    /// assert_eq!(task.waiting_on, Some("timer"));
    /// sleeper.abort();
    /// ```
    #[cfg(not(loom))]
    pub fn dump(&self) -> crate::task::Dump {
        crate::task::dump_runtime(self.shared.id)
    }

    /// Prints [`dump`](Self::dump) to stderr each time the process receives
    /// `SIGUSR1` (`kill -USR1 <pid>`), from a thread of its own. Opt-in: installs a
    /// signal handler for `SIGUSR1`, replacing any other.
    ///
    /// # Errors
    ///
    /// The OS error if the handler or the thread could not be set up.
    #[cfg(not(loom))]
    pub fn dump_on_sigusr1(&self) -> io::Result<()> {
        crate::signal::dump_on_sigusr1(self.clone())
    }

    /// Runs a blocking closure on the blocking pool (see
    /// [`spawn_blocking`](crate::spawn_blocking)).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        if let Kind::Sim(world) = &self.shared.kind {
            return world.spawn_blocking(f);
        }
        let mut meta = TaskMeta::here();
        meta.runtime = self.shared.id;
        self.shared.blocking.spawn_with_meta(f, meta)
    }

    /// See [`Runtime::spawn_on`].
    #[track_caller]
    pub fn spawn_on<M, F>(&self, core: usize, make: M) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let meta = TaskMeta::here();
        match &self.shared.kind {
            Kind::ThreadPerCore(cores) => local::spawn_onto(&cores.get(core), launcher(make), meta),
            Kind::CurrentThread(queue) => local::spawn_onto(queue, launcher(make), meta),
            Kind::Sim(world) => world.spawn(launcher(make), meta),
            Kind::MultiThread(_) => {
                // No thread of this flavour keeps a local queue: run the future in a
                // local set of its own on a blocking-pool thread.
                let handle = self.clone();
                self.shared.blocking.spawn(move || {
                    let _enter = handle.enter();
                    let set = LocalSet::new();
                    local::block_on(&set.queue, set.run_until(make()))
                })
            }
        }
    }

    /// Runs `future` to completion on this thread (see [`Runtime::block_on`]).
    ///
    /// # Panics
    ///
    /// As [`Runtime::block_on`].
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        if context::in_runtime_thread() {
            panic!(
                "weft-rt: block_on called from a thread that runs a weft runtime's tasks; \
                 blocking here would stall every task behind it. Use `.await` in async \
                 code, or move the blocking part off the runtime: \
                 `weft_rt::spawn_blocking(move || handle.block_on(future))`"
            );
        }
        let _enter = self.enter();
        match &self.shared.kind {
            Kind::CurrentThread(queue) => local::block_on(queue, future),
            // A thread-per-core runtime's caller gets its own local set, so
            // `spawn_local` works in the future too.
            Kind::ThreadPerCore(_) => {
                let set = LocalSet::new();
                local::block_on(&set.queue, future)
            }
            // The workers drive the reactor (`park::block_on_parked`).
            Kind::MultiThread(_) => crate::park::block_on_parked(future),
            Kind::Sim(_) => panic!(
                "weft-rt: a simulation's Handle cannot block_on; run the future with \
                 sim::Runtime::block_on"
            ),
        }
    }
}

/// The `Send` task that, on a local queue's thread, spawns `make()` there as a local
/// task and passes its output (or panic) on.
async fn launcher<M, F>(make: M) -> F::Output
where
    M: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    let Some(queue) = local::current_local() else {
        unreachable!("a spawn_on launcher runs on a local queue");
    };
    // SAFETY: this launcher runs on `queue`'s owner thread (it was spawned onto that
    // queue), and the owner drains the queue before it stops.
    let task = unsafe { local::spawn_local_onto(&queue, make(), TaskMeta::here()) };
    match task.await {
        Ok(output) => output,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // The core shut down under the task: this one ends the same way.
        Err(_) => std::future::pending().await,
    }
}

/// The global runtime: a multi-thread runtime on weft-pool's global pool, built on
/// first use of a free function outside every runtime.
pub(crate) fn global() -> &'static Handle {
    static GLOBAL: OnceLock<Handle> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let blocking = BlockingPool::new(
            DEFAULT_MAX_BLOCKING_THREADS,
            DEFAULT_KEEP_ALIVE,
            Arc::new(|| "weft-rt-blocking".to_owned()),
        );
        multi::attach_global(
            blocking,
            (DEFAULT_BLOCKING_THRESHOLD, default_blocked_hook()),
        )
    })
}

/// Finds the runtime a pool worker belongs to (its pool's runtime data).
pub(crate) fn handle_of_current_worker() -> Option<Handle> {
    let data = weft_pool::raw::current_runtime_data()?;
    let shared = data.downcast_ref::<Weak<Shared>>()?.upgrade()?;
    Some(Handle { shared })
}
