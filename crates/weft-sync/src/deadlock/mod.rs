//! Deadlock detection: lock-order checking (potential deadlocks) and a wait-for graph
//! (actual deadlocks). Opt-in with the `deadlock-detection` cargo feature.
//!
//! # Turning it on
//!
//! ```toml
//! [dependencies]
//! weft-sync = { version = "0.1", features = ["deadlock-detection"] }
//! # or, through the facade:
//! weft = { version = "0.1", features = ["deadlock-detection"] }
//! ```
//!
//! With the feature off every hook below is an empty `#[inline(always)]` function,
//! `LockClass` is zero-sized, and this module's public API does not exist, so the
//! locks pay nothing. With it on, the locks record what each thread holds and waits
//! for (see `detector.rs` for the cost: a thread-local and an uncontended `std` lock
//! per lock operation, no global state on the common path). Under `cfg(loom)` the
//! detector stays off whatever the feature says: loom runs its threads on one OS
//! thread, which would mix their thread-local records.
//!
//! # Check 1: lock order (potential deadlocks)
//!
//! Modelled on the Linux kernel's lockdep (`Documentation/locking/lockdep-design.rst`).
//! Every lock belongs to a *class*: the place in the source where it was created
//! (`Mutex::new` and friends are `#[track_caller]`). Whenever a thread acquires lock B
//! while holding lock A, the edge *class(A) → class(B)* is recorded, with both
//! acquisition sites, the first time it is seen. When a new edge closes a cycle in
//! this graph, that is a potential deadlock: threads running those paths at the same
//! time could each hold one lock and wait for the next. It is reported through the
//! [hook](set_hook) as [`Report::LockOrderInversion`] the moment the cycle closes, even
//! if the paths ran minutes apart and nothing ever blocked, and only once per cycle.
//! [`lock_order_violations`] lists every inversion so far.
//!
//! The rules:
//!
//! - **Try-acquisitions** (`try_lock`, `try_read`, ...) never wait, so they add no edge
//!   *into* the lock they take; the lock still counts as held, so acquisitions made
//!   while holding it add edges *from* it. (Timed acquisitions such as `try_lock_for`
//!   do wait, and count as blocking ones.)
//! - **Shared acquisitions are recorded like exclusive ones.** Two threads that
//!   read-lock A and B in opposite orders cannot deadlock against each other alone,
//!   but weft's readers (like parking_lot's) queue behind a waiting writer, so with a
//!   writer waiting on each lock they can; lockdep makes the same call for its
//!   non-recursive readers. Each edge in a report says how each lock was taken.
//! - **Nesting two locks of the same class is not checked.** Locks created at one
//!   site (in a loop, or in a constructor like `Account::new`) are one class, and
//!   taking two of them nested is usually an ordered traversal (by index, by address)
//!   that is correct. lockdep reports it as possible recursive locking and needs a
//!   nesting annotation to silence it; weft has no such annotation yet, so it records
//!   no edge within a class rather than raise reports that cannot be silenced. An
//!   inversion *between* two instances of one class (the classic bank-transfer
//!   deadlock between two accounts) is therefore only found by the wait-for check,
//!   once it actually happens.
//! - **Re-acquiring a lock this thread already holds** (a `ReentrantMutex`, a
//!   recursive read) adds no edge.
//! - **Releases may come in any order**: each removes the most recent hold of that
//!   lock from the thread's stack.
//!
//! What it cannot find: orders that did not happen in this run (it checks the paths
//! your tests or program exercised, not all paths), and cycles within one class (see
//! above). It sees only weft locks.
//!
//! # Check 2: wait-for graph (actual deadlocks)
//!
//! Each thread's record says which weft locks it holds (exclusively, or as one of
//! several shared holders) and which one it is blocked on, if any. [`check`] builds
//! the graph *thread → lock it waits for → each holder of that lock → ...* and
//! returns each knot of threads that wait for each other as a [`Deadlock`], naming the
//! threads, the lock each waits for (with its creation site and holders) and the locks
//! each holds (with where it acquired them). It never reports a knot that did not
//! exist at one instant (see `waitfor.rs`). [`spawn_watchdog`] runs it periodically
//! and reports each new deadlock as [`Report::Deadlock`].
//!
//! What it cannot find: threads blocked on anything but a weft lock or a weft
//! channel (`std` locks, `Condvar` waits, I/O, joins), and the part a waiting *writer* plays
//! between readers: a reader blocked behind a queued writer is taken to wait for the
//! lock's holders, which finds the deadlock but not the writer's role in it. A thread
//! that exits while holding a lock (a leaked guard) is no longer counted as its holder.
//!
//! # Async code: tasks in both checks
//!
//! Threads are the wrong key for async code: a task keeps an [`AsyncMutex`] guard
//! across `.await`s and resumes on whichever worker is free, and one worker polls
//! many tasks. So the async side is keyed by *task*. An executor tells the detector
//! which task it is polling by entering a [`TaskScope`] around each poll (weft-rt
//! does, with its own `deadlock-detection` feature, which the facade's turns on).
//! Inside a scope:
//!
//! - an [`AsyncMutex`] / [`AsyncRwLock`] acquire (`lock().await`, `read().await`,
//!   `write().await`, `upgradable_read().await`, their `_arc` forms and `try_*`)
//!   records, while its future is pending, "this task waits for lock L", and once it
//!   completes, "L is held by this task", with the call's location as the
//!   acquisition site; the guard remembers the task, so its drop removes the hold
//!   whichever thread runs it (a guard moved to another task stays the acquiring
//!   task's hold until dropped);
//! - a [`Semaphore`] acquire (`acquire_async` and friends, blocking or `try_`) does
//!   the same for permits: each permit holder is a holder of the semaphore;
//! - the lock-order check sees the task's locks as held: acquiring (or starting to
//!   await) async lock B while the task holds async lock A, or a blocking lock the
//!   polling thread holds, records *class(A) → class(B)*, and a blocking lock taken
//!   during a poll while the task holds A records the same. An inversion is reported
//!   with the task's name, id and spawn location ([`OrderEdge::task`]). The edge into
//!   B is recorded when the task starts to wait for B (as lockdep does at the
//!   attempt), so a deadlock that never resolves still shows its order.
//!
//! [`check`] then finds knots among threads *and* tasks alike: task A holds lock 1
//! and awaits lock 2 while task B holds lock 2 and awaits lock 1 is a [`Deadlock`]
//! whose [`tasks`](Deadlock::tasks) name both, with their ids, names and spawn
//! locations, the lock each awaits and the locks each holds (creation and
//! acquisition sites). A thread blocked in `lock_blocking` on a lock a task holds,
//! while that task awaits a lock the thread holds, is found too.
//!
//! A semaphore waiter needs only *one* holder to release a permit, so it counts as
//! stuck only if every holder of the semaphore is; permits taken outside any task
//! scope (by a thread, or by a future some other executor runs) are counted, and a
//! waiter on a semaphore with such permits out is never taken to be stuck.
//!
//! What the async side cannot see: async acquisitions of locks outside a scope
//! (not recorded at all, as before); tasks awaiting anything but an async lock, a
//! semaphore or a channel (`Event`s, `JoinHandle`s, I/O); an upgrade of an upgradable
//! read (not recorded as a wait, as on the thread side). An acquire future pending
//! inside a `select` or a timeout counts as a wait while it is pending, so a knot
//! made of such waits is reported though it would dissolve (like a thread's timed
//! wait). A semaphore report assumes permits come back only through the holders the
//! detector saw: `add_permits` racing with a check can make one report stale.
//!
//! ```
//! # #[cfg(feature = "deadlock-detection")] {
//! use std::future::Future;
//! use std::panic::Location;
//! use std::pin::pin;
//! use std::task::{Context, Waker};
//! use weft_sync::AsyncMutex;
//! use weft_sync::deadlock::{self, TaskInfo, TaskScope};
//!
//! // What an executor does: each poll of a task runs inside its scope. (With
//! // weft-rt's `deadlock-detection` feature the runtime does this for every task.)
//! let left = TaskInfo::new(1, Some("left".into()), Location::caller());
//! let right = TaskInfo::new(2, Some("right".into()), Location::caller());
//! let (accounts, audit_log) = (AsyncMutex::new(()), AsyncMutex::new(()));
//! let mut cx = Context::from_waker(Waker::noop());
//!
//! let held_by_left = { let _in = TaskScope::enter(left.clone()); accounts.try_lock() };
//! let held_by_right = { let _in = TaskScope::enter(right.clone()); audit_log.try_lock() };
//! let mut left_waits = pin!(audit_log.lock());
//! let mut right_waits = pin!(accounts.lock());
//! {
//!     let _in = TaskScope::enter(left);
//!     assert!(left_waits.as_mut().poll(&mut cx).is_pending());
//! }
//! {
//!     let _in = TaskScope::enter(right);
//!     assert!(right_waits.as_mut().poll(&mut cx).is_pending());
//! }
//!
//! let found = deadlock::check();
//! let ours = found.iter().find(|d| d.tasks.iter().any(|t| t.task.id == 1)).unwrap();
//! assert_eq!(ours.tasks.len(), 2);
//! assert!(ours.to_string().contains("task 'right' (#2, spawned at "));
//!
//! // Dropping the pending acquire (cancelling the task) ends its wait.
//! drop(held_by_right);
//! # let _ = held_by_left;
//! # }
//! ```
//!
//! [`AsyncMutex`]: crate::AsyncMutex
//! [`AsyncRwLock`]: crate::AsyncRwLock
//! [`Semaphore`]: crate::Semaphore
//!
//! # Channels
//!
//! With weft-channel's `deadlock-detection` feature (weft-rt's and the facade's turn
//! it on), channel waits join the wait-for graph. A channel *side* is a resource:
//! "the senders of channel C" is what a receive waits for, "the receivers of C" what
//! a send on a full (or rendezvous) channel waits for. One live handle of the other
//! side is enough to end the wait, so, as for a semaphore, a channel waiter is stuck
//! only if
//!
//! 1. the operation cannot complete now (the channel is empty, or full; no
//!    rendezvous partner waits; not disconnected), asked of the channel itself by
//!    the check;
//! 2. every live handle of the other side is attributed to a thread or task;
//! 3. every party they are attributed to is itself stuck.
//!
//! A side with a handle that is nobody's is *open*: its waiters are never reported.
//! Reports say what each party waits for ("waits for recv on channel created at
//! X; its senders are held by task 'b' ...", [`WaitKind`]) and which handles it is
//! taken to hold ([`HeldChannel`]); channels are named by their creation site
//! (`bounded`, `unbounded` are `#[track_caller]` with the feature).
//!
//! ## Who holds a handle
//!
//! Rust moves are invisible, so the holder of a handle is a guess, built to err
//! towards "nobody's" (which can only hide a deadlock):
//!
//! - a handle is attributed to the party that last **used** it: `send`, `recv`,
//!   their `try_`, timed and async forms (a poll of `send_async`/`recv_async`/the
//!   stream), re-attributed when another party uses it, forgotten when dropped;
//! - a handle made by the constructor or by `clone` is **nobody's** until it is
//!   used (it is usually about to move into a spawned task or thread): a channel
//!   whose sender was cloned into a task that has not sent yet is open;
//! - a party that **spawns** a task (weft-rt calls [`before_spawn`]) loses its
//!   attributions until it uses those handles again: handles it used may just have
//!   moved into the new task;
//! - a task that **ends** (weft-rt calls [`task_finished`]) and a thread that exits
//!   lose theirs. (A finished task could never count as stuck anyway; this keeps the
//!   books small.)
//!
//! **The remaining hazard, precisely:** a party P uses a handle, then moves it (the
//! handle itself, not a clone) to another party Q *other than by spawning a weft task*
//! — into a `std::thread::spawn` closure, through a channel or shared state
//! (`Arc<Mutex<Option<Sender>>>`), into a task of another executor, with
//! `mem::swap` — and then P gets stuck while Q has not used the handle yet. The
//! handle is then still taken to be P's, and if that closes a knot of stuck parties
//! (most simply: P waits for a receive on the very channel whose only sender it
//! passed on), [`check`] reports a deadlock that is not one: Q may still send. It
//! lasts until Q uses or drops the handle, or P ends. To stay clear of it, send at
//! least once from the new owner before the old owner blocks, clone the handle for
//! the new owner instead of moving the used one (clones are nobody's), or move handles
//! into weft tasks (a spawn forgets the spawner's attributions). The same holds, as
//! before, for async lock guards moved to another task.
//!
//! Other limits: `select!`/`Select` waits (their operations count as uses), oneshot
//! and broadcast channels and timer channels are not recorded; a receive pending
//! inside a `select`/`join` of futures or a timeout counts as a wait while pending,
//! as for locks, and a task that makes progress on another branch of such a join
//! while one branch waits can be taken for stuck.
//!
//! ## The contract with channels and executors
//!
//! A channel keeps a [`ChannelEnd`] in each handle: created with
//! [`ChannelEnd::new_pair`] (given a [`ChannelProbe`] that answers condition 1),
//! `used()` on every operation, `another()` in `clone`, `release()` in `drop`
//! before the channel can be freed; it records waits with a [`ChannelWait`]
//! (`blocking` around a blocking operation that is about to block, `pending` when an
//! async one returns `Pending`). An executor calls [`before_spawn`] when it spawns
//! and [`task_finished`] when a task is over, besides entering a [`TaskScope`] around
//! each poll.
//!
//! The consistency re-check covers the channels: each channel record has a stamp,
//! bumped by every attribution, clone, drop and clear, and a knot is reported only if
//! the stamps of the channels its parties wait on, and the states of every party it
//! rests on (the holders an `any_holder` waiter needs stuck, even those outside the
//! knot), are unchanged after all snapshots were taken (see `waitfor.rs`).
//!
//! # Reports
//!
//! Both checks report through one hook: [`set_hook`], [`take_hook`]; the default
//! prints the report to stderr. The hook never runs inside a detector lock, and a
//! panicking hook cannot unwind out of a `lock()` call.
//!
//! # Examples
//!
//! ```
//! # #[cfg(feature = "deadlock-detection")] {
//! use std::sync::Mutex;
//! use weft_sync::{SpinLock, deadlock};
//!
//! static FOUND: Mutex<Vec<String>> = Mutex::new(Vec::new());
//! deadlock::set_hook(|report| FOUND.lock().unwrap().push(report.to_string()));
//!
//! let accounts = SpinLock::new(());
//! let audit_log = SpinLock::new(());
//! {
//!     let _a = accounts.lock();
//!     let _l = audit_log.lock();
//! }
//! {
//!     let _l = audit_log.lock();
//!     let _a = accounts.lock(); // the opposite order: reported here, nothing blocked
//! }
//! let _ = deadlock::take_hook();
//! assert!(FOUND.lock().unwrap().iter().any(|r| r.contains("potential deadlock")));
//! # }
//! ```
//!
//! # The contract with the locks
//!
//! This file is the contract between the locks and the detector. Every weft lock:
//!
//! 1. stores a `LockClass` created by `LockClass::new()` inside its `#[track_caller]`
//!    constructor (the class is the place the lock was created, like lockdep's);
//! 2. calls `on_wait` just before it blocks (parks or spins) for the lock, and
//!    `on_wait_abort` if it then gives up (timeout); calling `on_wait` again on each
//!    retry is fine;
//! 3. calls `on_acquire` (itself `#[track_caller]`, so make the calling lock method
//!    `#[track_caller]` too, and call it outside closures) once it holds the lock, with
//!    how it holds it. `Try*` only for acquisitions that cannot have waited: a timed
//!    one (`try_lock_for`) waits, and passes `Exclusive`/`Shared`;
//! 4. calls `on_release` when it lets go (guard drop, `unlock_fair`, `Condvar::wait`
//!    releasing the mutex, ...), before the lock is actually free. Releasing on
//!    another thread than the one that acquired (a `Send` guard) is allowed, and
//!    slower.
//!
//! `lock` is the lock's address (`self as *const _ as usize`), stable while it is held.

// The public items exist only with the feature on; without it the module doc's
// links to them have nothing to point at.
#![cfg_attr(
    not(feature = "deadlock-detection"),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(all(feature = "deadlock-detection", not(loom)))]
mod channel;
#[cfg(all(feature = "deadlock-detection", not(loom)))]
mod detector;
#[cfg(all(feature = "deadlock-detection", not(loom)))]
mod hook;
#[cfg(all(feature = "deadlock-detection", not(loom)))]
mod order;
#[cfg(all(feature = "deadlock-detection", not(loom)))]
mod report;
#[cfg(all(feature = "deadlock-detection", not(loom)))]
mod task;
#[cfg(all(feature = "deadlock-detection", not(loom)))]
mod waitfor;
#[cfg(all(feature = "deadlock-detection", not(loom)))]
mod watchdog;

// The contract is for every lock; on a checkout without some of them (timed waits,
// readers), parts of it have no caller yet.
#[cfg(all(feature = "deadlock-detection", not(loom)))]
pub use channel::{
    ChannelEnd, ChannelProbe, ChannelSide, ChannelWait, before_spawn, task_finished,
};
#[cfg(all(feature = "deadlock-detection", not(loom)))]
pub use detector::{check, lock_order_violations};
#[cfg(all(feature = "deadlock-detection", not(loom)))]
#[allow(unused_imports)]
pub(crate) use detector::{on_acquire, on_release, on_wait, on_wait_abort};
#[cfg(all(feature = "deadlock-detection", not(loom)))]
pub use hook::{set_hook, take_hook};
#[cfg(all(feature = "deadlock-detection", not(loom)))]
pub use report::{
    Acquisition, Deadlock, DeadlockedTask, DeadlockedThread, HeldChannel, HeldLock, LockMode,
    LockOrderInversion, OrderEdge, Report, ThreadInfo, WaitKind, WaitedLock,
};
#[cfg(all(feature = "deadlock-detection", not(loom)))]
pub use task::{TaskInfo, TaskScope};
#[cfg(all(feature = "deadlock-detection", not(loom)))]
pub use watchdog::{Watchdog, spawn_watchdog};

/// How a lock is held, for the wait-for graph (shared holders are many).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // See the note on the hooks' `use`: some variants may have no caller yet.
pub(crate) enum Access {
    /// `Mutex`, `SpinLock`, `RwLock::write`, `ReentrantMutex` (first acquisition).
    Exclusive,
    /// `RwLock::read`.
    Shared,
    /// `RwLock::upgradable_read`: shared with readers, exclusive against writers.
    Upgradable,
    /// A `try_*` acquisition: held, but it cannot have waited, so it adds no
    /// lock-order edge into itself.
    TryExclusive,
    /// A `try_read`-style acquisition.
    TryShared,
}

/// The class of a lock: where it was created. Zero-sized with the feature off.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LockClass {
    #[cfg(feature = "deadlock-detection")]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) site: &'static core::panic::Location<'static>,
}

impl LockClass {
    /// The class of a lock created at the caller's location.
    #[track_caller]
    #[inline(always)]
    pub(crate) const fn new() -> Self {
        Self {
            #[cfg(feature = "deadlock-detection")]
            site: core::panic::Location::caller(),
        }
    }
}

#[cfg(any(not(feature = "deadlock-detection"), loom))]
mod hooks {
    use super::{Access, LockClass};

    #[inline(always)]
    pub(crate) fn on_wait(_lock: usize, _class: &LockClass) {}
    #[inline(always)]
    #[allow(dead_code)] // No caller on a checkout without timed locks.
    pub(crate) fn on_wait_abort(_lock: usize) {}
    #[inline(always)]
    pub(crate) fn on_acquire(_lock: usize, _class: &LockClass, _access: Access) {}
    #[inline(always)]
    pub(crate) fn on_release(_lock: usize) {}

    /// The acquire future itself: no wrapper, no state.
    #[inline(always)]
    pub(crate) fn tracked_wait<F: core::future::Future>(
        _lock: usize,
        _class: LockClass,
        _access: Access,
        _site: super::AcquireSite,
        future: F,
    ) -> F {
        future
    }
    #[inline(always)]
    pub(crate) fn on_task_acquire(
        _lock: usize,
        _class: &LockClass,
        _access: Access,
        _site: super::AcquireSite,
    ) -> super::Tracked {
        super::Tracked::NONE
    }
    #[inline(always)]
    pub(crate) fn on_permit_acquire(
        _lock: usize,
        _class: &LockClass,
        _access: Access,
        _site: super::AcquireSite,
    ) -> PermitHold {
        PermitHold
    }

    /// Where a semaphore permit's hold is recorded: nowhere, and zero-sized (permits
    /// never had a flag, unlike the locks' guards).
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct PermitHold;

    impl PermitHold {
        #[inline(always)]
        pub(crate) fn release(self, _lock: usize) {}
    }

    /// A pending acquire's wait, kept by hand (the semaphore's `Waiter`).
    #[derive(Debug, Default)]
    pub(crate) struct WaitRecord;

    impl WaitRecord {
        #[inline(always)]
        pub(crate) const fn new() -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn pending(
            &mut self,
            _lock: usize,
            _class: &LockClass,
            _site: super::AcquireSite,
        ) {
        }
        #[inline(always)]
        pub(crate) fn done(&mut self) {}
    }
}
#[cfg(any(not(feature = "deadlock-detection"), loom))]
pub(crate) use hooks::*;

#[cfg(all(feature = "deadlock-detection", not(loom)))]
mod task_hooks {
    use super::{Access, AcquireSite, LockClass, Tracked, task};
    use core::future::{Future, poll_fn};
    use core::pin::pin;
    use core::task::Poll;

    /// Awaits `future` (an acquire of the lock at `lock`), recording the current task
    /// as waiting for the lock while it is pending, until it completes or is dropped.
    pub(crate) async fn tracked_wait<F: Future>(
        lock: usize,
        class: LockClass,
        access: Access,
        site: AcquireSite,
        future: F,
    ) -> F::Output {
        let mut future = pin!(future);
        let mut record = WaitRecord::new();
        let out = poll_fn(|cx| match future.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(out),
            Poll::Pending => {
                record.wait_for_lock(lock, &class, access, site);
                Poll::Pending
            }
        })
        .await;
        record.done();
        out
    }

    /// An async lock acquisition: recorded against the current task, if any.
    pub(crate) fn on_task_acquire(
        lock: usize,
        class: &LockClass,
        access: Access,
        site: AcquireSite,
    ) -> Tracked {
        Tracked {
            task: task::acquire(lock, class, access, site.0),
            ..Tracked::NONE
        }
    }

    /// Where a semaphore permit's hold is recorded (see [`Tracked`]).
    pub(crate) type PermitHold = Tracked;

    /// A semaphore acquisition (blocking or async): recorded against the current
    /// task, or counted as held by someone unseen.
    pub(crate) fn on_permit_acquire(
        lock: usize,
        class: &LockClass,
        access: Access,
        site: AcquireSite,
    ) -> PermitHold {
        if task::in_scope() {
            return on_task_acquire(lock, class, access, site);
        }
        task::anonymous_acquire(lock);
        Tracked {
            anonymous: true,
            ..Tracked::NONE
        }
    }

    /// A pending acquire's wait, as the current task's record shows it.
    #[derive(Debug, Default)]
    pub(crate) struct WaitRecord {
        /// `(task id, lock)` once recorded.
        waiting: Option<(u64, usize)>,
    }

    impl WaitRecord {
        /// No wait recorded yet.
        pub(crate) const fn new() -> Self {
            Self { waiting: None }
        }

        /// A semaphore acquire returned (or is about to return) `Pending`.
        pub(crate) fn pending(&mut self, lock: usize, class: &LockClass, site: AcquireSite) {
            self.begin(lock, class, Access::Shared, true, site);
        }

        /// A lock acquire (taking it as `access`) returned `Pending`.
        fn wait_for_lock(
            &mut self,
            lock: usize,
            class: &LockClass,
            access: Access,
            site: AcquireSite,
        ) {
            self.begin(lock, class, access, false, site);
        }

        fn begin(
            &mut self,
            lock: usize,
            class: &LockClass,
            access: Access,
            any_holder: bool,
            site: AcquireSite,
        ) {
            if self.waiting.is_none() {
                self.waiting =
                    task::begin_wait(lock, class, access, any_holder, site.0).map(|id| (id, lock));
            }
        }

        /// The wait is over (acquired, failed, or given up).
        pub(crate) fn done(&mut self) {
            if let Some((id, lock)) = self.waiting.take() {
                task::end_wait(id, lock);
            }
        }
    }

    impl Drop for WaitRecord {
        fn drop(&mut self) {
            self.done();
        }
    }
}
#[cfg(all(feature = "deadlock-detection", not(loom)))]
pub(crate) use task_hooks::*;

/// Where an async acquisition was made: the caller of the `#[track_caller]` acquire
/// method (which then moves it into its future). Zero-sized with the feature off.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AcquireSite(
    #[cfg(all(feature = "deadlock-detection", not(loom)))] &'static core::panic::Location<'static>,
);

impl AcquireSite {
    #[track_caller]
    #[inline(always)]
    pub(crate) fn caller() -> Self {
        Self(
            #[cfg(all(feature = "deadlock-detection", not(loom)))]
            core::panic::Location::caller(),
        )
    }
}

/// Whose record a guard's hold is in, so that dropping the guard (on any thread)
/// removes it from there. With the feature off, one `bool` as before: the blocking
/// methods' guards still call the (empty) thread hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tracked {
    /// Acquired by a blocking method: in the acquiring thread's record.
    thread: bool,
    /// Acquired inside this task (a [`TaskScope`]): in its record.
    #[cfg(all(feature = "deadlock-detection", not(loom)))]
    task: Option<u64>,
    /// A semaphore permit taken outside any task: counted, not attributed.
    #[cfg(all(feature = "deadlock-detection", not(loom)))]
    anonymous: bool,
}

impl Tracked {
    /// Not recorded anywhere.
    pub(crate) const NONE: Self = Self {
        thread: false,
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        task: None,
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        anonymous: false,
    };

    /// In the acquiring thread's record (`on_acquire` was called).
    pub(crate) const THREAD: Self = Self {
        thread: true,
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        task: None,
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        anonymous: false,
    };

    /// Whether the hold is in a thread's record.
    #[allow(dead_code)] // Only debug assertions ask.
    pub(crate) fn is_thread(self) -> bool {
        self.thread
    }

    /// Removes the hold from wherever it was recorded (call before the lock is free).
    #[inline(always)]
    pub(crate) fn release(self, lock: usize) {
        if self.thread {
            on_release(lock);
        }
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        {
            if let Some(id) = self.task {
                task::release(id, lock);
            }
            if self.anonymous {
                task::anonymous_release(lock);
            }
        }
    }
}
