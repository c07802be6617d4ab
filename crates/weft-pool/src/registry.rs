//! The registry: one pool's workers, their deques, the injector, the sleep state and
//! the handlers; the worker loop; the global pool; and how work enters a pool from a
//! thread that is not one of its workers.
//!
//! # The worker loop
//!
//! Each worker owns a LIFO Chase–Lev [`Worker`] deque (`weft_lockfree::deque`); every
//! other worker holds its [`Stealer`]. Jobs from outside arrive on the pool's
//! [`Injector`]. A worker looking for work tries, in order: its own deque (newest
//! first: the hottest in cache, and what `join` just pushed), one steal from each other
//! worker starting at a random one (oldest first: the biggest pieces of work), then a
//! batch from the injector. Stealing before the injector finishes work already under
//! way before starting new outside work. When nothing is found it runs the idle rounds
//! of the sleep protocol (`sleep.rs`).
//!
//! The same loop, [`WorkerThread::wait_until`], serves a worker waiting for a latch
//! (`join`'s stolen half, a `scope`'s tasks, an `install` into another pool): it runs
//! other jobs until the latch is set ("work while waiting"), so no worker sleeps while
//! there is work it could do.
//!
//! # Entering a pool
//!
//! - From one of its workers: run the operation right there.
//! - From a thread outside every pool: inject a [`StackJob`] holding the operation and
//!   block the thread on a [`LockLatch`] (a futex parker) until a worker ran it.
//! - From a worker of *another* pool (nested pools): inject the job into the target
//!   pool with a cross-pool [`SpinLatch`], and keep running the *home* pool's jobs
//!   while waiting; the target's worker wakes the waiter through the home pool's sleep
//!   state. The waiting worker never blocks its own pool, so
//!   `a.install(|| b.install(|| a.install(..)))` cannot deadlock on a blocked thread.
//!
//! # Fork safety
//!
//! A registry records the process id that built it. After `fork(2)` the child has
//! only the forking thread: the global pool's workers are gone. The global registry is
//! looked up with a pid check on every path that sends it work, and a child (pid
//! differs) builds a fresh global pool on first use; the parent's copy is leaked (its
//! memory is the child's copy, and its threads never existed there). A non-global
//! [`ThreadPool`](crate::ThreadPool) inherited across `fork` cannot be rebuilt (its
//! configuration belongs to the parent); sending it work from the child panics with a
//! message that says so, rather than hanging. Forking from *inside* a worker is not
//! supported: the child's only thread would be a worker of a pool without workers.

use crate::builder::{ErrorKind, ThreadPoolBuildError, ThreadPoolBuilder};
use crate::job::{JobFifo, JobRef, StackJob};
use crate::latch::{AsCoreLatch, CoreLatch, LockLatch, SpinLatch};
use crate::lifo::LifoSlot;
use crate::primitive::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use crate::raw::{DRIVER_POLL_INTERVAL, Hint, LIFO_STREAK};
use crate::sleep::Sleep;
use crate::unwind;
use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::ptr;
use std::sync::Arc;
use weft_lockfree::deque::{Injector, Steal, Stealer, Worker};
use weft_sync::CachePadded;

pub(crate) type PanicHandler = dyn Fn(Box<dyn Any + Send>) + Send + Sync;
pub(crate) type StartHandler = dyn Fn(usize) + Send + Sync;
pub(crate) type ExitHandler = dyn Fn(usize) + Send + Sync;
pub(crate) use crate::raw::BlockedHandler;
/// A worker slot's two deques: fork-join jobs, async tasks.
pub(crate) type Deques = (Worker<JobRef>, Worker<JobRef>);

/// How the pool starts its threads (kept for the spares started later).
pub(crate) struct ThreadSpawner {
    /// Each slot's thread name, computed at build (the builder's naming function
    /// need not be `Send`).
    names: Vec<Option<String>>,
    stack_size: Option<usize>,
}

impl ThreadSpawner {
    pub(crate) fn spawn(
        &self,
        index: usize,
        body: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let mut thread = std::thread::Builder::new();
        if let Some(Some(name)) = self.names.get(index) {
            thread = thread.name(name.clone());
        }
        if let Some(stack_size) = self.stack_size {
            thread = thread.stack_size(stack_size);
        }
        thread.spawn(body)
    }
}

/// A worker's activity, for the blocking monitor (`monitor.rs`).
pub(crate) struct Activity {
    /// Odd while the worker runs a job, even while it is idle (searching or asleep);
    /// bumped at each change, so "odd and unchanged" means "still in the same job".
    pub(crate) counter: AtomicU64,
    /// Where the running job came from, if its kind said (`raw::annotate`).
    pub(crate) location: AtomicPtr<std::panic::Location<'static>>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            counter: AtomicU64::new(0),
            location: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The owner's step: one more transition (a plain load and a store: one writer).
    #[inline]
    fn bump(&self) {
        let value = self.counter.load(Ordering::Relaxed);
        self.counter.store(value.wrapping_add(1), Ordering::Relaxed);
    }

    #[inline]
    fn in_job(&self) -> bool {
        self.counter.load(Ordering::Relaxed) & 1 == 1
    }
}

/// One pool.
pub(crate) struct Registry {
    /// The workers, then the spare slots of the blocking monitor.
    thread_infos: Box<[ThreadInfo]>,
    /// How many of `thread_infos` are the pool's own workers.
    base_threads: usize,
    /// The deques of the spare slots whose thread is not running, by spare number.
    pub(crate) spare_workers: std::sync::Mutex<Vec<Option<Deques>>>,
    pub(crate) monitor_started: AtomicBool,
    pub(crate) thread_builder: ThreadSpawner,
    pub(crate) blocked_handler: std::sync::OnceLock<Box<BlockedHandler>>,
    sleep: Arc<Sleep>,
    injected_jobs: Injector<JobRef>,
    panic_handler: Option<Box<PanicHandler>>,
    start_handler: Option<Box<StartHandler>>,
    exit_handler: Option<Box<ExitHandler>>,
    /// What the runtime that drives this pool keeps here (`raw.rs`).
    pub(crate) runtime_data: std::sync::OnceLock<Arc<dyn Any + Send + Sync>>,
    /// One for the `ThreadPool` handles (dropped together), plus one per `'static`
    /// spawned job not yet finished. At zero the workers are told to exit.
    terminate_count: AtomicUsize,
    /// The process that built this registry (fork safety, module docs).
    pid: u32,
    /// Workers that have not started yet; the last one to start sets `primed`.
    unstarted: AtomicUsize,
    /// Set once every worker ran its start handler; the builder waits on it.
    primed: LockLatch,
}

struct ThreadInfo {
    /// The job this worker runs next (`raw.rs`), takeable by the blocking monitor.
    lifo: LifoSlot,
    /// What the blocking monitor reads (`monitor.rs`): written only by the owner.
    activity: CachePadded<Activity>,
    /// `false` for a spare worker's slot while no thread runs it (thieves skip it).
    active: AtomicBool,
    stealer: Stealer<JobRef>,
    /// The thief's end of this worker's async task queue (`raw.rs`).
    task_stealer: Stealer<JobRef>,
    /// This worker's `spawn_fifo` queue (behind trampolines on its deque).
    fifo: JobFifo,
    /// Set when the pool terminates; the worker's main loop waits on it.
    terminate: CoreLatch,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("num_threads", &self.num_threads())
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Builds the registry and starts its workers.
    pub(crate) fn new(
        mut builder: ThreadPoolBuilder,
    ) -> Result<Arc<Registry>, ThreadPoolBuildError> {
        let num_threads = builder.resolved_num_threads();
        // Spare slots for the blocking monitor (`monitor.rs`): started on demand.
        let spares = builder.resolved_max_spares(num_threads);
        let workers: Vec<(Worker<JobRef>, Worker<JobRef>)> = (0..num_threads + spares)
            .map(|_| (Worker::new_lifo(), Worker::new_fifo()))
            .collect();
        let registry = Arc::new(Registry {
            thread_infos: workers
                .iter()
                .enumerate()
                .map(|(index, (worker, tasks))| ThreadInfo {
                    lifo: LifoSlot::new(),
                    activity: CachePadded::new(Activity::new()),
                    active: AtomicBool::new(index < num_threads),
                    stealer: worker.stealer(),
                    task_stealer: tasks.stealer(),
                    fifo: JobFifo::new(),
                    terminate: CoreLatch::new(),
                })
                .collect(),
            base_threads: num_threads,
            spare_workers: std::sync::Mutex::new(Vec::new()),
            monitor_started: AtomicBool::new(false),
            thread_builder: ThreadSpawner {
                names: (0..num_threads + spares)
                    .map(|index| builder.thread_name_for(index))
                    .collect(),
                stack_size: builder.get_stack_size(),
            },
            blocked_handler: {
                let handler = std::sync::OnceLock::new();
                if let Some(h) = builder.take_blocked_handler() {
                    let _ = handler.set(h);
                }
                handler
            },
            sleep: {
                let sleep = Arc::new(Sleep::new(num_threads + spares));
                sleep.set_self(Arc::downgrade(&sleep));
                if let Some(driver) = builder.take_driver() {
                    // A new `Sleep` has no driver yet.
                    let _ = sleep.set_driver(driver);
                }
                sleep
            },
            injected_jobs: Injector::new(),
            panic_handler: builder.take_panic_handler(),
            start_handler: builder.take_start_handler(),
            exit_handler: builder.take_exit_handler(),
            runtime_data: std::sync::OnceLock::new(),
            terminate_count: AtomicUsize::new(1),
            pid: current_pid(),
            unstarted: AtomicUsize::new(num_threads),
            primed: LockLatch::new(),
        });
        let mut workers = workers.into_iter();
        for (index, worker) in workers.by_ref().take(num_threads).enumerate() {
            let worker_registry = Arc::clone(&registry);
            let spawned = registry.thread_builder.spawn(index, move || {
                main_loop(worker, worker_registry, index);
            });
            if let Err(error) = spawned {
                // The workers already started exit once the count reaches zero.
                registry.terminate();
                return Err(ThreadPoolBuildError::new(ErrorKind::IOError(error)));
            }
        }
        // The spares' deques wait for their threads (`monitor.rs`).
        *registry
            .spare_workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = workers.map(Some).collect();
        registry.primed.wait();
        if let Some(threshold) = builder.get_blocking_threshold() {
            crate::monitor::start(&registry, threshold);
        }
        Ok(registry)
    }

    /// The registry of the current worker, or the global one.
    pub(crate) fn current() -> Arc<Registry> {
        match WorkerThread::current() {
            Some(thread) => Arc::clone(thread.registry()),
            None => Arc::clone(global_registry_for_work()),
        }
    }

    /// The number of workers (spares not counted).
    pub(crate) fn num_threads(&self) -> usize {
        self.base_threads
    }

    pub(crate) fn sleep(&self) -> &Sleep {
        &self.sleep
    }

    /// `true` if `thread` is one of this registry's workers.
    #[inline]
    fn owns(&self, thread: &WorkerThread) -> bool {
        ptr::eq(&**thread.registry(), self)
    }

    /// Fork safety (module docs): refuse to send work to a pool whose workers are in
    /// the parent process.
    #[cold]
    fn check_pid(&self) {
        assert_eq!(
            self.pid,
            current_pid(),
            "weft-pool: this thread pool was built by the parent process before fork(); \
             its worker threads do not exist in the child (the global pool is rebuilt \
             in a child, other pools must be built again)"
        );
    }

    /// Pushes a job on the injector and wakes a sleeper.
    pub(crate) fn inject(&self, job: JobRef) {
        self.injected_jobs.push(job);
        self.sleep.new_injected_jobs();
    }

    /// Schedules a job: on the current worker's deque if it is ours, else injected.
    pub(crate) fn inject_or_push(&self, job: JobRef) {
        let current = WorkerThread::current();
        match current {
            Some(thread) if self.owns(thread) => thread.push(job),
            _ => {
                if current.is_none() {
                    self.check_pid();
                }
                self.inject(job);
            }
        }
    }

    /// `true` if the current thread is one of this registry's workers.
    #[inline]
    pub(crate) fn owns_current_thread(&self) -> bool {
        WorkerThread::current().is_some_and(|thread| self.owns(thread))
    }

    /// Schedules a runtime's job (`raw.rs`).
    #[inline]
    pub(crate) fn schedule_raw(&self, job: JobRef, hint: Hint) {
        let current = WorkerThread::current();
        match current {
            Some(thread) if self.owns(thread) => match hint {
                Hint::Lifo => thread.push_lifo_slot(job),
                Hint::Fifo => thread.push_task(job),
                Hint::Yield => {
                    // A task that yields lets outside work in first, not only every
                    // `DRIVER_POLL_INTERVAL` jobs: yielding tasks alone would keep the
                    // local queue busy and the injector waiting.
                    thread.yielded.set(true);
                    thread.push_task(job);
                }
            },
            _ => {
                if current.is_none() {
                    self.check_pid();
                }
                self.inject(job);
            }
        }
    }

    /// Schedules a `spawn_fifo` job: behind the current worker's FIFO if it is ours,
    /// else on the injector (which is FIFO already).
    pub(crate) fn inject_or_push_fifo(&self, job: JobRef) {
        match WorkerThread::current() {
            Some(thread) if self.owns(thread) => {
                let fifo = &self.thread_infos[thread.index].fifo;
                // SAFETY: the registry (which owns the FIFO) outlives its jobs: the
                // workers, which run them, hold it.
                let trampoline = unsafe { fifo.push(job) };
                thread.push(trampoline);
            }
            _ => self.inject_or_push(job),
        }
    }

    fn has_injected_job(&self) -> bool {
        !self.injected_jobs.is_empty()
    }

    /// Runs `op` on a worker of this pool, from any thread.
    pub(crate) fn in_worker<OP, R>(self: &Arc<Self>, op: OP) -> R
    where
        OP: FnOnce(&WorkerThread, bool) -> R + Send,
        R: Send,
    {
        match WorkerThread::current() {
            None => {
                self.check_pid();
                self.in_worker_cold(op)
            }
            Some(thread) if !self.owns(thread) => self.in_worker_cross(thread, op),
            Some(thread) => op(thread, false),
        }
    }

    /// From outside every pool: inject and block on a futex latch. The caller has
    /// made the fork check (`check_pid`, or `global_registry_for_work`), once.
    #[cold]
    fn in_worker_cold<OP, R>(self: &Arc<Self>, op: OP) -> R
    where
        OP: FnOnce(&WorkerThread, bool) -> R + Send,
        R: Send,
    {
        let job = StackJob::new(
            |injected| {
                let thread =
                    WorkerThread::current().expect("an injected job runs on a worker thread");
                op(thread, injected)
            },
            LockLatch::new(),
        );
        // SAFETY: `job` stays in this frame until its latch is set (we wait below).
        self.inject(unsafe { job.as_job_ref() });
        job.latch.wait();
        job.into_result()
    }

    /// From a worker of another pool: inject here, and keep running the home pool's
    /// jobs until ours ran.
    #[cold]
    fn in_worker_cross<OP, R>(self: &Arc<Self>, current: &WorkerThread, op: OP) -> R
    where
        OP: FnOnce(&WorkerThread, bool) -> R + Send,
        R: Send,
    {
        let job = StackJob::new(
            |injected| {
                let thread =
                    WorkerThread::current().expect("an injected job runs on a worker thread");
                op(thread, injected)
            },
            SpinLatch::cross(current),
        );
        // SAFETY: `job` stays in this frame until its latch is set (we wait below).
        self.inject(unsafe { job.as_job_ref() });
        current.wait_until(&job.latch);
        job.into_result()
    }

    /// One more `'static` job to finish before the workers may exit.
    pub(crate) fn increment_terminate_count(&self) {
        // Relaxed: the caller holds a count already (a pool handle or a running job).
        let previous = self.terminate_count.fetch_add(1, Ordering::Relaxed);
        debug_assert!(previous > 0, "a job was spawned into a terminated pool");
    }

    /// Drops one count; at zero, tells every worker to exit once it is idle.
    pub(crate) fn terminate(&self) {
        // AcqRel: the last decrement sees all the work of the other count holders.
        if self.terminate_count.fetch_sub(1, Ordering::AcqRel) == 1 {
            for (index, info) in self.thread_infos.iter().enumerate() {
                // SAFETY: the latch lives in the registry, which we hold.
                if unsafe { CoreLatch::set(&info.terminate) } {
                    self.sleep.wake_specific_thread(index);
                }
            }
        }
    }

    /// Runs a `'static` job's body, sending a panic to the panic handler.
    pub(crate) fn catch_unwind(&self, func: impl FnOnce()) {
        if let Err(payload) = unwind::halt_unwinding(func) {
            self.handle_panic(payload);
        }
    }

    /// The pool's panic policy: the handler if one was given, else a line on stderr.
    /// The worker stays alive either way.
    #[cold]
    fn handle_panic(&self, payload: Box<dyn Any + Send>) {
        match &self.panic_handler {
            Some(handler) => {
                if let Err(second) = unwind::halt_unwinding(|| handler(payload)) {
                    eprintln!(
                        "weft-pool: the panic handler itself panicked: {}",
                        unwind::payload_message(&*second)
                    );
                }
            }
            None => eprintln!(
                "weft-pool: a spawned job panicked: {} (no panic_handler set; the worker keeps running)",
                unwind::payload_message(&*payload)
            ),
        }
    }

    /// Runs a handler, reporting its panic like a spawned job's.
    fn run_handler(&self, handler: &Option<Box<StartHandler>>, index: usize) {
        if let Some(handler) = handler {
            self.catch_unwind(|| handler(index));
        }
    }

    #[doc(hidden)]
    pub(crate) fn wakeups(&self) -> usize {
        self.sleep.wakeups()
    }
}

/// A worker's own state, in its thread's `main_loop` frame; reached through a
/// thread-local pointer.
pub(crate) struct WorkerThread {
    worker: Worker<JobRef>,
    /// Async tasks, oldest first (`raw.rs`).
    tasks: Worker<JobRef>,
    /// LIFO-slot jobs run in a row.
    lifo_streak: Cell<u32>,
    /// Jobs found since the last periodic look at the injector and the driver.
    tick: Cell<u32>,
    /// A task yielded since the last search: look at the injector first.
    yielded: Cell<bool>,
    index: usize,
    rng: XorShift64Star,
    registry: Arc<Registry>,
}

impl fmt::Debug for WorkerThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerThread")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

std::thread_local! {
    /// The current thread's `WorkerThread`, or null outside every pool.
    static WORKER_THREAD: Cell<*const WorkerThread> = const { Cell::new(ptr::null()) };
}

impl WorkerThread {
    /// The current thread's worker state, if it is a worker.
    #[inline]
    pub(crate) fn current() -> Option<&'static WorkerThread> {
        let pointer = WORKER_THREAD.with(Cell::get);
        // SAFETY: the pointer is set by `main_loop` to its own frame's `WorkerThread`
        // and cleared before that frame ends; code on this thread runs inside it. The
        // `'static` never escapes this thread (`WorkerThread` is not `Sync`).
        unsafe { pointer.as_ref() }
    }

    #[inline]
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    #[inline]
    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Pushes a job on this worker's deque, waking a sleeper if it should.
    #[inline]
    pub(crate) fn push(&self, job: JobRef) {
        self.worker.push(job);
        // "Was empty before the push" is "holds at most our job now" (a stealer may
        // have taken some meanwhile: then it was busy anyway).
        self.registry
            .sleep
            .new_internal_jobs(|| self.worker.len() <= 1);
    }

    #[inline]
    fn info(&self) -> &ThreadInfo {
        // SAFETY-free: `index` is this worker's slot, in bounds by construction.
        &self.registry.thread_infos[self.index]
    }

    /// Puts a task in the LIFO slot; the one it held goes to the back of the queue.
    #[inline]
    pub(crate) fn push_lifo_slot(&self, job: JobRef) {
        if let Some(previous) = self.info().lifo.put(job) {
            self.push_task(previous);
        }
    }

    /// Records where the running job came from, for the blocking monitor's report.
    #[inline]
    pub(crate) fn annotate(&self, location: &'static std::panic::Location<'static>) {
        self.info()
            .activity
            .location
            .store(ptr::from_ref(location).cast_mut(), Ordering::Relaxed);
    }

    /// Pushes a task at the back of this worker's task queue, waking a sleeper if it
    /// should.
    #[inline]
    pub(crate) fn push_task(&self, job: JobRef) {
        self.tasks.push(job);
        self.registry
            .sleep
            .new_internal_jobs(|| self.tasks.len() <= 1);
    }

    /// Pops the newest job of this worker's deque.
    #[inline]
    pub(crate) fn take_local_job(&self) -> Option<JobRef> {
        self.worker.pop()
    }

    /// Runs a job.
    ///
    /// # Safety
    ///
    /// Invariant 1 of `job.rs`: the job was taken from a queue, so it runs once.
    #[inline]
    pub(crate) unsafe fn execute(&self, job: JobRef) {
        let activity = &self.info().activity;
        activity.bump();
        // SAFETY: forwarded.
        unsafe { job.execute() }
        activity.location.store(ptr::null_mut(), Ordering::Relaxed);
        activity.bump();
    }

    /// Finds a job, in the order `raw.rs` documents.
    #[inline]
    fn find_work(&self) -> Option<JobRef> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick.is_multiple_of(DRIVER_POLL_INTERVAL)
            && let Some(job) = self.periodic_check()
        {
            return Some(job);
        }
        if self.yielded.replace(false)
            && self.registry.has_injected_job()
            && let Some(job) = self.pop_injected_job()
        {
            return Some(job);
        }
        if let Some(job) = self.info().lifo.take() {
            let streak = self.lifo_streak.get();
            if streak < LIFO_STREAK {
                self.lifo_streak.set(streak + 1);
                return Some(job);
            }
            // Its turn is over: to the back of the queue, behind the waiting tasks.
            self.tasks.push(job);
        }
        self.lifo_streak.set(0);
        self.take_local_job()
            .or_else(|| self.tasks.pop())
            .or_else(|| self.steal())
            .or_else(|| self.pop_injected_job())
    }

    /// Every `DRIVER_POLL_INTERVAL` jobs: poll the driver without blocking (if no one
    /// holds it), then take injected work ahead of local work.
    #[cold]
    fn periodic_check(&self) -> Option<JobRef> {
        if let Some(driver) = self.registry.sleep.driver()
            && driver.try_lock()
        {
            driver.poll();
            driver.unlock();
        }
        if self.registry.has_injected_job() {
            self.pop_injected_job()
        } else {
            None
        }
    }

    fn steal(&self) -> Option<JobRef> {
        let infos = &self.registry.thread_infos;
        let count = infos.len();
        if count <= 1 {
            return None;
        }
        loop {
            let mut retry = false;
            let start = self.rng.next_usize(count);
            for victim in (start..count).chain(0..start) {
                if victim == self.index {
                    continue;
                }
                let info = &infos[victim];
                // A spare slot without a thread holds nothing (its last thread handed
                // its jobs on before it left).
                if !info.active.load(Ordering::Relaxed) {
                    continue;
                }
                match info.stealer.steal() {
                    Steal::Success(job) => {
                        self.registry
                            .sleep
                            .more_work_left(|| !info.stealer.is_empty());
                        return Some(job);
                    }
                    Steal::Empty => {}
                    Steal::Retry => retry = true,
                }
                match info.task_stealer.steal_batch_and_pop(&self.tasks) {
                    Steal::Success(job) => {
                        self.registry.sleep.more_work_left(|| {
                            !info.task_stealer.is_empty() || !self.tasks.is_empty()
                        });
                        return Some(job);
                    }
                    Steal::Empty => {}
                    Steal::Retry => retry = true,
                }
            }
            if !retry {
                return None;
            }
        }
    }

    fn pop_injected_job(&self) -> Option<JobRef> {
        loop {
            match self
                .registry
                .injected_jobs
                .steal_batch_and_pop(&self.worker)
            {
                Steal::Success(job) => {
                    self.registry.sleep.more_work_left(|| {
                        !self.worker.is_empty() || self.registry.has_injected_job()
                    });
                    return Some(job);
                }
                Steal::Empty => return None,
                Steal::Retry => crate::primitive::thread::spin_loop(),
            }
        }
    }

    /// `true` if any queue of the pool holds a job (the sleep protocol's re-check).
    fn has_work(&self) -> bool {
        self.registry.has_injected_job()
            || !self.worker.is_empty()
            || !self.tasks.is_empty()
            || self.has_lifo_job()
            || self
                .registry
                .thread_infos
                .iter()
                .any(|info| !info.stealer.is_empty() || !info.task_stealer.is_empty())
    }

    fn has_lifo_job(&self) -> bool {
        self.info().lifo.is_full()
    }

    /// Runs other jobs until `latch` is set, sleeping when there are none.
    #[inline]
    pub(crate) fn wait_until<L: AsCoreLatch + ?Sized>(&self, latch: &L) {
        let latch = latch.as_core_latch();
        if !latch.probe() {
            self.wait_until_cold(latch);
        }
    }

    #[cold]
    fn wait_until_cold(&self, latch: &CoreLatch) {
        // Waiting inside a job (a `join` whose other half was stolen) is not being
        // stuck in it: idle for the monitor while we search or sleep.
        let activity = &self.info().activity;
        let in_job = activity.in_job();
        if in_job {
            activity.bump();
        }
        let _back_in_job = BackInJob(in_job.then_some(activity));
        let sleep = &self.registry.sleep;
        let mut idle = sleep.start_looking(self.index);
        while !latch.probe() {
            if let Some(job) = self.find_work() {
                sleep.work_found();
                // SAFETY: taken from a queue, so it runs once.
                unsafe { self.execute(job) };
                idle = sleep.start_looking(self.index);
            } else {
                sleep.no_work_found(&mut idle, latch, || self.has_work());
            }
        }
        sleep.work_found();
    }

    /// Runs one job if there is one (`yield_now`).
    pub(crate) fn yield_now(&self) -> crate::Yield {
        match self.find_work() {
            Some(job) => {
                // SAFETY: taken from a queue, so it runs once.
                unsafe { self.execute(job) };
                crate::Yield::Executed
            }
            None => crate::Yield::Idle,
        }
    }
}

/// Marks the worker as running its job again when `wait_until_cold` returns.
struct BackInJob<'a>(Option<&'a Activity>);

impl Drop for BackInJob<'_> {
    fn drop(&mut self) {
        if let Some(activity) = self.0 {
            activity.bump();
        }
    }
}

/// Clears the thread-local pointer when `main_loop`'s frame ends, even by unwinding.
struct ClearCurrent;

impl Drop for ClearCurrent {
    fn drop(&mut self) {
        WORKER_THREAD.with(|current| current.set(ptr::null()));
    }
}

impl WorkerThread {
    /// The state of worker `index`, made in its thread's outermost frame.
    fn new((worker, tasks): Deques, registry: Arc<Registry>, index: usize) -> WorkerThread {
        WorkerThread {
            worker,
            tasks,
            lifo_streak: Cell::new(0),
            tick: Cell::new(0),
            yielded: Cell::new(false),
            index,
            rng: XorShift64Star::new(index),
            registry,
        }
    }
}

fn main_loop(deques: Deques, registry: Arc<Registry>, index: usize) {
    let thread = WorkerThread::new(deques, registry, index);
    WORKER_THREAD.with(|current| current.set(&thread));
    let _clear = ClearCurrent;
    let registry = &*thread.registry;
    registry.run_handler(&registry.start_handler, index);
    // AcqRel: the last starter's set publishes every start handler's effects.
    if registry.unstarted.fetch_sub(1, Ordering::AcqRel) == 1 {
        // SAFETY: the latch lives in the registry, which this thread holds.
        unsafe { LockLatch::set_and_wake(&registry.primed) };
    }
    thread.wait_until(&registry.thread_infos[index].terminate);
    // Termination comes only when no `'static` job is left; scopes and joins are
    // waited for by their callers, who keep the pool alive. So the deque is empty.
    debug_assert!(thread.worker.is_empty());
    // Tasks still queued when the pool ends are not run (`raw::JobRef`'s contract);
    // their runtime shuts them down before it drops the pool.
    registry.run_handler(&registry.exit_handler, index);
}

/// A spare worker's thread (`monitor.rs`): a worker until its retire latch is set,
/// then it hands whatever it still holds to the injector and gives its slot back.
fn spare_main_loop(deques: Deques, registry: Arc<Registry>, index: usize) {
    let thread = WorkerThread::new(deques, registry, index);
    WORKER_THREAD.with(|current| current.set(&thread));
    let clear = ClearCurrent;
    let registry = Arc::clone(&thread.registry);
    let info = &registry.thread_infos[index];
    thread.wait_until(&info.terminate);
    // At the top level no `join` of ours is pending, so what is left is heap jobs
    // and tasks: give them to the pool.
    while let Some(job) = info
        .lifo
        .take()
        .or_else(|| thread.worker.pop())
        .or_else(|| thread.tasks.pop())
    {
        registry.injected_jobs.push(job);
    }
    // Wake a sleeper even when nothing is left: this spare may have been the one
    // sleeping in the driver, and the others, asleep on their futexes because it held
    // it, must take the driver over (else timers and I/O would wait for the next job).
    registry.sleep.new_injected_jobs();
    drop(clear);
    let WorkerThread { worker, tasks, .. } = thread;
    info.active.store(false, Ordering::Release);
    let mut spares = registry
        .spare_workers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    spares[index - registry.base_threads] = Some((worker, tasks));
}

/// What the monitor remembers of one slot between ticks.
#[derive(Clone, Copy, Default)]
pub(crate) struct Seen {
    value: u64,
    since: Option<std::time::Instant>,
    handled: bool,
}

impl Registry {
    /// `true` once the pool was told to end (no handle and no `'static` job left).
    pub(crate) fn is_terminating(&self) -> bool {
        self.terminate_count.load(Ordering::Acquire) == 0
    }

    pub(crate) fn slot_count(&self) -> usize {
        self.thread_infos.len()
    }

    /// One look at every slot (`monitor.rs`): hand off the workers stuck in a job for
    /// `threshold`, retire spares no longer needed.
    pub(crate) fn monitor_tick(
        self: &Arc<Self>,
        seen: &mut [Seen],
        threshold: std::time::Duration,
        now: std::time::Instant,
    ) {
        let mut blocked = 0;
        for (index, info) in self.thread_infos.iter().enumerate() {
            let slot = &mut seen[index];
            if !info.active.load(Ordering::Acquire) {
                *slot = Seen::default();
                continue;
            }
            let value = info.activity.counter.load(Ordering::Relaxed);
            let same_job = value & 1 == 1 && value == slot.value && slot.since.is_some();
            if !same_job {
                *slot = Seen {
                    value,
                    since: Some(now),
                    handled: false,
                };
                continue;
            }
            let since = slot.since.unwrap_or(now);
            let stuck_for = now.saturating_duration_since(since);
            if stuck_for >= threshold {
                blocked += 1;
                if !slot.handled {
                    slot.handled = true;
                    self.hand_off(index, stuck_for);
                }
            }
        }
        // Shrink back: one spare per stuck worker is enough.
        let running: Vec<usize> = (self.base_threads..self.thread_infos.len())
            .filter(|&index| self.thread_infos[index].active.load(Ordering::Acquire))
            .collect();
        if running.len() > blocked
            && let Some(&index) = running.last()
        {
            // SAFETY: the latch lives in the registry, which we hold.
            if unsafe { CoreLatch::set(&self.thread_infos[index].terminate) } {
                self.sleep.wake_specific_thread(index);
            }
        }
    }

    /// Worker `index` is stuck in one job: report it, move its LIFO slot to the
    /// injector, and start a spare worker to run (and steal) what it leaves behind.
    #[cold]
    fn hand_off(self: &Arc<Self>, index: usize, stuck_for: std::time::Duration) {
        let info = &self.thread_infos[index];
        let location = info.activity.location.load(Ordering::Relaxed);
        // SAFETY: a stored location is a `&'static Location` (`annotate`).
        let location = unsafe { location.cast_const().as_ref() };
        let report = crate::BlockedWorker {
            index,
            blocked_for: stuck_for,
            location,
        };
        match self.blocked_handler.get() {
            Some(handler) => self.catch_unwind(|| handler(&report)),
            None => eprintln!("weft-pool: {report}"),
        }
        if let Some(job) = info.lifo.take() {
            self.injected_jobs.push(job);
        }
        self.start_spare();
        self.sleep.new_injected_jobs();
    }

    /// Starts a thread on a free spare slot, if one is free and the pool lives on.
    fn start_spare(self: &Arc<Self>) {
        if self.is_terminating() {
            return;
        }
        let mut spares = self
            .spare_workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(number) = spares.iter().position(Option::is_some) else {
            return; // all spares run already: the documented cap
        };
        let deques = spares[number].take().expect("position found it");
        drop(spares);
        let index = self.base_threads + number;
        let info = &self.thread_infos[index];
        info.terminate.reset();
        info.active.store(true, Ordering::Release);
        let registry = Arc::clone(self);
        let spawned = self.thread_builder.spawn(index, move || {
            spare_main_loop(deques, registry, index);
        });
        if let Err(error) = spawned {
            // The deques went down with the closure; the slot stays unusable.
            info.active.store(false, Ordering::Release);
            eprintln!("weft-pool: could not start a spare worker thread: {error}");
        }
    }
}

/// A small per-worker random generator for picking steal victims (Marsaglia's
/// xorshift with Vigna's `*` output multiplier).
struct XorShift64Star {
    state: Cell<u64>,
}

impl XorShift64Star {
    fn new(seed: usize) -> Self {
        // Any non-zero start works; spread the workers apart.
        let state = (seed as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        XorShift64Star {
            state: Cell::new(state),
        }
    }

    fn next_usize(&self, bound: usize) -> usize {
        let mut x = self.state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % bound
    }
}

// The global pool. `std` atomics and lock on purpose: a `static` needs `const`
// constructors, and nothing about it is part of the loom models (primitive.rs).
static GLOBAL_REGISTRY: std::sync::atomic::AtomicPtr<Arc<Registry>> =
    std::sync::atomic::AtomicPtr::new(ptr::null_mut());
static GLOBAL_INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// This process's id, without a system call each time: glibc no longer caches
/// `getpid`, and the fork check runs on every job sent from outside a pool. The cache
/// is refreshed in a forked child by a `pthread_atfork` handler (`getpid` is
/// async-signal-safe), registered when the cache is first filled.
pub(crate) fn current_pid() -> u32 {
    static PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    static REGISTER: std::sync::Once = std::sync::Once::new();
    extern "C" fn refresh_in_child() {
        PID.store(std::process::id(), std::sync::atomic::Ordering::Relaxed);
    }
    let pid = PID.load(std::sync::atomic::Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    REGISTER.call_once(|| {
        // SAFETY: registers a child handler that only calls getpid(2) and an atomic
        // store, both async-signal-safe, as a handler run after fork must be.
        unsafe { libc::pthread_atfork(None, None, Some(refresh_in_child)) };
        PID.store(std::process::id(), std::sync::atomic::Ordering::Relaxed);
    });
    PID.load(std::sync::atomic::Ordering::Relaxed)
}

/// The global registry, built on first use with the default builder (and rebuilt in a
/// forked child).
pub(crate) fn global_registry() -> &'static Arc<Registry> {
    let pointer = GLOBAL_REGISTRY.load(std::sync::atomic::Ordering::Acquire);
    // SAFETY: a stored pointer comes from `Box::leak` and is never freed.
    if let Some(registry) = unsafe { pointer.as_ref() } {
        return registry;
    }
    init_global_registry(ThreadPoolBuilder::new(), false).unwrap_or_else(|_| {
        // Lost a race with another initializer, or with `build_global`.
        let pointer = GLOBAL_REGISTRY.load(std::sync::atomic::Ordering::Acquire);
        // SAFETY: as above; `init_global_registry` failed only because one exists.
        unsafe { pointer.as_ref() }.expect("the global thread pool could not be built")
    })
}

/// The global registry for sending it work: as [`global_registry`], plus the fork
/// check (module docs).
pub(crate) fn global_registry_for_work() -> &'static Arc<Registry> {
    let registry = global_registry();
    if registry.pid == current_pid() {
        return registry;
    }
    rebuild_global_registry_after_fork()
}

#[cold]
fn rebuild_global_registry_after_fork() -> &'static Arc<Registry> {
    let _guard = GLOBAL_INIT.lock().unwrap_or_else(|e| e.into_inner());
    let pointer = GLOBAL_REGISTRY.load(std::sync::atomic::Ordering::Acquire);
    // SAFETY: stored pointers are leaked boxes, never freed.
    if let Some(registry) = unsafe { pointer.as_ref() }
        && registry.pid == current_pid()
    {
        return registry;
    }
    // The parent's registry is leaked (module docs).
    let registry = Registry::new(ThreadPoolBuilder::new())
        .expect("weft-pool: could not rebuild the global thread pool after fork()");
    let leaked: &'static Arc<Registry> = Box::leak(Box::new(registry));
    GLOBAL_REGISTRY.store(
        ptr::from_ref(leaked).cast_mut(),
        std::sync::atomic::Ordering::Release,
    );
    leaked
}

/// Builds the global registry from `builder`; fails if one exists (or, for
/// `explicit`, with the builder's own error).
pub(crate) fn init_global_registry(
    builder: ThreadPoolBuilder,
    explicit: bool,
) -> Result<&'static Arc<Registry>, ThreadPoolBuildError> {
    let _guard = GLOBAL_INIT.lock().unwrap_or_else(|e| e.into_inner());
    if !GLOBAL_REGISTRY
        .load(std::sync::atomic::Ordering::Acquire)
        .is_null()
    {
        return Err(ThreadPoolBuildError::new(
            ErrorKind::GlobalPoolAlreadyInitialized,
        ));
    }
    let registry = match Registry::new(builder) {
        Ok(registry) => registry,
        Err(error) if explicit => return Err(error),
        Err(error) => panic!("weft-pool: the global thread pool could not be built: {error}"),
    };
    let leaked: &'static Arc<Registry> = Box::leak(Box::new(registry));
    GLOBAL_REGISTRY.store(
        ptr::from_ref(leaked).cast_mut(),
        std::sync::atomic::Ordering::Release,
    );
    Ok(leaked)
}

/// Runs `op` on a worker: the current one, or one of the global pool.
#[inline]
pub(crate) fn in_worker<OP, R>(op: OP) -> R
where
    OP: FnOnce(&WorkerThread, bool) -> R + Send,
    R: Send,
{
    match WorkerThread::current() {
        Some(thread) => op(thread, false),
        None => global_registry_for_work().in_worker_cold(op),
    }
}
