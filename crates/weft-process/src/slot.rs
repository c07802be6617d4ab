//! The machinery behind a [`ProcessPool`](crate::ProcessPool): the shared state, the
//! slot threads that own the worker processes, and how a job reaches a worker.
//!
//! # Shape
//!
//! One *slot thread* per worker. It spawns its worker (so the worker's
//! `PR_SET_PDEATHSIG`, which fires when the *thread* that forked it ends, is tied to a
//! thread that lives as long as the pool), reads its results, and reaps it. It does
//! not stand between a caller and the worker on the way in: `submit` (and `map`)
//! write a job's frame straight into an idle worker's socket, so a round trip is
//! three wake-ups: the worker (socket), the slot thread (socket), the caller.
//!
//! Each worker has at most two jobs in flight: the one it runs and, if its frame is
//! small, one waiting in the socket behind it, so the worker never idles between
//! jobs. Small matters: the waiting frame must fit in the socket buffer, or its
//! writer could block on a worker that is itself blocked writing results nobody reads
//! yet.
//!
//! # State (all under `Shared::state`)
//!
//! - `pending`: jobs no worker has taken, taken from the front; a job requeued (it
//!   never started, or is retried) goes back to the front.
//! - `phase`: `Running` → `Closing` (shutdown: run what is queued, take nothing new) or
//!   `Stopping` (terminate, kill, broken: queued jobs were cancelled; a job whose
//!   worker dies now is `Cancelled`). Never goes back.
//! - per slot: `pid` (the live worker, `Some` from spawn until just before its reaping,
//!   so a signal sent under the lock reaches a live process or an unreaped zombie,
//!   never a recycled pid); `stream` and `accepting` (jobs may be written to it);
//!   `inflight` (jobs written and not answered, oldest first: the front one runs,
//!   started at `head_started`).
//!
//! A job is pushed onto `inflight` and its frame written with the slot's `writers`
//! lock taken *before* `state` is released, so frames reach the socket in `inflight`
//! order whoever writes them. Lock order: `state`, then a writer lock.
//!
//! Every child is reaped by the slot thread that spawned it (`Child::wait`), on every
//! path: retirement, death, timeout, shutdown.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, BufReader};
use std::net::Shutdown;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, Signal};
use weft_sync::{Condvar, Mutex, MutexGuard};

use crate::error::{Failure, Payload};
use crate::future::{Cell, Inbox, ItemPosition, Outcome, Sink};
use crate::protocol::{self, Cursor, FrameRead};

/// Consecutive start-up failures (death or silence before the handshake) after which
/// a slot gives up and the pool is broken.
const START_ATTEMPTS: u32 = 3;

/// The largest job frame written behind a running one. Far below a Unix socket's
/// default buffer (about 200 KiB), so the write completes without the worker reading.
const PIPELINE_MAX_FRAME: usize = 32 * 1024;

/// One unit of work for one worker: a RUN frame of `count` items and who gets the
/// results.
pub(crate) struct Job {
    pub(crate) frame: Arc<Vec<u8>>,
    pub(crate) task: &'static str,
    pub(crate) count: u32,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries_left: u32,
    pub(crate) sink: Sink,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    Closing,
    Stopping,
}

pub(crate) struct SlotState {
    pub(crate) pid: Option<u32>,
    stream: Option<Arc<UnixStream>>,
    accepting: bool,
    inflight: VecDeque<Job>,
    head_started: Instant,
    jobs_sent: usize,
}

pub(crate) struct State {
    pending: VecDeque<Job>,
    pub(crate) phase: Phase,
    broken: Option<Failure>,
    pub(crate) slots: Vec<SlotState>,
    pub(crate) live_threads: usize,
}

pub(crate) struct Initializer {
    pub(crate) name: &'static str,
    pub(crate) frame: Vec<u8>,
}

pub(crate) struct Config {
    pub(crate) limit: usize,
    pub(crate) retries: u32,
    pub(crate) max_tasks: Option<usize>,
    pub(crate) startup_timeout: Duration,
    pub(crate) initializer: Option<Initializer>,
    pub(crate) argv0: OsString,
    pub(crate) parent_pid: u32,
}

/// What the pool's handle, its maps and futures, and its slot threads share.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Signalled when a slot thread ends (`terminate` waits on it).
    pub(crate) exited: Condvar,
    /// Serializes writes to each slot's socket, in `inflight` order.
    writers: Vec<Mutex<()>>,
    /// One eventfd per slot: wakes its thread from `poll` (a timed job became its
    /// head, the pool is closing).
    wakers: Vec<OwnedFd>,
    pub(crate) config: Config,
}

impl Shared {
    pub(crate) fn new(workers: usize, config: Config) -> io::Result<Shared> {
        let mut wakers = Vec::with_capacity(workers);
        for _ in 0..workers {
            wakers.push(rustix::event::eventfd(
                0,
                rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
            )?);
        }
        let slots = (0..workers)
            .map(|_| SlotState {
                pid: None,
                stream: None,
                accepting: false,
                inflight: VecDeque::new(),
                head_started: Instant::now(),
                jobs_sent: 0,
            })
            .collect();
        Ok(Shared {
            state: Mutex::new(State {
                pending: VecDeque::new(),
                phase: Phase::Running,
                broken: None,
                slots,
                live_threads: workers,
            }),
            exited: Condvar::new(),
            writers: (0..workers).map(|_| Mutex::new(())).collect(),
            wakers,
            config,
        })
    }

    pub(crate) fn limit(&self) -> usize {
        self.config.limit
    }

    pub(crate) fn retries(&self) -> u32 {
        self.config.retries
    }

    fn wake(&self, slot: usize) {
        // A full counter (it never is: each wake-up drains it) or a closed fd only
        // means the thread is already awake or gone.
        let _ = rustix::io::write(&self.wakers[slot], &1u64.to_ne_bytes());
    }

    fn wake_all(&self) {
        for slot in 0..self.wakers.len() {
            self.wake(slot);
        }
    }

    /// Hands a new job to an idle worker (writing its frame from this thread), queues
    /// it, or fails it at once if the pool is broken or shut down.
    pub(crate) fn submit(&self, job: Job) {
        let state = self.state.lock();
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
        self.place(state, job);
    }

    /// The slot a job may be written to now: an idle worker first, else (for a small
    /// frame) one running a single job.
    fn choose(&self, state: &State, job: &Job) -> Option<usize> {
        let takes = |slot: &SlotState, depth: usize| {
            slot.accepting
                && slot.inflight.len() == depth
                && self.config.max_tasks.is_none_or(|max| slot.jobs_sent < max)
        };
        if let Some(idle) = state.slots.iter().position(|slot| takes(slot, 0)) {
            return Some(idle);
        }
        if job.frame.len() <= PIPELINE_MAX_FRAME {
            return state.slots.iter().position(|slot| takes(slot, 1));
        }
        None
    }

    fn place(&self, mut state: MutexGuard<'_, State>, job: Job) {
        match self.choose(&state, &job) {
            Some(slot) => self.write_to(state, slot, job),
            None => state.pending.push_back(job),
        }
    }

    /// Records `job` as in flight on `slot` and writes its frame, releasing `state`
    /// once the slot's writer lock is held (see the module docs).
    fn write_to(&self, mut state: MutexGuard<'_, State>, slot: usize, job: Job) {
        let entry = &mut state.slots[slot];
        let Some(stream) = entry.stream.clone() else {
            state.pending.push_front(job);
            return;
        };
        let frame = Arc::clone(&job.frame);
        let head = entry.inflight.is_empty();
        let timed = job.timeout.is_some();
        if head {
            entry.head_started = Instant::now();
        }
        entry.inflight.push_back(job);
        entry.jobs_sent += 1;
        let writer = self.writers[slot].lock();
        drop(state);
        // A failed write means the worker is gone: its slot thread sees the EOF and
        // deals with every job in flight, this one included.
        let _ = send_all(&stream, &frame);
        drop(writer);
        if head && timed {
            self.wake(slot);
        }
    }

    /// Gives an idle or half-busy `slot` queued jobs, as `choose` would have.
    fn refill(&self, slot: usize) {
        loop {
            let mut state = self.state.lock();
            if state.phase == Phase::Stopping {
                return;
            }
            let entry = &state.slots[slot];
            let room = entry.accepting
                && entry.inflight.len() < 2
                && self
                    .config
                    .max_tasks
                    .is_none_or(|max| entry.jobs_sent < max);
            let fits = match state.pending.front() {
                Some(job) => entry.inflight.is_empty() || job.frame.len() <= PIPELINE_MAX_FRAME,
                None => false,
            };
            if !room || !fits {
                return;
            }
            // A second job only if no other worker is idle: it should take it.
            if !entry.inflight.is_empty()
                && state
                    .slots
                    .iter()
                    .any(|other| other.accepting && other.inflight.is_empty())
            {
                return;
            }
            let Some(job) = state.pending.pop_front() else {
                return;
            };
            self.write_to(state, slot, job);
        }
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
    }

    fn phase(&self) -> Phase {
        self.state.lock().phase
    }

    /// Marks the pool broken: every queued job and every later submission fails with
    /// `failure`.
    pub(crate) fn break_pool(&self, failure: Failure) {
        let mut state = self.state.lock();
        if state.broken.is_none() {
            state.broken = Some(failure.clone());
        }
        state.phase = Phase::Stopping;
        let drained: Vec<Job> = state.pending.drain(..).collect();
        drop(state);
        self.wake_all();
        for job in drained {
            job.sink.deliver(Outcome::failed(failure.clone()));
        }
    }

    /// Moves to `phase` (never back to `Running`), cancelling queued jobs if asked and
    /// signalling the workers if asked.
    pub(crate) fn close(&self, phase: Phase, cancel_pending: bool, signal: Option<Signal>) {
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
            for pid in state.slots.iter().filter_map(|slot| slot.pid) {
                if let Some(pid) = Pid::from_raw(pid as i32) {
                    // An error means the process is already gone: nothing to stop.
                    let _ = rustix::process::kill_process(pid, signal);
                }
            }
        }
        drop(state);
        self.wake_all();
        for job in drained {
            job.sink.deliver(Outcome::failed(Failure::Cancelled));
        }
    }

    fn thread_exited(&self) {
        self.state.lock().live_threads -= 1;
        self.exited.notify_all();
    }

    fn set_pid(&self, slot: usize, pid: Option<u32>) {
        self.state.lock().slots[slot].pid = pid;
    }

    /// Lets callers write to the slot's new worker.
    fn publish(&self, slot: usize, worker: &Worker) {
        let mut state = self.state.lock();
        let entry = &mut state.slots[slot];
        entry.stream = Some(Arc::clone(&worker.stream));
        entry.accepting = true;
        entry.jobs_sent = 0;
        drop(state);
        self.refill(slot);
    }

    /// Stops callers writing to the slot's worker and takes the jobs in flight on it.
    fn withdraw(&self, slot: usize) -> VecDeque<Job> {
        let mut state = self.state.lock();
        let entry = &mut state.slots[slot];
        entry.accepting = false;
        entry.stream = None;
        std::mem::take(&mut entry.inflight)
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
    stream: Arc<UnixStream>,
    /// Reads ahead, so a header and its body (or several small frames) come in one
    /// `recv`.
    reader: BufReader<SocketReader>,
    read_timeout: Option<Duration>,
    jobs_done: usize,
}

/// The read half of a worker's socket, for the `BufReader`.
struct SocketReader(Arc<UnixStream>);

impl io::Read for SocketReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

/// How the worker was lost.
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
        let stream = Arc::new(ours);
        let mut worker = Worker {
            child,
            reader: BufReader::with_capacity(64 * 1024, SocketReader(Arc::clone(&stream))),
            stream,
            read_timeout: None,
            jobs_done: 0,
        };

        let mut body = Vec::new();
        let handshake = worker
            .set_read_timeout(Some(config.startup_timeout))
            .and_then(|()| protocol::read_frame(&mut worker.reader, 64, &mut body));
        match handshake {
            Ok(FrameRead::Frame) => {
                let mut cursor = Cursor::new(&body);
                let kind = cursor.u8();
                let version = cursor.u32();
                if kind != Some(protocol::KIND_HELLO) {
                    worker.kill_and_reap(shared, slot);
                    return Err(StartError::Retry("the worker sent no handshake".into()));
                }
                if version != Some(protocol::PROTOCOL_VERSION) {
                    worker.kill_and_reap(shared, slot);
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
                worker.kill_and_reap(shared, slot);
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
            let ran = worker
                .set_read_timeout(None)
                .and_then(|()| send_all(&worker.stream, &initializer.frame))
                .and_then(|()| {
                    protocol::read_frame(&mut worker.reader, config.limit + 64, &mut body)
                });
            let failure = match ran {
                Ok(FrameRead::Frame) => {
                    let mut position = ItemPosition::default();
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
                worker.kill_and_reap(shared, slot);
                return Err(StartError::Fatal(Failure::PoolBroken {
                    reason,
                    source: None,
                }));
            }
        }
        Ok(worker)
    }

    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // SO_RCVTIMEO reads a zero timeout as "none": the callers never pass one (an
        // expired deadline is handled before reading).
        if self.read_timeout != timeout {
            self.stream.set_read_timeout(timeout)?;
            self.read_timeout = timeout;
        }
        Ok(())
    }

    /// Waits until the socket has something to read (or `deadline` passes, or the
    /// slot's eventfd fires). Returns whether the socket is readable.
    fn wait_readable(&self, waker: &OwnedFd, deadline: Option<Instant>) -> bool {
        let timeout = deadline.map(|deadline| {
            let left = deadline.saturating_duration_since(Instant::now());
            rustix::time::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            }
        });
        let mut fds = [
            PollFd::new(&*self.stream, PollFlags::IN),
            PollFd::from_borrowed_fd(waker.as_fd(), PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) => {
                if !fds[1].revents().is_empty() {
                    let _ = rustix::io::read(waker, &mut [0u8; 8]);
                }
                !fds[0].revents().is_empty()
            }
            // EINTR and the like: the caller looks again.
            Err(_) => false,
        }
    }

    /// Reads one RESULTS frame; its item count and body.
    fn read_results(
        &mut self,
        deadline: Option<Instant>,
        limit: usize,
        after: Option<Duration>,
    ) -> Result<(u32, Vec<u8>), Lost> {
        let timeout = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Lost::TimedOut(after.unwrap_or_default()));
                }
                Some(left)
            }
            None => None,
        };
        let mut body = Vec::new();
        let read = self
            .set_read_timeout(timeout)
            .and_then(|()| protocol::read_frame(&mut self.reader, limit + 64, &mut body));
        match read {
            Ok(FrameRead::Frame) => {
                let mut cursor = Cursor::new(&body);
                match (cursor.u8(), cursor.u32(), cursor.u32()) {
                    (Some(protocol::KIND_RESULTS), Some(_start), Some(count)) if count > 0 => {
                        Ok((count, body))
                    }
                    _ => Err(Lost::BadFrame(Failure::Serde(
                        Payload::Output,
                        "malformed RESULTS frame from the worker".into(),
                    ))),
                }
            }
            Ok(FrameRead::TooLarge(size)) => {
                Err(Lost::BadFrame(Failure::FrameTooLarge { size, limit }))
            }
            Err(error) if is_timeout(&error) => Err(Lost::TimedOut(after.unwrap_or_default())),
            Ok(FrameRead::Eof) | Err(_) => Err(Lost::Died),
        }
    }

    /// Closes our side and reaps the process. The pid leaves the shared table first,
    /// so no signal can be sent to it once it may have been reused.
    fn reap(self, shared: &Shared, slot: usize) -> Option<std::process::ExitStatus> {
        let Worker {
            mut child, stream, ..
        } = self;
        // Callers may still hold a clone of the stream for a moment: shut it down
        // explicitly so the worker sees EOF whatever they do.
        let _ = stream.shutdown(Shutdown::Both);
        drop(stream);
        shared.set_pid(slot, None);
        child.wait().ok()
    }

    fn kill_and_reap(mut self, shared: &Shared, slot: usize) -> Option<std::process::ExitStatus> {
        let _ = self.child.kill();
        self.reap(shared, slot)
    }
}

/// Writes all of `bytes`, with `MSG_NOSIGNAL`: a dead worker is an `EPIPE` error
/// here, never a SIGPIPE for the whole program (which only a Rust `main` ignores).
fn send_all(stream: &UnixStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::net::send(stream, bytes, rustix::net::SendFlags::NOSIGNAL) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(sent) => bytes = &bytes[sent..],
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

pub(crate) fn is_timeout(error: &io::Error) -> bool {
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

pub(crate) fn broken(reason: &str, error: io::Error) -> Failure {
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

/// Starts the slot's next worker, unless the pool is winding down (and has nothing
/// queued left to run); breaks the pool if that fails.
fn replace(shared: &Shared, slot: usize) -> Option<Worker> {
    let wanted = {
        let state = shared.state.lock();
        match state.phase {
            Phase::Running => true,
            Phase::Closing => !state.pending.is_empty(),
            Phase::Stopping => false,
        }
    };
    if !wanted {
        return None;
    }
    match start_with_retries(shared, slot) {
        Ok(fresh) => {
            shared.publish(slot, &fresh);
            Some(fresh)
        }
        Err(failure) => {
            shared.break_pool(failure);
            None
        }
    }
}

/// The results gathered so far for the head job.
#[derive(Default)]
struct Gathered {
    frames: Vec<Vec<u8>>,
    items: u32,
}

/// A slot thread's body. A panic in it (a bug) must not leave a worker that callers
/// write to and nobody reads: the pool is broken, the slot's jobs fail, and the
/// worker gets its PR_SET_PDEATHSIG as the thread ends.
pub(crate) fn slot_thread(
    shared: Arc<Shared>,
    slot: usize,
    started: mpsc::Sender<Result<(), Failure>>,
) {
    let guarded = Arc::clone(&shared);
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        slot_main(guarded, slot, started);
    }));
    if let Err(payload) = ran {
        let failure = Failure::PoolBroken {
            reason: format!(
                "a pool thread panicked: {}",
                crate::worker::panic_message(&*payload)
            ),
            source: None,
        };
        shared.break_pool(failure.clone());
        for job in shared.withdraw(slot) {
            job.sink.deliver(Outcome::failed(failure.clone()));
        }
        // The worker's `Child` went with the unwinding: kill and reap it by pid, so it
        // is neither left running nor left a zombie.
        let pid = std::mem::take(&mut shared.state.lock().slots[slot].pid);
        if let Some(pid) = pid.and_then(|pid| Pid::from_raw(pid as i32)) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
        shared.thread_exited();
    }
}

fn slot_main(shared: Arc<Shared>, slot: usize, started: mpsc::Sender<Result<(), Failure>>) {
    let mut worker = match start_with_retries(&shared, slot) {
        Ok(worker) => {
            shared.publish(slot, &worker);
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

    let mut gathered = Gathered::default();
    loop {
        let (deadline, head_timeout, idle, exit) = {
            let state = shared.state.lock();
            let entry = &state.slots[slot];
            let idle = entry.inflight.is_empty();
            let exit = idle
                && match state.phase {
                    Phase::Running => worker.is_none(),
                    Phase::Closing => state.pending.is_empty(),
                    Phase::Stopping => true,
                };
            let head_timeout = entry.inflight.front().and_then(|job| job.timeout);
            (
                head_timeout.map(|t| entry.head_started + t),
                head_timeout,
                idle,
                exit,
            )
        };
        if exit {
            break;
        }
        let Some(current) = worker.as_mut() else {
            // No worker (the pool is closing and this one retired or died): what is
            // still queued goes to the other slots.
            break;
        };
        if idle {
            shared.refill(slot);
        }
        // Poll only when something other than the socket may need us: idle (a closing
        // pool wakes us through the eventfd) or running a timed job. A busy slot whose
        // head has no deadline just reads: its worker's answer or death ends the wait.
        let readable = !current.reader.buffer().is_empty()
            || (!idle && deadline.is_none())
            || current.wait_readable(&shared.wakers[slot], deadline);
        let timed_out = deadline.is_some_and(|deadline| Instant::now() >= deadline);
        if !readable && !timed_out {
            continue;
        }
        let lost = if readable {
            match current.read_results(deadline, shared.config.limit, head_timeout) {
                Ok((count, body)) => {
                    gathered.items += count;
                    gathered.frames.push(body);
                    None
                }
                Err(lost) => Some(lost),
            }
        } else {
            Some(Lost::TimedOut(head_timeout.unwrap_or_default()))
        };
        match lost {
            None => {
                let mut state = shared.state.lock();
                let entry = &mut state.slots[slot];
                let Some(head) = entry.inflight.front() else {
                    drop(state);
                    // Results nobody asked for: the worker is confused. Replace it.
                    if let Some(lost) = worker.take() {
                        lost.kill_and_reap(&shared, slot);
                    }
                    gathered = Gathered::default();
                    worker = replace(&shared, slot);
                    continue;
                };
                if gathered.items < head.count {
                    continue;
                }
                let head = entry.inflight.pop_front();
                entry.head_started = Instant::now();
                let retire = shared
                    .config
                    .max_tasks
                    .is_some_and(|max| current.jobs_done + 1 >= max)
                    && entry.inflight.is_empty();
                if retire {
                    entry.accepting = false;
                }
                drop(state);
                current.jobs_done += 1;
                let done = std::mem::take(&mut gathered);
                if let Some(head) = head {
                    head.sink.deliver(Outcome {
                        frames: done.frames,
                        failure: None,
                    });
                }
                if retire {
                    shared.withdraw(slot);
                    if let Some(retired) = worker.take() {
                        retired.reap(&shared, slot);
                    }
                    worker = replace(&shared, slot);
                } else {
                    shared.refill(slot);
                }
            }
            Some(cause) => {
                let inflight = shared.withdraw(slot);
                let Some(lost_worker) = worker.take() else {
                    continue;
                };
                let status = match cause {
                    Lost::Died => lost_worker.reap(&shared, slot),
                    _ => lost_worker.kill_and_reap(&shared, slot),
                };
                let done = std::mem::take(&mut gathered);
                let mut inflight = inflight.into_iter();
                let head = inflight.next();
                // The jobs behind the head never started: back to the queue, as is.
                for waiting in inflight.rev() {
                    shared.requeue_front(waiting);
                }
                if let Some(head) = head {
                    let failure = match cause {
                        _ if shared.phase() == Phase::Stopping => Failure::Cancelled,
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
                            frames: done.frames,
                            failure: Some(failure),
                        });
                    }
                }
                worker = replace(&shared, slot);
                // Requeued jobs may have no idle slot to notice them: look now.
                for other in 0..shared.wakers.len() {
                    shared.refill(other);
                }
            }
        }
    }
    if let Some(worker) = worker {
        shared.withdraw(slot);
        worker.reap(&shared, slot);
    }
    // Anything still in flight here had no worker left to run it.
    for job in shared.withdraw(slot) {
        job.sink.deliver(Outcome::failed(Failure::Cancelled));
    }
    shared.thread_exited();
}
