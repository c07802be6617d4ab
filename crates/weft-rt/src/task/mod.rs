//! Tasks: the unit the runtime schedules, and the handles that observe it.
//!
//! A task is **one heap allocation**: a header (the atomic state word, a vtable
//! pointer, the id, the spawn location and optional name, the JoinHandle's waker
//! slot), the scheduler handle `S`, and a stage cell that holds the future, then its
//! output (or the error), then nothing. Three kinds of handle point at it, each holding
//! one reference: the `Runnable` (the right to poll it once, crate-internal), every
//! [`Waker`](std::task::Waker) made from it, the [`JoinHandle`] and each
//! [`AbortHandle`]. The last reference to go frees the allocation.
//!
//! The design follows the shape shared by async-task (smol) and tokio's task module: a
//! state word that combines flags with a reference count, so that each transition is
//! one atomic RMW. It was written from that design, not from their code.
//!
//! # The state word
//!
//! | bit | name | meaning |
//! |---|---|---|
//! | 0 | `SCHEDULED` | a Runnable exists (queued, or about to be run) |
//! | 1 | `RUNNING` | a runner owns the stage (polling or cancelling) |
//! | 2 | `COMPLETED` | the stage holds the result, or nothing: the future is gone |
//! | 3 | `CLOSED` | `abort` was requested; the next runner drops the future |
//! | 4 | `JOIN_INTEREST` | the JoinHandle is alive and will take the output |
//! | 5 | `JOIN_WAKER` | the join-waker slot is published (runner may read it after completing) |
//! | 6 | `NOTIFIED` | woken while running: re-schedule when the poll returns `Pending` |
//! | 8.. | refs | reference count |
//!
//! Invariants: `SCHEDULED`, `RUNNING` and `COMPLETED` are pairwise exclusive (the
//! task is idle when none is set); `NOTIFIED` only matters with `RUNNING`; at most one
//! Runnable exists, and it exists exactly while `SCHEDULED` is set, so at most one
//! thread ever polls the future.
//!
//! # Transitions
//!
//! Every RMW is `AcqRel` unless said otherwise: each publishes what its caller did
//! (the stage, the join waker, the waker's event) and acquires what the previous
//! actor published. The methods in `state.rs` say which pairing each relies on.
//!
//! | who | from | to | notes |
//! |---|---|---|---|
//! | `spawn` | (new) | `SCHEDULED \| JOIN_INTEREST`, refs 2 | the Runnable and the JoinHandle |
//! | runner enters (`run`, `shutdown`) | `SCHEDULED` | `RUNNING` | one wait-free `fetch_add`, Acquire: sees the stage as the last runner left it |
//! | runner enters, `CLOSED` set | `SCHEDULED \| CLOSED` | `RUNNING`, then complete | future dropped unpolled, output `Cancelled` |
//! | poll `Pending` | `RUNNING` | idle, refs − 1 | one CAS; the last ref frees (nobody can wake it any more) |
//! | poll `Pending`, `NOTIFIED` | `RUNNING \| NOTIFIED` | `SCHEDULED`, refs + 1 | the Runnable moves on; the extra ref covers the `schedule(Yielded)` call |
//! | poll `Pending`, `CLOSED` | `RUNNING \| CLOSED` | stays `RUNNING`, then complete | aborted during the poll: drop the future here |
//! | poll `Ready` / panic | `RUNNING` | `COMPLETED`, refs − 1 | one CAS; Release publishes the output to the JoinHandle; a detached task's output (`JOIN_INTEREST` already clear) is dropped just before |
//! | the same, `JOIN_WAKER` set | `RUNNING` | `COMPLETED` | then the runner wakes the stored waker (by reference) and drops its ref |
//! | the same, handle dropped meanwhile | `RUNNING` | `COMPLETED` | then the runner drops the output and its ref |
//! | `wake_by_ref`, idle | idle | `SCHEDULED`, refs + 1 | new Runnable to `schedule(Woken)`; the waker's own ref covers the call |
//! | `wake_by_ref`, running | `RUNNING` | `RUNNING \| NOTIFIED` | no allocation, no queue push |
//! | `wake_by_ref`, scheduled / notified | same | same (written back) | an RMW anyway: keeps the waker in the release sequence the runner acquires |
//! | `wake_by_ref`, completed | | | nothing |
//! | `wake` (by value) | as above | as above, refs − 1 | in the same CAS, except `Submit` (dropped after `schedule`) |
//! | `clone` waker / `abort_handle` | | refs + 1 | Relaxed (the caller already holds a ref) |
//! | drop waker / AbortHandle | | refs − 1 | the last frees |
//! | `abort`, idle | idle | `SCHEDULED \| CLOSED`, refs + 1 | schedule a Runnable, which drops the future on the scheduler's thread |
//! | `abort`, scheduled / running | | `\| CLOSED` | the runner drops the future at entry / after the poll |
//! | `abort`, completed or closed | | | nothing |
//! | JoinHandle registers a waker | `¬JOIN_WAKER` | `JOIN_WAKER` | slot written first; CAS fails if completed (then the output is read) |
//! | JoinHandle replaces its waker | `JOIN_WAKER` | `¬JOIN_WAKER`, write, `JOIN_WAKER` | skipped when `will_wake`; fails if completed |
//! | JoinHandle dropped, not completed | `JOIN_INTEREST [\| JOIN_WAKER]` | neither | handle drops its waker; the runner will drop the output |
//! | JoinHandle dropped, completed | `JOIN_INTEREST` | clear | the handle drops the output |
//!
//! The register/complete race: the handle writes the slot only while `JOIN_WAKER` is
//! clear, the runner reads it only if `JOIN_WAKER` was set when it completed. Whichever
//! CAS comes first decides: the handle sees `COMPLETED` and reads the output, or the
//! runner sees `JOIN_WAKER` and wakes. The output is dropped exactly once by the same
//! argument with `JOIN_INTEREST`.
//!
//! # Safety rules
//!
//! 1. Only the holder of `RUNNING` touches the stage while it holds a future; after
//!    `COMPLETED`, the JoinHandle owns it if `JOIN_INTEREST` was set then, else the
//!    completing runner. The future is pinned in the stage: it is dropped in place,
//!    never moved out (outputs may be moved).
//! 2. A reference is held across every call into the scheduler: a Runnable handed to
//!    `schedule` may run, complete and drop its reference before `schedule` returns,
//!    and `schedule` borrows `S` from the allocation.
//! 3. A local task's future (`spawn_local_unchecked`) is polled and dropped only on
//!    its owner thread. The runner paths (`run`, cancellation) are on the scheduler's
//!    thread, which the caller makes the owner thread. The two paths that can run
//!    elsewhere check the thread and leak the allocation instead of dropping the
//!    future: a Runnable dropped off the owner thread, and the last reference (a
//!    waker, an AbortHandle, a `Send` JoinHandle) dropped off it while the future was
//!    never finished.
//! 5. The last reference frees the allocation, whoever holds it, after dropping what
//!    the stage still holds (an orphaned future that nobody can wake any more).
//! 4. A task nobody can wake (no waker, not scheduled) while its JoinHandle lives
//!    stays allocated: the JoinHandle waits for ever, as with any executor. A future
//!    that stores its own waker keeps itself alive; the runtime's task list (not this
//!    module) is what can cancel such a task at shutdown.

mod dump;
mod error;
mod id;
mod join;
mod list;
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_door;
mod raw;
mod state;
#[cfg(all(test, not(loom)))]
mod tests;
mod yield_now;

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::Arc;

#[cfg(not(loom))]
pub use dump::dump;
#[cfg(not(loom))]
pub(crate) use dump::dump_runtime;
pub use dump::{Dump, TaskDump, TaskState};
pub use error::JoinError;
pub use id::{Id, try_current_id};
pub use join::{AbortHandle, JoinHandle};
pub use yield_now::yield_now;

use raw::Header;

/// The runtime's side of a task: where a Runnable goes when the task must be polled.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queues `task` to be polled. Called from any thread that wakes the task (for a
    /// local task too: the implementation routes it to the owner thread), often from
    /// inside a `wake()` made while the waker's owner holds a lock.
    ///
    /// Dropping `task` instead cancels the task ([`Runnable::shutdown`]) *right
    /// there*, running the future's destructor inside that `wake()`: a destructor that
    /// takes the same lock (a waiter unregistering itself) would deadlock. A runtime
    /// that is shutting down should therefore park such Runnables and cancel them from
    /// its own thread rather than drop them here.
    fn schedule(&self, task: Runnable, hint: ScheduleHint);
}

/// Why a task is being scheduled, so the runtime can pick a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScheduleHint {
    /// Freshly spawned (only the runtime's own `spawn` passes this; the task core
    /// hands the first Runnable back instead of scheduling it).
    Spawned,
    /// Woken by a waker (or `abort`) while idle: a candidate for the LIFO slot.
    Woken,
    /// Woke itself during its own poll (`yield_now`): put it behind the others.
    Yielded,
}

/// What the header records about where a task came from.
#[derive(Clone, Debug)]
pub(crate) struct TaskMeta {
    pub(crate) location: &'static Location<'static>,
    pub(crate) name: Option<Arc<str>>,
    /// The spawning runtime's id, for `Handle::dump` (0: none).
    pub(crate) runtime: u64,
}

impl TaskMeta {
    /// Metadata naming the caller's location (put `#[track_caller]` on every `spawn`
    /// between the user and here).
    #[track_caller]
    pub(crate) fn here() -> Self {
        TaskMeta {
            location: Location::caller(),
            name: None,
            runtime: 0,
        }
    }
}

/// Creates a task. Nothing runs until the returned Runnable is run (or handed to the
/// scheduler, typically with [`ScheduleHint::Spawned`]); dropping the Runnable cancels
/// the task.
pub(crate) fn spawn<F, S>(
    future: F,
    scheduler: S,
    meta: TaskMeta,
) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: `F: Send`, so polling and dropping it on any thread is fine; the
    // JoinHandle is `Send` only if the output is.
    unsafe { spawn_raw(future, scheduler, meta, None) }
}

/// Creates a task whose future is not `Send`, owned by the calling thread.
///
/// The core checks the owner thread on the two paths that can run off it (a
/// Runnable dropped, the last waker dropped) and leaks the future there rather than
/// dropping it on the wrong thread; everything else is the caller's promise.
///
/// # Safety
///
/// The caller (a single-threaded local executor) guarantees that:
///
/// 1. the returned Runnable, and every Runnable later passed to `scheduler`, is run
///    ([`Runnable::run`]), shut down or dropped only on the calling thread, so the
///    future is polled and dropped only there (`S::schedule` may be called on any
///    thread, by a waker; it must hand the Runnable over to the owner thread, not run
///    it);
/// 2. the owner thread outlives the task's Runnables (a Runnable queued for a thread
///    that has exited is leaked, never run elsewhere), or drops them before exiting.
///
/// The JoinHandle is `Send` exactly when the output is; a `!Send` output is moved to
/// the handle on the owner thread and read by the handle on the thread that holds it.
pub(crate) unsafe fn spawn_local_unchecked<F, S>(
    future: F,
    scheduler: S,
    meta: TaskMeta,
) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let owner = std::thread::current().id();
    // SAFETY: forwarded to the caller (see `# Safety`).
    unsafe { spawn_raw(future, scheduler, meta, Some(owner)) }
}

/// # Safety
///
/// See `raw::allocate`.
unsafe fn spawn_raw<F, S>(
    future: F,
    scheduler: S,
    meta: TaskMeta,
    owner: Option<std::thread::ThreadId>,
) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    // SAFETY: forwarded.
    let ptr = unsafe { raw::allocate(future, scheduler, meta, owner) };
    // SAFETY: the allocation starts with two references and SCHEDULED | JOIN_INTEREST:
    // one for each handle; the JoinHandle's type is the output type.
    unsafe { (Runnable::from_header(ptr), JoinHandle::from_raw(ptr)) }
}

/// The right to poll a task once. Exactly one exists while the task is scheduled.
///
/// Dropping a Runnable without running it cancels the task, like
/// [`shutdown`](Self::shutdown).
pub(crate) struct Runnable {
    ptr: NonNull<Header>,
}

// SAFETY: a Runnable of a `Send` task may be run on any thread. For a local task the
// `spawn_local_unchecked` contract keeps it on its owner thread (the type cannot say
// so, the runtime's queues are shared).
unsafe impl Send for Runnable {}

impl Runnable {
    /// # Safety
    ///
    /// `ptr` is a task with `SCHEDULED` set whose Runnable reference the caller gives.
    #[inline]
    unsafe fn from_header(ptr: NonNull<Header>) -> Self {
        Runnable { ptr }
    }

    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: the Runnable's reference keeps the task alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Polls the task once (or, if it was aborted, drops its future). A panic in the
    /// poll is caught and becomes the task's [`JoinError`]. Returns `true` if the task
    /// woke itself during the poll, in which case it has already been re-scheduled
    /// with [`ScheduleHint::Yielded`].
    #[inline]
    pub(crate) fn run(self) -> bool {
        let ptr = self.into_raw().cast::<Header>();
        // SAFETY: the Runnable's reference, given to `run`.
        unsafe { (ptr.as_ref().vtable.run)(ptr) }
    }

    /// Drops the future without polling it (runtime shutdown); the JoinHandle resolves
    /// to a cancelled [`JoinError`].
    pub(crate) fn shutdown(self) {
        drop(self);
    }

    /// The pointer, for a queue of `JobRef`-style words. The reference goes with it.
    #[inline]
    pub(crate) fn into_raw(self) -> NonNull<()> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr.cast()
    }

    /// Rebuilds a Runnable from [`into_raw`](Self::into_raw).
    ///
    /// # Safety
    ///
    /// `ptr` came from `into_raw`, and is turned back into a Runnable once.
    #[inline]
    pub(crate) unsafe fn from_raw(ptr: NonNull<()>) -> Runnable {
        Runnable { ptr: ptr.cast() }
    }

    /// The task's id.
    pub(crate) fn id(&self) -> Id {
        self.header().id
    }

    /// Where the task was spawned.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        self.header().location
    }

    /// The task's name, if it was given one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.header().name.as_deref()
    }
}

impl Drop for Runnable {
    fn drop(&mut self) {
        // SAFETY: the Runnable's reference, given to `shutdown` (once: `run` and
        // `into_raw` forget the Runnable).
        unsafe { (self.header().vtable.shutdown)(self.ptr) }
    }
}

impl fmt::Debug for Runnable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runnable")
            .field("id", &self.id())
            .field("location", &self.location())
            .field("name", &self.name())
            .finish()
    }
}
