//! The door through which an async runtime puts its tasks on this pool's workers.
//!
//! This module is for runtime authors (weft-rt is its one user today); application
//! code uses [`join`](crate::join), [`scope`](crate::scope) and [`spawn`](crate::spawn).
//! It offers three things:
//!
//! - [`JobRef`]: a type-erased job (a pointer and the function that runs it), the same
//!   currency the pool's own `join` and `spawn` jobs use. An async task's "poll me
//!   once" is one.
//! - [`PoolHandle::schedule`] with a [`Hint`]: where the job goes.
//!   - [`Hint::Lifo`]: on a worker of this pool, into that worker's *LIFO slot*: the
//!     next job it runs, ahead of everything queued, so a task woken by the task that
//!     just ran (a message sent, a lock released) runs while its data is still in
//!     cache. The job the slot held moves to the back of the worker's task queue. At
//!     most [`LIFO_STREAK`] slot jobs run in a row; then the slot's job waits its turn
//!     in the queue, so two tasks waking each other cannot starve the rest.
//!   - [`Hint::Fifo`]: at the back of the worker's task queue (a FIFO Chase–Lev
//!     deque, stolen from by idle workers). Newly spawned tasks go here.
//!   - [`Hint::Yield`]: as `Fifo`; a task that woke itself during its own poll
//!     (`yield_now`) uses it, and lands behind every task already queued. The
//!     worker's next search looks at the injector first, so tasks woken from
//!     outside the pool are not kept waiting by tasks that keep yielding.
//!
//!   From any thread that is not one of this pool's workers, all three push onto the
//!   pool's global injector and wake a sleeping worker.
//! - [`Driver`]: the event source (a reactor: epoll plus a timer wheel) that the pool
//!   drives. An idle worker about to sleep first tries to take the driver; if it gets
//!   it, it sleeps *in* the driver (in `epoll_wait`, bounded by the next timer) instead
//!   of on its futex, so I/O readiness and timers wake tasks without a dedicated
//!   thread. A job posted while the driver's holder is the only sleeper interrupts it
//!   through [`Driver::unpark`] (an eventfd write). A busy worker also polls the
//!   driver without blocking every [`DRIVER_POLL_INTERVAL`] jobs, so I/O is noticed
//!   even when no worker is ever idle. When the holder wakes with work to do and other
//!   workers sleep, it wakes one of them, which takes the driver over: I/O is not
//!   funnelled through one busy thread.
//!
//! # The worker's order of search
//!
//! 1. every [`DRIVER_POLL_INTERVAL`] jobs: the injector first (so outside work is not
//!    starved by local work), and a non-blocking driver poll;
//! 2. the LIFO slot (unless [`LIFO_STREAK`] slot jobs just ran in a row);
//! 3. its own fork-join deque (newest first: what `join` just pushed);
//! 4. its own task queue (oldest first);
//! 5. steal: one job from each other worker's fork-join deque, then task queue;
//! 6. a batch from the injector.
//!
//! The LIFO slot is not stealable: it holds one task, which runs next unless the
//! worker is stuck in a long job (the blocking monitor's business).

use crate::job::JobRef as InnerJobRef;
use crate::registry::Registry;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// Jobs a busy worker runs between two non-blocking polls of the driver (and two looks
/// at the injector ahead of its own queues). A prime, so it does not beat in step with
/// batch sizes.
pub const DRIVER_POLL_INTERVAL: u32 = 61;

/// The most LIFO-slot jobs a worker runs in a row before it takes one from its queue.
pub const LIFO_STREAK: u32 = 3;

/// A type-erased job: a pointer and the function that runs it.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use weft_pool::raw::{Hint, JobRef};
///
/// static RAN: AtomicUsize = AtomicUsize::new(0);
/// unsafe fn run(data: *const ()) {
///     // SAFETY (of the example): `data` is the `'static` counter passed below.
///     let counter = unsafe { &*data.cast::<AtomicUsize>() };
///     counter.fetch_add(1, Ordering::SeqCst);
/// }
/// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
/// // SAFETY: `RAN` lives forever and `run` does not unwind.
/// let job = unsafe { JobRef::from_raw_parts((&raw const RAN).cast(), run) };
/// pool.raw_handle().schedule(job, Hint::Fifo);
/// pool.install(|| while RAN.load(Ordering::SeqCst) == 0 { std::hint::spin_loop() });
/// ```
#[derive(Copy, Clone)]
pub struct JobRef(pub(crate) InnerJobRef);

impl JobRef {
    /// A job that, when run, calls `execute(data)`.
    ///
    /// # Safety
    ///
    /// `execute(data)` must be sound to call once, on any worker thread of the pool the
    /// job is scheduled on, for as long as the job is queued; it must not unwind (a
    /// panic escaping it aborts the process: catch it inside). A job that is never run
    /// (the pool was dropped first) is never called: keep that in mind for what `data`
    /// owns.
    #[inline]
    pub unsafe fn from_raw_parts(data: *const (), execute: unsafe fn(*const ())) -> JobRef {
        // SAFETY: forwarded to the caller.
        JobRef(unsafe { InnerJobRef::from_raw_parts(data, execute) })
    }
}

impl JobRef {
    /// The job's data pointer (its identity while it is queued).
    pub fn data(&self) -> *const () {
        self.0.id()
    }
}

impl fmt::Debug for JobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JobRef").field(&self.0.id()).finish()
    }
}

/// Where [`PoolHandle::schedule`] puts a job (module docs).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Hint {
    /// The worker's LIFO slot: run next.
    Lifo,
    /// The back of the worker's task queue.
    Fifo,
    /// The back of the worker's task queue, for a task that yielded.
    Yield,
}

/// The event source a pool's idle workers sleep in (module docs).
///
/// At most one thread holds the driver at a time: the pool calls
/// [`try_lock`](Driver::try_lock) and, if it returns `true`, then
/// [`park`](Driver::park) or [`poll`](Driver::poll), then [`unlock`](Driver::unlock),
/// all on the same thread.
pub trait Driver: fmt::Debug + Send + Sync + 'static {
    /// Takes the driver if no thread holds it.
    fn try_lock(&self) -> bool;
    /// Waits for events (I/O readiness, a timer, or [`unpark`](Driver::unpark)) and
    /// wakes the wakers they concern. Called with the driver held. May return early
    /// (spuriously): the caller re-checks for work.
    fn park(&self);
    /// Wakes the wakers of events already pending, without blocking. Called with the
    /// driver held.
    fn poll(&self);
    /// Releases the driver.
    fn unlock(&self);
    /// Makes a current or the next [`park`](Driver::park) return soon. Callable from
    /// any thread, at any time.
    fn unpark(&self);

    /// Wakes `waker` once the driver is next released. A pool worker that found the
    /// driver held by a thread *outside* its pool (another pool sharing the event
    /// source, a `block_on` thread) registers here before it sleeps, so that it takes
    /// the driver over when that thread stops driving. The default does nothing (for
    /// a driver only one pool uses).
    fn wake_when_free(&self, waker: &std::task::Waker) {
        let _ = waker;
    }
}

/// A report handler of the blocking monitor.
pub type BlockedHandler = dyn Fn(&crate::BlockedWorker) + Send + Sync;

/// A cheap, clonable reference to a pool for scheduling raw jobs. It keeps the pool's
/// memory alive, not its workers: jobs scheduled after the
/// [`ThreadPool`](crate::ThreadPool) was dropped and its workers exited are never run.
#[derive(Clone)]
pub struct PoolHandle {
    pub(crate) registry: Arc<Registry>,
}

impl fmt::Debug for PoolHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolHandle")
            .field("num_threads", &self.registry.num_threads())
            .finish_non_exhaustive()
    }
}

impl PoolHandle {
    /// Queues `job` (module docs for where `hint` puts it).
    #[inline]
    pub fn schedule(&self, job: JobRef, hint: Hint) {
        self.registry.schedule_raw(job.0, hint);
    }

    /// `true` if the current thread is one of this pool's workers.
    #[inline]
    pub fn is_current_worker(&self) -> bool {
        self.registry.owns_current_thread()
    }

    /// The number of worker threads.
    pub fn num_threads(&self) -> usize {
        self.registry.num_threads()
    }

    /// Attaches the pool's driver. A pool has at most one: if it has one, `driver` is
    /// given back.
    ///
    /// # Errors
    ///
    /// `Err(driver)` if a driver is attached already.
    pub fn set_driver(&self, driver: Arc<dyn Driver>) -> Result<(), Arc<dyn Driver>> {
        self.registry.sleep().set_driver(driver)
    }

    /// Stores the runtime's own data for this pool (once), for
    /// [`current_runtime_data`] to find from its workers. Keep it a weak reference if
    /// it refers back to the pool.
    ///
    /// # Errors
    ///
    /// `Err(data)` if data was stored already.
    pub fn set_runtime_data(
        &self,
        data: Arc<dyn Any + Send + Sync>,
    ) -> Result<(), Arc<dyn Any + Send + Sync>> {
        self.registry.runtime_data.set(data)
    }

    /// The data [`set_runtime_data`](Self::set_runtime_data) stored, if any.
    pub fn runtime_data(&self) -> Option<&Arc<dyn Any + Send + Sync>> {
        self.registry.runtime_data.get()
    }

    /// Turns the blocking monitor on for this pool (once; later calls do nothing), with
    /// `handler` for its reports if the pool has none (see
    /// [`ThreadPoolBuilder::blocking_threshold`](crate::ThreadPoolBuilder::blocking_threshold)).
    pub fn start_blocking_monitor(
        &self,
        threshold: std::time::Duration,
        handler: Option<Box<BlockedHandler>>,
    ) {
        if let Some(handler) = handler {
            let _ = self.registry.blocked_handler.set(handler);
        }
        crate::monitor::start(&self.registry, threshold);
    }

    /// `true` if both handles refer to the same pool.
    pub fn same_pool(&self, other: &PoolHandle) -> bool {
        Arc::ptr_eq(&self.registry, &other.registry)
    }
}

/// A handle to the global pool (built on first use; rebuilt in a forked child, where
/// an older handle refers to the parent's pool and must not be used).
pub fn global_handle() -> PoolHandle {
    PoolHandle {
        registry: Arc::clone(crate::registry::global_registry_for_work()),
    }
}

/// Records, for the blocking monitor's report, where the job the current worker runs
/// was spawned (a runtime calls it before polling a task). No effect off a worker.
#[inline]
pub fn annotate(location: &'static std::panic::Location<'static>) {
    if let Some(thread) = crate::registry::WorkerThread::current() {
        thread.annotate(location);
    }
}

/// The runtime data of the pool whose worker the current thread is, if it has any.
#[inline]
pub fn current_runtime_data() -> Option<Arc<dyn Any + Send + Sync>> {
    crate::registry::WorkerThread::current()
        .and_then(|thread| thread.registry().runtime_data.get().cloned())
}

/// A handle to the pool whose worker the current thread is, if any.
pub fn current_handle() -> Option<PoolHandle> {
    crate::registry::WorkerThread::current().map(|thread| PoolHandle {
        registry: Arc::clone(thread.registry()),
    })
}
