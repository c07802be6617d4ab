//! Results on their way back: the one-shot [`Cell`] behind a [`TaskFuture`], the
//! [`Inbox`] a `map` collects its chunks in, and the `concurrent.futures` helpers
//! [`as_completed`] and [`wait`].
//!
//! Everything here is a `weft_sync::Mutex` + `Condvar` plus a stored `Waker`: no atomics
//! protocol of its own (so no loom model; weft-sync's primitives have theirs). A result
//! stays in bytes until the caller takes it, so the pool's threads never run the
//! caller's `Deserialize`.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use weft_sync::{Condvar, Mutex};

use crate::error::NoError;
use crate::error::{Failure, Payload, ProcessError};
use crate::protocol;

/// What came back for one job: the RESULTS frame bodies received, and, if the job did
/// not finish, why (it applies to every item no frame covered).
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) frames: Vec<Vec<u8>>,
    pub(crate) failure: Option<Failure>,
}

impl Outcome {
    pub(crate) fn failed(failure: Failure) -> Outcome {
        Outcome {
            frames: Vec::new(),
            failure: Some(failure),
        }
    }

    /// Whether the (first) item is an error of any kind, for `ReturnWhen::FirstException`.
    fn is_error(&self) -> bool {
        let mut position = ItemPosition::default();
        match position.next(&self.frames) {
            Some((status, _)) => status != protocol::STATUS_OK,
            None => true,
        }
    }
}

/// A position among the items of an [`Outcome`]'s frames, kept as indices so the
/// owner of the frames can hold it beside them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ItemPosition {
    frame: usize,
    offset: usize,
    left: u32,
}

impl ItemPosition {
    /// The next item's status and bytes, or `None` when the frames are used up.
    #[inline]
    pub(crate) fn next<'a>(&mut self, frames: &'a [Vec<u8>]) -> Option<(u8, &'a [u8])> {
        loop {
            let body = frames.get(self.frame)?;
            if self.offset == 0 {
                self.left = protocol::results_count(body)?;
                self.offset = protocol::RESULTS_HEADER;
            }
            if self.left == 0 {
                self.frame += 1;
                self.offset = 0;
                continue;
            }
            let (status, bytes) = protocol::result_item(body, self.offset)?;
            self.offset += protocol::RESULT_ITEM_HEADER + bytes.len();
            self.left -= 1;
            return Some((status, bytes));
        }
    }
}

/// Turns one result item into the caller's types.
#[inline]
pub(crate) fn decode<O: DeserializeOwned, E: DeserializeOwned>(
    status: u8,
    bytes: &[u8],
    limit: usize,
) -> Result<O, ProcessError<E>> {
    if status == protocol::STATUS_OK {
        return protocol::from_bytes_exact(bytes).map_err(|message| ProcessError::Serde {
            payload: Payload::Output,
            message,
        });
    }
    decode_failure(status, bytes, limit)
}

/// [`decode`] for every status but `OK`: out of line, so a `map`'s loop over its
/// results carries none of it.
#[cold]
#[inline(never)]
fn decode_failure<O, E: DeserializeOwned>(
    status: u8,
    bytes: &[u8],
    limit: usize,
) -> Result<O, ProcessError<E>> {
    let text = || String::from_utf8_lossy(bytes).into_owned();
    match status {
        protocol::STATUS_TASK_ERROR => match protocol::from_bytes_exact(bytes) {
            Ok(error) => Err(ProcessError::Task(error)),
            Err(message) => Err(ProcessError::Serde {
                payload: Payload::Error,
                message,
            }),
        },
        protocol::STATUS_PANICKED => Err(ProcessError::Panicked { message: text() }),
        protocol::STATUS_NOT_REGISTERED => Err(ProcessError::NotRegistered { name: text() }),
        protocol::STATUS_BAD_ARGS => Err(ProcessError::Serde {
            payload: Payload::Args,
            message: text(),
        }),
        protocol::STATUS_BAD_OUTPUT => Err(ProcessError::Serde {
            payload: Payload::Output,
            message: text(),
        }),
        protocol::STATUS_TOO_LARGE => {
            let size = bytes.try_into().map(u64::from_le_bytes).unwrap_or(u64::MAX);
            Err(ProcessError::FrameTooLarge {
                size: size as usize,
                limit,
            })
        }
        other => Err(ProcessError::Serde {
            payload: Payload::Output,
            message: format!("unknown result status {other}"),
        }),
    }
}

/// Waiters on many cells at once ([`wait`], [`as_completed`]): each cell pushes its
/// index when it completes.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    ready: Mutex<VecDeque<usize>>,
    cond: Condvar,
}

impl Watch {
    fn notify(&self, index: usize) {
        self.ready.lock().push_back(index);
        self.cond.notify_all();
    }
}

/// How long [`TaskFuture::wait`] looks before it sleeps (see `Cell::take`).
const SPIN_FOR_OUTCOME: Duration = Duration::from_micros(50);

/// The one-shot slot a single task's outcome lands in.
#[derive(Default)]
pub(crate) struct Cell {
    state: Mutex<CellState>,
    done: Condvar,
}

#[derive(Default)]
struct CellState {
    outcome: Option<Outcome>,
    finished: bool,
    failed: bool,
    waker: Option<Waker>,
    watchers: Vec<(Weak<Watch>, usize)>,
}

impl Cell {
    pub(crate) fn complete(&self, outcome: Outcome) {
        let failed = outcome.is_error();
        let mut state = self.state.lock();
        if state.finished {
            return;
        }
        state.outcome = Some(outcome);
        state.finished = true;
        state.failed = failed;
        let waker = state.waker.take();
        let watchers = std::mem::take(&mut state.watchers);
        drop(state);
        self.done.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
        for (watch, index) in watchers {
            if let Some(watch) = watch.upgrade() {
                watch.notify(index);
            }
        }
    }

    fn watch(&self, watch: &Arc<Watch>, index: usize) {
        let mut state = self.state.lock();
        if state.finished {
            drop(state);
            watch.notify(index);
        } else {
            state.watchers.retain(|(watch, _)| watch.strong_count() > 0);
            state.watchers.push((Arc::downgrade(watch), index));
        }
    }

    fn status(&self) -> (bool, bool) {
        let state = self.state.lock();
        (state.finished, state.failed)
    }

    /// Blocks until the outcome is there (or `deadline` passes) and takes it.
    ///
    /// Before it sleeps on the condition variable it yields for up to
    /// [`SPIN_FOR_OUTCOME`], looking at the cell between yields: a short task's
    /// answer then finds this thread running instead of paying a wake-up (on a
    /// virtual machine, an idle vCPU's wake-up costs tens of microseconds).
    fn take(&self, deadline: Option<Instant>) -> Option<Outcome> {
        let start = Instant::now();
        let mut state = self.state.lock();
        while !state.finished && start.elapsed() < SPIN_FOR_OUTCOME {
            drop(state);
            std::thread::yield_now();
            state = self.state.lock();
        }
        loop {
            if state.finished {
                return Some(state.outcome.take().unwrap_or_else(taken_twice));
            }
            match deadline {
                None => self.done.wait(&mut state),
                Some(deadline) => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                    self.done.wait_until(&mut state, deadline);
                }
            }
        }
    }

    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut state = self.state.lock();
        if state.finished {
            return Poll::Ready(state.outcome.take().unwrap_or_else(taken_twice));
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// A `TaskFuture` polled again after it returned its result.
fn taken_twice() -> Outcome {
    Outcome::failed(Failure::Cancelled)
}

/// Where a collected `map` chunk goes: a queue of `(chunk, outcome)`.
#[derive(Default)]
pub(crate) struct Inbox {
    state: Mutex<InboxState>,
    cond: Condvar,
}

#[derive(Default)]
struct InboxState {
    arrived: VecDeque<(ChunkTag, Outcome)>,
    waker: Option<Waker>,
}

impl Inbox {
    pub(crate) fn deliver(&self, chunk: ChunkTag, outcome: Outcome) {
        let mut state = self.state.lock();
        state.arrived.push_back((chunk, outcome));
        let waker = state.waker.take();
        drop(state);
        self.cond.notify_one();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn recv(&self) -> (ChunkTag, Outcome) {
        let mut state = self.state.lock();
        loop {
            if let Some(arrived) = state.arrived.pop_front() {
                return arrived;
            }
            self.cond.wait(&mut state);
        }
    }

    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<(ChunkTag, Outcome)> {
        let mut state = self.state.lock();
        if let Some(arrived) = state.arrived.pop_front() {
            return Poll::Ready(arrived);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Who receives a job's outcome.
pub(crate) enum Sink {
    Cell(Arc<Cell>),
    Inbox(Arc<Inbox>, ChunkTag),
}

/// Which `map` chunk a job is: its number, the index of its first input, its size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkTag {
    pub(crate) seq: u64,
    pub(crate) first: u64,
    pub(crate) count: u32,
}

impl Sink {
    pub(crate) fn deliver(self, outcome: Outcome) {
        match self {
            Sink::Cell(cell) => cell.complete(outcome),
            Sink::Inbox(inbox, chunk) => inbox.deliver(chunk, outcome),
        }
    }

    pub(crate) fn is_inbox(&self, inbox: &Arc<Inbox>) -> bool {
        matches!(self, Sink::Inbox(mine, _) if Arc::ptr_eq(mine, inbox))
    }

    pub(crate) fn is_cell(&self, cell: &Arc<Cell>) -> bool {
        matches!(self, Sink::Cell(mine) if Arc::ptr_eq(mine, cell))
    }
}

/// The result of one task submitted with [`ProcessPool::submit`](crate::ProcessPool::submit):
/// wait for it blocking ([`wait`](TaskFuture::wait), [`wait_timeout`](TaskFuture::wait_timeout))
/// or `.await` it (it is a [`Future`], usable on any executor).
///
/// Dropping a `TaskFuture` does not cancel the task (it may have effects of its own,
/// and `concurrent.futures` does not either); [`cancel`](TaskFuture::cancel) does,
/// while it has not started.
///
/// `O` is the task's output type, `E` its error type.
pub struct TaskFuture<O, E = NoError> {
    cell: Arc<Cell>,
    pool: Weak<crate::slot::Shared>,
    limit: usize,
    types: PhantomData<fn() -> (O, E)>,
}

impl<O, E> fmt::Debug for TaskFuture<O, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFuture")
            .field("done", &self.is_done())
            .finish_non_exhaustive()
    }
}

impl<O: DeserializeOwned, E: DeserializeOwned> TaskFuture<O, E> {
    pub(crate) fn new(cell: Arc<Cell>, pool: Weak<crate::slot::Shared>, limit: usize) -> Self {
        TaskFuture {
            cell,
            pool,
            limit,
            types: PhantomData,
        }
    }

    fn finish(&self, outcome: Outcome) -> Result<O, ProcessError<E>> {
        let mut position = ItemPosition::default();
        match position.next(&outcome.frames) {
            Some((status, bytes)) => decode(status, bytes, self.limit),
            None => Err(outcome.failure.unwrap_or(Failure::Cancelled).typed()),
        }
    }

    /// Blocks until the task finished and returns its output, or why it has none.
    ///
    /// # Errors
    ///
    /// [`ProcessError::Task`] with the task's own error, or any of the pool's errors
    /// (the worker died, the task timed out, was cancelled, panicked...).
    pub fn wait(self) -> Result<O, ProcessError<E>> {
        let outcome = self.cell.take(None).unwrap_or_default();
        self.finish(outcome)
    }

    /// Like [`wait`](TaskFuture::wait), for at most `timeout`; gives the future back
    /// if the task has not finished by then (the task goes on; this only stops
    /// waiting).
    ///
    /// # Errors
    ///
    /// `Err(self)` when the time ran out; inside `Ok`, as for [`wait`](TaskFuture::wait).
    pub fn wait_timeout(self, timeout: Duration) -> Result<Result<O, ProcessError<E>>, Self> {
        let deadline = Instant::now().checked_add(timeout);
        match self.cell.take(Some(deadline.unwrap_or_else(far_future))) {
            Some(outcome) => Ok(self.finish(outcome)),
            None => Err(self),
        }
    }
}

impl<O, E> TaskFuture<O, E> {
    /// Whether the result is there (`wait` would not block).
    pub fn is_done(&self) -> bool {
        self.cell.status().0
    }

    /// Cancels the task if it has not been handed to a worker yet; returns whether it
    /// did. A cancelled task's result is [`ProcessError::Cancelled`].
    ///
    /// A task written to a worker is handed over even if it waits in the worker's
    /// socket behind the task running there (each worker holds at most one such), as
    /// a task in Python's call queue can no longer be cancelled.
    pub fn cancel(&self) -> bool {
        match self.pool.upgrade() {
            Some(pool) => pool.cancel(&self.cell),
            None => false,
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(60 * 60 * 24 * 365)
}

impl<O: DeserializeOwned, E: DeserializeOwned> Future for TaskFuture<O, E> {
    type Output = Result<O, ProcessError<E>>;

    /// Polling again after `Ready` gives `Err(ProcessError::Cancelled)`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.cell.poll_take(cx).map(|outcome| self.finish(outcome))
    }
}

impl<O, E> Unpin for TaskFuture<O, E> {}

/// When [`wait`] returns, as in Python's `concurrent.futures.wait`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReturnWhen {
    /// As soon as any future is done.
    FirstCompleted,
    /// As soon as any future is done with an error (or when all are done).
    FirstException,
    /// When all are done.
    AllCompleted,
}

/// What [`wait`] found: the indices (into the slice it was given) of the futures
/// that are done and of those that are not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Done {
    /// Futures whose result is there.
    pub done: Vec<usize>,
    /// Futures still running or queued.
    pub not_done: Vec<usize>,
}

/// Blocks until `when` holds for `futures`, like Python's
/// `concurrent.futures.wait(fs, return_when=..)`; the futures stay the caller's.
///
/// An empty slice returns at once.
///
/// # Examples
///
/// ```no_run
/// # #[weft_process::task]
/// # fn square(x: u64) -> u64 { x * x }
/// use weft_process::{ProcessPool, ReturnWhen};
///
/// weft_process::init();
/// let pool = ProcessPool::builder().workers(2).build()?;
/// let futures: Vec<_> = (0..4).map(|x| pool.submit(square, x)).collect();
/// let done = weft_process::wait(&futures, ReturnWhen::FirstCompleted);
/// assert!(!done.done.is_empty());
/// # Ok::<(), weft_process::ProcessError>(())
/// ```
pub fn wait<O, E>(futures: &[TaskFuture<O, E>], when: ReturnWhen) -> Done {
    wait_deadline(futures, when, None)
}

/// [`wait`] for at most `timeout`; on time-out, returns what is done so far.
pub fn wait_timeout<O, E>(
    futures: &[TaskFuture<O, E>],
    when: ReturnWhen,
    timeout: Duration,
) -> Done {
    wait_deadline(
        futures,
        when,
        Some(
            Instant::now()
                .checked_add(timeout)
                .unwrap_or_else(far_future),
        ),
    )
}

fn wait_deadline<O, E>(
    futures: &[TaskFuture<O, E>],
    when: ReturnWhen,
    deadline: Option<Instant>,
) -> Done {
    // Each cell reports its index once, when it completes (at once if it already
    // has): the loop only looks at what changed, so waiting for all of n futures is
    // O(n), not a rescan per completion.
    let watch = Arc::new(Watch::default());
    for (index, future) in futures.iter().enumerate() {
        future.cell.watch(&watch, index);
    }
    let mut finished = vec![false; futures.len()];
    let mut done_count = 0;
    let mut any_error = false;
    let mut ready = watch.ready.lock();
    loop {
        while let Some(index) = ready.pop_front() {
            if let Some(seen) = finished.get_mut(index)
                && !*seen
            {
                *seen = true;
                done_count += 1;
                any_error |= futures[index].cell.status().1;
            }
        }
        let enough = done_count == futures.len()
            || match when {
                ReturnWhen::FirstCompleted => done_count > 0,
                ReturnWhen::FirstException => any_error,
                ReturnWhen::AllCompleted => false,
            };
        let expired = deadline.is_some_and(|deadline| Instant::now() >= deadline);
        if enough || expired {
            let mut done = Done::default();
            for (index, finished) in finished.iter().enumerate() {
                if *finished {
                    done.done.push(index);
                } else {
                    done.not_done.push(index);
                }
            }
            return done;
        }
        match deadline {
            Some(deadline) => {
                let _ = watch.cond.wait_until(&mut ready, deadline);
            }
            None => watch.cond.wait(&mut ready),
        }
    }
}

/// Yields each future's result as it finishes, with the future's index in the input,
/// like Python's `concurrent.futures.as_completed`.
///
/// # Examples
///
/// ```no_run
/// # #[weft_process::task]
/// # fn square(x: u64) -> u64 { x * x }
/// use weft_process::ProcessPool;
///
/// weft_process::init();
/// let pool = ProcessPool::builder().workers(2).build()?;
/// let futures: Vec<_> = (0..8).map(|x| pool.submit(square, x)).collect();
/// for (index, result) in weft_process::as_completed(futures) {
///     assert_eq!(result?, (index as u64).pow(2));
/// }
/// # Ok::<(), weft_process::ProcessError>(())
/// ```
pub fn as_completed<O, E, I>(futures: I) -> AsCompleted<O, E>
where
    I: IntoIterator<Item = TaskFuture<O, E>>,
{
    let futures: Vec<Option<TaskFuture<O, E>>> = futures.into_iter().map(Some).collect();
    let watch = Arc::new(Watch::default());
    for (index, future) in futures.iter().enumerate() {
        if let Some(future) = future {
            future.cell.watch(&watch, index);
        }
    }
    AsCompleted {
        left: futures.len(),
        futures,
        watch,
    }
}

/// The iterator [`as_completed`] returns.
pub struct AsCompleted<O, E = NoError> {
    futures: Vec<Option<TaskFuture<O, E>>>,
    watch: Arc<Watch>,
    left: usize,
}

impl<O, E> fmt::Debug for AsCompleted<O, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

impl<O: DeserializeOwned, E: DeserializeOwned> Iterator for AsCompleted<O, E> {
    type Item = (usize, Result<O, ProcessError<E>>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let index = {
            let mut ready = self.watch.ready.lock();
            loop {
                match ready.pop_front() {
                    Some(index) if self.futures.get(index).is_some_and(Option::is_some) => {
                        break index;
                    }
                    Some(_) => {}
                    None => self.watch.cond.wait(&mut ready),
                }
            }
        };
        self.left -= 1;
        let future = self.futures[index].take()?;
        Some((index, future.wait()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}
