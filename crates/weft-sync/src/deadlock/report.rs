//! What the detector reports: the public [`Report`] and its parts, each with a
//! multi-line `Display` meant for a human reading stderr.

use super::Access;
use super::channel::ChannelSide;
use super::task::TaskInfo;
use core::fmt;
use core::panic::Location;
use std::thread::ThreadId;

/// Something the deadlock detector found, as passed to the [hook](super::set_hook).
///
/// # Examples
///
/// ```
/// use weft_sync::deadlock::{self, Report};
///
/// deadlock::set_hook(|report: &Report| match report {
///     Report::LockOrderInversion(inversion) => {
///         eprintln!("potential deadlock over {} locks:\n{report}", inversion.cycle.len())
///     }
///     Report::Deadlock(found) => eprintln!("{} threads are stuck:\n{found}", found.threads.len()),
///     _ => eprintln!("{report}"),
/// });
/// # let _ = deadlock::take_hook();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Report {
    /// Locks were taken in orders that form a cycle: a potential deadlock, found the
    /// first time the cycle closed, whether or not any thread blocked.
    LockOrderInversion(LockOrderInversion),
    /// Threads and tasks that are blocked on each other right now (found by the
    /// [watchdog](super::spawn_watchdog)).
    Deadlock(Deadlock),
}

/// How a lock was (or is being) acquired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LockMode {
    /// Exclusively: `Mutex::lock`, `SpinLock::lock`, `RwLock::write`, ...
    Exclusive,
    /// Shared with other readers: `RwLock::read`.
    Shared,
    /// Shared with readers, exclusive against writers and other upgradable readers.
    Upgradable,
    /// Exclusively, by a `try_*` method that never waits.
    TryExclusive,
    /// Shared, by a `try_*` method that never waits.
    TryShared,
}

impl From<Access> for LockMode {
    fn from(access: Access) -> Self {
        match access {
            Access::Exclusive => Self::Exclusive,
            Access::Shared => Self::Shared,
            Access::Upgradable => Self::Upgradable,
            Access::TryExclusive => Self::TryExclusive,
            Access::TryShared => Self::TryShared,
        }
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Exclusive => "exclusive",
            Self::Shared => "shared",
            Self::Upgradable => "upgradable",
            Self::TryExclusive => "exclusive, try",
            Self::TryShared => "shared, try",
        })
    }
}

/// A thread, as the detector saw it when the thread first touched a lock.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadInfo {
    /// The thread's id.
    pub id: ThreadId,
    /// The thread's name, if it had one.
    pub name: Option<String>,
}

impl fmt::Display for ThreadInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "thread '{name}' ({:?})", self.id),
            None => write!(f, "unnamed thread ({:?})", self.id),
        }
    }
}

/// One acquisition of a lock: which lock class, where, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Acquisition {
    /// Where the lock was created: its class. Every lock created at one place is one
    /// class.
    pub lock_created_at: &'static Location<'static>,
    /// Where the lock was acquired (the `lock()`/`read()`/... call).
    pub acquired_at: &'static Location<'static>,
    /// How it was acquired.
    pub mode: LockMode,
}

/// One edge of the lock-order graph: a thread held one lock and then acquired
/// another (the first time this pair of classes was seen in this order).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrderEdge {
    /// The thread that first took the two locks in this order (for a task, the
    /// thread that polled it when it took the second).
    pub thread: ThreadInfo,
    /// The task that took them, if it happened inside one (see
    /// [`TaskScope`](super::TaskScope)).
    pub task: Option<TaskInfo>,
    /// The lock it held.
    pub held: Acquisition,
    /// The lock it then acquired while holding `held`.
    pub then_acquired: Acquisition,
}

/// A cycle in the lock-order graph: each edge's `then_acquired` class is the next
/// edge's `held` class, and the last edge leads back to the first. Threads running
/// these edges at the same time can deadlock.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockOrderInversion {
    /// The edges of the cycle, in order; the last one is the edge whose first
    /// appearance closed the cycle.
    pub cycle: Vec<OrderEdge>,
}

impl LockOrderInversion {
    /// The creation sites (classes) of the locks in the cycle, in cycle order.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::deadlock;
    ///
    /// for inversion in deadlock::lock_order_violations() {
    ///     for site in inversion.classes() {
    ///         println!("{site}");
    ///     }
    /// }
    /// ```
    pub fn classes(&self) -> Vec<&'static Location<'static>> {
        self.cycle.iter().map(|e| e.held.lock_created_at).collect()
    }
}

/// Threads and tasks blocked on each other: every thread in `threads` waits for, and
/// every task in `tasks` awaits, a lock that another of them (or itself, for a
/// non-reentrant re-lock) holds, so none can go on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deadlock {
    /// The threads of the deadlock. Without tasks, the first ones form a cycle in
    /// wait-for order (each waits for a lock held by the next, the last for one held
    /// by the first); any after them are part of the same knot through shared
    /// holders. With tasks, the two lists each keep that order among their own kind,
    /// and each lock's `held_by` / `held_by_tasks` link them.
    pub threads: Vec<DeadlockedThread>,
    /// The tasks of the deadlock, in the same order (see `threads`).
    pub tasks: Vec<DeadlockedTask>,
}

/// One task of a [`Deadlock`]: pending on an async lock or semaphore acquire, or on a
/// channel operation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadlockedTask {
    /// The task, with its name and spawn location.
    pub task: TaskInfo,
    /// The lock (or semaphore, or channel side) it awaits.
    pub waits_for: WaitedLock,
    /// The async locks and permits it holds, oldest first (held across `.await`s,
    /// wherever it runs).
    pub holds: Vec<HeldLock>,
    /// The channel handles taken to be its (those of the channels in the deadlock).
    pub channels: Vec<HeldChannel>,
}

/// One thread of a [`Deadlock`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadlockedThread {
    /// The blocked thread.
    pub thread: ThreadInfo,
    /// The lock (or channel side) it is blocked on.
    pub waits_for: WaitedLock,
    /// The locks it holds, oldest first.
    pub holds: Vec<HeldLock>,
    /// The channel handles taken to be its (those of the channels in the deadlock).
    pub channels: Vec<HeldChannel>,
}

/// What a deadlocked party waits for: a lock, or one side of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitKind {
    /// A lock, or a semaphore's permit.
    Lock,
    /// A message: a receive on a channel, which waits for its senders.
    Recv,
    /// Room (or, for a rendezvous channel, a receiver): a send, which waits for the
    /// channel's receivers.
    Send,
}

/// The lock (or channel side) a deadlocked thread or task waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitedLock {
    /// The lock's address (it identifies the lock while it is held); for a channel,
    /// a key that identifies the channel side.
    pub address: usize,
    /// Where the lock (its class), or the channel, was created.
    pub created_at: &'static Location<'static>,
    /// The threads holding it (one exclusive holder, or the shared holders; for a
    /// channel, the threads its other side's handles are taken to be held by).
    pub held_by: Vec<ThreadInfo>,
    /// The tasks holding it (for a semaphore: the permit holders; for a channel, as
    /// in `held_by`).
    pub held_by_tasks: Vec<TaskInfo>,
    /// Whether it is a lock or which channel operation waits.
    pub kind: WaitKind,
}

/// A channel handle a deadlocked thread or task is taken to hold: the party used it
/// last, and it is still alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeldChannel {
    /// Where the channel was created (`bounded`, `unbounded`, ...).
    pub created_at: &'static Location<'static>,
    /// Which side the handles are on: [`ChannelSide::Senders`] for senders.
    pub side: ChannelSide,
}

/// A lock a deadlocked thread holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeldLock {
    /// The lock's address.
    pub address: usize,
    /// Where the lock was created (its class).
    pub created_at: &'static Location<'static>,
    /// Where this thread acquired it.
    pub acquired_at: &'static Location<'static>,
    /// How it holds it.
    pub mode: LockMode,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LockOrderInversion(inversion) => inversion.fmt(f),
            Self::Deadlock(deadlock) => deadlock.fmt(f),
        }
    }
}

impl fmt::Display for LockOrderInversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "weft deadlock detection: potential deadlock: {} lock classes are taken in a cyclic order",
            self.cycle.len()
        )?;
        writeln!(
            f,
            "(no thread has blocked yet; threads running these paths at the same time can deadlock)"
        )?;
        for (i, edge) in self.cycle.iter().enumerate() {
            match &edge.task {
                Some(task) => writeln!(f, "  {}. {task}, on {}", i + 1, edge.thread)?,
                None => writeln!(f, "  {}. {}", i + 1, edge.thread)?,
            }
            writeln!(
                f,
                "       held     lock created at {} ({}), acquired at {}",
                edge.held.lock_created_at, edge.held.mode, edge.held.acquired_at
            )?;
            writeln!(
                f,
                "       acquired lock created at {} ({}), at {}",
                edge.then_acquired.lock_created_at,
                edge.then_acquired.mode,
                edge.then_acquired.acquired_at
            )?;
        }
        write!(
            f,
            "  fix: take these locks in one global order everywhere (or never hold one while taking the next)"
        )
    }
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.threads.len(), self.tasks.len()) {
            (threads, 0) => writeln!(
                f,
                "weft deadlock detection: deadlock: {threads} threads are blocked on each other"
            )?,
            (0, tasks) => writeln!(
                f,
                "weft deadlock detection: deadlock: {tasks} tasks are blocked on each other"
            )?,
            (threads, tasks) => writeln!(
                f,
                "weft deadlock detection: deadlock: {threads} threads and {tasks} tasks are blocked on each other"
            )?,
        }
        let members = self
            .threads
            .iter()
            .map(|t| (t.thread.to_string(), &t.waits_for, &t.holds, &t.channels))
            .chain(
                self.tasks
                    .iter()
                    .map(|t| (t.task.to_string(), &t.waits_for, &t.holds, &t.channels)),
            );
        for (i, (who, waits_for, holds, channels)) in members.enumerate() {
            writeln!(f, "  {}. {who}", i + 1)?;
            match waits_for.kind {
                WaitKind::Recv => write!(
                    f,
                    "       waits for recv on channel created at {}; its senders are held by ",
                    waits_for.created_at
                )?,
                WaitKind::Send => write!(
                    f,
                    "       waits for send on channel created at {} (full, or no receiver waiting); its receivers are held by ",
                    waits_for.created_at
                )?,
                _ => write!(
                    f,
                    "       waits for lock {:#x} created at {}, held by ",
                    waits_for.address, waits_for.created_at
                )?,
            }
            let holders = waits_for
                .held_by
                .iter()
                .map(ToString::to_string)
                .chain(waits_for.held_by_tasks.iter().map(ToString::to_string));
            for (j, holder) in holders.enumerate() {
                if j > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(&holder)?;
            }
            writeln!(f)?;
            for held in holds {
                writeln!(
                    f,
                    "       holds     lock {:#x} created at {} ({}), acquired at {}",
                    held.address, held.created_at, held.mode, held.acquired_at
                )?;
            }
            for held in channels {
                let what = match held.side {
                    ChannelSide::Senders => "a sender",
                    _ => "a receiver",
                };
                writeln!(
                    f,
                    "       holds     {what} of the channel created at {} (it used it last)",
                    held.created_at
                )?;
            }
        }
        let who = if self.tasks.is_empty() {
            "threads"
        } else {
            "threads and tasks"
        };
        write!(
            f,
            "  none of these {who} can proceed until one of them gives up waiting"
        )
    }
}
