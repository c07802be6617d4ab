//! The pool's handle, [`ProcessPool`], and its [`Builder`]; the machinery is in
//! `slot.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use weft_sync::Mutex;

use crate::error::{Failure, Payload, ProcessError};
use crate::future::{Cell, Outcome, Sink, TaskFuture};
use crate::map::{Map, MapUnordered};
use crate::protocol::{self, JobEncoder};
use crate::registry::Task;
use crate::slot::{self, Config, Initializer, Job, Phase, Shared};

/// The default [`Builder::max_frame_size`]: 256 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 256 << 20;

/// How long `terminate` lets workers handle SIGTERM before it sends SIGKILL.
const TERMINATE_GRACE: Duration = Duration::from_secs(2);

/// Configures a [`ProcessPool`]: `ProcessPool::builder().workers(4).build()`.
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    workers: Option<usize>,
    initializer: Option<Initializer>,
    max_tasks_per_worker: Option<usize>,
    retries: u32,
    max_frame_size: usize,
    startup_timeout: Duration,
    error: Option<Failure>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field(
                "initializer",
                &self.initializer.as_ref().map(|init| init.name),
            )
            .field("max_tasks_per_worker", &self.max_tasks_per_worker)
            .field("retries", &self.retries)
            .field("max_frame_size", &self.max_frame_size)
            .field("startup_timeout", &self.startup_timeout)
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            workers: None,
            initializer: None,
            max_tasks_per_worker: None,
            retries: 0,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            startup_timeout: Duration::from_secs(10),
            error: None,
        }
    }
}

impl Builder {
    /// A builder with the defaults: one worker per core, no initializer, workers
    /// never recycled, no retries, 256 MiB frames.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The number of worker processes (default: `std::thread::available_parallelism`;
    /// 0 is taken as 1).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers.max(1));
        self
    }

    /// A task each worker runs once, with `args`, before any other (Python's
    /// `initializer`/`initargs`): load a model, open a connection, warm a cache into
    /// the worker's globals. If it fails (returns `Err`, panics, dies), the pool is
    /// broken: [`build`](Builder::build) fails with [`ProcessError::PoolBroken`].
    pub fn initializer<T: Task<Output = ()>>(mut self, task: T, args: T::Args) -> Self {
        let _ = task;
        let mut encoder = JobEncoder::new(protocol::KIND_INIT, T::NAME, 64);
        match encoder.push(&args) {
            Ok(_) => {
                self.initializer = Some(Initializer {
                    name: T::NAME,
                    frame: encoder.finish(),
                })
            }
            Err(error) => self.error = Some(Failure::Serde(Payload::Args, error.to_string())),
        }
        self
    }

    /// Replaces a worker after it has run `jobs` jobs (a `submit` is one job, a `map`
    /// chunk is one job), like Python's `max_tasks_per_child`: bounds what a leaky
    /// task can accumulate. Default: never (0 is taken as 1).
    pub fn max_tasks_per_worker(mut self, jobs: usize) -> Self {
        self.max_tasks_per_worker = Some(jobs.max(1));
        self
    }

    /// Runs a job again, up to `retries` more times, when its worker dies under it
    /// (default 0: the job fails with [`ProcessError::WorkerDied`]). Only deaths are
    /// retried: a timeout, a panic or the task's own error is the task's answer. A
    /// retried job may have partly run before: opt in only for tasks that can run
    /// twice.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The largest frame (one job's arguments, or one batch of its results) either
    /// side sends, in bytes (default [`DEFAULT_MAX_FRAME_SIZE`]). A bigger one fails
    /// with [`ProcessError::FrameTooLarge`] instead of being sent; `map` closes a chunk
    /// early rather than pass it.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes.clamp(64, u32::MAX as usize - 64);
        self
    }

    /// How long a new worker may take to start and say hello (default 10 s); after
    /// three silent or dead starts in a row the pool is broken.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Starts the workers and waits until each has said hello (and run the
    /// initializer).
    ///
    /// # Errors
    ///
    /// [`ProcessError::PoolBroken`] if the binary cannot be re-executed, workers die
    /// before their handshake three times in a row (`init()` missing from `main`, a
    /// crash at start-up), the initializer fails, or this process is itself a worker
    /// whose `main` did not call [`init`](crate::init) first;
    /// [`ProcessError::Serde`] if the initializer's arguments do not serialize.
    pub fn build(self) -> Result<ProcessPool, ProcessError> {
        if let Some(error) = self.error {
            return Err(error.typed());
        }
        if std::env::args_os()
            .nth(1)
            .is_some_and(|arg| arg == protocol::WORKER_MARKER)
            && !crate::worker::is_worker()
        {
            return Err(ProcessError::PoolBroken {
                reason: "this process was started as a weft-process worker, but main did not \
                         call weft_process::init() before building a pool"
                    .into(),
                source: None,
            });
        }
        let workers = self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        });
        let config = Config {
            limit: self.max_frame_size,
            retries: self.retries,
            max_tasks: self.max_tasks_per_worker,
            startup_timeout: self.startup_timeout,
            initializer: self.initializer,
            argv0: std::env::args_os()
                .next()
                .unwrap_or_else(|| "weft-worker".into()),
            parent_pid: std::process::id(),
        };
        let shared = Arc::new(
            Shared::new(workers, config)
                .map_err(|error| slot::broken("cannot create a slot's eventfd", error).typed())?,
        );
        let pool = ProcessPool {
            shared: Arc::clone(&shared),
            threads: Mutex::new(Vec::with_capacity(workers)),
            detached: AtomicBool::new(false),
        };
        let (started, reports) = mpsc::channel();
        let mut spawn_error = None;
        for slot in 0..workers {
            let shared = Arc::clone(&shared);
            let started = started.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("weft-process-{slot}"))
                .spawn(move || slot::slot_thread(shared, slot, started));
            match spawned {
                Ok(handle) => pool.threads.lock().push(handle),
                Err(error) => {
                    spawn_error = Some(slot::broken("cannot spawn a slot thread", error));
                    pool.shared.state.lock().live_threads -= workers - slot;
                    break;
                }
            }
        }
        drop(started);
        let mut first_error = spawn_error;
        for report in reports {
            if let Err(failure) = report
                && first_error.is_none()
            {
                first_error = Some(failure);
            }
        }
        if let Some(failure) = first_error {
            pool.shared.break_pool(failure.clone());
            pool.kill();
            return Err(failure.typed());
        }
        Ok(pool)
    }
}

/// A pool of worker processes running registered [`Task`]s: Python's
/// `concurrent.futures.ProcessPoolExecutor`, crash-isolated.
///
/// See the [crate docs](crate) for what `main` must do first ([`init`](crate::init)),
/// how tasks are declared, and the failure policy.
///
/// Dropping the pool is [`shutdown(true, false)`](ProcessPool::shutdown): queued tasks
/// still run, and the drop waits for them and for every worker to be reaped.
pub struct ProcessPool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    detached: AtomicBool,
}

impl std::fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("ProcessPool")
            .field(
                "workers",
                &state.slots.iter().map(|slot| slot.pid).collect::<Vec<_>>(),
            )
            .field("phase", &state.phase)
            .finish()
    }
}

impl ProcessPool {
    /// A [`Builder`] with the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Sends `task` with `args` to a worker and returns its [`TaskFuture`] at once.
    ///
    /// The arguments are serialized on this thread; if a worker is idle, the frame is
    /// written into its socket from here too (no hand-off to another thread), else it
    /// waits in the pool's queue.
    ///
    /// Never fails here: every error (the pool shut down or broken, arguments that do
    /// not serialize or are over the frame limit) arrives through the future.
    pub fn submit<T: Task>(&self, task: T, args: T::Args) -> TaskFuture<T::Output, T::Error> {
        self.submit_inner(task, &args, None)
    }

    /// [`submit`](ProcessPool::submit) with a time limit on the run: if the task has
    /// not finished `timeout` after a worker started it, the worker is killed and
    /// replaced, and the task fails with [`ProcessError::Timeout`].
    pub fn submit_with_timeout<T: Task>(
        &self,
        task: T,
        args: T::Args,
        timeout: Duration,
    ) -> TaskFuture<T::Output, T::Error> {
        self.submit_inner(task, &args, Some(timeout.max(Duration::from_millis(1))))
    }

    fn submit_inner<T: Task>(
        &self,
        _task: T,
        args: &T::Args,
        timeout: Option<Duration>,
    ) -> TaskFuture<T::Output, T::Error> {
        let limit = self.shared.config.limit;
        let cell = Arc::new(Cell::default());
        let future = TaskFuture::new(Arc::clone(&cell), Arc::downgrade(&self.shared), limit);
        let mut encoder = JobEncoder::new(protocol::KIND_RUN, T::NAME, 64);
        if let Err(error) = encoder.push(args) {
            cell.complete(Outcome::failed(Failure::Serde(
                Payload::Args,
                error.to_string(),
            )));
            return future;
        }
        if encoder.len() - 4 > limit {
            cell.complete(Outcome::failed(Failure::FrameTooLarge {
                size: encoder.len() - 4,
                limit,
            }));
            return future;
        }
        let job = Job {
            frame: Arc::new(encoder.finish()),
            task: T::NAME,
            count: 1,
            timeout,
            retries_left: self.shared.config.retries,
            sink: Sink::Cell(cell),
        };
        self.shared.submit(job);
        future
    }

    /// Runs `task` over `inputs`, yielding the results in input order (Python's
    /// `Executor.map`, lazy and bounded). Inputs are pulled as results are consumed,
    /// [`chunksize`](Map::chunksize) per job, at most [`buffer`](Map::buffer) jobs
    /// ahead. The returned [`Map`] is an `Iterator` and a `Stream`.
    pub fn map<T: Task, I>(&self, task: T, inputs: I) -> Map<T, I::IntoIter>
    where
        I: IntoIterator<Item = T::Args>,
    {
        Map::new(
            Arc::clone(&self.shared),
            task,
            inputs.into_iter(),
            self.default_buffer(),
        )
    }

    /// Like [`map`](ProcessPool::map), yielding each chunk's results as soon as it is
    /// done, in no particular order; each item comes with its input's index.
    pub fn map_unordered<T: Task, I>(&self, task: T, inputs: I) -> MapUnordered<T, I::IntoIter>
    where
        I: IntoIterator<Item = T::Args>,
    {
        MapUnordered::new(
            Arc::clone(&self.shared),
            task,
            inputs.into_iter(),
            self.default_buffer(),
        )
    }

    fn default_buffer(&self) -> usize {
        2 * self.workers()
    }

    /// The number of worker slots.
    pub fn workers(&self) -> usize {
        self.shared.state.lock().slots.len()
    }

    /// The process ids of the live workers (a slot between a worker's death and its
    /// replacement has none).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.shared
            .state
            .lock()
            .slots
            .iter()
            .filter_map(|slot| slot.pid)
            .collect()
    }

    /// Stops taking tasks: later submissions fail with [`ProcessError::Shutdown`].
    /// With `cancel_pending`, queued tasks no worker has started fail with
    /// [`ProcessError::Cancelled`]; otherwise they still run. Running tasks finish.
    /// With `wait`, returns once every worker has exited and been reaped; without, the
    /// pool's threads finish in the background.
    ///
    /// Idempotent; like Python's `Executor.shutdown(wait, cancel_futures)`.
    pub fn shutdown(&self, wait: bool, cancel_pending: bool) {
        self.shared.close(Phase::Closing, cancel_pending, None);
        if wait {
            self.join();
        } else {
            self.detached.store(true, Ordering::Relaxed);
        }
    }

    /// Stops the pool now: queued tasks are cancelled, workers get SIGTERM (and
    /// SIGKILL two seconds later if they are still there), running tasks fail with
    /// [`ProcessError::Cancelled`]. Returns once every worker is reaped.
    pub fn terminate(&self) {
        self.shared.close(Phase::Stopping, true, Some(Signal::TERM));
        let deadline = Instant::now() + TERMINATE_GRACE;
        let mut state = self.shared.state.lock();
        while state.live_threads > 0 && Instant::now() < deadline {
            let _ = self.shared.exited.wait_until(&mut state, deadline);
        }
        drop(state);
        self.shared.close(Phase::Stopping, true, Some(Signal::KILL));
        self.join();
    }

    /// [`terminate`](ProcessPool::terminate) with SIGKILL at once.
    pub fn kill(&self) {
        self.shared.close(Phase::Stopping, true, Some(Signal::KILL));
        self.join();
    }

    fn join(&self) {
        let threads = std::mem::take(&mut *self.threads.lock());
        for thread in threads {
            // A slot thread that panicked has nothing left to clean: its worker gets
            // PR_SET_PDEATHSIG when the thread ends.
            let _ = thread.join();
        }
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        if !self.detached.load(Ordering::Relaxed) {
            self.shutdown(true, false);
        }
    }
}
