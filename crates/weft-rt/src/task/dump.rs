//! Task dumps: every live task, its state, where it was spawned, how long since it
//! was last polled and what it waits on, taken without stopping anything.
//!
//! The list of live tasks (`list.rs`) is walked shard by shard under each shard's
//! lock; each task's state is one load of its state word, and its trace (polls, last
//! poll, what its last `Pending` poll waited on, recorded by weft's futures through
//! `weft_sync::coop::waiting_on`) a few more. The walk delays spawns and frees in the
//! shard being read, never a running task.

use super::id::Id;
#[cfg(not(loom))]
use super::raw::Header;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
#[cfg(not(loom))]
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Milliseconds of the coarse monotonic clock (a few ms resolution, a few ns to read:
/// the kernel's tick, read through the vDSO), for the time since a task's last poll.
#[inline]
pub(crate) fn coarse_now_ms() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    (now.tv_sec as u64).wrapping_mul(1_000) + (now.tv_nsec as u64) / 1_000_000
}

/// What a task is doing at the moment of the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskState {
    /// Being polled on a thread right now.
    Running,
    /// Queued, waiting for a worker.
    Scheduled,
    /// Waiting for a waker (a timer, I/O, a channel, another task...).
    Idle,
    /// Finished (or cancelled); its output waits for its `JoinHandle`.
    Completed,
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskState::Running => "running",
            TaskState::Scheduled => "scheduled",
            TaskState::Idle => "idle",
            TaskState::Completed => "completed",
        })
    }
}

/// One task in a [`Dump`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskDump {
    /// The task's id.
    pub id: Id,
    /// Its name, if it was given one.
    pub name: Option<Arc<str>>,
    /// Where it was spawned.
    pub location: &'static Location<'static>,
    /// Its state at the dump.
    pub state: TaskState,
    /// How many times it was polled.
    pub polls: u64,
    /// Time since its last poll started (`None` if never polled); coarse, a few ms.
    pub since_last_poll: Option<Duration>,
    /// What its last `Pending` poll waited on, when that was a weft resource.
    pub waiting_on: Option<&'static str>,
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) runtime: u64,
}

/// A snapshot of live tasks. `Display` prints one line per task.
#[derive(Debug, Clone, Default)]
pub struct Dump {
    /// The tasks, in no particular order.
    pub tasks: Vec<TaskDump>,
}

impl Dump {
    /// The number of tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// `true` if no task is live.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} live task(s)", self.tasks.len())?;
        let mut tasks: Vec<&TaskDump> = self.tasks.iter().collect();
        tasks.sort_by_key(|task| task.id);
        for task in tasks {
            write!(f, "  task {} [{}]", task.id, task.state)?;
            if let Some(name) = &task.name {
                write!(f, " {name:?}")?;
            }
            write!(
                f,
                " spawned at {}, polled {} time(s)",
                task.location, task.polls
            )?;
            if let Some(since) = task.since_last_poll {
                write!(f, ", last {} ms ago", since.as_millis())?;
            }
            if let Some(what) = task.waiting_on {
                write!(f, ", waiting on {what}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(not(loom))]
fn snapshot(header: &Header, now_ms: u64) -> TaskDump {
    let state = header.state.load();
    let state = if state.is_running() {
        TaskState::Running
    } else if state.is_scheduled() {
        TaskState::Scheduled
    } else if state.is_completed() {
        TaskState::Completed
    } else {
        TaskState::Idle
    };
    let trace = &header.trace;
    let polls = trace.polls.load(Ordering::Relaxed);
    let last = trace.last_poll_ms.load(Ordering::Relaxed);
    let site = trace.waiting_on.load(Ordering::Relaxed);
    TaskDump {
        id: header.id,
        name: header.name.clone(),
        location: header.location,
        state,
        polls,
        since_last_poll: (polls > 0).then(|| Duration::from_millis(now_ms.saturating_sub(last))),
        // SAFETY: a stored site is a `&'static WaitSite`.
        waiting_on: (matches!(state, TaskState::Idle))
            .then(|| unsafe { site.cast_const().as_ref() })
            .flatten()
            .map(weft_sync::coop::WaitSite::what),
        runtime: trace.runtime,
    }
}

/// Every live task of the process (all runtimes), without stopping them.
#[cfg(not(loom))]
pub fn dump() -> Dump {
    let now = coarse_now_ms();
    let mut tasks = Vec::with_capacity(super::list::len());
    super::list::for_each(|header| tasks.push(snapshot(header, now)));
    Dump { tasks }
}

/// The live tasks spawned by runtime `runtime`.
#[cfg(not(loom))]
pub(crate) fn dump_runtime(runtime: u64) -> Dump {
    let mut all = dump();
    all.tasks.retain(|task| task.runtime == runtime);
    all
}
