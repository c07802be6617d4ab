//! Structured concurrency: [`TaskGroup`] (tasks that live and die together) and
//! [`deadline`] (a scope that is cancelled, with every group inside it, when time
//! runs out).
//!
//! A [`TaskGroup`] owns the tasks spawned into it. [`join`](TaskGroup::join) waits
//! for all of them and gives their values in spawn order; the first task that fails
//! (returns `Err`, panics, or is cancelled by something other than the group) makes
//! the group cancel the others, and `join` then returns every failure together in a
//! [`GroupError`]. The tasks are ordinary runtime tasks ([`spawn`](crate::spawn) on
//! the current runtime), so they run in parallel on the workers; the group keeps
//! their [`JoinHandle`]s.
//!
//! # No task outlives its group
//!
//! Cancellation is *cooperative*: a cancelled task's future is dropped at an await
//! point, never in the middle of a poll. Exactly:
//!
//! 1. **When `join` returns** (`Ok` or `Err`), every task of the group has finished:
//!    its future has been dropped (after producing its output, unwinding, or being
//!    cancelled). `join` waits for the tasks it cancelled, so this holds for them too.
//!    A task stuck inside one poll (blocking the thread) therefore delays `join` until
//!    that poll returns.
//! 2. **When the group is dropped** without being joined (including when the future
//!    that owns it is dropped, as [`deadline`] does), every task is aborted. `Drop`
//!    cannot wait (it may run on a worker), so the futures are dropped shortly after:
//!    a task waiting at an await point is dropped as soon as a worker reaches the
//!    abort (one scheduling round), and a task that is mid-poll on another worker
//!    drops its future when that poll returns. None of the tasks is polled again
//!    after its abort was requested, except a poll already in progress.
//! 3. [`cancel`](TaskGroup::cancel) aborts every task the same way and keeps the
//!    group joinable: `join` afterwards waits for all of them (guarantee 1).
//!
//! A task that a runtime drops while shutting down counts as cancelled *by something
//! other than the group*: it is a failure of the group.
//!
//! # Deadlines
//!
//! [`deadline(instant, future)`](deadline) runs `future` until `instant` at the
//! latest. When the deadline passes, the future is dropped on the spot, with every
//! [`TaskGroup`] it owns, so their tasks are cancelled too (guarantee 2), and the
//! deadline gives [`Elapsed`]. Deadlines nest: the earliest one wins.
//!
//! # Cancel safety of weft's futures
//!
//! Each future's own docs say the same under *Cancel safety*; this is the summary.
//!
//! A future is *cancel-safe* if dropping it before it completes loses nothing: no
//! message, no permit, no lock, no wake-up owed to someone else. This is what makes a
//! future safe to use in a branch that may lose a race (a deadline, a `select`), or in
//! a group task that may be cancelled. From reading their implementations:
//!
//! | future | cancel-safe? | what dropping it early does |
//! |---|---|---|
//! | [`time::sleep`](crate::time::sleep), [`sleep_until`](crate::time::sleep_until) | yes | cancels the timer |
//! | [`time::timeout`](crate::time::timeout), [`timeout_at`](crate::time::timeout_at), [`deadline`] | as the inner future | drops the inner future and the timer |
//! | [`Interval::tick`](crate::time::Interval::tick) | yes | the tick is not consumed: the next `tick` returns it |
//! | [`JoinHandle`] | yes | *detaches* the task (it runs on; its output is dropped): dropping a handle does not cancel |
//! | [`compute`](crate::compute), [`spawn_blocking`](crate::spawn_blocking) handles | yes | as `JoinHandle`: the closure still runs to the end |
//! | [`TaskGroup::join`] | yes | drops the group: cancels its tasks (guarantee 2) |
//! | [`Spawner::spawn`](crate::Spawner::spawn) | yes | nothing is spawned; the future is dropped; no slot is taken |
//! | [`sync::Notify::notified`](crate::sync::Notify::notified) | yes | a `notify_one` permit it did not take stays stored for the next waiter; a `notify_waiters` it was owed is lost (it was for the waiters of that moment) |
//! | weft-channel `recv_async` / the receiver's stream | yes | no message is lost: a wake-up it had received passes to another waiter |
//! | weft-channel `send_async` | no: the message is lost | nothing is half sent, but the message is **dropped**, not sent; keep it (`try_send`, then retry) if it matters |
//! | weft-sync `Semaphore::acquire*_async` | yes | takes no permits; a wake-up passes on |
//! | weft-sync async `Mutex::lock_async` / `RwLock` read, write, upgradable | yes | the lock is untouched (a writer cancelled while draining readers undoes its claim) |
//! | weft-io `Async::readable` / `writable` | yes | readiness is not consumed (only a `WouldBlock` read/write clears it) |
//! | weft-io `Async::read_with` / `write_with` | if `op` is | the operation runs whole inside one poll, so data is never half read |
//! | [`net`](crate::net) `accept`, `recv`, `recv_from`, `send`, `send_to`, `poll_read`/`poll_write` | yes | each is `read_with`/`write_with` over one system call: done whole in one poll, or not at all |
//! | [`net`](crate::net) `TcpStream::connect` | yes, nothing is lost | the attempt is abandoned and its socket closed |
//! | a future that awaits several of the above in turn | not in general | work done by the earlier steps is lost with it |
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use weft_rt::TaskGroup;
//!
//! let rt = weft_rt::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let mut group: TaskGroup<u32, String> = TaskGroup::new();
//!     for i in 0..4 {
//!         group.spawn(async move { Ok(i * 10) });
//!     }
//!     assert_eq!(group.join().await.unwrap(), vec![0, 10, 20, 30]);
//!
//!     // One failure cancels the rest, which would otherwise sleep for an hour.
//!     let mut group: TaskGroup<(), String> = TaskGroup::new();
//!     for _ in 0..3 {
//!         group.spawn(async {
//!             weft_rt::time::sleep(Duration::from_secs(3600)).await;
//!             Ok(())
//!         });
//!     }
//!     group.spawn(async { Err("no disk space".to_string()) });
//!     let error = group.await.unwrap_err();
//!     assert_eq!(error.failures().len(), 1);
//!     assert_eq!(error.cancelled_tasks(), 3);
//! });
//! ```

use std::any::Any;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use weft_sync::primitive::atomic::{AtomicBool, Ordering};

use crate::task::{Id, JoinError, JoinHandle};
use crate::time::{Elapsed, Instant, Timeout};

/// Tasks that are joined together and cancelled together: see the [module
/// docs](self) for the guarantees.
///
/// `T` is each task's value, `E` its error: tasks are futures that return
/// `Result<T, E>` ([`spawn`](Self::spawn)), or plain `T` for a group that only fails
/// by panicking ([`spawn_infallible`](Self::spawn_infallible), with `E` left at its
/// default, [`Infallible`]). Type defaults do not guide inference, so a group of
/// plain values is written `TaskGroup<_>`.
///
/// Awaiting the group is the same as awaiting [`join`](Self::join).
///
/// # Examples
///
/// ```
/// use weft_rt::TaskGroup;
///
/// let rt = weft_rt::Runtime::new().unwrap();
/// let lengths = rt.block_on(async {
///     let mut group: TaskGroup<_> = TaskGroup::new();
///     for word in ["structured", "concurrency"] {
///         group.spawn_infallible(async move { word.len() });
///     }
///     group.await
/// });
/// assert_eq!(lengths.unwrap(), vec![10, 11]);
/// ```
pub struct TaskGroup<T, E = Infallible> {
    set: TaskSet<Result<T, E>>,
    /// One per spawned task, in spawn order; filled as tasks succeed.
    values: Vec<Option<T>>,
    failures: Vec<TaskFailure<E>>,
    cancelled_tasks: usize,
    state: GroupState,
}

/// Whether the group is still collecting values, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GroupState {
    Running,
    /// A task failed; the others were aborted.
    Failed,
    /// [`TaskGroup::cancel`] was called.
    Cancelled,
}

impl<T, E> TaskGroup<T, E> {
    /// An empty group.
    ///
    /// # Examples
    ///
    /// ```
    /// let group: weft_rt::TaskGroup<u8, std::io::Error> = weft_rt::TaskGroup::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn new() -> Self {
        TaskGroup {
            set: TaskSet::new(),
            values: Vec::new(),
            failures: Vec::new(),
            cancelled_tasks: 0,
            state: GroupState::Running,
        }
    }

    /// How many tasks were spawned into the group (finished or not): the length of
    /// the `Vec` a successful [`join`](Self::join) returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_rt::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group: weft_rt::TaskGroup<_> = weft_rt::TaskGroup::new();
    ///     group.spawn_infallible(async {});
    ///     group.spawn_infallible(async {});
    ///     assert_eq!(group.len(), 2);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no task was spawned into the group.
    ///
    /// # Examples
    ///
    /// ```
    /// let group: weft_rt::TaskGroup<()> = weft_rt::TaskGroup::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Cancels every task of the group (each sees its future dropped at its next
    /// await point) and every task spawned into it from now on. The group can still
    /// be joined, which waits until all of them are gone and then returns a
    /// [`GroupError`] whose [`is_cancelled`](GroupError::is_cancelled) is `true`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft_rt::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group: weft_rt::TaskGroup<_> = weft_rt::TaskGroup::new();
    ///     group.spawn_infallible(weft_rt::time::sleep(Duration::from_secs(3600)));
    ///     group.cancel();
    ///     let error = group.join().await.unwrap_err();
    ///     assert!(error.is_cancelled());
    /// });
    /// ```
    pub fn cancel(&mut self) {
        if self.state == GroupState::Running {
            self.state = GroupState::Cancelled;
        }
        self.set.abort_all();
    }

    /// Whether the group has stopped collecting values: it was cancelled, or a task
    /// failed (seen while joining).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut group: weft_rt::TaskGroup<()> = weft_rt::TaskGroup::new();
    /// assert!(!group.is_cancelled());
    /// group.cancel();
    /// assert!(group.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.state != GroupState::Running
    }

    /// Waits for every task and returns their values in spawn order, or, if any
    /// failed, cancels the rest, waits for them too, and returns every failure.
    /// Dropping the returned future drops the group (its tasks are cancelled).
    ///
    /// # Errors
    ///
    /// A [`GroupError`] if a task returned `Err`, panicked or was cancelled by
    /// something other than the group, or if the group was [`cancel`](Self::cancel)led.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_rt::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group = weft_rt::TaskGroup::new();
    ///     group.spawn(async { Ok(1) });
    ///     group.spawn(async { Err("bad input") });
    ///     let error = group.join().await.unwrap_err();
    ///     let failure = &error.failures()[0];
    ///     assert_eq!(failure.index(), 1);
    ///     assert_eq!(failure.error(), Some(&"bad input"));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the `Join` drops the group, which cancels its tasks; no task
    /// outlives it.
    pub fn join(self) -> Join<T, E> {
        Join { group: self }
    }

    fn poll_join(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<T>, GroupError<E>>> {
        loop {
            match self.set.poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(done)) => self.record(done),
                Poll::Ready(None) => return Poll::Ready(self.finish()),
            }
        }
    }

    fn record(&mut self, done: Done<Result<T, E>>) {
        let Done {
            tag: index,
            id,
            result,
        } = done;
        let repr = match result {
            Ok(Ok(value)) => {
                if self.state == GroupState::Running {
                    self.values[index] = Some(value);
                }
                return;
            }
            Ok(Err(error)) => FailureRepr::Error(error),
            Err(error) if error.is_cancelled() => {
                if self.state != GroupState::Running {
                    // Ours: the group aborted it.
                    self.cancelled_tasks += 1;
                    return;
                }
                FailureRepr::Cancelled
            }
            Err(error) => FailureRepr::panic(error),
        };
        self.failures.push(TaskFailure { index, id, repr });
        if self.state == GroupState::Running {
            self.state = GroupState::Failed;
            self.set.abort_all();
        }
    }

    fn finish(&mut self) -> Result<Vec<T>, GroupError<E>> {
        let tasks = self.values.len();
        if self.state == GroupState::Running {
            // Every task produced its value: no `None` is left.
            return Ok(self.values.drain(..).flatten().collect());
        }
        self.values.clear();
        Err(GroupError {
            failures: std::mem::take(&mut self.failures),
            cancelled_tasks: self.cancelled_tasks,
            tasks,
            cancelled_by_caller: self.state == GroupState::Cancelled,
        })
    }
}

impl<T, E> TaskGroup<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// Spawns `future` on the current runtime (as [`spawn`](crate::spawn)) as a task
    /// of this group, and returns its id. If the group was cancelled, the task is
    /// cancelled at once (its future is dropped without being polled, unless a worker
    /// got to it first).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_rt::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group = weft_rt::TaskGroup::new();
    ///     group.spawn(async { "42".parse::<u32>() });
    ///     group.spawn(async { "7".parse::<u32>() });
    ///     assert_eq!(group.join().await.unwrap(), vec![42, 7]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> Id
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let handle = crate::spawn(future);
        let id = handle.id();
        if self.state != GroupState::Running {
            handle.abort();
        }
        let index = self.values.len();
        self.values.push(None);
        self.set.insert(handle, index);
        id
    }

    /// Spawns a future whose output is a plain value (it cannot return an error; a
    /// panic still fails the group). Otherwise as [`spawn`](Self::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_rt::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group: weft_rt::TaskGroup<_> = weft_rt::TaskGroup::new();
    ///     for i in 1..=3u64 {
    ///         group.spawn_infallible(async move { i * i });
    ///     }
    ///     assert_eq!(group.join().await.unwrap(), vec![1, 4, 9]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_infallible<F>(&mut self, future: F) -> Id
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.spawn(async move { Ok(future.await) })
    }
}

impl<T, E> Default for TaskGroup<T, E> {
    fn default() -> Self {
        TaskGroup::new()
    }
}

impl<T, E> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("tasks", &self.values.len())
            .field("unfinished", &self.set.len())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<T, E> IntoFuture for TaskGroup<T, E> {
    type Output = Result<Vec<T>, GroupError<E>>;
    type IntoFuture = Join<T, E>;

    fn into_future(self) -> Join<T, E> {
        self.join()
    }
}

/// The future of [`TaskGroup::join`]: it owns the group, so dropping it cancels the
/// group's tasks. Polling it again after it completed returns an empty result.
#[must_use = "futures do nothing unless polled; dropping this cancels the group"]
pub struct Join<T, E = Infallible> {
    group: TaskGroup<T, E>,
}

// Nothing of a group is pinned: values and errors sit in `Vec`s and are only moved.
impl<T, E> Unpin for Join<T, E> {}

impl<T, E> Future for Join<T, E> {
    type Output = Result<Vec<T>, GroupError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.group.poll_join(cx)
    }
}

impl<T, E> fmt::Debug for Join<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").field("group", &self.group).finish()
    }
}

/// Why a [`TaskGroup`] gave no values: every task that failed, and how many the group
/// cancelled.
///
/// The failures are listed in the order the group saw them, so the first one is the
/// failure that made the group cancel the others. Tasks that failed at about the
/// same time are all listed; tasks cancelled by the group are only counted.
///
/// # Examples
///
/// ```
/// let rt = weft_rt::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut group: weft_rt::TaskGroup<(), std::io::Error> = weft_rt::TaskGroup::new();
///     group.spawn(async { Err(std::io::Error::other("disk on fire")) });
///     let error = group.join().await.unwrap_err();
///     assert!(error.to_string().contains("disk on fire"));
///     // Converts into a boxed error for `?`.
///     let _boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
/// });
/// ```
pub struct GroupError<E> {
    failures: Vec<TaskFailure<E>>,
    cancelled_tasks: usize,
    tasks: usize,
    cancelled_by_caller: bool,
}

impl<E> GroupError<E> {
    /// Every task that failed, first failure first.
    ///
    /// # Examples
    ///
    /// ```
    /// fn indices(error: &weft_rt::GroupError<String>) -> Vec<usize> {
    ///     error.failures().iter().map(|failure| failure.index()).collect()
    /// }
    /// # let _ = indices;
    /// ```
    pub fn failures(&self) -> &[TaskFailure<E>] {
        &self.failures
    }

    /// The failures, by value.
    ///
    /// # Examples
    ///
    /// ```
    /// fn errors(error: weft_rt::GroupError<String>) -> Vec<String> {
    ///     error.into_failures().into_iter().filter_map(|f| f.into_error()).collect()
    /// }
    /// # let _ = errors;
    /// ```
    pub fn into_failures(self) -> Vec<TaskFailure<E>> {
        self.failures
    }

    /// How many tasks the group cancelled (after the first failure, or on
    /// [`TaskGroup::cancel`]) before they produced anything.
    ///
    /// # Examples
    ///
    /// ```
    /// fn report(error: &weft_rt::GroupError<String>) -> String {
    ///     format!("{} failed, {} cancelled", error.failures().len(), error.cancelled_tasks())
    /// }
    /// # let _ = report;
    /// ```
    pub fn cancelled_tasks(&self) -> usize {
        self.cancelled_tasks
    }

    /// How many tasks the group had.
    ///
    /// # Examples
    ///
    /// ```
    /// fn total(error: &weft_rt::GroupError<String>) -> usize {
    ///     error.tasks()
    /// }
    /// # let _ = total;
    /// ```
    pub fn tasks(&self) -> usize {
        self.tasks
    }

    /// Whether the group was stopped by [`TaskGroup::cancel`] (there may be failures
    /// too, from tasks that failed before or while it was cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// fn was_cancelled(error: &weft_rt::GroupError<String>) -> bool {
    ///     error.is_cancelled()
    /// }
    /// # let _ = was_cancelled;
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.cancelled_by_caller
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.failures.is_empty() {
            return write!(
                f,
                "task group cancelled ({} of {} tasks cancelled)",
                self.cancelled_tasks, self.tasks
            );
        }
        write!(
            f,
            "{} of {} tasks in the group failed",
            self.failures.len(),
            self.tasks
        )?;
        if self.cancelled_by_caller {
            f.write_str(" (the group was cancelled)")?;
        }
        if self.cancelled_tasks > 0 {
            write!(f, ", {} cancelled", self.cancelled_tasks)?;
        }
        for (n, failure) in self.failures.iter().enumerate() {
            f.write_str(if n == 0 { ": " } else { "; " })?;
            fmt::Display::fmt(failure, f)?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug> fmt::Debug for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupError")
            .field("failures", &self.failures)
            .field("cancelled_tasks", &self.cancelled_tasks)
            .field("tasks", &self.tasks)
            .field("cancelled_by_caller", &self.cancelled_by_caller)
            .finish()
    }
}

impl<E: Error + 'static> Error for GroupError<E> {
    /// The first failed task's error, if it returned one.
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.failures
            .first()
            .and_then(|failure| failure.error())
            .map(|error| error as &(dyn Error + 'static))
    }
}

/// One failed task of a [`TaskGroup`]: which task, and how it failed (it returned an
/// error, panicked, or was cancelled by something other than the group, such as a
/// runtime shutting down).
///
/// # Examples
///
/// ```
/// use weft_rt::TaskFailure;
///
/// fn describe(failure: &TaskFailure<String>) -> String {
///     if let Some(error) = failure.error() {
///         format!("task {} failed: {error}", failure.index())
///     } else if let Some(message) = failure.panic_message() {
///         format!("task {} panicked: {message}", failure.index())
///     } else {
///         format!("task {} failed: {failure}", failure.index())
///     }
/// }
/// # let _ = describe;
/// ```
pub struct TaskFailure<E> {
    index: usize,
    id: Id,
    repr: FailureRepr<E>,
}

enum FailureRepr<E> {
    Error(E),
    Panic {
        /// A `Mutex` only to make the failure `Sync` (the payload is only `Send`); it
        /// is reached by value (`into_panic`), never locked while shared.
        payload: Mutex<Box<dyn Any + Send + 'static>>,
        /// Copied at creation when the payload is a `&str` or `String`.
        message: Option<String>,
    },
    Cancelled,
}

impl<E> FailureRepr<E> {
    fn panic(error: JoinError) -> Self {
        match error.try_into_panic() {
            Ok(payload) => {
                let message = payload
                    .downcast_ref::<&'static str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned());
                FailureRepr::Panic {
                    payload: Mutex::new(payload),
                    message,
                }
            }
            Err(_) => FailureRepr::Cancelled,
        }
    }
}

impl<E> TaskFailure<E> {
    /// The task's position in the group: 0 for the first task spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// fn position(failure: &weft_rt::TaskFailure<String>) -> usize {
    ///     failure.index()
    /// }
    /// # let _ = position;
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The task's id.
    ///
    /// # Examples
    ///
    /// ```
    /// fn id(failure: &weft_rt::TaskFailure<String>) -> weft_rt::Id {
    ///     failure.id()
    /// }
    /// # let _ = id;
    /// ```
    pub fn id(&self) -> Id {
        self.id
    }

    /// The error the task returned, if that is how it failed.
    ///
    /// # Examples
    ///
    /// ```
    /// fn error(failure: &weft_rt::TaskFailure<String>) -> Option<&str> {
    ///     failure.error().map(String::as_str)
    /// }
    /// # let _ = error;
    /// ```
    pub fn error(&self) -> Option<&E> {
        match &self.repr {
            FailureRepr::Error(error) => Some(error),
            _ => None,
        }
    }

    /// The error the task returned, by value.
    ///
    /// # Examples
    ///
    /// ```
    /// fn error(failure: weft_rt::TaskFailure<String>) -> Option<String> {
    ///     failure.into_error()
    /// }
    /// # let _ = error;
    /// ```
    pub fn into_error(self) -> Option<E> {
        match self.repr {
            FailureRepr::Error(error) => Some(error),
            _ => None,
        }
    }

    /// Whether the task panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// fn panicked(failure: &weft_rt::TaskFailure<String>) -> bool {
    ///     failure.is_panic()
    /// }
    /// # let _ = panicked;
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, FailureRepr::Panic { .. })
    }

    /// The panic's message, if the task panicked with a string (as `panic!` with a
    /// message does).
    ///
    /// # Examples
    ///
    /// ```
    /// fn message(failure: &weft_rt::TaskFailure<String>) -> &str {
    ///     failure.panic_message().unwrap_or("(not a panic, or no message)")
    /// }
    /// # let _ = message;
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            FailureRepr::Panic { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// The panic payload, to re-raise with [`std::panic::resume_unwind`].
    ///
    /// # Examples
    ///
    /// ```
    /// fn rethrow(failure: weft_rt::TaskFailure<String>) {
    ///     if let Some(payload) = failure.into_panic() {
    ///         std::panic::resume_unwind(payload);
    ///     }
    /// }
    /// # let _ = rethrow;
    /// ```
    pub fn into_panic(self) -> Option<Box<dyn Any + Send + 'static>> {
        match self.repr {
            FailureRepr::Panic { payload, .. } => {
                Some(payload.into_inner().unwrap_or_else(PoisonError::into_inner))
            }
            _ => None,
        }
    }

    /// Whether the task was cancelled by something other than its group (a runtime
    /// shutting down).
    ///
    /// # Examples
    ///
    /// ```
    /// fn cancelled(failure: &weft_rt::TaskFailure<String>) -> bool {
    ///     failure.is_cancelled()
    /// }
    /// # let _ = cancelled;
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, FailureRepr::Cancelled)
    }
}

impl<E: fmt::Display> fmt::Display for TaskFailure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {} (id {}) ", self.index, self.id)?;
        match &self.repr {
            FailureRepr::Error(error) => write!(f, "returned an error: {error}"),
            FailureRepr::Panic {
                message: Some(message),
                ..
            } => write!(f, "panicked with message {message:?}"),
            FailureRepr::Panic { message: None, .. } => f.write_str("panicked"),
            FailureRepr::Cancelled => f.write_str("was cancelled outside its group"),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for TaskFailure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TaskFailure");
        out.field("index", &self.index).field("id", &self.id);
        match &self.repr {
            FailureRepr::Error(error) => out.field("error", error),
            FailureRepr::Panic { message, .. } => {
                out.field("panic", &message.as_deref().unwrap_or("..."))
            }
            FailureRepr::Cancelled => out.field("cancelled", &true),
        };
        out.finish()
    }
}

/// Runs `future` until `deadline` at the latest: `Ok` with its output, or
/// [`Elapsed`] if the deadline passed first. The moment it passes, the future is
/// dropped, and with it every [`TaskGroup`] it owns, which cancels their tasks (see
/// the [module docs](self)). The future is polled before the clock is checked, so a
/// ready future wins even against a past deadline.
///
/// This is [`time::timeout_at`](crate::time::timeout_at) that also drops the future
/// as soon as it is decided, not when the returned future is dropped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_rt::time::Instant;
///
/// let rt = weft_rt::Runtime::new().unwrap();
/// rt.block_on(async {
///     let at = Instant::now() + Duration::from_millis(10);
///     let outcome = weft_rt::deadline(at, async {
///         let mut group: weft_rt::TaskGroup<_> = weft_rt::TaskGroup::new();
///         group.spawn_infallible(weft_rt::time::sleep(Duration::from_secs(3600)));
///         group.join().await
///     })
///     .await;
///     // The group, and its hour-long task, were cancelled at the deadline.
///     assert!(outcome.is_err());
/// });
/// ```
pub fn deadline<F: Future>(deadline: Instant, future: F) -> Deadline<F> {
    Deadline {
        inner: Some(crate::time::timeout_at(deadline, future)),
    }
}

/// The future of [`deadline`]. Polling it again after it completed returns
/// `Pending`.
#[must_use = "futures do nothing unless polled"]
pub struct Deadline<F> {
    /// `None` once decided: the future and the timer are dropped then.
    inner: Option<Timeout<F>>,
}

impl<F: Future> Future for Deadline<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out, only dropped
        // in place by the assignment below (what `Pin::set` does), and `Deadline` has
        // no `Drop` impl and is `Unpin` only when `F` is.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Pending;
        };
        // SAFETY: as above: `inner` stays where it is until it is dropped in place.
        let outcome = std::task::ready!(unsafe { Pin::new_unchecked(inner) }.poll(cx));
        this.inner = None;
        Poll::Ready(outcome)
    }
}

impl<F> fmt::Debug for Deadline<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline")
            .field("decided", &self.inner.is_none())
            .finish_non_exhaustive()
    }
}

/// A finished task of a [`TaskSet`].
pub(crate) struct Done<T> {
    /// The tag the task was inserted with.
    pub(crate) tag: usize,
    pub(crate) id: Id,
    pub(crate) result: Result<T, JoinError>,
}

/// A set of [`JoinHandle`]s that yields each output as its task finishes, polling
/// only the handles whose tasks woke it (as `FuturesUnordered` does, written here for
/// join handles): each handle is polled with a waker of its own, which queues the
/// handle's slot on a shared ready list and wakes the set's owner. Dropping the set
/// aborts its tasks.
///
/// The ready list is a mutex-protected `Vec` (the lock is held for a push or a
/// swap, never across a poll). Each slot's `queued` flag keeps a slot on the list at
/// most once between two polls of it; the flag is a hint, a slot polled spuriously
/// (a stale wake from a previous occupant of a reused slot) only costs a poll.
pub(crate) struct TaskSet<T> {
    entries: Vec<Option<Entry<T>>>,
    free: Vec<usize>,
    len: usize,
    ready: Arc<ReadyList>,
    /// Slots taken off the ready list, not yet polled.
    drained: VecDeque<usize>,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    notifier: Arc<SlotWaker>,
    waker: Waker,
    tag: usize,
}

#[derive(Default)]
struct ReadyList {
    inner: Mutex<ReadyInner>,
}

#[derive(Default)]
struct ReadyInner {
    slots: Vec<usize>,
    /// The set owner's waker, taken by the first wake after each registration.
    waker: Option<Waker>,
}

impl ReadyList {
    fn lock(&self) -> std::sync::MutexGuard<'_, ReadyInner> {
        // Nothing panics while the lock is held (pushes, swaps, a waker clone).
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct SlotWaker {
    slot: usize,
    queued: AtomicBool,
    list: Arc<ReadyList>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // AcqRel: Release publishes what the waking task did (it completed) to the
        // owner's Acquire `swap(false)` in `poll_next`, which reads this write (both
        // are RMWs on one flag); if that swap already ran, this one sees `false` and
        // queues the slot again.
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let waker = {
            let mut inner = self.list.lock();
            inner.slots.push(self.slot);
            inner.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> TaskSet<T> {
    pub(crate) fn new() -> Self {
        TaskSet {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
            ready: Arc::default(),
            drained: VecDeque::new(),
        }
    }

    /// Tasks in the set (not yet yielded by `poll_next`).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn insert(&mut self, handle: JoinHandle<T>, tag: usize) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.entries.push(None);
            self.entries.len() - 1
        });
        let notifier = Arc::new(SlotWaker {
            slot,
            // Queued directly below, for the first poll that registers the waker.
            queued: AtomicBool::new(true),
            list: Arc::clone(&self.ready),
        });
        let waker = Waker::from(Arc::clone(&notifier));
        self.entries[slot] = Some(Entry {
            handle,
            notifier,
            waker,
            tag,
        });
        self.len += 1;
        self.drained.push_back(slot);
    }

    pub(crate) fn abort_all(&self) {
        for entry in self.entries.iter().flatten() {
            entry.handle.abort();
        }
    }

    /// The next finished task, `Pending` while none is, `None` once the set is empty.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Done<T>>> {
        loop {
            while let Some(slot) = self.drained.pop_front() {
                let Some(entry) = self.entries.get_mut(slot).and_then(Option::as_mut) else {
                    continue; // a stale wake for an emptied slot
                };
                // Acquire: pairs with the waker's Release swap (see `wake_by_ref`).
                entry.notifier.queued.swap(false, Ordering::AcqRel);
                let mut task_cx = Context::from_waker(&entry.waker);
                if let Poll::Ready(result) = Pin::new(&mut entry.handle).poll(&mut task_cx) {
                    let id = entry.handle.id();
                    let tag = entry.tag;
                    self.entries[slot] = None;
                    self.free.push(slot);
                    self.len -= 1;
                    return Poll::Ready(Some(Done { tag, id, result }));
                }
            }
            if self.len == 0 {
                return Poll::Ready(None);
            }
            let mut inner = self.ready.lock();
            if !inner
                .waker
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()))
            {
                inner.waker = Some(cx.waker().clone());
            }
            if inner.slots.is_empty() {
                return Poll::Pending;
            }
            self.drained.extend(inner.slots.drain(..));
        }
    }
}

impl<T> Drop for TaskSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for TaskSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSet")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}
