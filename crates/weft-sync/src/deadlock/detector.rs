//! The detector behind the `deadlock-detection` feature: the four hooks every lock
//! calls, the per-thread records they update, and [`check`].
//!
//! # State, and who touches it
//!
//! | state | where | written by | read by |
//! |---|---|---|---|
//! | held locks, awaited lock, generation | one `ThreadRecord` per thread, behind its own `std::sync::Mutex` | the owning thread's hooks | the owning thread; `check` |
//! | edges this thread has already recorded | thread-local `Local::known_edges` | the owning thread | the owning thread |
//! | lock-order graph, inversion log | `ORDER`, a global `std::sync::Mutex` | a thread meeting an edge it has not recorded before | the same, `lock_order_violations` |
//! | live thread records | `REGISTRY`, a global `std::sync::Mutex` | a thread's first hook call, its thread-local destructor | `check`, a release of a hold taken on another thread |
//!
//! All detector locks are `std`'s: the detector must not use the locks it
//! instruments, or every acquisition would recurse into it. They never nest, and no
//! detector lock is held while the report hook runs.
//!
//! # Cost with the feature on
//!
//! Every hook: one thread-local access and one uncontended lock of the thread's own
//! record (contended only while `check` copies it). `on_acquire` while holding `d`
//! other locks adds `d` hash-set lookups; only an edge this thread has never taken
//! before takes the global `ORDER` lock (and runs the cycle search if the edge is new
//! to the whole program). Nothing global is touched on the common path.
//!
//! # Thread exit
//!
//! A thread's record leaves `REGISTRY` when its thread-local is destroyed. Hooks that
//! run after that (a lock taken or released by another thread-local's destructor) use
//! `try_with` and record nothing, so they cannot panic.

use super::channel::{self, ChannelSide};
use super::hook;
use super::order::{EdgeOutcome, OrderGraph};
use super::report::{
    Acquisition, Deadlock, DeadlockedTask, DeadlockedThread, HeldChannel, HeldLock,
    LockOrderInversion, OrderEdge, Report, ThreadInfo, WaitKind, WaitedLock,
};
use super::task::{self, TaskInfo};
use super::waitfor::{self, Held, ThreadLocks, Waiting};
use super::{Access, LockClass};
use core::panic::Location;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

/// What one thread holds and waits for, readable by `check` on any thread.
#[derive(Debug)]
struct ThreadRecord {
    info: ThreadInfo,
    state: Mutex<RecordState>,
}

#[derive(Debug, Default)]
struct RecordState {
    /// Incremented on every change, so `check` can tell that a snapshot still holds.
    generation: u64,
    locks: ThreadLocks,
    /// The channel side this thread is blocked on, kept apart from `locks.waiting`:
    /// a blocking channel operation takes the channel's own short locks while it
    /// waits, and their hooks must not end the channel wait. `check` sees the lock
    /// wait if there is one (the thread is blocked on that lock then), else this.
    channel_wait: Option<Waiting>,
}

impl RecordState {
    /// What `check` sees of this thread.
    fn snapshot(&self) -> ThreadLocks {
        let mut locks = self.locks.clone();
        locks.waiting = locks.waiting.or(self.channel_wait);
        locks
    }
}

impl ThreadRecord {
    fn state(&self) -> MutexGuard<'_, RecordState> {
        // Nothing in the detector panics while holding this lock, but a poisoned lock
        // must not turn into a panic inside a lock hook either.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

static REGISTRY: Mutex<Vec<Arc<ThreadRecord>>> = Mutex::new(Vec::new());
static ORDER: Mutex<OrderGraph> = Mutex::new(OrderGraph::new());

/// This thread's handle on its record, plus what only this thread needs.
struct Local {
    record: Arc<ThreadRecord>,
    /// `(held class, acquired class)` site pointers of every edge this thread has
    /// already passed to `ORDER`: the fast path that keeps the global lock cold.
    known_edges: RefCell<HashSet<(usize, usize)>>,
}

impl Local {
    fn register() -> Self {
        let current = std::thread::current();
        let record = Arc::new(ThreadRecord {
            info: ThreadInfo {
                id: current.id(),
                name: current.name().map(str::to_owned),
            },
            state: Mutex::new(RecordState::default()),
        });
        lock_ignoring_poison(&REGISTRY).push(Arc::clone(&record));
        Self {
            record,
            known_edges: RefCell::new(HashSet::new()),
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        lock_ignoring_poison(&REGISTRY).retain(|r| !Arc::ptr_eq(r, &self.record));
    }
}

thread_local! {
    static LOCAL: Local = Local::register();
}

fn lock_ignoring_poison<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn site_key(site: &'static Location<'static>) -> usize {
    site as *const Location<'static> as usize
}

/// The lock at `lock` is about to block this thread.
pub(crate) fn on_wait(lock: usize, class: &LockClass) {
    let _ = LOCAL.try_with(|local| {
        let mut state = local.record.state();
        state.generation += 1;
        state.locks.waiting = Some(Waiting {
            address: lock,
            class: class.site,
            any_holder: false,
        });
    });
}

/// This thread is about to block on the channel side with graph key `key` (channel
/// created at `created_at`): one live handle of that side is enough for it.
pub(super) fn on_channel_wait(key: usize, created_at: &'static Location<'static>) {
    let _ = LOCAL.try_with(|local| {
        let mut state = local.record.state();
        state.generation += 1;
        state.channel_wait = Some(Waiting {
            address: key,
            class: created_at,
            any_holder: true,
        });
    });
}

/// This thread's blocking channel operation is over.
pub(super) fn on_channel_wait_end(key: usize) {
    let _ = LOCAL.try_with(|local| {
        let mut state = local.record.state();
        if state.channel_wait.is_some_and(|w| w.address == key) {
            state.generation += 1;
            state.channel_wait = None;
        }
    });
}

/// This thread gave up waiting for the lock at `lock`.
#[allow(dead_code)] // No caller on a checkout without timed locks.
pub(crate) fn on_wait_abort(lock: usize) {
    let _ = LOCAL.try_with(|local| {
        let mut state = local.record.state();
        if state.locks.waiting.is_some_and(|w| w.address == lock) {
            state.generation += 1;
            state.locks.waiting = None;
        }
    });
}

/// This thread now holds the lock at `lock`; the caller's location is where.
#[track_caller]
pub(crate) fn on_acquire(lock: usize, class: &LockClass, access: Access) {
    let acquired_at = Location::caller();
    // Inside a task, the async locks the task holds come before this one too.
    let task_held = task::current_held();
    let new_edges = LOCAL
        .try_with(|local| record_acquire(local, lock, class.site, acquired_at, access, task_held))
        .unwrap_or_default();
    if !new_edges.is_empty() {
        add_edges_slow(new_edges);
    }
}

/// Updates this thread's record and returns the order edges it has not recorded
/// before (usually none).
fn record_acquire(
    local: &Local,
    lock: usize,
    class: &'static Location<'static>,
    acquired_at: &'static Location<'static>,
    access: Access,
    task_held: Option<(TaskInfo, Vec<Held>)>,
) -> Vec<OrderEdge> {
    let (task, task_held) = match task_held {
        Some((task, held)) => (Some(task), held),
        None => (None, Vec::new()),
    };
    let mut state = local.record.state();
    state.generation += 1;
    state.locks.waiting = None;
    let held = &state.locks.held;
    let mut new_edges = Vec::new();
    // A try-acquisition never waited, so it cannot be part of a deadlock as the
    // waiting side: no edge into it. A lock this thread already holds is being
    // re-entered (a non-reentrant one would have blocked forever before getting here,
    // and the wait-for check reports that): no edge either.
    let can_wait = !matches!(access, Access::TryExclusive | Access::TryShared);
    let before = held.iter().chain(&task_held);
    if can_wait && before.clone().next().is_some() && !held.iter().any(|h| h.address == lock) {
        let mut known = local.known_edges.borrow_mut();
        for h in before {
            if known.insert((site_key(h.class), site_key(class))) && *h.class != *class {
                new_edges.push(OrderEdge {
                    thread: local.record.info.clone(),
                    task: task.clone(),
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
    }
    state.locks.held.push(Held {
        address: lock,
        class,
        acquired_at,
        access,
    });
    new_edges
}

/// This thread's identity, for an order edge a task records.
pub(super) fn current_thread_info() -> ThreadInfo {
    LOCAL
        .try_with(|local| local.record.info.clone())
        .unwrap_or_else(|_| {
            let current = std::thread::current();
            ThreadInfo {
                id: current.id(),
                name: current.name().map(str::to_owned),
            }
        })
}

/// The locks this thread holds (a task's poll may hold blocking locks too).
pub(super) fn current_thread_held() -> Vec<Held> {
    LOCAL
        .try_with(|local| local.record.state().locks.held.clone())
        .unwrap_or_default()
}

/// Whether this thread meets the class pair for the first time (then it must go to
/// the global graph); the thread's edge cache, shared by the tasks it polls.
pub(super) fn first_seen_here(
    held: &'static Location<'static>,
    acquired: &'static Location<'static>,
) -> bool {
    LOCAL
        .try_with(|local| {
            local
                .known_edges
                .borrow_mut()
                .insert((site_key(held), site_key(acquired)))
        })
        .unwrap_or(true)
}

#[cold]
#[inline(never)]
pub(super) fn add_edges_slow(edges: Vec<OrderEdge>) {
    let mut found = Vec::new();
    {
        let mut graph = lock_ignoring_poison(&ORDER);
        for edge in edges {
            if let EdgeOutcome::Cycle(inversion) = graph.add_edge(edge) {
                found.push(inversion);
            }
        }
    }
    // Outside every detector lock, and after this thread's record is up to date.
    for inversion in found {
        hook::dispatch(Report::LockOrderInversion(inversion));
    }
}

/// This thread let go of the lock at `lock` (in any order: guards drop in any order).
pub(crate) fn on_release(lock: usize) {
    let released_here = LOCAL.try_with(|local| {
        let mut state = local.record.state();
        let held = &mut state.locks.held;
        // The most recent hold: a reentrant lock releases its inner holds first.
        let Some(pos) = held.iter().rposition(|h| h.address == lock) else {
            return false;
        };
        held.remove(pos);
        state.generation += 1;
        true
    });
    if released_here == Ok(false) {
        release_elsewhere_slow(lock);
    }
}

/// A guard that was sent to this thread (an owned `Arc` guard, say) releases a hold
/// taken by another thread: remove it there, or that thread would go on "holding"
/// the lock. Not done while this thread's own record is being torn down: it is out
/// of the registry then, and a shared lock's other holders are not its holds.
#[cold]
#[inline(never)]
fn release_elsewhere_slow(lock: usize) {
    let records: Vec<Arc<ThreadRecord>> = lock_ignoring_poison(&REGISTRY).clone();
    for record in records {
        let mut state = record.state();
        if let Some(pos) = state.locks.held.iter().rposition(|h| h.address == lock) {
            state.locks.held.remove(pos);
            state.generation += 1;
            return;
        }
    }
}

/// Every lock-order inversion reported so far in this process, oldest first.
///
/// Each cycle appears once, however often the locks are taken afterwards. Useful in
/// tests, or to print a summary at exit.
///
/// # Examples
///
/// ```
/// use weft_sync::{SpinLock, deadlock};
///
/// let (a, a_line) = (SpinLock::new(()), line!());
/// let b = SpinLock::new(());
/// {
///     let _a = a.lock();
///     let _b = b.lock();
/// }
/// {
///     let _b = b.lock();
///     let _a = a.lock(); // closes the cycle: reported (and logged) right here
/// }
/// assert!(deadlock::lock_order_violations().iter().any(|inversion| {
///     inversion.classes().iter().any(|site| site.line() == a_line)
/// }));
/// ```
pub fn lock_order_violations() -> Vec<LockOrderInversion> {
    lock_ignoring_poison(&ORDER).inversions().to_vec()
}

/// One party of the wait-for graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Party {
    Thread(ThreadId),
    Task(u64),
}

/// Which threads and tasks, in which state, make up one deadlock: equal keys are the
/// same deadlock, still unresolved.
pub(super) type DeadlockKey = Vec<(Party, u64)>;

/// Finds every set of threads and tasks that are blocked on each other right now.
///
/// Looks at the weft locks each thread holds and the one it is blocked on, and at
/// the async locks and semaphore permits each task holds and the one it awaits (see
/// [`TaskScope`](super::TaskScope)), and returns each knot of parties that wait for
/// each other, with the lock each waits for and the locks each holds (with where it
/// acquired them). A thread that waits for a lock it already holds (a non-reentrant
/// re-lock) is a deadlock of one, and so is a task.
///
/// It also sees weft-channel waits (with that crate's `deadlock-detection`
/// feature): a receive waits for the channel's senders, a blocked send for its
/// receivers, each handle taken to be held by the party that used it last (see the
/// module docs, "Channels", for what that guess can get wrong).
///
/// Threads blocked on something other than a weft lock or channel (a `std` lock, a
/// `Condvar`, I/O), and tasks awaiting anything but an async lock, a semaphore or a
/// channel, are invisible to it. It never reports a knot of locks that did not
/// exist: a knot is returned only if every party in it, and every party and channel
/// it rests on, stayed in the same state from before the check looked at any of them
/// until after.
///
/// # Examples
///
/// ```
/// use weft_sync::deadlock;
///
/// for deadlock in deadlock::check() {
///     eprintln!("{deadlock}");
///     for thread in &deadlock.threads {
///         eprintln!("{} waits at a lock created at {}", thread.thread, thread.waits_for.created_at);
///     }
///     for task in &deadlock.tasks {
///         eprintln!("{} awaits a lock created at {}", task.task, task.waits_for.created_at);
///     }
/// }
/// ```
pub fn check() -> Vec<Deadlock> {
    find_deadlocks().into_iter().map(|(d, _)| d).collect()
}

pub(super) fn find_deadlocks() -> Vec<(Deadlock, DeadlockKey)> {
    let records: Vec<Arc<ThreadRecord>> = lock_ignoring_poison(&REGISTRY).clone();
    let mut snapshots: Vec<(u64, ThreadLocks)> = records
        .iter()
        .map(|r| {
            let state = r.state();
            (state.generation, state.snapshot())
        })
        .collect();
    let mut tasks = task::snapshot();
    // The channels waited on, read after every party (see `waitfor.rs`): whether a
    // channel could complete its waiter's operation is known only at the instant it
    // is read, and the parties it then depends on are in their recorded state then.
    let waited_channels: Vec<u64> = snapshots
        .iter()
        .map(|(_, l)| l)
        .chain(tasks.iter().map(|t| &t.locks))
        .filter_map(|l| l.waiting)
        .filter_map(|w| channel::decode_key(w.address))
        .map(|(id, _)| id)
        .collect();
    let channels = channel::snapshot(&waited_channels);
    // Read after every snapshot and before every re-check (see `waitfor.rs`).
    let mut open = task::anonymously_held();
    let threads = snapshots.len();
    let index: HashMap<Party, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (Party::Thread(r.info.id), i))
        .chain(
            tasks
                .iter()
                .enumerate()
                .map(|(t, r)| (Party::Task(r.info.id), threads + t)),
        )
        .collect();
    // A channel side is held by the parties its handles are attributed to, as a
    // shared lock is by its readers; it is open (its waiters never stuck) if a handle
    // is nobody's, a holder is not in the graph, or the operation could complete.
    for (&id, seen) in &channels {
        for side in [ChannelSide::Senders, ChannelSide::Receivers] {
            let key = channel::side_key(id, side);
            let i = side.index();
            let holders = &seen.holders[i];
            if seen.unattributed[i]
                || seen.ready[i]
                || holders.iter().any(|p| !index.contains_key(p))
            {
                open.insert(key);
            }
            let mut added: Vec<usize> = Vec::new();
            for party in holders {
                // A holder outside the graph made the side open above.
                let Some(&j) = index.get(party) else {
                    continue;
                };
                if added.contains(&j) {
                    continue;
                }
                added.push(j);
                let locks = match j.checked_sub(threads) {
                    None => &mut snapshots[j].1,
                    Some(t) => &mut tasks[t].locks,
                };
                locks.held.push(Held {
                    address: key,
                    class: seen.created_at,
                    acquired_at: seen.created_at,
                    access: Access::Shared,
                });
            }
        }
    }
    let locks: Vec<&ThreadLocks> = snapshots
        .iter()
        .map(|(_, l)| l)
        .chain(tasks.iter().map(|t| &t.locks))
        .collect();
    let knots = waitfor::find_knots_open(&locks, &open);
    if knots.is_empty() {
        return Vec::new();
    }
    let holders = waitfor::holders(&locks);
    let unchanged = |i: usize| {
        let party = match i.checked_sub(threads) {
            None => records[i].state().generation == snapshots[i].0,
            Some(t) => task::unchanged(tasks[t].info.id, tasks[t].stamp),
        };
        // A channel waiter's edges are the channel's attributions: those must not
        // have moved either.
        let waited = locks[i]
            .waiting
            .and_then(|w| channel::decode_key(w.address))
            .is_none_or(|(id, _)| {
                channels
                    .get(&id)
                    .is_some_and(|seen| channel::unchanged(id, seen.stamp))
            });
        party && waited
    };
    let key_of = |i: usize| match i.checked_sub(threads) {
        None => (Party::Thread(records[i].info.id), snapshots[i].0),
        Some(t) => (Party::Task(tasks[t].info.id), tasks[t].stamp),
    };
    let waited = |waiting: Waiting| {
        let by = holders.get(&waiting.address).into_iter().flatten();
        WaitedLock {
            address: waiting.address,
            created_at: waiting.class,
            held_by: by
                .clone()
                .filter(|&&j| j < threads)
                .map(|&j| records[j].info.clone())
                .collect(),
            held_by_tasks: by
                .filter_map(|&j| j.checked_sub(threads))
                .map(|t| tasks[t].info.clone())
                .collect(),
            kind: match channel::decode_key(waiting.address) {
                None => WaitKind::Lock,
                Some((_, ChannelSide::Senders)) => WaitKind::Recv,
                Some(_) => WaitKind::Send,
            },
        }
    };
    let holds = |locks: &ThreadLocks| {
        locks
            .held
            .iter()
            .filter(|h| channel::decode_key(h.address).is_none())
            .map(|h| HeldLock {
                address: h.address,
                created_at: h.class,
                acquired_at: h.acquired_at,
                mode: h.access.into(),
            })
            .collect()
    };
    let held_channels = |locks: &ThreadLocks| {
        locks
            .held
            .iter()
            .filter_map(|h| {
                channel::decode_key(h.address).map(|(_, side)| HeldChannel {
                    created_at: h.class,
                    side,
                })
            })
            .collect()
    };
    knots
        .into_iter()
        .filter(|knot| knot.depends_on.iter().all(|&i| unchanged(i)))
        .map(|knot| {
            let key = knot.members.iter().map(|&i| key_of(i)).collect();
            let mut deadlock = Deadlock {
                threads: Vec::new(),
                tasks: Vec::new(),
            };
            for &i in &knot.members {
                // Every member of a knot waits; the `let` only keeps this panic-free.
                let Some(waiting) = locks[i].waiting else {
                    continue;
                };
                match i.checked_sub(threads) {
                    None => deadlock.threads.push(DeadlockedThread {
                        thread: records[i].info.clone(),
                        waits_for: waited(waiting),
                        holds: holds(locks[i]),
                        channels: held_channels(locks[i]),
                    }),
                    Some(t) => deadlock.tasks.push(DeadlockedTask {
                        task: tasks[t].info.clone(),
                        waits_for: waited(waiting),
                        holds: holds(locks[i]),
                        channels: held_channels(locks[i]),
                    }),
                }
            }
            (deadlock, key)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadlock::LockMode::{Shared, Upgradable};
    use std::sync::Barrier;
    use std::thread;

    /// A fresh address no real lock uses while the test runs.
    fn fake_lock() -> usize {
        Box::leak(Box::new(0u64)) as *const u64 as usize
    }

    fn holds_of(id: ThreadId) -> Vec<usize> {
        let records = lock_ignoring_poison(&REGISTRY).clone();
        records
            .iter()
            .filter(|r| r.info.id == id)
            .flat_map(|r| {
                r.state()
                    .locks
                    .held
                    .iter()
                    .map(|h| h.address)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn deadlocks_on(lock: usize) -> Vec<Deadlock> {
        check()
            .into_iter()
            .filter(|d| d.threads.iter().any(|t| t.waits_for.address == lock))
            .collect()
    }

    /// Drives the hooks by hand on two threads: no real lock, no timing.
    #[test]
    fn check_sees_a_recorded_cycle_until_a_wait_is_aborted() {
        let class = LockClass::new();
        let (x, y) = (fake_lock(), fake_lock());
        let step = Barrier::new(3);
        thread::scope(|s| {
            for (own, other) in [(x, y), (y, x)] {
                let (class, step) = (&class, &step);
                s.spawn(move || {
                    on_acquire(own, class, Access::Exclusive);
                    on_wait(other, class);
                    step.wait(); // 1: both "blocked"
                    step.wait(); // 2: checked
                    on_wait_abort(other);
                    step.wait(); // 3: both gave up
                    step.wait(); // 4: checked
                    on_release(own);
                });
            }
            step.wait();
            let found = deadlocks_on(x);
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].threads.len(), 2);
            step.wait();
            step.wait();
            assert!(deadlocks_on(x).is_empty());
            step.wait();
        });
    }

    #[test]
    fn a_hold_released_on_another_thread_leaves_its_taker() {
        let class = LockClass::new();
        let lock = fake_lock();
        let step = Barrier::new(2);
        thread::scope(|s| {
            let taker = s.spawn(|| {
                on_acquire(lock, &class, Access::Exclusive);
                step.wait(); // taken
                step.wait(); // released elsewhere
            });
            step.wait();
            let id = taker.thread().id();
            assert_eq!(holds_of(id), [lock]);
            on_release(lock);
            assert!(holds_of(id).is_empty());
            step.wait();
        });
    }

    fn inversion_between(a: &LockClass, b: &LockClass) -> usize {
        lock_order_violations()
            .iter()
            .filter(|inv| {
                let classes = inv.classes();
                classes.contains(&a.site) && classes.contains(&b.site)
            })
            .count()
    }

    #[test]
    fn opposite_read_orders_are_an_inversion_of_their_own() {
        // Readers queue behind a waiting writer, so two readers in opposite orders
        // deadlock once a writer waits on each lock: reported (module docs).
        super::hook::set_hook(|_| {}); // no lib test expects reports on stderr
        let (a, b) = (LockClass::new(), LockClass::new());
        let (x, y) = (fake_lock(), fake_lock());
        on_acquire(x, &a, Access::Shared);
        on_acquire(y, &b, Access::Shared);
        on_release(x);
        on_release(y);
        assert_eq!(inversion_between(&a, &b), 0);
        on_acquire(y, &b, Access::Shared);
        on_acquire(x, &a, Access::Upgradable);
        on_release(y);
        on_release(x);
        assert_eq!(inversion_between(&a, &b), 1);
        let modes: Vec<_> = lock_order_violations()
            .into_iter()
            .filter(|inv| inv.classes().contains(&a.site))
            .flat_map(|inv| inv.cycle)
            .map(|e| (e.held.mode, e.then_acquired.mode))
            .collect();
        assert_eq!(modes, [(Shared, Shared), (Shared, Upgradable)]);
    }

    #[test]
    fn a_reentrant_hold_is_released_innermost_first() {
        let class = LockClass::new();
        let (outer, inner) = (fake_lock(), fake_lock());
        on_acquire(outer, &class, Access::Exclusive);
        on_acquire(inner, &class, Access::Exclusive);
        on_acquire(outer, &class, Access::Exclusive);
        let me = std::thread::current().id();
        assert_eq!(holds_of(me), [outer, inner, outer]);
        on_release(outer);
        assert_eq!(holds_of(me), [outer, inner]);
        on_release(outer);
        on_release(inner);
        assert!(holds_of(me).is_empty());
    }
}
