//! Tasks in the detector: which task is being polled on this thread ([`TaskScope`]),
//! what each task holds and awaits (async locks, semaphore permits), and the hooks the
//! async acquire paths call.
//!
//! # Why tasks are not threads here
//!
//! A task keeps an async guard across `.await`s and may resume on another worker
//! thread, and a worker polls many tasks in turn; a thread-keyed record would see the
//! worker "hold" a lock while it runs unrelated tasks, and its release on another
//! worker as someone else's. So an async acquisition made while a [`TaskScope`] is
//! entered is recorded against the *task*, and the guard remembers that task's id,
//! so its release (on whatever thread, inside or outside any scope) removes that
//! task's hold. Outside a scope, async acquisitions of locks are not recorded (as
//! before this module existed); semaphore permits are *counted* (see
//! `anonymous_permits`) so that an unseen holder never makes a waiter look stuck.
//!
//! # State, and who touches it
//!
//! | state | where | written by | read by |
//! |---|---|---|---|
//! | the current task | thread-local `CURRENT`, set by [`TaskScope`] | the polling thread | its hooks |
//! | per-task holds and wait, stamp | `TASKS`, 16 shards by task id, each a `std::sync::Mutex` | any thread's task hooks (a release may run anywhere) | `check` |
//! | permits held outside any task | `ANONYMOUS`, one `std::sync::Mutex` | semaphore acquire/release outside a scope | `check` |
//!
//! A task's record exists only while it holds or awaits something, so a task that
//! never touches an async lock costs nothing but the scope's thread-local store.
//! Each change bumps its shard's stamp and writes it into the record: a record that
//! is removed and recreated never comes back with the stamp `check` saw, which is
//! what its consistency re-check relies on (`waitfor.rs`).
//!
//! Cost with the feature on: one lock of one shard per async wait, acquisition and
//! release inside a task (contended only by tasks hashed to the same shard), plus
//! lock-order bookkeeping as for threads.

use super::detector;
use super::report::{Acquisition, OrderEdge};
use super::waitfor::{Held, ThreadLocks, Waiting};
use super::{Access, LockClass};
use core::fmt;
use core::marker::PhantomData;
use core::panic::Location;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A task, as the runtime describes it to the detector (through [`TaskScope`]) and as
/// reports name it.
///
/// # Examples
///
/// ```
/// use std::panic::Location;
/// use weft_sync::deadlock::TaskInfo;
///
/// let task = TaskInfo::new(7, Some("fetcher".into()), Location::caller());
/// assert_eq!(task.id, 7);
/// assert!(task.to_string().starts_with("task 'fetcher' (#7, spawned at "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's id, unique among the live tasks of the process (weft-rt's
    /// `task::Id::as_u64`).
    pub id: u64,
    /// The task's name, if it was spawned with one.
    pub name: Option<Arc<str>>,
    /// Where the task was spawned.
    pub spawned_at: &'static Location<'static>,
}

impl TaskInfo {
    /// Describes a task: its id (unique among live tasks), name and spawn location.
    pub fn new(id: u64, name: Option<Arc<str>>, spawned_at: &'static Location<'static>) -> Self {
        Self {
            id,
            name,
            spawned_at,
        }
    }
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "task '{name}'")?,
            None => f.write_str("unnamed task")?,
        }
        write!(f, " (#{}, spawned at {})", self.id, self.spawned_at)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<TaskInfo>> = const { RefCell::new(None) };
}

/// Marks the task being polled on this thread, for the guard's life: async lock and
/// semaphore operations made meanwhile are recorded against that task.
///
/// An executor enters a scope around each poll of a task (weft-rt does, with its
/// `deadlock-detection` feature); scopes nest (the previous task is restored on
/// drop, also when the poll unwinds). Without a scope, async acquisitions are not
/// recorded. The guard is `!Send`: it belongs to the thread that entered it.
///
/// # Examples
///
/// An executor's poll loop:
///
/// ```
/// use std::panic::Location;
/// use weft_sync::deadlock::{TaskInfo, TaskScope};
///
/// # fn poll_the_task() {}
/// let task = TaskInfo::new(1, Some("worker".into()), Location::caller());
/// {
///     let _scope = TaskScope::enter(task.clone());
///     poll_the_task(); // async locks taken here are held by task #1
/// }
/// ```
#[must_use = "the scope ends when the guard is dropped"]
pub struct TaskScope {
    previous: Option<TaskInfo>,
    _not_send: PhantomData<*const ()>,
}

impl TaskScope {
    /// Makes `task` the current task of this thread until the guard drops.
    pub fn enter(task: TaskInfo) -> TaskScope {
        let previous = CURRENT
            .try_with(|current| current.replace(Some(task)))
            .ok()
            .flatten();
        TaskScope {
            previous,
            _not_send: PhantomData,
        }
    }
}

impl Drop for TaskScope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

impl fmt::Debug for TaskScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskScope").finish_non_exhaustive()
    }
}

/// What one task holds and awaits.
#[derive(Debug)]
struct TaskRecord {
    info: TaskInfo,
    stamp: u64,
    locks: ThreadLocks,
}

#[derive(Debug)]
struct Shard {
    stamp: u64,
    tasks: BTreeMap<u64, TaskRecord>,
}

const SHARDS: usize = 16;

static TASKS: [Mutex<Shard>; SHARDS] = [const {
    Mutex::new(Shard {
        stamp: 0,
        tasks: BTreeMap::new(),
    })
}; SHARDS];

/// Semaphore address -> permits held outside any task scope (threads, futures run by
/// another executor). A waiter on such a semaphore is never taken to be stuck.
static ANONYMOUS: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn shard(id: u64) -> MutexGuard<'static, Shard> {
    lock(&TASKS[(id % SHARDS as u64) as usize])
}

/// Runs `f` on task `id`'s record (created from `info` if missing; if missing and no
/// `info`, nothing runs), stamps it, and drops it once it holds and awaits nothing.
fn update<R>(id: u64, info: Option<&TaskInfo>, f: impl FnOnce(&mut ThreadLocks) -> R) -> Option<R> {
    let mut shard = shard(id);
    shard.stamp += 1;
    let stamp = shard.stamp;
    let record = match (shard.tasks.contains_key(&id), info) {
        (true, _) => shard.tasks.get_mut(&id)?,
        (false, Some(info)) => shard.tasks.entry(id).or_insert(TaskRecord {
            info: info.clone(),
            stamp,
            locks: ThreadLocks::default(),
        }),
        (false, None) => return None,
    };
    record.stamp = stamp;
    let out = f(&mut record.locks);
    if record.locks.held.is_empty() && record.locks.waiting.is_none() {
        shard.tasks.remove(&id);
    }
    Some(out)
}

/// Runs `f` with the current task, if a scope is entered on this thread.
fn with_current<R>(f: impl FnOnce(&TaskInfo) -> R) -> Option<R> {
    CURRENT
        .try_with(|current| current.borrow().as_ref().map(f))
        .ok()
        .flatten()
}

/// The current task awaits the lock at `lock` (to take it as `access`), called at
/// `acquired_at`. `any_holder`:
/// one holder's release is enough for it (a semaphore), rather than needing every
/// holder gone (a lock). Returns the task's id, for [`end_wait`]; `None` outside a
/// scope.
///
/// The lock-order edges into the awaited lock are recorded here already, as lockdep
/// does at the attempt: a wait that never ends (a deadlock) still shows the order.
pub(crate) fn begin_wait(
    lock: usize,
    class: &LockClass,
    access: Access,
    any_holder: bool,
    acquired_at: &'static Location<'static>,
) -> Option<u64> {
    let (id, new_edges) = with_current(|task| {
        let thread_held = detector::current_thread_held();
        let edges = update(task.id, Some(task), |locks| {
            locks.waiting = Some(Waiting {
                address: lock,
                class: class.site,
                any_holder,
            });
            order_edges(
                task,
                &thread_held,
                locks,
                lock,
                class.site,
                access,
                acquired_at,
            )
        });
        (task.id, edges.unwrap_or_default())
    })?;
    if !new_edges.is_empty() {
        detector::add_edges_slow(new_edges);
    }
    Some(id)
}

/// The lock-order edges this thread has not passed on yet, from every lock the task
/// (and the polling thread) holds into the lock at `lock`.
fn order_edges(
    task: &TaskInfo,
    thread_held: &[Held],
    locks: &ThreadLocks,
    lock: usize,
    class: &'static Location<'static>,
    access: Access,
    acquired_at: &'static Location<'static>,
) -> Vec<OrderEdge> {
    let can_wait = !matches!(access, Access::TryExclusive | Access::TryShared);
    let already = locks.held.iter().any(|h| h.address == lock);
    let mut edges = Vec::new();
    if !can_wait || already {
        return edges;
    }
    for h in thread_held.iter().chain(locks.held.iter()) {
        if *h.class != *class && detector::first_seen_here(h.class, class) {
            edges.push(OrderEdge {
                thread: detector::current_thread_info(),
                task: Some(task.clone()),
                held: Acquisition {
                    lock_created_at: h.class,
                    acquired_at: h.acquired_at,
                    mode: h.access.into(),
                },
                then_acquired: Acquisition {
                    lock_created_at: class,
                    acquired_at,
                    mode: access.into(),
                },
            });
        }
    }
    edges
}

/// The current task awaits the channel side with graph key `key` (channel created at
/// `created_at`): one live handle of that side is enough for it (`any_holder`). No
/// lock-order edges: a channel is not a lock. Returns the task's id, for
/// [`end_wait`]; `None` outside a scope.
pub(super) fn begin_channel_wait(
    key: usize,
    created_at: &'static Location<'static>,
) -> Option<u64> {
    with_current(|task| {
        update(task.id, Some(task), |locks| {
            locks.waiting = Some(Waiting {
                address: key,
                class: created_at,
                any_holder: true,
            });
        });
        task.id
    })
}

/// The id of the task in scope on this thread, if any.
pub(super) fn current_id() -> Option<u64> {
    CURRENT
        .try_with(|current| current.borrow().as_ref().map(|t| t.id))
        .ok()
        .flatten()
}

/// Task `id` stopped awaiting the lock (or channel side) at `lock` (acquired it, or gave up).
pub(crate) fn end_wait(id: u64, lock: usize) {
    update(id, None, |locks| {
        if locks.waiting.is_some_and(|w| w.address == lock) {
            locks.waiting = None;
        }
    });
}

/// The current task now holds the lock at `lock`, acquired at `acquired_at`. Records
/// lock-order edges from what it (and this thread) already holds, reporting a cycle
/// as for threads. Returns the task's id, for [`release`]; `None` outside a scope.
pub(crate) fn acquire(
    lock: usize,
    class: &LockClass,
    access: Access,
    acquired_at: &'static Location<'static>,
) -> Option<u64> {
    let class = class.site;
    let (id, new_edges) = with_current(|task| {
        let thread_held = detector::current_thread_held();
        let edges = update(task.id, Some(task), |locks| {
            locks.waiting = None;
            let edges = order_edges(task, &thread_held, locks, lock, class, access, acquired_at);
            locks.held.push(Held {
                address: lock,
                class,
                acquired_at,
                access,
            });
            edges
        });
        (task.id, edges.unwrap_or_default())
    })?;
    if !new_edges.is_empty() {
        detector::add_edges_slow(new_edges);
    }
    Some(id)
}

/// Task `id` let go of (its most recent hold of) the lock at `lock`.
pub(crate) fn release(id: u64, lock: usize) {
    update(id, None, |locks| {
        if let Some(pos) = locks.held.iter().rposition(|h| h.address == lock) {
            locks.held.remove(pos);
        }
    });
}

/// Whether a task scope is entered on this thread.
pub(crate) fn in_scope() -> bool {
    with_current(|_| ()).is_some()
}

/// A semaphore permit taken outside any task scope.
pub(crate) fn anonymous_acquire(lock: usize) {
    *lock_anonymous().entry(lock).or_insert(0) += 1;
}

/// A permit counted by [`anonymous_acquire`] went back (or was forgotten).
pub(crate) fn anonymous_release(lock: usize) {
    let mut map = lock_anonymous();
    if let Some(count) = map.get_mut(&lock) {
        *count -= 1;
        if *count == 0 {
            map.remove(&lock);
        }
    }
}

fn lock_anonymous() -> MutexGuard<'static, BTreeMap<usize, usize>> {
    lock(&ANONYMOUS)
}

/// One task's state as `check` saw it.
pub(super) struct TaskSnapshot {
    pub(super) info: TaskInfo,
    pub(super) stamp: u64,
    pub(super) locks: ThreadLocks,
}

/// Every task that holds or awaits something right now (shard by shard).
pub(super) fn snapshot() -> Vec<TaskSnapshot> {
    let mut out = Vec::new();
    for shard in &TASKS {
        let shard = lock(shard);
        out.extend(shard.tasks.values().map(|r| TaskSnapshot {
            info: r.info.clone(),
            stamp: r.stamp,
            locks: r.locks.clone(),
        }));
    }
    out
}

/// Whether task `id` is still in the state `check` saw (stamp `stamp`).
pub(super) fn unchanged(id: u64, stamp: u64) -> bool {
    shard(id).tasks.get(&id).is_some_and(|r| r.stamp == stamp)
}

/// The semaphores some permits of which are held outside any task.
pub(super) fn anonymously_held() -> HashSet<usize> {
    lock_anonymous().keys().copied().collect()
}

/// The current task and the locks it holds, if a scope is entered and it holds any.
pub(super) fn current_held() -> Option<(TaskInfo, Vec<Held>)> {
    with_current(|task| {
        let shard = shard(task.id);
        let held = &shard.tasks.get(&task.id)?.locks.held;
        (!held.is_empty()).then(|| (task.clone(), held.clone()))
    })
    .flatten()
}
