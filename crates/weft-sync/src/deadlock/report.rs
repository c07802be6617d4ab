//! What the detector reports: the public [`Report`] and its parts, each with a
//! multi-line `Display` meant for a human reading stderr.

use super::Access;
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
    /// Threads that are blocked on each other right now (found by the
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
    /// The thread that first took the two locks in this order.
    pub thread: ThreadInfo,
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

/// Threads blocked on each other: every thread in `threads` waits for a lock that
/// another of them (or itself, for a non-reentrant re-lock) holds, so none can go on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deadlock {
    /// The threads of the deadlock. The first ones form a cycle in wait-for order
    /// (each waits for a lock held by the next, the last for one held by the first);
    /// any after them are part of the same knot through shared holders.
    pub threads: Vec<DeadlockedThread>,
}

/// One thread of a [`Deadlock`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadlockedThread {
    /// The blocked thread.
    pub thread: ThreadInfo,
    /// The lock it is blocked on.
    pub waits_for: WaitedLock,
    /// The locks it holds, oldest first.
    pub holds: Vec<HeldLock>,
}

/// The lock a deadlocked thread waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitedLock {
    /// The lock's address (it identifies the lock while it is held).
    pub address: usize,
    /// Where the lock was created (its class).
    pub created_at: &'static Location<'static>,
    /// The threads holding it (one exclusive holder, or the shared holders).
    pub held_by: Vec<ThreadInfo>,
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
            writeln!(f, "  {}. {}", i + 1, edge.thread)?;
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
        writeln!(
            f,
            "weft deadlock detection: deadlock: {} threads are blocked on each other",
            self.threads.len()
        )?;
        for (i, t) in self.threads.iter().enumerate() {
            writeln!(f, "  {}. {}", i + 1, t.thread)?;
            write!(
                f,
                "       waits for lock {:#x} created at {}, held by ",
                t.waits_for.address, t.waits_for.created_at
            )?;
            for (j, holder) in t.waits_for.held_by.iter().enumerate() {
                if j > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{holder}")?;
            }
            writeln!(f)?;
            for held in &t.holds {
                writeln!(
                    f,
                    "       holds     lock {:#x} created at {} ({}), acquired at {}",
                    held.address, held.created_at, held.mode, held.acquired_at
                )?;
            }
        }
        write!(
            f,
            "  none of these threads can proceed until one of them gives up waiting"
        )
    }
}
