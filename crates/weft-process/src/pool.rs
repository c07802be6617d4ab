//! The parent side: [`ProcessPool`], its [`Builder`], and the slot threads that own
//! the worker processes.
//!
//! # Shape
//!
//! One *slot thread* per worker. It spawns its worker (so the worker's
//! `PR_SET_PDEATHSIG`, which fires when the *thread* that forked it ends, is tied to a
//! thread that lives as long as the pool), then loops: take the next [`Job`] from the
//! shared queue, write its frame, read RESULTS frames until every item is covered,
//! hand the bytes to the job's sink. Blocking I/O, one job in flight per worker: a
//! job's frame is written in full before the worker answers, and the worker reads a
//! whole frame before it writes, so neither side can fill the other's socket buffer
//! while waiting on it. A submit → result round trip is four wake-ups: the slot
//! thread (condvar), the worker (socket), the slot thread (socket), the caller.
//!
//! # State (all under `Shared::state`)
//!
//! - `pending`: jobs no worker has taken. Slot threads pop the front; a job requeued
//!   for a retry goes back to the front.
//! - `phase`: `Running` → `Closing` (shutdown: run what is queued, take nothing new) or
//!   `Stopping` (terminate, kill, broken: queued jobs were cancelled; a job whose
//!   worker dies now is `Cancelled`, not `WorkerDied`). Never goes back.
//! - `pids[slot]`: the slot's live worker, `Some` from spawn until just before the
//!   slot thread reaps it. Signals from `terminate`/`kill` are sent under the lock, so
//!   they reach a live process or an unreaped zombie, never a recycled pid.
//!
//! Every child is reaped by the slot thread that spawned it (`Child::wait`), on every
//! path: retirement, death, timeout, shutdown.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use weft_sync::{Condvar, Mutex};

use crate::error::{Failure, Payload, ProcessError};
use crate::future::{Cell, Inbox, Outcome, Sink, TaskFuture};
use crate::map::{Map, MapUnordered};
use crate::protocol::{self, Cursor, FrameRead, JobEncoder};
use crate::registry::Task;

/// The default [`Builder::max_frame_size`]: 256 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 256 << 20;

/// Consecutive start-up failures (death or silence before the handshake) after which
/// a slot gives up and the pool is broken.
const START_ATTEMPTS: u32 = 3;

/// The largest job frame written behind a running one. Far below a Unix socket's
/// default buffer (about 200 KiB), so the write completes without the worker reading.
const PIPELINE_MAX_FRAME: usize = 32 * 1024;

/// How long `terminate` lets workers handle SIGTERM before it sends SIGKILL.
const TERMINATE_GRACE: Duration = Duration::from_secs(2);

/// One unit of work for one worker: a RUN frame of `count` items and who gets the
/// results.
pub(crate) struct Job {
    pub(crate) frame: Vec<u8>,
    pub(crate) task: &'static str,
    pub(crate) count: u32,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries_left: u32,
    pub(crate) sink: Sink,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    Closing,
    Stopping,
}

struct State {
    pending: VecDeque<Job>,
    phase: Phase,
    broken: Option<Failure>,
    pids: Vec<Option<u32>>,
    live_threads: usize,
    idle_slots: usize,
}

struct Initializer {
    name: &'static str,
    frame: Vec<u8>,
}

struct Config {
    limit: usize,
    retries: u32,
    max_tasks: Option<usize>,
    startup_timeout: Duration,
    initializer: Option<Initializer>,
    argv0: OsString,
    parent_pid: u32,
}

/// What the pool's handle and its slot threads share.
pub(crate) struct Shared {
    state: Mutex<State>,
    work: Condvar,
    exited: Condvar,
    config: Config,
}

impl Shared {
    /// Queues a job, or fails it at once if the pool is broken or shut down.
    pub(crate) fn enqueue(&self, job: Job) {
        let mut state = self.state.lock();
        let refused = match &state.broken {
            Some(broken) => Some(broken.clone()),
            None if state.phase != Phase::Running => Some(Failure::Shutdown),
            None => None,
        };
        if let Some(failure) = refused {
            drop(state);
            job.sink.deliver(Outcome::failed(failure));
            return;
        }
        state.pending.push_back(job);
        drop(state);
        self.work.notify_one();
    }

    pub(crate) fn limit(&self) -> usize {
        self.config.limit
    }

    pub(crate) fn retries(&self) -> u32 {
        self.config.retries
    }

    pub(crate) fn cancel(&self, cell: &Arc<Cell>) -> bool {
        let mut state = self.state.lock();
        let Some(at) = state.pending.iter().position(|job| job.sink.is_cell(cell)) else {
            return false;
        };
        let job = state.pending.remove(at);
        drop(state);
        if let Some(job) = job {
            job.sink.deliver(Outcome::failed(Failure::Cancelled));
        }
        true
    }

    /// Drops every queued job of a `map` that is being dropped: nobody will read
    /// their results.
    pub(crate) fn forget_inbox(&self, inbox: &Arc<Inbox>) {
        self.state
            .lock()
            .pending
            .retain(|job| !job.sink.is_inbox(inbox));
    }

    fn next_job(&self) -> Option<Job> {
        let mut state = self.state.lock();
        loop {
            if state.phase == Phase::Stopping {
                return None;
            }
            if let Some(job) = state.pending.pop_front() {
                return Some(job);
            }
            if state.phase != Phase::Running {
                return None;
            }
            state.idle_slots += 1;
            self.work.wait(&mut state);
            state.idle_slots -= 1;
        }
    }

    /// The next queued job, if it is small enough to sit in a worker's socket buffer
    /// while the worker runs another (so the write cannot block on a worker that is
    /// itself blocked writing results) and no slot is idle to take it.
    fn next_small_job(&self) -> Option<Job> {
        let mut state = self.state.lock();
        if state.idle_slots > 0 {
            return None;
        }
        match state.pending.front() {
            Some(job) if job.frame.len() <= PIPELINE_MAX_FRAME => state.pending.pop_front(),
            _ => None,
        }
    }

    /// Puts a job that never started (or is to be retried) back at the head of the
    /// queue, unless the pool is stopping: then it is cancelled (or fails as the pool
    /// broke).
    fn requeue_front(&self, job: Job) {
        let mut state = self.state.lock();
        if state.phase == Phase::Stopping {
            let failure = state.broken.clone().unwrap_or(Failure::Cancelled);
            drop(state);
            job.sink.deliver(Outcome::failed(failure));
            return;
        }
        state.pending.push_front(job);
        drop(state);
        self.work.notify_one();
    }

    fn phase(&self) -> Phase {
        self.state.lock().phase
    }

    fn set_pid(&self, slot: usize, pid: Option<u32>) {
        self.state.lock().pids[slot] = pid;
    }

    /// Marks the pool broken: every queued job and every later submission fails with
    /// `failure`.
    fn break_pool(&self, failure: Failure) {
        let mut state = self.state.lock();
        if state.broken.is_none() {
            state.broken = Some(failure.clone());
        }
        state.phase = Phase::Stopping;
        let drained: Vec<Job> = state.pending.drain(..).collect();
        drop(state);
        self.work.notify_all();
        for job in drained {
            job.sink.deliver(Outcome::failed(failure.clone()));
        }
    }

    /// Moves to `phase` (never back to `Running`), cancelling queued jobs if asked.
    fn close(&self, phase: Phase, cancel_pending: bool, signal: Option<Signal>) {
        let mut state = self.state.lock();
        if state.phase == Phase::Running || phase == Phase::Stopping {
            state.phase = phase;
        }
        let drained: Vec<Job> = if cancel_pending {
            state.pending.drain(..).collect()
        } else {
            Vec::new()
        };
        if let Some(signal) = signal {
            for pid in state.pids.iter().flatten() {
                if let Some(pid) = Pid::from_raw(*pid as i32) {
                    // An error means the process is already gone: nothing to stop.
                    let _ = rustix::process::kill_process(pid, signal);
                }
            }
        }
        drop(state);
        self.work.notify_all();
        for job in drained {
            job.sink.deliver(Outcome::failed(Failure::Cancelled));
        }
    }

    fn thread_exited(&self) {
        self.state.lock().live_threads -= 1;
        self.exited.notify_all();
    }
}

/// Why a worker could not be started.
enum StartError {
    /// Trying again would fail the same way (the binary cannot be executed, the
    /// initializer failed).
    Fatal(Failure),
    /// It died or stayed silent before its handshake; another may do better.
    Retry(String),
}

/// A live worker process, owned by its slot thread.
struct Worker {
    child: Child,
    stream: UnixStream,
    jobs_done: usize,
    jobs_sent: usize,
    read_timeout: Option<Duration>,
}

/// How a job on a worker ended.
enum RunEnd {
    Done(Vec<Vec<u8>>),
    Lost { frames: Vec<Vec<u8>>, cause: Lost },
}

enum Lost {
    Died,
    TimedOut(Duration),
    BadFrame(Failure),
}

impl Worker {
    fn start(shared: &Shared, slot: usize) -> Result<Worker, StartError> {
        let config = &shared.config;
        let (ours, theirs) = UnixStream::pair().map_err(|error| {
            StartError::Fatal(broken("cannot create a socket pair for a worker", error))
        })?;
        let spawned = {
            let mut command = Command::new("/proc/self/exe");
            command
                .arg0(&config.argv0)
                .arg(protocol::WORKER_MARKER)
                .arg(config.parent_pid.to_string())
                .arg(config.limit.to_string())
                .stdin(Stdio::from(OwnedFd::from(theirs)));
            // The command (and with it our copy of the worker's end of the socket) is
            // dropped at the end of this block, so the worker's death is an EOF here.
            command.spawn()
        };
        let child = spawned.map_err(|error| {
            StartError::Fatal(broken(
                "cannot re-execute the current binary (/proc/self/exe) as a worker",
                error,
            ))
        })?;
        shared.set_pid(slot, Some(child.id()));
        let mut worker = Worker {
            child,
            stream: ours,
            jobs_done: 0,
            jobs_sent: 0,
            read_timeout: None,
        };

        let mut body = Vec::new();
        let handshake = worker
            .set_read_timeout(Some(config.startup_timeout))
            .and_then(|()| protocol::read_frame(&mut worker.stream, 64, &mut body));
        match handshake {
            Ok(FrameRead::Frame) => {
                let mut cursor = Cursor::new(&body);
                let kind = cursor.u8();
                let version = cursor.u32();
                if kind != Some(protocol::KIND_HELLO) {
                    let _ = worker.child.kill();
                    worker.reap(shared, slot);
                    return Err(StartError::Retry("the worker sent no handshake".into()));
                }
                if version != Some(protocol::PROTOCOL_VERSION) {
                    let _ = worker.child.kill();
                    worker.reap(shared, slot);
                    return Err(StartError::Fatal(Failure::PoolBroken {
                        reason: format!(
                            "the worker speaks protocol version {version:?}, this pool {}",
                            protocol::PROTOCOL_VERSION
                        ),
                        source: None,
                    }));
                }
            }
            Err(error) if is_timeout(&error) => {
                let _ = worker.child.kill();
                worker.reap(shared, slot);
                return Err(StartError::Retry(format!(
                    "no handshake within {:?} (is weft_process::init() the first thing in main?)",
                    config.startup_timeout
                )));
            }
            Ok(_) | Err(_) => {
                let status = worker.reap(shared, slot);
                return Err(StartError::Retry(format!(
                    "the worker {} before its handshake (is weft_process::init() the first thing in main?)",
                    describe(status)
                )));
            }
        }

        if let Some(initializer) = &config.initializer {
            let name = initializer.name;
            let fatal = |reason: String| {
                StartError::Fatal(Failure::PoolBroken {
                    reason,
                    source: None,
                })
            };
            let ran = worker
                .set_read_timeout(None)
                .and_then(|()| worker.stream.write_all(&initializer.frame))
                .and_then(|()| {
                    protocol::read_frame(&mut worker.stream, config.limit + 64, &mut body)
                });
            let failure = match ran {
                Ok(FrameRead::Frame) => {
                    let mut position = crate::future::ItemPosition::default();
                    match position.next(std::slice::from_ref(&body)) {
                        Some((protocol::STATUS_OK, _)) => None,
                        Some((protocol::STATUS_TASK_ERROR, _)) => {
                            Some(format!("the initializer `{name}` returned an error"))
                        }
                        Some((_, text)) => Some(format!(
                            "the initializer `{name}` failed: {}",
                            String::from_utf8_lossy(text)
                        )),
                        None => Some(format!("the initializer `{name}` gave no result")),
                    }
                }
                _ => Some(format!("the worker died in the initializer `{name}`")),
            };
            if let Some(reason) = failure {
                let _ = worker.child.kill();
                worker.reap(shared, slot);
                return Err(fatal(reason));
            }
        }
        Ok(worker)
    }

    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero timeout means "none" to SO_RCVTIMEO; the callers never pass one
        // (an expired deadline is handled before reading).
        if self.read_timeout != timeout {
            self.stream.set_read_timeout(timeout)?;
            self.read_timeout = timeout;
        }
        Ok(())
    }

    /// Writes a job's frame; `false` if the worker is gone.
    fn send(&mut self, job: &Job) -> bool {
        self.stream.write_all(&job.frame).is_ok()
    }

    /// Reads the results of `job`, the oldest job sent and not answered, which the
    /// worker started at `started` (when the one before it was answered).
    fn collect(&mut self, job: &Job, started: Instant, limit: usize) -> RunEnd {
        let deadline = job.timeout.map(|timeout| started + timeout);
        let mut frames = Vec::new();
        let mut received = 0u32;
        while received < job.count {
            let timeout = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return RunEnd::Lost {
                            frames,
                            cause: Lost::TimedOut(job.timeout.unwrap_or_default()),
                        };
                    }
                    Some(left)
                }
                None => None,
            };
            let mut body = Vec::new();
            let read = self
                .set_read_timeout(timeout)
                .and_then(|()| protocol::read_frame(&mut self.stream, limit + 64, &mut body));
            match read {
                Ok(FrameRead::Frame) => {
                    let mut cursor = Cursor::new(&body);
                    let header = (cursor.u8(), cursor.u32(), cursor.u32());
                    match header {
                        (Some(protocol::KIND_RESULTS), Some(_start), Some(count)) if count > 0 => {
                            received += count;
                            frames.push(body);
                        }
                        _ => {
                            return RunEnd::Lost {
                                frames,
                                cause: Lost::BadFrame(Failure::Serde(
                                    Payload::Output,
                                    "malformed RESULTS frame from the worker".into(),
                                )),
                            };
                        }
                    }
                }
                Ok(FrameRead::TooLarge(size)) => {
                    return RunEnd::Lost {
                        frames,
                        cause: Lost::BadFrame(Failure::FrameTooLarge { size, limit }),
                    };
                }
                Err(error) if is_timeout(&error) => {
                    return RunEnd::Lost {
                        frames,
                        cause: Lost::TimedOut(job.timeout.unwrap_or_default()),
                    };
                }
                Ok(FrameRead::Eof) | Err(_) => {
                    return RunEnd::Lost {
                        frames,
                        cause: Lost::Died,
                    };
                }
            }
        }
        RunEnd::Done(frames)
    }

    /// Closes the socket and reaps the process. The pid leaves the shared table first,
    /// so no signal can be sent to it once it may have been reused.
    fn reap(self, shared: &Shared, slot: usize) -> Option<std::process::ExitStatus> {
        let Worker {
            mut child, stream, ..
        } = self;
        drop(stream);
        shared.set_pid(slot, None);
        child.wait().ok()
    }

    /// Retires an idle worker: EOF on its socket makes it exit 0.
    fn retire(self, shared: &Shared, slot: usize) {
        self.reap(shared, slot);
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn describe(status: Option<std::process::ExitStatus>) -> String {
    match status {
        Some(status) => match (status.signal(), status.code()) {
            (Some(signal), _) => format!("was killed by signal {signal}"),
            (None, Some(code)) => format!("exited with code {code}"),
            (None, None) => "ended".into(),
        },
        None => "could not be waited for".into(),
    }
}

fn broken(reason: &str, error: io::Error) -> Failure {
    Failure::PoolBroken {
        reason: reason.into(),
        source: Some(Arc::new(error)),
    }
}

/// Starts a worker for `slot`, trying again after start-up deaths.
fn start_with_retries(shared: &Shared, slot: usize) -> Result<Worker, Failure> {
    let mut last = String::new();
    for _ in 0..START_ATTEMPTS {
        match Worker::start(shared, slot) {
            Ok(worker) => return Ok(worker),
            Err(StartError::Fatal(failure)) => return Err(failure),
            Err(StartError::Retry(reason)) => last = reason,
        }
    }
    Err(Failure::PoolBroken {
        reason: format!("{START_ATTEMPTS} workers in a row failed to start: {last}"),
        source: None,
    })
}

fn slot_main(shared: Arc<Shared>, slot: usize, started: mpsc::Sender<Result<(), Failure>>) {
    let mut worker = match start_with_retries(&shared, slot) {
        Ok(worker) => {
            let _ = started.send(Ok(()));
            Some(worker)
        }
        Err(failure) => {
            let _ = started.send(Err(failure));
            shared.thread_exited();
            return;
        }
    };
    drop(started);

    // Jobs written to the current worker and not answered, oldest first: the front
    // one is running, the one behind it (at most one) waits in the socket.
    let mut inflight: VecDeque<Job> = VecDeque::with_capacity(2);
    let mut head_started = Instant::now();
    loop {
        if inflight.is_empty() {
            let Some(job) = shared.next_job() else { break };
            let current = match worker.as_mut() {
                Some(current) => current,
                None => match start_with_retries(&shared, slot) {
                    Ok(fresh) => worker.insert(fresh),
                    Err(failure) => {
                        job.sink.deliver(Outcome::failed(failure.clone()));
                        shared.break_pool(failure);
                        continue;
                    }
                },
            };
            let sent = current.send(&job);
            head_started = Instant::now();
            inflight.push_back(job);
            if sent {
                current.jobs_sent += 1;
            }
        }
        let Some(current) = worker.as_mut() else {
            // Unreachable: a job is in flight only on a live worker. Fail it rather
            // than spin.
            if let Some(job) = inflight.pop_front() {
                job.sink.deliver(Outcome::failed(Failure::Cancelled));
            }
            continue;
        };
        // Keep the worker busy: while it runs the head job, queue the next small one
        // behind it, unless the worker is due for retirement or another slot is idle
        // (it should take the job instead).
        if inflight.len() == 1
            && shared
                .config
                .max_tasks
                .is_none_or(|max| current.jobs_sent < max)
            && let Some(job) = shared.next_small_job()
        {
            let sent = current.send(&job);
            inflight.push_back(job);
            if sent {
                current.jobs_sent += 1;
            }
        }
        let Some(head) = inflight.pop_front() else {
            continue;
        };
        match current.collect(&head, head_started, shared.config.limit) {
            RunEnd::Done(frames) => {
                head.sink.deliver(Outcome {
                    frames,
                    failure: None,
                });
                head_started = Instant::now();
                current.jobs_done += 1;
                if shared
                    .config
                    .max_tasks
                    .is_some_and(|max| current.jobs_done >= max)
                    && inflight.is_empty()
                {
                    if let Some(retired) = worker.take() {
                        retired.retire(&shared, slot);
                    }
                    replace_worker(&shared, slot, &mut worker);
                }
            }
            RunEnd::Lost { frames, cause } => {
                let Some(mut lost) = worker.take() else {
                    continue;
                };
                if !matches!(cause, Lost::Died) {
                    let _ = lost.child.kill();
                }
                let status = lost.reap(&shared, slot);
                // The job behind the head never started: back to the queue, as is.
                for waiting in inflight.drain(..).rev() {
                    shared.requeue_front(waiting);
                }
                let stopping = shared.phase() == Phase::Stopping;
                let failure = match cause {
                    _ if stopping => Failure::Cancelled,
                    Lost::Died => Failure::WorkerDied {
                        task: head.task,
                        signal: status.and_then(|status| status.signal()),
                        exit_code: status.and_then(|status| status.code()),
                    },
                    Lost::TimedOut(after) => Failure::Timeout {
                        task: head.task,
                        after,
                    },
                    Lost::BadFrame(failure) => failure,
                };
                if matches!(failure, Failure::WorkerDied { .. }) && head.retries_left > 0 {
                    let mut head = head;
                    head.retries_left -= 1;
                    shared.requeue_front(head);
                } else {
                    head.sink.deliver(Outcome {
                        frames,
                        failure: Some(failure),
                    });
                }
                replace_worker(&shared, slot, &mut worker);
            }
        }
    }
    if let Some(worker) = worker {
        worker.retire(&shared, slot);
    }
    shared.thread_exited();
}

/// Starts the slot's next worker now rather than when the next job comes, unless the
/// pool is winding down; breaks the pool if that fails.
fn replace_worker(shared: &Shared, slot: usize, worker: &mut Option<Worker>) {
    if shared.phase() == Phase::Running {
        match start_with_retries(shared, slot) {
            Ok(fresh) => *worker = Some(fresh),
            Err(failure) => shared.break_pool(failure),
        }
    }
}

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
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: VecDeque::new(),
                phase: Phase::Running,
                broken: None,
                pids: vec![None; workers],
                live_threads: workers,
                idle_slots: 0,
            }),
            work: Condvar::new(),
            exited: Condvar::new(),
            config: Config {
                limit: self.max_frame_size,
                retries: self.retries,
                max_tasks: self.max_tasks_per_worker,
                startup_timeout: self.startup_timeout,
                initializer: self.initializer,
                argv0: std::env::args_os()
                    .next()
                    .unwrap_or_else(|| "weft-worker".into()),
                parent_pid: std::process::id(),
            },
        });
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
                .spawn(move || slot_main(shared, slot, started));
            match spawned {
                Ok(handle) => pool.threads.lock().push(handle),
                Err(error) => {
                    spawn_error = Some(broken("cannot spawn a slot thread", error));
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
            .field("workers", &state.pids)
            .field("pending", &state.pending.len())
            .field("phase", &state.phase)
            .finish()
    }
}

impl ProcessPool {
    /// A [`Builder`] with the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Queues `task` with `args` and returns its [`TaskFuture`] at once.
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
            frame: encoder.finish(),
            task: T::NAME,
            count: 1,
            timeout,
            retries_left: self.shared.config.retries,
            sink: Sink::Cell(cell),
        };
        self.shared.enqueue(job);
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
        2 * self.shared.state.lock().pids.len()
    }

    /// The number of worker slots.
    pub fn workers(&self) -> usize {
        self.shared.state.lock().pids.len()
    }

    /// The process ids of the live workers (a slot between a worker's death and its
    /// replacement has none).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.shared
            .state
            .lock()
            .pids
            .iter()
            .flatten()
            .copied()
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
